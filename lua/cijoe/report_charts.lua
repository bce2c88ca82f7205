-- The charts of report.html's metrics (cijoe.report_metrics puts them in place): bars of
-- a rate over every step and job, with the required ranges (analysis.yml) and the
-- baseline (compare.yml) drawn on them; the latency percentiles of every job; a step's
-- series over time (series.yml).
local chart = require("cijoe.chart")
local metrics = require("cijoe.metrics")
local requirements = require("cijoe.requirements")
local yaml = require("cijoe.yaml")

local charts = { MAX_BARS = 40, MAX_LINES = 16 }

-- The series.yml metrics drawn over time, by chart (slat is left out: it is in lat).
local SERIES_METRICS = { iops = "iops", bw = "bw", lat = "lat", clat = "clat" }

--- Each measured group of each job of the run (ctx: cijoe.report_metrics.prepare's), in
--- order, with what names it in charts and tables: {m, job, key, group, values}.
function charts.entries(ctx)
  local out = {}
  for _, m in ipairs(ctx.found) do
    local keys = metrics.job_keys(m.doc)
    for i, job in ipairs(m.doc.jobs) do
      for _, g in ipairs(metrics.groups_of(m.doc, job)) do
        out[#out + 1] = { m = m, job = job, key = keys[i], group = g.name, values = g.values }
      end
    end
  end
  return out
end

-- The bar of entry e: its group's name (step, job and direction) and its series (the
-- run; for merged runs each run), so merged runs stand side by side.
local function bar_place(ctx, e, state)
  local step = ctx.merged and (e.m.step.plain_name or e.m.step.name) or e.m.step.name
  return (e.key == step and step or step .. " / " .. e.key) .. " " .. e.group,
    ctx.merged and (e.m.step.target or "(this run)") or tostring(state.name or "this run")
end

-- The required range of a check drawn on bar (g, s), or nil.
local function range_of(doc, c, g, s)
  local info = metrics.unit_info(metrics.unit(doc, c.metric))
  local r = requirements.parse_range(c.range, info.kind, info.scale)
  return r and { lo = r.lo, hi = r.hi, lo_open = r.lo_open, hi_open = r.hi_open,
    text = c.range, group = g, series = s }
end

-- Add entry e's checks of `metric` (as ranges) and its baseline to the chart's spec.
local function add_marks(spec, state, e, metric, g, s, scale)
  for _, c in ipairs(e.m.step.analysis or {}) do
    if type(c) == "table" and c.metric == metric and c.job == e.job.job
      and c.direction == e.group then
      spec.ranges[#spec.ranges + 1] = range_of(e.m.doc, c, g, s)
    end
  end
  for _, row in ipairs(state.compare and state.compare.rows or {}) do
    if row.step == e.m.step.name and row.job == e.key and row.direction == e.group
      and row.metric == metric and type(row.base) == "number" then
      spec.series[s].baseline[g] = row.base * scale
    end
  end
end

--- A bar chart (SVG) of one metric over every job (at most MAX_BARS groups), or nil.
function charts.bars(ctx, state, metric, title, axis)
  local spec = { title = title, axis_label = axis, groups = {}, series = {}, ranges = {} }
  local gi, si = {}, {}
  for _, e in ipairs(charts.entries(ctx)) do
    local v = e.values[metric]
    local gname, sname = bar_place(ctx, e, state)
    if type(v) == "number" and (gi[gname] or #spec.groups < charts.MAX_BARS) then
      local kind, scale = metrics.chart_kind(e.m.doc, metric)
      spec.kind = spec.kind or kind
      if not gi[gname] then spec.groups[#spec.groups + 1], gi[gname] = gname, #spec.groups + 1 end
      if not si[sname] then
        spec.series[#spec.series + 1] = { name = sname, values = {}, baseline = {} }
        si[sname] = #spec.series
      end
      spec.series[si[sname]].values[gi[gname]] = v * scale
      add_marks(spec, state, e, metric, gi[gname], si[sname], scale)
    end
  end
  if #spec.groups == 0 then return nil end
  return chart.bars(spec)
end

-- The percentile points of a group's metrics, total latency (lat_pNN) over completion
-- latency (clat_pNN) when both are there: {{percentile, value in ns}}.
local function percentile_points(doc, values)
  local pts, prefix = {}, "clat_p"
  for name in pairs(values) do
    if name:match("^lat_p[%d.]+$") then prefix = "lat_p" end
  end
  for name, v in pairs(values) do
    local p = name:sub(1, #prefix) == prefix and tonumber(name:sub(#prefix + 1))
    if p and type(v) == "number" then
      pts[#pts + 1] = { p, v * select(2, metrics.chart_kind(doc, name)) }
    end
  end
  return pts
end

--- The latency percentiles of every job (at most MAX_LINES lines) as SVG, or nil.
function charts.percentiles(ctx)
  local series, total = {}, 0
  for _, e in ipairs(charts.entries(ctx)) do
    local pts = percentile_points(e.m.doc, e.values)
    if #pts > 1 then
      total = total + 1
      if #series < charts.MAX_LINES then
        series[#series + 1] = { name = e.m.step.name .. " / " .. e.key, direction = e.group,
          points = pts }
      end
    end
  end
  if #series == 0 then return nil end
  return chart.percentiles({ title = "Latency percentiles per job", axis_label = "latency",
    series = series,
    note = total > #series and ("the first %d of %d jobs"):format(#series, total) or nil })
end

--- The series over time of step s of the run in dir (its series.yml), a chart per
--- metric in the `chart` part of the template; "" when it has none.
function charts.series(parts, dir, s)
  local f = io.open(dir .. "/" .. s.rel .. "/series.yml", "rb")
  if not f then return "" end
  local doc = yaml.load(f:read("a"), s.rel .. "/series.yml")
  f:close()
  local by_metric, out = {}, {}
  for _, sr in ipairs(type(doc) == "table" and type(doc.series) == "table" and doc.series or {}) do
    local m = type(sr) == "table" and SERIES_METRICS[sr.metric]
    if m and type(sr.points) == "table" then
      by_metric[m] = by_metric[m] or {}
      table.insert(by_metric[m], { name = tostring(sr.job), direction = sr.direction,
        points = sr.points })
    end
  end
  by_metric.lat = by_metric.lat or by_metric.clat -- total latency, else completion latency
  for _, m in ipairs({ { "iops", "IOPS over time", "iops" }, { "bw", "Bandwidth over time", "bw" },
    { "lat", "Latency over time", "ns" } }) do
    if by_metric[m[1]] then
      local svg = chart.timeseries({ title = m[2], kind = m[3], axis_label = m[2]:match("^(%S+)"),
        series = by_metric[m[1]] })
      out[#out + 1] = require("cijoe.report_template").fill(parts.chart, { svg = svg })
    end
  end
  return table.concat(out, "\n")
end

return charts
