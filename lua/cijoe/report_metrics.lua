-- The metrics in report.html: at the top, bar charts of each key rate (IOPS, bandwidth)
-- per step and job with the required ranges and the baseline, the latency percentiles
-- of every job, and for merged runs a table of them side by side; in each step, a table
-- per job, its checks and its series over time; and the comparison with a baseline.
-- Everything comes from the files of `joe extract`, `joe analyse` and `joe compare`
-- (cijoe.metrics), so it works for any extractor's metrics.
-- The charts (and the chart and SVG code under them) load only for a run with metrics:
-- one without, the most common kind, then starts and ends 0.6 ms sooner.
local charts = setmetatable({}, { __index = function(_, name)
  return require("cijoe.report_charts")[name]
end })
local metrics = require("cijoe.metrics")
local t = require("cijoe.report_template")

local rm = {}

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

-- For merged runs: the key metrics of each step, job and group, a column per run.
local function side_by_side(parts, ctx, state)
  local rows, by_key = {}, {}
  for _, e in ipairs(charts.entries(ctx)) do
    for _, metric in ipairs(metrics.key_of(e.m.doc, e.values)) do
      local step = e.m.step.plain_name or e.m.step.name
      local key = table.concat({ step, e.key, e.group, metric }, "\0")
      if not by_key[key] then
        rows[#rows + 1] = { step = step, job = e.key, io = e.group,
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
  local shown = {}
  for _, svg in ipairs({
    charts.bars(ctx, state, "iops", "IOPS per step and job", "IOPS") or false,
    charts.bars(ctx, state, "bw", "Bandwidth per step and job", "bandwidth") or false,
    charts.percentiles(ctx) or false }) do
    if svg then shown[#shown + 1] = fill(parts.chart, { svg = svg }) end
  end
  return fill(parts.metrics, { problems = each(parts.problem, problems),
    charts = table.concat(shown, "\n"),
    side = ctx.merged and side_by_side(parts, ctx, state) or "" })
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
        local v = g.values[name]
        return { text = v and metrics.format(doc, name, v) or "-", status = "" }
      end) }
    end) })
end

-- The checks of a step and its regressions, as one table.
local function check_rows(parts, doc, s)
  local rows = {}
  for _, c in ipairs(s.analysis or {}) do
    if type(c) == "table" then
      rows[#rows + 1] = { job = c.job, io = c.direction, metric = c.metric, status = c.status,
        value = doc and type(c.value) == "number" and metrics.format(doc, c.metric, c.value)
          or c.value,
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
    checks = checks, charts = charts.series(parts, dir, s) })
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
  local function shown(r, value)
    return docs[r.step] and metrics.format(docs[r.step], r.metric, value) or value
  end
  return fill(parts.compare, { base = c.base,
    threshold = string.format("%g%%", (tonumber(c.threshold) or 0) * 100),
    regressions = c.regressions, improvements = c.improvements, only = each(parts.problem, only),
    rows = each(parts.comparerow, c.rows, function(r)
      return { step = r.step, job = r.job, io = r.direction, metric = LABEL[r.metric] or r.metric,
        base = shown(r, r.base), new = shown(r, r.new), status = r.status,
        change = r.change and string.format("%+.1f%%", r.change * 100) or "n/a" }
    end) })
end

--- The markdown table of the key metrics for the GitHub summary ("" when none).
function rm.markdown(parts, ctx)
  if #ctx.found == 0 then return "" end
  local rows = {}
  for _, e in ipairs(charts.entries(ctx)) do
    local shown = {}
    for _, name in ipairs(metrics.key_of(e.m.doc, e.values)) do
      shown[#shown + 1] = (LABEL[name] or name) .. " "
        .. metrics.format(e.m.doc, name, e.values[name])
    end
    rows[#rows + 1] = { step = e.m.step.name, job = e.key, io = e.group,
      values = table.concat(shown, ", ") }
  end
  if #rows == 0 then return "" end
  return fill(parts.mdmetrics, { rows = each(parts.mdmetricrow, rows) })
end

return rm
