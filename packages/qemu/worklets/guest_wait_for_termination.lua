--- Wait until a QEMU guest's qemu has exited (with.guest or with.guest_name, default
--- "default"), at most with.timeout seconds (default 60), as CIJOE's worklet of that name;
--- it stops nothing itself, and passes at once for a guest that does not run.
--- with: guest, guest_name, timeout
local qemu = require("qemu")

-- Fails when the guest still runs at the end of the timeout.
return function(args)
  local guest, msg = qemu.guest(args.guest or args.guest_name or "default")
  if not guest then return false, msg end
  local ok, err = guest:wait_down(tonumber(args.timeout) or 60)
  if not ok then return false, err end
end
