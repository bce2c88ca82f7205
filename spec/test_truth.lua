-- A run never says "passed" for work that did not happen, and every failure says what
-- failed: the core example against targets that cannot be reached, junit.xml read by a
-- real JUnit consumer (Debian's python3-junitparser), the piped REPL, a run killed with
-- SIGKILL and rebuilt from its journal, config scalars written as users write them.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

TestTruth = {}

function TestTruth.setupClass()
  TestTruth.server = sshd.start()
end

function TestTruth.teardownClass()
  TestTruth.server:kill_all()
end

function TestTruth:setUp()
  self.dir = h.tmpdir()
end

-- The steps' statuses of the newest run as "name=status" in order.
local function statuses(dir)
  local out = {}
  for _, s in ipairs(h.yaml(h.latest(dir) .. "/workflow.state").steps) do
    out[#out + 1] = s.name .. "=" .. s.status
  end
  return out
end

-- The core example (`joe -s`) run against the fixture's sshd with extra transport keys.
function TestTruth:example_against(extra)
  lu.assertEquals(h.joe_in(self.dir, "-s"), 0)
  h.write(self.dir .. "/t.yaml", self.server:config(nil, extra))
  return h.joe_in(self.dir, "-c t.yaml example.workflow")
end

function TestTruth:test_example_against_an_unreachable_target_passes_nothing()
  local status, out, err = self:example_against({ port = 1, connect_timeout = 2 })
  lu.assertEquals(status, 1)
  lu.assertEquals(statuses(self.dir), { "uname=failed", "environment=failed", "files=failed" })
  lu.assertStrMatches(out, ".*uname +failed.*environment +failed.*files +failed.*steps: 0 passed, 3 failed\n.*")
  lu.assertStrContains(err, "could not run `uname -a` on target: transport target: joetest@127.0.0.1:1: " ..
    "Connection refused")
  local junit = h.read(h.latest(self.dir) .. "/junit.xml")
  lu.assertStrContains(junit, '<error message="could not run `echo')
  lu.assertNotStrContains(junit, "returned")
end

function TestTruth:test_example_with_an_unknown_host_key_passes_nothing()
  local status, _, err = self:example_against({ known_hosts = self.dir .. "/empty", host_key_check = "yes" })
  lu.assertEquals(status, 1)
  lu.assertEquals(statuses(self.dir), { "uname=failed", "environment=failed", "files=failed" })
  lu.assertStrContains(err, "the host key is not known (SHA256:")
  local html = h.read(h.latest(self.dir) .. "/report.html")
  lu.assertStrContains(html, '<span class="badge failed">failed</span>')
  lu.assertNotStrContains(html, 'class="step passed"')
end

function TestTruth:test_example_against_a_working_target_passes_all()
  local status, out = self:example_against()
  lu.assertEquals(status, 0, out)
  lu.assertEquals(statuses(self.dir), { "uname=passed", "environment=passed", "files=passed" })
end

-- A workflow with a step of every kind of ending, and output no XML may hold raw.
local EVERY_ENDING = [=[
step("passes", function() return cijoe.run("printf 'bad \\377 utf8, nul \\000, esc \\033[31m, ]]>\\n'") end)
step("fails", function() return cijoe.run("echo one; echo two; exit 3") end)
step("times_out", function() return cijoe.run("echo slow; sleep 30", { timeout = 1 }) end)
step("unreachable", function() local err = cijoe.run("true", { transport = "nowhere" }) if err ~= 0 then return err end end)
step("errs", function() local t = nil; return t.field end)
step("skips", function() return "skip", "no disk here" end)
step("floods", function() return cijoe.run("seq -w 100000") end)
step("many", function() for _ = 1, 300 do cijoe.run(": " .. string.rep("x", 1000)) end end)
]=]

function TestTruth:test_junit_read_by_a_real_consumer()
  h.write(self.dir .. "/wf.lua", EVERY_ENDING)
  lu.assertEquals(h.joe_in(self.dir, "-q wf.lua"), 1)
  local out, status = h.sh("/usr/bin/python3 -c " .. h.q([[
import sys, socket
from junitparser import JUnitXml
for suite in JUnitXml.fromfile(sys.argv[1]):
    print("suite", suite.name, suite.tests, suite.failures, suite.errors, suite.skipped,
          suite.timestamp is not None and len(suite.timestamp) == 19, suite.hostname == socket.gethostname(),
          float(suite.time) > 1)
    for c in suite:
        kinds = ["%s[%s]: %s" % (type(r).__name__, r.type, r.message) for r in c.result]
        text = "".join(r.text or "" for r in c.result)
        print(c.classname, c.name, float(c.time) >= 0, "|".join(kinds))
        if "last lines" in text: print("  text:", text.splitlines()[-1])
        if c.system_out: print("  out:", c.system_out.splitlines()[-1])
        if c.name == "floods":
            lines = c.system_out.splitlines()
            print("  capped:", len(c.system_out.encode()) <= 64 * 1024 + 200, lines[1],
                  lines[2] == "%06d" % (100001 - (len(lines) - 2)))
        if c.name == "many":
            print("  many:", len(c.system_out.encode()) <= 64 * 1024, c.system_out.splitlines()[0])
]]) .. " " .. h.q(h.latest(self.dir) .. "/junit.xml"))
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, table.concat({
    "suite wf 8 2 2 1 True True True",
    "wf passes True ",
    "  out: bad \239\191\189 utf8, nul \239\191\189, esc \239\191\189[31m, ]]>",
    "wf fails True Failure[command]: `echo one; echo two; exit 3` on local: exit status 3",
    "  text:   | two",
    "  out: two",
    "wf times_out True Failure[command]: `echo slow; sleep 30` on local: timed out after 1 s (exit status 143)",
    "  text:   | slow",
    "  out: slow",
    "wf unreachable True Error[unrun]: could not run `true` on nowhere: unknown transport 'nowhere'",
    "  text:   | joe: could not run the command: unknown transport 'nowhere'",
    "  out: joe: could not run the command: unknown transport 'nowhere'",
    "wf errs True Error[error]: wf.lua:5: attempt to index a nil value (local 't')",
    "wf skips True Skipped[skipped]: no disk here",
    "wf floods True ",
    "  out: 100000", -- the end of the output, whole lines of it, and a note of the rest
    "  capped: True [634550 bytes before this are in 007_floods/cmd_01.output] True",
    "wf many True ", -- command lines count toward the cap too
    "  out: $ : " .. string.rep("x", 1000),
    "  many: True [235 more commands are in the output directory]", "" }, "\n"))
end

-- A put or get that failed fails its step even when the step ignores its nil (what it
-- should have moved is not there), locally and over SSH; one in a probe does not.
local IGNORED_COPIES = [=[
step("ignored_get", function() cijoe.get("/no/such/file", "x") end)
step("ignored_put", function() cijoe.put("wf.lua", "/no/such/dir/wf.lua", { transport = "target" }) end)
step("probed_get", function() return cijoe.probe(cijoe.get, "/no/such/file", "y") == nil end)
step("good_copies", function()
  assert(cijoe.put("wf.lua", "/tmp/joe-truth-wf.lua", { transport = "target" }))
  assert(cijoe.get("/tmp/joe-truth-wf.lua", "back.lua", { transport = "target" }))
end)
]=]

function TestTruth:test_a_failed_copy_fails_its_step()
  h.write(self.dir .. "/wf.lua", IGNORED_COPIES)
  h.write(self.dir .. "/t.yaml", self.server:config())
  local status, out, err = h.joe_in(self.dir, "-c t.yaml wf.lua")
  lu.assertEquals(status, 1, out .. err)
  lu.assertEquals(statuses(self.dir), { "ignored_get=failed", "ignored_put=failed",
    "probed_get=passed", "good_copies=passed" })
  lu.assertStrContains(err, "could not copy: `get /no/such/file ")
  lu.assertStrContains(err, "could not copy: `put wf.lua /no/such/dir/wf.lua` on target: ")
  local junit = h.read(h.latest(self.dir) .. "/junit.xml")
  lu.assertStrContains(junit, '<error message="could not copy: `get /no/such/file ')
  lu.assertEquals(h.read(h.latest(self.dir) .. "/004_good_copies/artifacts/back.lua"), IGNORED_COPIES)
end

-- The short summary's line says what failed when an assertion's message is a command's
-- whole output (a run's step table first): where, then LuaUnit's own words.
function TestTruth:test_short_summary_names_the_assertion_not_the_output()
  h.write(self.dir .. "/test_y.lua", [[
local lu = require("luaunit")
function test_output() lu.assertEquals(1, 0, "step  name  status\n1  wf  failed\n") end]])
  local status, out = h.joe_in(self.dir, "test test_y.lua")
  lu.assertEquals(status, 1, out)
  lu.assertStrContains(out, "\nFAILED test_output: test_y.lua:2: expected: 0, actual: 1\n" ..
    "0 passed, 1 failed, 0 skipped\n")
end

-- A command that could not run, ignored by the code around it, in each kind of step
-- that is not a plain workflow step: a `joe test` test (LuaUnit's own lines agree), a
-- package's worklet and a CIJOE task's step.
function TestTruth:test_an_ignored_command_that_could_not_run_fails_tests_worklets_and_tasks()
  h.write(self.dir .. "/test_x.lua", [[
local lu = require("luaunit")
function test_ignores() cijoe.run("true", { transport = "nowhere" }) end
function test_fine() lu.assertEquals(1, 1) end]])
  local status, out = h.joe_in(self.dir, "test test_x.lua")
  lu.assertEquals(status, 1, out)
  lu.assertStrContains(out, "test_ignores ... FAIL\ncould not run `true` on nowhere: " ..
    "unknown transport 'nowhere'\n")
  lu.assertStrContains(out, "Ran 2 tests in ")
  lu.assertStrContains(out, " 1 success, 1 failure\n")
  lu.assertStrMatches(out, ".*\nFAILED test_ignores: could not run `true` on nowhere: " ..
    "unknown transport 'nowhere'\n1 passed, 1 failed, 0 skipped\n$") -- pytest's short summary
  h.write(self.dir .. "/packages/mine/worklets/ignore.lua", [[
--- Run a command and ignore what became of it.
return function(args, cijoe) cijoe.run("true", { transport = "nowhere" }) end]])
  h.write(self.dir .. "/wf.lua", 'step{name = "w", uses = "mine.ignore"}\n')
  status = h.joe_in(self.dir, "-q wf.lua")
  lu.assertEquals(status, 1)
  lu.assertEquals(statuses(self.dir), { "w=failed" })
  h.write(self.dir .. "/task.yaml", "steps:\n- name: t\n  uses: mine.ignore\n" ..
    "- name: after\n  run: 'true'\n")
  status = h.joe_in(self.dir, "-q task.yaml")
  lu.assertEquals(status, 1)
  lu.assertEquals(statuses(self.dir)[1], "t=failed")
  lu.assertStrContains(h.yaml(h.latest(self.dir) .. "/workflow.state").steps[1].failure.message,
    "could not run `true` on nowhere: unknown transport 'nowhere'")
end

function TestTruth:test_piped_repl_fails_on_a_failed_command()
  local _, status = h.sh("cd " .. h.q(self.dir) .. " && echo 'run \"false\"' | " .. h.q(h.joe) .. " repl")
  lu.assertEquals(status, 1)
  _, status = h.sh("cd " .. h.q(self.dir) .. " && echo 'run \"true\"' | " .. h.q(h.joe) .. " repl")
  lu.assertEquals(status, 0)
  _, status = h.sh("cd " .. h.q(self.dir) .. " && echo 'run(\"true\", {transport = \"nosuch\"})' | " ..
    h.q(h.joe) .. " repl")
  lu.assertEquals(status, 1)
end

-- A run killed with SIGKILL mid-step: its journal holds everything up to that moment,
-- and joe report tells exactly that (the step that ran passed, the one running is open
-- with its command not finished, the rest are pending).
function TestTruth:test_sigkill_mid_step_is_rebuilt_from_the_journal()
  h.write(self.dir .. "/wf.lua", 'step("first", function() return cijoe.run("echo one") end)\n' ..
    'step("long", function() return cijoe.run("echo begun; sleep 60") end)\n' ..
    'step("never", function() return cijoe.run("true") end)\n')
  h.sh(string.format([[cd %s && (%s -q wf.lua >/dev/null 2>&1 & pid=$!;
    while ! grep -qs begun cijoe-output/latest/002_long/cmd_01.output; do sleep 0.05; done;
    kill -KILL $pid; wait $pid; pkill -f 'sleep 6[0]' || true)]], h.q(self.dir), h.q(h.joe)))
  local run = h.latest(self.dir)
  lu.assertNil(h.read(run .. "/workflow.state"))
  lu.assertEquals(h.joe_in(self.dir, "-q report"), 1) -- rebuilt; the run did not pass
  lu.assertEquals(statuses(self.dir), { "first=passed", "long=running", "never=pending" })
  local state = h.yaml(run .. "/workflow.state")
  lu.assertEquals({ state.status, state.steps[1].commands }, { "running", 1 })
  local html = h.read(run .. "/report.html")
  lu.assertStrContains(html, '<details class="step running" id="step-2" open>')
  lu.assertStrMatches(html, '.*did not finish.*begun\n</pre>.*')
end

function TestTruth:test_config_scalars_as_users_quote_them()
  h.write(self.dir .. "/c.yaml", self.server:config(nil, { known_hosts = self.dir .. "/kh",
    host_key_check = '"accept-new"' }) .. '  workflow:\n    fail_fast: "yes"\n')
  h.write(self.dir .. "/no.yaml", self.server:config(nil, { known_hosts = self.dir .. "/none",
    host_key_check = '"no"', port = '"' .. self.server.port .. '"' }))
  h.write(self.dir .. "/wf.lua", 'step("a", function() return cijoe.run("exit 1") end)\n' ..
    'step("b", function() return cijoe.run("true") end)\n')
  lu.assertEquals(h.joe_in(self.dir, "-q -c c.yaml wf.lua"), 1)
  lu.assertEquals(statuses(self.dir), { "a=failed", "b=skipped" }) -- fail_fast: "yes"
  lu.assertStrContains(h.read(self.dir .. "/kh"), "ssh-ed25519") -- accept-new wrote it
  h.write(self.dir .. "/s.lua", 'assert(cijoe.run("true") == 0)\n')
  local status, _, err = h.joe_in(self.dir, "-q -c no.yaml s.lua")
  lu.assertEquals(status, 0, err)
  h.write(self.dir .. "/bad.yaml", self.server:config(nil, { host_key_check = "maybe" }))
  status, _, err = h.joe_in(self.dir, "-q -c bad.yaml s.lua")
  lu.assertEquals(status, 2)
  lu.assertStrMatches(err, "joe: bad%.yaml:%d+:%d+: transport target: host_key_check must be yes, no or accept%-new\n")
end
