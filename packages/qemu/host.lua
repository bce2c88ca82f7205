-- The qemu host: the transport qemu, qemu-img, socat and the guest folders are on
-- (qemu.host_transport, default "local"), and what the package's modules share about
-- running commands there and telling what went wrong.
local cijoe = require("cijoe")

local host = {}

--- The name of the transport the qemu binaries, their files and sockets are on.
function host.transport()
  return cijoe.getconf("qemu.host_transport", "local")
end

--- Run cmd on the host; returns err, state, or nil and a message.
function host.run(cmd, timeout)
  return cijoe.run(cmd, { transport = host.transport(), timeout = timeout or 30 })
end

--- The last line a command printed, for messages.
function host.last_line(state)
  local text = state:output():gsub("%s+$", "")
  return text:match("([^\n]*)$")
end

--- What went wrong with a host command: the transport's message, or the command's last
--- line.
function host.problem(err, st)
  if err == nil then return tostring(st) end
  return host.last_line(st)
end

--- The console's text without terminal escapes and carriage returns, for messages.
function host.printable(text)
  return (text:gsub("\27%[[%d;?]*%a", ""):gsub("\27.", ""):gsub("[\r%z]", ""))
end

--- A shell test, true while guest g's qemu runs: its pidfile names a live process whose
--- command line holds that pidfile (a pid reused by another process does not count).
function host.running_test(g)
  local q = cijoe.quote
  return string.format('pid=$(cat %s 2>/dev/null) && [ -n "$pid" ] && ' ..
    'grep -qaF -- %s "/proc/$pid/cmdline" 2>/dev/null', q(g.pidfile), q(g.pidfile))
end

--- A failure, nil and a message naming guest g.
function host.fail(g, msg)
  return nil, "guest '" .. g.name .. "': " .. msg
end

--- A failure naming guest g, ending with the last lines of its console, which say why.
function host.fail_with_console(g, msg)
  local tail = g:console_log(20) or "(none)\n"
  return host.fail(g, msg .. "; the console's last lines:\n" .. host.printable(tail))
end

--- Make guest g's folder on the host; true, or nil and a message.
function host.make_folder(g)
  local err, st = host.run("mkdir -p " .. cijoe.quote(g.path))
  if err ~= 0 then
    return host.fail(g, "cannot make " .. g.path .. ": " .. host.problem(err, st))
  end
  return true
end

--- Refuse to change guest g while its qemu runs (or when the host cannot be asked): true,
--- or nil and a message.
function host.refuse_running(g)
  local running, msg = g:is_running()
  if running == nil then
    return host.fail(g, "cannot ask the qemu host whether it runs: " .. msg)
  end
  if running then
    return host.fail(g, "already running (pid " .. tostring(g:pid()) ..
      "); qemu.guest_kill stops it")
  end
  return true
end

local here -- the key of the folder joe runs in, once known

--- A short name for the folder joe runs in (FNV-1a of its path, as hex), so that the guest
--- folders of runs from two folders differ and those of one folder are the same.
function host.folder_key()
  if here then return here end
  local dir = os.getenv("PWD")
  if not dir or dir:sub(1, 1) ~= "/" then
    local err, st = cijoe.run_local("pwd -P")
    dir = err == 0 and st:output():match("[^\n]+") or "/"
  end
  local h = 2166136261
  for i = 1, #dir do h = ((h ~ dir:byte(i)) * 16777619) & 0xffffffff end
  here = string.format("%08x", h)
  return here
end

--- Raise the error luaL_check* would for a bad argument of an exported function.
function host.check(value, kind, n, fname)
  if type(value) ~= kind then
    error(string.format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, kind,
      type(value)), 3)
  end
end

return host
