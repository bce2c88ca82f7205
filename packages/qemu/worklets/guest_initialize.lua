--- Make a disk-image guest (with.guest or CIJOE's with.guest_name) ready to boot: its
--- base image checked (fetched from image_url when missing), a fresh copy-on-write
--- overlay over it and its cloud-init seed, in the guest's folder. A running guest is
--- refused. With CIJOE's with.system_image_name (or the guest's system_image_name), the
--- base is that system image's disk.path (fetched from its disk.url when missing).
--- with: guest, guest_name, system_image_name
local qemu = require("qemu")

-- The guest's image keys set from system image name (system_imaging package), for this run.
local function use_system_image(guest, name)
  local image, err = require("system_imaging").image(name)
  if not image then return nil, err end
  local disk = type(image.disk) == "table" and image.disk or {}
  if type(disk.path) ~= "string" then
    return nil, "system image '" .. name .. "' has no disk.path (make it with " ..
      "system_imaging.diskimage_from_cloudimage)"
  end
  local g = require("cijoe").config.qemu.guests[guest.name]
  g.image, g.image_url = disk.path, disk.url
  return true
end

-- Fails with a message naming the guest and the file that is wrong.
return function(args)
  local guest, msg = qemu.guest(args.guest or args.guest_name or "default")
  if not guest then return false, msg end
  local system_image = args.system_image_name or guest:get("system_image_name")
  if system_image then
    local ok, err = use_system_image(guest, system_image)
    if not ok then return false, "guest '" .. guest.name .. "': " .. err end
  end
  local ok, err = guest:initialize()
  if not ok then return false, err end
end
