--- cijoe: run commands and move files on this machine or on the targets of the config.
-- Every command is logged in the run's output directory; a command that ran returns its
-- exit status and a state table, one that could not be run returns nil and a message
-- (and then nothing of it ran). cijoe.config, cijoe.monitor and cijoe.verbose are the
-- current run's config and output settings, read and set through this table.
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

--- The text the command printed, as it was logged.
function State:output()
  local f = io.open(self.output_fpath, "rb")
  if not f then return "" end
  local text = f:read("a")
  f:close()
  return text
end

--- Quote a string for sh, so that no value can inject a command.
cijoe.quote = require("cijoe.transport").quote

-- Raise the error luaL_check* would, at the caller of the cijoe function.
local function bad_arg(n, fname, expected, got)
  error(string.format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, expected,
    type(got)), 4)
end

-- Check the arguments of an API call: strings up to the opts table at opts_index, which
-- may be nil. Returns opts as a table.
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
-- opts: transport, cwd, env = {K = V}, timeout (seconds), monitor (stream the output),
-- probe (true: the transport may be down, as when waiting for a guest to come up; a
-- command that cannot run then does not fail the step, and the report shows it as a
-- probe). Returns err (the exit status, 128+N when killed by signal N; never 0 for a
-- command that timed out) and the state table, or nil and a message when the command
-- could not be run, and then nothing of it ran.
function cijoe.run(cmd, opts)
  opts = check_args("run", 2, cmd, opts)
  return execute(opts.transport or the_run():default_transport(), cmd, opts)
end

--- Run a shell command on this machine, whatever the default transport is.
function cijoe.run_local(cmd, opts)
  opts = check_args("run_local", 2, cmd, opts)
  return execute("local", cmd, opts)
end

-- put or get through the named transport, journaled with what it moved.
local function transfer(op, src, dst, opts)
  local r = the_run()
  local name, t0 = opts.transport or r:default_transport(), proc.now()
  local t, err = r:transport(name)
  local stats, unreachable
  if console.live then console.command(name, op .. " " .. src .. " " .. dst) end
  if t then stats, err, unreachable = t[op](t, src, dst, opts) else unreachable = true end
  if console.live then console.command() end
  r:copy_done({ op = op, src = src, dst = dst, transport = name, error = err, stats = stats,
    elapsed = proc.now() - t0,
    unreachable = unreachable and not (opts.probe or r.probing > 0) or nil })
  if not stats then return nil, err end
  return true
end

--- Copy a file or folder from this machine to dst on the target (dst is the new name,
--- or the folder to copy into when it is one); links inside folders stay links, modes
--- are kept without setuid/setgid (opts.keep_setuid keeps them). Returns true, or nil
--- and a message.
function cijoe.put(src, dst, opts)
  opts = check_args("put", 3, src, dst, opts)
  return transfer("put", src, dst, opts)
end

--- Copy a file or folder from the target to this machine, as cijoe.put does. A relative
--- destination lands in the step's artifacts folder, so what was fetched stays with the
--- run. Returns true, or nil and a message.
function cijoe.get(src, dst, opts)
  opts = check_args("get", 3, src, dst, opts)
  if dst:sub(1, 1) ~= "/" then
    local dir, err = the_run():step_path("artifacts")
    if not dir then return nil, err end
    dst = dir .. "/" .. dst
  end
  return transfer("get", src, dst, opts)
end

--- Call fn(...) with every command and copy it makes counted as a probe, as opts.probe
--- does for one command: for code that expects a transport to be down and calls what
--- cannot take that option (a package's functions). Returns what fn returns; an error
--- in fn is raised again.
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
function cijoe.default_transport()
  return the_run():default_transport()
end

--- Call fn(name, entry) each time a transport of the config is opened, before it
--- connects: entry is its table under cijoe.transport, which fn may complete (the qemu
--- package sets the SSH port its guest was given at start); fn returning nil and a
--- message refuses the opening with that message. A package's <pkg>/transport.lua is
--- loaded before the first transport opens when the config has a <pkg> section, so its
--- hooks apply in runs that never require the package.
function cijoe.on_transport_open(fn)
  if type(fn) ~= "function" then bad_arg(1, "on_transport_open", "function", fn) end
  require("cijoe.transport").on_open(fn)
end

--- Close the transport called name if it is open; its next command opens it again from
--- the config (after a guest it reaches was started again on another port).
function cijoe.close_transport(name)
  check_args("close_transport", 2, name)
  the_run():close_transport(name)
end

--- Close every transport the run opened (the next use connects again), as when a guest
--- was restarted on another port.
function cijoe.close_transports()
  the_run():close_transports()
end

--- The current step's folder in the output directory (made on first use); with sub, a
--- folder inside it, such as "artifacts". Returns the path, or nil and a message.
function cijoe.step_path(sub)
  return the_run():step_path(sub)
end

--- Run fn(t) for every transport name in targets at once (at most opts.jobs at a time),
--- each in a process of its own, where t.run, t.put and t.get are bound to that target
--- (t.name is its name). Returns {target = {err =, message =, elapsed =}}; a target that
--- fails or cannot be reached never raises. Commands are logged in <step>/<target>/.
function cijoe.each(targets, fn, opts)
  if type(targets) ~= "table" then bad_arg(1, "each", "table", targets) end
  if type(fn) ~= "function" then bad_arg(2, "each", "function", fn) end
  return require("cijoe.each").each(targets, fn, opts)
end

--- A value of the config by dotted key ("qemu.guests.x.path"); the environment variable
--- named like the key (QEMU_GUESTS_X_PATH) wins over the config; default when neither
--- has it.
function cijoe.getconf(key, default)
  check_args("getconf", 2, key)
  return config.get(the_run().config, key, default)
end

return cijoe
