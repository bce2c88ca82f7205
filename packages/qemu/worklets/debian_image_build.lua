--- Build a Debian 12 disk image for cloud-init guests (systemd, openssh-server,
--- cloud-init, sudo, nvme-cli, fio, a cloud kernel) with mmdebstrap on the qemu host, or
--- find it in its cache; the script that ran is kept in the step's artifacts.
local qemu = require("qemu")

-- Fails with the builder's last lines when it could not build.
return function()
  local files, err = qemu.build_debian_image()
  if not files then return false, err end
end
