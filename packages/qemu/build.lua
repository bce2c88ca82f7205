-- The guests joe builds from Debian packages: the small test guest (guest/build.sh:
-- kernel, busybox and dropbear initramfs, fio and nvme-cli disk) and a Debian disk image
-- for cloud-init guests (guest/debian.sh). The scripts are inside joe, so an installed
-- joe has them, and in the tree, where `make guest` runs the same file; they run on the
-- qemu host, where the guests boot, and cache what they build there.
local cijoe = require("cijoe")
local host = require("qemu.host")
local packages = require("cijoe.packages")

local build = {}
local q = cijoe.quote

-- Write the package files guest/<name> into the step's artifacts (so the run keeps what
-- it ran) and, for an SSH host, copy them into a fresh folder there. Returns the folder
-- on the host and whether it is a temporary one, or nil and a message.
local function stage(files)
  local dir, msg = cijoe.step_path("artifacts")
  if not dir then return nil, msg end
  for _, name in ipairs(files) do
    local text = packages.read("qemu/guest/" .. name)
    if not text then return nil, "qemu/guest/" .. name .. " is not in this joe" end
    local f = assert(io.open(dir .. "/" .. name, "wb"))
    f:write(text)
    f:close()
  end
  if host.transport() == "local" then return dir, false end
  local err, st = host.run("mktemp -d /tmp/joe-guest-build.XXXXXX")
  if err ~= 0 then
    return nil, "cannot make a folder on the qemu host: " .. host.problem(err, st)
  end
  local remote = st:output():match("[^\n]+")
  for _, name in ipairs(files) do
    local ok, perr = cijoe.put(dir .. "/" .. name, remote .. "/" .. name,
      { transport = host.transport() })
    if not ok then return nil, perr end
  end
  return remote, true
end

-- The "key: value" lines a builder prints last, as a table.
local function report(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local key, value = line:match("^([%w_]+): (.+)$")
    if key then out[key] = value end
  end
  return out
end

-- Run the builder script (the first of files; the others sit beside it) on the host.
local function run(files, timeout)
  local dir, temporary = stage(files)
  if not dir then return nil, temporary end
  local err, st = cijoe.run("sh " .. q(dir .. "/" .. files[1]),
    { transport = host.transport(), timeout = timeout })
  if temporary then host.run("rm -rf " .. q(dir)) end
  if err == nil then return nil, st end
  if err ~= 0 then
    local tail = host.printable(st:output()):sub(-600)
    return nil, files[1] .. " failed with exit status " .. err .. ":\n" .. tail
  end
  return report(st:output())
end

--- Build the test guest on the qemu host, or find it in its cache
--- (${JOE_GUEST_CACHE:-~/.cache/joe-guest}, where the guest's config looks). Returns
--- {kernel =, initrd =, tools =, key =} (paths on the host), or nil and a message.
function build.test_guest()
  return run({ "build.sh", "rc" }, 1800)
end

--- Build the Debian disk image on the qemu host, or find it in its cache
--- (${JOE_IMAGE_CACHE:-~/.cache/joe-images}/debian-bookworm). Returns {image =, kernel =,
--- initrd =, append =}, or nil and a message.
function build.debian_image()
  return run({ "debian.sh" }, 3600)
end

return build
