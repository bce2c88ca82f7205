-- Running steps: each step's function in a protected call, its verdict, its record in
-- the journal, its line on the terminal and its failure under it. Workflows and CIJOE
-- task files run through here; joe test judges its tests with the same verdict.
local cijoe = require("cijoe")
local console = require("cijoe.console")
local proc = require("cijoe.proc")
local verdict = require("cijoe.verdict")
local yaml = require("cijoe.yaml")

local runner = {
  on_failure = nil, -- with --repl-on-failure: fn(r, res, log) -> "continue" | "abort"
}

--- The results a step wrote to tests.yaml in its folder, or nil.
function runner.tests_of(step)
  local f = step.made and io.open(step.dir .. "/tests.yaml", "rb")
  if not f then return nil end
  local list = yaml.load(f:read("a"), step.dir .. "/tests.yaml")
  f:close()
  return type(list) == "table" and list or nil
end

--- Write a failed step's whole story (failure and full traceback) to its step.log;
--- returns the log's path in the output directory.
function runner.write_log(r, res)
  local dir = res.failure and r:step_path()
  local log = dir and io.open(dir .. "/step.log", "ab")
  if not log then return nil end
  log:write(res.error, "\n", res.failure.full and res.failure.full .. "\n" or "")
  log:close()
  return dir:match("[^/]+$") .. "/step.log"
end

--- Run spec.fn(spec.args, cijoe) as step spec.number called spec.name of run r. With
--- spec.optional (a function), a step that passed without logging anything is left out
--- when optional() says so (the top level of a script that declares its steps).
--- Returns the step's result ({status, error, failure, ...}), with dropped = true when
--- it was left out.
function runner.step(r, spec)
  local step = r:begin_step(spec.name, spec.number, spec.optional ~= nil)
  console.step_started(spec.number, spec.name)
  local trace
  local ok, result, msg = xpcall(spec.fn, function(err)
    trace = debug.traceback("", 2):gsub("^\nstack traceback:\n", "")
    return err
  end, spec.args or {}, cijoe)
  local res = verdict.of(step, { ok = ok, result = result, msg = msg, trace = trace,
    signal = proc.signal(), verbose = r.verbose }, runner.tests_of(step))
  if spec.optional and res.status == "passed" and not step.journaled and spec.optional() then
    r:end_step(res)
    console.step(true, { number = spec.number })
    res.dropped = true
    return res
  end
  r:begun(step)
  local log = runner.write_log(r, res)
  local shown = res.failure and runner.on_failure and not proc.signal() and res.status == "failed"
  local choice = shown and runner.on_failure(r, res, log)
  r:end_step(res)
  res.choice = choice
  console.step(r.quiet, { number = spec.number, name = spec.name, status = res.status,
    elapsed = res.elapsed, reason = res.reason })
  if res.failure and not proc.signal() and not shown then console.failure(res.error, log) end
  return res
end

--- Mark step number n skipped (not selected, fail_fast, or after Ctrl-C); why = "not
--- selected" goes into the journal, for --rerun-failed.
function runner.skip(r, n, name, why)
  r:event({ ev = "end", n = n, name = name, status = "skipped", elapsed = 0, why = why })
  console.step(r.quiet, { number = n, name = name, status = "skipped", elapsed = 0 })
end

--- Check the requested step names of wf before anything runs: the set of them (nil for
--- all), or nil and a message naming an unknown one, the nearest name and every step.
function runner.selection(wf, wanted)
  local set, names = {}, {}
  for _, s in ipairs(wf.steps) do names[#names + 1] = s.name end
  for _, name in ipairs(wanted) do
    if not wf.names[name] then
      return nil, "unknown step '" .. name .. "' in " .. wf.path ..
        require("cijoe.suggest").hint(name, names) .. "; its steps: " .. table.concat(names, ", ")
    end
    set[name] = true
  end
  return next(set) and set or nil
end
local selection = runner.selection

--- The workflow of the run in output directory dir and the steps of it to run again:
--- those that failed or did not run (a step that ran and skipped itself is done, and so
--- is one not selected; the top level of a script runs anyway). Returns script, names,
--- count (how many steps are to run again, the top level included), or nil and a message.
function runner.failed_steps(dir)
  local record = require("cijoe.record")
  local state = record.derive(dir)
  if not state then return nil, dir .. ": no run there (it has no journal.yml)" end
  local unwanted = {}
  for e in require("cijoe.journal").each_event(dir .. "/journal.yml") do
    if e.ev == "end" and e.why == "not selected" then unwanted[e.n] = true end
  end
  if state.kind ~= "workflow" then
    return nil, dir .. ": a run of " .. tostring(state.kind) .. (state.kind == "each" and
      "; give one target's folder (" .. dir .. "/TARGET) to run its failed steps again" or
      ", not of a workflow")
  end
  local names, count = {}, 0
  for _, s in ipairs(state.steps) do
    if s.status ~= "passed" and not (s.status == "skipped" and (s.begin or unwanted[s.number])) then
      count = count + 1
      if not (s.number == 1 and s.name == state.name) then names[#names + 1] = s.name end
    end
  end
  return state.script, names, count
end

-- Run the declared steps from number first; those not selected, and those after a
-- fail_fast failure, a signal or an :abort in the REPL of --repl-on-failure, are
-- skipped. True when none failed.
local function run_steps(r, wf, selected, first, aborted)
  local failed = false
  local fail_fast = cijoe.getconf("cijoe.workflow.fail_fast", false)
  fail_fast = require("cijoe.config").boolean(fail_fast)
  for i, s in ipairs(wf.steps) do s.number = first + i - 1 end
  r:declare(wf.steps)
  for _, s in ipairs(wf.steps) do
    local unwanted = selected and not selected[s.name]
    if unwanted or (failed and fail_fast == true) or proc.signal() or aborted then
      runner.skip(r, s.number, s.name, unwanted and "not selected" or nil)
    else
      local res = runner.step(r, { number = s.number, name = s.name, fn = s.fn, args = s.with })
      failed = failed or (res.status ~= "passed" and res.status ~= "skipped")
      aborted = res.choice == "abort"
    end
  end
  return not failed
end

--- Run a loaded workflow in run r; `wanted` lists step names to run (all when empty).
--- Returns the exit status: 0 when every selected step passed, 1 otherwise, 128+N when
--- stopped by signal N; or nil and a message for a bad selection.
function runner.workflow(r, wf, wanted)
  local top = runner.step(r, { number = 1, name = wf.name, fn = wf.chunk,
    optional = function() return #wf.steps > 0 end })
  local passed = top.status == "passed"
  if #wf.steps > 0 then
    local selected, err = selection(wf, wanted)
    if err then
      r:finish("failed", false)
      return nil, err
    end
    passed = run_steps(r, wf, selected, top.dropped and 1 or 2, top.choice == "abort") and passed
  elseif #wanted > 0 then
    r:finish("failed", false)
    return nil, wf.path .. " declares no steps"
  end
  local sig = proc.signal()
  local state = r:finish(sig and "interrupted" or passed and "passed" or "failed")
  console.totals(r.quiet, state)
  return sig and 128 + sig or passed and 0 or 1
end

return runner
