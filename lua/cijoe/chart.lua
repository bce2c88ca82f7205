-- Charts of fio's metrics for report.html, each a pure function from plain tables to an
-- inline <svg> string: grouped bars here, percentiles and time series in cijoe.lines.
-- Why SVG written in Lua and no charting library: the report's CSP forbids every script,
-- so a JS library (Vega, Chart.js, ...) could only run when joe is built, but the data
-- exists only when a run ends, on machines without node; running one at report time would
-- mean a JS engine in the binary (MBs for a 400 KB joe) or a CSP that allows inline script
-- (an XSS hole for a report full of command output). Bars, lines and axes are a few
-- hundred lines of Lua, and the SVG renders everywhere, offline, with no script at all.
local lines = require("cijoe.lines")
local svg = require("cijoe.svg")
local units = require("cijoe.units")

local chart = {}

local num, esc, label = svg.num, svg.esc, svg.label

-- A list the caller gave (values, names), or an empty one for anything else.
local function given(value)
  return type(value) == "table" and value or {}
end

-- The ranges ({lo, hi, lo_open, hi_open, group, series}) that apply to bar (g, s), and
-- whether value v fails one of them (a missing value fails any).
local function bar_checks(ranges, g, s, v)
  local applying, failed = {}, false
  for _, r in ipairs(ranges) do
    if (r.group == nil or r.group == g) and (r.series == nil or r.series == s) then
      local lo, hi = tonumber(r.lo) or -math.huge, tonumber(r.hi) or math.huge
      applying[#applying + 1] = r
      if not units.finite(v) or (r.lo_open and v <= lo or v < lo)
        or (r.hi_open and v >= hi or v > hi) then
        failed = true
      end
    end
  end
  return applying, failed
end

-- Every value a bar chart shows (values, baselines and the finite bounds of ranges), for
-- its axis; and whether any value is finite.
local function bar_values(series, ranges)
  local all, any = {}, false
  for _, s in ipairs(series) do
    for _, v in pairs(given(s.values)) do
      all[#all + 1], any = v, any or units.finite(v)
    end
    for _, v in pairs(given(s.baseline)) do all[#all + 1] = v end
  end
  for _, r in ipairs(ranges) do all[#all + 1], all[#all + 2] = tonumber(r.lo), tonumber(r.hi) end
  return all, any
end

-- How the group labels go under the bars: "line" (each fits), "wrap" (two lines) or
-- "tilt" (rotated, for narrow groups); and the height they take.
local function group_mode(groups, gw)
  local widest = 0
  for _, name in ipairs(groups) do widest = math.max(widest, svg.width(name)) end
  if widest <= gw - 6 then return "line", 26 end
  if gw >= 80 then return "wrap", 42 end
  return "tilt", math.min(widest, 170) * 0.64 + 30
end

-- The label of a group centred at x under the plot's bottom edge y, in mode.
local function group_label(name, x, y, gw, mode)
  if mode == "tilt" then -- at most 170 px long, and none past the chart's left edge
    local room = math.min(170, (x - 4) / math.cos(math.rad(40)))
    return label(x + 4, y + 16, name, room, string.format('text-anchor="end" '
      .. 'transform="rotate(-40 %s %s)" fill="%s"', num(x + 4), num(y + 16), svg.INK))
  end
  local rows, cut = svg.wrap(name, gw - 6, mode == "wrap" and 2 or 1)
  local out = {}
  for i, row in ipairs(rows) do
    out[i] = string.format('<tspan x="%s" dy="%s">%s</tspan>', num(x), i == 1 and 0 or 15,
      esc(row))
  end
  return string.format('<text x="%s" y="%s" text-anchor="middle" fill="%s">%s%s</text>',
    num(x), num(y + 18), svg.INK, cut and "<title>" .. esc(name) .. "</title>" or "",
    table.concat(out))
end

-- The grey band of a required range from x, w wide, and its text (drawn over the bars,
-- on a white halo).
local function range_band(r, x, w, y_of, axis)
  local top = y_of(math.min(tonumber(r.hi) or axis.hi, axis.hi))
  local bottom = y_of(math.max(tonumber(r.lo) or axis.lo, axis.lo))
  local band = string.format('<rect class="range" x="%s" y="%s" width="%s" height="%s" '
    .. 'fill="#000" fill-opacity="0.07" stroke="%s" stroke-dasharray="5 3"/>', num(x),
    num(top), num(w), num(math.max(1, bottom - top)), svg.MUTED)
  return band, label(x + w - 4, top + 13, "required " .. tostring(r.text or ""), w - 8,
    'text-anchor="end" font-size="11" fill="' .. svg.INK .. '" ' .. svg.HALO, 11)
end

-- A bar's rect (its title says series, group, value and the range it fails) and its
-- baseline tick; returns them and the y of the bar's top (or bottom, when negative).
local function bar_shape(b, y_of, kind)
  local v, zero = b.value, y_of(0)
  local tip, style = units.finite(v) and y_of(v) or zero, svg.style(b.s)
  local title = b.series_name .. ", " .. b.group_name .. ": " .. units.format(v, kind)
    .. (b.failed and " outside the required range " .. b.range_text or "")
  local out = { string.format('<rect class="bar%s" x="%s" y="%s" width="%s" height="%s" '
    .. 'fill="%s" fill-opacity="%s" stroke="%s" stroke-width="%s"><title>%s</title></rect>',
    b.failed and " fail" or "", num(b.x), num(math.min(tip, zero)), num(b.w),
    num(math.abs(tip - zero)), style.colour, style.opacity,
    b.failed and svg.FAIL or style.colour, b.failed and 2.5 or 1, esc(title)) }
  if units.finite(b.baseline) then
    local y = num(y_of(b.baseline))
    out[2] = string.format('<line class="baseline" x1="%s" y1="%s" x2="%s" y2="%s" '
      .. 'stroke="%s" stroke-width="3"><title>baseline: %s</title></line>', num(b.x - 2), y,
      num(b.x + b.w + 2), y, svg.INK, esc(units.format(b.baseline, kind)))
    tip = (not units.finite(v) or v >= 0) and math.min(tip, y_of(b.baseline))
      or math.max(tip, y_of(b.baseline))
  end
  return table.concat(out), tip
end

-- One bar: its shape, the value beyond its end when it fits, and a failure marker
-- (a red triangle pointing at it) beyond that.
local function bar(b, y_of, kind)
  local shape, tip = bar_shape(b, y_of, kind)
  local up, shown, out = not units.finite(b.value) or b.value >= 0, units.format(b.value, kind), {}
  local zero = y_of(0)
  local y = up and math.min(tip, zero) - 5 or math.max(tip, zero) + 14
  if svg.width(shown, 11) <= b.w + 6 then
    out[1] = label(b.x + b.w / 2, y, shown, nil, 'text-anchor="middle" font-size="11" fill="'
      .. (b.failed and svg.FAIL or svg.INK) .. '" ' .. svg.HALO, 11)
    y = up and y - 14 or y + 14
  end
  if b.failed then
    out[#out + 1] = string.format('<path class="fail-mark" d="M%s %sl-6 %sh12z" fill="%s"/>',
      num(b.x + b.w / 2), num(y + (up and 3 or -10)), up and -9 or 9, svg.FAIL)
  end
  return shape .. table.concat(out)
end

-- The legend of a bar chart: its series, then the baseline, range and failure keys.
local function bar_legend(series, has)
  local entries = {}
  for i, s in ipairs(series) do
    local style = svg.style(i)
    entries[i] = { name = tostring(s.name or i), colour = style.colour, opacity = style.opacity }
  end
  if has.baseline then entries[#entries + 1] = { name = "baseline", kind = "tick" } end
  if has.range then
    entries[#entries + 1] = { name = "required range", fill = "#000", opacity = 0.07,
      stroke = svg.MUTED, dash = "5 3" }
  end
  if has.fail then
    entries[#entries + 1] = { name = "outside the required range", fill = "#fff",
      stroke = svg.FAIL, stroke_width = 2.5 }
  end
  return entries
end

-- The bars of a chart, one per group and series, with what they show and whether they
-- fail a range; and the keys its legend needs.
local function bar_records(spec)
  local records, has = {}, {}
  for g, gname in ipairs(spec.groups) do
    for s, sr in ipairs(spec.series) do
      local v = given(sr.values)[g]
      local applying, failed = bar_checks(spec.ranges, g, s, v)
      local b = { g = g, s = s, value = v, baseline = given(sr.baseline)[g], failed = failed,
        series_name = tostring(sr.name or s), group_name = gname,
        range_text = applying[1] and tostring(applying[1].text or "") or "" }
      records[#records + 1] = b
      has.baseline = has.baseline or units.finite(b.baseline)
      has.range, has.fail = has.range or #applying > 0, has.fail or failed
    end
  end
  return records, has
end

-- Where the band of range r goes: over its bar, its group, or (neither given) the plot;
-- a range of one series across every group gets one band per group. A list of {x, w}.
local function band_places(r, plot, gw, bw, n_groups)
  local groups = r.group and { r.group } or {}
  if r.series and not r.group then
    for g = 1, n_groups do groups[g] = g end
  end
  if #groups == 0 then return { { plot.x, plot.w } } end
  local places = {}
  for _, g in ipairs(groups) do
    local x = plot.x + (g - 1) * gw
    if r.series then
      places[#places + 1] = { x + gw * 0.1 + (r.series - 1) * bw - 2, bw + 4 }
    else
      places[#places + 1] = { x + gw * 0.05, gw * 0.9 }
    end
  end
  return places
end

-- The bars (markup) at their place in plot, the bands of the ranges under them and the
-- ranges' texts over them.
local function draw_bars(spec, records, plot, y_of, axis)
  local gw = plot.w / #spec.groups
  local bw, bars, bands, texts = gw * 0.8 / #spec.series, {}, {}, {}
  for i, b in ipairs(records) do
    b.x = plot.x + (b.g - 1) * gw + gw * 0.1 + (b.s - 1) * bw + math.min(1, bw * 0.1)
    b.w = math.max(1, bw * 0.8 - 0.5)
    bars[i] = bar(b, y_of, spec.kind)
  end
  for _, r in ipairs(spec.ranges) do
    for _, place in ipairs(band_places(r, plot, gw, bw, #spec.groups)) do
      bands[#bands + 1], texts[#texts + 1] = range_band(r, place[1], place[2], y_of, axis)
    end
  end
  return table.concat(bands, "\n") .. "\n" .. table.concat(bars, "\n") .. "\n"
    .. table.concat(texts, "\n")
end

-- The ranges of a spec that can be drawn: a group and series, when given, must be one of
-- the chart's (a range of another chart's bars is the caller's mistake, not a band here).
local function drawable_ranges(ranges, n_groups, n_series)
  local out = {}
  for _, r in ipairs(svg.tables(ranges)) do
    local g, s = r.group, r.series
    if (g == nil or math.type(g) == "integer" and g >= 1 and g <= n_groups)
      and (s == nil or math.type(s) == "integer" and s >= 1 and s <= n_series) then
      out[#out + 1] = r
    end
  end
  return out
end

--- Grouped bars: spec.groups (names of steps or runs, along the x axis), spec.series
--- ({name, values = {one per group}, baseline = {a reference per group, drawn as a tick}}),
--- spec.kind (a kind of units.format: "iops", "bw", "ns", ...), spec.axis_label,
--- spec.title, spec.note, spec.height and spec.ranges ({lo, hi, lo_open, hi_open, text,
--- group, series}: a required range, drawn as a band over the group, the bar, or the whole
--- chart; a bar outside a range that applies to it is drawn failed). Returns the SVG.
function chart.bars(spec)
  assert(type(spec) == "table", "chart.bars: a table is expected")
  local groups, series = {}, svg.tables(spec.series)
  for g, name in ipairs(given(spec.groups)) do groups[g] = tostring(name) end
  spec = { title = tostring(spec.title or ""), kind = spec.kind, note = spec.note,
    groups = groups, series = series, axis_label = spec.axis_label, height = spec.height,
    ranges = drawable_ranges(spec.ranges, #groups, #series) }
  local all, any = bar_values(spec.series, spec.ranges)
  if #groups == 0 or #series == 0 or not any then
    return svg.empty(spec.title, "no data to draw")
  end
  local axis = units.axis(all, spec.kind)
  local records, has = bar_records(spec)
  local plot, legend = svg.layout(spec, axis, bar_legend(series, has))
  local gw = plot.w / #groups
  local mode, under = group_mode(groups, gw)
  local labels = {}
  for g, name in ipairs(groups) do
    labels[g] = group_label(name, plot.x + (g - 0.5) * gw, plot.y + plot.h, gw, mode)
  end
  local y_of = svg.scale(axis, plot.y + plot.h, plot.y)
  local body = table.concat({ legend, svg.y_axis(axis, plot, spec.axis_label),
    draw_bars(spec, records, plot, y_of, axis), table.concat(labels, "\n") }, "\n")
  return svg.document(plot.y + plot.h + under + 8, spec.title, body, spec.note)
end

chart.percentiles = lines.percentiles
chart.timeseries = lines.timeseries

return chart
