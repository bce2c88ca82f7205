--- fio's output in a step's artifacts: every *.json that is fio's (holds "fio version")
--- as metrics per job and direction; its --status-interval documents and the logs of
--- write_iops_log, write_bw_log and write_lat_log (fio-<name>_<kind>.<job>.log, as
--- fio.run fetches them) as series over time.
-- See packages/fio/README.md for the metrics and their units.
local fio = require("fio")
local flog = require("fio.log")

local output = {
  units = { iops = "IO/s", bw = "B/s", lat = "nsec", clat = "nsec", slat = "nsec" },
  groups = { "read", "write", "trim" },
  key = { "iops", "bw", "lat_mean", "clat_p99" },
}

local DIRECTIONS = output.groups
local LOG_KINDS = { iops = true, bw = true, lat = true, clat = true, slat = true }

-- The whole content of a file, or nil and a message.
local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

-- "99.500000" -> "99.5": the percentile part of a metric name.
local function percentile_name(key)
  return string.format("%g", tonumber(key))
end

-- The metrics of one direction of a fio job: iops, bw, the total latency (lat_*) and the
-- completion latency percentiles (clat_pNN; lat_pNN too when fio measured them).
local function direction_metrics(d)
  local m = { iops = d.iops, bw = d.bw_bytes or (tonumber(d.bw) and d.bw * 1024) }
  local lat, clat = type(d.lat_ns) == "table" and d.lat_ns or {},
    type(d.clat_ns) == "table" and d.clat_ns or {}
  m.lat_mean, m.lat_min, m.lat_max, m.lat_stddev = lat.mean, lat.min, lat.max, lat.stddev
  m.clat_mean = clat.mean
  for prefix, source in pairs({ clat = clat, lat = lat }) do
    local list = type(source.percentile) == "table" and source.percentile or {}
    for key, value in pairs(list) do
      if tonumber(key) then m[prefix .. "_p" .. percentile_name(key)] = value end
    end
  end
  for name, value in pairs(m) do
    if type(value) ~= "number" then m[name] = nil end -- fio's "nan", or a torn file
  end
  return m
end

-- One job of fio's output as {job =, file =, read =, write =, trim =}; a direction that
-- did no I/O is left out.
local function job_metrics(job, file)
  local rec = { job = tostring(job.jobname), file = file }
  for _, dir in ipairs(DIRECTIONS) do
    local d = job[dir]
    if type(d) == "table" and (tonumber(d.total_ios) or 0) > 0 then
      rec[dir] = direction_metrics(d)
    end
  end
  return rec
end

-- A job of fio's JSON that failed (fio's "error" field), as the problem it is.
local function job_error(job, path)
  local err = tonumber(job.error) or 0
  if err == 0 then return nil end
  return string.format("%s: job '%s' ended with fio error %d%s; its numbers are kept",
    path, tostring(job.jobname), err, job.error_str and ": " .. tostring(job.error_str) or "")
end

-- The names of a JSON's jobs as the metrics tell them apart: a name's second job (a
-- clone of numjobs) is "name#2", as cijoe.metrics.job_keys makes them.
local function job_keys(names)
  local keys, seen = {}, {}
  for i, name in ipairs(names) do
    local key, n = name, 1
    while seen[key] do n = n + 1 key = name .. "#" .. n end
    keys[i], seen[key] = key, true
  end
  return keys
end

-- The series of a --status-interval output (more than one document), into series.
local function status_series(text, path, file, keys, acc)
  local _, count = text:gsub('"fio version"', "")
  if count < 2 then return end
  local got, err = flog.status(text, path)
  if not got then acc.problems[#acc.problems + 1] = err return end
  for _, metric in ipairs({ "iops", "bw" }) do
    for _, s in ipairs(got[metric]) do
      acc.series[#acc.series + 1] = { metric = metric, job = keys[s.job] or s.name,
        direction = s.direction, file = file, points = s.points }
    end
  end
end

-- Read one fio JSON artifact into jobs (and its status series); the job names by job
-- number go into names[<file without .json>] for the logs.
local function read_json(step, name, acc)
  local path = step.dir .. "/artifacts/" .. name
  local text = read_file(path)
  if not (text and text:find('"fio version"', 1, true)) then return end
  local doc, err = fio.decode(text, path)
  if not doc then acc.problems[#acc.problems + 1] = err return end
  local names = {}
  for i, job in ipairs(type(doc.jobs) == "table" and doc.jobs or {}) do
    if type(job) == "table" then
      acc.jobs[#acc.jobs + 1], names[i] = job_metrics(job, name), tostring(job.jobname)
      acc.problems[#acc.problems + 1] = job_error(job, path)
    end
  end
  local keys = job_keys(names)
  acc.names[name:gsub("%.json$", "")] = keys
  status_series(text, path, name, keys, acc)
end

-- The job a log belongs to: job number n of its JSON (as job_keys names it); else nil.
local function log_job(acc, prefix, n)
  return (acc.names[prefix] or {})[tonumber(n)]
end

-- Read one fio log artifact (<prefix>_<kind>.<n>.log) into series.
local function read_log(step, name, acc)
  local prefix, kind, n = name:match("^(.*)_(%a+)%.(%d+)%.log$")
  if not LOG_KINDS[kind or ""] then return end
  local got, err = flog.read(step.dir .. "/artifacts/" .. name)
  if not got then acc.problems[#acc.problems + 1] = err return end
  for _, s in ipairs(got.series) do
    if #s.points > 0 then
      acc.series[#acc.series + 1] = { metric = kind, job = log_job(acc, prefix, n) or s.name,
        direction = s.direction, file = name, averaged = got.averaged, points = s.points }
    end
  end
end

--- The metrics of a step's fio artifacts: {jobs, series} (nil when the step has none)
--- and the problems found ("file:line:column: problem"; the other files still count).
function output.extract(step)
  local acc = { jobs = {}, series = {}, problems = {}, names = {} }
  for _, name in ipairs(step.artifacts) do
    if name:match("%.json$") then read_json(step, name, acc) end
  end
  for _, name in ipairs(step.artifacts) do
    if name:match("%.log$") then read_log(step, name, acc) end
  end
  if #acc.jobs == 0 and #acc.series == 0 then return nil, acc.problems end
  return { jobs = acc.jobs, series = acc.series }, acc.problems
end

return output
