-- joe repl as users see it: through a real pseudo-terminal (a private tmux server) and
-- through a pipe.
local lu = require("luaunit")
local h = require("helper")
local now = require("cijoe.proc").now
local tmux = require("tmux")

TestRepl = {}

function TestRepl:setUp()
  self.dir = h.tmpdir()
  self.pane = tmux.new()
end

-- The processes whose working directory is dir.
local function working_in(dir)
  return h.sh("for d in /proc/[0-9]*; do [ \"$(readlink $d/cwd 2>/dev/null)\" = " .. h.q(dir) ..
    " ] && echo ${d#/proc/}; done; true"):gsub("%s+", " ")
end

-- The pane goes, and no joe it started may outlive it (a REPL left spinning once
-- starved the guests of the tests after it): any such fails the test, and is killed.
function TestRepl:tearDown()
  self.pane:kill()
  if not h.wait_for(function() return not working_in(self.dir):find("%d") end, 5) then
    local left = working_in(self.dir)
    local ps = h.sh("ps -o pid,stat,pcpu,args -p " .. left:gsub("^ *(.-) *$", "%1"):gsub(" ", ","))
    h.sh("kill -KILL " .. left)
    lu.fail("still running after the test's terminal went:\n" .. ps)
  end
end

-- Start joe repl in a 200x50 pane (a new window when the session exists). The shell around
-- it ignores Ctrl-C (as an interactive shell would, having put joe in a process group of
-- its own) and shows joe's exit status.
function TestRepl:start(args)
  local script = string.format("trap '' INT; cd %s && JOE_HISTORY=%s %s repl %s; echo exit=$?",
    h.q(self.dir), h.q(self.dir .. "/history"), h.q(h.joe), args or "")
  self.pane:run(script)
  return self:expect("]>")
end

function TestRepl:screen() return self.pane:screen() end
function TestRepl:expect(text, seconds) return self.pane:expect(text, seconds) end
function TestRepl:type(text, ...) return self.pane:type(text, ...) end

function TestRepl:test_expressions_print_values()
  self:start()
  self:type("1 + 1", "Enter")
  self:expect("joe[local]> 1 + 1\n2\njoe[local]>")
  self:type('{1, "two", x = {y = true}, ["end"] = 0}', "Enter")
  self:expect('\n{1, "two", end = 0, x = {y = true}}\njoe[local]>')
  self:type('"raw"', "Enter")
  self:expect('\nraw\njoe[local]>')
  self:type("nosuch.field", "Enter")
  self:expect("repl:1: attempt to index a nil value (global 'nosuch')\njoe[local]>")
end

function TestRepl:test_multiline_function()
  self:start()
  self:type("function twice(a)", "Enter")
  self:expect("joe[local]> function twice(a)\n>>")
  self:type("return a * 2", "Enter")
  self:type("end", "Enter")
  self:expect(">> end\njoe[local]>")
  self:type("twice(21)", "Enter")
  self:expect("joe[local]> twice(21)\n42\n")
end

function TestRepl:test_history_recalled_after_restart()
  self:start()
  self:type("40 + 2", "Enter")
  self:expect("42\njoe[local]>") -- a key typed before the prompt meets a cooked terminal
  self:type("", "C-d")
  self:expect("exit=0")
  self:start()
  self:type("", "Up")
  self:expect("joe[local]> 40 + 2")
  self:type("", "Enter")
  local screen = self:expect("joe[local]> 40 + 2\n42\n")
  lu.assertNotStrContains(screen, "exit=0") -- the second session's own screen
end

function TestRepl:test_tab_completes_fields()
  self:start()
  self:type("cijoe.ru", "Tab")
  self:expect("joe[local]> cijoe.run")
  self:type('_local "echo completed"', "Enter")
  self:expect('joe[local]> cijoe.run_local "echo completed"\ncompleted\n0')
  self:expect("}\njoe[local]>") -- the state printed, and the prompt back
  self:type("cijoe.config.cij", "Tab")
  self:expect("joe[local]> cijoe.config.cijoe")
end

function TestRepl:test_ctrl_c_stops_the_command_and_the_next_one_works()
  self:start()
  self:type('run "echo started; sleep 987"', "Enter")
  self:expect("started\n")
  local begin = now()
  self:type("", "C-c")
  self:expect("interrupted\njoe[local]>")
  lu.assertTrue(now() - begin < 3)
  lu.assertEquals(h.sh("pgrep -f 'sleep 98[7]' || echo none"), "none\n")
  self:type('run "echo after"', "Enter")
  self:expect("after\n0\njoe[local]>")
  local state = h.yaml(h.latest(self.dir) .. "/001_repl/cmd_01.state")
  lu.assertEquals({ state.err, state.interrupted }, { 130, true })
  lu.assertEquals(h.read(h.latest(self.dir) .. "/001_repl/cmd_02.output"), "after\n")
end

function TestRepl:test_ctrl_c_at_the_prompt_clears_the_line()
  self:start()
  self:type("this is not lua", "C-c")
  self:expect("joe[local]> this is not lua\njoe[local]>")
  self:type("2 + 3", "Enter")
  local screen = self:expect("joe[local]> 2 + 3\n5\njoe[local]>")
  lu.assertNotStrContains(screen, "interrupted")
  lu.assertNotStrContains(screen, "exit=")
end

function TestRepl:test_ctrl_d_exits_0()
  self:start()
  self:type("x = 1", "Enter")
  self:expect("joe[local]> x = 1\njoe[local]>")
  self:type("", "C-d")
  self:expect("exit=0")
end

function TestRepl:test_sigterm_at_the_prompt_exits_143_and_spares_the_shell()
  self:start()
  local shell = self.pane:shell_pid()
  local joe = h.sh("pgrep -P " .. shell):gsub("\n", "")
  lu.assertStrMatches(joe, "%d+")
  h.sh("kill -TERM " .. joe)
  self:expect("exit=143")
end

-- A closed terminal (the tmux server killed, which hangs up its ptys) ends the session as a
-- shell ends on a hangup: joe goes at once, and its journal says the session failed. joe
-- is the pane's own process (exec), so no shell's exit orphans its process group (see
-- Pane:kill).
function TestRepl:test_hangup_ends_the_session_and_records_it()
  self.pane:run(string.format("cd %s && JOE_HISTORY=%s exec %s repl", h.q(self.dir),
    h.q(self.dir .. "/history"), h.q(h.joe)))
  self:expect("]>")
  local joe = self.pane:shell_pid()
  h.sh(self.pane.cmd .. " kill-server")
  local gone = h.wait_for(function()
    return h.sh("kill -0 " .. joe .. " 2>/dev/null && echo alive || true") == ""
  end, 10)
  lu.assertTrue(gone, "joe repl " .. joe .. " still runs 10 s after the hangup")
  local journal = h.read(h.latest(self.dir) .. "/journal.yml")
  lu.assertStrContains(journal, '"ev": "finish", "status": "failed"')
end

function TestRepl:test_prompt_names_transport_and_commands()
  h.write(self.dir .. "/t.config", "cijoe:\n  transport:\n    target:\n      hostname: 127.0.0.1\n" ..
    "      password: hunter2\n")
  self:start("-c t.config")
  self:expect("joe[target]>")
  self:type(":config", "Enter")
  local screen = self:expect('password: "********"')
  lu.assertNotStrContains(screen, "hunter2")
  self:type(":transport nope", "Enter")
  self:expect("the transports are: local target\njoe[target]>")
  self:type(":transport local", "Enter")
  self:expect("joe[local]>")
  self:type(":help", "Enter")
  self:expect(":transport NAME (the default one)")
  self:type(":help cijoe.getconf", "Enter")
  self:expect("cijoe.getconf(key[, default])\n  A value of the config by dotted key.")
end

function TestRepl:test_pipe_prints_values_without_prompt()
  h.write(self.dir .. "/in.lua", "1 + 1\nfunction f(a)\n  return a .. '!'\nend\nf('hi')\n" ..
    "run 'echo logged'\n")
  local out, status = h.sh("cd " .. h.q(self.dir) .. " && " .. h.q(h.joe) .. " repl <in.lua")
  lu.assertEquals(out, "2\nhi!\nlogged\n0\n")
  lu.assertEquals(status, 0)
  lu.assertEquals(h.read(h.latest(self.dir) .. "/001_repl/cmd_01.output"), "logged\n")
end

function TestRepl:test_pipe_exits_nonzero_after_an_error()
  h.write(self.dir .. "/in.lua", "error('boom')\nprint('still runs')\n")
  local out, status = h.sh("cd " .. h.q(self.dir) .. " && " .. h.q(h.joe) .. " repl <in.lua")
  lu.assertEquals(out, "repl:1: boom\nstill runs\n")
  lu.assertEquals(status, 1)
  h.write(self.dir .. "/in.lua", "if true then\n")
  out, status = h.sh("cd " .. h.q(self.dir) .. " && " .. h.q(h.joe) .. " repl <in.lua")
  lu.assertEquals(out, "repl:1: 'end' expected near <eof>\n")
  lu.assertEquals(status, 1)
end

-- joe repl reading lines from a pipe, with args and env (a VAR=value prefix); returns its
-- exit status, stdout and stderr.
function TestRepl:pipe(lines, args, env)
  h.write(self.dir .. "/in.lua", lines)
  local _, status = h.sh(string.format("cd %s && %s %s repl %s <in.lua >out 2>err",
    h.q(self.dir), env or "", h.q(h.joe), args or ""))
  return status, h.read(self.dir .. "/out"), h.read(self.dir .. "/err")
end

-- The number of the line of the tree's file rel that starts with decl.
local function line_of(rel, decl)
  local n = 0
  for line in io.lines(h.root .. "/" .. rel) do
    n = n + 1
    if line:sub(1, #decl) == decl then return n end
  end
end

-- The core's doc comments come from the index built into joe (its modules are bytecode),
-- the packages' from their source in joe; the tree's own files give the same text.
function TestRepl:test_help_name_prints_its_signature_and_doc()
  local lines = ":help cijoe.run\n:help fio.run\n:help guest:wait_up\n:help nvme.report_zones\n" ..
    ":help put\n:help run\n:help\n"
  local status, out, err = self:pipe(lines)
  lu.assertEquals(err, "")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "cijoe.run(cmd[, opts])\n" ..
    "  Run a shell command on the default transport, or on opts.transport.\n")
  lu.assertStrContains(out, "\n  opts  table, optional: `transport` (a name of " ..
    '`cijoe.transport`, or "local"), `cwd`,\n        `env` ({NAME = value}),')
  lu.assertStrContains(out, "\n  or:      nil when the command could not run (and then nothing " ..
    "of it ran)\n           string why\n")
  lu.assertStrContains(out, "\n  (lua/cijoe.lua:" ..
    line_of("lua/cijoe.lua", "function cijoe.run(") ..
    ")\nfio.run(opts[, run_opts])\n  Run fio on the target with the options of `opts`")
  lu.assertStrContains(out, "\n  (packages/fio/init.lua:" ..
    line_of("packages/fio/init.lua", "function fio.run(") .. ")\n")
  lu.assertStrContains(out, "\nguest:wait_up([timeout=60])\n  Wait until the guest answers")
  lu.assertStrContains(out, "\nnvme.report_zones(dev[, opts])\n  The zones of the zoned namespace")
  lu.assertStrContains(out, "\ncijoe.put(src, dst[, opts])\n  Copy a file or folder from this " ..
    "machine to the target.\n")
  lu.assertStrContains(out, "\nrun is cijoe.run giving the err only (or nil, message):\n" ..
    "cijoe.run(cmd[, opts])\n")
  lu.assertStrContains(out, "\n:help NAME (its signature and doc: :help cijoe.run")
  local _, from_tree = self:pipe(lines, "", "JOE_LUA_PATH=" .. h.q(h.root))
  lu.assertEquals(from_tree, out)
end

-- A name that has no doc is a failure of that line, with the nearest name there is; a
-- name a global reaches (a guest's method) finds the doc of the function it is.
function TestRepl:test_help_of_an_unknown_name_suggests_and_a_value_finds_its_doc()
  local status, out, err = self:pipe(":help cijoe.rnu\n:help Guest:wiat_up\n")
  lu.assertEquals(out, "")
  lu.assertEquals(err, "no help for 'cijoe.rnu' (did you mean 'cijoe.run'?)\n" ..
    "no help for 'Guest:wiat_up' (did you mean 'Guest:wait_up'?)\n")
  lu.assertEquals(status, 1)
  status, out, err = self:pipe('g = assert(qemu.guest("default"))\n:help g.start\n',
    "-c " .. h.q(h.root .. "/packages/qemu/default.config"))
  lu.assertEquals(err, "")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "guest:start([opts])\n  Start the guest's qemu on the host")
end

function TestRepl:test_ctrl_c_stops_a_remote_command()
  local server = require("sshd").start()
  h.write(self.dir .. "/ssh.yaml", server:config())
  local marker = 7000 + math.random(999)
  self:start("-c ssh.yaml")
  self:expect("joe[target]>")
  self:type(string.format('run "echo begun; sleep %d"', marker), "Enter")
  self:expect("begun")
  self:type("", "C-c")
  self:expect("interrupted\njoe[target]>", 10)
  self:type('run "echo after $USER"', "Enter")
  self:expect("after joetest\n0\njoe[target]>")
  h.sh("sleep 0.5")
  local left = h.sh("pgrep -u joetest -f '[s]leep " .. marker .. "' || true")
  server:kill_all()
  lu.assertEquals(left, "")
end

-- A REPL idle at its prompt keeps its SSH session alive, as while a command runs: the
-- server's log shows keepalives between the two commands, and one session served both.
function TestRepl:test_keepalives_go_out_while_the_prompt_waits()
  local server = require("sshd").start({ log_level = "DEBUG" })
  h.write(self.dir .. "/ka.yaml", server:config(nil, { keepalive = 2 }))
  self:start("-c ka.yaml")
  self:type('run "echo first $PPID"', "Enter")
  local first = self:expect("0\njoe[target]>"):match("first (%d+)")
  h.sh("sleep 4.5")
  self:type('run "echo second $PPID"', "Enter")
  self:expect("second " .. first .. "\n0\njoe[target]>") -- the same login shell's child
  local log = h.read(server.dir .. "/sshd.log")
  server:kill_all()
  local between = log:match("request exec.-request exec") or ""
  local _, keepalives = between:gsub("keepalive@", "")
  lu.assertTrue(keepalives >= 2, log)
end

-- --repl-on-failure through a pipe: the session reads the lines, then the run goes on or
-- stops as they say; what they ran is in the failed step's folder.
function TestRepl:test_repl_on_failure_through_a_pipe()
  h.write(self.dir .. "/wf.lua", 'step("bad", function() return cijoe.run("exit 3") end)\n' ..
    'step("next", function() return cijoe.run("echo ran") end)\n')
  h.write(self.dir .. "/in.lua", 'failed.err\nfailed.cmd\nrun "echo fixing"\n:abort\n')
  local out, status = h.sh("cd " .. h.q(self.dir) .. " && " .. h.q(h.joe) ..
    " --repl-on-failure wf.lua <in.lua 2>/dev/null")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*\n3\nexit 3\nfixing\n0\n  1 bad +failed.*  2 next +skipped.*")
  lu.assertEquals(h.read(h.latest(self.dir) .. "/001_bad/cmd_02.output"), "fixing\n")
  h.write(self.dir .. "/in.lua", 'x = 1\n') -- the end of input goes on with the run
  out, status = h.sh("cd " .. h.q(self.dir) .. " && " .. h.q(h.joe) ..
    " --repl-on-failure wf.lua <in.lua 2>/dev/null")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*  1 bad +failed.*  2 next +passed.*")
  local _, _, err = h.joe_in(self.dir, "--repl-on-failure --each local wf.lua")
  lu.assertStrContains(err, "joe: --repl-on-failure cannot go with --each")
end
