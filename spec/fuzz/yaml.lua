-- yaml.load never raises and fails with "name:line:column: problem"; what it loads,
-- dumped with yaml.dump, loads again to an equal value; without marks it loads the same
-- value, or fails at the same place.
local yaml = require("cijoe.yaml")
local same = dofile(JOE_ROOT .. "/spec/fuzz/same.lua")

-- Dumps bigger than this (aliases expand when written) are not reloaded: the property is
-- about what is written, not about how much memory a fuzz run may take.
local MAX_DUMP = 1 << 20

return function(data)
  local value, marks = yaml.load(data, "fuzz.yaml")
  local plain, plain_err = yaml.load(data, "fuzz.yaml", false)
  if type(marks) == "string" then
    assert(value == nil and marks:match("^fuzz%.yaml:%d+:%d+: %S"), "bad error: " .. marks)
    local place = marks:match("^fuzz%.yaml:%d+:%d+:")
    assert(plain == nil and tostring(plain_err):sub(1, #place) == place,
      "without marks: " .. tostring(plain_err) .. "\nwith marks: " .. marks)
    return
  end
  assert(type(marks) == "table", "no marks")
  assert(plain_err == nil and same(value, plain), "without marks, another value or an error: "
    .. tostring(plain_err))
  if value == nil then return end
  local text = yaml.dump(value)
  if #text > MAX_DUMP then return end
  local back, err = yaml.load(text, "dump.yaml")
  assert(err == nil or type(err) == "table", "the dump does not load: " .. tostring(err) .. "\n" .. text)
  assert(same(value, back), "the dump loads to another value:\n" .. text)
end
