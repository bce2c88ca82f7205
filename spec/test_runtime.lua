-- cijoe.run, run_local, put, get on the local transport, and the logs they leave.
local lu = require("luaunit")
local h = require("helper")

TestRuntime = {}

function TestRuntime:setUp()
  self.dir = h.tmpdir()
end

-- Run a script body in a fresh folder; returns status, stdout, stderr.
function TestRuntime:script(body, args)
  h.write(self.dir .. "/s.lua", body)
  return h.joe_in(self.dir, "-q s.lua " .. (args or ""))
end

function TestRuntime:step_file(name)
  return h.latest(self.dir) .. "/001_s/" .. name
end

function TestRuntime:test_exit_status_and_signal()
  local status, out = self:script([[
    print((cijoe.run("exit 3")))
    print((cijoe.run("kill -TERM $$")))
    print((cijoe.run("true")))]])
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "3\n143\n0\n")
end

function TestRuntime:test_output_bytes_interleaved_and_binary()
  local status = self:script([[
    cijoe.run("printf a; printf b >&2; printf c; printf '\\000\\001\\377' >&2")]])
  lu.assertEquals(status, 0)
  lu.assertEquals(h.read(self:step_file("cmd_01.output")), "abc\0\1\255")
end

function TestRuntime:test_state_file_and_state_table()
  local status, out = self:script([[
    local err, st = cijoe.run("echo hello", { cwd = "/tmp" })
    print(st.cmd, st.cwd, st.transport, st.err, st:output())]])
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "echo hello\t/tmp\tlocal\t0\thello\n")
  local st = h.yaml(self:step_file("cmd_01.state"))
  lu.assertEquals(st.cmd, "echo hello")
  lu.assertEquals(st.err, 0)
  lu.assertEquals(st.transport, "local")
  lu.assertTrue(st["end"] >= st.begin and st.elapsed >= 0)
end

function TestRuntime:test_env_and_cwd()
  local _, out = self:script([[
    local _, st = cijoe.run('pwd; printf "%s|" "$A" "$LC_ALL"', { cwd = "/usr", env = { A = "x'; echo injected" } })
    io.write(st:output())]])
  lu.assertEquals(out, "/usr\nx'; echo injected|C|")
end

function TestRuntime:test_timeout_kills_the_whole_group()
  local marker = 4000 + math.random(999)
  local status, out = self:script(string.format([[
    local t0 = os.time()
    local err, st = cijoe.run("echo started; sleep %d & sleep %d; echo never", { timeout = 0.5 })
    print(err, st.timed_out, os.time() - t0 < 5)]], marker, marker))
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "143\ttrue\ttrue")
  lu.assertEquals(h.read(self:step_file("cmd_01.output")), "started\n")
  local left = h.sh("pgrep -f '[s]leep " .. marker .. "' || true")
  lu.assertEquals(left, "")
end

function TestRuntime:test_sigterm_ignored_is_killed()
  local status, out = self:script([[
    local err, st = cijoe.run("trap '' TERM; echo up; sleep 30", { timeout = 0.3 })
    print(err, st.elapsed < 5)]])
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "137\ttrue")
end

function TestRuntime:test_run_failure_is_nil_and_message()
  local _, out = self:script([[
    print(cijoe.run("true", { transport = "nosuch" }))
    print(cijoe.run("true", { env = { ["A B"] = 1 } }))
    local err, st = cijoe.run("echo should-not-run", { cwd = "/does/not/exist" })
    print(err, st:output())]])
  lu.assertStrContains(out, "nil\tunknown transport 'nosuch'\n")
  lu.assertStrContains(out, "nil\tbad environment variable name 'A B'\n")
  lu.assertStrMatches(out, ".*\n2\t.*/does/not/exist.*")
  lu.assertNotStrContains(out, "should-not-run")
end

function TestRuntime:test_misuse_raises()
  local status, _, err = self:script("cijoe.run(42)")
  lu.assertEquals(status, 1)
  lu.assertStrContains(err, "s.lua:1: bad argument #1 to 'run' (string expected, got number)")
end

function TestRuntime:test_put_and_get_trees()
  h.write(self.dir .. "/tree/a.txt", "A")
  h.write(self.dir .. "/tree/sub/b.sh", "B")
  h.sh("chmod 751 " .. self.dir .. "/tree/sub/b.sh")
  local status, out = self:script(string.format([[
    print(cijoe.put("tree", %q))
    print(cijoe.get(%q, "fetched"))
    print(cijoe.put("missing", "x"))]], self.dir .. "/copy", self.dir .. "/copy"))
  lu.assertEquals(status, 1) -- the failed put fails the step
  lu.assertStrContains(out, "true\ntrue\nnil\tmissing: No such file or directory")
  lu.assertEquals(h.read(self.dir .. "/copy/sub/b.sh"), "B")
  local fetched = self:step_file("artifacts/fetched/sub/b.sh")
  lu.assertEquals(h.read(fetched), "B")
  lu.assertEquals(h.sh("stat -c %a " .. fetched), "751\n")
end

function TestRuntime:test_monitor_streams_output()
  local _, quiet = self:script('cijoe.run("echo streamed")')
  lu.assertNotStrContains(quiet, "streamed")
  local _, loud = h.joe_in(self.dir, "-m s.lua")
  lu.assertStrContains(loud, "streamed")
end

function TestRuntime:test_closed_stdout_and_background_children()
  local status, out = self:script([[
    local t0 = require("cijoe.proc").now()
    local err = cijoe.run("echo before; exec >&- 2>&-; sleep 0.5; exit 4")
    local waited = require("cijoe.proc").now() - t0
    t0 = require("cijoe.proc").now()
    local err2 = cijoe.run("sleep 3 & echo after")
    print(err, waited >= 0.5, err2, require("cijoe.proc").now() - t0 < 2)]])
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "4\ttrue\t0\ttrue")
  lu.assertEquals(h.read(self:step_file("cmd_01.output")), "before\n")
  lu.assertEquals(h.read(self:step_file("cmd_02.output")), "after\n")
end

function TestRuntime:test_large_output_is_logged_whole()
  local status = self:script([[
    cijoe.run("head -c 50000000 /dev/zero | tr '\\0' a & head -c 30000000 /dev/zero >&2; wait")]])
  lu.assertEquals(status, 0)
  lu.assertEquals(h.sh("wc -c < " .. self:step_file("cmd_01.output")), "80000000\n")
end

function TestRuntime:test_ctrl_c_kills_command_writes_state_exits_130()
  h.write(self.dir .. "/s.lua", 'cijoe.run("echo begun; sleep 60")')
  local out = h.sh(string.format([[cd %s && (%s s.lua >/dev/null 2>&1 & pid=$!;
    while ! grep -qs begun cijoe-output/latest/001_s/cmd_01.output; do sleep 0.05; done;
    kill -INT $pid; wait $pid; echo "status=$?")]], h.q(self.dir), h.q(h.joe)))
  lu.assertStrContains(out, "status=130")
  local st = h.yaml(self:step_file("cmd_01.state"))
  lu.assertEquals(st.interrupted, true)
  lu.assertEquals(st.err, 130)
  lu.assertEquals(h.yaml(h.latest(self.dir) .. "/workflow.state").status, "interrupted")
end
