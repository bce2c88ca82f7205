-- The lexical half of cijoe.toml: positions and messages, and the scalars of TOML 1.0
-- (strings with their escapes, integers, floats, booleans, dates), checked as Python's
-- tomllib checks them. The state p is cijoe.toml's: text, name and the position cache.
local lex = {}

local CTRL = "[\0-\8\10-\31\127]" -- tab is the one control character TOML allows
local ESCAPES = { b = "\b", t = "\t", n = "\n", f = "\f", r = "\r", ['"'] = '"', ["\\"] = "\\" }
local RADIX = { x = { 16, "^%x[%x_]*$" }, o = { 8, "^[0-7][0-7_]*$" }, b = { 2, "^[01][01_]*$" } }
local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local RANGE = "the integer does not fit in 64 bits (-9223372036854775808 to 9223372036854775807)"

--- "line:column" of byte pos. Values come in order, so the count goes on from the last
--- position asked for (and from the next newline found), not from the start each time.
function lex.where(p, pos)
  if pos < p.at then p.at, p.line, p.col, p.nl = 1, 1, 1, nil end
  p.nl = p.nl or p.text:find("\n", p.at, true) or math.huge
  while p.nl < pos do
    p.at, p.line, p.col = p.nl + 1, p.line + 1, 1
    p.nl = p.text:find("\n", p.at, true) or math.huge
  end
  p.col = p.col + (utf8.len(p.text, p.at, pos - 1) or 0)
  p.at = pos
  return p.line .. ":" .. p.col
end

--- Stop loading with "name:line:column: problem" (a table error cijoe.toml.load returns).
function lex.fail(p, pos, problem)
  error({ toml_error = p.name .. ":" .. lex.where(p, pos) .. ": " .. problem }, 0)
end

--- The character at pos as a message shows it.
function lex.show(p, pos)
  local c = p.text:match(utf8.charpattern, pos)
  if c == nil then return "the end of the document" end
  if c == "\n" then return "the end of the line" end
  if c:find("^%c") then return string.format("the control character U+%04X", c:byte()) end
  if #c > 1 then return string.format("'%s' (U+%04X)", c, utf8.codepoint(c)) end
  return "'" .. c .. "'"
end

--- The position after the spaces and tabs at pos.
function lex.skip_ws(p, pos)
  local _, e = p.text:find("^[ \t]*", pos)
  return e and e + 1 or pos
end

--- After a '#': a comment holds no control character but tab; returns where its line
--- ends.
function lex.skip_comment(p, pos)
  local at = p.text:find(CTRL, pos)
  if at and p.text:byte(at) ~= 10 then lex.fail(p, at, lex.show(p, at) .. " in a comment") end
  return at or #p.text + 1
end

--- Spaces, newlines and comments, as arrays allow between their values.
function lex.skip_blank(p, pos)
  while true do
    local _, e = p.text:find("^[ \t\n]*", pos)
    if p.text:byte(e + 1) ~= 35 then return e + 1 end
    pos = lex.skip_comment(p, e + 2)
  end
end

--- The rest of a line after a statement: spaces and a comment only; returns the
--- position of the next line.
function lex.end_line(p, pos, what)
  pos = lex.skip_ws(p, pos)
  if p.text:byte(pos) == 35 then pos = lex.skip_comment(p, pos + 1) end
  if pos <= #p.text and p.text:byte(pos) ~= 10 then
    lex.fail(p, pos, "expected the end of the line after " .. what .. ", found " ..
      lex.show(p, pos))
  end
  return pos + 1
end

-- The escape at pos (a backslash); returns its text and the position after it.
local function escape(p, pos, multiline)
  local c = p.text:sub(pos + 1, pos + 1)
  if ESCAPES[c] then return ESCAPES[c], pos + 2 end
  if c == "u" or c == "U" then
    local n = c == "u" and 4 or 8
    local hex = p.text:match("^" .. ("%x"):rep(n), pos + 2)
    if not hex then lex.fail(p, pos, "\\" .. c .. " needs " .. n .. " hexadecimal digits") end
    local code = tonumber(hex, 16)
    if code > 0x10FFFF or (code >= 0xD800 and code <= 0xDFFF) then
      lex.fail(p, pos, "\\" .. c .. hex .. " is not a Unicode scalar value")
    end
    return utf8.char(code), pos + 2 + n
  end
  local _, e = p.text:find("^[ \t]*\n[ \t\n]*", pos + 1)
  if multiline and e then return "", e + 1 end
  lex.fail(p, pos, "unknown escape '\\" .. (p.text:match(utf8.charpattern, pos + 1) or "") ..
    "' (a backslash itself is written \\\\)")
end

-- A control character where a string cannot hold it.
local function bad_char(p, pos, multiline)
  if p.text:byte(pos) == 10 and not multiline then
    lex.fail(p, pos, 'the string is not closed on its line (a newline is written \\n; """ opens ' ..
      "a multi-line string)")
  end
  lex.fail(p, pos, lex.show(p, pos) .. " in a string (write it as \\u" ..
    string.format("%04X", p.text:byte(pos)) .. ")")
end

--- A "basic" or """multi-line basic""" string opening at pos; returns it and the position
--- after it. Up to two quotes right before the closing """ belong to the string.
function lex.basic_string(p, open, multiline)
  local text, parts = p.text, {}
  local stop = multiline and '["\\\0-\8\11-\31\127]' or '["\\\0-\8\10-\31\127]'
  local pos = open + (multiline and 3 or 1)
  if multiline and text:byte(pos) == 10 then pos = pos + 1 end
  while true do
    local at = text:find(stop, pos)
    if not at then lex.fail(p, open, "the string opened here is not closed") end
    parts[#parts + 1] = text:sub(pos, at - 1)
    local c = text:byte(at)
    if c == 92 then
      parts[#parts + 1], pos = escape(p, at, multiline)
    elseif c ~= 34 then
      bad_char(p, at, multiline)
    elseif not multiline or text:find('^"""', at) then
      local e = multiline and text:match('^"?"?()', at + 3) or at + 1
      return table.concat(parts) .. text:sub(at + 3, e - 1), e
    else
      parts[#parts + 1], pos = '"', at + 1
    end
  end
end

--- A 'literal' or '''multi-line literal''' string opening at pos (no escapes); returns
--- it and the position after it.
function lex.literal_string(p, open, multiline)
  local text = p.text
  if not multiline then
    local at = text:find("['\0-\8\10-\31\127]", open + 1)
    if not at then lex.fail(p, open, "the string opened here is not closed") end
    if text:byte(at) ~= 39 then bad_char(p, at, false) end
    return text:sub(open + 1, at - 1), at + 1
  end
  local first = open + 3
  if text:byte(first) == 10 then first = first + 1 end
  local close = text:find("'''", first, true)
  if not close then lex.fail(p, open, "the string opened here is not closed") end
  local body = text:sub(first, close - 1)
  local bad = body:find("[\0-\8\11-\31\127]")
  if bad then bad_char(p, first + bad - 1, true) end
  local e = text:match("^'?'?()", close + 3)
  return body .. text:sub(close + 3, e - 1), e
end

-- Digits with single underscores between them.
local function digits_ok(s, pattern)
  return s ~= nil and s:find(pattern or "^%d[%d_]*$") and not s:find("__") and not s:find("_$")
end

-- 0x, 0o and 0b integers; nil and why when the digits are bad or the value too big.
local function radix_integer(prefix, digits)
  local base, pattern = RADIX[prefix][1], RADIX[prefix][2]
  if not digits_ok(digits, pattern) then return nil end
  local v = 0
  for ch in digits:gmatch("%x") do
    local d = tonumber(ch, 16)
    if v > (math.maxinteger - d) // base then return nil, RANGE end
    v = v * base + d
  end
  return v
end

-- The number a token spells: an integer, a float (inf and nan too), or nil and why.
local function number_value(tok)
  if tok:find("^[+-]?[1-9]%d?%d?%d?%d?%d?%d?%d?%d?%d?$") or tok == "0" then
    return math.tointeger(tonumber(tok)) -- the common case, short enough to fit
  end
  local sign, body = tok:match("^([+-]?)(.*)$")
  if body == "inf" then return sign == "-" and -math.huge or math.huge end
  if body == "nan" then return 0 / 0 end
  local prefix, digits = tok:match("^0([xob])(.*)$")
  if prefix then return radix_integer(prefix, digits) end
  local int, frac, exp = body:match("^([%d_]+)(%.?[%d_]*)(.*)$")
  if not digits_ok(int) or (#int > 1 and int:sub(1, 1) == "0") then return nil end
  if frac ~= "" and not digits_ok(frac:sub(2)) then return nil end
  if exp ~= "" and not digits_ok(exp:match("^[eE][+-]?(.*)$")) then return nil end
  local v = tonumber((tok:gsub("_", "")))
  if frac == "" and exp == "" and math.type(v) ~= "integer" then return nil, RANGE end
  return v
end

-- A number at pos; returns it and the position after it.
local function number(p, pos)
  local tok = p.text:match("^[%w_.+-]*", pos)
  local v, why = number_value(tok)
  if v == nil then
    lex.fail(p, pos, why or "'" .. tok .. "' is not a TOML value" ..
      (tok:find("%a") and " (a string needs quotes)" or ""))
  end
  return v, pos + #tok
end

-- A time HH:MM:SS[.fraction] at pos: the position after it, or nil when there is none.
local function time_end(p, pos)
  local h, m, s, e = p.text:match("^(%d%d):(%d%d):(%d%d)()", pos)
  if not h then return nil end
  if tonumber(h) > 23 or tonumber(m) > 59 or tonumber(s) > 59 then
    lex.fail(p, pos, p.text:sub(pos, e - 1) .. " is not a valid time")
  end
  return p.text:match("^%.%d+()", e) or e
end

-- Where a date-time's Z or +HH:MM offset at pos ends, if it has one.
local function offset_end(p, pos)
  local z = p.text:match("^[Zz]()", pos)
  local h, m, e = p.text:match("^[+-](%d%d):(%d%d)()", pos)
  if h and (tonumber(h) > 23 or tonumber(m) > 59) then
    lex.fail(p, pos, "not a valid time offset")
  end
  return z or e or pos
end

-- A date, date-time or time at pos, as the string written; nil when none is there.
local function datetime(p, pos)
  local text = p.text
  local y, mo, d, e = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)()", pos)
  if not y then
    e = time_end(p, pos)
    return e and text:sub(pos, e - 1), e
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  local last = (mo == 2 and leap) and 29 or DAYS[mo]
  if y < 1 or not last or d < 1 or d > last then
    lex.fail(p, pos, text:sub(pos, e - 1) .. " is not a valid date")
  end
  local t = text:find("^[Tt ]%d", e) and time_end(p, e + 1)
  if t then e = offset_end(p, t) end
  return text:sub(pos, e - 1), e
end

--- The scalar (string, boolean, date or number) at pos and the position after it, or nil
--- when no scalar starts there.
function lex.scalar(p, pos)
  local text, c = p.text, p.text:sub(pos, pos)
  if c == '"' then return lex.basic_string(p, pos, text:find('^"""', pos) ~= nil) end
  if c == "'" then return lex.literal_string(p, pos, text:find("^'''", pos) ~= nil) end
  if text:find("^true", pos) then return true, pos + 4 end
  if text:find("^false", pos) then return false, pos + 5 end
  local s, e = datetime(p, pos)
  if s then return s, e end
  if c:find("^[%w+-]") then return number(p, pos) end
end

return lex
