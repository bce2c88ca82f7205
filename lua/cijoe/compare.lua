-- `joe compare BASE NEW [-t 5%] [--metrics a,b|all]` (and `joe analyse --baseline`):
-- the metrics of two runs side by side, per step, job, group and metric, with the change
-- and, where a metric has a better direction (more IOPS is better, more latency worse),
-- a regression beyond the threshold marked. Steps, jobs and groups are matched by name;
-- those only one run has are listed, not an error. The result goes to NEW/compare.yml,
-- which NEW's report shows (and fails on a regression, cijoe.checks).
local metrics = require("cijoe.metrics")
local yaml = require("cijoe.yaml")

local compare = { THRESHOLD = 0.05 }

--- The threshold of -t: "5%", "5" (both 5 %) or "0.5%"; as a fraction, or nil and why.
function compare.threshold(text)
  if text == nil then return compare.THRESHOLD end
  local n = tonumber((tostring(text):gsub("%%$", "")))
  if not n or n < 0 or n ~= n then
    return nil, "-t: a threshold such as 5% is expected, not '" .. tostring(text) .. "'"
  end
  return n / 100
end

-- Each step's metrics by its name, and each job by its name (the second job of a name is
-- "name#2": numjobs gives several): name -> {doc, order, jobs = {key -> job}, names}.
local function index(found)
  local by_step, order = {}, {}
  for _, m in ipairs(found) do
    local entry = { doc = m.doc, jobs = {}, names = metrics.job_keys(m.doc) }
    for i, key in ipairs(entry.names) do entry.jobs[key] = m.doc.jobs[i] end
    if not by_step[m.step.name] then order[#order + 1] = m.step.name end
    by_step[m.step.name] = entry
  end
  return by_step, order
end

-- The status of a change: regression, improvement, same (within the threshold), changed
-- (beyond it, for a metric with no better direction) or n/a (a base of zero).
local function verdict(base, new, better, threshold)
  if base == 0 then return new == 0 and "same" or "n/a", nil end
  local change = (new - base) / math.abs(base)
  if math.abs(change) <= threshold then return "same", change end
  if not better then return "changed", change end
  local worse = (better == "higher") == (change < 0)
  return worse and "regression" or "improvement", change
end

-- The metrics to compare in one group: the wanted ones (a set; nil: the doc's key ones).
local function names_of(doc, values, other, wanted)
  local list = {}
  if wanted and wanted.all then
    for name in pairs(values) do list[#list + 1] = name end
    table.sort(list)
  elseif wanted then
    for _, name in ipairs(wanted) do list[#list + 1] = name end
  else
    list = metrics.key_of(doc, values)
  end
  local out = {}
  for _, name in ipairs(list) do
    if type(values[name]) == "number" and type(other[name]) == "number" then
      out[#out + 1] = name
    end
  end
  return out
end

-- The rows of one step both runs have, and what only one of them has.
local function compare_step(name, b, n, ctx)
  for _, key in ipairs(b.names) do
    local bj, nj = b.jobs[key], n.jobs[key]
    if not nj then ctx.only_base[#ctx.only_base + 1] = name .. " / " .. key end
    for _, g in ipairs(nj and metrics.groups_of(b.doc, bj) or {}) do
      local other = type(nj[g.name]) == "table" and nj[g.name] or nil
      if not other then
        ctx.only_base[#ctx.only_base + 1] = name .. " / " .. key .. " / " .. g.name
      end
      for _, metric in ipairs(other and names_of(b.doc, g.values, other, ctx.wanted) or {}) do
        local status, change = verdict(g.values[metric], other[metric],
          metrics.better(n.doc, metric), ctx.threshold)
        ctx.rows[#ctx.rows + 1] = { step = name, job = key, direction = g.name, metric = metric,
          base = g.values[metric], new = other[metric], change = change, status = status,
          shown = { metrics.format(b.doc, metric, g.values[metric]), metrics.format(n.doc, metric,
            other[metric]) } }
      end
    end
  end
  for _, key in ipairs(n.names) do
    if not b.jobs[key] then ctx.only_new[#ctx.only_new + 1] = name .. " / " .. key end
  end
end

--- Compare two runs' metrics ({step, doc} lists, as cijoe.metrics.of_run gives them).
--- opts: threshold (a fraction), metrics (a list of names, {all = true}, or nil for each
--- extractor's key ones). Returns {rows = {{step, job, direction, metric, base, new,
--- change, status}}, only_base, only_new, regressions, improvements}.
function compare.runs(base_found, new_found, opts)
  local b, b_order = index(base_found)
  local n, n_order = index(new_found)
  local ctx = { rows = {}, only_base = {}, only_new = {}, threshold = opts.threshold,
    wanted = opts.metrics }
  for _, name in ipairs(b_order) do
    if n[name] then
      compare_step(name, b[name], n[name], ctx)
    else
      ctx.only_base[#ctx.only_base + 1] = name
    end
  end
  for _, name in ipairs(n_order) do
    if not b[name] then ctx.only_new[#ctx.only_new + 1] = name end
  end
  local counts = { regression = 0, improvement = 0 }
  for _, r in ipairs(ctx.rows) do counts[r.status] = (counts[r.status] or 0) + 1 end
  return { rows = ctx.rows, only_base = ctx.only_base, only_new = ctx.only_new,
    regressions = counts.regression, improvements = counts.improvement }
end

-- The change of a row as text: "+3.2%", or "n/a".
local function change_text(r)
  return r.change and string.format("%+.1f%%", r.change * 100) or "n/a"
end

-- Print the comparison: a table of the rows, what only one run has, the counts.
local function print_result(result, base, new, threshold)
  local rows = { { "step", "job", "io", "metric", "base", "new", "change", "result" } }
  for _, r in ipairs(result.rows) do
    rows[#rows + 1] = { r.step, r.job, r.direction, r.metric, r.shown[1], r.shown[2],
      change_text(r), r.status == "same" and "" or r.status }
  end
  require("cijoe.analyse").print_table(rows)
  for _, what in ipairs(result.only_base) do print("only in " .. base .. ": " .. what) end
  for _, what in ipairs(result.only_new) do print("only in " .. new .. ": " .. what) end
  print(string.format("%d compared, %d regressions, %d improvements (threshold %g%%)",
    #result.rows, result.regressions, result.improvements, threshold * 100))
end

--- The --metrics option as compare.runs takes it: nil, {all = true} or a list of names.
function compare.wanted(text)
  if text == nil then return nil end
  if text == "all" then return { all = true } end
  local list = {}
  for name in tostring(text):gmatch("[^,%s]+") do list[#list + 1] = name end
  return list
end

--- joe compare BASE NEW: compare, print, write NEW/compare.yml. opts: threshold (-t
--- text), metrics (--metrics text). Returns the exit status: 0, 1 on a regression (or
--- when compare.yml could not be written), 2 for bad input.
function compare.main(base, new, opts)
  local threshold, terr = compare.threshold(opts.threshold)
  if not threshold then io.stderr:write("joe: ", terr, "\n") return 2 end
  local analyse = require("cijoe.analyse")
  local _, base_found = analyse.run_metrics(base)
  if type(base_found) ~= "table" then return base_found end
  local _, new_found = analyse.run_metrics(new)
  if type(new_found) ~= "table" then return new_found end
  local result = compare.runs(base_found, new_found, { threshold = threshold,
    metrics = compare.wanted(opts.metrics) })
  print_result(result, base, new, threshold)
  local rows = {}
  for i, r in ipairs(result.rows) do
    rows[i] = { step = r.step, job = r.job, direction = r.direction, metric = r.metric,
      base = r.base, new = r.new, shown = r.shown, change = r.change, status = r.status }
  end
  local ok, err = yaml.write(new .. "/compare.yml", { base = base, new = new,
    threshold = threshold, status = result.regressions > 0 and "fail" or "pass",
    compared = #rows, regressions = result.regressions, improvements = result.improvements,
    rows = rows, only_in_base = result.only_base, only_in_new = result.only_new })
  if not ok then io.stderr:write("joe: ", tostring(err), "\n") return 1 end
  return result.regressions > 0 and 1 or 0
end

return compare
