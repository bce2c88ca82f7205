--- system_imaging: CIJOE's system images (system-imaging.images.NAME of the config, with
--- cloud.url, cloud.path, disk.path and disk.url) on top of the qemu package: a disk image
--- made from a cloud image, and the disk image a guest boots. Every command runs on the
--- qemu host (qemu.host_transport, default local), where the guests boot.
local cijoe = require("cijoe")

local system_imaging = {}
local q = cijoe.quote

-- A shell glob (fnmatch: *, ?, [...]) as an anchored Lua pattern.
local function glob_pattern(glob)
  local out = glob:gsub("[%^%$%(%)%%%.%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".")
  return "^" .. out .. "$"
end

--- The names of the images of the config whose name matches the fnmatch pattern (case
--- not minded, as CIJOE's), sorted.
function system_imaging.matching(pattern)
  local images = cijoe.getconf("system-imaging.images", {})
  local names, lua_pattern = {}, glob_pattern(tostring(pattern):lower())
  for name, image in pairs(type(images) == "table" and images or {}) do
    if type(image) == "table" and tostring(name):lower():find(lua_pattern) then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  return names
end

--- The image called name of the config ({cloud =, disk =}), or nil and a message.
function system_imaging.image(name)
  local image = cijoe.getconf("system-imaging.images." .. name)
  if type(image) ~= "table" then
    return nil, "no system image '" .. tostring(name) .. "' in the config " ..
      "(system-imaging.images." .. tostring(name) .. ")"
  end
  return image
end

-- Run a shell script on the qemu host; nil and its last line (or the transport's
-- message) when it fails.
local function host_run(script, timeout)
  local err, st = cijoe.run(script, { transport = cijoe.getconf("qemu.host_transport", "local"),
    timeout = timeout })
  if err == 0 then return true end
  if err == nil then return nil, st end
  return nil, (st:output():gsub("%s+$", ""):match("([^\n]*)$"))
end

--- Make the disk image of image name from its cloud image: cloud.path (fetched with curl
--- from cloud.url when missing) converted to a qcow2 at disk.path, with its sha256 beside
--- it (disk.path.sha256). Returns true, or nil and a message naming the image and file.
function system_imaging.diskimage_from_cloudimage(name)
  local image, err = system_imaging.image(name)
  if not image then return nil, err end
  local cloud, disk = image.cloud or {}, image.disk or {}
  if type(cloud.path) ~= "string" or type(disk.path) ~= "string" then
    return nil, "system image '" .. name .. "' needs cloud.path and disk.path"
  end
  local fetch = type(cloud.url) == "string" and string.format(
    '[ -e "$c" ] || { mkdir -p "$(dirname "$c")" && curl -fsSL -o "$c.part" %s && ' ..
    'mv "$c.part" "$c"; } || { echo "cannot fetch cloud.url into $c"; exit 1; }', q(cloud.url))
    or '[ -e "$c" ] || { echo "$c: no such file (and no cloud.url)"; exit 1; }'
  local ok, why = host_run(table.concat({ "c=" .. q(cloud.path) .. " d=" .. q(disk.path), fetch,
    'mkdir -p "$(dirname "$d")"',
    q(cijoe.getconf("qemu.img", "qemu-img")) .. ' convert -O qcow2 "$c" "$d.part"',
    'mv "$d.part" "$d" && sha256sum "$d" | cut -c1-64 >"$d.sha256"' }, " && "), 3600)
  if not ok then return nil, "system image '" .. name .. "': " .. why end
  return true
end

return system_imaging
