-- The command line: options, exit statuses, error messages, the output directory.
local lu = require("luaunit")
local h = require("helper")

TestCli = {}

function TestCli:setUp()
  self.dir = h.tmpdir()
end

function TestCli:test_version_and_help()
  local status, out = h.joe_in(self.dir, "--version")
  lu.assertEquals(status, 0)
  lu.assertStrMatches(out, "joe %d+%.%d+%.%d+ %(Lua 5%.4%)\n")
  status, out = h.joe_in(self.dir, "--help")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "usage: joe [options] script.lua [step ...]")
end

function TestCli:test_bad_invocations_exit_2()
  local status, _, err = h.joe_in(self.dir, "--frobnicate")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: unknown option --frobnicate")
  status, _, err = h.joe_in(self.dir, "missing.lua")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: missing.lua: no such file")
  status, _, err = h.joe_in(self.dir, "")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "no script given")
  status, _, err = h.joe_in(self.dir, "-c")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "-c needs a value")
end

function TestCli:test_syntax_error_names_file_and_line()
  h.write(self.dir .. "/bad.lua", "print('ok')\nlocal x = = 1\n")
  local status, _, err = h.joe_in(self.dir, "bad.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(err, "bad.lua:2: unexpected symbol near '='")
  lu.assertNil(h.read(self.dir .. "/cijoe-output/latest/workflow.state"))
end

function TestCli:test_runtime_error_has_traceback()
  h.write(self.dir .. "/boom.lua", "local function f()\n  error('kaboom')\nend\nf()\n")
  local status, out, err = h.joe_in(self.dir, "boom.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(err, "boom.lua:2: kaboom")
  lu.assertStrContains(err, "stack traceback:")
  lu.assertStrContains(err, "boom.lua:4:")
  lu.assertStrContains(out, "failed")
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertEquals(state.status, "failed")
  lu.assertStrContains(h.read(h.latest(self.dir) .. "/001_boom/step.log"), "boom.lua:2: kaboom")
  lu.assertNotStrContains(err, "lua/cijoe/") -- joe's own frames only with -v
  local _, _, verbose = h.joe_in(self.dir, "-v boom.lua")
  lu.assertStrContains(verbose, "boom.lua:2: kaboom")
  lu.assertStrContains(verbose, "lua/cijoe/runner.lua:")
end

function TestCli:test_runs_never_overwrite_and_latest_moves()
  h.write(self.dir .. "/a.lua", "cijoe.run('echo one')")
  for _ = 1, 3 do lu.assertEquals(h.joe_in(self.dir, "a.lua"), 0) end
  local runs = h.sh("ls " .. self.dir .. "/cijoe-output | grep -c -- '-a'")
  lu.assertEquals(runs, "3\n")
  local newest = h.sh("ls -d " .. self.dir .. "/cijoe-output/*-a* | sort -V | tail -1")
  lu.assertEquals(h.sh("readlink -f " .. h.latest(self.dir)), h.sh("readlink -f " .. newest))
end

function TestCli:test_output_option_writes_into_dir_once()
  h.write(self.dir .. "/a.lua", "cijoe.run('echo one')")
  lu.assertEquals(h.joe_in(self.dir, "-o out a.lua"), 0)
  lu.assertEquals(h.read(self.dir .. "/out/001_a/cmd_01.output"), "one\n")
  local status, _, err = h.joe_in(self.dir, "-o out a.lua")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "out: holds an earlier run; refusing to overwrite it")
end

function TestCli:test_setup_writes_core_files_once()
  local status, out = h.joe_in(self.dir, "-s")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "wrote default.config\nwrote example.workflow\n")
  lu.assertStrContains(h.read(self.dir .. "/default.config"), "cijoe:")
  local status2, _, err = h.joe_in(self.dir, "-s core")
  lu.assertEquals(status2, 2)
  lu.assertStrContains(err, "default.config exists; not overwriting it")
  lu.assertEquals(h.joe_in(self.dir, "-s nosuchpkg"), 2)
end

function TestCli:test_example_workflow_runs()
  lu.assertEquals(h.joe_in(self.dir, "-s"), 0)
  local status, out = h.joe_in(self.dir, "run")
  lu.assertEquals(status, 0)
  lu.assertStrMatches(out, ".*  1 uname +passed.*  3 files +passed.*")
  lu.assertEquals(h.read(h.latest(self.dir) .. "/003_files/artifacts/joe-example.txt"), "joe\n")
end

function TestCli:test_run_without_workflows_says_so()
  local status, _, err = h.joe_in(self.dir, "run")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "no *.workflow files to run")
end

function TestCli:test_joe_lua_path_loads_from_tree()
  h.write(self.dir .. "/tree/lua/cijoe/cli.lua", "return { main = function() print('from tree') return 7 end }")
  local status, out = h.joe_in(self.dir, "--anything", "JOE_LUA_PATH=" .. self.dir .. "/tree")
  lu.assertEquals(status, 7)
  lu.assertEquals(out, "from tree\n")
end

function TestCli:test_joe_test_counts()
  h.write(self.dir .. "/t/test_sample.lua", [[
    local lu = require("luaunit")
    function test_pass() lu.assertEquals(1, 1) end
    function test_fail() lu.assertEquals(1, 2) end
    function test_error() error("boom") end
    function test_skip() lu.skip("not here") end
    TestGroup = {}
    function TestGroup:test_logs() lu.assertEquals(cijoe.run("echo in-test"), 0) end]])
  local status, out = h.joe_in(self.dir, "test t")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*\n2 passed, 2 failed, 1 skipped\n$")
  lu.assertNotNil(h.read(h.sh("ls -d " .. h.latest(self.dir) .. "/*TestGroup.test_logs"):gsub("\n", "") .. "/cmd_01.output"))
end

function TestCli:test_step_results_pass_skip_fail()
  h.write(self.dir .. "/wf.lua", [[
    step("zero", function() return 0 end)
    step("none", function() end)
    step("skip", function() return "skip", "no null_blk here" end)
    step("nilmsg", function() return nil, "could not" end)
    step("false", function() return false end)
    step("status", function() return cijoe.run("exit 3") end)]])
  local status, out = h.joe_in(self.dir, "wf.lua")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*zero +passed.*none +passed.*skip +skipped +[%d.]+s  %(no null_blk here%)\n.*nilmsg +failed.*false +failed.*status +failed.*")
  local steps = h.yaml(h.latest(self.dir) .. "/workflow.state").steps
  lu.assertEquals(steps[4].error, "could not") -- the step's own words, nothing internal
  lu.assertEquals(steps[5].error,
    "the step's function said it failed (false) but not why: return false, \"what failed\" to say it")
  lu.assertEquals(steps[6].failure.message, "`exit 3` on local: exit status 3")
end

function TestCli:test_unknown_names_get_a_suggestion()
  h.write(self.dir .. "/wf.lua", 'step("info", function() end)\nstep("build", function() end)\n')
  local status, _, err = h.joe_in(self.dir, "wf.lua infoo")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: unknown step 'infoo' in wf.lua (did you mean 'info'?); " ..
    "its steps: info, build\n")
  status, _, err = h.joe_in(self.dir, "--resoures")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "unknown option --resoures (did you mean '--resources'?)")
  _, _, err = h.joe_in(self.dir, "rnu")
  lu.assertStrContains(err, "joe: rnu: no such file or command (did you mean 'run'?)")
  _, _, err = h.joe_in(self.dir, "-s qemmu")
  lu.assertStrContains(err, "joe: no package 'qemmu' (did you mean 'qemu'?)")
  _, _, err = h.joe_in(self.dir, "selftest fo")
  lu.assertStrContains(err, "unknown package 'fo' (did you mean 'fio'?)")
  h.write(self.dir .. "/w.lua", 'step("s", "linux.sysnifo")\n')
  _, _, err = h.joe_in(self.dir, "w.lua")
  lu.assertStrContains(err, "unknown worklet 'linux.sysnifo' (did you mean 'linux.sysinfo'?)")
  _, _, err = h.joe_in(self.dir, "--color=alway wf.lua")
  lu.assertStrContains(err, "--color takes auto, always, never, not 'alway' (did you mean 'always'?)")
end

function TestCli:test_unknown_transport_key_and_guest_get_a_suggestion()
  h.write(self.dir .. "/t.config", "cijoe:\n  transport:\n    target:\n      hostnme: 127.0.0.1\n")
  local status, _, err = h.joe_in(self.dir, "-c t.config repl")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "t.config:4:16: unknown key 'hostnme' in transport target " ..
    "(did you mean 'hostname'?)")
  h.write(self.dir .. "/t.config", "cijoe:\n  transport:\n    target:\n      hostname: 127.0.0.1\n")
  h.write(self.dir .. "/wf.lua", "cijoe.run('true', { transport = 'targt' })\n")
  local _, _, err2 = h.joe_in(self.dir, "-c t.config wf.lua")
  lu.assertStrContains(err2, "unknown transport 'targt' (did you mean 'target'?)")
  _, _, err2 = h.joe_in(self.dir, "-c t.config --each targt wf.lua")
  lu.assertStrContains(err2, "--each: unknown transport 'targt' (did you mean 'target'?)")
  h.write(self.dir .. "/q.config", "qemu:\n  guests:\n    default: {smp: 1}\n")
  h.write(self.dir .. "/g.lua", "local g, err = require('qemu').guest('defualt')\n" ..
    "return g, err\n")
  _, _, err2 = h.joe_in(self.dir, "-c q.config g.lua")
  lu.assertStrContains(err2, "no guest 'defualt' in the config (qemu.guests.defualt) " ..
    "(did you mean 'default'?)")
end

function TestCli:test_cijoe_long_options_work_or_say_what_to_type()
  local _, resources = h.joe_in(self.dir, "resources")
  local status, out = h.joe_in(self.dir, "--resources")
  lu.assertEquals(status, 0)
  lu.assertEquals(out, resources)
  lu.assertEquals(h.joe_in(self.dir, "--example"), 0)
  lu.assertNotNil(h.read(self.dir .. "/example.workflow"))
  status, out = h.joe_in(self.dir, "--integrity-check example.workflow")
  lu.assertEquals({ status, out }, { 0, "example.workflow: ok\n" })
  lu.assertEquals(h.joe_in(self.dir, "-q -o out example.workflow"), 0)
  h.sh("rm " .. h.q(self.dir .. "/out/report.html"))
  lu.assertEquals(h.joe_in(self.dir, "--produce-report out"), 0)
  lu.assertNotNil(h.read(self.dir .. "/out/report.html"))
  local err
  status, _, err = h.joe_in(self.dir, "--workflow example.workflow")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: --workflow is CIJOE's; joe takes the workflow as an " ..
    "argument: joe run FILE, or joe FILE")
  lu.assertEquals(select(2, h.joe_in(self.dir, "--monitor -q example.workflow")):sub(1, 6),
    "Linux ") -- uname's output streamed
end

function TestCli:test_list_and_dry_run_run_nothing()
  h.write(self.dir .. "/wf.lua", [[
step("info", "linux.sysinfo")
step{ name = "mark", uses = "core.cmdrunner", with = { commands = "touch ran" } }
step("fn", function() return cijoe.run("touch ran") end)
]])
  local status, out = h.joe_in(self.dir, "list wf.lua")
  lu.assertEquals(status, 0)
  lu.assertStrMatches(out, "wf.lua: 3 steps\n  1 info +linux.sysinfo +Collect what the target.*\n" ..
    "  2 mark +core.cmdrunner +Run commands one at a time.*\n  3 fn +function wf.lua:3\n$")
  lu.assertEquals(select(2, h.joe_in(self.dir, "wf.lua --list")), out)
  status, out = h.joe_in(self.dir, "--dry-run wf.lua fn mark")
  lu.assertEquals(status, 0)
  lu.assertStrMatches(out, "config: .*core/default.config\ntransports: local; commands run on " ..
    "local .*\n  1 info .*%(skipped: not selected%)\n  2 mark .*\n      with: {\"commands\": " ..
    "\"touch ran\"}\n  3 fn .*\ndry run: nothing was run\n$")
  lu.assertNil(h.read(self.dir .. "/ran"))
  lu.assertNil(h.read(self.dir .. "/cijoe-output/latest/journal.yml"))
  local err
  status, _, err = h.joe_in(self.dir, "--dry-run wf.lua nope")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "unknown step 'nope'")
end

-- A workflow whose step b fails until the file "fixed" exists; each step notes that it
-- ran in the file "ran".
local RERUN = [[
local function note(name) return cijoe.run("echo " .. name .. " >> ran") end
step("a", function() return note("a") end)
step("b", function() note("b") return cijoe.run("test -e fixed") end)
step("c", function() return note("c") end)
]]

function TestCli:test_rerun_failed_runs_what_failed_or_did_not_run()
  h.write(self.dir .. "/wf.lua", RERUN)
  h.write(self.dir .. "/ff.config", "cijoe:\n  workflow:\n    fail_fast: true\n")
  lu.assertEquals(h.joe_in(self.dir, "-c ff.config -o first wf.lua"), 1)
  lu.assertEquals(h.read(self.dir .. "/ran"), "a\nb\n")
  h.write(self.dir .. "/fixed", "")
  local status, out = h.joe_in(self.dir, "run --rerun-failed first")
  lu.assertEquals(status, 0)
  lu.assertEquals(h.read(self.dir .. "/ran"), "a\nb\nb\nc\n")
  lu.assertStrMatches(out, "  1 a +skipped.*  2 b +passed.*  3 c +passed.*")
  local again = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertEquals({ again.status, again.script }, { "passed", "wf.lua" })
  status, out = h.joe_in(self.dir, "--rerun-failed") -- the latest: the run just made
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "nothing failed in cijoe-output/latest; nothing to run again\n")
  local err
  status, _, err = h.joe_in(self.dir, "run --rerun-failed nowhere")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: nowhere: no run there (it has no journal.yml)")
end

function TestCli:test_piped_output_is_plain_unless_colour_is_forced()
  h.write(self.dir .. "/wf.lua", 'step("ok", function() end)\nstep("no", function() return false end)\n')
  local _, out, err = h.joe_in(self.dir, "wf.lua", "TERM=xterm")
  lu.assertNotStrContains(out .. err, "\27")
  _, out, err = h.joe_in(self.dir, "wf.lua", "CLICOLOR_FORCE=1")
  lu.assertStrContains(out, "\27[32mpassed \27[0m")
  lu.assertStrContains(out, "\27[1;31mfailed \27[0m")
  lu.assertStrContains(err, "\27[1;31m")
  _, out = h.joe_in(self.dir, "wf.lua", "CLICOLOR_FORCE=1 NO_COLOR=1")
  lu.assertNotStrContains(out, "\27")
  _, out = h.joe_in(self.dir, "--color=always wf.lua", "NO_COLOR=1")
  lu.assertStrContains(out, "\27[32m")
  _, out = h.joe_in(self.dir, "--color never wf.lua", "CLICOLOR_FORCE=1")
  lu.assertNotStrContains(out, "\27")
end

function TestCli:test_a_closed_pipe_on_stdout_never_stops_a_run()
  h.write(self.dir .. "/wf.lua", 'for i = 1, 3 do step("s" .. i, function() ' ..
    'print(string.rep("x", 100000)) return cijoe.run("sleep 0.2") end) end\n')
  local _, status = h.sh("cd " .. h.q(self.dir) .. " && " .. h.q(h.joe) .. " wf.lua | head -c 1")
  lu.assertEquals(status, 0)
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertEquals({ state.status, #state.steps }, { "passed", 3 })
end
