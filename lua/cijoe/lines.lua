-- Line charts for report.html (through cijoe.chart): latency percentiles per job and
-- direction, and IOPS or bandwidth over time. A colour per job name, a dash per
-- direction (read solid, write dashed, trim dotted), so a chart of both reads well
-- without colour too.
local svg = require("cijoe.svg")
local units = require("cijoe.units")

local lines = {}

local num, esc, label = svg.num, svg.esc, svg.label
local DIRECTION_DASH = { read = "", write = "7 4", trim = "2 3" }

-- A series' points as a list of {x, y}: from a list of pairs, or from a map x -> y such
-- as fio's percentile tables ("99.900000" = 1234); sorted by x, those with no number for
-- x left out, a y that is no number kept as NaN (a gap).
local function points_of(value)
  local out = {}
  for k, v in pairs(type(value) == "table" and value or {}) do
    local x, y = k, v
    if type(v) == "table" then x, y = v[1], v[2] end
    x = math.type(x) and x or tonumber(x)
    if units.finite(x) then out[#out + 1] = { x, math.type(y) and y or 0 / 0 } end
  end
  table.sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

-- A polyline through pixel points, or a dot for a point alone.
local function polyline(run, colour, dash)
  if #run == 1 then return svg.marker("circle", run[1][1], run[1][2], colour) end
  local xy = {}
  for i, p in ipairs(run) do xy[i] = num(p[1]) .. "," .. num(p[2]) end
  return string.format('<polyline points="%s" fill="none" stroke="%s" stroke-width="2" '
    .. 'stroke-linejoin="round" stroke-dasharray="%s"/>', table.concat(xy, " "), colour, dash)
end

-- The lines through pixel points {x, y}, broken where y is NaN (a value not drawn).
local function polylines(pts, colour, dash)
  local out, run = {}, {}
  for _, p in ipairs(pts) do
    if p[2] == p[2] then
      run[#run + 1] = p
    elseif #run > 0 then
      out[#out + 1], run = polyline(run, colour, dash), {}
    end
  end
  if #run > 0 then out[#out + 1] = polyline(run, colour, dash) end
  return table.concat(out, "\n")
end

-- The value axis: logarithmic when asked, or (log == nil) when the positive values
-- spread over more than 30 times; linear otherwise. Also returns how many values a log
-- axis cannot show (zero or negative).
local function value_axis(values, kind, log)
  local positive, dropped = {}, 0
  for _, v in ipairs(values) do
    if units.finite(v) and v > 0 then positive[#positive + 1] = v
    elseif units.finite(v) then dropped = dropped + 1 end
  end
  local lo, hi = units.extent(positive)
  if log == nil then log = lo ~= nil and hi / lo > 30 end
  local axis = log and units.log_axis(positive, kind)
  if axis then return axis, dropped end
  return units.axis(values, kind), 0
end

-- The legend entries: a colour (and marker, with `markers`) per name, then a dash per
-- direction.
local function legend(names, styles, directions, markers)
  local entries = {}
  for i, name in ipairs(names) do
    entries[i] = { name = name, colour = styles[name].colour, kind = "line",
      dash = #directions == 0 and styles[name].dash or "",
      marker = markers and styles[name].marker }
  end
  for _, d in ipairs(directions) do
    entries[#entries + 1] = { name = d, colour = svg.MUTED, dash = DIRECTION_DASH[d] or "",
      kind = "line" }
  end
  return entries
end

-- The series of a chart with their points, a style per name (first seen first), the
-- directions they show and every value, for the axis.
local function chart_series(given)
  local c = { series = {}, names = {}, styles = {}, directions = {}, values = {} }
  local seen = {}
  for _, sr in ipairs(svg.tables(given)) do
    local name, dir = tostring(sr.name or #c.series + 1), sr.direction
    dir = dir ~= nil and tostring(dir) or nil
    if not c.styles[name] then
      c.names[#c.names + 1] = name
      c.styles[name] = svg.style(#c.names)
    end
    if dir and not seen[dir] then c.directions[#c.directions + 1], seen[dir] = dir, true end
    local pts = points_of(sr.points)
    for _, p in ipairs(pts) do c.values[#c.values + 1] = p[2] end
    c.series[#c.series + 1] = { name = name, direction = dir, points = pts }
  end
  return c
end

-- The dash of a series: its direction's, else that of its colour's round.
local function dash_of(sr, styles)
  return sr.direction and DIRECTION_DASH[sr.direction] or styles[sr.name].dash
end

-- Percentiles ---------------------------------------------------------------------------

-- The labels of the percentile slots under the plot, every k-th when they would touch
-- (the last one always).
local function slot_labels(slots, x_of, y)
  local widest = 0
  for _, p in ipairs(slots) do widest = math.max(widest, svg.width("p" .. p)) end
  local gap = #slots > 1 and x_of(2) - x_of(1) or math.huge
  local every, out = math.max(1, math.ceil((widest + 10) / gap)), {}
  for i, p in ipairs(slots) do
    local last_fits = i == #slots and (i - 1) % every >= every / 2
    if (i - 1) % every == 0 or last_fits then
      out[#out + 1] = label(x_of(i), y + 18, "p" .. p, nil, 'text-anchor="middle" fill="'
        .. svg.INK .. '"')
    end
  end
  return table.concat(out, "\n")
end

-- The percentiles of all series, sorted, as texts ("99.9"), and each text's slot.
local function percentile_slots(series)
  local values, index = {}, {}
  for _, sr in ipairs(series) do
    for _, p in ipairs(sr.points) do
      local key = string.format("%g", p[1])
      if not index[key] then values[#values + 1], index[key] = p[1], true end
    end
  end
  table.sort(values)
  local slots = {}
  for i, p in ipairs(values) do
    slots[i] = string.format("%g", p)
    index[slots[i]] = i
  end
  return slots, index
end

-- One series of a percentile chart: its line and a marker per point, whose title says
-- the job, direction, percentile and value.
local function percentile_line(sr, at, styles, kind)
  local pts, marks, style = {}, {}, styles[sr.name]
  for _, p in ipairs(sr.points) do
    local i = at.index[string.format("%g", p[1])]
    local shown = units.finite(p[2]) and (p[2] > 0 or not at.axis.log)
    local x, y = at.x_of(i), shown and at.y_of(p[2]) or 0 / 0
    pts[#pts + 1] = { x, y }
    if shown then
      local title = sr.name .. (sr.direction and " " .. sr.direction or "") .. " p"
        .. at.slots[i] .. ": " .. units.format(p[2], kind)
      marks[#marks + 1] = svg.marker(style.marker, x, y, style.colour,
        "<title>" .. esc(title) .. "</title>")
    end
  end
  return polylines(pts, style.colour, dash_of(sr, styles)) .. "\n" .. table.concat(marks, "\n")
end

--- Latency percentiles: spec.series ({name, direction = "read"|"write"|"trim", points =
--- {{percentile, value}, ...} or fio's map {["99.900000"] = value}}), spec.kind (default
--- "ns"), spec.log (true, false, or nil: logarithmic when the values spread over 30 times),
--- spec.title, spec.axis_label, spec.note, spec.height. The percentiles of all series are
--- evenly spaced slots along x; a colour per name, a dash per direction. Returns the SVG.
function lines.percentiles(spec)
  assert(type(spec) == "table", "chart.percentiles: a table is expected")
  local title, kind = tostring(spec.title or ""), spec.kind or "ns"
  local c = chart_series(spec.series)
  if not units.extent(c.values) then return svg.empty(title, "no percentiles to draw") end
  local at, dropped = {}, nil
  at.slots, at.index = percentile_slots(c.series)
  at.axis, dropped = value_axis(c.values, kind, spec.log)
  local note = spec.note or dropped > 0 and string.format("%d %s at or below zero %s not "
    .. "drawn on the logarithmic axis", dropped, dropped == 1 and "value" or "values",
    dropped == 1 and "is" or "are") or nil
  local plot, keys = svg.layout({ note = note, height = spec.height }, at.axis,
    legend(c.names, c.styles, c.directions, true))
  local step = plot.w / #at.slots
  at.y_of = svg.scale(at.axis, plot.y + plot.h, plot.y)
  at.x_of = function(i) return plot.x + (i - 0.5) * step end
  local body = { keys, svg.y_axis(at.axis, plot, spec.axis_label or "latency") }
  for _, sr in ipairs(c.series) do body[#body + 1] = percentile_line(sr, at, c.styles, kind) end
  body[#body + 1] = slot_labels(at.slots, at.x_of, plot.y + plot.h)
  body[#body + 1] = label(plot.x + plot.w / 2, plot.y + plot.h + 40, "percentile", nil,
    'text-anchor="middle" fill="' .. svg.INK .. '"')
  return svg.document(plot.y + plot.h + 52, title, table.concat(body, "\n"), note)
end

-- Time series ---------------------------------------------------------------------------

-- The time axis along the plot's bottom: a grid line and a label per tick, and its title.
local function time_axis(axis, plot, x_of)
  local out, bottom = {}, plot.y + plot.h
  for _, t in ipairs(axis.ticks) do
    local x = num(x_of(t.value))
    out[#out + 1] = string.format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>', x,
      num(plot.y), x, num(bottom), svg.GRID)
    out[#out + 1] = label(x_of(t.value), bottom + 18, t.text, nil, 'text-anchor="middle" '
      .. 'fill="' .. svg.MUTED .. '"')
  end
  out[#out + 1] = label(plot.x + plot.w / 2, bottom + 40, "time (s)", nil,
    'text-anchor="middle" fill="' .. svg.INK .. '"')
  return table.concat(out, "\n")
end

-- The least and greatest of a pixel column's samples, in time order (one when they are
-- the same), appended to out.
local function keep_extremes(out, lo, hi)
  if not lo then return end
  if hi.order < lo.order then lo, hi = hi, lo end
  out[#out + 1] = lo
  if hi ~= lo then out[#out + 1] = hi end
end

-- A series' samples as pixels: with more than two per pixel column, only the least and
-- greatest of each column, so a log of 100,000 lines stays a small line that keeps its
-- spikes. A sample that is no number stays, to break the line.
local function thin(points, x_of, y_of, width)
  local out, keep_all, column, lo, hi = {}, #points <= 2 * width, nil, nil, nil
  for i, p in ipairs(points) do
    local px = { x_of(p[1]), units.finite(p[2]) and y_of(p[2]) or 0 / 0, order = i }
    if keep_all or px[2] ~= px[2] or math.floor(px[1]) ~= column then
      keep_extremes(out, lo, hi)
      lo, hi, column = nil, nil, math.floor(px[1])
    end
    if keep_all or px[2] ~= px[2] then
      out[#out + 1] = px
    else
      if not lo or px[2] < lo[2] then lo = px end
      if not hi or px[2] > hi[2] then hi = px end
    end
  end
  keep_extremes(out, lo, hi)
  return out
end

--- A time series: spec.series ({name, direction, points = {{seconds, value}, ...}}, as
--- fio.log.parse makes them), spec.kind ("iops", "bw", "ns", ...), spec.title,
--- spec.axis_label, spec.note, spec.height. Time in seconds along x, a colour per name and
--- a dash per direction; long series are thinned to two samples per pixel. Returns the SVG.
function lines.timeseries(spec)
  assert(type(spec) == "table", "chart.timeseries: a table is expected")
  local title = tostring(spec.title or "")
  local c = chart_series(spec.series)
  if not units.extent(c.values) then return svg.empty(title, "no samples to draw") end
  local times = {}
  for _, sr in ipairs(c.series) do
    for _, p in ipairs(sr.points) do times[#times + 1] = p[1] end
  end
  local axis, t_axis = units.axis(c.values, spec.kind), units.axis(times, "sec", { count = 10 })
  local plot, keys = svg.layout(spec, axis, legend(c.names, c.styles, c.directions))
  local x_of = svg.scale(t_axis, plot.x, plot.x + plot.w)
  local y_of = svg.scale(axis, plot.y + plot.h, plot.y)
  local body = { keys, svg.y_axis(axis, plot, spec.axis_label), time_axis(t_axis, plot, x_of) }
  for _, sr in ipairs(c.series) do
    body[#body + 1] = polylines(thin(sr.points, x_of, y_of, plot.w), c.styles[sr.name].colour,
      dash_of(sr, c.styles))
  end
  return svg.document(plot.y + plot.h + 52, title, table.concat(body, "\n"), spec.note)
end

return lines
