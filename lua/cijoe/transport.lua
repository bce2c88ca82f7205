-- The transports behind one interface. A transport is this machine ("local") or a named
-- entry of cijoe.transport in the config (SSH). Each has:
--
--   t.name
--   t:run(cmd, {cwd = dir, env = {{name, value, secret}...}, log = file, timeout = s,
--          monitor = bool}) -> result | nil, why
--       result = {err = status, timed_out = true|nil, interrupted = true|nil,
--                 log_error = why the log stopped taking writes | nil,
--                 lost = why the connection went while it ran | nil (err is then 255,
--                 as ssh(1) gives: it started, and how it ended is unknown)}
--       nil, why: the command did not run (and nothing of it did)
--   t:put(src, dst, opts) / t:get(src, dst, opts) -> stats | nil, why: a file or a tree,
--       through the one tree copy (cijoe.copy), the same rules on every transport
--   t:close()
local transport = {}

-- Signal names as SSH gives them, to the status a shell would show (128 + number).
local SIGNALS = { HUP = 1, INT = 2, QUIT = 3, ILL = 4, TRAP = 5, ABRT = 6, BUS = 7,
  FPE = 8, KILL = 9, USR1 = 10, SEGV = 11, USR2 = 12, PIPE = 13, ALRM = 14, TERM = 15 }

-- The status timeout(1) gives a command it stopped, for one that still exited 0.
local TIMED_OUT = 124

--- The result of a command from what proc.run or session:exec gave: its status (128+N
--- when signal N killed it), why it was stopped, why its log is incomplete.
function transport.result(status, why, log_error)
  if type(status) == "string" then status = 128 + (SIGNALS[status] or 0) end
  if why == "timeout" and status == 0 then status = TIMED_OUT end -- never a green timeout
  return { err = status, timed_out = why == "timeout" or nil,
    interrupted = why == "interrupted" or nil, log_error = log_error }
end

--- Quote a string for sh, so that no value can inject a command.
function transport.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- The command as a shell runs it in cwd (when given): through eval after the cd, so that
--- nothing of it runs when cd fails (its status is then the shell's 2 and its message).
--- The env goes apart: locally into the shell's environment, over SSH through stdin.
function transport.prefixed(cmd, cwd)
  if not cwd then return cmd end
  return "cd -- " .. transport.quote(cwd) .. " && eval " .. transport.quote(cmd)
end

local openers, looked_for = {}, {} -- hooks; the <section>.transport modules looked for

--- Call fn(name, entry) each time a transport of the config is opened, before it
--- connects: entry is its table under cijoe.transport, which fn may complete (the qemu
--- package sets the port its guest was given at start); nil and a message refuses.
function transport.on_open(fn)
  openers[#openers + 1] = fn
end

-- A package with a section in the config may have a <section>.transport module, loaded
-- before the first transport opens so that its hooks apply in runs that never require
-- the package (a workflow of nvme steps against a qemu guest).
local function load_hook_modules(conf)
  for section in pairs(conf) do
    local module = type(section) == "string" and section ~= "cijoe" and section .. ".transport"
    if module and not looked_for[module] then
      looked_for[module] = true
      if package.preload[module] or package.searchpath(module, package.path) then
        require(module)
      end
    end
  end
end

--- The transport called name for the config conf: "local" is this machine; other names
--- are entries of cijoe.transport. Returns it, or nil and a message.
function transport.open(name, conf)
  if name == "local" then return require("cijoe.transport_local") end
  local entries = type(conf.cijoe) == "table" and conf.cijoe.transport
  local entry = type(entries) == "table" and entries[name]
  if type(entry) ~= "table" then
    local names = { "local" }
    for k in pairs(type(entries) == "table" and entries or {}) do names[#names + 1] = k end
    return nil, "unknown transport '" .. tostring(name) .. "'" ..
      require("cijoe.suggest").hint(tostring(name), names)
  end
  load_hook_modules(conf)
  for _, fn in ipairs(openers) do
    local ok, msg = fn(name, entry)
    if ok == nil and msg ~= nil then return nil, msg end
  end
  return require("cijoe.transport_ssh").new(name, entry, entries)
end

return transport
