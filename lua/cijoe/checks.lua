-- The verdicts of `joe analyse` and `joe compare` joined to a run's record, for the
-- reports (record.state): a step's record (workflow.state, from the journal) says what
-- its function did, and stays so; the report says more: a step whose metrics failed a
-- check of its analysis.yml, or regressed in compare.yml, is failed there, and so is its
-- run (report.html, junit.xml, the GitHub summary and `joe report`'s exit status). A
-- requirement that matched no metric (analysis.yml's `unmatched`) fails the run.
local yaml = require("cijoe.yaml")

local checks = {}

-- A YAML file as a table; nil when it is missing or not a mapping.
local function load(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local doc = yaml.load(f:read("a"), path)
  f:close()
  return type(doc) == "table" and doc or nil
end

-- "rr read iops 0.0143 M outside [1; 10] M": one failed check, for messages (values as
-- analyse and compare showed them).
local function describe(c)
  local shown = type(c.shown) == "table" and c.shown or {}
  if c.change then
    return string.format("%s %s %s regressed %+.1f%%: %s -> %s", tostring(c.job),
      tostring(c.direction), tostring(c.metric), c.change * 100, tostring(shown[1] or c.base),
      tostring(shown[2] or c.new))
  end
  local value = type(c.shown) == "string" and c.shown or c.value
  return string.format("%s %s %s = %s outside %s", tostring(c.job), tostring(c.direction),
    tostring(c.metric), tostring(value), tostring(c.range))
end

-- Mark step s failed by its failed checks (a list), unless it failed already.
local function fail_step(s, failed, total, what)
  local lines = {}
  for i, c in ipairs(failed) do lines[i] = describe(c) end
  s.checks_failed = (s.checks_failed or 0) + #failed
  if s.status ~= "passed" then return false end
  s.status = "failed"
  local head = string.format("%d of %d %s failed:", #failed, total, what)
  s.failure = { kind = "check", message = head .. " " .. lines[1] }
  s.error = head .. "\n" .. table.concat(lines, "\n")
  return true
end

-- The regressions of a compare.yml by step name: name -> {rows}.
local function regressions(doc)
  local by_step = {}
  for _, row in ipairs(doc and type(doc.rows) == "table" and doc.rows or {}) do
    if type(row) == "table" and row.status == "regression" then
      by_step[row.step] = by_step[row.step] or {}
      table.insert(by_step[row.step], row)
    end
  end
  return by_step
end

-- Join one step's analysis.yml and its regressions; true when the step became failed.
local function join_step(dir, s, regressed)
  local changed = false
  local a = load(dir .. "/" .. require("cijoe.record").rel(s) .. "/analysis.yml")
  if a and type(a.checks) == "table" then
    s.analysis = a.checks
    local failed = {}
    for _, c in ipairs(a.checks) do
      if type(c) == "table" and c.status ~= "pass" then failed[#failed + 1] = c end
    end
    if #failed > 0 then changed = fail_step(s, failed, #a.checks, "checks") end
  end
  if regressed and #regressed > 0 then
    s.regressions = regressed
    changed = fail_step(s, regressed, #regressed, "metrics compared with the baseline") or changed
  end
  return changed
end

-- The failures of a run as a whole: the requirements its analysis.yml says matched no
-- metric, as "file:line:column: matches no measured metric" lines.
local function unmatched(doc)
  local out = {}
  for _, u in ipairs(doc and type(doc.unmatched) == "table" and doc.unmatched or {}) do
    if type(u) == "table" then out[#out + 1] = tostring(u.at) .. ": matches no measured metric" end
  end
  return out
end

--- Join the analysis and compare results of the run in dir (and of each run it merges)
--- to its record, as the file's head says. Sets s.analysis (the checks), s.regressions,
--- s.checks_failed, state.problems (requirements that matched nothing), state.compare.
function checks.join(dir, state)
  local own = regressions(load(dir .. "/compare.yml"))
  local by_target, problems = {}, unmatched(load(dir .. "/analysis.yml"))
  state.compare = load(dir .. "/compare.yml")
  for label in pairs(state.targets or {}) do
    by_target[label] = regressions(load(dir .. "/" .. label .. "/compare.yml"))
    for _, p in ipairs(unmatched(load(dir .. "/" .. label .. "/analysis.yml"))) do
      problems[#problems + 1] = label .. ": " .. p
      if state.targets[label] == "passed" then state.targets[label] = "failed" end
    end
  end
  local failed = #problems > 0
  for _, s in ipairs(state.steps) do
    local regressed = own[s.name] or s.target and (by_target[s.target] or {})[s.plain_name]
    if join_step(dir, s, regressed) then
      failed = true
      if s.target and state.targets[s.target] == "passed" then
        state.targets[s.target] = "failed"
      end
    end
  end
  state.problems = #problems > 0 and problems or nil
  if failed and state.status == "passed" then state.status = "failed" end
  return state
end

return checks
