-- Faults, each against the real binary: what joe says, its exit status, and that nothing
-- it had logged is lost. Elsewhere already: a command that closes stdout and goes on
-- running (test_runtime: test_closed_stdout_and_background_children), sshd restarted
-- between commands (test_ssh: test_server_restarted_between_commands_reconnects_once) and
-- killed during one (test_ssh: test_server_dies_mid_command_then_reconnect).
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

TestFaults = {}

-- Under the sanitizers joe is slower and takes more memory; bounds are scaled by this.
local SLOW = os.getenv("ASAN_OPTIONS") and 3 or 1

function TestFaults:setUp()
  self.dir = h.tmpdir()
  self.mounts = {}
end

function TestFaults:tearDown()
  for _, mnt in ipairs(self.mounts) do h.sh("umount " .. h.q(mnt)) end
end

-- Run a script body in the scratch folder; returns status, stdout, stderr.
function TestFaults:script(body, args)
  h.write(self.dir .. "/s.lua", body)
  return h.joe_in(self.dir, "-q " .. (args or "") .. " s.lua")
end

-- A small tmpfs at dir/name (options as for mount -o); returns its path.
function TestFaults:tmpfs(name, options)
  local mnt = self.dir .. "/" .. name
  h.sh("mkdir -p " .. h.q(mnt))
  local out, status = h.sh("mount -t tmpfs -o " .. options .. " tmpfs " .. h.q(mnt))
  lu.assertEquals(status, 0, out)
  self.mounts[#self.mounts + 1] = mnt
  return mnt
end

-- Seconds and peak RSS (MB) of a shell command run in the scratch folder, and its status.
function TestFaults:measure(cmd)
  local out, status = h.sh("cd " .. h.q(self.dir) .. " && /usr/bin/time -f 'measured %e %M' " .. cmd)
  local secs, kb = out:match("measured (%S+) (%d+)\n?$")
  return tonumber(secs), tonumber(kb) / 1024, status, out
end

function TestFaults:test_binary_output_and_lines_over_1mib_are_logged_exactly()
  -- every byte value, then a 3 MiB line without a newline, then a 2 MiB line with one
  h.sh("cd " .. h.q(self.dir) .. " && { awk 'BEGIN { for (i = 0; i < 256; i++) printf \"%c\", i }';" ..
    " head -c 3145728 /dev/urandom | tr -d '\\n'; head -c 2097152 /dev/zero | tr '\\0' x; echo; } > data")
  local sum = h.sh("sha256sum < " .. h.q(self.dir .. "/data"))
  h.write(self.dir .. "/s.lua", 'local err, st = cijoe.run("cat data; cat data >&2")\nassert(err == 0, st)\n')
  local _, status = h.sh("cd " .. h.q(self.dir) .. " && " .. h.q(h.joe) .. " -q -m -o run s.lua > monitored")
  lu.assertEquals(status, 0)
  local log, size = self.dir .. "/run/001_s/cmd_01.output", #h.read(self.dir .. "/data")
  lu.assertEquals(h.sh("head -c " .. size .. " " .. h.q(log) .. " | sha256sum"), sum)
  lu.assertEquals(h.sh("tail -c " .. size .. " " .. h.q(log) .. " | sha256sum"), sum)
  lu.assertEquals(#h.read(log), 2 * size)
  lu.assertEquals(h.sh("cmp " .. h.q(log) .. " " .. h.q(self.dir .. "/monitored") .. " && echo same"), "same\n")
end

function TestFaults:test_child_ignoring_sigterm_is_killed_and_reaped()
  local marker = 6000 + math.random(999)
  local status, out = self:script(string.format([[
    local t0 = require("cijoe.proc").now()
    local err, st = cijoe.run("trap '' TERM; echo up; sleep %d", { timeout = 0.3 })
    print(err, st.timed_out, require("cijoe.proc").now() - t0 < 5)
    -- joe is busy with this command now: any child it left unreaped is a zombie here
    local _, st2 = cijoe.run("ps -o stat=,pid=,args= --ppid $PPID; pgrep -f '[s]leep %d' || echo gone")
    io.write(st2:output())]], marker, marker))
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "137\ttrue\ttrue\n")
  lu.assertStrContains(out, "gone\n")
  lu.assertNotStrContains(out, "\nZ")
  lu.assertNotStrContains(out, "defunct")
  lu.assertEquals(h.read(h.latest(self.dir) .. "/001_s/cmd_01.output"), "up\n")
end

-- The record of a run in dir as joe report derives it from the journal.
local function derived(dir)
  return require("cijoe.record").derive(dir)
end

function TestFaults:test_output_directory_fills_up()
  local full = self:tmpfs("full", "size=1m")
  local status, out, err = self:script([[
    print(cijoe.run("echo first"))
    print(cijoe.run("head -c 2000000 /dev/zero | tr '\\0' x"))
    print(cijoe.run("echo after"))]], "-o " .. h.q(full .. "/run"))
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, "0\ttable: [^\n]*\n") -- the second ran, but its record could not be kept
  lu.assertStrContains(err, "joe: " .. full .. "/run/001_s/cmd_02.output: No space left on device; the run stops")
  lu.assertNotStrContains(err, "traceback")
  lu.assertEquals(h.read(full .. "/run/001_s/cmd_01.output"), "first\n")
  lu.assertEquals(h.yaml(full .. "/run/001_s/cmd_01.state").err, 0)
  lu.assertEquals(derived(full .. "/run").steps[1].status, "running") -- the journal up to the stop
  lu.assertNil(h.read(full .. "/run/001_s/cmd_03.output"))
end

-- The output directory on tmpfs mnt (with few inodes) fills up between two commands of a
-- run in dir (options: more joe options, such as a config): the second command cannot
-- get its log, so it must not run, and joe says so; what was logged before stays.
local function full_between_commands(dir, mnt, options)
  local marker = "/tmp/joe-full-marker-" .. math.random(1e9)
  h.write(dir .. "/s.lua", string.format([[
    print(cijoe.run("echo first"))
    io.open("ready", "w"):close()
    for _ = 1, 400 do if io.open("go") then break end os.execute("sleep 0.05") end
    print(cijoe.run("touch %s"))]], marker))
  h.sh(string.format("(cd %s && %s -q %s -o %s s.lua > out.txt 2> err.txt; echo $? > status) >/dev/null 2>&1 &",
    h.q(dir), h.q(h.joe), options or "", h.q(mnt .. "/run")))
  lu.assertNotNil(h.wait_for(function() return h.read(dir .. "/ready") end, 10 * SLOW))
  h.sh("i=0; while touch " .. h.q(mnt) .. "/fill-$i 2>/dev/null; do i=$((i + 1)); done")
  h.write(dir .. "/go", "")
  local status = h.wait_for(function() return (h.read(dir .. "/status") or ""):match("%d+") end, 10 * SLOW)
  lu.assertEquals(status, "1")
  lu.assertStrMatches(h.read(dir .. "/out.txt"), "0\ttable: [^\n]*\nnil\t[^\n]*/run/001_s/cmd_02%.output: No space left on device\n")
  lu.assertNil(h.read(marker), "the command ran, though joe said it could not run it")
  lu.assertEquals(h.read(mnt .. "/run/001_s/cmd_01.output"), "first\n")
  lu.assertEquals(h.yaml(mnt .. "/run/001_s/cmd_01.state").cmd, "echo first")
  local rec = derived(mnt .. "/run")
  lu.assertEquals(rec.steps[1].status, "failed")
  lu.assertStrContains(rec.steps[1].error, "could not run `touch " .. marker .. "`")
end

function TestFaults:test_output_directory_read_only_or_full()
  local ro = self:tmpfs("ro", "size=1m,ro")
  local status, _, err = self:script('cijoe.run("echo never")', "-o " .. h.q(ro .. "/run"))
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: cannot create the output directory: " .. ro .. "/run: Read-only file system")
  full_between_commands(self.dir, self:tmpfs("rw", "size=1m,nr_inodes=64"))
end

function TestFaults:test_out_of_file_descriptors()
  -- From few descriptors to enough: each run either runs the command or says, as a
  -- message, that it did not, and then it did not; never a number, a zombie or a traceback.
  h.write(self.dir .. "/s.lua", [[
    local n = os.getenv("N")
    local err, st = cijoe.run("touch ran-" .. n)
    print(type(err), type(err) == "number" and "" or st)
    local function slurp(path) local f = io.open(path) local t = f and f:read("a") if f then f:close() end return t end
    local pid = slurp("/proc/self/stat"):match("^%d+")
    for kid in (slurp("/proc/self/task/" .. pid .. "/children") or ""):gmatch("%d+") do
      print("child", (slurp("/proc/" .. kid .. "/stat") or ""):match("%) (%u)"))
    end]])
  -- LeakSanitizer cannot work with so few descriptors (at exit it opens /proc/PID/task,
  -- fails and, with abort_on_error, never ends): leaks of these paths are looked for by
  -- valgrind in the next test.
  local asan = os.getenv("ASAN_OPTIONS") and "ASAN_OPTIONS=" .. os.getenv("ASAN_OPTIONS") .. ":detect_leaks=0 " or ""
  local refused, ran = 0, 0
  for n = 5, 12 do
    local out = h.sh(string.format("cd %s && N=%d %ssh -c 'ulimit -n %d; exec %s -q -o run-%d s.lua'",
      h.q(self.dir), n, asan, n, h.q(h.joe), n))
    local did_run = h.read(self.dir .. "/ran-" .. n) ~= nil
    lu.assertNotStrContains(out, "traceback", false, n .. ": " .. out)
    lu.assertNotStrContains(out, "child\tZ", false, n .. ": a zombie: " .. out)
    if out:match("^number\t") then
      lu.assertTrue(did_run, n .. ": " .. out)
      ran = ran + 1
    elseif out:match("^nil\t") then
      lu.assertStrMatches(out, "nil\t[^\n]*: Too many open files\n.*", nil, nil, n .. ": " .. out)
      lu.assertFalse(did_run, n .. ": said it did not run, but it did")
      refused = refused + 1
    else
      lu.assertStrContains(out, "Too many open files", false, n .. ": " .. out)
    end
  end
  lu.assertTrue(refused > 0 and ran > 0, string.format("refused %d, ran %d", refused, ran))
end

function TestFaults:test_out_of_file_descriptors_under_memcheck()
  -- The same starved runs of the plain build under valgrind's memcheck, for the leaks
  -- LeakSanitizer cannot look for there. valgrind 3.19 does not know pidfd_open, so no
  -- command runs under it ("Function not implemented"): that is one more error path.
  h.write(self.dir .. "/s.lua", 'print(cijoe.run("true"))\n')
  for n = 5, 9 do
    local out, status = h.sh(string.format("cd %s && sh -c 'ulimit -S -n %d; exec /usr/bin/valgrind.bin -q " ..
      "--leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 %s -q -o run-%d s.lua'",
      h.q(self.dir), n, h.q(h.root .. "/build/joe"), n))
    lu.assertNotEquals(status, 99, n .. ": " .. out)
    lu.assertNotStrContains(out, "definitely lost", false, n .. ": " .. out)
    lu.assertNotStrContains(out, "Invalid", false, n .. ": " .. out)
  end
end

function TestFaults:test_billion_laughs_config_is_refused_fast()
  local lines, prev = { 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]' }, "a"
  for name in ("bcdefghij"):gmatch(".") do
    lines[#lines + 1] = string.format("%s: &%s [%s]", name, name, ("*" .. prev .. ", "):rep(9):sub(1, -3))
    prev = name
  end
  h.write(self.dir .. "/bomb.yaml", table.concat(lines, "\n") .. "\n")
  h.write(self.dir .. "/s.lua", "print('ran')\n")
  local secs, mb, status, out = self:measure(h.q(h.joe) .. " -q -c bomb.yaml s.lua")
  lu.assertEquals(status, 2)
  lu.assertStrMatches(out, "joe: bomb%.yaml:%d+:%d+: too many nodes after expanding aliases %(an alias bomb%?%)\n.*")
  lu.assertNotStrContains(out, "ran")
  lu.assertTrue(secs < 1 * SLOW, "took " .. secs .. " s")
  lu.assertTrue(mb < 32 * SLOW, "took " .. mb .. " MB")
end

function TestFaults:test_10mb_config_loads()
  local lines, size = { "cijoe:", "  run:", "    env: {LC_ALL: C}", "big:" }, 0
  for i = 1, 150000 do
    lines[#lines + 1] = string.format('  key%07d: {name: "value %d", list: [1, 2.5, three], flag: yes}', i, i)
    size = size + #lines[#lines] + 1
  end
  h.write(self.dir .. "/big.yaml", table.concat(lines, "\n") .. "\n")
  lu.assertTrue(size > 10e6)
  h.write(self.dir .. "/s.lua", 'print(cijoe.getconf("big.key0149999.name"), cijoe.getconf("big.key0000001.flag"))\n')
  local secs, mb, status, out = self:measure(h.q(h.joe) .. " -q -c big.yaml -o run s.lua")
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, "value 149999\ttrue\n")
  io.stderr:write(string.format("  10 MB config: %.1f s, peak RSS %.0f MB\n", secs, mb))
  lu.assertTrue(secs < 30 * SLOW, "took " .. secs .. " s")
  lu.assertTrue(mb < 1024 * SLOW, "took " .. mb .. " MB")
  lu.assertEquals(h.yaml(self.dir .. "/run/config.orig").big.key0149999.list, { 1, 2.5, "three" })
end

TestFaultsSsh = {}

function TestFaultsSsh.setupClass()
  TestFaultsSsh.server = sshd.start()
end

function TestFaultsSsh.teardownClass()
  TestFaultsSsh.server:kill_all()
end

-- Start a remote `sleep` through joe, signal joe once it runs, and check the outcome.
function TestFaultsSsh:interrupt(sig, expected)
  local dir, marker = h.tmpdir(), 7000 + math.random(999)
  h.write(dir .. "/ssh.yaml", self.server:config())
  h.write(dir .. "/s.lua", string.format([[
    step("remote", function() return cijoe.run("echo begun; sleep %d; echo never") end)
    step("after", function() return cijoe.run("echo after") end)]], marker))
  local out = h.sh(string.format([[cd %s && (%s -q -c ssh.yaml s.lua > out.txt 2>&1 & pid=$!;
    while ! grep -qs begun cijoe-output/latest/001_remote/cmd_01.output; do sleep 0.05; done;
    pgrep -u %s -f '[s]leep %d' > /dev/null && echo running;
    kill -%s $pid; wait $pid; echo "status=$?")]], h.q(dir), h.q(h.joe), sshd.user, marker, sig))
  lu.assertStrContains(out, "running\nstatus=" .. expected)
  local gone = h.wait_for(function() return h.sh("pgrep -u " .. sshd.user .. " -f '[s]leep " .. marker .. "' || echo gone") == "gone\n" end, 3)
  lu.assertTrue(gone, "the remote command still runs")
  local run = h.latest(dir)
  local st = h.yaml(run .. "/001_remote/cmd_01.state")
  lu.assertEquals(st.interrupted, true)
  lu.assertEquals(st.transport, "target")
  lu.assertEquals(h.read(run .. "/001_remote/cmd_01.output"), "begun\n")
  local wf = h.yaml(run .. "/workflow.state")
  lu.assertEquals(wf.status, "interrupted")
  lu.assertEquals(wf.steps[1].status, "interrupted")
  lu.assertEquals(wf.steps[2].status, "skipped")
  lu.assertNil(h.read(run .. "/002_after/cmd_01.output"))
end

function TestFaultsSsh:test_sigint_mid_command_over_ssh()
  self:interrupt("INT", 130)
end

function TestFaultsSsh:test_sigterm_mid_command_over_ssh()
  self:interrupt("TERM", 143)
end

function TestFaultsSsh:test_output_directory_fills_up_over_ssh()
  local t = setmetatable({ dir = h.tmpdir(), mounts = {} }, { __index = TestFaults })
  h.write(t.dir .. "/ssh.yaml", self.server:config())
  local ok, err = pcall(full_between_commands, t.dir, t:tmpfs("rw", "size=1m,nr_inodes=64"), "-c ssh.yaml")
  t:tearDown()
  if not ok then error(err, 0) end
end
