--- qemu: boot the QEMU guests of the config (qemu.guests.<name>), wait until their SSH
--- transport answers, power them off, reset or kill them, and make disk images. Every
--- action on the host is a logged shell command on the transport qemu.host_transport
--- (default "local"), so a guest can run on a lab machine as well as here; QMP goes
--- through socat on the host.
local cijoe = require("cijoe")
local args = require("qemu.args")
local proc = require("cijoe.proc")
local now, sleep = proc.now, proc.sleep

local qemu = {}

local Guest = {}
Guest.__index = Guest

local q = cijoe.quote

-- Messages name the guest they are about.
local function fail(g, msg)
  return nil, "guest '" .. g.name .. "': " .. msg
end

-- Raise the error luaL_check* would for a bad argument of an exported function.
local function check(value, kind, n, fname)
  if type(value) ~= kind then
    error(string.format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, kind,
      type(value)), 3)
  end
end

-- The transport the qemu binaries, their files and sockets are on.
local function host_transport()
  return cijoe.getconf("qemu.host_transport", "local")
end

-- Run cmd on the host; returns err, state, or nil and a message.
local function host_run(cmd, timeout)
  return cijoe.run(cmd, { transport = host_transport(), timeout = timeout or 30 })
end

-- The last line a command printed, for messages.
local function last_line(state)
  local text = state:output():gsub("%s+$", "")
  return text:match("([^\n]*)$")
end

-- What went wrong with a host command: the transport's message, or the command's last line.
local function problem(err, st)
  if err == nil then return tostring(st) end
  return last_line(st)
end

-- The console's text without terminal escapes and carriage returns, for messages.
local function printable(text)
  return (text:gsub("\27%[[%d;?]*%a", ""):gsub("\27.", ""):gsub("[\r%z]", ""))
end

--- Create a disk image with qemu-img on the host: qemu.img_create("/tmp/a.qcow2", "qcow2",
--- "8G"). Returns true, or nil and qemu-img's message.
function qemu.img_create(path, fmt, size)
  check(path, "string", 1, "img_create")
  check(fmt, "string", 2, "img_create")
  if type(size) ~= "number" then check(size, "string", 3, "img_create") end
  local img = cijoe.getconf("qemu.img", "qemu-img")
  local err, st = host_run(string.format("%s create -q -f %s %s %s", q(img), q(fmt), q(path),
    q(size)))
  if err == nil then return nil, st end
  if err ~= 0 then return nil, "qemu-img create " .. path .. ": " .. last_line(st) end
  return true
end

--- The guest called name, from qemu.guests.<name> of the config; its folder (key `path`,
--- default /tmp/joe-qemu/<name>) holds guest.pid, qmp.sock, console.log and boot.img.
--- Returns the guest, or nil and a message when the config has no such guest.
function qemu.guest(name)
  check(name, "string", 1, "guest")
  if type(cijoe.getconf("qemu.guests." .. name)) ~= "table" then
    return nil, "no guest '" .. name .. "' in the config (qemu.guests." .. name .. ")"
  end
  local g = setmetatable({ name = name }, Guest)
  g.path = g:expand(g:get("path", "/tmp/joe-qemu/" .. name))
  g.pidfile, g.qmp_socket = g.path .. "/guest.pid", g.path .. "/qmp.sock"
  g.console = g.path .. "/console.log"
  return g
end

--- A key of this guest's config (qemu.guests.<name>.<key>; the environment variable
--- QEMU_GUESTS_<NAME>_<KEY> wins), or default.
function Guest:get(key, default)
  return cijoe.getconf("qemu.guests." .. self.name .. "." .. key, default)
end


--- A config path made absolute: one starting with ~/ is in the home folder on the host
--- (asked once); others are returned as they are.
function Guest:expand(path)
  if type(path) ~= "string" or path:sub(1, 2) ~= "~/" then return path end
  if not self.home then
    local err, st = host_run('printf %s "$HOME"')
    if err ~= 0 then return path end
    self.home = st:output()
  end
  return self.home .. path:sub(2)
end

-- A shell test, true while this guest's qemu runs: its pidfile names a live process whose
-- command line holds that pidfile (a pid reused by another process does not count).
local function running_test(g)
  return string.format('pid=$(cat %s 2>/dev/null) && [ -n "$pid" ] && grep -qaF -- %s "/proc/$pid/cmdline" 2>/dev/null',
    q(g.pidfile), q(g.pidfile))
end

--- Whether the guest's qemu runs: true or false, or nil and a message when the host
--- cannot be asked.
function Guest:is_running()
  local err, st = host_run(running_test(self))
  if err == nil then return nil, st end
  return err == 0
end

--- The pid of the guest's qemu on the host, or nil when it does not run.
function Guest:pid()
  local err, st = host_run(running_test(self) .. ' && echo "$pid"')
  if err ~= 0 then return nil end
  return math.tointeger(tonumber(st:output():match("%d+")))
end

--- The guest's serial console as logged since its last start; with n, its last n lines.
--- Returns the text, or nil and a message.
function Guest:console_log(n)
  local cmd = n and string.format("tail -n %d %s", n, q(self.console)) or "cat " .. q(self.console)
  local err, st = host_run(cmd)
  if err == nil then return nil, st end
  if err ~= 0 then return fail(self, "no console log: " .. last_line(st)) end
  return st:output()
end

-- A failure message ending with the last lines of the console, which say why.
local function fail_with_console(g, msg)
  local tail = g:console_log(20) or "(none)\n"
  return fail(g, msg .. "; the console's last lines:\n" .. printable(tail))
end

-- The command line as one shell command; extra arguments are lists of words, or strings
-- of shell words taken as they are.
local function command_line(words, extras)
  local out = {}
  for i, w in ipairs(words) do out[i] = q(w) end
  for _, extra in ipairs(extras) do
    if type(extra) == "table" then
      for _, w in ipairs(extra) do out[#out + 1] = q(w) end
    elseif extra ~= false then
      out[#out + 1] = tostring(extra)
    end
  end
  return table.concat(out, " ")
end

-- The guest folder and the NVMe images (made when missing) exist, and so does qemu.
local function prepare(g, system, images)
  local err, st = host_run("mkdir -p " .. q(g.path))
  if err ~= 0 then return fail(g, "cannot make " .. g.path .. ": " .. problem(err, st)) end
  err, st = host_run("command -v " .. q(system))
  if err == nil then return nil, st end
  if err ~= 0 then
    return fail(g, "qemu binary '" .. system .. "' not found on transport '" .. host_transport() .. "'")
  end
  local img = cijoe.getconf("qemu.img", "qemu-img")
  for _, i in ipairs(images) do
    err, st = host_run(string.format("[ -e %s ] || %s create -q -f %s %s %s", q(i.file), q(img),
      q(i.format), q(i.file), q(i.size)))
    if err ~= 0 then return fail(g, "cannot create " .. i.file .. ": " .. problem(err, st)) end
  end
  return true
end

-- Why qemu did not start, from what it printed.
local function start_failure(g, state)
  local line = last_line(state)
  if line:find("host forwarding") then
    return fail(g, "port " .. tostring(g:get("ssh_port")) .. " on 127.0.0.1 is taken (" .. line .. ")")
  end
  return fail(g, "qemu did not start: " .. line)
end

--- Start the guest's qemu on the host. opts.daemonize (default true): return once qemu
--- runs in the background; false: run it until the guest stops. opts.extra_args: more
--- qemu arguments (a list of words, or a string of shell words) after the config's
--- extra_args. Returns true, or nil and a message (already running, qemu not found, the
--- SSH port taken, a bad config, qemu's own error).
function Guest:start(opts)
  opts = opts or {}
  check(opts, "table", 1, "start")
  local running, msg = self:is_running()
  if running == nil then return nil, msg end
  if running then
    return fail(self, "already running (pid " .. tostring(self:pid()) .. "); qemu.guest_kill stops it")
  end
  local c = {}
  for _, key in ipairs(args.KEYS) do c[key] = self:get(key) end
  local words, images = args.build(c, { dir = self.path, name = self.name,
    pidfile = self.pidfile, qmp = self.qmp_socket, console = self.console,
    daemonize = opts.daemonize ~= false, expand = function(p) return self:expand(p) end })
  if not words then return fail(self, images) end
  local ok, err = prepare(self, words[1], images)
  if not ok then return nil, err end
  local status, st = host_run(command_line(words, { c.extra_args or false, opts.extra_args or false }),
    opts.daemonize == false and 1e9 or 120)
  if status == nil then return nil, st end
  if status ~= 0 then return start_failure(self, st) end
  return true
end

-- The reply to the second of the QMP lines (the first is qmp_capabilities): true, or nil
-- and QMP's error.
local function qmp_reply(text)
  local n = 0
  for line in text:gmatch("[^\n]+") do
    if line:find('^{"return"') or line:find('^{"error"') then
      n = n + 1
      if n == 2 and line:find('^{"error"') then
        return nil, line:match('"desc": *"(.-)"') or line
      elseif n == 2 then
        return true
      end
    end
  end
  return nil, "no reply from QMP"
end

--- Send one QMP command (such as "system_powerdown"; arguments as a JSON object text)
--- to the guest's qemu through its unix socket. Returns true, or nil and a message.
function Guest:qmp(command, arguments)
  check(command, "string", 1, "qmp")
  local request = '{"execute":"qmp_capabilities"}\n{"execute":"' .. command .. '"' ..
    (arguments and ',"arguments":' .. arguments or "") .. "}\n"
  local err, st = host_run(string.format("printf %%s %s | socat -t 2 -T 5 - UNIX-CONNECT:%s",
    q(request), q(self.qmp_socket)), 15)
  if err == nil then return nil, st end
  if err ~= 0 then return fail(self, "QMP " .. command .. ": " .. last_line(st)) end
  local ok, msg = qmp_reply(st:output())
  if not ok then return fail(self, "QMP " .. command .. ": " .. msg) end
  return true
end

--- Press the guest's power button (ACPI, through QMP); see wait_down. Returns true, or
--- nil and a message.
function Guest:poweroff()
  return self:qmp("system_powerdown")
end

--- Reset the guest, as the reset button does (through QMP). Returns true, or nil and a
--- message.
function Guest:reset()
  return self:qmp("system_reset")
end

--- Wait until the guest's qemu has exited, at most timeout seconds (default 60); one
--- command on the host polls ten times a second. Returns true, or nil and a message.
function Guest:wait_down(timeout)
  timeout = timeout or 60
  check(timeout, "number", 1, "wait_down")
  local err, st = host_run(string.format(
    "i=0; while %s; do [ $i -ge %d ] && exit 1; sleep 0.1; i=$((i + 1)); done",
    running_test(self), math.ceil(timeout * 10)), timeout + 30)
  if err == nil then return nil, st end
  if err ~= 0 then return fail(self, "still running after " .. timeout .. " s") end
  return true
end

--- Stop the guest's qemu now: QMP quit, then SIGTERM, then SIGKILL, each given three
--- seconds. Returns true once no qemu of this guest runs, or nil and a message.
function Guest:kill()
  local running, msg = self:is_running()
  if running == nil then return nil, msg end
  if running then
    self:qmp("quit")
    for _, signal in ipairs({ "", "TERM", "KILL" }) do
      if signal ~= "" then host_run(running_test(self) .. ' && kill -s ' .. signal .. ' "$pid"') end
      if self:wait_down(3) then break end
      if signal == "KILL" then return fail(self, "qemu survived SIGKILL") end
    end
  end
  host_run("rm -f " .. q(self.pidfile))
  return true
end

-- One host command per round of wait_up: exit 3 when the guest's qemu is gone; with an
-- SSH port forwarded, also print the first bytes that port sends within half a second
-- ("SSH-" once the guest's sshd listens). QEMU's user network accepts a connection before
-- the guest can, and holds it: an SSH probe sent too early would hang in the handshake
-- for all of connect_timeout, where this costs half a second.
local function knock(g, port)
  local cmd = running_test(g) .. " || exit 3"
  if not port then return cmd end
  return cmd .. string.format("; socat -T 0.5 -u TCP:127.0.0.1:%d,readbytes=4 - </dev/null 2>&1", port)
end

-- One round of wait_up: "up" when `true` ran with status 0 on the guest's transport,
-- "down" and why not yet, "gone" when qemu runs no more, or "error" and a message when
-- the host cannot be asked.
local function answers(g, name, port, left)
  local err, st = host_run(knock(g, port))
  if err == nil then return "error", st end
  if err == 3 then return "gone" end
  if port and not st:output():find("^SSH%-") then
    local said = last_line(st)
    return "down", "no SSH banner from 127.0.0.1:" .. port .. " on the qemu host" ..
      (said ~= "" and " (" .. said .. ")" or "")
  end
  local status, state = cijoe.run("true", { transport = name, timeout = left, probe = true })
  if status == 0 then return "up" end
  return "down", status and "exit status " .. status or state:match("[^\n]*")
end

--- Wait until the guest answers: `true` runs through its transport (the guest config's
--- `transport`, a name under cijoe.transport) with exit status 0, tried twice a second
--- (once its forwarded ssh_port sends an SSH banner) for at most timeout seconds (default
--- 60). Ctrl-C stops the wait at once. Returns true, or nil and a message with the last
--- error and the tail of the serial console.
function Guest:wait_up(timeout)
  timeout = timeout or 60
  check(timeout, "number", 1, "wait_up")
  local name = self:get("transport")
  if type(cijoe.getconf("cijoe.transport." .. tostring(name))) ~= "table" then
    return fail(self, "its transport '" .. tostring(name) .. "' is not under cijoe.transport " ..
      "(set qemu.guests." .. self.name .. ".transport)")
  end
  local port, deadline, last = tonumber(self:get("ssh_port")), now() + timeout, "none"
  repeat
    local round = now()
    local result, why = answers(self, name, port, math.max(1, math.min(10, deadline - round)))
    if result == "up" then return true end
    if result == "error" then return nil, why end
    if result == "gone" then
      return fail_with_console(self, "qemu stopped before the guest answered (last error: " .. last .. ")")
    end
    last = why
    sleep(math.max(0, math.min(round + 0.5, deadline) - now()))
  until now() >= deadline
  return fail_with_console(self, "no answer on transport '" .. name .. "' within " .. timeout ..
    " s (last error: " .. last .. ")")
end

return qemu
