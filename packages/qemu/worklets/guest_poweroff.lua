--- Power a QEMU guest off (with.guest or with.guest_name, default "default") with its
--- ACPI power button and wait until qemu exits (with.timeout seconds, default 60); one
--- that does not is killed and the step fails.
--- with: guest, guest_name, timeout
local qemu = require("qemu")

-- A guest that ignores its power button is killed, and the step fails.
return function(args)
  local guest, msg = qemu.guest(args.guest or args.guest_name or "default")
  if not guest then return false, msg end
  local ok, err = guest:poweroff()
  if ok then ok, err = guest:wait_down(tonumber(args.timeout) or 60) end
  if not ok then
    guest:kill()
    return false, err
  end
end
