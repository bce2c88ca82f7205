-- joe test: LuaUnit test files run with cijoe bound to the config, as CIJOE ran pytest.
-- Each test is a step of the run: its commands are logged in a folder of its own, and
-- workflow.state, tests.yaml, report.html and junit.xml tell how each test went.
local lu = require("luaunit")
local cijoe = require("cijoe")
local fs = require("cijoe.fs")
local output = require("cijoe.output")
local packages = require("cijoe.packages")
local proc = require("cijoe.proc")

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
    if name:match("^test_.*%.lua$") then files[#files + 1] = { path = path .. "/" .. name } end
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
    if not all[pkg] then return nil, "unknown package '" .. pkg .. "'" end
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

-- Load one file in an environment of its own and add its tests ({name, test}) to list; a
-- file that does not load becomes a test that errors.
local function add_tests(file, list)
  local env = setmetatable({ cijoe = cijoe }, { __index = _G })
  package.path = (file.path:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
  local chunk, err
  if file.text then chunk, err = load(file.text, "@" .. file.path, "t", env) else chunk, err = loadfile(file.path, "t", env) end
  local ok, msg = false, err
  if chunk then ok, msg = pcall(chunk) end
  if not ok then
    list[#list + 1] = { "test_load_" .. file.path:match("([^/]*)%.lua$"), function() error(msg, 0) end }
    return
  end
  local names = {}
  for name, value in pairs(env) do
    local kind = type(value)
    if type(name) == "string" and name:match("^[Tt]est") and (kind == "function" or kind == "table") then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  for _, name in ipairs(names) do list[#list + 1] = { name, env[name] } end
end

-- Each test becomes a step: its own output folder, and wall-clock times (LuaUnit's own
-- durations are CPU time).
local function hook_steps(runner, record)
  local start_test, end_test = runner.startTest, runner.endTest
  function runner.startTest(self, name)
    output.begin_step(name)
    record.steps[#record.steps + 1] = { name = name, number = output.step, begin = proc.now() }
    return start_test(self, name)
  end
  function runner.endTest(self)
    local rec, node = record.steps[#record.steps], self.result.currentNode
    rec.elapsed, rec.status = proc.now() - rec.begin, STATUS[node.status] or "error"
    rec.error = node.msg and tostring(node.msg) .. (node.trace and "\n" .. node.trace or "")
    return end_test(self)
  end
end

-- Write what the run found: workflow.state, tests.yaml (for a core.testrunner step), the
-- reports.
local function save(record, quiet)
  local failed = 0
  local tests = {}
  for i, rec in ipairs(record.steps) do
    tests[i] = { name = rec.name, status = rec.status, elapsed = rec.elapsed, message = rec.error }
    if rec.status == "failed" or rec.status == "error" then failed = failed + 1 end
  end
  record.status = proc.signal() and "interrupted" or failed > 0 and "failed" or "passed"
  record.elapsed = proc.now() - record.begin
  assert(output.write_yaml(output.dir .. "/workflow.state", record, true))
  assert(output.write_yaml(output.dir .. "/tests.yaml", tests))
  require("cijoe.report").run(output.dir, quiet)
  return failed
end

-- Run the tests of files with LuaUnit; prints "N passed, N failed, N skipped" last and
-- returns nonzero when any failed.
local function run(opts, files, name)
  local started, status = require("cijoe.cli").start(opts, name)
  if not started then return status end
  local list, record = {}, { name = name, begin = proc.now(), status = "running", steps = {} }
  for _, file in ipairs(files) do add_tests(file, list) end
  local runner = lu.LuaUnit.new()
  hook_steps(runner, record)
  runner:setOutputType("text")
  runner.verbosity = lu.VERBOSITY_VERBOSE
  runner.patternIncludeFilter = opts.pattern and { opts.pattern }
  runner:registerSuite() -- runSuiteByInstances would parse joe's own arg table
  runner:internalRunSuiteByInstances(list)
  runner:unregisterSuite()
  cijoe.close_transports()
  local failed = save(record, opts.quiet)
  print(string.format("%d passed, %d failed, %d skipped", runner.result.successCount, failed,
    runner.result.skippedCount))
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
