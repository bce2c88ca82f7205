-- Many targets at once, against a real sshd: 50 logical targets (transports to one sshd),
-- one unreachable and one whose command times out; cijoe.each in a script and
-- joe --each for whole workflows, with prefixed output and one combined report.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

TestEach = {}

function TestEach.setupClass()
  TestEach.server = sshd.start()
end

function TestEach.teardownClass()
  TestEach.server:kill_all()
end

-- A config with transports t01..tNN to the fixture, plus "dead" (nothing listens).
function TestEach:config(n)
  local names = {}
  for i = 1, n do names[i] = string.format("t%02d", i) end
  local text = self.server:config(names) .. "    dead:\n      hostname: 127.0.0.1\n      port: 1\n      connect_timeout: 2\n"
  h.write(self.dir .. "/each.yaml", text)
  return names
end

function TestEach:setUp()
  self.dir = h.tmpdir()
end

function TestEach:test_each_in_a_script()
  self:config(3)
  h.write(self.dir .. "/s.lua", [[
local t0 = require("cijoe.proc").now()
local results = cijoe.each({ "t01", "t02", "t03", "dead" }, function(t)
  local err, msg = t.run("echo hello from " .. t.name .. "; sleep 1")
  if err ~= 0 then return err, msg end
  if t.name == "t02" then return t.run("exit 7") end
  return err
end)
for _, name in ipairs({ "t01", "t02", "t03", "dead" }) do
  local r = results[name]
  print(name, r.err, r.message ~= nil, r.elapsed < 5)
end
print("wall", require("cijoe.proc").now() - t0 < 3)]])
  local status, out = h.joe_in(self.dir, "-q -c each.yaml s.lua")
  -- the script returns nothing, but dead's command could not run: that fails the step
  lu.assertEquals(status, 1, out)
  lu.assertStrContains(out, "t01\t0\tfalse\ttrue\nt02\t7\tfalse\ttrue\nt03\t0\tfalse\ttrue\ndead\tnil\ttrue\ttrue\nwall\ttrue\n")
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertEquals(state.steps[1].status, "failed")
  lu.assertStrMatches(state.steps[1].failure.message, "could not run `echo hello from dead; " ..
    "sleep 1` on dead: .*Connection refused.*")
  local step = h.latest(self.dir) .. "/001_s"
  lu.assertEquals(h.read(step .. "/t02/cmd_01.output"), "hello from t02\n")
  lu.assertEquals(h.yaml(step .. "/t02/cmd_02.state").err, 7)
  lu.assertStrContains(h.read(step .. "/dead/cmd_01.output"), "Connection refused")
end

-- A forked child gets a copy of the parent's open session; collecting it there must not
-- disconnect the parent's (the parent would reconnect, seen in the remote $PPID).
function TestEach:test_children_leave_the_parents_session_alone()
  self:config(1)
  h.write(self.dir .. "/s.lua", [[
local before = select(2, cijoe.run("echo $PPID", { transport = "t01" })):output()
local r = cijoe.each({ "t01" }, function(t)
  collectgarbage()
  collectgarbage()
  return t.run("true")
end)
local after = select(2, cijoe.run("echo $PPID", { transport = "t01" })):output()
print(r.t01.err, before == after)]])
  local status, out = h.joe_in(self.dir, "-q -c each.yaml s.lua")
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, "0\ttrue\n")
end

function TestEach:test_fifty_targets_one_dead_one_slow()
  local names = self:config(50)
  h.write(self.dir .. "/wf.lua", [[
step("hello", function() return cijoe.run("echo hello; echo err >&2") end)
step("slow", function()
  if cijoe.default_transport() == "t13" then return cijoe.run("sleep 60", { timeout = 2 }) end
  return cijoe.run("true")
end)
step("last", function() return cijoe.run("echo done") end)]])
  local t0 = os.time()
  local status, out = h.joe_in(self.dir, "-m -c each.yaml --each all wf.lua")
  lu.assertTrue(os.time() - t0 < 30, "took " .. os.time() - t0 .. " s")
  lu.assertEquals(status, 1)
  for line in out:gmatch("[^\n]+") do
    if not line:match("^report: ") then lu.assertStrMatches(line, "%[[%w]+%] .*") end
  end
  lu.assertStrContains(out, "[t50] hello\n")
  lu.assertStrContains(out, "[t50] err\n")
  local top = h.latest(self.dir)
  local state = h.yaml(top .. "/workflow.state")
  lu.assertEquals(state.status, "failed")
  lu.assertEquals(state.targets.t01, "passed")
  lu.assertEquals(state.targets.t13, "failed")
  lu.assertEquals(state.targets.dead, "failed")
  local passed = 0
  for _, name in ipairs(names) do passed = passed + (state.targets[name] == "passed" and 1 or 0) end
  lu.assertEquals(passed, 49)
  lu.assertEquals(h.read(top .. "/t37/003_last/cmd_01.output"), "done\n")
  lu.assertTrue(h.yaml(top .. "/t13/002_slow/cmd_01.state").timed_out)
  local suites = h.sh("python3 -c 'import xml.dom.minidom,sys; d=xml.dom.minidom.parse(sys.argv[1]); print(len(d.getElementsByTagName(\"testsuite\")))' " .. top .. "/junit.xml")
  lu.assertEquals(suites, "51\n")
  local html = h.read(top .. "/report.html")
  lu.assertStrContains(html, "<tr><th>t13</th><td class=\"passed\">passed</td>\n<td class=\"failed\">failed</td>")
end

function TestEach:test_jobs_bound_and_unknown_target()
  self:config(4)
  h.write(self.dir .. "/wf.lua", [[step("s", function() return cijoe.run("sleep 1") end)]])
  local t0 = require("cijoe.proc").now()
  local status = h.joe_in(self.dir, "-q -c each.yaml --each t01,t02,t03,t04 -j 2 wf.lua")
  local took = require("cijoe.proc").now() - t0
  lu.assertEquals(status, 0)
  lu.assertTrue(took >= 2 and took < 6, "took " .. took)
  local bad, _, err = h.joe_in(self.dir, "-c each.yaml --each t01,nosuch wf.lua")
  lu.assertEquals(bad, 2)
  lu.assertStrContains(err, "--each: unknown transport 'nosuch'")
end

function TestEach:test_ctrl_c_stops_every_target()
  self:config(3)
  local marker = 6000 + math.random(999)
  h.write(self.dir .. "/wf.lua", string.format([[step("long", function() return cijoe.run("echo begun; sleep %d") end)]], marker))
  local out = h.sh(string.format([[cd %s && (%s -q -c each.yaml --each t01,t02,t03 wf.lua >/dev/null 2>&1 & pid=$!;
    for t in t01 t02 t03; do while ! grep -qs begun cijoe-output/latest/$t/001_long/cmd_01.output; do sleep 0.05; done; done;
    kill -INT $pid; wait $pid; echo "status=$?")]], h.q(self.dir), h.q(h.joe)))
  lu.assertStrContains(out, "status=130")
  h.sh("sleep 1")
  lu.assertEquals(h.sh("pgrep -u joetest -f '[s]leep " .. marker .. "' || true"), "")
  for _, t in ipairs({ "t01", "t02", "t03" }) do
    lu.assertEquals(h.yaml(h.latest(self.dir) .. "/" .. t .. "/workflow.state").status, "interrupted")
  end
end
