-- joe test's fixtures and parametrized tests, through the binary: each case its own test
-- (terminal, tests.yaml, junit.xml, report.html), fixtures set up once per test, file or
-- run and torn down even when tests fail, a package's fixture, the core's target fixture
-- against a real sshd, and a random order that a seed repeats.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

TestFixtures = {}

function TestFixtures:setUp()
  self.dir = h.tmpdir()
end

-- Fixtures that append what they do to the file `log` in the test folder.
local LOGGING = [[
local function note(text)
  local f = assert(io.open("log", "a"))
  f:write(text, "\n")
  f:close()
end
for _, scope in ipairs({ "test", "file", "run" }) do
  fixture(scope .. "_thing", { scope = scope,
    setup = function() note("setup " .. scope) return { scope = scope } end,
    teardown = function(v) note("teardown " .. v.scope) end })
end
]]

function TestFixtures:test_each_case_is_a_test_of_its_own()
  h.write(self.dir .. "/test_p.lua", [[
local lu = require("luaunit")
test_read = parametrize({ { bs = "4k" }, { bs = "64k", depth = 2 }, { id = "big", bs = "1M" } },
  function(bs)
    lu.assertEquals(cijoe.run("echo " .. bs), 0)
    if bs == "64k" then lu.fail("64k is too slow") end
  end)
TestSizes = {}
TestSizes.test_n = parametrize({ { n = 1 }, { n = 2 } }, function(self, n) lu.assertTrue(n > 0) end)
]])
  local status, out = h.joe_in(self.dir, "test test_p.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "    test_read[bs=4k] ... Ok\n")
  lu.assertStrContains(out, "    test_read[bs=64k,depth=2] ... FAIL\n")
  lu.assertStrContains(out, "    test_read[big] ... Ok\n")
  lu.assertStrContains(out, "    TestSizes.test_n[n=2] ... Ok\n")
  lu.assertStrContains(out, "4 passed, 1 failed, 0 skipped\n")
  local run = h.latest(self.dir)
  local names = {}
  for _, t in ipairs(h.yaml(run .. "/tests.yaml")) do
    names[#names + 1] = t.name .. " " .. t.status
  end
  lu.assertEquals(names, { "TestSizes.test_n[n=1] passed", "TestSizes.test_n[n=2] passed",
    "test_read[bs=4k] passed", "test_read[bs=64k,depth=2] failed", "test_read[big] passed" })
  lu.assertEquals(h.read(h.sh("ls -d " .. run .. "/*_test_read_bs_4k_"):gsub("\n", "") ..
    "/cmd_01.output"), "4k\n")
  local junit = h.read(run .. "/junit.xml")
  lu.assertStrContains(junit, '<testcase classname="test" name="test_read[bs=64k,depth=2]"')
  lu.assertStrContains(h.read(run .. "/report.html"), "test_read[bs=64k,depth=2]")
  status, out = h.joe_in(self.dir, "test -k 'bs=4k' test_p.lua")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "1 passed, 0 failed, 0 skipped\n")
end

function TestFixtures:test_scopes_set_up_once_and_tear_down_when_tests_fail()
  h.write(self.dir .. "/test_a.lua", LOGGING .. [[
function test_1(test_thing, file_thing, run_thing) error("boom") end
function test_2(test_thing, file_thing) assert(file_thing.scope == "file") end
function test_3() end
]])
  h.write(self.dir .. "/test_b.lua", LOGGING .. [[
function test_4(file_thing, run_thing) assert(false, "fails") end
]])
  local status, out = h.joe_in(self.dir, "test -q test_a.lua test_b.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "2 passed, 2 failed, 0 skipped\n")
  lu.assertEquals(h.read(self.dir .. "/log"), table.concat({ "setup file", "setup run",
    "setup test", "teardown test", "setup test", "teardown test", "teardown file", "setup file",
    "teardown file", "teardown run", "" }, "\n"))
end

function TestFixtures:test_a_setup_that_fails_errors_the_tests_that_need_it()
  h.write(self.dir .. "/test_s.lua", [[
fixture("db", { scope = "file", setup = function(cj)
  cj.run("echo trying")
  return nil, "the database is down"
end })
fixture("bad", { setup = function() error("setup raised") end })
function test_needs(db) end
function test_again(db) end
function test_raises(bad) end
function test_free() end
function test_typo(bd) end
]])
  local status, out, err = h.joe_in(self.dir, "test test_s.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "fixture 'db' could not be set up: the database is down\n")
  lu.assertStrContains(out, "test_s.lua:5: setup raised")
  lu.assertStrContains(out, "test_typo: no fixture called 'bd' (there are: bad, db, fio, guest, " ..
    "target)")
  lu.assertStrContains(out, "1 passed, 4 failed, 0 skipped\n")
  lu.assertStrContains(err, "the database is down")
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  local steps = {}
  for _, s in ipairs(state.steps) do steps[#steps + 1] = s.name .. " " .. s.status end
  lu.assertEquals(steps, { "fixture db failed", "test_again failed", "test_free passed",
    "test_needs failed", "test_raises failed", "test_typo failed" })
end

function TestFixtures:test_a_teardown_that_fails_is_an_error()
  h.write(self.dir .. "/test_t.lua", [[
fixture("leaky", { scope = "run", setup = function() return 1 end,
  teardown = function() return false, "could not clean up" end })
function test_uses(leaky) end
]])
  local status, out = h.joe_in(self.dir, "test test_t.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "1 passed, 1 failed, 0 skipped\n")
  local tests = h.yaml(h.latest(self.dir) .. "/tests.yaml")
  lu.assertEquals({ tests[2].name, tests[2].status, tests[2].message },
    { "fixture leaky (teardown)", "error", "could not clean up" })
end

function TestFixtures:test_a_package_provides_a_fixture_by_its_file_name()
  h.write(self.dir .. "/packages/mine/fixtures/answer.lua", "--- Forty-two.\n" ..
    "return { scope = 'file', setup = function(cijoe) return 42 end }\n")
  h.write(self.dir .. "/test_pkg.lua", "local lu = require('luaunit')\n" ..
    "function test_it(answer) lu.assertEquals(answer, 42) end\n")
  local status, out = h.joe_in(self.dir, "test test_pkg.lua")
  lu.assertEquals(status, 0, out)
  h.write(self.dir .. "/packages/mine/fixtures/broken.lua", "return { scope = 'day' }\n")
  h.write(self.dir .. "/test_pkg.lua", "function test_it(broken) end\n")
  status, out = h.joe_in(self.dir, "test test_pkg.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "test_it: ./packages/mine/fixtures/broken.lua: a fixture is a table " ..
    "with a setup function")
end

function TestFixtures:test_the_target_fixture_runs_on_the_default_transport()
  local target = sshd.start()
  h.write(self.dir .. "/c.yaml", target:config({ "box" }))
  h.write(self.dir .. "/test_target.lua", [[
local lu = require("luaunit")
function test_where(target)
  lu.assertEquals(target.name, "box")
  local err, st = target.run("echo $USER")
  lu.assertEquals(err, 0)
  lu.assertEquals(st:output(), "joetest\n")
  lu.assertTrue(target.put("c.yaml", "/tmp/joe-spec-target-" .. target.name .. ".yaml"))
  lu.assertEquals(target.run("rm /tmp/joe-spec-target-box.yaml"), 0)
end
]])
  local status, out = h.joe_in(self.dir, "-c c.yaml test test_target.lua")
  lu.assertEquals(status, 0, out)
  lu.assertEquals(h.yaml(h.latest(self.dir) .. "/002_test_where/cmd_01.state").transport, "box")
  lu.assertEquals(h.yaml(h.latest(self.dir) .. "/001_fixture_target/cmd_01.state").cmd, "true")
end

function TestFixtures:test_a_seed_shuffles_the_tests_and_repeats_the_order()
  local lines = {}
  for i = 1, 12 do lines[i] = string.format("function test_%02d(file_thing) end", i) end
  h.write(self.dir .. "/test_r.lua", LOGGING .. table.concat(lines, "\n") .. "\n")
  local _, first = h.joe_in(self.dir, "test test_r.lua", "JOE_TEST_SEED=7")
  local _, again = h.joe_in(self.dir, "test test_r.lua", "JOE_TEST_SEED=7")
  local _, plain = h.joe_in(self.dir, "test test_r.lua")
  local function order(out)
    local names = {}
    for name in out:gmatch("    (test_%d+) %.%.%.") do names[#names + 1] = name end
    return table.concat(names, " ")
  end
  lu.assertStrContains(first, "random order: JOE_TEST_SEED=7 runs it again\n")
  lu.assertEquals(order(first), order(again))
  lu.assertNotEquals(order(first), order(plain))
  lu.assertEquals(order(plain), "test_01 test_02 test_03 test_04 test_05 test_06 test_07 " ..
    "test_08 test_09 test_10 test_11 test_12")
  lu.assertEquals(select(2, h.read(self.dir .. "/log"):gsub("setup file", "")), 3)
  lu.assertEquals(select(2, h.read(self.dir .. "/log"):gsub("teardown file", "")), 3)
end
