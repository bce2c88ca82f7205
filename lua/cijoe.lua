--- cijoe: run commands and move files on this machine or on the targets of the config.
-- Every command is logged in the run's output directory; a command that ran returns its
-- exit status and a state table, one that could not be run returns nil and a message.
local proc = require("cijoe.proc")
local config = require("cijoe.config")
local output = require("cijoe.output")
local yaml = require("cijoe.yaml")

local cijoe = { config = {}, monitor = false, verbose = false }
local opened = {} -- transport name -> open transport
local openers = {} -- functions called before a transport of the config is opened

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
function cijoe.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The local machine as a transport: commands through proc, copies through cp.
local local_transport = { name = "local" }

function local_transport.run(_, cmd, opts) return proc.run(cmd, opts) end

function local_transport.copy(_, src, dst)
  local pipe = io.popen("cp -R -p -- " .. cijoe.quote(src) .. " " .. cijoe.quote(dst) .. " 2>&1")
  local msg = pipe:read("a")
  if pipe:close() then return true end
  return nil, (msg:gsub("\n$", ""))
end
local_transport.put, local_transport.get = local_transport.copy, local_transport.copy

-- The sections of the config whose <section>.transport module was looked for.
local looked_for = {}

-- Load the <section>.transport module of each package with a section in the config, so
-- that the hooks it registers (cijoe.on_transport_open) apply in runs that never require
-- the package: the qemu package's guests have their ports in their folders.
local function load_transport_modules()
  for section in pairs(cijoe.config) do
    local module = type(section) == "string" and section ~= "cijoe" and section .. ".transport"
    if module and not looked_for[module] then
      looked_for[module] = true
      local found = package.preload[module] or package.searchpath(module, package.path)
      if found then require(module) end
    end
  end
end

-- The open transport called name, opened on first use.
local function transport(name)
  if name == "local" then return local_transport end
  if opened[name] then return opened[name] end
  load_transport_modules()
  local conf = config.get(cijoe.config, "cijoe.transport")
  if type(conf) ~= "table" or not conf[name] then
    return nil, "unknown transport '" .. tostring(name) .. "'"
  end
  for _, fn in ipairs(openers) do
    local ok, msg = fn(name, conf[name])
    if ok == nil and msg ~= nil then return nil, msg end
  end
  opened[name] = require("cijoe.remote").new(name, conf[name])
  return opened[name]
end

--- Call fn(name, conf) each time a transport of the config is opened, before it connects:
--- conf is its entry under cijoe.transport, which fn may change (the qemu package sets
--- the SSH port its guest was given at start); fn returning nil and a message refuses
--- the opening with that message.
function cijoe.on_transport_open(fn)
  if type(fn) ~= "function" then
    error("bad argument #1 to 'on_transport_open' (function expected, got " .. type(fn) .. ")", 2)
  end
  openers[#openers + 1] = fn
end

--- Close the transport called name if it is open; its next command opens it again from
--- the config (after a guest it reaches was started again on another port).
function cijoe.close_transport(name)
  local t = opened[name]
  opened[name] = nil
  if t then t:close() end
end

--- Close every open transport (the end of a run, or a child of cijoe.each).
function cijoe.close_transports()
  for name, t in pairs(opened) do
    t:close()
    opened[name] = nil
  end
end

--- Forget the open transports without closing them: a forked child of cijoe.each must
--- not use, nor close, the sessions its parent goes on using.
function cijoe.forget_transports()
  opened = {}
end

--- The name of the transport commands use when opts.transport is not given.
function cijoe.default_transport()
  return cijoe.default or config.transport_names(cijoe.config)[1] or "local"
end

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
  end
  local opts = args[opts_index]
  if opts ~= nil and type(opts) ~= "table" then bad_arg(opts_index, fname, "table", opts) end
  return opts or {}
end

-- The environment a command gets: cijoe.run.env of the config, then opts.env. The
-- config's part is computed once per config.
local env_cache = setmetatable({}, { __mode = "k" })
local function command_env(opts)
  local base = env_cache[cijoe.config]
  if not base then
    base = {}
    for k, v in pairs(config.get(cijoe.config, "cijoe.run.env", {})) do base[k] = v end
    env_cache[cijoe.config] = base
  end
  if not opts.env then return base end -- shared: never changed by the caller
  local env = {}
  for k, v in pairs(base) do env[k] = v end
  for k, v in pairs(opts.env) do env[k] = v end
  return env
end

-- A failure to run is written where the output would have been, then returned.
local function failed(st, msg)
  local f = io.open(st.output_fpath, "ab")
  if f then
    f:write("joe: could not run the command: ", msg, "\n")
    f:close()
  end
  st.error = msg
  return nil, msg
end

-- The command as the shell gets it: cwd entered and env exported first (the same way on
-- every transport), then the command itself through eval, so that nothing of it runs
-- when cd fails. Nil and a message for an env name that is not a shell identifier.
local function shell_command(cmd, opts)
  local prefix = opts.cwd and { "cd -- " .. cijoe.quote(opts.cwd) } or {}
  for name, value in pairs(command_env(opts)) do
    if not tostring(name):match("^[%a_][%w_]*$") then return nil, "bad environment variable name " .. cijoe.quote(name) end
    prefix[#prefix + 1] = "export " .. name .. "=" .. cijoe.quote(value)
  end
  if #prefix == 0 then return cmd end
  prefix[#prefix + 1] = "eval " .. cijoe.quote(cmd)
  return table.concat(prefix, " && ")
end

-- Run cmd on the open transport t; returns err, why (or nil, message), log error. The
-- state file is created while the command starts up, off the critical path.
local function start(t, cmd, opts, st)
  local monitor, full, err = opts.monitor, shell_command(cmd, opts)
  if not full then return nil, err end
  if monitor == nil then monitor = cijoe.monitor end
  return t:run(full, { timeout = opts.timeout, monitor = monitor, log = st.output_fpath,
    started = function() st.file = io.open(st.state_fpath, "wb") end })
end

-- Write the state file, through the handle opened while the command ran when there is one.
local function save_state(st)
  local file = st.file
  st.file = nil
  if not file then return output.write_yaml(st.state_fpath, st) end
  local ok, err = file:write(yaml.dump(st))
  local closed, cerr = file:close()
  if ok and closed then return true end
  return nil, st.state_fpath .. ": " .. tostring(err or cerr)
end

-- Run cmd on the named transport, log it, write its state.
local function execute(name, cmd, opts)
  local out, state_path = output.next_command()
  if not out then return nil, state_path end
  local st = setmetatable({ cmd = cmd, cwd = opts.cwd, transport = name, begin = proc.now(),
    output_fpath = out, state_fpath = state_path }, State)
  if cijoe.verbose then io.stderr:write("[", name, "] $ ", cmd, "\n") end
  local t, err, why, logerr = transport(name)
  if t then err, why, logerr = start(t, cmd, opts, st) else why, err = err, nil end
  st["end"] = proc.now()
  st.elapsed, st.err = st["end"] - st.begin, err
  st.timed_out = why == "timeout" or nil
  st.interrupted = why == "interrupted" or nil
  local first, second = err, st
  if err == nil or logerr then first, second = failed(st, logerr or why) end
  local ok, werr = save_state(st)
  if st.interrupted then error("interrupted", 0) end
  if not ok then return nil, werr end
  return first, second
end

--- Run a shell command on the default transport, or on opts.transport.
-- opts: transport, cwd, env = {K = V}, timeout (seconds), monitor (stream the output).
-- Returns err (the exit status, 128+N when killed by signal N) and the state table, or
-- nil and a message when the command could not be run.
function cijoe.run(cmd, opts)
  opts = check_args("run", 2, cmd, opts)
  return execute(opts.transport or cijoe.default_transport(), cmd, opts)
end

--- Run a shell command on this machine, whatever the default transport is.
function cijoe.run_local(cmd, opts)
  opts = check_args("run_local", 2, cmd, opts)
  return execute("local", cmd, opts)
end

--- Copy a file or directory (recursively) from this machine to the target.
-- Returns true, or nil and a message.
function cijoe.put(src, dst, opts)
  opts = check_args("put", 3, src, dst, opts)
  local t, msg = transport(opts.transport or cijoe.default_transport())
  if not t then return nil, msg end
  return t:put(src, dst)
end

--- Copy a file or directory (recursively) from the target to this machine. A relative
-- destination lands in the step's artifacts folder, so what was fetched stays with the run.
-- Returns true, or nil and a message.
function cijoe.get(src, dst, opts)
  opts = check_args("get", 3, src, dst, opts)
  local t, msg = transport(opts.transport or cijoe.default_transport())
  if not t then return nil, msg end
  if dst:sub(1, 1) ~= "/" then
    local dir, err = output.step_path("artifacts")
    if not dir then return nil, err end
    dst = dir .. "/" .. dst
  end
  return t:get(src, dst)
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
-- named like the key (QEMU_GUESTS_X_PATH) wins over the config; default when neither has it.
function cijoe.getconf(key, default)
  check_args("getconf", 2, key)
  return config.get(cijoe.config, key, default)
end

return cijoe
