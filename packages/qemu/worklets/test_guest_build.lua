--- Build the test guest that the package's default.config boots (a cloud kernel, an
--- initramfs with busybox and dropbear, a disk with fio and nvme-cli) from Debian
--- packages on the qemu host, or find it in its cache; the script that ran is kept in the
--- step's artifacts.
local qemu = require("qemu")

-- Fails with the builder's last lines when it could not build.
return function()
  local files, err = qemu.build_test_guest()
  if not files then return false, err end
end
