-- How a step ended, said the way a person needs it: the status, and for a failure what
-- failed (the step, the command that failed last, its exit status or "timed out after
-- N s" or "interrupted" or "could not run: why", the last lines of its output) or, for a
-- Lua error, the user's file:line first. A command that could not run fails its step,
-- whatever the step's function returned (unless it was a probe), and so do a failed
-- put or get and a failed test of the step's tests.yaml.
local packages = require("cijoe.packages")

local verdict = { TAIL_LINES = 10 }

-- The last n lines of a file, without reading all of it (a log may be huge).
local function tail(path, n)
  local f = path and io.open(path, "rb")
  if not f then return {} end
  local size = f:seek("end")
  f:seek("set", math.max(0, size - 8192))
  local text = f:read("a"):gsub("\n$", "")
  f:close()
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  return { table.unpack(lines, math.max(1, #lines - n + 1)) }
end

--- What became of a command, in a few words: "`make` on target: exit status 2", "timed
--- out after 5 s", "interrupted", "could not run: why", "its log is incomplete: why"; of
--- a failed copy: "could not copy: `get SRC DST` on target: why".
function verdict.describe(st)
  local what = "`" .. tostring(st.cmd) .. "` on " .. tostring(st.transport) .. ": "
  if st.error and st.copy then return "could not copy: " .. what .. tostring(st.error) end
  if st.error then return "could not run " .. what .. tostring(st.error) end
  if st.lost then
    return what .. "the connection was lost while it ran (exit status " .. tostring(st.err)
      .. "): " .. tostring(st.lost)
  end
  if st.interrupted then return what .. "interrupted (exit status " .. tostring(st.err) .. ")" end
  if st.timed_out then
    return what .. "timed out after " .. tostring(st.timeout) .. " s (exit status " ..
      tostring(st.err) .. ")"
  end
  if st.log_error then return what .. "its record is incomplete: " .. st.log_error end
  return what .. "exit status " .. tostring(st.err)
end

-- The failure of a command: kind, message, the command and its output's last lines.
local function command_failure(kind, st, headline)
  local rel = st.output_fpath and st.output_fpath:match("([^/]+/[^/]+)$")
  return { kind = kind, message = headline or verdict.describe(st), log = rel,
    command = { cmd = st.cmd, transport = st.transport, err = st.err, error = st.error,
      lost = st.lost,
      timed_out = st.timed_out, interrupted = st.interrupted },
    output = st.output_fpath and tail(st.output_fpath, verdict.TAIL_LINES) or nil }
end

-- A traceback's frames that are the user's (not joe's own files, nor C), and the first.
local function user_frames(trace)
  local keep = {}
  for line in (trace or ""):gmatch("[^\n]+") do
    local file = line:match("^%s+([^:]+):%d+:")
    if file and not packages.is_own(file) then keep[#keep + 1] = line end
  end
  return keep
end

-- The failure of a Lua error: its message, with where in the user's code it happened
-- when the message names one of joe's files; the user's frames of the traceback.
local function error_failure(err, trace, verbose)
  local message, frames = tostring(err), user_frames(trace)
  local file = message:match("^([^:\n]+):%d+:")
  if file and packages.is_own(file) and frames[1] then
    message = frames[1]:match("^%s+(.-:%d+):") .. ": " .. message
  end
  local shown = verbose and trace or table.concat(frames, "\n")
  return { kind = "error", message = message:match("[^\n]*"),
    trace = shown ~= "" and "stack traceback:\n" .. shown or nil,
    full = message .. "\nstack traceback:\n" .. tostring(trace) }
end

--- The counts of a tests.yaml list ({passed, failed, skipped, error}; an entry that is
--- not a result counts as an error), and the names of those that failed or erred.
function verdict.count_tests(list)
  local counts, names = { passed = 0, failed = 0, skipped = 0, error = 0 }, {}
  for _, t in ipairs(list) do
    local status = type(t) == "table" and counts[t.status] and t.status or "error"
    counts[status] = counts[status] + 1
    if status == "failed" or status == "error" then
      names[#names + 1] = type(t) == "table" and tostring(t.name) or tostring(t)
    end
  end
  return counts, names
end

-- The failure of a step whose tests.yaml holds failed tests.
local function tests_failure(counts, names)
  local total = counts.passed + counts.failed + counts.skipped + counts.error
  return { kind = "tests", message = string.format("%d of %d tests failed: %s",
    counts.failed + counts.error, total, table.concat(names, ", ")) }
end

-- A step function's own words for its failure, with the command behind it if any.
local function returned_failure(step, result, msg)
  local st = step.unrun or step.last_failed
  if st and st.error and (msg == st.error or (msg == nil and result == nil)) then
    return command_failure("unrun", st) -- `return cijoe.run(...)` of a command that could not run
  end
  if type(msg) == "string" then
    local f = st and command_failure("message", st, msg) or { kind = "message" }
    f.message = msg
    return f
  end
  if st and (math.type(result) ~= "integer" or result == st.err) then
    return command_failure("command", st)
  end
  if math.type(result) == "integer" then
    return { kind = "message", message = "the step ended with status " .. result }
  end
  return { kind = "message", message = "the step's function said it failed (" ..
    tostring(result) .. ") but not why: return false, \"what failed\" to say it" }
end

--- The result of a step (for run:end_step) from how its function ended: outcome =
--- {ok, result, msg, trace, signal, verbose}; step is the run's step record (its
--- unrun and last_failed commands); test_list the results of its tests.yaml, or nil.
function verdict.of(step, outcome, test_list)
  local ok, result, msg = outcome.ok, outcome.result, outcome.msg
  local tests, names
  if test_list then tests, names = verdict.count_tests(test_list) end
  local passed = ok and ((result == nil and msg == nil) or result == 0 or result == true)
  local skipped = ok and result == "skip"
  local failure
  if outcome.signal then
    failure = step.last_failed and command_failure("interrupted", step.last_failed) or
      { kind = "interrupted", message = "interrupted by signal " .. outcome.signal }
    return { status = "interrupted", failure = failure, error = failure.message, tests = tests }
  elseif not ok then
    failure = error_failure(result, outcome.trace, outcome.verbose)
  elseif not passed and not skipped then
    failure = returned_failure(step, result, msg)
  elseif step.unrun then
    failure = command_failure("unrun", step.unrun)
  elseif skipped then
    return { status = "skipped", reason = tostring(msg), tests = tests }
  elseif tests and tests.failed + tests.error > 0 then
    failure = tests_failure(tests, names)
  else
    return { status = "passed", tests = tests }
  end
  return { status = "failed", failure = failure, error = verdict.text(failure), tests = tests }
end

--- The whole text of a failure, as the terminal, step.log and junit show it.
function verdict.text(f)
  local lines = { f.message }
  if f.trace then lines[#lines + 1] = f.trace end
  if f.output and #f.output > 0 and table.concat(f.output) ~= "" then
    lines[#lines + 1] = "last lines of " .. tostring(f.log) .. ":"
    for _, line in ipairs(f.output) do lines[#lines + 1] = "  | " .. line end
  end
  return table.concat(lines, "\n")
end

return verdict
