--- cijoe: run commands and move files on this machine or on the targets of the config.
-- Every command is logged in the run's output directory; a command that ran returns its
-- exit status and a state table, one that could not be run returns nil and a message
-- (and then nothing of it ran). cijoe.config, cijoe.monitor and cijoe.verbose are the
-- current run's config and output settings, read and set through this table.
-- @module cijoe
local proc = require("cijoe.proc")
local config = require("cijoe.config")
local console = require("cijoe.console")
local run = require("cijoe.run")
local secrets = require("cijoe.secrets")
local yaml = require("cijoe.yaml")

local cijoe = {}
local RUN_FIELDS = { config = true, monitor = true, verbose = true }

-- The run of this process: commands are logged into it.
local function the_run()
  return run.current() or error("cijoe: no run is open (use joe to run the script)", 3)
end

setmetatable(cijoe, {
  __index = function(_, key)
    local r = run.current()
    if RUN_FIELDS[key] and r then return r[key] end
  end,
  __newindex = function(t, key, value)
    if RUN_FIELDS[key] then the_run()[key] = value else rawset(t, key, value) end
  end,
})

local State = {}
State.__index = State

--- The text the command printed, as it was logged (State:output()).
-- @treturn string
function State:output()
  local f = io.open(self.output_fpath, "rb")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

--- Quote a string for sh, so that no value can inject a command.
-- @function quote
-- @param s a string (or anything tostring takes)
-- @treturn string s in single quotes
-- @usage cijoe.run("ls -l " .. cijoe.quote(path))
cijoe.quote = require("cijoe.transport").quote

-- Raise the error luaL_check* would, at the caller of the cijoe function.
local function bad_arg(n, fname, expected, got)
  error(string.format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, expected,
    type(got)), 4)
end

-- Check the arguments of an API call: strings up to the opts table at opts_index, which
-- may be nil. Returns opts as a table.
-- The longest timeout of a command: 23 days, under what C's timers can count.
local MAX_TIMEOUT = 2000000

local function check_args(fname, opts_index, ...)
  local args = table.pack(...)
  for i = 1, opts_index - 1 do
    if type(args[i]) ~= "string" then bad_arg(i, fname, "string", args[i]) end
    if args[i]:find("%z") then
      error(string.format("bad argument #%d to '%s' (it holds a NUL byte, which no command " ..
        "or path can)", i, fname), 3)
    end
  end
  local opts = args[opts_index]
  if opts ~= nil and type(opts) ~= "table" then bad_arg(opts_index, fname, "table", opts) end
  if opts and opts.cwd ~= nil and (type(opts.cwd) ~= "string" or opts.cwd:find("%z")) then
    error(string.format("bad option cwd to '%s' (%s)", fname, type(opts.cwd) ~= "string" and
      "a string expected, got " .. type(opts.cwd) or "it holds a NUL byte, which no path can"), 3)
  end
  -- bounded before C, whose timers count milliseconds in an int (24 days)
  local timeout = opts and opts.timeout
  local seconds = tonumber(timeout)
  if timeout ~= nil and not (seconds and seconds > 0 and seconds <= MAX_TIMEOUT) then
    error(string.format("bad option timeout to '%s' (a number of seconds above 0 and at most " ..
      "%d expected, got %s)", fname, MAX_TIMEOUT, seconds and ("%g"):format(seconds)
      or tostring(timeout)), 3)
  end
  return opts or {}
end

-- The environment a command gets: cijoe.run.env of the config, then opts.env, as
-- {name, value, secret} in name order; nil and a message for a name that is no shell
-- identifier. Values are strings, numbers or booleans; anything else is a mistake.
local function command_env(conf, opts)
  local env, names, secrets = {}, {}, require("cijoe.secrets")
  for _, source in ipairs({ config.get(conf, "cijoe.run.env", {}), opts.env or {} }) do
    if type(source) ~= "table" then error("cijoe.run.env must be a mapping", 4) end
    for k, v in pairs(source) do
      if type(v) == "table" or type(v) == "function" or type(v) == "userdata" then
        error("env." .. tostring(k) .. ": a " .. type(v) .. " is no environment value", 4)
      end
      if tostring(v):find("%z") then
        error("env." .. tostring(k) .. ": it holds a NUL byte, which no environment value can", 4)
      end
      if env[k] == nil then names[#names + 1] = tostring(k) end
      env[k] = v
    end
  end
  table.sort(names)
  local pairs_ = {}
  for i, name in ipairs(names) do
    if not name:match("^[%a_][%w_]*$") then
      return nil, "bad environment variable name " .. cijoe.quote(name)
    end
    pairs_[i] = { name, tostring(env[name]), secrets.is_secret_name(name, conf) or nil }
  end
  return pairs_
end

-- Open what recording a command needs (its log, its state file, the transport) before
-- it starts; the files and transport, or nil and why it cannot run.
local function prepare(r, name, st)
  local log, err = io.open(st.output_fpath, "wb")
  if not log then return nil, err end
  local state_file, serr = io.open(st.state_fpath, "wb")
  if not state_file then
    log:close()
    return nil, serr
  end
  local t, terr = r:transport(name)
  if t then return t, log, state_file end
  log:write("joe: could not run the command: ", terr, "\n")
  log:close()
  state_file:close()
  return nil, terr
end

-- The fields of a command's state from how it ended (a result, or why it did not run).
local function settle(st, result, why)
  st["end"] = proc.now()
  st.elapsed = st["end"] - st.begin
  if not result then
    st.error = why
    return
  end
  st.err, st.timed_out, st.interrupted = result.err, result.timed_out, result.interrupted
  st.lost = result.lost
  if result.log_error then st.log_error = st.output_fpath .. ": " .. result.log_error end
end

-- Write the state file through its handle; a state that cannot be written is noted.
local function save_state(st, file)
  if not file then return end -- the command could not run: its failure is its record
  local ok, err = file:write(yaml.dump(st))
  local closed, cerr = file:close()
  if not (ok and closed) then
    st.log_error = st.log_error or st.state_fpath .. ": " .. tostring(err or cerr)
  end
end

-- Run cmd on the named transport, log it, write its state, journal it. What is logged of
-- the command line has the config's secrets (and secret env values) masked.
local function execute(name, cmd, opts)
  local r = the_run()
  local env, bad = command_env(r.config, opts)
  if not env then return nil, bad end
  local base, perr = r:next_command()
  if not base then return nil, perr end
  local hidden = r:secret_values(env)
  local st = setmetatable({ cmd = secrets.hide(cmd, hidden), cwd = opts.cwd, transport = name,
    begin = proc.now(),
    output_fpath = base .. ".output", state_fpath = base .. ".state",
    probe = (opts.probe or r.probing > 0) or nil,
    timeout = opts.timeout }, State)
  local t, log, state_file = prepare(r, name, st)
  local result, why
  if not t then
    why = log -- prepare's message
  else
    local monitor = opts.monitor
    if monitor == nil then monitor = r.monitor end
    if r.verbose then io.stderr:write("[", name, "] $ ", st.cmd, "\n") end
    if console.live then console.command(name, st.cmd) end -- for the live display
    result, why = t:run(cmd, { cwd = opts.cwd, env = env, log = log, timeout = opts.timeout,
      monitor = monitor })
    if console.live then console.command() end
    if not result then log:write("joe: could not run the command: ", why, "\n") end
    if result and result.lost then
      log:write("joe: the connection was lost while the command ran: ", result.lost, "\n")
    end
    log:close()
  end
  settle(st, result, why)
  save_state(st, state_file or io.open(st.state_fpath, "wb"))
  r:command_done(st)
  if st.interrupted or why == "interrupted" then error("interrupted", 0) end
  if not result then return nil, why end
  return st.err, st
end

--- Run a shell command on the default transport, or on opts.transport.
-- The command is logged in the current step's folder (`cmd_NN.output`, `cmd_NN.state`)
-- and journaled. A command that could not run fails its step, whatever the step
-- returns, unless opts.probe says the transport may be down.
-- @tparam string cmd a shell command (run by `sh -c`, or the target's login shell)
-- @tparam[opt] table opts `transport` (a name of `cijoe.transport`, or "local"), `cwd`,
--   `env` ({NAME = value}), `timeout` (seconds, at most 2,000,000), `monitor` (stream the
--   output), `probe` (true: a transport that is down is an answer, not a failure)
-- @treturn[1] int err: the exit status, 128+N when signal N killed it (never 0 when it
--   timed out)
-- @treturn[1] State state: `cmd`, `cwd`, `transport`, `err`, `begin`, `end`, `elapsed`,
--   `timed_out`, `interrupted`, `lost` (over SSH: why the connection went while the
--   command ran; err is then 255, as ssh gives, and the step fails), `output_fpath`,
--   `state_fpath`, and `state:output()`
-- @treturn[2] nil when the command could not run (and then nothing of it ran)
-- @treturn[2] string why
-- @usage local err, st = cijoe.run("make -j4", { cwd = "/src", timeout = 600 })
-- if err ~= 0 then return err end
function cijoe.run(cmd, opts)
  opts = check_args("run", 2, cmd, opts)
  return execute(opts.transport or the_run():default_transport(), cmd, opts)
end

--- Run a shell command on this machine, whatever the default transport is.
-- @tparam string cmd
-- @tparam[opt] table opts as for cijoe.run (but transport)
-- @return as cijoe.run
-- @usage cijoe.run_local("tar -C build -cf app.tar .")
function cijoe.run_local(cmd, opts)
  opts = check_args("run_local", 2, cmd, opts)
  return execute("local", cmd, opts)
end

-- put or get through the named transport, journaled with what it moved.
local function transfer(op, src, dst, opts)
  local r = the_run()
  local name, t0 = opts.transport or r:default_transport(), proc.now()
  local t, err = r:transport(name)
  local stats
  if console.live then console.command(name, op .. " " .. src .. " " .. dst) end
  if t then stats, err = t[op](t, src, dst, opts) end
  if console.live then console.command() end
  r:copy_done({ op = op, src = src, dst = dst, transport = name, error = err, stats = stats,
    elapsed = proc.now() - t0, probe = (opts.probe or r.probing > 0) or nil })
  if not stats then return nil, err end
  return true
end

--- Copy a file or folder from this machine to the target.
-- dst is the new name, or the folder to copy into when it is one (as cp -R and scp).
-- Links inside folders stay links (never followed), modes are kept without the setuid
-- and setgid bits, each file is written under a temporary name and renamed into place.
-- @tparam string src a local path
-- @tparam string dst a path on the target
-- @tparam[opt] table opts `transport`, `keep_setuid`, `probe`
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string why
-- @usage assert(cijoe.put("build/app", "/tmp/app"))
function cijoe.put(src, dst, opts)
  opts = check_args("put", 3, src, dst, opts)
  return transfer("put", src, dst, opts)
end

--- Copy a file or folder from the target to this machine, as cijoe.put does.
-- A relative destination lands in the current step's artifacts folder, so what was
-- fetched stays with the run (and the report links it).
-- @tparam string src a path on the target
-- @tparam string dst a local path (relative: in the step's artifacts/)
-- @tparam[opt] table opts as for cijoe.put
-- @return as cijoe.put
-- @usage assert(cijoe.get("/var/log/app.log", "app.log"))
function cijoe.get(src, dst, opts)
  opts = check_args("get", 3, src, dst, opts)
  if dst:sub(1, 1) ~= "/" then
    local dir, err = the_run():step_path("artifacts")
    if not dir then return nil, err end
    dst = dir .. "/" .. dst
  end
  return transfer("get", src, dst, opts)
end

--- Call fn with every command and copy it makes counted as a probe.
-- As opts.probe does for one command: for code that expects a transport to be down and
-- calls what cannot take that option (a package's functions).
-- @tparam function fn
-- @param ... its arguments
-- @return what fn returns (an error in fn is raised again)
-- @usage local up = cijoe.probe(guest.is_running, guest)
function cijoe.probe(fn, ...)
  if type(fn) ~= "function" then bad_arg(1, "probe", "function", fn) end
  local r = the_run()
  r.probing = r.probing + 1
  local results = table.pack(pcall(fn, ...))
  r.probing = r.probing - 1
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

--- The name of the transport commands use when opts.transport is not given.
-- @treturn string the one set for the run (the REPL's :transport, a target of --each),
--   else the config's first, else "local"
function cijoe.default_transport()
  return the_run():default_transport()
end

--- Call fn each time a transport of the config is opened, before it connects.
-- fn(name, entry) gets the transport's table under cijoe.transport, which it may
-- complete (the qemu package sets the SSH port its guest was given at start); fn
-- returning nil and a message refuses the opening with that message. A package's
-- <pkg>/transport.lua is loaded before the first transport opens when the config has
-- a <pkg> section, so its hooks apply in runs that never require the package.
-- @tparam function fn
function cijoe.on_transport_open(fn)
  if type(fn) ~= "function" then bad_arg(1, "on_transport_open", "function", fn) end
  require("cijoe.transport").on_open(fn)
end

--- Close the transport called name if it is open; its next use opens it again.
-- @tparam string name
function cijoe.close_transport(name)
  check_args("close_transport", 2, name)
  the_run():close_transport(name)
end

--- Close every transport the run opened (the next use connects again).
function cijoe.close_transports()
  the_run():close_transports()
end

--- The current step's folder in the output directory, made on first use.
-- @tparam[opt] string sub a folder inside it, such as "artifacts"
-- @treturn[1] string the path
-- @treturn[2] nil
-- @treturn[2] string why
function cijoe.step_path(sub)
  return the_run():step_path(sub)
end

--- Run fn(t) for every transport name in targets at once, each in a process of its own.
-- t.run, t.put and t.get are bound to that target and t.name is its name. A target
-- that fails or cannot be reached never raises. Commands are logged in <step>/<target>/.
-- @tparam {string,...} targets transport names
-- @tparam function fn fn(t) returning err [, message]
-- @tparam[opt] table opts `jobs` (at most that many at a time; a whole number >= 1)
-- @treturn table {target = {err =, message =, elapsed =, could_not_run =}}
-- @usage local r = cijoe.each({"lab1", "lab2"}, function(t) return t.run("uname -r") end)
function cijoe.each(targets, fn, opts)
  if type(targets) ~= "table" then bad_arg(1, "each", "table", targets) end
  if type(fn) ~= "function" then bad_arg(2, "each", "function", fn) end
  return require("cijoe.each").each(targets, fn, opts)
end

--- A value of the config by dotted key.
-- The environment variable named like the key (qemu.guests.x.path: QEMU_GUESTS_X_PATH)
-- wins over the config, as a string.
-- @tparam string key such as "qemu.guests.default.memory"
-- @param[opt] default when neither has it
-- @return the value
-- @usage local env = cijoe.getconf("cijoe.run.env", {})
function cijoe.getconf(key, default)
  check_args("getconf", 2, key)
  return config.get(the_run().config, key, default)
end

return cijoe
