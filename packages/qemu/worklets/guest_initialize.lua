--- Make a disk-image guest (with.guest or CIJOE's with.guest_name) ready to boot: its
--- base image checked (fetched from image_url when missing), a fresh copy-on-write
--- overlay over it and its cloud-init seed, in the guest's folder. A running guest is
--- refused.
--- with: guest, guest_name
local qemu = require("qemu")

-- Fails with a message naming the guest and the file that is wrong.
return function(args)
  local guest, msg = qemu.guest(args.guest or args.guest_name or "default")
  if not guest then return false, msg end
  local ok, err = guest:initialize()
  if not ok then return false, err end
end
