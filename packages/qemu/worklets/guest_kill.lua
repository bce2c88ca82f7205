--- Stop a QEMU guest (with.guest or CIJOE's with.guest_name, default "default") at once:
--- QMP quit, then SIGTERM, then SIGKILL; passes when no qemu of the guest is left.
--- with: guest, guest_name
local qemu = require("qemu")

-- Fails with the message when the host cannot be asked or qemu survives SIGKILL.
return function(args)
  local guest, msg = qemu.guest(args.guest or args.guest_name or "default")
  if not guest then return false, msg end
  local ok, err = guest:kill()
  if not ok then return false, err end
end
