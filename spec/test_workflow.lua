-- The workflow engine: steps, fail_fast, task files, worklets from every place packages
-- live, core worklets, lint, resources, -s, interrupts, the test runner as a step.
local lu = require("luaunit")
local h = require("helper")

TestWorkflow = {}

function TestWorkflow:setUp()
  self.dir = h.tmpdir()
end

-- A workflow with passing, failing and erroring steps.
local MIXED = [[
step("one", function() return cijoe.run("echo one") end)
step("two", function() return cijoe.run("echo two; exit 4") end)
step("three", function() error("worklet-like failure") end)
step("four", function() return cijoe.run("echo four") end)
]]

function TestWorkflow:test_mixed_steps_run_on_after_failures()
  h.write(self.dir .. "/wf.lua", MIXED)
  local status, out, err = h.joe_in(self.dir, "wf.lua")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*one +passed.*two +failed.*three +failed.*four +passed.*")
  lu.assertStrContains(err, "wf.lua:3: worklet-like failure")
  lu.assertStrContains(err, "    `echo two; exit 4` on local: exit status 4\n" ..
    "    last lines of 002_two/cmd_01.output:\n      | two\n") -- what failed, under its step
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertEquals(state.status, "failed")
  lu.assertEquals({ state.steps[1].status, state.steps[2].status, state.steps[3].status, state.steps[4].status },
    { "passed", "failed", "failed", "passed" })
  lu.assertStrContains(h.read(h.latest(self.dir) .. "/003_three/step.log"), "stack traceback:")
end

function TestWorkflow:test_fail_fast_skips_the_rest()
  h.write(self.dir .. "/wf.lua", MIXED)
  h.write(self.dir .. "/ff.yaml", "cijoe:\n  workflow:\n    fail_fast: true\n")
  local status, out = h.joe_in(self.dir, "-c ff.yaml wf.lua")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*two +failed.*three +skipped.*four +skipped.*")
  lu.assertNil(h.read(h.latest(self.dir) .. "/004_four/cmd_01.output"))
end

function TestWorkflow:test_selected_steps_and_unknown_step()
  h.write(self.dir .. "/wf.lua", MIXED)
  local status, out = h.joe_in(self.dir, "wf.lua one four")
  lu.assertEquals(status, 0)
  lu.assertStrMatches(out, ".*one +passed.*two +skipped.*three +skipped.*four +passed.*")
  local bad, _, err = h.joe_in(self.dir, "wf.lua one nosuch")
  lu.assertEquals(bad, 2)
  lu.assertStrContains(err, "unknown step 'nosuch' in wf.lua")
end

function TestWorkflow:test_cijoe_task_file_unchanged()
  h.sh("cp " .. h.root .. "/spec/fixtures/cijoe-example.workflow " .. self.dir .. "/example.workflow")
  local status, out = h.joe_in(self.dir, "example.workflow")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, ".*1 info +passed.*2 test +passed.*")
  local run = h.latest(self.dir)
  lu.assertStrContains(h.read(run .. "/001_info/cmd_01.output"), "processor")
  lu.assertEquals(h.yaml(run .. "/001_info/cmd_02.state").cmd, "hostname")
  lu.assertTrue(#h.yaml(run .. "/002_test/tests.yaml") > 0)
  lu.assertStrContains(h.read(run .. "/report.html"), "002_test")
end

function TestWorkflow:test_task_run_lines_stop_at_first_failure()
  h.write(self.dir .. "/t.yaml", "doc: lines\nsteps:\n- name: lines\n  run: |\n    echo a \\\n      b\n    false\n    echo never\n")
  local status = h.joe_in(self.dir, "t.yaml")
  lu.assertEquals(status, 1)
  local run = h.latest(self.dir) .. "/001_lines"
  lu.assertEquals(h.read(run .. "/cmd_01.output"), "a b\n")
  lu.assertEquals(h.yaml(run .. "/cmd_02.state").cmd, "false")
  lu.assertNil(h.read(run .. "/cmd_03.state"))
end

function TestWorkflow:test_malformed_task_file_names_line()
  h.write(self.dir .. "/t.yaml", "steps:\n- name: a\n  run: true\n- name: b\n  uses: core.nosuch\n")
  local status, _, err = h.joe_in(self.dir, "t.yaml")
  lu.assertEquals(status, 1)
  lu.assertStrContains(err, "t.yaml:5:9: step 'b': unknown worklet 'core.nosuch'")
  h.write(self.dir .. "/t.yaml", "steps:\n- name: a\n  runs: true\n")
  status, _, err = h.joe_in(self.dir, "t.yaml")
  lu.assertStrContains(err, "t.yaml:3:9: step 1: unknown key 'runs'")
end

-- A package with one worklet that prints where it came from.
local function package_at(dir, pkg, text)
  h.write(dir .. "/" .. pkg .. "/worklets/hello.lua", "--- Says hello from " .. text .. ".\n" ..
    "--- with: who\nreturn function(args, cijoe) return cijoe.run('echo hello ' .. args.who .. ' from " .. text .. "') end\n")
end

function TestWorkflow:test_worklets_from_packages_joe_path_and_home()
  package_at(self.dir .. "/packages", "local_pkg", "cwd")
  package_at(self.dir .. "/elsewhere", "path_pkg", "JOE_PATH")
  package_at(self.dir .. "/home/.local/share/joe/packages", "home_pkg", "home")
  h.write(self.dir .. "/wf.lua", [[
step{ name = "a", uses = "local_pkg.hello", with = { who = "A" } }
step{ name = "b", uses = "path_pkg.hello", with = { who = "B" } }
step{ name = "c", uses = "home_pkg.hello", with = { who = "C" } }]])
  local env = "JOE_PATH=" .. self.dir .. "/elsewhere HOME=" .. self.dir .. "/home"
  local status, out = h.joe_in(self.dir, "wf.lua", env)
  lu.assertEquals(status, 0, out)
  local run = h.latest(self.dir)
  lu.assertEquals(h.read(run .. "/001_a/cmd_01.output"), "hello A from cwd\n")
  lu.assertEquals(h.read(run .. "/002_b/cmd_01.output"), "hello B from JOE_PATH\n")
  lu.assertEquals(h.read(run .. "/003_c/cmd_01.output"), "hello C from home\n")
  lu.assertEquals(h.yaml(run .. "/workflow.state").steps[1].description, "Says hello from cwd.")
  local _, listing = h.joe_in(self.dir, "resources", env)
  lu.assertStrMatches(listing, ".*path_pkg %(.*elsewhere/path_pkg%).*worklet path_pkg.hello +Says hello from JOE_PATH%..*")
end

function TestWorkflow:test_unknown_worklet_fails_before_anything_runs()
  h.write(self.dir .. "/wf.lua", 'step("a", function() return cijoe.run("echo ran") end)\nstep("b", "core.nosuch")\n')
  local status, _, err = h.joe_in(self.dir, "wf.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(err, "wf.lua:2: step 'b': unknown worklet 'core.nosuch'")
  lu.assertNil(h.read(h.latest(self.dir) .. "/001_a/cmd_01.output"))
end

function TestWorkflow:test_raising_worklet_fails_its_step_only()
  h.write(self.dir .. "/packages/bad/worklets/boom.lua", "--- Raises.\nreturn function() local t = nil; return t.x end\n")
  h.write(self.dir .. "/wf.lua", 'step("boom", "bad.boom")\nstep("after", function() return cijoe.run("true") end)\n')
  local status, out = h.joe_in(self.dir, "wf.lua")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*boom +failed.*after +passed.*")
  lu.assertStrContains(h.read(h.latest(self.dir) .. "/001_boom/step.log"), "packages/bad/worklets/boom.lua:2: attempt to index a nil value")
end

function TestWorkflow:test_core_worklets()
  h.sh("git init -q --bare " .. self.dir .. "/origin.git && git clone -q " .. self.dir .. "/origin.git "
    .. self.dir .. "/seed && cd " .. self.dir .. "/seed && echo v1 > f && git add f && "
    .. "git -c user.email=a@b -c user.name=t commit -qm one && git push -q origin HEAD:main")
  h.write(self.dir .. "/c.yaml", "app:\n  repository:\n    remote: " .. self.dir .. "/origin.git\n    path: "
    .. self.dir .. "/work/app\n    branch: main\n")
  h.write(self.dir .. "/src.txt", "payload")
  h.write(self.dir .. "/t.yaml", table.concat({ "steps:",
    "- name: cmds", "  uses: core.cmdrunner", "  with:", "    commands: [echo first, echo second]",
    "- name: put", "  uses: core.put", "  with: {src: src.txt, dst: " .. self.dir .. "/put.txt}",
    "- name: get", "  uses: core.get", "  with: {src: " .. self.dir .. "/put.txt, dst: got.txt}",
    "- name: wait", "  uses: core.wait_for_transport", "  with: {transport: local, timeout: 5}",
    "- name: repos", "  uses: core.repository_prep", "" }, "\n"))
  local status, out = h.joe_in(self.dir, "-c c.yaml t.yaml")
  lu.assertEquals(status, 0, out)
  local run = h.latest(self.dir)
  lu.assertEquals(h.read(run .. "/001_cmds/cmd_02.output"), "second\n")
  lu.assertEquals(h.read(self.dir .. "/put.txt"), "payload")
  lu.assertEquals(h.read(run .. "/003_get/artifacts/got.txt"), "payload")
  lu.assertEquals(h.read(self.dir .. "/work/app/f"), "v1\n")
end

function TestWorkflow:test_wait_for_transport_times_out()
  h.write(self.dir .. "/c.yaml", "cijoe:\n  transport:\n    dead:\n      hostname: 127.0.0.1\n      port: 1\n      connect_timeout: 1\n")
  h.write(self.dir .. "/t.yaml", "steps:\n- name: wait\n  uses: core.wait_for_transport\n  with: {transport: dead, timeout: 2}\n")
  local status, out = h.joe_in(self.dir, "-c c.yaml t.yaml")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "wait")
  lu.assertStrContains(h.yaml(h.latest(self.dir) .. "/workflow.state").steps[1].error, "transport dead is not up after 2 s")
end

function TestWorkflow:test_lint()
  h.write(self.dir .. "/good.lua", 'local g = cijoe.getconf("x", 1)\nstep{ name = "a", uses = "core.cmdrunner", with = { commands = { "true" } } }\n')
  h.write(self.dir .. "/bad.lua", 'step{ name = "a", uses = "core.cmdrunner", with = { comands = { "true" } } }\n')
  h.write(self.dir .. "/syntax.lua", "step(\n")
  h.write(self.dir .. "/bad.yaml", "steps:\n- name: a\n  uses: core.put\n  with: {source: x}\n")
  local status, out = h.joe_in(self.dir, "lint good.lua")
  lu.assertEquals(status, 0)
  lu.assertEquals(out, "good.lua: ok\n")
  status, out = h.joe_in(self.dir, "lint bad.lua syntax.lua bad.yaml")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "bad.lua:1: step 'a': core.cmdrunner takes no with.comands\n")
  lu.assertStrContains(out, "syntax.lua:2: unexpected symbol near <eof>")
  lu.assertStrContains(out, "bad.yaml:2: step 'a': core.put takes no with.source\n")
  lu.assertNil(h.read(h.latest(self.dir) .. "/workflow.state"))
end

function TestWorkflow:test_setup_for_every_builtin_package()
  for _, pkg in ipairs({ "core", "fio", "linux", "qemu" }) do
    local dir = h.tmpdir()
    local status, out = h.joe_in(dir, "-s " .. pkg)
    lu.assertEquals(status, 0, pkg .. ": " .. out)
    lu.assertNotNil(h.read(dir .. "/default.config"), pkg)
    local lint, problems = h.joe_in(dir, "lint example.workflow")
    lu.assertEquals(lint, 0, pkg .. ": " .. problems)
  end
end

function TestWorkflow:test_interrupt_mid_step_leaves_true_state()
  h.write(self.dir .. "/wf.lua", [[
step("first", function() return cijoe.run("true") end)
step("long", function() return cijoe.run("echo begun; sleep 60") end)
step("never", function() return cijoe.run("true") end)]])
  local out = h.sh(string.format([[cd %s && (%s wf.lua >/dev/null 2>&1 & pid=$!;
    while ! grep -qs begun cijoe-output/latest/002_long/cmd_01.output; do sleep 0.05; done;
    kill -INT $pid; wait $pid; echo "status=$?")]], h.q(self.dir), h.q(h.joe)))
  lu.assertStrContains(out, "status=130")
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertEquals(state.status, "interrupted")
  lu.assertEquals({ state.steps[1].status, state.steps[2].status, state.steps[3].status },
    { "passed", "interrupted", "skipped" })
  lu.assertNotNil(h.read(h.latest(self.dir) .. "/report.html"))
end

function TestWorkflow:test_testrunner_step_and_selftest()
  h.write(self.dir .. "/tests/test_t.lua", [[
local lu = require("luaunit")
function test_ok() lu.assertEquals(cijoe.run("echo inside"), 0) end
function test_bad() lu.assertEquals(1, 2) end
function test_skip() lu.skip("nothing to reach") end]])
  h.write(self.dir .. "/wf.yaml", "steps:\n- name: tests\n  uses: core.testrunner\n  with: {args: tests}\n")
  local status = h.joe_in(self.dir, "wf.yaml")
  lu.assertEquals(status, 1)
  local step = h.latest(self.dir) .. "/001_tests"
  local results = {}
  for _, t in ipairs(h.yaml(step .. "/tests.yaml")) do results[t.name] = t.status end
  lu.assertEquals(results, { test_ok = "passed", test_bad = "failed", test_skip = "skipped" })
  lu.assertEquals(h.sh("cat " .. step .. "/tests/*_test_ok/cmd_01.output"), "inside\n")
  local junit = h.read(h.latest(self.dir) .. "/junit.xml")
  lu.assertStrContains(junit, 'name="test_bad"')
  local st, out = h.joe_in(self.dir, "selftest core")
  lu.assertEquals(st, 0, out)
  lu.assertStrMatches(out, ".*\n%d+ passed, 0 failed, %d+ skipped\n$")
end
