--- Start a QEMU guest (with.guest or CIJOE's with.guest_name, default "default"; an image
--- guest is initialized first when it has no overlay) and wait until its SSH transport
--- answers (with.timeout seconds, default qemu.start_timeout of the config or 120); a
--- guest that does not answer is killed, and the step fails with the tail of its console.
--- with: guest, guest_name, timeout, extra_args
local qemu = require("qemu")

-- A guest that never answers is killed, so no qemu is left behind by a failed step.
return function(args)
  local guest, msg = qemu.guest(args.guest or args.guest_name or "default")
  if not guest then return false, msg end
  local ok, err = guest:start({ extra_args = args.extra_args })
  if not ok then return false, err end
  ok, err = guest:wait_up(tonumber(args.timeout) or
    tonumber(require("cijoe").getconf("qemu.start_timeout", 120)))
  if not ok then
    guest:kill()
    return false, err
  end
end
