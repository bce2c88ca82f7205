--- Make the disk image (disk.path) of each system image of the config whose name matches
--- with.pattern (fnmatch, as CIJOE's; system-imaging.images.NAME) from its cloud image
--- (cloud.path, fetched from cloud.url when missing), as a qcow2. cloud-init runs at each
--- guest's first boot, from the seed qemu.guest_initialize makes, not here.
--- with: pattern
local system_imaging = require("system_imaging")

-- Fails when nothing matches, naming the pattern, or at the first image that fails.
return function(args)
  if type(args.pattern) ~= "string" then return false, "with.pattern is required (\"*\": all)" end
  local names = system_imaging.matching(args.pattern)
  if #names == 0 then
    return false, "no image of system-imaging.images matches with.pattern '" .. args.pattern .. "'"
  end
  for _, name in ipairs(names) do
    local ok, err = system_imaging.diskimage_from_cloudimage(name)
    if not ok then return false, err end
  end
end
