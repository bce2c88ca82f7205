-- joe test: LuaUnit test files run with cijoe bound to the config. Each test is a step
-- of the run, so its commands are logged under a folder of its own.
local lu = require("luaunit")
local cijoe = require("cijoe")
local fs = require("cijoe.fs")
local output = require("cijoe.output")

local test = {}

-- The test files an argument stands for: itself, or the test_*.lua of a folder.
local function test_files(path, files)
  local st = fs.stat(path)
  if not st then return nil, path .. ": no such file or directory" end
  if st.type ~= "directory" then
    files[#files + 1] = path
    return files
  end
  for _, name in ipairs(fs.dir(path)) do
    if name:match("^test_.*%.lua$") then files[#files + 1] = path .. "/" .. name end
  end
  return files
end

-- Load one file in an environment of its own and add its tests ({name, test}) to list; a
-- file that does not load becomes a test that errors.
local function add_tests(file, list)
  local env = setmetatable({ cijoe = cijoe }, { __index = _G })
  local dir = file:match("^(.*)/[^/]*$") or "."
  package.path = dir .. "/?.lua;" .. package.path
  local chunk, err = loadfile(file, "t", env)
  local ok = chunk and pcall(chunk)
  if not ok then
    local msg = err or select(2, pcall(chunk))
    list[#list + 1] = { "test_load_" .. file:match("([^/]*)%.lua$"), function() error(msg, 0) end }
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

--- joe test [-k pattern] [file_or_dir ...]: run the tests, print the summary line
--- "N passed, N failed, N skipped" last, and return nonzero when any failed.
function test.main(opts, args)
  local files = {}
  for _, path in ipairs(#args > 0 and args or { "." }) do
    local ok, err = test_files(path, files)
    if not ok then return require("cijoe.cli").die(err, 2) end
  end
  local started, status = require("cijoe.cli").start(opts, "test")
  if not started then return status end
  local list = {}
  for _, file in ipairs(files) do add_tests(file, list) end
  local runner = lu.LuaUnit.new()
  local start_test = runner.startTest
  function runner.startTest(self, name)
    output.begin_step(name)
    return start_test(self, name)
  end
  runner:setOutputType("text")
  runner.verbosity = lu.VERBOSITY_VERBOSE
  runner.patternIncludeFilter = opts.pattern and { opts.pattern }
  runner:registerSuite() -- runSuiteByInstances would parse joe's own arg table
  runner:internalRunSuiteByInstances(list)
  runner:unregisterSuite()
  cijoe.close_transports()
  local r = runner.result
  local failed = r.failureCount + r.errorCount
  print(string.format("%d passed, %d failed, %d skipped", r.successCount, failed, r.skippedCount))
  return failed > 0 and 1 or 0
end

return test
