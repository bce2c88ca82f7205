-- What a run did, derived from its journal: the schema of workflow.state, written down
-- once here. The end of a run and `joe report` after a crash both use derive(), so they
-- tell the same story.
--
-- journal.yml is a YAML list of events, one per line, in the order they happened:
--   {ev: run, name, kind, script, begin}            the run began
--   {ev: step, n, name, description, uses, status: pending}   a step that will run
--   {ev: begin, n, name, begin}                      step n began
--   {ev: cmd, n, log, cmd, transport, err, elapsed, timed_out, interrupted, error,
--    log_error, probe, target}                       a command of step n ended
--   {ev: copy, n, op, src, dst, transport, ok, error, files, bytes, elapsed}
--   {ev: end, n, status, elapsed, reason, error, failure, tests}   step n ended
--   {ev: target, name, status}                       a target of --each ended
--   {ev: finish, status, elapsed}                    the run ended
--
-- workflow.state: name, script, kind, begin, elapsed, status (running, passed, failed,
-- interrupted), steps (a list of {number, name, status, begin, elapsed, description,
-- uses, reason, error, failure, commands, failed_commands, tests}), targets (--each:
-- target -> status), counts ({passed, failed, skipped} of steps, and tests_* of the
-- tests the steps ran).
local yaml = require("cijoe.yaml")

local record = {}

--- Call fn(event) for each event of a journal file, in order, as it is read (the memory
--- it takes does not grow with the journal); a line that does not parse (the torn last
--- line of a crashed run) is left out. Returns true, or nil when there is no journal.
function record.each_event(path, fn)
  local f = io.open(path, "rb")
  if not f then return nil end
  for line in f:lines() do
    local e = line:sub(1, 2) == "- " and yaml.load(line:sub(3), path)
    if type(e) == "table" and e.ev then fn(e) end
  end
  f:close()
  return true
end

-- The step numbered n, made when first seen.
local function step_of(state, e)
  local s = state.by_number[e.n]
  if not s then
    s = { number = e.n, name = e.name, status = "pending", commands = 0,
      failed_commands = 0 }
    state.by_number[e.n] = s
    state.steps[#state.steps + 1] = s
  end
  return s
end

local APPLY = {}
function APPLY.run(state, e)
  state.name, state.kind, state.script, state.begin = e.name, e.kind, e.script, e.begin
end
function APPLY.step(state, e)
  local s = step_of(state, e)
  s.description, s.uses = e.description, e.uses
end
function APPLY.begin(state, e)
  local s = step_of(state, e)
  s.status, s.begin = "running", e.begin
end
function APPLY.cmd(state, e)
  if not e.n then return end
  local s = step_of(state, e)
  s.commands = s.commands + 1
  if not e.probe and (e.err ~= 0 or e.log_error) then s.failed_commands = s.failed_commands + 1 end
end
function APPLY.finish(state, e)
  state.status, state.elapsed = e.status, e.elapsed
end
function APPLY.target(state, e)
  state.targets, state.target_order = state.targets or {}, state.target_order or {}
  state.targets[e.name] = e.status
  table.insert(state.target_order, e.name)
end

local END_KEYS = { "status", "elapsed", "reason", "error", "failure", "tests", "target" }
APPLY["end"] = function(state, e)
  local s = step_of(state, e)
  for _, key in ipairs(END_KEYS) do
    if e[key] ~= nil then s[key] = e[key] end
  end
end

--- The counts of a record: steps passed, failed (every status but passed, skipped and
--- pending) and skipped (also pending), and the tests_* of the tests the steps ran.
function record.count(state)
  local c = { passed = 0, failed = 0, skipped = 0, tests_passed = 0, tests_failed = 0,
    tests_skipped = 0 }
  for _, s in ipairs(state.steps) do
    local kind = (s.status == "passed" and "passed") or
      ((s.status == "skipped" or s.status == "pending") and "skipped") or "failed"
    c[kind] = c[kind] + 1
    for key, n in pairs(s.tests or {}) do
      local k = "tests_" .. (key == "error" and "failed" or key)
      if c[k] then c[k] = c[k] + n end
    end
  end
  return c
end

--- The record of the run in dir (workflow.state's table) from its journal events; nil
--- when the run has no journal (an older joe's, or one that never began). also(event),
--- when given, sees every event too.
function record.derive(dir, also)
  local state = { status = "running", steps = {}, by_number = {} }
  local found = record.each_event(dir .. "/journal.yml", function(e)
    local apply = APPLY[e.ev]
    if apply then apply(state, e) end
    if also then also(e) end
  end)
  if not found then return nil end
  table.sort(state.steps, function(a, b) return a.number < b.number end)
  state.by_number = nil
  if state.kind == "each" or state.target_order then record.merge_targets(dir, state) end
  state.counts = record.count(state)
  return state
end

--- Derive workflow.state of the run in dir from its journal and write it (the end of a
--- run, and joe report after a crash). Returns the record, or nil and why not (nil
--- alone when the run has no journal: an older joe's keeps its workflow.state).
function record.write_state(dir)
  local state = record.derive(dir)
  if not state then return nil end
  local ok, err = yaml.write(dir .. "/workflow.state", state)
  if not ok then return nil, err end
  return state
end

--- For a run of --each: every target's steps after each other, named "target: step",
--- with their folders below the target's (rel), so one record tells all of them.
function record.merge_targets(dir, state)
  for _, name in ipairs(state.target_order or {}) do
    local child = record.derive(dir .. "/" .. name) or { steps = {} }
    for _, s in ipairs(child.steps) do
      s.rel = string.format("%s/%03d_%s", name, s.number, tostring(s.name):gsub("[^%w._-]", "_"))
      s.target, s.target_number, s.name = name, s.number, name .. ": " .. s.name
      s.number = #state.steps + 1
      state.steps[s.number] = s
    end
  end
end

-- A YAML file as a table; {} when it is missing, empty or torn.
local function load_yaml(path)
  local f = io.open(path, "rb")
  local value = f and yaml.load(f:read("a"), path)
  if f then f:close() end
  return type(value) == "table" and value or {}
end

-- What is wrong with a workflow.state written by hand or by an older joe, if anything:
-- the field and what it should be.
local function malformed(path, state)
  if state.steps ~= nil and type(state.steps) ~= "table" then return "steps must be a list" end
  for i, s in ipairs(state.steps or {}) do
    if type(s) ~= "table" then return ("steps[%d] must be a mapping"):format(i) end
    for key, kind in pairs({ number = "number", name = "string", status = "string" }) do
      if s[key] ~= nil and type(s[key]) ~= kind then
        return ("steps[%d].%s must be a %s, not %s"):format(i, key, kind, type(s[key]))
      end
    end
  end
  for _, key in ipairs({ "name", "status" }) do
    if state[key] ~= nil and type(state[key]) ~= "string" then return key .. " must be a string" end
  end
  return nil, path
end

-- The record of a run that has no journal: its workflow.state (an older joe's), else its
-- step folders, each with the status "unknown".
local function without_journal(dir)
  local fs = require("cijoe.fs")
  local path = dir .. "/workflow.state"
  local state = load_yaml(path)
  local problem = malformed(path, state)
  if problem then error(path .. ": " .. problem, 0) end
  state.steps = type(state.steps) == "table" and state.steps or {}
  if #state.steps == 0 then
    local names = fs.dir(dir) or {}
    table.sort(names)
    for _, entry in ipairs(names) do
      local n, name = entry:match("^(%d+)_(.+)$")
      if n then
        state.steps[#state.steps + 1] = { number = tonumber(n), name = name, status = "unknown" }
      end
    end
  end
  return state
end

-- The commands of a run without a journal: the cmd_NN.state files of each step folder.
local function commands_from_files(dir, state)
  local by_step = {}
  for _, s in ipairs(state.steps) do
    local list, rel = {}, record.rel(s)
    while io.open(string.format("%s/%s/cmd_%02d.output", dir, rel, #list + 1), "rb") do
      local st = load_yaml(string.format("%s/%s/cmd_%02d.state", dir, rel, #list + 1))
      st.log = string.format("%s/cmd_%02d.output", rel, #list + 1)
      st.unfinished = next(st) == "log" or nil
      list[#list + 1] = st
    end
    by_step[s.number] = list
  end
  return by_step
end

--- The folder of a step in its run's output directory ("003_build", or for a target of
--- --each "t1/003_build").
function record.rel(s)
  s.rel = s.rel or string.format("%03d_%s", tonumber(s.number) or 0,
    tostring(s.name):gsub("[^%w._-]", "_"))
  return s.rel
end

--- The test results a step wrote to its tests.yaml: a list of {name, status, elapsed,
--- message}; an entry that is not a mapping becomes an error result named after its
--- text; a missing or broken file gives none.
function record.tests(dir, s)
  local list = load_yaml(dir .. "/" .. record.rel(s) .. "/tests.yaml")
  for i, t in ipairs(list) do
    if type(t) ~= "table" then list[i] = { name = tostring(t), status = "error" } end
  end
  return list
end

--- Everything the reports need of the run in dir: its record (workflow.state's table),
--- and per step number the commands and copies it journaled ({cmd events}, {copy
--- events}). A run without a journal is read from its workflow.state and files.
function record.load(dir)
  local commands, copies = {}, {}
  local state = record.derive(dir, function(e)
    local into = (e.ev == "cmd" and commands) or (e.ev == "copy" and copies) or nil
    if into and e.n then
      into[e.n] = into[e.n] or {}
      table.insert(into[e.n], e)
    end
  end)
  if not state then
    state = without_journal(dir)
    return state, commands_from_files(dir, state), {}
  end
  for _, s in ipairs(state.steps) do -- the steps of --each targets: their own journals'
    if s.target then
      local _, cc, cp = record.load(dir .. "/" .. s.target)
      for _, list in ipairs({ cc[s.target_number] or {}, cp[s.target_number] or {} }) do
        for _, e in ipairs(list) do e.log = e.log and s.target .. "/" .. e.log end
      end
      commands[s.number], copies[s.number] = cc[s.target_number], cp[s.target_number]
    end
  end
  return state, commands, copies
end

return record
