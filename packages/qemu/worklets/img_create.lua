--- Create a disk image on the qemu host: with.path, with.size (such as "8G") and
--- with.format (default qcow2).
local qemu = require("qemu")

-- path and size are required; the format defaults to qcow2.
return function(args)
  if type(args.path) ~= "string" or args.size == nil then
    return false, "qemu.img_create needs with.path and with.size"
  end
  local ok, err = qemu.img_create(args.path, args.format or "qcow2", args.size)
  if not ok then return false, err end
end
