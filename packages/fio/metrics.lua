--- fio.metrics: `joe extract` turns the fio JSON artifacts of a run into metrics.yml per
-- step; `joe analyse` checks those metrics against the ranges of a requirements file and
-- writes analysis.yml per step and for the run. Units: iops in IO/s, bw in bytes/s,
-- latencies in nsec.
local fs = require("cijoe.fs")
local yaml = require("cijoe.yaml")
local fio = require("fio")

local metrics = {}

local DEFAULT_DIR = "cijoe-output/latest"
local DIRECTIONS = { "read", "write", "trim" }
local UNITS = { iops = "IO/s", bw = "B/s", lat = "nsec" }

-- The whole content of a file, or nil and a message.
local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

-- Print "joe: msg" on stderr and return status, as the CLI does.
local function die(msg, status)
  io.stderr:write("joe: ", msg, "\n")
  return status
end

-- The step folders of a run (NNN_<name>), in order.
local function step_dirs(outdir)
  local dirs = {}
  for _, name in ipairs(fs.dir(outdir) or {}) do
    if name:match("^%d%d%d+_") and (fs.stat(outdir .. "/" .. name) or {}).type == "directory" then
      dirs[#dirs + 1] = name
    end
  end
  return dirs
end

-- "99.500000" -> "99.5": the percentile part of a metric name.
local function percentile_name(key)
  return string.format("%g", tonumber(key))
end

-- The metrics of one direction of a fio job: iops, bw, the total latency (lat_*) and the
-- completion latency percentiles (clat_pNN; lat_pNN too when fio measured them).
local function direction_metrics(d)
  local m = { iops = d.iops, bw = d.bw_bytes or (d.bw and d.bw * 1024) }
  local lat, clat = d.lat_ns or {}, d.clat_ns or {}
  m.lat_mean, m.lat_min, m.lat_max, m.lat_stddev = lat.mean, lat.min, lat.max, lat.stddev
  m.clat_mean = clat.mean
  for prefix, source in pairs({ clat = clat, lat = lat }) do
    for key, value in pairs(source.percentile or {}) do
      if tonumber(key) then m[prefix .. "_p" .. percentile_name(key)] = value end
    end
  end
  return m
end

-- One job of fio's output as {job =, file =, read =, write =, trim =}; a direction that
-- did no I/O is left out.
local function job_metrics(job, file)
  local rec = { job = job.jobname, file = file }
  for _, dir in ipairs(DIRECTIONS) do
    local d = job[dir]
    if type(d) == "table" and (d.total_ios or 0) > 0 then rec[dir] = direction_metrics(d) end
  end
  return rec
end

-- The fio JSON files of a step's artifacts (any *.json that is fio output), parsed, as a
-- list of {file, doc}; unreadable ones go into problems.
local function fio_results(stepdir, problems)
  local found = {}
  for _, name in ipairs(fs.dir(stepdir .. "/artifacts") or {}) do
    local path = stepdir .. "/artifacts/" .. name
    local text = name:match("%.json$") and read_file(path)
    if text and text:find('"fio version"', 1, true) then
      local doc, err = fio.decode(text, path)
      if doc then found[#found + 1] = { file = name, doc = doc } else problems[#problems + 1] = err end
    end
  end
  return found
end

-- Write metrics.yml of one step from its fio results; returns the number of jobs, or nil
-- and a message.
local function extract_step(stepdir, results)
  local jobs = {}
  for _, r in ipairs(results) do
    for _, job in ipairs(r.doc.jobs or {}) do jobs[#jobs + 1] = job_metrics(job, r.file) end
  end
  local ok, err = yaml.write(stepdir .. "/metrics.yml", { units = UNITS, jobs = jobs })
  if not ok then return nil, err end
  return #jobs
end

--- joe extract [outdir]: write metrics.yml into each step folder of the run in outdir
--- (default cijoe-output/latest) that holds fio JSON artifacts, and print one line per
--- step. Returns the exit status: 0, 1 when a fio file could not be read (the others are
--- still extracted), 2 when the run holds no fio results.
function metrics.extract(outdir)
  outdir = outdir or DEFAULT_DIR
  if not fs.stat(outdir) then return die(outdir .. ": no such directory", 2) end
  local problems, steps = {}, 0
  for _, name in ipairs(step_dirs(outdir)) do
    local results = fio_results(outdir .. "/" .. name, problems)
    if #results > 0 then
      local n, err = extract_step(outdir .. "/" .. name, results)
      if not n then return die(err, 1) end
      steps = steps + 1
      print(string.format("%s/metrics.yml: %d job%s", name, n, n == 1 and "" or "s"))
    end
  end
  for _, msg in ipairs(problems) do die(msg, 1) end
  if steps == 0 and #problems == 0 then return die(outdir .. ": no fio results in its steps' artifacts", 2) end
  return #problems > 0 and 1 or 0
end

-- Ranges --------------------------------------------------------------------------------

-- Multipliers: SI and binary prefixes, and the time units (latencies are in nsec).
local PREFIX = { [""] = 1, k = 1e3, K = 1e3, M = 1e6, G = 1e9, T = 1e12,
  Ki = 2 ^ 10, Mi = 2 ^ 20, Gi = 2 ^ 30, Ti = 2 ^ 40 }
local TIME = { nsec = 1, ns = 1, usec = 1e3, us = 1e3, msec = 1e6, ms = 1e6, sec = 1e9, s = 1e9 }

-- What a metric measures: "count" (iops), "bytes" (bw) or "time" (latencies); nil for a
-- name that is no metric.
local function metric_kind(name)
  if name == "iops" then return "count" end
  if name == "bw" then return "bytes" end
  if ({ lat_mean = 1, lat_min = 1, lat_max = 1, lat_stddev = 1, clat_mean = 1 })[name]
    or name:match("^c?lat_p%d+%.?%d*$") then
    return "time"
  end
end

-- The factor of `unit` for a metric of `kind`, or nil and why the unit does not fit.
local function unit_scale(unit, kind)
  if kind == "time" then
    if unit == "" or TIME[unit] then return TIME[unit] or 1 end
    return nil, "unit '" .. unit .. "' is not a time (nsec, usec, msec, sec)"
  end
  local prefix = unit
  if kind == "bytes" then prefix = unit:gsub("/s$", ""):gsub("B$", "") end
  if PREFIX[prefix] then return PREFIX[prefix] end
  return nil, "unit '" .. unit .. "' does not fit " .. (kind == "bytes"
    and "a bandwidth (B, kB, MB, GB, KiB, MiB, GiB, optionally /s)" or "a count (k, M, G, Ki, Mi, Gi)")
end

-- A bound of a range: a number, or inf/-inf.
local function bound(text)
  local inf = { inf = math.huge, ["+inf"] = math.huge, ["-inf"] = -math.huge }
  return inf[text] or tonumber(text)
end

--- Parse a range such as "[200; 999] k", "(3; 9] usec" or "[1; inf) MiB/s" for a metric of
--- kind "count", "bytes" or "time". Returns {lo, hi, lo_open, hi_open, scale, unit, text}
--- with lo and hi in the metric's own unit, or nil and what is wrong.
function metrics.parse_range(text, kind)
  if type(text) ~= "string" then return nil, 'a range such as "[200; 999] k" is expected' end
  local open, lo, hi, close, unit =
    text:match("^%s*([%[%(])%s*([^;]-)%s*;%s*([^%]%)]-)%s*([%]%)])%s*(.-)%s*$")
  if not open then return nil, 'bad range "' .. text .. '": expected "[low; high] unit"' end
  local l, h = bound(lo), bound(hi)
  if not l or not h then return nil, 'bad range "' .. text .. '": the bounds must be numbers' end
  if l > h then return nil, 'bad range "' .. text .. '": the low bound is above the high one' end
  local scale, err = unit_scale(unit, kind)
  if not scale then return nil, 'bad range "' .. text .. '": ' .. err end
  return { lo = l * scale, hi = h * scale, lo_open = open == "(", hi_open = close == ")",
    scale = scale, unit = unit, text = text }
end

-- True when value lies in range r.
local function in_range(value, r)
  local above = r.lo_open and value > r.lo or not r.lo_open and value >= r.lo
  local below = r.hi_open and value < r.hi or not r.hi_open and value <= r.hi
  return above and below
end

-- Requirements --------------------------------------------------------------------------

-- "file:line:column" of t[key] in the requirements file.
local function location(ctx, t, key)
  return ctx.file .. ":" .. ((ctx.marks[t] or {})[key] or "1:1")
end

-- Note a problem of the requirements file.
local function problem(ctx, where, msg)
  ctx.problems[#ctx.problems + 1] = where .. ": " .. msg
end

-- The ranges of one direction (metric -> range) of a scope, into ctx.reqs.
local function direction_reqs(t, scope, direction, ctx)
  for metric, text in pairs(t) do
    local where = location(ctx, t, metric)
    local kind = metric_kind(tostring(metric))
    local r, err = nil, "unknown metric '" .. tostring(metric) .. "' (iops, bw, lat_mean, "
      .. "lat_min, lat_max, lat_stddev, clat_mean, clat_pNN, lat_pNN)"
    if kind then r, err = metrics.parse_range(text, kind) end
    if r then
      ctx.reqs[#ctx.reqs + 1] = { scope = scope, direction = direction, metric = metric,
        range = r, at = where }
    else
      problem(ctx, where, err)
    end
  end
end

-- The requirements of a scope: read/write/trim -> metric -> range, and, unless the scope
-- is a job, `jobs`: job name -> scope. The level orders them, the more specific winning:
-- 1 workflow, 2 workflow.jobs.<job>, 3 steps.<step>, 4 steps.<step>.jobs.<job>.
local function scope_reqs(t, scope, ctx, where)
  if type(t) ~= "table" then return problem(ctx, where, "a mapping is expected") end
  for key, value in pairs(t) do
    local at = location(ctx, t, key)
    if (key == "read" or key == "write" or key == "trim") and type(value) == "table" then
      direction_reqs(value, scope, key, ctx)
    elseif key == "jobs" and not scope.job and type(value) == "table" then
      for name, jt in pairs(value) do
        scope_reqs(jt, { step = scope.step, job = tostring(name), level = scope.level + 1 }, ctx,
          location(ctx, value, name))
      end
    else
      problem(ctx, at, "'" .. tostring(key) .. "' is not read, write, trim"
        .. (scope.job and "" or " or jobs") .. " (each a mapping)")
    end
  end
end

-- The top level of a requirements document: `workflow` (a scope) and `steps` (step name
-- -> scope).
local function document_reqs(doc, ctx)
  for key, value in pairs(doc) do
    local where = location(ctx, doc, key)
    if key == "workflow" then
      scope_reqs(value, { level = 1 }, ctx, where)
    elseif key == "steps" and type(value) == "table" then
      for step, st in pairs(value) do
        scope_reqs(st, { step = tostring(step), level = 3 }, ctx, location(ctx, value, step))
      end
    else
      problem(ctx, where, "'" .. tostring(key) .. "' is not workflow or steps (each a mapping)")
    end
  end
end

-- Order "file:line:column[: problem]" texts by line, then column.
local function by_position(a, b)
  local la, ca = a:match(":(%d+):(%d+)")
  local lb, cb = b:match(":(%d+):(%d+)")
  la, ca, lb, cb = tonumber(la) or 0, tonumber(ca) or 0, tonumber(lb) or 0, tonumber(cb) or 0
  if la ~= lb then return la < lb end
  return ca < cb
end

--- Load a requirements file (see DESIGN.md, Metrics). Returns the list of requirements
--- ({scope = {step, job, level}, direction, metric, range, at = "file:line:column"}), or nil
--- and the problems, one "file:line:column: problem" per line.
function metrics.load_requirements(path)
  local text, err = read_file(path)
  if not text then return nil, err end
  if not text:gsub("#[^\n]*", ""):find("%S") then -- yaml.load fails on an empty text
    return nil, path .. ":1:1: no requirements in the file"
  end
  local doc, marks = yaml.load(text, path)
  if type(marks) == "string" then return nil, marks end
  if type(doc) ~= "table" then return nil, path .. ":1:1: a mapping of workflow and steps is expected" end
  local ctx = { file = path, marks = marks, reqs = {}, problems = {} }
  document_reqs(doc, ctx)
  if #ctx.problems > 0 then
    table.sort(ctx.problems, by_position)
    return nil, table.concat(ctx.problems, "\n")
  end
  return ctx.reqs
end

-- Analysis ------------------------------------------------------------------------------

-- True when requirement r applies to job `job` of step folder `stepdir`.
local function applies(r, stepdir, job)
  local s = r.scope
  if s.step and s.step ~= stepdir and require("cijoe.run").safe_name(s.step) ~= stepdir:gsub("^%d+_", "") then
    return false
  end
  return not s.job or s.job == job
end

-- The checks of one job's metrics: for each metric with a requirement, the most specific
-- one (highest level); marks every requirement that saw a value as used.
local function job_checks(stepdir, jm, reqs, checks)
  for _, dir in ipairs(DIRECTIONS) do
    local best = {}
    for _, r in ipairs(reqs) do
      local value = jm[dir] and jm[dir][r.metric]
      if r.direction == dir and value and applies(r, stepdir, jm.job) then
        r.used = true
        if not best[r.metric] or r.scope.level > best[r.metric].scope.level then best[r.metric] = r end
      end
    end
    for metric, r in pairs(best) do
      local value = jm[dir][metric]
      checks[#checks + 1] = { step = stepdir, job = jm.job, file = jm.file, direction = dir,
        metric = metric, value = value, range = r.range.text, requirement = r.at,
        status = in_range(value, r.range) and "pass" or "fail", scale = r.range.scale,
        unit = r.range.unit }
    end
  end
end

-- Sort checks by step, job, direction, metric, so the table and files read the same each time.
local function sort_checks(checks)
  table.sort(checks, function(a, b)
    if a.step ~= b.step then return a.step < b.step end
    if a.job ~= b.job then return tostring(a.job) < tostring(b.job) end
    if a.direction ~= b.direction then return a.direction < b.direction end
    return a.metric < b.metric
  end)
end

-- What a check looks like in analysis.yml (no display fields).
local function check_record(c)
  return { step = c.step, job = c.job, file = c.file, direction = c.direction,
    metric = c.metric, value = c.value, range = c.range, requirement = c.requirement,
    status = c.status }
end

-- {passed, failed, status} of a list of checks.
local function summary(checks, extra_failures)
  local passed, failed = 0, extra_failures or 0
  for _, c in ipairs(checks) do
    if c.status == "pass" then passed = passed + 1 else failed = failed + 1 end
  end
  return passed, failed, failed > 0 and "fail" or "pass"
end

-- Write analysis.yml of a step from its checks.
local function write_step_analysis(outdir, stepdir, checks, req_path)
  local records = {}
  for _, c in ipairs(checks) do records[#records + 1] = check_record(c) end
  local passed, failed, status = summary(checks)
  return yaml.write(outdir .. "/" .. stepdir .. "/analysis.yml", { requirements = req_path,
    status = status, passed = passed, failed = failed, checks = records })
end

-- A value in the unit of its range, for the table: "14.6 k", "48.2 usec".
local function shown(c)
  local text = string.format("%.4g", c.value / c.scale)
  return c.unit == "" and text or text .. " " .. c.unit
end

-- The table of checks on stdout, then the requirements that matched nothing.
local function print_table(checks, unused)
  local rows = { { "step", "job", "io", "metric", "value", "range", "result" } }
  for _, c in ipairs(checks) do
    rows[#rows + 1] = { c.step, tostring(c.job), c.direction, c.metric, shown(c), c.range, c.status }
  end
  local width = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do width[i] = math.max(width[i] or 0, #cell) end
  end
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do cells[i] = cell .. string.rep(" ", width[i] - #cell) end
    print((table.concat(cells, "  "):gsub("%s+$", "")))
  end
  for _, u in ipairs(unused) do print(u.at .. ": matches no measured metric (fail)") end
end

-- The metrics.yml of every step that has one: list of {stepdir, doc}.
local function load_metrics(outdir)
  local found = {}
  for _, name in ipairs(step_dirs(outdir)) do
    local path = outdir .. "/" .. name .. "/metrics.yml"
    local text = read_file(path)
    if text then
      local doc, err = yaml.load(text, path)
      if not doc then return nil, err end
      found[#found + 1] = { stepdir = name, doc = doc }
    end
  end
  return found
end

-- Check each step's metrics and write its analysis.yml. Returns every check and the
-- steps' records, or nil and a message.
local function analyse_steps(outdir, steps, reqs, req_path)
  local all, records = {}, {}
  for _, s in ipairs(steps) do
    local checks = {}
    for _, jm in ipairs(s.doc.jobs or {}) do job_checks(s.stepdir, jm, reqs, checks) end
    sort_checks(checks)
    local ok, err = write_step_analysis(outdir, s.stepdir, checks, req_path)
    if not ok then return nil, err end
    local passed, failed, status = summary(checks)
    records[#records + 1] = { step = s.stepdir, status = status, passed = passed, failed = failed }
    for _, c in ipairs(checks) do all[#all + 1] = c end
  end
  return all, records
end

-- The requirements that matched no measured metric, in the order of the file.
local function unmatched(reqs)
  local unused = {}
  for _, r in ipairs(reqs) do
    if not r.used then unused[#unused + 1] = { at = r.at, direction = r.direction, metric = r.metric } end
  end
  table.sort(unused, function(a, b) return by_position(a.at, b.at) end)
  return unused
end

-- Check every step, write the analysis files, print the table; returns the exit status.
local function run_analysis(outdir, steps, reqs, req_path)
  local all, step_records = analyse_steps(outdir, steps, reqs, req_path)
  if not all then return die(step_records, 1) end
  local unused, records = unmatched(reqs), {}
  for _, c in ipairs(all) do records[#records + 1] = check_record(c) end
  local passed, failed, status = summary(all, #unused)
  local ok, err = yaml.write(outdir .. "/analysis.yml", { requirements = req_path,
    status = status, passed = passed, failed = failed, steps = step_records, checks = records,
    unmatched = unused })
  if not ok then return die(err, 1) end
  print_table(all, unused)
  print(string.format("%d passed, %d failed", passed, failed))
  return failed > 0 and 1 or 0
end

--- joe analyse [outdir] [-r requirements.yml]: check the metrics.yml of each step of the
--- run in outdir (default cijoe-output/latest) against the requirements (default
--- ./requirements.yml), write analysis.yml into each step and into outdir, print a table.
--- Returns the exit status: 0 when every check passed, 1 on any miss (a value out of its
--- range, or a requirement that matched no measured metric), 2 for bad input.
function metrics.analyse(outdir, req_path)
  outdir = outdir or DEFAULT_DIR
  if not fs.stat(outdir) then return die(outdir .. ": no such directory", 2) end
  if not req_path and not fs.stat("requirements.yml") then
    return die("no requirements: give a file with -r, or put requirements.yml in this folder", 2)
  end
  req_path = req_path or "requirements.yml"
  local reqs, err = metrics.load_requirements(req_path)
  if not reqs then return die(err, 2) end
  local steps, lerr = load_metrics(outdir)
  if not steps then return die(lerr, 2) end
  if #steps == 0 then return die(outdir .. ": no metrics.yml in its steps (run `joe extract` first)", 2) end
  return run_analysis(outdir, steps, reqs, req_path)
end

return metrics
