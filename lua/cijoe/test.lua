-- joe test: LuaUnit test files run with cijoe bound to the config, as CIJOE ran pytest.
-- Each test is a step of the run: its commands are logged in a folder of its own, and
-- workflow.state, tests.yaml, report.html and junit.xml tell how each test went. Tests
-- ask for fixtures and are parametrized as pytest's are (cijoe.test_load,
-- cijoe.fixtures); JOE_TEST_SEED=N runs them in a random order that N repeats.
local lu = require("luaunit")
local fixtures = require("cijoe.fixtures")
local test_load = require("cijoe.test_load")
local fs = require("cijoe.fs")
local packages = require("cijoe.packages")
local proc = require("cijoe.proc")
local runner = require("cijoe.runner")
local verdict = require("cijoe.verdict")
local yaml = require("cijoe.yaml")

local test = {}
local STATUS = { SUCCESS = "passed", FAIL = "failed", ERROR = "error", SKIP = "skipped" }

-- The test files an argument stands for: itself, or the test_*.lua of a folder.
local function test_files(path, files)
  local st = fs.stat(path)
  if not st then return nil, path .. ": no such file or directory" end
  if st.type ~= "directory" then
    files[#files + 1] = { path = path }
    return files
  end
  for _, name in ipairs(fs.dir(path)) do
    if name:match("^test_.*%.lua$") then
      files[#files + 1] = { path = path:gsub("/+$", "") .. "/" .. name }
    end
  end
  return files
end

-- The selftest files of packages (all when names is empty), read from wherever the
-- package lives, the binary included.
local function selftest_files(names)
  local all, files = packages.list(), {}
  if #names == 0 then for name in pairs(all) do names[#names + 1] = name end end
  table.sort(names)
  for _, pkg in ipairs(names) do
    if not all[pkg] then
      return nil, "unknown package '" .. pkg .. "'" .. require("cijoe.suggest").hint(pkg, all)
    end
    for file in pairs(all[pkg].files) do
      if file:match("^selftest/test_.*%.lua$") then
        local text, origin = packages.read(pkg .. "/" .. file)
        files[#files + 1] = { path = origin, text = text }
      end
    end
  end
  table.sort(files, function(a, b) return a.path < b.path end)
  return files
end

-- The result of a test for its step, from LuaUnit's verdict and the run's (a command that
-- could not run fails a test that LuaUnit passed), and its entry of tests.yaml.
local function judge(r, node)
  local status = STATUS[node.status] or "error"
  local res
  if status == "passed" then
    res = verdict.of(r.step, { ok = true, signal = proc.signal() })
  elseif status == "skipped" then
    res = { status = "skipped", reason = node.msg and tostring(node.msg) }
  else
    local msg = tostring(node.msg) .. (node.trace and "\n" .. node.trace or "")
    res = { status = "failed", error = msg, failure = { kind = status == "error" and "error"
      or "message", message = tostring(node.msg):match("[^\n]*"), full = msg } }
  end
  local entry_status = res.status == "failed" and status == "error" and "error" or res.status
  return res, entry_status
end

-- A class's setupClass or teardownClass as a step of its own (left out when it passed
-- and logged nothing), run here rather than by LuaUnit, which cannot report a failure
-- outside a test.
local function hook_fixtures(lu_runner, r, results, count)
  for _, phase in ipairs({ "setupClass", "teardownClass" }) do
    lu_runner[phase] = function(_, class_name, instance)
      if type(instance) ~= "table" or type(instance[phase]) ~= "function" then return end
      local name = class_name .. "." .. phase
      local res = runner.step(r, { number = count() + 1, name = name,
        optional = function() return true end,
        fn = function() return instance[phase](instance) end })
      if res.dropped then return end
      count(1)
      results[#results + 1] = { name = name, status = res.status, elapsed = res.elapsed,
        message = res.error }
    end
  end
end

-- The number of entries of each file in list.
local function per_file(list)
  local left = {}
  for _, entry in ipairs(list) do left[entry.file] = (left[entry.file] or 0) + 1 end
  return left
end

-- Each test becomes a step of the run: its own output folder, wall-clock times (LuaUnit's
-- own durations are CPU time), and an entry in results. The file and run fixtures a test
-- needs are set up (steps of their own) before it, those of a file torn down after its
-- last test; list is the tests in the order LuaUnit runs them.
local function hook_steps(lu_runner, r, results, list, fx, count)
  local next_entry, left = 0, per_file(list)
  hook_fixtures(lu_runner, r, results, count)
  local start_test, end_test = lu_runner.startTest, lu_runner.endTest
  function lu_runner.startTest(self, name)
    next_entry = next_entry + 1
    local entry = list[next_entry]
    fx:prepare(entry.file, entry.needs)
    r:begin_step(name, count(1))
    return start_test(self, name)
  end
  function lu_runner.endTest(self)
    local luaunit_passed = self.result.currentNode:isSuccess()
    local res, status = judge(r, self.result.currentNode)
    if luaunit_passed and res.status ~= "passed" then -- so that LuaUnit's lines agree
      self:updateStatus({ status = lu.NodeStatus.FAIL, msg = res.failure.message, trace = "" })
    end
    local name, file = r.step.name, list[next_entry].file
    r:end_step(res)
    results[#results + 1] = { name = name, status = status, elapsed = res.elapsed,
      message = res.error }
    left[file] = left[file] - 1
    end_test(self)
    if left[file] == 0 then fx:finish_file(file) end
  end
end

-- A counter of the run's steps: count(n) adds n and returns the total.
local function counter()
  local steps = 0
  return function(n)
    steps = steps + (n or 0)
    return steps
  end
end

-- The tests of files, the -k pattern applied, shuffled when JOE_TEST_SEED says so.
local function test_list(opts, files, fx)
  local list = {}
  for i, file in ipairs(files) do test_load.add(file, i, list, fx) end
  if opts.pattern then list = lu.LuaUnit.applyPatternFilter({ opts.pattern }, list) end
  local seed = math.tointeger(tonumber(os.getenv("JOE_TEST_SEED") or ""))
  if seed then
    math.randomseed(seed)
    for i = #list, 2, -1 do
      local j = math.random(i)
      list[i], list[j] = list[j], list[i]
    end
    print("random order: JOE_TEST_SEED=" .. seed .. " runs it again")
  end
  return list
end

-- How LuaUnit's own messages begin: it puts an assertion's extra message (often a
-- command's whole output, a run's step table first) before them.
local ASSERTION_WORDS = { "expected", "Expected", "Could not", "Received", "Found",
  "Values are", "Error message", "Content of", "Table" }

-- What failed, in a line: where, then LuaUnit's own words when it gave any (the last line
-- that begins as they do), else the message's first line.
local function what_failed(message)
  local first = message:match("^[^\n]*")
  local where, why = first:match("^([^:\n]+:%d+: )") or "", first
  for line in message:gmatch("[^\n]+") do
    for _, word in ipairs(ASSERTION_WORDS) do
      if line:sub(1, #word) == word then why = where .. line end
    end
  end
  return why:sub(1, 160)
end

-- One line per failed test, as pytest's short summary: its name and what failed, so that
-- the tail of a long CI log (often all one sees of it) names every failure.
local function short_summary(results)
  for _, t in ipairs(results) do
    if t.status ~= "passed" and t.status ~= "skipped" then
      local why = what_failed(tostring(t.message or t.status))
      print(string.format("FAILED %s: %s", tostring(t.name), why))
    end
  end
end

-- Run the tests of files with LuaUnit; prints "N passed, N failed, N skipped" last and
-- returns nonzero when any failed.
local function run(opts, files, name)
  local r, status = require("cijoe.cli").start(opts, name, nil, name)
  if not r then return status end
  local results, lu_runner, count = {}, lu.LuaUnit.new(), counter()
  local fx = fixtures.new(r, count, results)
  local list = test_list(opts, files, fx)
  hook_steps(lu_runner, r, results, list, fx, count)
  lu_runner:setOutputType("text")
  lu_runner.verbosity = lu.VERBOSITY_VERBOSE
  lu_runner:registerSuite() -- runSuiteByInstances would parse joe's own arg table
  lu_runner:internalRunSuiteByInstances(list)
  lu_runner:unregisterSuite()
  fx:finish()
  local counts = verdict.count_tests(results)
  local failed = counts.failed + counts.error
  assert(yaml.write(r.dir .. "/tests.yaml", results))
  r:finish(proc.signal() and "interrupted" or failed > 0 and "failed" or "passed")
  short_summary(results)
  print(string.format("%d passed, %d failed, %d skipped", counts.passed, failed, counts.skipped))
  return proc.signal() and 128 + proc.signal() or failed > 0 and 1 or 0
end

--- joe test [-k pattern] [file_or_dir ...]: the test_*.lua files given (default: cwd).
function test.main(opts, args)
  local files = {}
  for _, path in ipairs(#args > 0 and args or { "." }) do
    local ok, err = test_files(path, files)
    if not ok then return require("cijoe.cli").die(err, 2) end
  end
  return run(opts, files, "test")
end

--- joe selftest [pkg ...]: the selftests of the packages (default: all of them).
function test.selftest(opts, names)
  local files, err = selftest_files(names)
  if not files then return require("cijoe.cli").die(err, 2) end
  return run(opts, files, "selftest")
end

return test
