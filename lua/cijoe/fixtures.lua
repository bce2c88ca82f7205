-- Fixtures of joe test, as pytest has them: a test asks for one by naming it as a
-- parameter (`function test_read(guest, fio)`), and gets what its setup returned. A
-- fixture is a table {scope = "test" | "file" | "run", setup = function(cijoe) return
-- value (or nil, message) end, teardown = function(value, cijoe) end}: packages provide
-- them as <pkg>/fixtures/<name>.lua, a test file may define its own with fixture(name,
-- spec). A test-scope fixture is set up in the test's own step and torn down when the
-- test ends, passed or not; a file or run fixture is set up once, as a step of its own
-- ("fixture NAME"), before the first test that needs it, and torn down as a step too
-- after the last test of its file (or of the run) ends, whatever became of the tests.
local cijoe = require("cijoe")
local fs = require("cijoe.fs")
local packages = require("cijoe.packages")
local runner = require("cijoe.runner")

local fixtures = {}
local Manager = {}
Manager.__index = Manager
local SCOPES = { test = true, file = true, run = true }

-- A spec checked: nil and a message for one joe cannot use.
local function checked(spec, origin)
  if type(spec) ~= "table" or type(spec.setup) ~= "function" then
    return nil, origin .. ": a fixture is a table with a setup function"
  end
  spec.scope = spec.scope or "test"
  if not SCOPES[spec.scope] then
    return nil, origin .. ": scope must be test, file or run, not " .. tostring(spec.scope)
  end
  return spec
end

-- The fixtures the packages provide, name -> {rel = pkg/fixtures/name.lua}; a package
-- found first wins, as with worklets.
local function package_fixtures()
  local found = {}
  for pkg, info in pairs(packages.list()) do
    local files = info.files
    if not info.builtin then -- packages.list reads a user package's top and worklets only
      files = {}
      for _, f in ipairs(fs.dir(info.dir .. "/fixtures") or {}) do
        files["fixtures/" .. f] = true
      end
    end
    for file in pairs(files) do
      local name = file:match("^fixtures/([%w_]+)%.lua$")
      if name and not found[name] then found[name] = { rel = pkg .. "/" .. file } end
    end
  end
  return found
end

--- A fixture manager for run r: count(n) numbers the steps it adds, results is the list of
--- tests.yaml entries it adds a failed teardown to.
function fixtures.new(r, count, results)
  return setmetatable({ r = r, count = count, results = results, local_specs = {},
    known = package_fixtures(), live = { file = {}, run = {} } }, Manager)
end

--- Define fixture name for the tests of file (a test file's own fixture(name, spec)).
function Manager:define(file, name, spec)
  local ok, err = checked(spec, "fixture '" .. tostring(name) .. "'")
  if not ok then error(err, 3) end
  self.local_specs[file] = self.local_specs[file] or {}
  self.local_specs[file][name] = spec
end

--- The spec of fixture name for a test of file, or nil and a message naming those there are.
function Manager:spec(file, name)
  local own = (self.local_specs[file] or {})[name]
  if own then return own end
  local known = self.known[name]
  if not known then return nil end
  if known.spec == nil then
    local text, origin = packages.read(known.rel)
    local chunk, err = load(text, "@" .. origin, "t")
    local ok, spec = false, nil
    if chunk then ok, spec = pcall(chunk) end
    known.spec, known.err = checked(ok and spec, origin)
    if not chunk or not ok then known.err = origin .. ": " .. tostring(chunk and spec or err) end
    known.spec = known.spec or false
  end
  return known.spec or nil, known.err
end

--- The names of the fixtures a test of file can ask for, sorted, for messages.
function Manager:names(file)
  local names = {}
  for name in pairs(self.known) do names[#names + 1] = name end
  for name in pairs(self.local_specs[file] or {}) do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- Run fn as a step called name; returns the step's result. Left out of the records when
-- it passed and logged nothing. A teardown that fails is an error among the tests (as
-- pytest counts one); a setup that fails is the error of each test that needs it.
function Manager:step(name, fn, teardown)
  local res = runner.step(self.r, { number = self.count() + 1, name = name, fn = fn,
    optional = function() return true end })
  if not res.dropped then self.count(1) end
  if teardown and res.status == "failed" then
    self.results[#self.results + 1] = { name = name, status = "error",
      elapsed = res.elapsed, message = res.error }
  end
  return res
end

-- The live instances of a scope for a test of file.
function Manager:instances(scope, file)
  if scope == "run" then return self.live.run end
  self.live.file[file] = self.live.file[file] or {}
  return self.live.file[file]
end

-- Set up one fixture: its value, or nil and why not.
local function set_up(spec)
  local value, msg = spec.setup(cijoe)
  if value == nil then return nil, msg or "its setup returned nothing" end
  return value
end

--- Set up, each as a step, the file and run fixtures of names a test of file needs that
--- are not up yet (before the test's own step begins).
function Manager:prepare(file, names)
  for _, name in ipairs(names) do
    local spec = self:spec(file, name)
    local live = spec and spec.scope ~= "test" and self:instances(spec.scope, file)
    if live and not live[name] then
      local inst = { spec = spec }
      live[name], live[#live + 1] = inst, name
      local res = self:step("fixture " .. name, function()
        local value, msg = set_up(spec)
        inst.value, inst.failed = value, value == nil and (msg or "failed") or nil
        if value == nil then return false, msg end
      end)
      if res.status ~= "passed" then inst.failed = inst.failed or res.error or res.status end
    end
  end
end

--- The value of fixture name for a test of file: a live one, or (scope test) one set up
--- now and added to test_scoped for teardown. Raises when it could not be set up.
function Manager:value(file, name, test_scoped)
  local spec, err = self:spec(file, name)
  if not spec then error("fixture '" .. name .. "': " .. tostring(err), 0) end
  if spec.scope == "test" then
    local value, msg = set_up(spec)
    if value == nil then error("fixture '" .. name .. "' could not be set up: " .. msg, 0) end
    test_scoped[#test_scoped + 1] = { spec = spec, value = value }
    return value
  end
  local inst = self:instances(spec.scope, file)[name]
  if not inst or inst.failed then
    error("fixture '" .. name .. "' could not be set up: " ..
      tostring(inst and inst.failed or "not prepared"), 0)
  end
  return inst.value
end

--- Tear down test-scope fixtures (in the test's step, last set up first); the first
--- teardown error is raised after all ran.
function fixtures.tear_down_test(test_scoped)
  local first
  for i = #test_scoped, 1, -1 do
    local f = test_scoped[i]
    if f.spec.teardown then
      local ok, err = pcall(f.spec.teardown, f.value, cijoe)
      first = first or (not ok and err) or nil
    end
  end
  if first then error(first, 0) end
end

-- Tear down the live fixtures of one scope instance, last set up first, each a step.
function Manager:tear_down(live)
  for i = #live, 1, -1 do
    local name = live[i]
    local inst = live[name]
    if inst.value ~= nil and inst.spec.teardown then
      self:step("fixture " .. name .. " (teardown)", function()
        return inst.spec.teardown(inst.value, cijoe)
      end, true)
    end
    live[name], live[i] = nil, nil
  end
end

--- The tests of file are done: tear its file fixtures down.
function Manager:finish_file(file)
  if self.live.file[file] then self:tear_down(self.live.file[file]) end
end

--- The run's tests are done: tear down what is left, the run fixtures last.
function Manager:finish()
  for file in pairs(self.live.file) do self:finish_file(file) end
  self:tear_down(self.live.run)
end

return fixtures
