-- A running guest's qemu: QMP through socat on the host, waiting for it to exit, and
-- killing it.
local cijoe = require("cijoe")
local host = require("qemu.host")

local control = {}
local q, fail = cijoe.quote, host.fail

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

--- Send QMP command (arguments: a JSON object's text, or nil) to guest g's qemu. Returns
--- true, or nil and a message.
function control.qmp(g, command, arguments)
  local request = '{"execute":"qmp_capabilities"}\n{"execute":"' .. command .. '"' ..
    (arguments and ',"arguments":' .. arguments or "") .. "}\n"
  local err, st = host.run(string.format("printf %%s %s | socat -t 2 -T 5 - UNIX-CONNECT:%s",
    q(request), q(g.qmp_socket)), 15)
  if err == nil then return nil, st end
  if err ~= 0 then return fail(g, "QMP " .. command .. ": " .. host.last_line(st)) end
  local ok, msg = qmp_reply(st:output())
  if not ok then return fail(g, "QMP " .. command .. ": " .. msg) end
  return true
end

--- Wait until guest g's qemu has exited, at most timeout seconds, in one host command
--- polling ten times a second. Returns true, or nil and a message.
function control.wait_down(g, timeout)
  local err, st = host.run(string.format(
    "i=0; while %s; do [ $i -ge %d ] && exit 1; sleep 0.1; i=$((i + 1)); done",
    host.running_test(g), math.ceil(timeout * 10)), timeout + 30)
  if err == nil then return nil, st end
  if err ~= 0 then return fail(g, "still running after " .. timeout .. " s") end
  return true
end

--- Stop guest g's qemu now: QMP quit, then SIGTERM, then SIGKILL, each given three
--- seconds. Returns true once none runs, or nil and a message.
function control.kill(g)
  local running, msg = g:is_running()
  if running == nil then return nil, msg end
  if running then
    control.qmp(g, "quit")
    for _, signal in ipairs({ "", "TERM", "KILL" }) do
      if signal ~= "" then
        host.run(host.running_test(g) .. ' && kill -s ' .. signal .. ' "$pid"')
      end
      if control.wait_down(g, 3) then break end
      if signal == "KILL" then return fail(g, "qemu survived SIGKILL") end
    end
  end
  host.run("rm -f " .. q(g.pidfile))
  return true
end

return control
