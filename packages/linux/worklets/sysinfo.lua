--- Collect what the target is made of: uname -a, /etc/os-release, lsblk, lscpu, lspci,
--- the loaded modules and the kernel config, each its own logged command; a missing tool
--- is noted in artifacts/sysinfo.yml, not a failure.
local linux = require("linux")

-- The step fails when an item that is there fails, or the target cannot be reached.
return function(args)
  local failed, items = linux.sysinfo({ transport = args.transport })
  if not failed then return false, items end
  if failed == 0 then return 0 end
  local names = {}
  for _, item in ipairs(items) do
    if item.status == "failed" then names[#names + 1] = item.name .. " (" .. item.log .. ")" end
  end
  return false, "failed: " .. table.concat(names, ", ")
end
