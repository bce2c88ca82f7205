-- Waiting until a guest answers on its SSH transport (Guest:wait_up).
local cijoe = require("cijoe")
local host = require("qemu.host")
local proc = require("cijoe.proc")
local now, sleep = proc.now, proc.sleep

local wait = {}

-- One host command per round: exit 3 when the guest's qemu is gone; with an SSH port
-- forwarded, also print the first bytes that port sends within half a second ("SSH-"
-- once the guest's sshd listens). QEMU's user network accepts a connection before the
-- guest can, and holds it: an SSH probe sent too early would hang in the handshake for
-- all of connect_timeout, where this costs half a second.
local function knock(g, port)
  local cmd = host.running_test(g) .. " || exit 3"
  if not port then return cmd end
  return cmd .. string.format("; socat -T 0.5 -u TCP:127.0.0.1:%d,readbytes=4 - </dev/null 2>&1",
    port)
end

-- One round: "up" when `true` ran with status 0 on the guest's transport, "down" and why
-- not yet, "gone" when qemu runs no more, or "error" and a message when the host cannot
-- be asked.
local function answers(g, name, port, left)
  local err, st = host.run(knock(g, port))
  if err == nil then return "error", st end
  if err == 3 then return "gone" end
  if port and not st:output():find("^SSH%-") then
    local said = host.last_line(st)
    return "down", "no SSH banner from 127.0.0.1:" .. port .. " on the qemu host" ..
      (said ~= "" and " (" .. said .. ")" or "")
  end
  local status, state = cijoe.run("true", { transport = name, timeout = left, probe = true })
  if status == 0 then return "up" end
  return "down", status and "exit status " .. status or state:match("[^\n]*")
end

-- The guest's transport name, or nil and why it cannot be waited for.
local function transport_of(g)
  local name = g:get("transport")
  if type(cijoe.getconf("cijoe.transport." .. tostring(name))) ~= "table" then
    return host.fail(g, "its transport '" .. tostring(name) .. "' is not under cijoe.transport " ..
      "(set qemu.guests." .. g.name .. ".transport)")
  end
  return name
end

--- Wait until guest g answers on its transport, at most timeout seconds (see
--- Guest:wait_up). Returns true, or nil and a message.
function wait.up(g, timeout)
  local name, msg = transport_of(g)
  if not name then return nil, msg end
  local port = g:ssh_port()
  local deadline, last = now() + timeout, "none"
  repeat
    local round = now()
    local result, why = answers(g, name, port, math.max(1, math.min(10, deadline - round)))
    if result == "up" then return true end
    if result == "error" then return nil, why end
    if result == "gone" then
      return host.fail_with_console(g, "qemu stopped before the guest answered (last error: " ..
        last .. ")")
    end
    last = why
    sleep(math.max(0, math.min(round + 0.5, deadline) - now()))
  until now() >= deadline
  return host.fail_with_console(g, "no answer on transport '" .. name .. "' within " ..
    timeout .. " s (last error: " .. last .. ")")
end

return wait
