-- Requirements on metrics (`joe analyse -r FILE`): joe's own format (workflow, steps,
-- jobs, groups: see DESIGN.md, Metrics) and CIJOE's perf requirement files (Bash
-- CIJOE's cij_analyser format, CIJOE's example.perfreq: `global: metrics:`,
-- `global: testcases:`, `<testsuite>: <testcase>:`), both read into one list of
-- requirements. A range is "[low; high] unit"; ( ) or, as CIJOE writes them, ] [ on the
-- outside of a bound make it exclusive.
local metrics = require("cijoe.metrics")
local yaml = require("cijoe.yaml")

local requirements = {}

-- CIJOE's metric names (its fio extractors') and joe's for the same measure.
local CIJOE_NAMES = { iops = "iops", bwps = "bw", lat = "lat_mean", stddev = "lat_stddev" }

-- A bound of a range: a number, or inf/-inf.
local function bound(text)
  local inf = { inf = math.huge, ["+inf"] = math.huge, ["-inf"] = -math.huge }
  return inf[text] or tonumber(text)
end

-- The factor of `unit` for a metric of `kind` whose own unit has the factor own, or nil
-- and why the unit does not fit.
local function unit_scale(unit, kind, own)
  if unit == "" then return own end
  if kind == "time" then
    if metrics.TIME[unit] then return metrics.TIME[unit] end
    return nil, "unit '" .. unit .. "' is not a time (nsec, usec, msec, sec)"
  end
  local prefix = unit
  if kind == "bytes" then prefix = unit:gsub("/s$", ""):gsub("B$", "") end
  if metrics.PREFIX[prefix] and prefix ~= "" then return metrics.PREFIX[prefix] end
  return nil, "unit '" .. unit .. "' does not fit " .. (kind == "bytes"
    and "a bandwidth (B, kB, MB, GB, KiB, MiB, GiB, optionally /s)"
    or "a count (k, M, G, Ki, Mi, Gi)")
end

--- Parse a range such as "[200; 999] k", "(3; 9] usec", "]3; 9] usec" or "[1; inf) MiB/s"
--- for a metric of kind "count", "bytes" or "time" whose own unit is `own` times the base
--- unit (nsec, bytes; default 1). Returns {lo, hi, lo_open, hi_open, scale, unit, text}
--- with lo and hi in the base unit, or nil and what is wrong.
function requirements.parse_range(text, kind, own)
  if type(text) ~= "string" then return nil, 'a range such as "[200; 999] k" is expected' end
  local open, lo, hi, close, unit =
    text:match("^%s*([%[%(%]])%s*([^;]-)%s*;%s*([^%]%)%[]-)%s*([%]%)%[])%s*(.-)%s*$")
  if not open then return nil, 'bad range "' .. text .. '": expected "[low; high] unit"' end
  local l, h = bound(lo), bound(hi)
  if not l or not h then return nil, 'bad range "' .. text .. '": the bounds must be numbers' end
  if l > h then return nil, 'bad range "' .. text .. '": the low bound is above the high one' end
  local scale, err = unit_scale(unit, kind, own or 1)
  if not scale then return nil, 'bad range "' .. text .. '": ' .. err end
  return { lo = l * scale, hi = h * scale, lo_open = open ~= "[", hi_open = close ~= "]",
    scale = scale, unit = unit, text = text }
end

--- True when value (in the base unit) lies in range r.
function requirements.contains(r, value)
  local above = r.lo_open and value > r.lo or not r.lo_open and value >= r.lo
  local below = r.hi_open and value < r.hi or not r.hi_open and value <= r.hi
  return above and below
end

-- A key as messages show it: on one line.
local function shown(key)
  return (tostring(key):gsub("%c", "?"))
end

-- "file:line:column" of t[key] in the requirements file.
local function location(ctx, t, key)
  return ctx.file .. ":" .. ((ctx.marks[t] or {})[key] or "1:1")
end

-- Note a problem of the requirements file, on one line (problems are listed one per line,
-- and a quoted value may hold line breaks).
local function problem(ctx, where, msg)
  ctx.problems[#ctx.problems + 1] = where .. ": " .. shown(msg)
end

-- The requirement of one metric (name -> range text) of a scope, into ctx.reqs; group nil
-- means every group a job measured (CIJOE's files name no direction).
local function metric_req(ctx, t, name, scope, group)
  local where, metric = location(ctx, t, name), tostring(name)
  if ctx.cijoe then metric = CIJOE_NAMES[metric] or metric end
  local known = ctx.known[metric] or ctx.known[metric:match("^([^_]+)_") or false]
  if not known then
    return problem(ctx, where, "unknown metric '" .. shown(name) .. "' (no step's metrics "
      .. "have it or a unit for it; units: " .. ctx.known_list .. ")")
  end
  local r, err = requirements.parse_range(t[name], known.kind, known.scale)
  if not r then return problem(ctx, where, err) end
  ctx.reqs[#ctx.reqs + 1] = { scope = scope, direction = group, metric = metric, range = r,
    at = where }
end

-- The requirements of a scope: group -> metric -> range, and, unless the scope is a job,
-- `jobs`: job name -> scope. The level orders them, the more specific winning:
-- 1 workflow, 2 workflow.jobs.<job>, 3 steps.<step>, 4 steps.<step>.jobs.<job>.
local function scope_reqs(t, scope, ctx, where)
  if type(t) ~= "table" then return problem(ctx, where, "a mapping is expected") end
  for key, value in pairs(t) do
    if ctx.groups[key] and type(value) == "table" then
      for metric in pairs(value) do metric_req(ctx, value, metric, scope, key) end
    elseif key == "jobs" and not scope.job and type(value) == "table" then
      for name, jt in pairs(value) do
        scope_reqs(jt, { step = scope.step, job = tostring(name), level = scope.level + 1 }, ctx,
          location(ctx, value, name))
      end
    else
      problem(ctx, location(ctx, t, key), "'" .. shown(key) .. "' is not " .. ctx.group_list
        .. (scope.job and "" or " or jobs") .. " (each a mapping)")
    end
  end
end

-- joe's format: `workflow` (a scope) and `steps` (step name -> scope).
local function joe_reqs(doc, ctx)
  for key, value in pairs(doc) do
    local where = location(ctx, doc, key)
    if key == "workflow" then
      scope_reqs(value, { level = 1 }, ctx, where)
    elseif key == "steps" and type(value) == "table" then
      for step, st in pairs(value) do
        scope_reqs(st, { step = tostring(step), level = 3 }, ctx, location(ctx, value, step))
      end
    else
      problem(ctx, where, "'" .. shown(key) .. "' is not workflow or steps (each a mapping)")
    end
  end
end

-- The metrics of a CIJOE scope (metric -> range), each for every group.
local function cijoe_metrics(t, scope, ctx, where)
  if type(t) ~= "table" then return problem(ctx, where, "a mapping of metrics is expected") end
  for name in pairs(t) do metric_req(ctx, t, name, scope, nil) end
end

-- CIJOE's format: global.metrics (every testcase), global.testcases.<testcase>, and
-- <testsuite>.<testcase> (a testcase is a step; a testsuite the run's name or target).
local function cijoe_reqs(doc, ctx)
  for key, value in pairs(doc) do
    local where = location(ctx, doc, key)
    if type(value) ~= "table" then
      problem(ctx, where, "a mapping is expected")
    elseif key == "global" then
      for gkey, gvalue in pairs(value) do
        local at = location(ctx, value, gkey)
        if gkey == "metrics" then
          cijoe_metrics(gvalue, { level = 1 }, ctx, at)
        elseif gkey == "testcases" and type(gvalue) == "table" then
          for tc, t in pairs(gvalue) do
            cijoe_metrics(t, { step = tostring(tc), level = 3 }, ctx, location(ctx, gvalue, tc))
          end
        else
          problem(ctx, at, "'" .. shown(gkey)
            .. "' is not metrics or testcases (each a mapping)")
        end
      end
    else
      for tc, t in pairs(value) do
        cijoe_metrics(t, { suite = tostring(key), step = tostring(tc), level = 4 }, ctx,
          location(ctx, value, tc))
      end
    end
  end
end

-- Order "file:line:column[: problem]" texts by line, then column.
function requirements.by_position(a, b)
  local la, ca = a:match(":(%d+):(%d+)")
  local lb, cb = b:match(":(%d+):(%d+)")
  la, ca, lb, cb = tonumber(la) or 0, tonumber(ca) or 0, tonumber(lb) or 0, tonumber(cb) or 0
  if la ~= lb then return la < lb end
  return ca < cb
end

-- What the metrics of a run make known: metric (or name part) -> {kind, scale}, the groups
-- as a set and as text.
local function known_of(docs, ctx)
  ctx.known, ctx.groups, ctx.group_list = {}, {}, {}
  local names = {}
  for _, doc in ipairs(docs) do
    for name, unit in pairs(doc.units) do
      if not ctx.known[name] then names[#names + 1] = name end
      ctx.known[name] = ctx.known[name] or metrics.unit_info(unit)
    end
    for _, job in ipairs(doc.jobs) do
      for _, g in ipairs(metrics.groups_of(doc, job)) do
        for name in pairs(g.values) do
          ctx.known[name] = ctx.known[name] or metrics.unit_info(metrics.unit(doc, name))
        end
      end
    end
    for _, g in ipairs(doc.groups) do
      if not ctx.groups[g] then ctx.group_list[#ctx.group_list + 1], ctx.groups[g] = g, true end
    end
  end
  table.sort(names)
  ctx.known_list = table.concat(names, ", ")
  ctx.group_list = table.concat(ctx.group_list, ", ")
end

--- Read a requirements file: its YAML, or nil and the message (a missing file, a syntax
--- error). The document is checked against metrics by requirements.load.
function requirements.read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return requirements.parse(text, path)
end

--- The YAML of requirements in text (named path in messages), as requirements.read.
function requirements.parse(text, path)
  if not text:gsub("#[^\n]*", ""):find("%S") then -- yaml.load fails on an empty text
    return nil, path .. ":1:1: no requirements in the file"
  end
  local doc, marks = yaml.load(text, path)
  if type(marks) == "string" then return nil, marks end
  if type(doc) ~= "table" then
    return nil, path .. ":1:1: a mapping of workflow and steps is expected"
  end
  return { doc = doc, marks = marks, file = path }
end

--- The requirements of a file read by requirements.read, checked against the metrics
--- docs of a run (metrics.read's tables), which say what each metric measures. Returns
--- the list ({scope = {step, job, suite, level}, direction (nil: every group), metric,
--- range, at = "file:line:column"}), or nil and the problems, one
--- "file:line:column: problem" per line, sorted by position.
function requirements.load(file, docs)
  local ctx = { file = file.file, marks = file.marks, reqs = {}, problems = {} }
  known_of(docs, ctx)
  local doc = file.doc
  ctx.cijoe = doc.global ~= nil
  if ctx.cijoe and (doc.workflow ~= nil or doc.steps ~= nil) then
    return nil, location(ctx, doc, "global") .. ": CIJOE's `global` and joe's `workflow` "
      .. "or `steps` in one file; keep to one format"
  end
  if ctx.cijoe then cijoe_reqs(doc, ctx) else joe_reqs(doc, ctx) end
  if #ctx.problems > 0 then
    table.sort(ctx.problems, requirements.by_position)
    return nil, table.concat(ctx.problems, "\n")
  end
  return ctx.reqs
end

return requirements
