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

--- A template part with {{key}} replaced by the escaped value, {{key:FORMAT}} by the
--- number formatted (0 when unknown) and {{&key}} by the value as it is (markup).
function template.fill(part, values)
  return (part:gsub("{{(&?)([%w_]+):?([^}]*)}}", function(raw, key, format)
    local value = format ~= "" and format:format(tonumber(values[key]) or 0) or values[key]
    return raw == "&" and tostring(value or "") or template.esc(value)
  end))
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
