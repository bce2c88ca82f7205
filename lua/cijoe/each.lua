-- Many targets at once: a process per target (fork), each with its own transport
-- sessions and output folder. Their output comes back through the parent, which writes
-- it a whole line at a time with the target's name in front, so lines never mix; one
-- slow or unreachable target only holds up its own process.
local fanout = require("cijoe.fanout")
local config = require("cijoe.config")
local output = require("cijoe.output")
local proc = require("cijoe.proc")
local yaml = require("cijoe.yaml")
local cijoe = require("cijoe")

local each = {}

-- Write the complete lines of a child's output with its prefix; keep the rest.
local function relay(child, data)
  local lines = {}
  child.rest = (child.rest .. data):gsub("([^\n]*)\n", function(line)
    lines[#lines + 1] = child.prefix .. line .. "\n"
    return ""
  end)
  io.stdout:write(table.concat(lines))
  io.stdout:flush()
end

-- Start fn(target) in a child process, which ends with fn's status; the parent gets the
-- child's pid and the pipe of its output.
local function start(target, fn)
  local pid, fd = fanout.fork()
  if pid == 0 then
    cijoe.forget_transports()
    cijoe.default = target
    local ok, status = xpcall(fn, debug.traceback, target)
    if not ok then io.stderr:write("joe: ", tostring(status), "\n") end
    fanout.exit(ok and math.tointeger(status) or 1)
  end
  assert(pid, fd)
  return { pid = pid, fd = fd, target = target, prefix = "[" .. target .. "] ", rest = "" }
end

--- Run fn(target) for each target in a process of its own, at most jobs at a time
--- (default: all); returns {target -> exit status of its process}.
function each.fan_out(targets, fn, jobs)
  local queue, running, statuses = { table.unpack(targets) }, {}, {}
  while #running > 0 or (#queue > 0 and not proc.signal()) do
    while #queue > 0 and #running < (jobs or #targets) and not proc.signal() do
      running[#running + 1] = start(table.remove(queue, 1), fn)
    end
    local i, data, status = fanout.wait(running)
    if data then relay(running[i], data) end
    if not data then
      relay(running[i], running[i].rest ~= "" and "\n" or "")
      statuses[running[i].target] = status
      table.remove(running, i)
    end
  end
  return statuses
end

-- opts with transport = target, for the functions bound to a target.
local function on(target, opts)
  local copy = { transport = target }
  for k, v in pairs(opts or {}) do copy[k] = k == "transport" and target or v end
  return copy
end

-- In a child: run fn(t) with t bound to target; its result goes to a file of the step.
local function each_child(fn, dir, target)
  output.step_dir, output.step_made, output.cmd = dir .. "/" .. output.safe_name(target), false, 0
  local t = { name = target,
    run = function(cmd, opts) return cijoe.run(cmd, on(target, opts)) end,
    put = function(src, dst, opts) return cijoe.put(src, dst, on(target, opts)) end,
    get = function(src, dst, opts) return cijoe.get(src, dst, on(target, opts)) end }
  local t0 = proc.now()
  local ok, err, msg = pcall(fn, t)
  local result = { err = ok and math.tointeger(err) or nil, elapsed = proc.now() - t0,
    message = not ok and tostring(err) or type(msg) == "string" and msg or nil }
  assert(output.write_yaml(output.step_path() .. "/each.result", result))
  return 0
end

--- cijoe.each(targets, fn [, {jobs = N}]): run fn(t) for every transport name in targets
--- at once (at most N at a time), where t.run, t.put and t.get are bound to that target.
--- Returns {target = {err =, message =, elapsed =}}; a failing target never raises.
function each.each(targets, fn, opts)
  local dir, results = assert(output.step_path()), {}
  local statuses = each.fan_out(targets, function(target) return each_child(fn, dir, target) end,
    opts and opts.jobs)
  for _, target in ipairs(targets) do
    local f = io.open(dir .. "/" .. output.safe_name(target) .. "/each.result", "rb")
    results[target] = f and yaml.load(f:read("a")) or
      { message = "its process ended with status " .. tostring(statuses[target]) }
    if f then f:close() end
  end
  return results
end

-- The transport names of `--each`: a comma-separated list, or all of the config's.
local function target_names(spec)
  local known, names = config.transport_names(cijoe.config), {}
  if spec == "all" then return known end
  for name in spec:gmatch("[^,%s]+") do
    names[#names + 1] = name
    local found = name == "local"
    for _, k in ipairs(known) do found = found or k == name end
    if not found then return nil, "--each: unknown transport '" .. name .. "'" end
  end
  return names
end

-- The combined record of the runs: each target's steps, named "target: step".
local function combine(top, wf, names, statuses)
  local record = { name = wf.name, script = wf.path, status = "passed", steps = {}, targets = {} }
  for _, target in ipairs(names) do
    local f = io.open(top .. "/" .. target .. "/workflow.state", "rb")
    local state = f and yaml.load(f:read("a")) or {}
    if f then f:close() end
    record.targets[target] = state.status or "exited with " .. tostring(statuses[target])
    if record.targets[target] ~= "passed" then record.status = "failed" end
    for _, s in ipairs(state.steps or {}) do
      s.rel, s.target = string.format("%s/%03d_%s", target, s.number, output.safe_name(s.name)), target
      s.name, s.number = target .. ": " .. s.name, #record.steps + 1
      record.steps[#record.steps + 1] = s
    end
  end
  return record
end

--- joe --each t1,t2 wf.lua: the workflow once per target, concurrently (-j N at most),
--- each run in <output>/<target>/, then one combined report. Returns the exit status.
function each.workflow(opts, wf, wanted, top)
  local names, err = target_names(opts.each)
  if not names then return require("cijoe.cli").die(err, 2) end
  local statuses = each.fan_out(names, function(target)
    assert(output.open(top .. "/" .. target))
    local code = assert(require("cijoe.workflow").run(wf, wanted, opts))
    cijoe.close_transports()
    return code
  end, tonumber(opts.jobs))
  local record = combine(top, wf, names, statuses)
  assert(output.write_yaml(top .. "/workflow.state", record, true))
  require("cijoe.report").run(top, opts.quiet, names)
  local worst = 0
  for _, status in pairs(statuses) do worst = math.max(worst, status) end
  return proc.signal() and 128 + proc.signal() or worst
end

return each
