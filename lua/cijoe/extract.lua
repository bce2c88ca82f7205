-- `joe extract [outdir]`: the metrics of every step's artifacts, by the extractors of
-- the packages (packages/<pkg>/extractors/<name>.lua, named "<pkg>.<name>", found where
-- worklets are: built in, ./packages, JOE_PATH, ~/.local/share/joe/packages), into
-- NNN_<step>/metrics.yml (cijoe.metrics says what it holds) and, for series over time,
-- NNN_<step>/series.yml. An extractor is a table:
--
--   { units = {metric or name part -> unit}, groups = {...}, key = {...},
--     better = {metric -> "higher"|"lower"} (optional),
--     extract = function(step) -> {jobs = {...}, series = {...}} or nil, problems }
--
-- where step is {dir (the step's folder), rel, name, artifacts (file names, sorted)}.
local fs = require("cijoe.fs")
local packages = require("cijoe.packages")
local record = require("cijoe.record")
local yaml = require("cijoe.yaml")

local extract = { MAX_POINTS = 2000 } -- a series' samples kept in series.yml

-- Print "joe: msg" on stderr and return status.
local function die(msg, status)
  io.stderr:write("joe: ", msg, "\n")
  return status
end

--- Every extractor of every package, sorted by name: a list of {name, module}, and the
--- problems of those that could not be loaded.
function extract.extractors()
  local found, problems = {}, {}
  for pkg, info in pairs(packages.list()) do
    for file in pairs(info.files) do
      local name = file:match("^extractors/([%w_-]+)%.lua$")
      if name then
        local ok, mod = pcall(require, pkg .. ".extractors." .. name)
        if ok and type(mod) == "table" and type(mod.extract) == "function" then
          found[#found + 1] = { name = pkg .. "." .. name, module = mod }
        else
          problems[#problems + 1] = "extractor " .. pkg .. "." .. name .. ": "
            .. (ok and "must return a table with an extract function" or tostring(mod))
        end
      end
    end
  end
  table.sort(found, function(a, b) return a.name < b.name end)
  return found, problems
end

-- A long series cut to MAX_POINTS: of each bucket of samples, the least and greatest (in
-- time order), so spikes stay where a chart would draw them.
local function thin(points)
  local n = #points
  if n <= extract.MAX_POINTS then return points end
  local per, out = math.ceil(n / (extract.MAX_POINTS / 2)), {}
  for i = 1, n, per do
    local lo, hi = points[i], points[i]
    for j = i + 1, math.min(n, i + per - 1) do
      local p = points[j]
      if type(p[2]) == "number" and (type(lo[2]) ~= "number" or p[2] < lo[2]) then lo = p end
      if type(p[2]) == "number" and (type(hi[2]) ~= "number" or p[2] > hi[2]) then hi = p end
    end
    if lo[1] > hi[1] then lo, hi = hi, lo end
    out[#out + 1] = lo
    if hi ~= lo then out[#out + 1] = hi end
  end
  return out
end

-- Add an extractor's result to the step's combined metrics; a unit two extractors give
-- differently is a problem.
local function add_result(doc, series, ex, result, problems)
  doc.extractors[#doc.extractors + 1] = ex.name
  for key, list in pairs({ units = ex.module.units, better = ex.module.better }) do
    for name, value in pairs(list or {}) do
      if doc[key][name] and doc[key][name] ~= value then
        problems[#problems + 1] = string.format("extractor %s: %s of %s is %s, another's says %s",
          ex.name, key, name, tostring(value), tostring(doc[key][name]))
      end
      doc[key][name] = doc[key][name] or value
    end
  end
  for _, key in ipairs({ "groups", "key" }) do
    for _, name in ipairs(ex.module[key] or {}) do
      if not doc.seen[key .. "\0" .. name] then table.insert(doc[key], name) end
      doc.seen[key .. "\0" .. name] = true
    end
  end
  for _, job in ipairs(result.jobs or {}) do
    job.extractor = ex.name
    doc.jobs[#doc.jobs + 1] = job
  end
  for _, s in ipairs(result.series or {}) do
    s.extractor, s.points = ex.name, thin(s.points or {})
    series[#series + 1] = s
  end
end

-- Run every extractor on one step; write its metrics.yml (and series.yml). Returns the
-- number of jobs and series, or nil when no extractor found anything.
local function extract_step(dir, s, extractors, problems)
  local folder = dir .. "/" .. record.rel(s)
  local artifacts = fs.dir(folder .. "/artifacts")
  if not artifacts then return nil end
  table.sort(artifacts)
  local step = { dir = folder, rel = record.rel(s), name = s.name, artifacts = artifacts }
  local doc = { extractors = {}, units = {}, better = {}, groups = {}, key = {}, jobs = {},
    seen = {} }
  local series = {}
  for _, ex in ipairs(extractors) do
    local ok, result, found = pcall(ex.module.extract, step)
    if not ok then result, found = nil, { "extractor " .. ex.name .. ": " .. tostring(result) } end
    for _, p in ipairs(type(found) == "table" and found or {}) do problems[#problems + 1] = p end
    if type(result) == "table" then
      add_result(doc, series, ex, result, problems)
    elseif result ~= nil then
      problems[#problems + 1] = "extractor " .. ex.name .. ": returned a " .. type(result)
        .. ", not a table of jobs and series"
    end
  end
  if #doc.extractors == 0 then return nil end
  doc.seen = nil
  local ok, err = yaml.write(folder .. "/metrics.yml", doc)
  if ok and #series > 0 then ok, err = yaml.write(folder .. "/series.yml", { series = series }) end
  if not ok then return nil, err end
  return #doc.jobs, #series
end

--- joe extract [outdir]: write metrics.yml into each step folder of the run in outdir
--- (default cijoe-output/latest; a run of --each or a merged report: every run's steps)
--- whose artifacts an extractor reads, and print one line per step. Returns the exit
--- status: 0, 1 when a file could not be read (the others are still extracted), 2 when
--- the run holds no results any extractor reads.
function extract.main(outdir)
  outdir = outdir or "cijoe-output/latest"
  if (fs.stat(outdir) or {}).type ~= "directory" then
    return die(outdir .. ": no such directory", 2)
  end
  local extractors, problems = extract.extractors()
  local ok, state = pcall(record.plain, outdir)
  if not ok then return die(state, 2) end
  local steps = 0
  for _, s in ipairs(state.steps) do
    local jobs, series = extract_step(outdir, s, extractors, problems)
    if jobs then
      steps = steps + 1
      print(string.format("%s/metrics.yml: %d job%s%s", record.rel(s), jobs,
        jobs == 1 and "" or "s", series > 0 and (", %d series over time"):format(series) or ""))
    elseif series then
      return die(series, 1)
    end
  end
  for _, msg in ipairs(problems) do die(msg, 1) end
  if steps == 0 and #problems == 0 then
    local names = {}
    for i, ex in ipairs(extractors) do names[i] = ex.name end
    return die(outdir .. ": nothing in its steps' artifacts that an extractor reads ("
      .. table.concat(names, ", ") .. ")", 2)
  end
  return #problems > 0 and 1 or 0
end

return extract
