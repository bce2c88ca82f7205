-- fio.log.parse and fio.log.status never raise: they return series of {seconds, value}
-- points, or nil and "file:line: problem" naming a line of the text (or its end); and the
-- charts of what they return never raise and are well-formed: tags balanced, every "&"
-- an entity, valid UTF-8 with no control character, so the report stays one page that a
-- browser (and an XML parser) reads.
package.path = JOE_ROOT .. "/packages/?.lua;" .. package.path
local flog = require("fio.log")
local chart = require("cijoe.chart")

local NAMES = { "j_iops.1.log", "j_bw.1.log", "j_lat.2.log", "results.txt" }

-- Raise unless svg is well-formed as far as joe's charts go: each element closed in order.
local function well_formed(svg)
  assert(utf8.len(svg), "not UTF-8")
  assert(not svg:find("[%z\1-\9\11-\31\127]"), "a control character")
  local open = {}
  for close, name, rest in svg:gmatch("<(/?)(%w+)([^<>]*)>") do
    if close == "/" then
      assert(table.remove(open) == name, "</" .. name .. "> closes nothing open")
    elseif rest:sub(-1) ~= "/" then
      open[#open + 1] = name
    end
  end
  assert(#open == 0, "<" .. tostring(open[1]) .. "> is never closed")
  local text = svg:gsub("<[^<>]*>", "")
  assert(not text:find("[<>]"), "a bare < or > in text")
  assert(not svg:gsub("&#%d+;", ""):find("&", 1, true), "a bare &")
end

-- The lines of text: as many as "\n" ends, and one more for a last line without one;
-- or (yaml) as the YAML loader counts them, with CR LF, CR, NEL, LS and PS ending lines.
local function line_count(text, yaml)
  local n, count = 0, 0
  local ends = yaml and { "\r\n", "[\r\n]", "\xC2\x85", "\xE2\x80[\xA8\xA9]" } or { "\n" }
  local last = text
  for _, br in ipairs(ends) do
    text, count = text:gsub(br, "")
    n = n + count
  end
  local ended = last:find("\n$") or yaml and (last:find("[\r\n]$") or last:find("\xC2\x85$")
    or last:find("\xE2\x80[\xA8\xA9]$"))
  return ended and n or n + 1
end

-- Raise unless err is "name:line: ..." (or "name:line:column: ...") with a line of data,
-- or (yaml: the loader's error, which may be at the end) the one after it.
local function names_a_line(err, name, data, yaml)
  local line = tonumber(tostring(err):match("^" .. name:gsub("%.", "%%.") .. ":(%d+):"))
  local last = line_count(data, yaml) + (yaml and 1 or 0)
  assert(line and line >= 1 and line <= last, "bad error: " .. tostring(err))
end

-- The charts of fio's --status-interval output read from data.
local function status_charts(data)
  local status, err = flog.status(data, "st.json")
  if not status then return names_a_line(err, "st.json", data, true) end
  well_formed(chart.timeseries({ title = "iops", kind = "iops", series = status.iops }))
  well_formed(chart.timeseries({ title = "bw", kind = "bw", series = status.bw }))
end

return function(data)
  status_charts(data)
  local name = NAMES[#data % #NAMES + 1]
  local log, err = flog.parse(data, name)
  if not log then return names_a_line(err, name, data) end
  local groups, bars = {}, {}
  for i, s in ipairs(log.series) do
    assert(type(s.direction) == "string" and type(s.points) == "table")
    groups[i], bars[i] = s.direction, { name = s.name, values = { s.points[1] and s.points[1][2] } }
  end
  well_formed(chart.timeseries({ title = name, kind = log.kind, series = log.series }))
  local points = 0
  for _, s in ipairs(log.series) do points = points + #s.points end
  if points <= 500 then -- a percentile chart of 40,000 "percentiles" takes 10 s under ASan
    well_formed(chart.percentiles({ title = name, series = log.series }))
  end
  well_formed(chart.bars({ title = name, kind = log.kind, groups = groups, series = bars }))
end
