--- Wait until a transport answers a command (with.state: up, the default) or stops
--- answering (down), probing every second for at most with.timeout seconds (default 60).
--- with: transport, transport_name, state, timeout
local proc = require("cijoe.proc")

return function(args, cijoe)
  local name = args.transport or args.transport_name or cijoe.default_transport()
  local want_up, timeout = (args.state or "up") == "up", tonumber(args.timeout) or 60
  local deadline = proc.now() + timeout
  repeat
    local err = cijoe.run("true", { transport = name, timeout = 10, probe = true })
    if (err == 0) == want_up then return 0 end
    proc.sleep(1)
  until proc.now() > deadline
  return false, string.format("transport %s is not %s after %d s", name, args.state or "up",
    timeout)
end
