-- The reports of a run: report.html (one self-contained file), junit.xml beside it and a
-- markdown summary for GitHub, filled in from the parts of the report.html asset. They
-- are built from the files of the output directory only, so `joe report DIR` after a
-- crash and the end of a run are the same code.
local embedded = require("cijoe.embedded")
local fs = require("cijoe.fs")
local output = require("cijoe.output")
local yaml = require("cijoe.yaml")

local report = { CAP = 64 * 1024 } -- the bytes of a command's output shown inline
local JUNIT_TAG = { failed = "failure", skipped = "skipped", pending = "skipped" } -- else error

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

-- A YAML file as a table; {} when it is missing, empty or torn (a crashed run).
local function load_yaml(path)
  local value = yaml.load(tail(path, math.huge) or "", path)
  return type(value) == "table" and value or {}
end

-- Text that is safe in HTML, XML and markdown tables: control characters that XML forbids
-- become "?", markup characters (and "|") numeric entities.
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

-- The parts of the report.html asset: each "<!--@name-->" line starts the part "name"
-- (the markers become NUL-delimited names, then the text is split at them).
local function template()
  local tree, path = os.getenv("JOE_LUA_PATH"), "lua/cijoe/report.html"
  local text, parts = tree and tail(tree .. "/" .. path, math.huge) or embedded.read(path), {}
  text = text:gsub("\n?<!%-%-@(%w+)%-%->\n?", "\0%1\1")
  for name, part in text:gmatch("%z(%w+)\1([^%z]*)") do parts[name] = part end
  return parts
end

-- A step or test as a junit case: its element (none when it passed) and its message,
-- counted for the testsuite. Returns " open" (the attribute of a <details>) when it failed.
local function add_case(run, r, classname, message)
  r.tag = r.status ~= "passed" and (JUNIT_TAG[r.status] or "error") or nil
  r.classname, r.text = classname, tostring(message or r.status)
  r.first, run.cases[#run.cases + 1], run.n_tests = r.text:match("[^\n]*"), r, #run.cases + 1
  local count = "n_" .. (r.tag or "passed")
  run[count] = (run[count] or 0) + 1
  return r.tag and r.tag ~= "skipped" and " open" or nil
end

-- The run as its files tell it: its state; its steps (those of the step folders when the
-- state was lost) with their folders and the results of the tests they ran, open in the
-- report when they or a test failed; the step counts; every step and test as a junit case.
local function load_run(dir)
  local run = load_yaml(dir .. "/workflow.state")
  run.name, run.status, run.cases = run.name or dir:match("([^/]+)/*$"), run.status or "unknown", {}
  run.steps = type(run.steps) == "table" and run.steps or {}
  for _, entry in ipairs(#run.steps == 0 and fs.dir(dir) or {}) do
    local n, name = entry:match("^(%d+)_(.+)$")
    if n then run.steps[#run.steps + 1] = { number = tonumber(n), name = name, status = "unknown" } end
  end
  for _, s in ipairs(run.steps) do
    s.rel, s.tests = s.rel or string.format("%03d_%s", s.number, output.safe_name(s.name)), {}
    s.open = add_case(run, s, run.name, s.error) or ""
    local kind = not s.tag and "passed" or s.tag == "skipped" and "skipped" or "failed"
    run[kind] = (run[kind] or 0) + 1
    for _, t in ipairs(load_yaml(dir .. "/" .. s.rel .. "/tests.yaml")) do
      t = type(t) == "table" and t or { name = tostring(t), status = "error" } -- not a result
      s.tests[#s.tests + 1], s.open = t, add_case(run, t, s.name, t.message) or s.open
    end
  end
  return run
end

-- One command (rel is "NNN_step/cmd_NN"): how it ended, links to its files and the tail
-- of its output. A command without a state file had not finished.
local function command(dir, rel)
  local st = load_yaml(dir .. "/" .. rel .. ".state")
  local text, size = tail(dir .. "/" .. rel .. ".output", report.CAP)
  st.result = st.error and "could not run: " .. tostring(st.error) or st.err and "exit " .. tostring(st.err)
    .. (st.timed_out and " (timed out)" or st.interrupted and " (interrupted)" or "") or "did not finish"
  st.status = st.err == 0 and not st.error and "passed" or "failed"
  st.open, st.output, st.href = st.status == "failed" and " open" or "", text, rel
  st.note = size > report.CAP and ("%d bytes: the last %d KiB are shown"):format(size, report.CAP // 1024)
  return st
end

-- One step's values for its part: its commands, test results and artifacts rendered.
local function step(parts, dir, s)
  local cmds = {}
  while fs.stat(string.format("%s/%s/cmd_%02d.output", dir, s.rel, #cmds + 1)) do
    cmds[#cmds + 1] = command(dir, string.format("%s/cmd_%02d", s.rel, #cmds + 1))
  end
  s.artifacts = each(parts.artifact, fs.dir(dir .. "/" .. s.rel .. "/artifacts") or {}, function(name)
    local href = name:gsub("[^%w._~-]", function(c) return ("%%%02X"):format(c:byte()) end)
    return { name = name, href = s.rel .. "/artifacts/" .. href }
  end)
  s.commands, s.test_rows = each(parts.command, cmds), each(parts.test, s.tests)
  return s
end

-- For a run of joe --each: the target x step table, and junit.xml made of the targets'
-- own testsuites.
local function add_targets(parts, dir, run, targets)
  local columns, seen, suites = {}, {}, {}
  for _, s in ipairs(run.steps) do
    local name = s.name:match("^[^:]*: (.*)$") or s.name
    if not seen[name] then columns[#columns + 1], seen[name] = name, {} end
    seen[name][s.target or ""] = s.status
  end
  run.matrix_head = each(parts.cell, columns, function(c) return { text = c, status = "" } end)
  run.matrix_rows = each(parts.targetrow, targets, function(t)
    local cells = each(parts.cell, columns, function(c) return { text = seen[c][t] or "-", status = seen[c][t] or "" } end)
    local suite = (tail(dir .. "/" .. t .. "/junit.xml", math.huge) or ""):match("<testsuite .*</testsuite>")
    suites[#suites + 1] = suite and suite:gsub('^<testsuite name="[^"]*"', '<testsuite name="' .. esc(t) .. '"')
    return { target = t, cells = cells }
  end)
  run.matrix = fill(parts.matrix, run)
  return fill(parts.suites, { suites = table.concat(suites, "\n") })
end

--- Write report.html and junit.xml into the output directory dir from its files, and
--- append to the file GITHUB_STEP_SUMMARY names; with targets (joe --each), the steps of
--- every target with a target x step table, and a junit testsuite per target. Returns the
--- report's path or nil, message.
function report.build(dir, targets)
  local parts, run, summary = template(), load_run(dir), os.getenv("GITHUB_STEP_SUMMARY")
  run.step_parts = each(parts.step, run.steps, function(s) return step(parts, dir, s) end)
  run.config, run.version, run.dir = tail(dir .. "/config.orig", math.huge), require("cijoe.cli").VERSION, dir
  run.started = type(run.begin) == "number" and os.date("%Y-%m-%d %H:%M:%S", math.floor(run.begin))
  run.case_parts = each(parts.case, run.cases, function(c) c.fault = c.tag and fill(parts.fault, c) return c end)
  run.md_rows = each(parts.row, run.steps)
  local junit = targets and add_targets(parts, dir, run, targets) or fill(parts.junit, run)
  local ok, err = write(dir .. "/report.html", fill(parts.page, run))
  if ok then ok, err = write(dir .. "/junit.xml", junit) end
  if ok and summary and summary ~= "" then ok, err = write(summary, fill(parts.markdown, run), "ab") end
  return ok and dir .. "/report.html", err
end

--- Build the reports of dir and say where report.html is (unless quiet) or why it could
--- not be built: a report that fails never stops a run. Returns true or false.
function report.run(dir, quiet, targets)
  local ok, path, err = pcall(report.build, dir, targets)
  if not (ok and path) then io.stderr:write("joe: report: ", tostring(ok and err or path), "\n") end
  if ok and path and not quiet then print("report: " .. path) end
  return ok and path ~= nil
end

return report
