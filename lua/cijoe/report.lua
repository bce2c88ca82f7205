-- The reports of a run: report.html (one self-contained file), junit.xml beside it and a
-- markdown summary for GitHub, built from the output directory only (the journal, or an
-- older run's workflow.state and files), so `joe report DIR` after a crash and the end
-- of a run are the same code. The HTML parts are those of the report.html asset.
local fs = require("cijoe.fs")
local junit = require("cijoe.junit")
local merge = require("cijoe.merge")
local record = require("cijoe.record")
local rm = require("cijoe.report_metrics")
local t = require("cijoe.report_template")

-- The bytes of a command's output shown inline, and of all commands' together (one
-- budget for the commands that passed, one for the others), so a run of 10,000 commands
-- is still a report a browser opens: beyond, each output is linked only.
local report = { CAP = 64 * 1024, BUDGET = 1024 * 1024 }

local fill, each = t.fill, t.each

-- The last `cap` bytes of a file (nil when it cannot be read) and its size, without
-- reading the rest: a command may have printed gigabytes.
local function tail(path, cap)
  local f = io.open(path, "rb")
  if not f then return nil, 0 end
  local size = f:seek("end")
  local text = f:seek("set", math.max(0, size - cap)) and f:read(cap == math.huge and "a" or cap)
  f:close()
  return text or "", size
end

-- Write (or with mode "ab", append) a whole file; true, or nil and a message.
local function write(path, text, mode)
  local f, msg = io.open(path, mode or "wb")
  local ok, err = f and f:write(text)
  return ok and f:close(), f and err or msg
end

-- How a command ended, in the words of its line in the report.
local function result_of(c)
  if c.unfinished then return "did not finish", "failed" end
  local status = (c.err == 0 and not c.error and not c.log_error) and "passed" or "failed"
  if c.probe then status = "probe" end
  if c.error then return "could not run: " .. tostring(c.error), status end
  local text = "exit " .. tostring(c.err) ..
    (c.timed_out and " (timed out)" or c.interrupted and " (interrupted)" or
      c.lost and " (the connection was lost while it ran: " .. tostring(c.lost) .. ")" or "")
  if c.log_error then text = text .. "; its record is incomplete: " .. c.log_error end
  return text, status
end

-- One command: how it ended, links to its files and the tail of its output, within what
-- is left of the budget (ctx.left, by kind).
local function command(dir, c, ctx)
  local base = tostring(c.log):gsub("%.output$", "")
  local result, status = result_of(c)
  local pool = status == "failed" and "failed" or "passed"
  local cap = math.min(report.CAP, ctx.left[pool])
  local text, size = tail(dir .. "/" .. base .. ".output", cap)
  ctx.left[pool] = ctx.left[pool] - #(text or "")
  local note
  if size > cap and cap < report.CAP then
    note = ("%d bytes, not shown: the report holds %d KiB of output; see the link"):format(size,
      report.BUDGET // 1024)
  elseif size > cap then
    note = ("%d bytes: the last %d KiB are shown"):format(size, report.CAP // 1024)
  end
  return { cmd = c.cmd, transport = c.transport, elapsed = c.elapsed, result = result,
    status = status, open = status == "failed" and " open" or "", output = text, href = base,
    note = note }
end

-- The commands of a step that began but were never journaled (a crashed run): their
-- output files beyond the journaled ones.
local function unfinished(dir, s, cmds)
  if s.status ~= "running" then return cmds end
  cmds = cmds or {}
  for n = #cmds + (cmds.omitted or 0) + 1, math.huge do
    local rel = string.format("%s/cmd_%02d.output", s.rel, n)
    if not fs.stat(dir .. "/" .. rel) then break end
    cmds[#cmds + 1] = { log = rel, unfinished = true, cmd = "(see the log)" }
  end
  return cmds
end

-- The line that says how many of a step's commands are not listed (record.SHOWN).
local function omitted(parts, s, cmds)
  local n = cmds and cmds.omitted or 0
  if n == 0 then return "" end
  return "\n" .. fill(parts.omitted, { text = ("%d more commands of this step are not listed "
    .. "here (%d of them failed), to keep the report readable: the first and last %d and "
    .. "the failed ones are; every command's log and state are in %s/"):format(n,
    cmds.omitted_failed, record.SHOWN // 2, s.rel) })
end

-- text as one Markdown code span, so that nothing in it renders (HTML entities would
-- show as such inside one): fenced by more backticks than it holds in a row.
local function md_code(text)
  local longest = 0
  for run in text:gmatch("`+") do longest = math.max(longest, #run) end
  local fence = ("`"):rep(longest + 1)
  return fence .. " " .. text:gsub("%c", " ") .. " " .. fence
end

-- What failed, a line per failed step, below the GitHub summary's table ("" if none).
local function md_failures(parts, steps)
  local failed = {}
  for _, s in ipairs(steps) do
    local f = type(s.failure) == "table" and s.failure.message
    if f then
      failed[#failed + 1] = { number = s.number, name = s.name, message = md_code(tostring(f)) }
    end
  end
  return #failed > 0 and "\n" .. each(parts.mdfailure, failed) .. "\n" or ""
end

-- A copy's line: what moved and how it went.
local function copy_line(c)
  local what = c.ok and string.format("%d files, %d bytes", c.files or 0, c.bytes or 0)
    or "failed: " .. tostring(c.error)
  return { op = c.op, src = c.src, dst = c.dst, transport = c.transport, elapsed = c.elapsed,
    result = what, status = c.ok and "passed" or "failed" }
end

-- One step's values for its part: its commands, copies, test results, metrics and
-- artifacts (a table of its own, so the step's record keeps none of this markup).
local function step(parts, ctx, dir, s, cmds, copies)
  record.rel(s)
  local v = setmetatable({}, { __index = s })
  local tests, failed_test = record.tests(dir, s), false
  for _, r in ipairs(tests) do
    failed_test = failed_test or r.status == "failed" or r.status == "error"
  end
  local failed = s.status ~= "passed" and s.status ~= "skipped" and s.status ~= "pending"
  v.open = (failed or failed_test) and " open" or ""
  local names = fs.dir(dir .. "/" .. s.rel .. "/artifacts") or {}
  local artifacts = each(parts.artifact, names, function(name)
    local href = name:gsub("[^%w._~-]", function(c) return ("%%%02X"):format(c:byte()) end)
    return { name = name, href = s.rel .. "/artifacts/" .. href }
  end)
  v.artifacts = artifacts ~= "" and fill(parts.artifacts, { list = artifacts }) or ""
  v.commands = each(parts.command, unfinished(dir, s, cmds) or {}, function(c)
    return command(dir, c, ctx)
  end) .. omitted(parts, s, cmds)
  v.copies = each(parts.copy, copies or {}, copy_line)
  v.tests = #tests > 0 and fill(parts.tests, { rows = each(parts.test, tests) }) or ""
  v.metrics = rm.step(parts, ctx.metrics, dir, s)
  return v
end

-- For a run of several (joe --each, or joe report DIR1 DIR2 -o OUT): the run x step table.
local function matrix(parts, state)
  local columns, seen = {}, {}
  for _, s in ipairs(state.steps) do
    local name = s.plain_name or s.name
    if not seen[name] then columns[#columns + 1], seen[name] = name, {} end
    seen[name][s.target or ""] = s.status
  end
  return fill(parts.matrix, {
    head = each(parts.cell, columns, function(c) return { text = c, status = "" } end),
    rows = each(parts.targetrow, state.target_order, function(target)
      return { target = target, cells = each(parts.cell, columns, function(c)
        return { text = seen[c][target] or "-", status = seen[c][target] or "" }
      end) }
    end) })
end

-- The values of the page around the steps: the header, the matrix, metrics, config.
local function page_values(parts, dir, state, ctx)
  local v = setmetatable({}, { __index = state })
  v.name = state.name or dir:match("([^/]+)/*$")
  v.status = state.status or "unknown"
  for k, n in pairs(state.counts) do v[k] = n end
  v.tests_total = v.tests_passed + v.tests_failed + v.tests_skipped
  if v.tests_total > 0 then
    v.test_counts = fill(parts.testcounts, v)
    v.test_summary = ("; tests: %d passed, %d failed, %d skipped"):format(v.tests_passed,
      v.tests_failed, v.tests_skipped)
  end
  v.matrix = state.target_order and #state.target_order > 0 and matrix(parts, state) or ""
  v.metrics, v.compare = rm.summary(parts, ctx, state), rm.compare(parts, ctx, state)
  v.config, v.dir = tail(dir .. "/config.orig", math.huge), dir
  v.version = require("cijoe.cli").VERSION
  v.started = type(state.begin) == "number"
    and os.date("%Y-%m-%d %H:%M:%S", math.floor(state.begin))
  v.md_rows, v.md_metrics = each(parts.row, state.steps), rm.markdown(parts, ctx)
  v.md_failures = md_failures(parts, state.steps)
  v.step_parts = "\0"
  return v
end

-- Write the steps into the open report, a step at a time, adding each to its run's
-- junit testsuite (whose testcases go to the file cases); returns the suites.
local function write_steps(html, cases, parts, dir, state, ctx)
  local suites, suite, label = {}, nil, false
  for s, cmds, copies in record.each_step(dir, state) do
    assert(html:write(fill(parts.step, step(parts, ctx, dir, s, cmds, copies)), "\n"))
    if s.target ~= label or not suite then
      label = s.target
      suite = junit.suite(label or state.name, label and merge.child(state, label) or state, cases)
      suites[#suites + 1] = suite
    end
    suite:add(dir, s, cmds)
  end
  if #suites == 0 then suites[1] = junit.suite(state.name, state, cases) end
  return suites
end

-- Write report.html (and, from the suites, junit.xml) of the run in dir; true, or nil
-- and a message.
local function write_files(dir, parts, state, ctx, values)
  local head, rest = fill(parts.page, values):match("^(.-)%z(.*)$")
  local html, err = io.open(dir .. "/report.html", "wb")
  if not html then return nil, err end
  local cases <close> = io.tmpfile()
  local ok, suites = pcall(function()
    assert(html:write(head))
    local list = write_steps(html, cases, parts, dir, state, ctx)
    assert(html:write(rest))
    return list
  end)
  local closed, cerr = html:close()
  if not ok then return nil, suites end
  if not closed then return nil, cerr end
  return junit.write(dir .. "/junit.xml", suites, cases)
end

--- Write report.html and junit.xml into the output directory dir from its files, and
--- append to the file GITHUB_STEP_SUMMARY names; derived is the run's record when the
--- caller has it (record.write_state's). Returns the report's path and the run's status
--- (its checks included), or nil and a message.
function report.build(dir, derived)
  local parts, summary = t.parts(), os.getenv("GITHUB_STEP_SUMMARY")
  local state = record.state(dir, derived)
  local ctx = { left = { passed = report.BUDGET, failed = report.BUDGET },
    metrics = rm.prepare(dir, state) }
  local values = page_values(parts, dir, state, ctx.metrics)
  local ok, err = write_files(dir, parts, state, ctx, values)
  if ok and summary and summary ~= "" then
    ok, err = write(summary, fill(parts.markdown, values), "ab")
  end
  if not ok then return nil, err end
  return dir .. "/report.html", values.status
end

--- Build the reports of dir and say where report.html is (unless quiet) or why it could
--- not be built: a report that fails never stops a run. Returns true and the run's
--- status (its checks included), or false.
function report.run(dir, quiet, derived)
  local ok, path, status = pcall(report.build, dir, derived)
  if not (ok and path) then
    io.stderr:write("joe: report: ", tostring(ok and status or path), "\n")
  end
  if ok and path and not quiet then print("report: " .. path) end
  return ok and path ~= nil, status
end

return report
