-- The YAML files a run leaves (workflow.state, cmd_NN.state, tests.yaml) as record.lua
-- reads them, and the check of a workflow.state joe did not write: an older joe's, or
-- one edited by hand, whose wrong field is named with its line and column.
local yaml = require("cijoe.yaml")

local run_files = {}

--- A YAML file as a table; {} when it is missing, empty or torn; and its marks (where
--- each key of each table is written, "line:column").
function run_files.load(path)
  local f = io.open(path, "rb")
  local value, marks
  if f then value, marks = yaml.load(f:read("a"), path) end
  if f then f:close() end
  if type(value) ~= "table" then return {}, {} end
  return value, marks or {}
end

-- What is wrong with a workflow.state, if anything: "path:line:column: the field must
-- be what".
local function malformed(path, state, marks)
  local function at(t, key, text)
    return path .. ":" .. ((marks[t] or {})[key] or "1:1") .. ": " .. text
  end
  if state.steps ~= nil and type(state.steps) ~= "table" then
    return at(state, "steps", "steps must be a list")
  end
  for i, s in ipairs(state.steps or {}) do
    if type(s) ~= "table" then
      return at(state, "steps", ("steps[%d] must be a mapping"):format(i))
    end
    for key, kind in pairs({ number = "number", name = "string", status = "string" }) do
      if s[key] ~= nil and type(s[key]) ~= kind then
        return at(s, key, ("steps[%d].%s must be a %s, not %s"):format(i, key, kind, type(s[key])))
      end
    end
  end
  for _, key in ipairs({ "name", "status" }) do
    if state[key] ~= nil and type(state[key]) ~= "string" then
      return at(state, key, key .. " must be a string")
    end
  end
end

--- Check the workflow.state at path: what is wrong with it ("path:line:column: ...") or
--- nil, and the state ({} when there is none).
function run_files.check(path)
  local state, marks = run_files.load(path)
  return malformed(path, state, marks), state
end

return run_files
