-- The metrics in report.html: at the top, bar charts of each key rate (IOPS, bandwidth)
-- per step and job with the required ranges and the baseline, the latency percentiles
-- of every job, and for merged runs a table of them side by side; in each step, a table
-- per job, its checks and its series over time; and the comparison with a baseline.
-- Everything comes from the files of `joe extract`, `joe analyse` and `joe compare`
-- (cijoe.metrics), so it works for any extractor's metrics.
local chart = require("cijoe.chart")
local metrics = require("cijoe.metrics")
local requirements = require("cijoe.requirements")
local t = require("cijoe.report_template")
local yaml = require("cijoe.yaml")

local rm = { MAX_BARS = 40, MAX_LINES = 16 }

local fill, each = t.fill, t.each

-- What the tables call the metrics fio's key ones are.
local LABEL = { iops = "IOPS", bw = "bandwidth", lat_mean = "mean latency",
  clat_p99 = "p99 completion latency", lat_p99 = "p99 latency" }

--- The metrics of the run whose record is state: {found (cijoe.metrics.of_run's), by_rel
--- (step folder -> doc), warnings, merged (true for several runs)}.
function rm.prepare(dir, state)
  local found, warnings = metrics.of_run(dir, state)
  local by_rel = {}
  for _, m in ipairs(found) do by_rel[m.step.rel] = m.doc end
  return { found = found, by_rel = by_rel, warnings = warnings,
    merged = state.target_order ~= nil and #state.target_order > 0 }
end

-- Each measured group of each job of the run, in order, with what names it in charts and
-- tables: {m, job, key, group, values}.
local function entries(ctx)
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
    if type(c) == "table" and c.metric == metric and c.job == e.job.job and c.direction == e.group then
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

-- A bar chart of one metric over every job (at most MAX_BARS groups), or nil.
local function bars(ctx, state, metric, title, axis)
  local spec = { title = title, axis_label = axis, groups = {}, series = {}, ranges = {} }
  local gi, si = {}, {}
  for _, e in ipairs(entries(ctx)) do
    local v = e.values[metric]
    local gname, sname = bar_place(ctx, e, state)
    if type(v) == "number" and (gi[gname] or #spec.groups < rm.MAX_BARS) then
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
    if p and type(v) == "number" then pts[#pts + 1] = { p, v * select(2, metrics.chart_kind(doc, name)) } end
  end
  return pts
end

-- The latency percentiles of every job (at most MAX_LINES lines), or nil.
local function percentiles(ctx)
  local series, total = {}, 0
  for _, e in ipairs(entries(ctx)) do
    local pts = percentile_points(e.m.doc, e.values)
    if #pts > 1 then
      total = total + 1
      if #series < rm.MAX_LINES then
        series[#series + 1] = { name = e.m.step.name .. " / " .. e.key, direction = e.group, points = pts }
      end
    end
  end
  if #series == 0 then return nil end
  return chart.percentiles({ title = "Latency percentiles per job", axis_label = "latency",
    series = series, note = total > #series and ("the first %d of %d jobs"):format(#series, total) })
end

-- For merged runs: the key metrics of each step, job and group, a column per run.
local function side_by_side(parts, ctx, state)
  local rows, by_key = {}, {}
  for _, e in ipairs(entries(ctx)) do
    for _, metric in ipairs(metrics.key_of(e.m.doc, e.values)) do
      local key = table.concat({ e.m.step.plain_name or e.m.step.name, e.key, e.group, metric }, "\0")
      if not by_key[key] then
        rows[#rows + 1] = { step = e.m.step.plain_name or e.m.step.name, job = e.key, io = e.group,
          metric = LABEL[metric] or metric, cells = {} }
        by_key[key] = rows[#rows]
      end
      by_key[key].cells[e.m.step.target or ""] = metrics.format(e.m.doc, metric, e.values[metric])
    end
  end
  if #rows == 0 then return "" end
  local heads = each(parts.th, state.target_order, function(label) return { text = label } end)
  return fill(parts.side, { heads = heads, rows = each(parts.siderow, rows, function(r)
    r.cells = each(parts.cell, state.target_order, function(label)
      return { text = r.cells[label] or "-", status = "" }
    end)
    return r
  end) })
end

--- The Metrics section at the top of the report ("" when no step has metrics).
function rm.summary(parts, ctx, state)
  local problems = {}
  for _, w in ipairs(ctx.warnings) do problems[#problems + 1] = { text = w } end
  for _, p in ipairs(state.problems or {}) do problems[#problems + 1] = { text = p } end
  if #ctx.found == 0 and #problems == 0 then return "" end
  local charts = {}
  for _, svg in ipairs({ bars(ctx, state, "iops", "IOPS per step and job", "IOPS") or false,
    bars(ctx, state, "bw", "Bandwidth per step and job", "bandwidth") or false,
    percentiles(ctx) or false }) do
    if svg then charts[#charts + 1] = fill(parts.chart, { svg = svg }) end
  end
  return fill(parts.metrics, { problems = each(parts.problem, problems),
    charts = table.concat(charts, "\n"), side = ctx.merged and side_by_side(parts, ctx, state) or "" })
end

-- The table of one job: a row per group, a column per key metric.
local function job_table(parts, doc, job, key)
  local groups, columns, seen = metrics.groups_of(doc, job), {}, {}
  for _, g in ipairs(groups) do
    for _, name in ipairs(metrics.key_of(doc, g.values)) do
      if not seen[name] then columns[#columns + 1], seen[name] = name, true end
    end
  end
  return fill(parts.jobmetrics, { job = key, file = job.file,
    heads = each(parts.th, columns, function(name) return { text = LABEL[name] or name } end),
    rows = each(parts.metricrow, groups, function(g)
      return { io = g.name, cells = each(parts.cell, columns, function(name)
        return { text = g.values[name] and metrics.format(doc, name, g.values[name]) or "-", status = "" }
      end) }
    end) })
end

-- The checks of a step and its regressions, as one table.
local function check_rows(parts, doc, s)
  local rows = {}
  for _, c in ipairs(s.analysis or {}) do
    if type(c) == "table" then
      rows[#rows + 1] = { job = c.job, io = c.direction, metric = c.metric, status = c.status,
        value = doc and type(c.value) == "number" and metrics.format(doc, c.metric, c.value) or c.value,
        range = c.range, mark = c.status == "pass" and "✓ pass" or "✗ fail" }
    end
  end
  for _, r in ipairs(s.regressions or {}) do
    rows[#rows + 1] = { job = r.job, io = r.direction, metric = r.metric, status = "fail",
      value = doc and metrics.format(doc, r.metric, r.new) or r.new, mark = "✗ regressed",
      range = string.format("baseline %s, %+.1f%%", doc and metrics.format(doc, r.metric, r.base)
        or tostring(r.base), (tonumber(r.change) or 0) * 100) }
  end
  if #rows == 0 then return "" end
  return fill(parts.checks, { rows = each(parts.check, rows) })
end

-- The series over time of a step (its series.yml), a chart per metric.
local function series_charts(parts, dir, s)
  local f = io.open(dir .. "/" .. s.rel .. "/series.yml", "rb")
  if not f then return "" end
  local doc = yaml.load(f:read("a"), s.rel .. "/series.yml")
  f:close()
  local by_metric, out = {}, {}
  for _, sr in ipairs(type(doc) == "table" and type(doc.series) == "table" and doc.series or {}) do
    local m = type(sr) == "table" and ({ iops = "iops", bw = "bw", lat = "lat", clat = "clat" })[sr.metric]
    if m and type(sr.points) == "table" then
      by_metric[m] = by_metric[m] or {}
      table.insert(by_metric[m], { name = tostring(sr.job), direction = sr.direction, points = sr.points })
    end
  end
  by_metric.lat = by_metric.lat or by_metric.clat -- total latency, else completion latency
  for _, m in ipairs({ { "iops", "IOPS over time", "iops" }, { "bw", "Bandwidth over time", "bw" },
    { "lat", "Latency over time", "ns" } }) do
    if by_metric[m[1]] then
      out[#out + 1] = fill(parts.chart, { svg = chart.timeseries({ title = m[2], kind = m[3],
        axis_label = m[2]:match("^(%S+)"), series = by_metric[m[1]] }) })
    end
  end
  return table.concat(out, "\n")
end

--- The metrics of step s in its part of the report ("" when it has none).
function rm.step(parts, ctx, dir, s)
  local doc = ctx.by_rel[s.rel]
  local checks = check_rows(parts, doc, s)
  if not doc and checks == "" then return "" end
  local tables = {}
  for i, key in ipairs(doc and metrics.job_keys(doc) or {}) do
    tables[i] = job_table(parts, doc, doc.jobs[i], key)
  end
  return fill(parts.stepmetrics, { rel = s.rel, tables = table.concat(tables, "\n"),
    checks = checks, charts = series_charts(parts, dir, s) })
end

--- The comparison with a baseline (compare.yml of the run), or "".
function rm.compare(parts, ctx, state)
  local c, docs = state.compare, {}
  for _, m in ipairs(ctx.found) do docs[m.step.name] = m.doc end
  if type(c) ~= "table" or type(c.rows) ~= "table" then return "" end
  local only = {}
  for _, key in ipairs({ "only_in_base", "only_in_new" }) do
    for _, what in ipairs(type(c[key]) == "table" and c[key] or {}) do
      only[#only + 1] = { text = (key == "only_in_base" and "only in the baseline: " or
        "only in this run: ") .. tostring(what) }
    end
  end
  return fill(parts.compare, { base = c.base, threshold = string.format("%g%%", (tonumber(c.threshold) or 0) * 100),
    regressions = c.regressions, improvements = c.improvements, only = each(parts.problem, only),
    rows = each(parts.comparerow, c.rows, function(r)
      return { step = r.step, job = r.job, io = r.direction, metric = LABEL[r.metric] or r.metric,
        base = docs[r.step] and metrics.format(docs[r.step], r.metric, r.base) or r.base,
        new = docs[r.step] and metrics.format(docs[r.step], r.metric, r.new) or r.new, status = r.status,
        change = r.change and string.format("%+.1f%%", r.change * 100) or "n/a" }
    end) })
end

--- The markdown table of the key metrics for the GitHub summary ("" when none).
function rm.markdown(parts, ctx)
  local rows = {}
  for _, e in ipairs(entries(ctx)) do
    local shown = {}
    for _, name in ipairs(metrics.key_of(e.m.doc, e.values)) do
      shown[#shown + 1] = (LABEL[name] or name) .. " " .. metrics.format(e.m.doc, name, e.values[name])
    end
    rows[#rows + 1] = { step = e.m.step.name, job = e.key, io = e.group, values = table.concat(shown, ", ") }
  end
  if #rows == 0 then return "" end
  return fill(parts.mdmetrics, { rows = each(parts.mdmetricrow, rows) })
end

return rm
