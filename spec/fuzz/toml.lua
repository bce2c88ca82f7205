-- toml.load never raises; a refusal is "name:line:column: problem" at a place inside the
-- text; a loaded document has a mark for every value; and the value, written back as TOML
-- (inline tables, quoted keys, every string escaped), loads again to an equal value. As a
-- config (cijoe.cijoe_toml: rendered, mapped, checked), it never raises, and its error and
-- each warning name fuzz.toml with a line and column inside the text.
local toml = require("cijoe.toml")
local config = require("cijoe.config")
local same = dofile(JOE_ROOT .. "/spec/fuzz/same.lua")

-- The lines of the text, as the loader counts them (CR LF is one line end).
local function lines(text)
  local out = {}
  for line in (text:gsub("\r\n", "\n") .. "\n"):gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

-- A "line:column" mark or message position names a place inside the text.
local function check_position(text_lines, what, line, col)
  line, col = tonumber(line), tonumber(col)
  assert(line and line >= 1 and line <= #text_lines, what .. ": line outside the text")
  assert(col >= 1 and col <= #text_lines[line] + 1, what .. ": column outside line " .. line)
end

-- Every value of every table and array has a mark inside the text; returns the depth.
local function check_marks(v, marks, text_lines, seen)
  if seen[v] then return 0 end
  seen[v] = true
  local depth = 0
  for k, x in pairs(v) do
    local m = assert(marks[v] and marks[v][k], "no mark for " .. tostring(k))
    check_position(text_lines, "mark of " .. tostring(k), m:match("^(%d+):(%d+)$"))
    if type(x) == "table" then depth = math.max(depth, check_marks(x, marks, text_lines, seen)) end
  end
  return depth + 1
end

-- A string as a TOML basic string, every control character, quote and backslash escaped.
local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return string.format("\\u%04X", c:byte())
  end) .. '"'
end

-- A value as TOML: floats with every digit, tables inline, arrays by their first item.
local function emit(v)
  if type(v) == "string" then return str(v) end
  if math.type(v) == "integer" or type(v) == "boolean" then return tostring(v) end
  if type(v) == "number" then
    if v ~= v then return "nan" end
    if v == math.huge or v == -math.huge then return v > 0 and "inf" or "-inf" end
    local s = string.format("%.17g", v)
    return s:find("[.e]") and s or s .. ".0"
  end
  local out = {}
  if v[1] ~= nil then
    for i, x in ipairs(v) do out[i] = emit(x) end
    return "[" .. table.concat(out, ", ") .. "]"
  end
  for k, x in pairs(v) do out[#out + 1] = str(k) .. " = " .. emit(x) end
  return "{" .. table.concat(out, ", ") .. "}"
end

-- The whole document: one key = value line per key of the root.
local function emit_document(doc)
  local out = {}
  for k, v in pairs(doc) do out[#out + 1] = str(k) .. " = " .. emit(v) .. "\n" end
  return table.concat(out)
end

return function(data)
  local doc, marks = toml.load(data, "fuzz.toml")
  local text_lines = lines(data)
  if doc == nil then
    assert(type(marks) == "string", "no message")
    local line, col = marks:match("^fuzz%.toml:(%d+):(%d+): %S")
    assert(line, "bad message: " .. marks)
    check_position(text_lines, marks, line, col)
    return
  end
  local depth = check_marks(doc, marks, text_lines, {})
  if depth > 200 then return end -- headers nest deeper than inline tables may
  local text = emit_document(doc)
  local back, err = toml.load(text, "emitted.toml")
  assert(back, "the written document does not load: " .. tostring(err) .. "\n" .. text)
  assert(same(doc, back), "the written document loads to another value:\n" .. text)
  check_marks(back, err, lines(text), {})
  local warnings = {}
  config.warn = function(w) warnings[#warnings + 1] = w end
  local conf, cerr = config.load({ { file = "fuzz.toml", text = data } })
  for _, w in ipairs(conf and warnings or { cerr }) do
    local line, col = tostring(w):match("^fuzz%.toml:(%d+):(%d+): %S")
    assert(line, "config message without fuzz.toml:line:column: " .. tostring(w))
    check_position(text_lines, w, line, col)
  end
end
