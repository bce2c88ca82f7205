-- The metrics of a run as `joe extract` wrote them (NNN_<step>/metrics.yml), for
-- whoever reads them: analyse, compare and the report. A metrics.yml says what its
-- numbers mean, so nothing here knows fio:
--
--   extractors: [fio.output]     what wrote it (absent: an older joe's, fio's)
--   units: {iops: IO/s, bw: B/s, lat: nsec, clat: nsec}   by metric name, or by the
--                                part of the name before its first "_" (lat_mean: lat)
--   better: {iops: higher}       optional; by default a rate (a unit ending in /s) is
--                                better higher, a time better lower, anything else neither
--   groups: [read, write, trim]  the groups of metrics a job may have (fio's directions)
--   key: [iops, bw, lat_mean, clat_p99]   the metrics tables and compare show first
--   jobs: [{job: rr, file: fio-rr.json, read: {iops: 14600, bw: 59801600, ...}}]
--
-- A unit is a time (nsec, usec, msec, sec, ns, us, ms, s, min), bytes (B, kB, KiB, MB,
-- MiB, ...), bytes per second (B/s, MiB/s, ...), or a count, optionally per second (IO/s,
-- ops/s, k, /s, or any word).
local units = require("cijoe.units")
local yaml = require("cijoe.yaml")

local metrics = {}

--- What an older joe's metrics.yml (fio's, with no `extractors`) meant.
metrics.FIO = { units = { iops = "IO/s", bw = "B/s", lat = "nsec", clat = "nsec", slat = "nsec" },
  groups = { "read", "write", "trim" }, key = { "iops", "bw", "lat_mean", "clat_p99" } }

--- Multipliers of the prefixes of counts and bytes.
metrics.PREFIX = { [""] = 1, k = 1e3, K = 1e3, M = 1e6, G = 1e9, T = 1e12, P = 1e15,
  Ki = 2 ^ 10, Mi = 2 ^ 20, Gi = 2 ^ 30, Ti = 2 ^ 40, Pi = 2 ^ 50 }
--- Time units in nanoseconds.
metrics.TIME = { nsec = 1, ns = 1, usec = 1e3, us = 1e3, ["µs"] = 1e3, msec = 1e6, ms = 1e6,
  sec = 1e9, s = 1e9, min = 60e9 }

local COUNT_WORDS = { IO = true, IOs = true, io = true, ios = true }

--- What a unit means: {kind = "time"|"bytes"|"count", scale (to ns, bytes or 1), rate
--- (per second), word (a count's own word: "ops"), text}. Every string is some unit.
function metrics.unit_info(unit)
  unit = tostring(unit or "")
  if metrics.TIME[unit] then return { kind = "time", scale = metrics.TIME[unit], text = unit } end
  local base, rate = unit:match("^(.-)/s$")
  rate = base ~= nil
  base = base or unit
  local prefix = base:match("^(%a?i?)B$")
  if prefix and metrics.PREFIX[prefix] then
    return { kind = "bytes", scale = metrics.PREFIX[prefix], rate = rate, text = unit }
  end
  if metrics.PREFIX[base] then
    return { kind = "count", scale = metrics.PREFIX[base], rate = rate, text = unit }
  end
  return { kind = "count", scale = 1, rate = rate, word = base, text = unit }
end

--- The unit of metric `name` in doc (a metrics.yml's table): units[name], else units of
--- the name's part before its first "_"; nil when it has none.
function metrics.unit(doc, name)
  local u = doc.units or {}
  return u[name] or u[tostring(name):match("^([^_]+)_") or false]
end

--- The kind units.format and cijoe.chart take for metric `name` of doc ("iops", "bw",
--- "bytes", "ns", "count"), and the factor from its values to that kind's base unit.
function metrics.chart_kind(doc, name)
  local info = metrics.unit_info(metrics.unit(doc, name))
  if info.kind == "time" then return "ns", info.scale end
  if info.kind == "bytes" then return info.rate and "bw" or "bytes", info.scale end
  if info.rate and COUNT_WORDS[info.word or "IO"] then return "iops", info.scale end
  return "count", info.scale, info.word
end

--- A value of metric `name` of doc in human units: "14.6k IO/s", "57.0 MiB/s", "48.2 µs".
function metrics.format(doc, name, value)
  local kind, scale, word = metrics.chart_kind(doc, name)
  if type(value) ~= "number" then return units.format(value, kind) end
  local text = units.format(value * scale, kind)
  if word and word ~= "" then text = text .. " " .. word .. (metrics.unit_info(
    metrics.unit(doc, name)).rate and "/s" or "") end
  return text
end

--- Whether more of metric `name` is better ("higher"), worse ("lower"), or neither (nil).
function metrics.better(doc, name)
  local b = doc.better or {}
  local given = b[name] or b[tostring(name):match("^([^_]+)_") or false]
  if given == "higher" or given == "lower" then return given end
  local info = metrics.unit_info(metrics.unit(doc, name))
  if info.kind == "time" then return "lower" end
  if info.rate then return "higher" end
end

-- The "file:line:column" of t[key] in a loaded file (marks from yaml.load).
local function at(path, marks, t, key)
  return path .. ":" .. (((marks or {})[t] or {})[key] or "1:1")
end

-- The strings of a list (a metrics.yml written by hand may hold anything).
local function strings(list)
  local out = {}
  for _, v in ipairs(type(list) == "table" and list or {}) do
    if type(v) == "string" then out[#out + 1] = v end
  end
  return out
end

-- A name as messages show it: on one line.
local function shown(name)
  return (tostring(name):gsub("%c", "?"))
end

-- The problems of a metrics.yml: jobs that are not mappings (left out), values that are
-- not numbers (left out), metrics with no unit; each "file:line:column: problem".
local function check(doc, path, marks)
  local problems, kept = {}, {}
  for i, job in ipairs(doc.jobs) do
    if type(job) ~= "table" then
      problems[#problems + 1] = at(path, marks, doc.jobs, i) .. ": a job must be a mapping"
    else
      kept[#kept + 1] = job
      for _, group in ipairs(doc.groups) do
        for name, v in pairs(type(job[group]) == "table" and job[group] or {}) do
          local where = at(path, marks, job[group], name)
          if type(v) ~= "number" then
            problems[#problems + 1] = where .. ": metric '" .. shown(name) .. "' is not a number"
            job[group][name] = nil
          elseif not metrics.unit(doc, name) then
            problems[#problems + 1] = where .. ": metric '" .. shown(name)
              .. "' has no unit (add it to `units`); shown as a plain number"
          end
        end
      end
    end
  end
  doc.jobs = kept
  return problems
end

--- Read a metrics.yml. Returns its table with units, groups, key and jobs filled in (an
--- older joe's as fio's), and a list of warnings ("file:line:column: problem"); or nil
--- and the message when it cannot be read at all.
function metrics.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return metrics.parse(text, path)
end

--- A metrics.yml's text (named path in messages) read as metrics.read does.
function metrics.parse(text, path)
  local doc, marks = yaml.load(text, path)
  if type(doc) ~= "table" then
    return nil, type(marks) == "string" and marks or path .. ":1:1: not a mapping of jobs"
  end
  if type(doc.jobs) ~= "table" then
    return nil, at(path, marks, doc, "jobs") .. ": no list of jobs"
  end
  local old = doc.extractors == nil
  for _, key in ipairs({ "groups", "key" }) do
    doc[key] = old and metrics.FIO[key] or strings(doc[key])
  end
  for _, key in ipairs({ "units", "better" }) do
    local given = type(doc[key]) == "table" and doc[key] or {}
    doc[key] = {}
    for k, v in pairs(old and key == "units" and metrics.FIO.units or {}) do doc[key][k] = v end
    for k, v in pairs(given) do
      if type(k) == "string" then doc[key][k] = tostring(v) end
    end
  end
  return doc, check(doc, path, marks)
end

--- The metrics of every step of a run that has them: a list of {step (its record, with
--- rel), doc} in the steps' order, and the warnings of all files. A metrics.yml that
--- cannot be read is a warning too; its step is left out.
function metrics.of_run(dir, state)
  local found, warnings = {}, {}
  for _, s in ipairs(state.steps) do
    local path = dir .. "/" .. require("cijoe.record").rel(s) .. "/metrics.yml"
    if require("cijoe.fs").stat(path) then
      local doc, problems = metrics.read(path)
      if doc then found[#found + 1] = { step = s, doc = doc } end
      for _, p in ipairs(doc and problems or { problems }) do warnings[#warnings + 1] = p end
    end
  end
  return found, warnings
end

--- The names of a doc's jobs in order, a name's second job "name#2" (numjobs gives several
--- of one name), as compare and the report tell them apart.
function metrics.job_keys(doc)
  local keys, seen = {}, {}
  for i, job in ipairs(doc.jobs) do
    local key, n = tostring(job.job), 1
    while seen[key] do n = n + 1 key = tostring(job.job) .. "#" .. n end
    keys[i], seen[key] = key, true
  end
  return keys
end

--- The groups of a job that hold metrics, in the doc's order: list of {name, values}.
function metrics.groups_of(doc, job)
  local out = {}
  for _, g in ipairs(doc.groups) do
    if type(job[g]) == "table" and next(job[g]) then
      out[#out + 1] = { name = g, values = job[g] }
    end
  end
  return out
end

--- The key metrics of a group: doc.key's names the group has, with "lat_pNN" standing in
--- for "clat_pNN" when the job measured both (fio's total latency over completion's).
function metrics.key_of(doc, values)
  local out = {}
  for _, name in ipairs(doc.key) do
    local total = tostring(name):gsub("^clat_p", "lat_p")
    if total ~= name and values[total] then name = total end
    if values[name] then out[#out + 1] = name end
  end
  return out
end

return metrics
