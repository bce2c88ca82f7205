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
-- tests the steps ran). A step of a target of --each also has target, target_number (its
-- number in the target's own run), plain_name (its name there) and rel (its folder).
--
-- The reports read record.state: the same record (or a merged report's, cijoe.merge)
-- with the checks of analysis.yml and compare.yml joined (cijoe.checks), and go through
-- the commands a step at a time with record.each_step.
local yaml = require("cijoe.yaml")
local journal = require("cijoe.journal")
local run_files = require("cijoe.run_files")

local record = {}

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

--- The record of the run in dir (workflow.state's table) from its journal events (a
--- list, or by default the journal read one event at a time); nil when the run has no
--- journal (an older joe's, or one that never began).
function record.derive(dir, events)
  local next_event
  if events then
    local i = 0
    next_event = function() i = i + 1 return events[i] end
  else
    next_event = journal.each_event(dir .. "/journal.yml")
  end
  if not next_event then return nil end
  local state = { status = "running", steps = {}, by_number = {} }
  for e in next_event do
    local apply = APPLY[e.ev]
    if apply then apply(state, e) end
  end
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
--- with their folders below the target's (rel), so one record tells all of them (the
--- same code as a report of several runs, cijoe.merge).
function record.merge_targets(dir, state)
  for _, name in ipairs(state.target_order or {}) do
    require("cijoe.merge").append(state, name, record.plain(dir .. "/" .. name))
  end
end

--- What is wrong with the workflow.state of dir when a report would be made from it (a
--- run without a journal: an older joe's, or one written by hand), or nil.
function record.bad_state(dir)
  if require("cijoe.fs").stat(dir .. "/journal.yml") then return nil end
  return (run_files.check(dir .. "/workflow.state"))
end

-- The record of a run that has no journal: its workflow.state (an older joe's), else its
-- step folders, each with the status "unknown".
local function without_journal(dir)
  local fs = require("cijoe.fs")
  local problem, state = run_files.check(dir .. "/workflow.state")
  if problem then error(problem, 0) end
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
      local st = run_files.load(string.format("%s/%s/cmd_%02d.state", dir, rel, #list + 1))
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
  local list = run_files.load(dir .. "/" .. record.rel(s) .. "/tests.yaml")
  for i, t in ipairs(list) do
    if type(t) ~= "table" then list[i] = { name = tostring(t), status = "error" } end
  end
  return list
end

--- The record of the run in dir as its files tell it: derived from its journal, else
--- its workflow.state (an older joe's) or step folders; for a folder of `joe report DIR1
--- DIR2 -o OUT`, its runs merged.
function record.plain(dir)
  local merged = require("cijoe.merge").load(dir, record.plain)
  if merged then
    merged.counts = record.count(merged)
    return merged
  end
  return record.derive(dir) or without_journal(dir)
end

-- A copy of a record that the checks may change (its steps' fields, the targets' status)
-- while the record itself stays what the run did.
local function copy_of(derived)
  local function shallow(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
  end
  local state = shallow(derived)
  state.steps = {}
  for i, s in ipairs(derived.steps) do state.steps[i] = shallow(s) end
  state.targets = derived.targets and shallow(derived.targets)
  return state
end

--- The record the reports show: record.plain with the results of `joe analyse` and `joe
--- compare` joined (cijoe.checks): a step whose checks failed, or whose metrics regressed,
--- is failed, and so is its run. derived, when given, is the record record.write_state
--- just returned for dir, so that the journal is not read again.
function record.state(dir, derived)
  local state = derived and copy_of(derived) or record.plain(dir)
  require("cijoe.checks").join(dir, state)
  state.counts = record.count(state)
  return state
end

--- How many of a step's commands the reports list: the first and the last SHOWN / 2, and
--- up to SHOWN / 2 failed ones between them; the list's `omitted` counts the others (and
--- `omitted_failed` those of them that failed), so that a soak loop of 50,000 commands
--- makes a report a person can read, in the memory of a short one.
record.SHOWN = 1000

-- A step's commands as the journal gives them, held within record.SHOWN: the first ones,
-- the last ones (a ring) and the failed ones that leave the ring.
local function bounded()
  return { head = {}, middle = {}, ring = {}, at = 1, omitted = 0, omitted_failed = 0 }
end

local function keep(b, e)
  local half = record.SHOWN // 2
  if #b.head < half then b.head[#b.head + 1] = e return end
  local old = b.ring[b.at]
  b.ring[b.at], b.at = e, b.at % half + 1
  if not old then return end
  local failed = not old.probe and (old.err ~= 0 or old.error or old.log_error)
  if failed and #b.middle < half then b.middle[#b.middle + 1] = old return end
  b.omitted = b.omitted + 1
  if failed then b.omitted_failed = b.omitted_failed + 1 end
end

-- The commands kept, in the order they ran, with the counts of the others.
local function kept(b)
  if not b then return nil end
  local list = table.move(b.middle, 1, #b.middle, #b.head + 1, b.head)
  for i = 0, #b.ring - 1 do list[#list + 1] = b.ring[(b.at - 1 + i) % #b.ring + 1] end
  list.omitted, list.omitted_failed = b.omitted, b.omitted_failed
  return list
end

-- The journaled commands and copies of the steps of a run, a step at a time: reads
-- events until step s ended, keeping only the events of steps not yet handed out.
local function journal_source(dir)
  local src = { next = journal.each_event(dir .. "/journal.yml"), cmds = {}, copies = {} }
  function src.take(s)
    local n = s.number
    while s.begin and src.next and not (src.ended or {})[n] do
      local e = src.next()
      if not e then src.next = nil break end
      if e.ev == "cmd" and e.n then
        src.cmds[e.n] = src.cmds[e.n] or bounded()
        keep(src.cmds[e.n], e)
      elseif e.ev == "copy" and e.n then
        src.copies[e.n] = src.copies[e.n] or {}
        table.insert(src.copies[e.n], e)
      elseif e.ev == "end" and e.n then
        src.ended = src.ended or {}
        src.ended[e.n] = true
      end
    end
    local cmds, copies = kept(src.cmds[n]), src.copies[n]
    src.cmds[n], src.copies[n] = nil, nil
    return cmds, copies
  end
  return src
end

-- The same for a run without a journal: its cmd_NN.state files.
local function files_source(dir, state)
  return { take = function(s) return commands_from_files(dir, { steps = { s } })[s.number], {} end }
end

--- The steps of a record (record.state's) with their commands and copies, a step at a
--- time: for s, cmds, copies in record.each_step(dir, state). A merged run's steps come
--- from their own runs' journals, with the commands' logs relative to dir.
function record.each_step(dir, state)
  local merge = require("cijoe.merge")
  local own = require("cijoe.fs").stat(dir .. "/journal.yml")
  local source = own and journal_source(dir) or files_source(dir, state)
  local inner, inner_label
  local i = 0
  return function()
    i = i + 1
    local s = state.steps[i]
    if not s then return nil end
    if not s.target then return s, source.take(s) end
    if s.target ~= inner_label then
      local child = merge.child(state, s.target) or { steps = {} }
      inner, inner_label = record.each_step(dir .. "/" .. s.target, child), s.target
    end
    local _, cmds, copies = inner()
    for _, list in ipairs({ cmds or {}, copies or {} }) do
      for _, e in ipairs(list) do e.log = e.log and s.target .. "/" .. e.log end
    end
    return s, cmds, copies
  end
end

--- Everything the reports need of the run in dir: its record (record.state's), and per
--- step number the commands and copies it journaled ({cmd events}, {copy events}). The
--- reports themselves go a step at a time (record.each_step).
function record.load(dir)
  local state, commands, copies = record.state(dir), {}, {}
  for s, cmds, cps in record.each_step(dir, state) do
    commands[s.number], copies[s.number] = cmds, cps
  end
  return state, commands, copies
end

return record
