-- `joe analyse [outdir] -r FILE [--baseline DIR]`: check the metrics of a run's steps
-- (their metrics.yml, from `joe extract`) against the ranges of a requirements file
-- (cijoe.requirements: joe's format or CIJOE's perfreq) and write analysis.yml into each
-- step and into the run; with --baseline, compare with another run too (cijoe.compare).
local fs = require("cijoe.fs")
local metrics = require("cijoe.metrics")
local record = require("cijoe.record")
local requirements = require("cijoe.requirements")
local yaml = require("cijoe.yaml")

local analyse = { DEFAULT_DIR = "cijoe-output/latest" }

-- Print "joe: msg" on stderr and return status, as the CLI does.
local function die(msg, status)
  io.stderr:write("joe: ", msg, "\n")
  return status
end

-- The names a requirement may give step s: its name, its name in its own run (a target
-- of --each, a run of a merged report), its folder, and its folder without the number.
local function step_names(s)
  local folder = record.rel(s):match("([^/]+)$")
  return { [s.name] = true, [s.plain_name or s.name] = true, [folder] = true,
    [folder:gsub("^%d+_", "")] = true }
end

-- True when requirement r applies to job `job` of step s (names: step_names(s)) of the
-- run named run_name.
local function applies(r, names, s, job, run_name)
  local scope = r.scope
  local safe = scope.step and require("cijoe.run").safe_name(scope.step)
  if scope.step and not names[scope.step] and not names[safe] then return false end
  if scope.suite and scope.suite ~= s.target and scope.suite ~= run_name then return false end
  return not scope.job or scope.job == job
end

-- The checks of one job's metrics: for each metric with a requirement, the most specific
-- one (highest level); marks every requirement that saw a value as used.
local function job_checks(ctx, m, job, checks)
  local names = step_names(m.step)
  for _, g in ipairs(metrics.groups_of(m.doc, job)) do
    local best = {}
    for _, r in ipairs(ctx.reqs) do
      local value = g.values[r.metric]
      if (r.direction == nil or r.direction == g.name) and value
        and applies(r, names, m.step, job.job, ctx.run_name) then
        r.used = true
        local other = best[r.metric]
        if not other or r.scope.level > other.scope.level then best[r.metric] = r end
      end
    end
    for metric, r in pairs(best) do
      local value = g.values[metric]
      local own = metrics.unit_info(metrics.unit(m.doc, metric)).scale
      local inside = requirements.contains(r.range, value * own)
      checks[#checks + 1] = { step = record.rel(m.step), job = job.job, file = job.file,
        direction = g.name, metric = metric, value = value, range = r.range.text,
        requirement = r.at, status = inside and "pass" or "fail",
        shown = string.format("%.4g", value * own / r.range.scale) .. (r.range.unit == "" and ""
          or " " .. r.range.unit) }
    end
  end
end

-- Sort checks by step, job, direction, metric, so the table and files read the same each time.
local function sort_checks(list)
  table.sort(list, function(a, b)
    if a.step ~= b.step then return a.step < b.step end
    if a.job ~= b.job then return tostring(a.job) < tostring(b.job) end
    if a.direction ~= b.direction then return a.direction < b.direction end
    return a.metric < b.metric
  end)
end

-- What a check looks like in analysis.yml (no display fields).
local function check_record(c)
  return { step = c.step, job = c.job, file = c.file, direction = c.direction,
    metric = c.metric, value = c.value, shown = c.shown, range = c.range,
    requirement = c.requirement, status = c.status }
end

-- passed, failed and the status of a list of checks (and of failures besides).
local function summary(list, extra_failures)
  local passed, failed = 0, extra_failures or 0
  for _, c in ipairs(list) do
    if c.status == "pass" then passed = passed + 1 else failed = failed + 1 end
  end
  return passed, failed, failed > 0 and "fail" or "pass"
end

-- Check each step's metrics and write its analysis.yml. Returns every check and the
-- steps' records, or nil and a message.
local function analyse_steps(outdir, ctx)
  local all, records = {}, {}
  for _, m in ipairs(ctx.found) do
    local list = {}
    for _, job in ipairs(m.doc.jobs) do job_checks(ctx, m, job, list) end
    sort_checks(list)
    local out = {}
    for i, c in ipairs(list) do out[i] = check_record(c) end
    local passed, failed, status = summary(list)
    local ok, err = yaml.write(outdir .. "/" .. record.rel(m.step) .. "/analysis.yml", {
      requirements = ctx.req_path, status = status, passed = passed, failed = failed,
      checks = out })
    if not ok then return nil, err end
    records[#records + 1] = { step = record.rel(m.step), status = status, passed = passed,
      failed = failed }
    for _, c in ipairs(list) do all[#all + 1] = c end
  end
  return all, records
end

-- The requirements that matched no measured metric, in the order of the file.
local function unmatched(reqs)
  local unused = {}
  for _, r in ipairs(reqs) do
    if not r.used then
      unused[#unused + 1] = { at = r.at, direction = r.direction, metric = r.metric }
    end
  end
  table.sort(unused, function(a, b) return requirements.by_position(a.at, b.at) end)
  return unused
end

--- Print rows (lists of cells) as a table whose columns are as wide as their widest cell.
function analyse.print_table(rows)
  local width = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do width[i] = math.max(width[i] or 0, utf8.len(cell) or #cell) end
  end
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = cell .. string.rep(" ", width[i] - (utf8.len(cell) or #cell))
    end
    print((table.concat(cells, "  "):gsub("%s+$", "")))
  end
end

-- Check every step, write the analysis files, print the table; returns the exit status.
local function run_analysis(outdir, ctx)
  local all, step_records = analyse_steps(outdir, ctx)
  if not all then return die(step_records, 1) end
  local unused, records = unmatched(ctx.reqs), {}
  for _, c in ipairs(all) do records[#records + 1] = check_record(c) end
  local passed, failed, status = summary(all, #unused)
  local ok, err = yaml.write(outdir .. "/analysis.yml", { requirements = ctx.req_path,
    status = status, passed = passed, failed = failed, steps = step_records, checks = records,
    unmatched = unused })
  if not ok then return die(err, 1) end
  local rows = { { "step", "job", "io", "metric", "value", "range", "result" } }
  for _, c in ipairs(all) do
    rows[#rows + 1] = { c.step, tostring(c.job), c.direction, c.metric, c.shown, c.range, c.status }
  end
  analyse.print_table(rows)
  for _, u in ipairs(unused) do print(u.at .. ": matches no measured metric (fail)") end
  print(string.format("%d passed, %d failed", passed, failed))
  return failed > 0 and 1 or 0
end

--- The metrics of the run in outdir: its record and {step, doc} per step with metrics;
--- or nil and the exit status after saying what is wrong. Warnings (a metric with no
--- unit) go to stderr.
function analyse.run_metrics(outdir)
  if (fs.stat(outdir) or {}).type ~= "directory" then
    return nil, die(outdir .. ": no such directory", 2)
  end
  local ok, state = pcall(record.state, outdir)
  if not ok then return nil, die(state, 2) end
  local found, warnings = metrics.of_run(outdir, state)
  for _, w in ipairs(warnings) do io.stderr:write("joe: ", w, "\n") end
  if #found == 0 then
    return nil, die(outdir .. ": no metrics.yml in its steps (run `joe extract` first)", 2)
  end
  return state, found
end

--- joe analyse [outdir] [-r requirements.yml] [--baseline DIR -t 5%]: check the metrics
--- of each step of the run in outdir (default cijoe-output/latest) against the
--- requirements (default ./requirements.yml; none needed with a baseline), write
--- analysis.yml into each step and into outdir, print a table; with opts.baseline,
--- compare too (cijoe.compare). Returns the exit status: 0 when every check passed, 1 on
--- any miss (a value out of its range, a requirement that matched no measured metric, a
--- regression), 2 for bad input.
function analyse.main(outdir, opts)
  outdir, opts = outdir or analyse.DEFAULT_DIR, opts or {}
  local req_path = opts.requirements
  if not req_path and fs.stat("requirements.yml") then req_path = "requirements.yml" end
  if not req_path and not opts.baseline then
    return die("no requirements: give a file with -r, or put requirements.yml in this folder", 2)
  end
  if not fs.stat(outdir) then return die(outdir .. ": no such directory", 2) end
  local file, err = nil, nil
  if req_path then
    file, err = requirements.read(req_path)
    if not file then return die(err, 2) end
  end
  local state, found = analyse.run_metrics(outdir)
  if not state then return found end
  local status = 0
  if file then
    local docs = {}
    for i, m in ipairs(found) do docs[i] = m.doc end
    local reqs, rerr = requirements.load(file, docs)
    if not reqs then return die(rerr, 2) end
    status = run_analysis(outdir, { reqs = reqs, found = found, req_path = req_path,
      run_name = state.name or outdir:match("([^/]+)/*$") })
  end
  if opts.baseline then
    status = math.max(status, require("cijoe.compare").main(opts.baseline, outdir, opts))
  end
  return status
end

return analyse
