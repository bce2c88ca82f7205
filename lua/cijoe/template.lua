-- The part of Jinja2 that CIJOE's configs and task files use: `{{ name.key }}` and
-- `{{ name['key'] }}` (spaces allowed between the parts), looked up in a context such as
-- {config = ..., local = {env = ...}}, and `{{ 'text' }}` (Jinja's way to write {{ or {#
-- as text). CIJOE 0.9.60's examples write only `{{ local.env.HOME }}`, `{{ local.env.PWD }}`
-- and `{{ resources.auxiliary['name'] }}`; its docs promise values from the config too.
-- Decisions, each as CIJOE's Jinja (StrictUndefined, the default settings) behaves:
-- * A missing key is an error naming it; CIJOE's StrictUndefined fails there too, and joe
--   must never run a command with a hole in it.
-- * Values render as Python's str() renders them: integers in digits, floats as Python's
--   repr (1.0, 1e+16, inf, nan), booleans True and False. A table is an error (Jinja would
--   print a Python dict or list).
-- * Anything else Jinja reads ({% %} statements, {# #} comments, filters, expressions,
--   calls, {{- -}} whitespace control) is an error naming its column, never passed on.
-- * As Jinja does by default, CR LF and CR become LF and one newline at the end is dropped.
local template = {}

local NAME = "^[%a_][%w_]*"
local UNSUPPORTED = {
  ["|"] = "Jinja filters (|) are not supported",
  ["("] = "calls are not supported",
  ["-"] = "expressions are not supported (a key with '-' is written ['a-b'])",
}

-- Line and column (in characters) of byte pos of s.
local function position(s, pos)
  local line, start = 1, 1
  for nl in s:sub(1, pos - 1):gmatch("()\n") do line, start = line + 1, nl + 1 end
  return line, (utf8.len(s, start, pos - 1) or pos - start) + 1
end

-- Stop with "column N: problem" ("line L, column N: ..." past the first line).
local function fail(s, pos, problem)
  local line, column = position(s, pos)
  local at = (line > 1 and "line " .. line .. ", " or "") .. "column " .. column
  error({ template_error = at .. ": " .. problem, line = line, column = column }, 0)
end

-- The next token at pos: its kind (name, string, ".", "[", "]", "}}", "end" or
-- "other"), its text, where it starts, and the position after it.
local function token(s, pos)
  pos = s:find("[^ \t\n]", pos) or #s + 1
  if pos > #s then return "end", nil, pos, pos end
  local _, e = s:find(NAME, pos)
  if e then return "name", s:sub(pos, e), pos, e + 1 end
  if s:find("^}}", pos) then return "}}", nil, pos, pos + 2 end
  local c = s:sub(pos, pos)
  if c == "'" or c == '"' then
    local close = s:find(c, pos + 1, true)
    if not close then fail(s, pos, "the quoted text is not closed") end
    local text = s:sub(pos + 1, close - 1)
    if text:find("\\", 1, true) then fail(s, pos, "escapes in quoted text are not supported") end
    return "string", text, pos, close + 1
  end
  if c == "." or c == "[" or c == "]" then return c, nil, pos, pos + 1 end
  return "other", s:match(utf8.charpattern, pos) or c, pos, pos + 1
end

-- Fail on a token that has no place in a template, saying what Jinja would have read.
local function unexpected(s, kind, text, at, open)
  if kind == "end" then fail(s, open, "'{{' is not closed by '}}'") end
  if text == "-" and s:find("^-%s*}}", at) then
    fail(s, at, "'-}}' (Jinja's whitespace control) is not supported")
  end
  if UNSUPPORTED[text] then fail(s, at, UNSUPPORTED[text]) end
  local found = kind == "string" and "quoted text" or "'" .. (text or kind) .. "'"
  fail(s, at, "expected a name, '.name', \"['key']\" or '}}', found " .. found ..
    " (a template names a value: config.a.b, config['a-b'], local.env.HOME)")
end

--- How Jinja (Python's str()) writes a value: strings as they are, integers in digits,
--- floats as Python's repr, booleans True and False. nil and a reason for a table.
function template.to_text(v)
  if type(v) == "string" then return v end
  if type(v) == "boolean" then return v and "True" or "False" end
  if math.type(v) == "integer" then return string.format("%d", v) end
  if type(v) ~= "number" then return nil, "a " .. type(v) end
  if v ~= v then return "nan" end
  if v == math.huge or v == -math.huge then return v > 0 and "inf" or "-inf" end
  if v == 0 then return 1 / v < 0 and "-0.0" or "0.0" end
  local s
  for precision = 0, 16 do -- the shortest digits that read back as v, as repr() uses
    s = string.format("%." .. precision .. "e", v)
    if tonumber(s) == v then break end
  end
  local first, rest, e = s:match("^-?(%d)%.?(%d*)e([-+]%d+)$")
  local digits, exp, sign = first .. rest, tonumber(e), v < 0 and "-" or ""
  if exp < -4 or exp >= 16 then
    local mantissa = digits:sub(1, 1) .. (#digits > 1 and "." .. digits:sub(2) or "")
    return sign .. mantissa .. string.format("e%+03d", exp)
  end
  if exp < 0 then return sign .. "0." .. ("0"):rep(-exp - 1) .. digits end
  digits = digits .. ("0"):rep(exp + 1 - #digits)
  local frac = digits:sub(exp + 2)
  return sign .. digits:sub(1, exp + 1) .. "." .. (frac == "" and "0" or frac)
end

-- One key of a lookup: value[key] and the path to it, or a failure naming the path.
local function lookup(s, at, value, path, key, shown)
  if type(value) ~= "table" then
    local what = type(value) == "string" and "a string" or
      "the value " .. (template.to_text(value) or type(value))
    fail(s, at, path .. " is " .. what .. ", which has no key '" .. key .. "'")
  end
  local v = value[key]
  if v == nil then
    fail(s, at, path .. shown .. " is undefined (no key '" .. key .. "' in " .. path .. ")")
  end
  return v, path .. shown
end

-- The key after a '.' or inside [ ] at pos; returns it, how it is shown, where it is and
-- the position after it.
local function key_after(s, kind, pos)
  local k, text, at
  k, text, at, pos = token(s, pos)
  if kind == "." and k ~= "name" then fail(s, at, "expected a name after '.'") end
  if kind == "." then return text, "." .. text, at, pos end
  if k ~= "string" then
    fail(s, at, "only a quoted key goes between [ and ] (Jinja's [0] indexes a list, " ..
      "which joe does not support)")
  end
  local close, _, close_at, after = token(s, pos)
  if close ~= "]" then fail(s, close_at, "expected ']' after the quoted key") end
  return text, (text:find("'", 1, true) and '["' .. text .. '"]' or "['" .. text .. "']"), at, after
end

-- The {{ ... }} opening at open, read: quoted text ({text = ...}), or a name and the keys
-- after it ({name, at, {key, shown, at}...}); and the position after the closing }}.
local function parse(s, open)
  if s:find("^[-+]", open + 2) then
    fail(s, open, "'" .. s:sub(open, open + 2) .. "' (Jinja's whitespace control) is not supported")
  end
  local kind, text, at, pos = token(s, open + 2)
  if kind == "}}" then fail(s, open, "'{{ }}' names no value") end
  if kind == "string" then
    local close, close_text, close_at, after = token(s, pos)
    if close ~= "}}" then unexpected(s, close, close_text, close_at, open) end
    return { text = text }, after
  end
  if kind ~= "name" then unexpected(s, kind, text, at, open) end
  local expr = { name = text, at = at }
  while true do
    kind, text, at, pos = token(s, pos)
    if kind == "}}" then return expr, pos end
    if kind ~= "." and kind ~= "[" then unexpected(s, kind, text, at, open) end
    local key = {}
    key.key, key.shown, key.at, pos = key_after(s, kind, pos)
    expr[#expr + 1] = key
  end
end

-- The value an expression names in context, and the path to it for messages.
local function evaluate(s, expr, context)
  if expr.text then return expr.text, "'" .. expr.text .. "'" end
  local value, path = context[expr.name], expr.name
  if value == nil then fail(s, expr.at, "'" .. expr.name .. "' is undefined") end
  for _, k in ipairs(expr) do value, path = lookup(s, k.at, value, path, k.key, k.shown) end
  return value, path
end

-- The text of s with each {{ }} replaced by its value (only checked without a context).
local function expand(s, context)
  local out, pos = {}, 1
  while true do
    local open = s:find("{[{%%#]", pos)
    out[#out + 1] = s:sub(pos, (open or 0) - 1)
    if not open then return table.concat(out) end
    local c = s:sub(open + 1, open + 1)
    if c ~= "{" then
      fail(s, open, "'{" .. c .. "' opens a Jinja " .. (c == "%" and "statement" or "comment") ..
        ", which joe does not support (for the text itself, write {{ '{" .. c .. "' }})")
    end
    local expr
    expr, pos = parse(s, open)
    if context then
      local value, path = evaluate(s, expr, context)
      local text, what = template.to_text(value)
      if not text then
        fail(s, open, path .. " is " .. what .. "; a template writes values (name one of its keys)")
      end
      out[#out + 1] = text
    end
  end
end

-- Run expand on s as Jinja reads it; returns its text, or nil, message, line and column.
local function run(s, context)
  if type(s) ~= "string" then
    error("bad argument #1 (string expected, got " .. type(s) .. ")", 3)
  end
  s = s:gsub("\r\n?", "\n"):gsub("\n$", "")
  local ok, out = pcall(expand, s, context)
  if ok then return out end
  if type(out) == "table" and out.template_error then
    return nil, out.template_error, out.line, out.column
  end
  error(out, 0)
end

--- Render s with context (names to tables or values, e.g. {config = conf, local = {env =
--- env}}). Returns the text, or nil, "column N: what is wrong" ("line L, column N: ..."
--- past the first line), and the line and column as numbers.
function template.render(s, context)
  if type(context) ~= "table" then
    error("bad argument #2 to 'render' (table expected, got " .. type(context) .. ")", 2)
  end
  return run(s, context)
end

--- Check the template syntax of s without looking anything up (for joe lint). Returns
--- true, or nil, the message, line and column as render does.
function template.check(s)
  local ok, err, line, column = run(s, nil)
  if ok then return true end
  return nil, err, line, column
end

return template
