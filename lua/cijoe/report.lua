-- The reports of a run: report.html (one self-contained file), junit.xml beside it and a
-- markdown summary for GitHub, built from the output directory only (the journal, or an
-- older run's workflow.state and files), so `joe report DIR` after a crash and the end
-- of a run are the same code. The HTML parts are those of the report.html asset.
local embedded = require("cijoe.embedded")
local fs = require("cijoe.fs")
local junit = require("cijoe.junit")
local record = require("cijoe.record")

local report = { CAP = 64 * 1024 } -- the bytes of a command's output shown inline

-- The last `cap` bytes of a file (nil when it cannot be read) and its size, without
-- reading the rest: a command may have printed gigabytes.
local function tail(path, cap)
  local f = io.open(path, "rb")
  if not f then return nil, 0 end
  local size = f:seek("end")
  local text = f:seek("set", math.max(0, size - cap)) and f:read("a")
  f:close()
  return text, size
end

-- Write (or with mode "ab", append) a whole file; true, or nil and a message.
local function write(path, text, mode)
  local f, msg = io.open(path, mode or "wb")
  local ok, err = f and f:write(text)
  return ok and f:close(), f and err or msg
end

-- Text that is safe in HTML and markdown tables: control characters XML forbids become
-- "?", markup characters (and "|") numeric entities.
local function esc(value)
  return (tostring(value or ""):gsub("[%z\1-\8\11\12\14-\31]", "?")
    :gsub("[&<>\"'|]", function(c) return "&#" .. c:byte() .. ";" end))
end

-- A template part with {{key}} replaced by the escaped value, {{key:FORMAT}} by the
-- number formatted (0 when unknown) and {{&key}} by the value as it is (markup).
local function fill(part, values)
  return (part:gsub("{{(&?)([%w_]+):?([^}]*)}}", function(raw, key, format)
    local value = format ~= "" and format:format(tonumber(values[key]) or 0) or values[key]
    return raw == "&" and tostring(value or "") or esc(value)
  end))
end

-- A part filled once per item of list (with what fn makes of the item), one per line.
local function each(part, list, fn)
  local out = {}
  for i, item in ipairs(list) do out[i] = fill(part, fn and fn(item) or item) end
  return table.concat(out, "\n")
end

-- The parts of the report.html asset: each "<!--@name-->" line starts the part "name".
local function template()
  local tree, path = os.getenv("JOE_LUA_PATH"), "lua/cijoe/report.html"
  local text, parts = tree and tail(tree .. "/" .. path, math.huge) or embedded.read(path), {}
  text = text:gsub("\n?<!%-%-@(%w+)%-%->\n?", "\0%1\1")
  for name, part in text:gmatch("%z(%w+)\1([^%z]*)") do parts[name] = part end
  return parts
end

-- How a command ended, in the words of its line in the report.
local function result_of(c)
  if c.unfinished then return "did not finish", "failed" end
  local status = (c.err == 0 and not c.error and not c.log_error) and "passed" or "failed"
  if c.probe then status = "probe" end
  if c.error then return "could not run: " .. tostring(c.error), status end
  local text = "exit " .. tostring(c.err) ..
    (c.timed_out and " (timed out)" or c.interrupted and " (interrupted)" or "")
  if c.log_error then text = text .. "; its record is incomplete: " .. c.log_error end
  return text, status
end

-- One command: how it ended, links to its files and the tail of its output.
local function command(dir, c)
  local base = tostring(c.log):gsub("%.output$", "")
  local text, size = tail(dir .. "/" .. base .. ".output", report.CAP)
  local result, status = result_of(c)
  return { cmd = c.cmd, transport = c.transport, elapsed = c.elapsed, result = result,
    status = status, open = status == "failed" and " open" or "", output = text, href = base,
    note = size > report.CAP and ("%d bytes: the last %d KiB are shown"):format(size,
      report.CAP // 1024) }
end

-- The commands of a step that began but were never journaled (a crashed run): their
-- output files beyond the journaled ones.
local function unfinished(dir, s, cmds)
  if s.status ~= "running" then return cmds end
  cmds = cmds or {}
  for n = #cmds + 1, 999 do
    local rel = string.format("%s/cmd_%02d.output", s.rel, n)
    if not fs.stat(dir .. "/" .. rel) then break end
    cmds[#cmds + 1] = { log = rel, unfinished = true, cmd = "(see the log)" }
  end
  return cmds
end

-- A copy's line: what moved and how it went.
local function copy_line(c)
  local what = c.ok and string.format("%d files, %d bytes", c.files or 0, c.bytes or 0)
    or "failed: " .. tostring(c.error)
  return { op = c.op, src = c.src, dst = c.dst, transport = c.transport, elapsed = c.elapsed,
    result = what, status = c.ok and "passed" or "failed" }
end

-- One step's values for its part: its commands, copies, test results and artifacts.
local function step(parts, dir, s, cmds, copies)
  record.rel(s)
  s.test_list = record.tests(dir, s)
  local failed_test = false
  for _, t in ipairs(s.test_list) do
    failed_test = failed_test or t.status == "failed" or t.status == "error"
  end
  local failed = s.status ~= "passed" and s.status ~= "skipped" and s.status ~= "pending"
  s.open = (failed or failed_test) and " open" or ""
  s.artifacts = each(parts.artifact, fs.dir(dir .. "/" .. s.rel .. "/artifacts") or {}, function(name)
    local href = name:gsub("[^%w._~-]", function(c) return ("%%%02X"):format(c:byte()) end)
    return { name = name, href = s.rel .. "/artifacts/" .. href }
  end)
  s.commands = each(parts.command, unfinished(dir, s, cmds) or {}, function(c) return command(dir, c) end)
  s.copies = each(parts.copy, copies or {}, copy_line)
  s.test_rows = each(parts.test, s.test_list)
  return s
end

-- For a run of joe --each: the target x step table, and junit.xml made of a testsuite
-- per target.
local function add_targets(parts, dir, state)
  local columns, seen, suites = {}, {}, {}
  for _, s in ipairs(state.steps) do
    local name = s.name:match("^[^:]*: (.*)$") or s.name
    if not seen[name] then columns[#columns + 1], seen[name] = name, {} end
    seen[name][s.target or ""] = s.status
  end
  state.matrix_head = each(parts.cell, columns, function(c) return { text = c, status = "" } end)
  state.matrix_rows = each(parts.targetrow, state.target_order, function(t)
    local cells = each(parts.cell, columns, function(c)
      return { text = seen[c][t] or "-", status = seen[c][t] or "" }
    end)
    local child, commands = record.load(dir .. "/" .. t)
    suites[#suites + 1] = junit.suite(dir .. "/" .. t, child, commands, t)
    return { target = t, cells = cells }
  end)
  state.matrix = fill(parts.matrix, state)
  return junit.document(suites)
end

--- Write report.html and junit.xml into the output directory dir from its files, and
--- append to the file GITHUB_STEP_SUMMARY names. Returns the report's path or nil, message.
function report.build(dir)
  local parts, summary = template(), os.getenv("GITHUB_STEP_SUMMARY")
  local state, commands, copies = record.load(dir)
  state.name = state.name or dir:match("([^/]+)/*$")
  state.status = state.status or "unknown"
  local c = state.counts or record.count(state)
  for k, v in pairs(c) do state[k] = v end
  state.step_parts = each(parts.step, state.steps, function(s)
    return step(parts, dir, s, commands[s.number], copies[s.number])
  end)
  state.config, state.dir = tail(dir .. "/config.orig", math.huge), dir
  state.version = require("cijoe.cli").VERSION
  state.started = type(state.begin) == "number" and os.date("%Y-%m-%d %H:%M:%S", math.floor(state.begin))
  state.md_rows = each(parts.row, state.steps)
  state.tests_total = c.tests_passed + c.tests_failed + c.tests_skipped
  if state.tests_total > 0 then
    state.test_counts = fill(parts.testcounts, state)
    state.test_summary = ("; tests: %d passed, %d failed, %d skipped"):format(c.tests_passed,
      c.tests_failed, c.tests_skipped)
  end
  local xml = state.target_order and add_targets(parts, dir, state) or
    junit.document({ (junit.suite(dir, state, commands, state.name)) })
  local ok, err = write(dir .. "/report.html", fill(parts.page, state))
  if ok then ok, err = write(dir .. "/junit.xml", xml) end
  if ok and summary and summary ~= "" then ok, err = write(summary, fill(parts.markdown, state), "ab") end
  return ok and dir .. "/report.html", err
end

--- Build the reports of dir and say where report.html is (unless quiet) or why it could
--- not be built: a report that fails never stops a run. Returns true or false.
function report.run(dir, quiet)
  local ok, path, err = pcall(report.build, dir)
  if not (ok and path) then io.stderr:write("joe: report: ", tostring(ok and err or path), "\n") end
  if ok and path and not quiet then print("report: " .. path) end
  return ok and path ~= nil
end

return report
