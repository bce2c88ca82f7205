-- The template asset of the reports (lua/cijoe/report.html) and how its parts are filled
-- in: shared by cijoe.report (the page, steps, commands) and cijoe.report_metrics (the
-- metrics, checks, charts and comparisons).
local embedded = require("cijoe.embedded")

local template = {}

--- Text that is safe in HTML and markdown tables: control characters XML forbids become
--- "?", markup characters (and "|") numeric entities.
local ENTITY = {}
for c in ("&<>\"'|"):gmatch(".") do ENTITY[c] = "&#" .. c:byte() .. ";" end

function template.esc(value)
  local s = tostring(value or "")
  if not s:find("[%z\1-\8\11\12\14-\31&<>\"'|]") then return s end -- most values: as they are
  return (s:gsub("[%z\1-\8\11\12\14-\31]", "?"):gsub("[&<>\"'|]", ENTITY))
end

-- A part split once into its text and its fields: { text, field, text, field, ... },
-- each field { raw, key, format }. A report fills a few parts thousands of times.
local compiled = {}

local function compile(part)
  local pieces, at = {}, 1
  for start, raw, key, format, stop in part:gmatch("(){{(&?)([%w_]+):?([^}]*)}}()") do
    pieces[#pieces + 1] = part:sub(at, start - 1)
    pieces[#pieces + 1] = { raw = raw == "&", key = key, format = format ~= "" and format }
    at = stop
  end
  pieces[#pieces + 1] = part:sub(at)
  return pieces
end

--- A template part with {{key}} replaced by the escaped value, {{key:FORMAT}} by the
--- number formatted (0 when unknown) and {{&key}} by the value as it is (markup).
function template.fill(part, values)
  local pieces = compiled[part]
  if not pieces then pieces = compile(part) compiled[part] = pieces end
  local out = {}
  for i = 1, #pieces, 2 do
    out[i] = pieces[i]
    local field = pieces[i + 1]
    if field then
      local value = values[field.key]
      if field.format then value = field.format:format(tonumber(value) or 0) end
      out[i + 1] = field.raw and tostring(value or "") or template.esc(value)
    end
  end
  return table.concat(out)
end

--- A part filled once per item of list (with what fn makes of the item), one per line.
function template.each(part, list, fn)
  local out = {}
  for i, item in ipairs(list) do out[i] = template.fill(part, fn and fn(item, i) or item) end
  return table.concat(out, "\n")
end

local parts_cache

--- The parts of the report.html asset: each "<!--@name-->" line starts the part "name".
--- With JOE_LUA_PATH, the tree's file (read each time, for whoever edits it).
function template.parts()
  local tree, path = os.getenv("JOE_LUA_PATH"), "lua/cijoe/report.html"
  if parts_cache and not tree then return parts_cache end
  local text
  if tree then
    local f = assert(io.open(tree .. "/" .. path, "rb"))
    text = f:read("a")
    f:close()
  else
    text = embedded.read(path)
  end
  local parts = {}
  text = text:gsub("\n?<!%-%-@(%w+)%-%->\n?", "\0%1\1")
  for name, part in text:gmatch("%z(%w+)\1([^%z]*)") do parts[name] = part end
  parts_cache = parts
  return parts
end

return template
