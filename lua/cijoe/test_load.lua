-- The tests of a joe test file, as LuaUnit runs them: functions and classes of methods
-- whose names start with test (or Test), each bound to the fixtures it names as
-- parameters (cijoe.fixtures), and parametrized tests: parametrize(cases, fn) runs fn once
-- per case, each its own test named after the case, test_read[bs=4k], as pytest's
-- parametrize names them. A case is a table of parameter values ({bs = "4k"}; `id` names
-- the case instead); fn's parameters take them by name, the others are fixtures.
local cijoe = require("cijoe")
local fixtures = require("cijoe.fixtures")

local test_load = {}
local Parametrized = {}

--- A parametrized test: fn once per case of cases (a list of tables of parameters).
function test_load.parametrize(cases, fn)
  if type(cases) ~= "table" or #cases == 0 then
    error("bad argument #1 to 'parametrize' (a list of cases expected)", 2)
  end
  for i, case in ipairs(cases) do
    if type(case) ~= "table" then
      error("bad argument #1 to 'parametrize' (case " .. i .. " is not a table)", 2)
    end
  end
  if type(fn) ~= "function" then
    error("bad argument #2 to 'parametrize' (function expected, got " .. type(fn) .. ")", 2)
  end
  return setmetatable({ cases = cases, fn = fn }, Parametrized)
end

-- The names of fn's parameters, less a first `self`, and whether it had one.
local function params_of(fn)
  local names = {}
  for i = 1, debug.getinfo(fn, "u").nparams do names[i] = debug.getlocal(fn, i) end
  if names[1] == "self" then
    table.remove(names, 1)
    return names, true
  end
  return names, false
end

-- A value as it shows in a case's name.
local function shown(v)
  if type(v) == "string" or type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return type(v)
end

-- The name of a case: its id, or its parameters in the order fn takes them, then the rest.
local function case_id(case, names, i)
  if case.id ~= nil then return tostring(case.id) end
  local parts, used = {}, {}
  for _, name in ipairs(names) do
    if case[name] ~= nil then
      parts[#parts + 1], used[name] = name .. "=" .. shown(case[name]), true
    end
  end
  local rest = {}
  for k in pairs(case) do if not used[k] then rest[#rest + 1] = tostring(k) end end
  table.sort(rest)
  for _, k in ipairs(rest) do parts[#parts + 1] = k .. "=" .. shown(case[k]) end
  return #parts > 0 and table.concat(parts, ",") or tostring(i)
end

-- fn with its fixtures (and case values) filled in as LuaUnit calls it; and the names of
-- the fixtures it needs, or nil and a message naming one that does not exist. A parameter
-- that any case of its test sets is a case value (nil in a case that does not set it).
local function bind(t, fn, case, case_keys)
  local names, method = params_of(fn)
  local needs = {}
  for _, name in ipairs(names) do
    if not (case_keys and case_keys[name]) then
      local spec, err = t.fx:spec(t.index, name)
      if not spec then
        return nil, err or ("no fixture called '" .. name .. "' (there are: " ..
          table.concat(t.fx:names(t.index), ", ") .. ")" ..
          (case_keys and ", and no case sets it" or ""))
      end
      needs[#needs + 1] = name
    end
  end
  if #names == 0 then return fn, needs end
  return function(self)
    local scoped = {}
    local _ <close> = setmetatable({}, { __close = function() fixtures.tear_down_test(scoped) end })
    local args = {}
    for i, name in ipairs(names) do
      if case_keys and case_keys[name] then
        args[i] = case[name]
      else
        args[i] = t.fx:value(t.index, name, scoped)
      end
    end
    if method then return fn(self, table.unpack(args, 1, #names)) end
    return fn(table.unpack(args, 1, #names))
  end, needs
end

-- Add one entry to the list: {name, instance, needs = fixtures, file = index}; a test that
-- cannot be bound becomes one that errors with the reason.
local function add(t, name, fn, case, class, case_keys)
  local bound, needs = bind(t, fn, case, case_keys)
  if not bound then
    local why = needs
    bound, needs = function() error(name .. ": " .. why, 0) end, {}
  end
  if class then
    class.table[name:sub(#class.name + 2)] = bound
    t.list[#t.list + 1] = { name, class.table, needs = needs, file = t.index }
  else
    t.list[#t.list + 1] = { name, bound, needs = needs, file = t.index }
  end
end

-- Add a test function, or each case of a parametrized one.
local function add_test(t, name, value, class)
  if getmetatable(value) ~= Parametrized then return add(t, name, value, nil, class) end
  local names, keys = params_of(value.fn), {}
  for _, case in ipairs(value.cases) do
    for k in pairs(case) do if k ~= "id" then keys[k] = true end end
  end
  for i, case in ipairs(value.cases) do
    add(t, name .. "[" .. case_id(case, names, i) .. "]", value.fn, case, class, keys)
  end
end

-- The names of t's keys that are tests, sorted.
local function test_names(tbl)
  local names = {}
  for name, value in pairs(tbl) do
    local is_class = type(value) == "table" and getmetatable(value) ~= Parametrized
    local kind = is_class and "class" or "test"
    if type(name) == "string" and name:match("^[Tt]est") and (type(value) == "function" or
        type(value) == "table") then
      names[#names + 1] = { name, kind }
    end
  end
  table.sort(names, function(a, b) return a[1] < b[1] end)
  return names
end

--- Load file ({path [, text]}, the index-th of the run) in an environment of its own, with
--- parametrize and fixture(name, spec) in it, and add its tests to list, bound to the
--- fixtures of manager fx; a file that does not load becomes a test that errors.
function test_load.add(file, index, list, fx)
  local env = setmetatable({ cijoe = cijoe, parametrize = test_load.parametrize,
    fixture = function(name, spec) fx:define(index, name, spec) end }, { __index = _G })
  package.path = (file.path:match("^(.*)/[^/]*$") or ".") .. "/?.lua;" .. package.path
  local chunk, err
  if file.text then
    chunk, err = load(file.text, "@" .. file.path, "t", env)
  else
    chunk, err = loadfile(file.path, "t", env)
  end
  local ok, msg = false, err
  if chunk then ok, msg = pcall(chunk) end
  local t = { list = list, index = index, fx = fx }
  if not ok then
    add(t, "test_load_" .. file.path:match("([^/]*)%.lua$"), function() error(msg, 0) end)
    return
  end
  for _, entry in ipairs(test_names(env)) do
    local name, value = entry[1], env[entry[1]]
    if entry[2] == "test" then
      add_test(t, name, value)
    else
      for _, m in ipairs(test_names(value)) do
        if m[2] == "test" then
          add_test(t, name .. "." .. m[1], value[m[1]], { name = name, table = value })
        end
      end
    end
  end
end

return test_load
