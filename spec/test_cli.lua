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
  lu.assertEquals(steps[5].error, "the step reported a failure (its function returned false and no message)")
  lu.assertEquals(steps[6].failure.message, "`exit 3` on local: exit status 3")
end
