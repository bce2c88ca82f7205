-- A TOML 1.0 reader for CIJOE's configs: Debian ships no C TOML library (only C++ ones)
-- and no Lua module for it. toml.load(text, name) returns the document and its marks,
-- as cijoe.yaml.load does: marks[t][key] is "line:column" of the value t[key] (for an
-- array marks[t][i]; for a table made by a [header] or a dotted key, where its name is).
-- Columns count characters. Dates, date-times and times are returned as the strings
-- written (checked as Python's tomllib checks them). Integers must fit in 64 bits: TOML
-- says a reader must refuse what it cannot keep exactly (tomllib keeps big integers).
-- The scalars (strings, numbers, dates) and the positions are read by cijoe.toml_lex.
local toml = {}

local lex = require("cijoe.toml_lex")

local MAX_DEPTH = 200 -- arrays and inline tables nested deeper are refused
local BARE = "^[A-Za-z0-9_-]+"

-- A key part as TOML writes it: bare, or quoted with escapes.
local function quoted(part)
  if part:find(BARE .. "$") then return part end
  return '"' .. part:gsub('[\\"]', "\\%0"):gsub("%c", function(c)
    return string.format("\\u%04X", c:byte())
  end) .. '"'
end

-- A key path for messages: the first n parts after the prefix (a section's name).
local function key_name(parts, n, prefix)
  local out = { prefix }
  for i = 1, n or #parts do out[#out + 1] = quoted(parts[i]) end
  return table.concat(out, ".")
end

-- What a value is, for messages.
local function kind(p, v)
  if type(v) == "table" then
    return p.arrays[v] and "an array" or p.frozen[v] and "an inline table" or "a table"
  end
  local t = math.type(v) or type(v)
  return ({ integer = "an integer", float = "a float", boolean = "a boolean" })[t] or "a string"
end

-- Remember where t[k] was written.
local function mark(p, t, k, here)
  local m = p.marks[t]
  if not m then m = {}; p.marks[t] = m end
  m[k] = here
end

-- Arrays and inline tables end complete: nothing may add to them or their tables later.
local function freeze(p, v)
  if p.frozen[v] then return end
  p.frozen[v] = true
  for _, x in pairs(v) do
    if type(x) == "table" then freeze(p, x) end
  end
end

local value

-- An array opening at pos: values, commas (one may trail), newlines and comments.
local function array(p, open, depth, path)
  local arr, pos = {}, lex.skip_blank(p, open + 1)
  p.arrays[arr] = true
  while p.text:byte(pos) ~= 93 do
    if pos > #p.text then lex.fail(p, open, "the array opened here is not closed") end
    local here, c = lex.where(p, pos), p.text:byte(pos)
    local item = (c == 91 or c == 123) and path .. "[" .. #arr + 1 .. "]" -- for messages
    arr[#arr + 1], pos = value(p, pos, depth, item)
    mark(p, arr, #arr, here)
    pos = lex.skip_blank(p, pos)
    c = p.text:byte(pos)
    if c == 44 then
      pos = lex.skip_blank(p, pos + 1)
    elseif c == nil then
      lex.fail(p, open, "the array opened here is not closed")
    elseif c ~= 93 then
      lex.fail(p, pos, "expected ',' or ']' after a value of the array, found " .. lex.show(p, pos))
    end
  end
  freeze(p, arr)
  return arr, pos + 1
end

-- A key: dotted parts, each bare or quoted; returns the parts, where each part is, and
-- the position after the key.
local function key(p, pos)
  local parts, at = {}, {}
  while true do
    pos = lex.skip_ws(p, pos)
    at[#at + 1] = pos
    local c, _, e = p.text:sub(pos, pos), p.text:find(BARE, pos)
    if e then
      parts[#parts + 1], pos = p.text:sub(pos, e), e + 1
    elseif c == '"' or c == "'" then
      parts[#parts + 1], pos = (c == '"' and lex.basic_string or lex.literal_string)(p, pos, false)
    else
      local hint = c:find("^[\128-\255!$%%&()*+/:;<>?@^`|~]") and
        " (a key of other characters than A-Z a-z 0-9 _ - is quoted)" or ""
      lex.fail(p, pos, "expected a key, found " .. lex.show(p, pos) .. hint)
    end
    pos = lex.skip_ws(p, pos)
    if p.text:byte(pos) ~= 46 then return parts, at, pos end
    pos = pos + 1
  end
end

-- Why the value v at t[k] cannot hold more keys here.
local function closed(p, t, k, name, how)
  local v, first = t[k], " (" .. ((p.marks[t] or {})[k] or "?") .. ")"
  if type(v) ~= "table" or p.arrays[v] then
    return name .. " is already " .. kind(p, v) .. first .. ", not a table"
  elseif p.frozen[v] then
    return name .. " is an inline table" .. first .. "; TOML lets nothing add to it later"
  end
  return "table " .. name .. " is already defined" .. first .. "; " .. how
end

-- The table that the dotted parts before the last lead to from t, made where missing; a
-- table defined by a header, or by dotted keys of an earlier section, is closed to them.
local function dotted(p, t, parts, at, prefix)
  for i = 1, #parts - 1 do
    local k, child = parts[i], t[parts[i]]
    if child == nil then
      child = {}
      t[k] = child
      mark(p, t, k, lex.where(p, at[i]))
    elseif type(child) ~= "table" or p.arrays[child] or p.frozen[child] or p.explicit[child] then
      lex.fail(p, at[i], closed(p, t, k, key_name(parts, i, prefix),
        "a dotted key cannot add to it here"))
    end
    p.pending[#p.pending + 1] = child
    t = child
  end
  return t
end

-- key = value at pos, into table t; returns the position after the value.
local function pair(p, t, pos, depth, prefix)
  local parts, at
  parts, at, pos = key(p, pos)
  if p.text:byte(pos) ~= 61 then
    lex.fail(p, pos, "expected '=' after the key " .. key_name(parts, #parts, prefix) ..
      ", found " .. lex.show(p, pos))
  end
  local parent, last = dotted(p, t, parts, at, prefix), parts[#parts]
  if parent[last] ~= nil then
    lex.fail(p, at[#at], "the key " .. key_name(parts, #parts, prefix) ..
      " is defined twice (first at " .. ((p.marks[parent] or {})[last] or "?") .. ")")
  end
  pos = lex.skip_ws(p, pos + 1)
  local here, c = lex.where(p, pos), p.text:byte(pos)
  local path = (c == 91 or c == 123) and key_name(parts, #parts, prefix) -- for messages
  parent[last], pos = value(p, pos, depth, path)
  mark(p, parent, last, here)
  return pos
end

-- An inline table opening at pos: key = value pairs on one line, commas between them.
local function inline_table(p, open, depth, path)
  local t, pos = {}, lex.skip_ws(p, open + 1)
  if p.text:byte(pos) ~= 125 then
    while true do
      pos = lex.skip_ws(p, pair(p, t, pos, depth, path))
      local c = p.text:byte(pos)
      if c == 125 then break end
      if c ~= 44 then
        lex.fail(p, pos, "expected ',' or '}' after a value of the inline table, found " ..
          lex.show(p, pos) .. " (an inline table is on one line)")
      end
      pos = lex.skip_ws(p, pos + 1)
      if p.text:byte(pos) == 125 then lex.fail(p, pos, "TOML allows no comma before '}'") end
    end
  end
  freeze(p, t)
  return t, pos + 1
end

-- The value at pos; returns it and the position after it.
function value(p, pos, depth, path)
  local c = p.text:sub(pos, pos)
  if (c == "[" or c == "{") and depth >= MAX_DEPTH then
    lex.fail(p, pos, "arrays and inline tables nest deeper than " .. MAX_DEPTH .. " levels")
  end
  if c == "[" then return array(p, pos, depth + 1, path) end
  if c == "{" then return inline_table(p, pos, depth + 1, path) end
  local v, e = lex.scalar(p, pos)
  if e then return v, e end
  lex.fail(p, pos, "expected a value, found " .. lex.show(p, pos))
end

-- The last part of a [header]: a table defined once (it may have been made on the way
-- to another), or a new table appended to the array of tables of an [[header]].
local function header_table(p, t, parts, at, double)
  local k, n = parts[#parts], #parts
  local v = t[k]
  if v == nil then
    v = {}
    p.arrays[v] = double or nil
    t[k] = v
    mark(p, t, k, lex.where(p, at[n]))
  elseif double and not (p.arrays[v] and not p.frozen[v]) then
    lex.fail(p, at[n], key_name(parts) .. " is already " .. kind(p, v) .. " (" .. p.marks[t][k] ..
      "); [[" .. key_name(parts) .. "]] appends to an array of tables")
  elseif not double and (type(v) ~= "table" or p.frozen[v] or p.arrays[v] or p.explicit[v]) then
    lex.fail(p, at[n], closed(p, t, k, key_name(parts), "a [header] cannot define it again"))
  end
  p.explicit[v] = true
  if not double then return v end
  local item = {}
  v[#v + 1] = item
  mark(p, v, #v, lex.where(p, at[n]))
  return item
end

-- A [table] or [[array of tables]] header at pos; returns the table that the lines below
-- it fill, and the position after its line.
local function header(p, pos)
  for _, t in ipairs(p.pending) do p.explicit[t] = true end
  p.pending = {}
  local double = p.text:find("^%[%[", pos) ~= nil
  local parts, at
  parts, at, pos = key(p, pos + (double and 2 or 1))
  p.section = key_name(parts)
  local close = double and "]]" or "]"
  if p.text:sub(pos, pos + #close - 1) ~= close then
    lex.fail(p, pos, "expected '" .. close .. "' to end the header, found " .. lex.show(p, pos))
  end
  local t = p.root
  for i = 1, #parts - 1 do
    local child = t[parts[i]]
    if child == nil then
      child = {}
      t[parts[i]] = child
      mark(p, t, parts[i], lex.where(p, at[i]))
    elseif type(child) ~= "table" or p.frozen[child] then
      lex.fail(p, at[i], closed(p, t, parts[i], key_name(parts, i), ""))
    end
    t = p.arrays[child] and child[#child] or child
  end
  return header_table(p, t, parts, at, double), lex.end_line(p, pos + #close, "the header")
end

-- The statements of the document, line by line.
local function document(p)
  local pos, section = 1, p.root
  while true do
    pos = lex.skip_ws(p, pos)
    local c = p.text:byte(pos)
    if c == nil then return end
    if c == 10 then
      pos = pos + 1
    elseif c == 35 then
      pos = lex.skip_comment(p, pos + 1)
    elseif c == 91 then
      section, pos = header(p, pos)
    else
      pos = lex.end_line(p, pair(p, section, pos, 0, p.section), "the value")
    end
  end
end

--- Read a TOML document (name is used in messages, default "<string>"). Returns the
--- document as a table and its marks (marks[t][key] = "line:column" of t[key]), or nil
--- and "name:line:column: problem".
function toml.load(text, name)
  if type(text) ~= "string" then
    error("bad argument #1 to 'load' (string expected, got " .. type(text) .. ")", 2)
  end
  text = text:gsub("\r\n", "\n")
  local p = { text = text, name = name or "<string>", root = {}, marks = {}, arrays = {},
    frozen = {}, explicit = {}, pending = {}, at = 1, line = 1, col = 1 }
  local ok, err = pcall(function()
    local valid, bad = utf8.len(text)
    if not valid then lex.fail(p, bad, "the text is not valid UTF-8 (TOML files are UTF-8)") end
    document(p)
  end)
  if ok then return p.root, p.marks end
  if type(err) == "table" and err.toml_error then return nil, err.toml_error end
  error(err, 0)
end

return toml
