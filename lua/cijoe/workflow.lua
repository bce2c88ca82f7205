-- Workflows: a Lua script that declares steps, or is one step itself. Steps run in order;
-- workflow.state is rewritten as each one starts and ends, so it is true after a crash.
local proc = require("cijoe.proc")
local output = require("cijoe.output")
local packages = require("cijoe.packages")
local cijoe = require("cijoe")

local workflow = {}

-- Keep the traceback of a failing step for its log.
local function traceback(err)
  return debug.traceback(tostring(err), 2)
end

--- The function, description and accepted `with` keys of worklet "pkg.name", or nil and
-- a message. The description is the leading `---` comment; a `--- with: a, b` line in it
-- lists the keys the worklet takes (for joe lint).
function workflow.worklet(name)
  local pkg, file = tostring(name):match("^([%w_-]+)%.([%w_-]+)$")
  local text, origin = packages.read((pkg or "?") .. "/worklets/" .. (file or "?") .. ".lua")
  if not pkg and tostring(name):match("^[%w_-]+$") then -- CIJOE's unpackaged worklets
    origin = "worklets/" .. name .. ".lua"
    local f = io.open(origin)
    text = f and f:read("a")
    if f then f:close() end
  end
  if not text then return nil, "unknown worklet '" .. tostring(name) .. "'" end
  local chunk, err = load(text, "@" .. origin, "t")
  if not chunk then return nil, err end
  local ok, fn = pcall(chunk)
  if not ok or type(fn) ~= "function" then
    return nil, origin .. ": a worklet must return a function" .. (ok and "" or ": " .. tostring(fn))
  end
  local doc, keys = {}, nil
  for line in text:gmatch("[^\n]*") do
    local comment = line:match("^%-%-%-%s?(.*)")
    if not comment then break end
    local with = comment:match("^with:%s*(.*)")
    if with then keys = {} end
    for key in (with or ""):gmatch("[%w_]+") do keys[key] = true end
    if not with then doc[#doc + 1] = comment end
  end
  return fn, table.concat(doc, " "), keys
end

--- A step from step("name", fn_or_worklet [, with]) or step{name =, uses =, with =};
--- nil and a message when it is malformed or its worklet does not exist.
function workflow.make_step(name, body, with)
  local spec = type(name) == "table" and name or { name = name, with = with }
  if type(body) == "function" then spec.fn = body elseif body ~= nil then spec.uses = body end
  if type(spec.name) ~= "string" or spec.name == "" then return nil, "step: a name is required" end
  if not spec.fn and type(spec.uses) ~= "string" then
    return nil, "step '" .. spec.name .. "': give a function or a worklet name"
  end
  if spec.uses and not spec.fn then
    local fn, doc, keys = workflow.worklet(spec.uses)
    if not fn then return nil, "step '" .. spec.name .. "': " .. doc end
    spec.fn, spec.description, spec.keys = fn, spec.description or doc, keys
  end
  return spec
end

-- Add a step to the workflow; its name must be new.
local function add_step(wf, s)
  if wf.names[s.name] then return nil, "step '" .. s.name .. "' is declared twice" end
  wf.steps[#wf.steps + 1], wf.names[s.name] = s, true
  return s
end

-- True when a .workflow file is not Lua but a CIJOE task (YAML with steps), as CIJOE's
-- own .workflow files are.
local function is_task(path, lua_error)
  if path:match("%.ya?ml$") then return true end
  local f = lua_error and io.open(path, "rb")
  local doc = f and require("cijoe.yaml").load(f:read("a"), path)
  if f then f:close() end
  return type(doc) == "table" and type(doc.steps) == "table"
end

--- Load a workflow: a Lua script, compiled with step() and cijoe in its environment, or a
-- CIJOE task file (*.yaml, or a .workflow that is YAML). Returns the workflow, or nil and
-- "file:line: message".
function workflow.load(path)
  local wf = { path = path, steps = {}, names = {}, chunk = function() end }
  wf.name = path:match("([^/]+)$"):gsub("%.[^.]*$", "")
  local env = setmetatable({ cijoe = cijoe }, { __index = _G })
  function env.step(...)
    local s, err = workflow.make_step(...)
    if not (s and add_step(wf, s)) then error(err or "step '" .. s.name .. "' is declared twice", 2) end
    local caller = debug.getinfo(2, "Sl")
    s.where = caller.short_src .. ":" .. caller.currentline
  end
  local chunk, err
  if not path:match("%.ya?ml$") then chunk, err = loadfile(path, "t", env) end
  if is_task(path, not chunk) then return require("cijoe.task").load(wf, workflow.make_step, add_step) end
  if not chunk then return nil, err end
  package.path = (path:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
  wf.chunk, wf.env = chunk, env
  return wf
end

-- Lint's stand-in for cijoe: everything but running commands and moving files.
local linting = setmetatable({}, { __index = function(_, key)
  if key == "run" or key == "run_local" or key == "put" or key == "get" then
    return function() error("lint runs nothing", 0) end
  end
  return cijoe[key]
end })

--- Check a workflow without running it: syntax, step names, worklets, and the `with` keys
--- of worklets that list theirs. Returns the problems found (none when it is fine). A Lua
--- workflow's top level runs to declare its steps, with commands refused.
function workflow.lint(path)
  local wf, err = workflow.load(path)
  if not wf then return { err } end
  local problems = {}
  if wf.env then
    wf.env.cijoe = linting
    local ok, msg = pcall(wf.chunk)
    if not ok and msg ~= "lint runs nothing" then problems[1] = tostring(msg) end
  end
  for _, s in ipairs(wf.steps) do
    for key, value in pairs(s.with or {}) do
      local where = (s.where or path) .. ": step '" .. s.name .. "': "
      if s.keys and not s.keys[key] then
        problems[#problems + 1] = where .. s.uses .. " takes no with." .. tostring(key)
      elseif type(value) == "function" or type(value) == "userdata" or type(key) ~= "string" then
        problems[#problems + 1] = where .. "with." .. tostring(key) .. " is not plain data"
      end
    end
  end
  return problems
end

-- Rewrite workflow.state from the run's records. When that fails (a full or read-only
-- disk), the run can no longer be recorded: it stops with the reason, as for bad input.
local function save(run)
  run.record.elapsed = proc.now() - run.record.begin
  local ok, msg = output.write_yaml(output.dir .. "/workflow.state", run.record, true)
  if not ok then
    io.stderr:write("joe: ", msg, "; the run stops\n")
    os.exit(1, true)
  end
end

-- One line per finished step on the terminal.
local function report_line(run, rec)
  if run.quiet then return end
  io.stdout:write(string.format("%3d %-40s %-7s %8.2fs%s\n", rec.number, rec.name, rec.status,
    rec.elapsed or 0, rec.reason and "  (" .. rec.reason .. ")" or ""))
  io.stdout:flush()
end

-- Run fn(args, cijoe) as step rec. It passes on nil, 0 or true; it is skipped when it
-- returns "skip", reason; it fails on anything else (nil, msg too) or an error. Returns
-- false when it failed.
local function run_step(run, rec, fn, args)
  output.begin_step(rec.name, rec.number)
  rec.status, rec.begin = "running", proc.now()
  save(run)
  local ok, result, msg = xpcall(fn, traceback, args or {}, cijoe)
  rec.elapsed = proc.now() - rec.begin
  local passed = ok and ((result == nil and msg == nil) or result == 0 or result == true)
  local skipped = ok and result == "skip"
  rec.status = proc.signal() and "interrupted" or passed and "passed" or skipped and "skipped" or "failed"
  rec.reason = skipped and tostring(msg) or nil
  if not passed and not skipped then
    local detail = type(msg) == "string" and ": " .. msg or "" -- not the state of `return cijoe.run()`
    rec.error = ok and "returned " .. tostring(result) .. detail or tostring(result)
    if not proc.signal() then io.stderr:write("joe: ", rec.error, "\n") end
    local log = io.open((output.step_path() or ".") .. "/step.log", "ab")
    if log then log:write(rec.error, "\n"):close() end
  end
  save(run)
  return passed or skipped
end

-- Check the requested step names before anything runs.
local function selection(wf, wanted)
  local set = {}
  for _, name in ipairs(wanted) do
    if not wf.names[name] then return nil, "unknown step '" .. name .. "' in " .. wf.path end
    set[name] = true
  end
  return next(set) and set or nil
end

-- Run the declared steps; those not selected, and those after a fail_fast failure, skip.
local function run_steps(run, wf, selected, first)
  local failed, fail_fast = false, cijoe.getconf("cijoe.workflow.fail_fast", false)
  for i, s in ipairs(wf.steps) do
    run.record.steps[i] = { name = s.name, number = first + i - 1, status = "pending",
      description = s.description, uses = s.uses }
  end
  for i, s in ipairs(wf.steps) do
    local rec = run.record.steps[i]
    if (selected and not selected[s.name]) or (failed and fail_fast) or proc.signal() then
      rec.status = "skipped"
      report_line(run, rec)
    else
      failed = not run_step(run, rec, s.fn, s.with) or failed
      report_line(run, rec)
    end
  end
  return not failed
end

--- Run a loaded workflow; `wanted` lists step names to run (all when empty).
-- Returns the exit status: 0 when every selected step passed, 1 otherwise, 128+N when
-- stopped by signal N; or nil and a message for a bad selection.
function workflow.run(wf, wanted, opts)
  local run = { quiet = opts.quiet, record = { name = wf.name, script = wf.path,
    begin = proc.now(), status = "running", steps = {} } }
  local rec = { name = wf.name, number = 1 }
  run.record.steps[1] = rec
  local passed = run_step(run, rec, wf.chunk)
  local declared = #wf.steps > 0
  if declared and passed and not output.step_made then
    table.remove(run.record.steps, 1) -- the script only declared its steps
  else
    report_line(run, rec)
  end
  if declared then
    local selected, err = selection(wf, wanted)
    if err then return nil, err end
    passed = passed and run_steps(run, wf, selected, output.step_made and 2 or 1)
  elseif #wanted > 0 then
    return nil, wf.path .. " declares no steps"
  end
  local sig = proc.signal()
  run.record.status = sig and "interrupted" or passed and "passed" or "failed"
  save(run)
  require("cijoe.report").run(output.dir, run.quiet)
  return sig and 128 + sig or passed and 0 or 1
end

return workflow
