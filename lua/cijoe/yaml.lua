-- YAML for joe. Reading is libyaml's, through src/yaml.c (positions of every value, the
-- alias-bomb bound); writing is here: block YAML for the state files and configs, and a
-- one-line flow form for the journal. What is written reads back as the same value.
local libyaml = require("cijoe.libyaml")

local yaml = {}

--- Parse one YAML document: yaml.load(text [, name [, marks]]) -> value, marks, or nil
--- and "name:line:column: problem". marks[t][key] is the "line:column" of t[key]; with
--- marks false there are none (the journal, read a line at a time, has no use for them).
yaml.load = libyaml.load

local MAX_DEPTH = 200

-- Words that a plain scalar would resolve to something other than a string (YAML 1.1,
-- as the loader resolves them).
local SPECIAL = {}
for word in ([[~ null Null NULL true True TRUE yes Yes YES on On ON false False FALSE
  no No NO off Off OFF .inf .Inf .INF -.inf -.Inf -.INF +.inf +.Inf +.INF
  .nan .NaN .NAN]]):gmatch("%S+") do SPECIAL[word] = true end

-- True when s can be written without quotes and loads back as the same string.
local function plain_safe(s)
  if s == "" or SPECIAL[s] or tonumber(s) then return false end
  if not s:find("^[%w_./][%w_./ +:,=@-]*$") then return false end
  return not (s:find("[ :]$") or s:find(": ", 1, true) or s:find(" #", 1, true)
    or s:sub(1, 3) == "...") -- at the start of a line, "..." ends the document
end

-- s with every byte that is not part of valid UTF-8 replaced by U+FFFD.
local function valid_utf8(s)
  local out, i = {}, 1
  while true do
    local n, bad = utf8.len(s, i)
    if n then break end
    out[#out + 1] = s:sub(i, bad - 1) .. "\239\191\189"
    i = bad + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n" }

-- A character YAML may not hold raw in a double-quoted string, as an escape.
local function escape(c)
  return ESCAPES[c] or string.format("\\u%04x", utf8.codepoint(c))
end

--- A string in double quotes, as YAML and JSON both read it: control characters escaped,
--- bytes that are not UTF-8 replaced by U+FFFD.
function yaml.quote(s)
  if not utf8.len(s) then s = valid_utf8(s) end
  s = s:gsub('[%c"\\\127]', escape):gsub("\194[\128-\159]", escape)
    :gsub("\239\191[\190\191]", escape)
  return '"' .. s .. '"'
end

-- A number as YAML writes it: floats with the digits that read back the same, and the
-- YAML 1.1 names of the infinities and NaN.
local function number(x)
  if math.type(x) == "integer" then return tostring(x) end
  if x ~= x then return ".nan" end
  if x == math.huge or x == -math.huge then return x > 0 and ".inf" or "-.inf" end
  local text = string.format("%.14g", x)
  if tonumber(text) ~= x then text = string.format("%.17g", x) end
  if not text:find("[.e]") then text = text .. ".0" end -- still a float when read back
  return text
end

-- A scalar in block or flow YAML; quote forces quotes on strings (flow, for JSON).
local function scalar(v, quote)
  local kind = type(v)
  if kind == "string" then return (not quote and plain_safe(v)) and v or yaml.quote(v) end
  if kind == "number" then return number(v) end
  if kind == "boolean" then return tostring(v) end
  error("yaml.dump: cannot write a " .. kind, 0)
end

-- True for a non-empty table whose keys are exactly 1..#t (a list with holes is not one).
local function is_sequence(t)
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

-- The keys of a mapping, sorted by their text so that files compare.
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local block

-- A mapping's lines at depth; with inline_first the first pair follows "- ".
local function block_mapping(out, t, depth, inline_first)
  local pad = string.rep("  ", depth)
  for i, k in ipairs(sorted_keys(t)) do
    if i > 1 or not inline_first then out[#out + 1] = (#out > 0 and "\n" or "") .. pad end
    out[#out + 1] = scalar(k) .. ":"
    block(out, t[k], depth + 1)
  end
end

-- The value v written after "key:" or "-" (or at the top, depth 0).
function block(out, v, depth, after_dash)
  if depth > MAX_DEPTH then error("yaml.dump: nesting too deep (a cycle?)", 0) end
  local lead = #out > 0 and " " or ""
  if type(v) ~= "table" then out[#out + 1] = lead .. scalar(v) return end
  if next(v) == nil then out[#out + 1] = lead .. "{}" return end
  if not is_sequence(v) then
    if after_dash then out[#out + 1] = " " end
    return block_mapping(out, v, depth, after_dash)
  end
  local pad = string.rep("  ", depth)
  for i = 1, #v do
    out[#out + 1] = (#out > 0 and "\n" or "") .. pad .. "-"
    block(out, v[i], depth + 1, true)
  end
end

--- The YAML text of a value made of tables, strings, numbers and booleans (block style,
--- keys sorted).
function yaml.dump(value)
  local out = {}
  block(out, value, 0)
  out[#out + 1] = "\n"
  return table.concat(out)
end

-- The flow form of v: strings always quoted, so it is JSON too where numbers are finite.
local function flow(v, depth)
  if depth > MAX_DEPTH then error("yaml.dump: nesting too deep (a cycle?)", 0) end
  if type(v) ~= "table" then return scalar(v, true) end
  local parts = {}
  if is_sequence(v) then
    for i = 1, #v do parts[i] = flow(v[i], depth + 1) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  for i, k in ipairs(sorted_keys(v)) do
    parts[i] = scalar(k, true) .. ": " .. flow(v[k], depth + 1)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- A value as one line of flow YAML (no newline in it): a record of the run's journal.
function yaml.line(value)
  return flow(value, 0)
end

--- Write a value as a YAML file. Returns true, or nil and "path: why".
function yaml.write(path, value)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(yaml.dump(value))
  local closed, cerr = f:close()
  if ok and closed then return true end
  return nil, path .. ": " .. tostring(werr or cerr)
end

return yaml
