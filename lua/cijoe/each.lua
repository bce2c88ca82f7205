-- Many targets at once: a process per target (fork), each with its own transport
-- sessions and output folder. Their output comes back through the parent, which writes
-- it a whole line at a time with the target's name in front, so lines never mix; one
-- slow or unreachable target only holds up its own process.
local fanout = require("cijoe.fanout")
local fs = require("cijoe.fs")
local config = require("cijoe.config")
local proc = require("cijoe.proc")
local run = require("cijoe.run")
local yaml = require("cijoe.yaml")

local each = { LINE_CAP = 64 * 1024 }

-- Write the complete lines of a child's output with its prefix and keep the rest, in
-- time linear in the output; a line longer than LINE_CAP is written in pieces.
local function relay(child, data, flush)
  local last = data:find("\n[^\n]*$") -- the last newline ("(.*)()\n" backtracks: O(n^2))
  if not last then
    child.rest[#child.rest + 1], child.size = data, child.size + #data
    if child.size < each.LINE_CAP and not (flush and child.size > 0) then return end
    data, last = table.concat(child.rest) .. "\n", nil
    child.rest, child.size = {}, 0
  else
    data, child.rest = table.concat(child.rest) .. data:sub(1, last), { data:sub(last + 1) }
    child.size = #child.rest[1]
    if flush and child.size > 0 then return relay(child, "", true) end
  end
  local prefix = child.prefix
  io.stdout:write((data:gsub("[^\n]*\n", function(line) return prefix .. line end)))
  io.stdout:flush()
end

-- Start fn(target) in a child process, which ends with fn's status; the parent gets the
-- child's pid and the pipe of its output.
local function start(target, fn)
  local pid, fd = fanout.fork()
  if not pid then error("cannot start a process for " .. target .. ": " .. tostring(fd), 0) end
  if pid == 0 then
    local ok, status = xpcall(fn, debug.traceback, target)
    if not ok then io.stderr:write("joe: ", tostring(status), "\n") end
    fanout.exit(ok and math.tointeger(status) or 1)
  end
  return { pid = pid, fd = fd, target = target, prefix = "[" .. target .. "] ", rest = {},
    size = 0 }
end

--- A number of jobs as -j or opts.jobs give it: a whole number from 1 up, or nil and
--- what is wrong.
function each.jobs(value, default)
  if value == nil then return default end
  local n = math.tointeger(tonumber(value))
  if not n or n < 1 then
    return nil, "jobs must be a whole number of 1 or more, not " .. tostring(value)
  end
  return n
end

-- The parent's loop: start children (at most jobs at a time, none after a signal),
-- relay their output and note how each ended, until none is left.
local function pump(state, fn, jobs)
  local queue, running = state.queue, state.running
  while #running > 0 or (#queue > 0 and not proc.signal()) do
    while #queue > 0 and #running < jobs and not proc.signal() do
      running[#running + 1] = start(table.remove(queue, 1), fn)
    end
    if #running == 0 then break end
    local i, data, status = fanout.wait(running)
    local child = running[i]
    if data then
      relay(child, data)
    else
      table.remove(running, i)
      state.statuses[child.target] = status
      relay(child, "", true)
    end
  end
end

-- A signal that comes while the parent runs Lua code (relaying a flood of output) raises
-- "interrupted" there, as lua.c does; the fan-out must still pass it on and collect its
-- children, so the loop goes on (the signal stays pending; fanout.wait passes it on). What
-- was being relayed may be cut short; a child whose end was taken but not noted (its
-- pipe is closed: it has no /proc/self/fd entry) is noted without a status.
local function resume_after(state, err)
  if not (proc.signal() and tostring(err):find("interrupted$")) then error(err, 0) end
  for i = #state.running, 1, -1 do
    local child = state.running[i]
    if not fs.lstat("/proc/self/fd/" .. child.fd) then table.remove(state.running, i) end
  end
end

--- Run fn(target) for each target in a process of its own, at most jobs at a time;
--- returns {target -> exit status of its process}.
function each.fan_out(targets, fn, jobs)
  local state = { queue = { table.unpack(targets) }, running = {}, statuses = {} }
  repeat
    local ok, err = pcall(pump, state, fn, jobs)
    if not ok then resume_after(state, err) end
  until ok
  return state.statuses
end

-- opts with transport = target, for the functions bound to a target.
local function on(target, opts)
  local copy = { transport = target }
  for k, v in pairs(opts or {}) do copy[k] = k == "transport" and target or v end
  return copy
end

-- True for a target name that is safe as a folder of the output directory.
local function safe_target(name)
  return type(name) == "string" and name ~= "" and name ~= "." and name ~= ".."
    and not name:find("[/%z]")
end

-- In a child: run fn(t) with t bound to target; its result goes to a file of the step.
local function each_child(fn, dir, target)
  local cijoe = require("cijoe")
  local r = run.current()
  r:fork_into(dir .. "/" .. run.safe_name(target), target)
  local t = { name = target,
    run = function(cmd, opts) return cijoe.run(cmd, on(target, opts)) end,
    put = function(src, dst, opts) return cijoe.put(src, dst, on(target, opts)) end,
    get = function(src, dst, opts) return cijoe.get(src, dst, on(target, opts)) end }
  local t0 = proc.now()
  local ok, err, msg = pcall(fn, t)
  local unrun = r.step.unrun
  local result = { err = ok and math.tointeger(err) or nil, elapsed = proc.now() - t0,
    message = not ok and tostring(err) or type(msg) == "string" and msg or nil,
    could_not_run = unrun and require("cijoe.verdict").describe(unrun) or nil,
    unrun = unrun and { cmd = unrun.cmd, transport = unrun.transport, error = unrun.error,
      err = unrun.err, lost = unrun.lost, copy = unrun.copy,
      output_fpath = unrun.output_fpath } or nil }
  local dir_made, derr = r:step_path()
  local written, werr = dir_made and yaml.write(dir_made .. "/each.result", result)
  if not written then io.stderr:write("joe: ", tostring(werr or derr), "\n") return 1 end
  return 0
end

--- cijoe.each(targets, fn [, {jobs = N}]): run fn(t) for every transport name in targets
--- at once (at most N at a time), where t.run, t.put and t.get are bound to that target.
--- Returns {target = {err =, message =, elapsed =}}; a failing target never raises.
function each.each(targets, fn, opts)
  local jobs, jerr = each.jobs(opts and opts.jobs, #targets)
  if not jobs then error("cijoe.each: " .. jerr, 3) end
  for _, t in ipairs(targets) do
    if not safe_target(t) then
      error("cijoe.each: bad target name " .. string.format("%q", tostring(t)), 3)
    end
  end
  local results = {}
  if #targets == 0 then return results end
  local dir, err = run.current():step_path()
  if not dir then error("cijoe.each: " .. err, 3) end
  local function child(target) return each_child(fn, dir, target) end
  local statuses = each.fan_out(targets, child, jobs)
  local step = run.current().step
  for _, target in ipairs(targets) do
    local f = io.open(dir .. "/" .. run.safe_name(target) .. "/each.result", "rb")
    local result = f and yaml.load(f:read("a")) or
      { message = "its process ended with status " .. tostring(statuses[target]) }
    if f then f:close() end
    -- a target's command that could not run fails the step, as one of the step's own
    -- does, whatever fn and the step make of it
    if result.unrun and step and not step.unrun then step.unrun = result.unrun end
    result.unrun, results[target] = nil, result
  end
  return results
end

-- The transport names of `--each`: a comma-separated list, or all of the config's; each
-- must be safe as a folder of the output directory.
local function target_names(spec, conf)
  local known, names = config.transport_names(conf), {}
  if spec == "all" then names = known end
  for name in (spec == "all" and "" or spec):gmatch("[^,%s]+") do
    names[#names + 1] = name
    local found = name == "local"
    for _, k in ipairs(known) do found = found or k == name end
    if not found then
      return nil, "--each: unknown transport '" .. name .. "'" ..
        require("cijoe.suggest").hint(name, { "all", "local", table.unpack(known) })
    end
  end
  for _, name in ipairs(names) do
    if not safe_target(name) then return nil, "--each: bad transport name '" .. name .. "'" end
  end
  if #names == 0 then return nil, "--each: give transport names (or all)" end
  return names
end

--- joe --each t1,t2 wf.lua: the workflow once per target, concurrently (-j N at most),
--- each a run of its own in <output>/<target>/, then one combined record and report of
--- the run r. Returns the exit status.
function each.workflow(opts, wf, wanted, r)
  local cli = require("cijoe.cli")
  local names, err = target_names(opts.each, r.config)
  local jobs, jerr = each.jobs(opts.jobs, names and #names or 1)
  if not names or not jobs then
    r:finish("failed", false)
    return cli.die(err or "-j: " .. jerr, 2)
  end
  local statuses = each.fan_out(names, function(target)
    local child, err = run.open({ dir = r.dir .. "/" .. target, name = wf.name,
      kind = "workflow", script = wf.path, config = r.config, quiet = opts.quiet,
      monitor = opts.monitor, verbose = opts.verbose })
    if not child then return cli.die("cannot create the output directory: " .. err, 2) end
    child:set_default(target)
    local code, werr = require("cijoe.runner").workflow(child, wf, wanted)
    return code or cli.die(werr, 2)
  end, jobs)
  local worst = 0
  for _, target in ipairs(names) do
    local state = require("cijoe.record").derive(r.dir .. "/" .. target) or {}
    r:event({ ev = "target", name = target, status = state.status or
      ("exited with " .. tostring(statuses[target])) })
    worst = math.max(worst, statuses[target] or 1)
  end
  local sig = proc.signal()
  r:finish(sig and "interrupted" or worst == 0 and "passed" or "failed")
  return sig and 128 + sig or worst
end

return each
