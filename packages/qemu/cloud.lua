-- Disk-image guests (key `image`, or `image_url`): the base image fetched into a cache
-- when missing and checked (sha256, qemu-img), the guest's own copy-on-write overlay over
-- it, and a NoCloud seed with which cloud-init makes the user of the guest's transport,
-- with that transport's SSH public key, at first boot. Nothing is ever copied from the
-- base image: a start costs the same whatever its size.
local cijoe = require("cijoe")
local host = require("qemu.host")
local yaml = require("cijoe.yaml")

local cloud = {}
local q, fail = cijoe.quote, host.fail

-- The seed tools tried in order, and how each makes a cidata volume of the folder's
-- user-data and meta-data.
local SEED_TOOLS = { "cloud-localds", "genisoimage", "mkisofs", "xorriso" }
local ISO = " -quiet -output seed.img -volid cidata -joliet -rock user-data meta-data"
local SEED_ARGS = { ["cloud-localds"] = " seed.img user-data meta-data", genisoimage = ISO,
  mkisofs = ISO, xorriso = " -as genisoimage" .. ISO }
local SEED_HINT = "install cloud-image-utils (apt-get install cloud-image-utils)"

--- Whether guest g boots a disk image through an overlay of its own (it has `image` or
--- `image_url`).
function cloud.is_image_guest(g)
  return g:get("image") ~= nil or g:get("image_url") ~= nil
end

--- The base image of guest g on the qemu host: `image`, or for `image_url` alone the
--- URL's last part in the cache (qemu.image_cache, default ~/.cache/joe-images).
function cloud.base_path(g)
  local image, url = g:get("image"), g:get("image_url")
  if image then return g:expand(image) end
  local name = tostring(url):match("([^/?#]+)[?#]?[^/]*$") or "image"
  return g:expand(cijoe.getconf("qemu.image_cache", "~/.cache/joe-images")) .. "/" .. name
end

-- The shell script that makes the base image path exist: fetched from url (when given
-- and the file is missing) under a lock, so two guests never fetch it at once, and kept
-- only when its sha256 is the one given; then the sha256 of the file checked (a fetched
-- file's sum is kept beside it, so it is not read again). Exit 1: curl failed, 2: no
-- file, 3: no curl, 4: another sha256 (printed).
local function ensure_script(path, url, sha)
  local want = sha and q(sha:lower()) or "''"
  local lines = { "p=" .. q(path) .. " want=" .. want }
  if url then
    lines[#lines + 1] = 'if [ ! -e "$p" ]; then mkdir -p "$(dirname "$p")" && exec 9>"$p.lock" ' ..
      '&& flock 9 || exit 1; fi'
    lines[#lines + 1] = 'if [ ! -e "$p" ]; then command -v curl >/dev/null || ' ..
      "{ echo 'curl is not installed (apt-get install curl)'; exit 3; }; " ..
      'curl -fsSL -o "$p.part" ' .. q(url) .. ' || exit 1; ' ..
      'sum=$(sha256sum "$p.part" | cut -c1-64); ' ..
      'if [ -n "$want" ] && [ "$sum" != "$want" ]; then rm -f "$p.part"; ' ..
      'echo "what came from image_url has sha256 $sum, not $want (image_sha256)"; ' ..
      'exit 4; fi; echo "$sum" >"$p.sha256" && mv "$p.part" "$p"; fi'
  end
  lines[#lines + 1] = '[ -e "$p" ] || { echo "no such file"; exit 2; }'
  lines[#lines + 1] = '[ -z "$want" ] && exit 0'
  lines[#lines + 1] = '[ "$p.sha256" -nt "$p" ] && sum=$(cat "$p.sha256") || ' ..
    'sum=$(sha256sum "$p" | cut -c1-64)'
  lines[#lines + 1] = '[ "$sum" = "$want" ] || ' ..
    '{ echo "its sha256 is $sum, not $want (image_sha256)"; exit 4; }'
  return table.concat(lines, "\n")
end

-- The base image exists (fetched if need be) with the right sum; nil and a message
-- naming the guest and the file otherwise.
local function ensure_base(g, path)
  local url, sha = g:get("image_url"), g:get("image_sha256")
  local err, st = host.run(ensure_script(path, url, sha and tostring(sha)), 3600)
  if err == 0 then return true end
  local what = "base image " .. path .. ": "
  if err == nil then return fail(g, what .. tostring(st)) end
  if err == 2 then
    return fail(g, what .. "no such file on transport '" .. host.transport() .. "'")
  end
  if err == 1 and url then return fail(g, "cannot fetch " .. url .. " into " .. path .. ": " ..
    host.last_line(st)) end
  return fail(g, what .. host.last_line(st))
end

--- Check the base image of guest g at path on the host with qemu-img (info, and check for
--- a qcow2), fetching it first from `image_url` when it is missing. Returns its format
--- ("qcow2", "raw", ...), or nil and a message naming the guest and the file.
function cloud.check_base(g, path)
  local ok, msg = ensure_base(g, path)
  if not ok then return nil, msg end
  local img, fmt = cijoe.getconf("qemu.img", "qemu-img"), g:get("image_format")
  local err, st = host.run(string.format("%s info --output=json %s%s", q(img),
    fmt and "-f " .. q(fmt) .. " " or "", q(path)))
  local info = err == 0 and yaml.load(st:output(), path)
  if type(info) ~= "table" or not info.format then
    return fail(g, "base image " .. path .. " is not a disk image: " .. host.problem(err, st))
  end
  if info.format == "qcow2" then
    err, st = host.run(string.format("%s check -q -f qcow2 %s", q(img), q(path)), 600)
    if err ~= 0 and err ~= 3 then -- 3: leaked clusters only, harmless
      return fail(g, "base image " .. path .. " is corrupt: " .. host.problem(err, st))
    end
  end
  return info.format
end

--- Make guest g's overlay (a qcow2 over the base image at path, whose format is fmt, with
--- the virtual size `disk_size` when given), replacing an earlier one. The overlay names
--- the base by its resolved path, so a newer build behind a link never changes it.
--- Returns true, or nil and a message.
function cloud.make_overlay(g, path, fmt, overlay)
  local size = g:get("disk_size")
  local err, st = host.run(string.format(
    'rm -f %s && %s create -q -f qcow2 -F %s -b "$(readlink -f %s)" %s%s', q(overlay),
    q(cijoe.getconf("qemu.img", "qemu-img")), q(fmt), q(path), q(overlay),
    size and " " .. q(size) or ""))
  if err ~= 0 then
    return fail(g, "cannot make the overlay " .. overlay .. ": " .. host.problem(err, st))
  end
  return true
end

-- The first line of a local file, or nil.
local function first_line(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local line = f:read("l")
  f:close()
  return line
end

-- The public key of the guest transport's key_filename (on this machine, where the SSH
-- transport reads it); the key pair is made with ssh-keygen when it does not exist.
local function public_key(g, tname)
  local key = cijoe.getconf("cijoe.transport." .. tname .. ".key_filename")
  if type(key) ~= "string" then
    return fail(g, "its transport '" .. tname .. "' has no key_filename, whose public key " ..
      "cloud-init would install (set cijoe.transport." .. tname .. ".key_filename)")
  end
  key = key:gsub("^~/", (os.getenv("HOME") or "") .. "/")
  local pub = first_line(key .. ".pub")
  if pub then return pub end
  local cmd = first_line(key) and "ssh-keygen -y -f " .. q(key) or string.format(
    "mkdir -p \"$(dirname %s)\" && ssh-keygen -q -t ed25519 -N '' -C %s -f %s && cat %s.pub",
    q(key), q("joe-" .. g.name), q(key), q(key))
  local err, st = cijoe.run_local(cmd)
  if err ~= 0 then return fail(g, "no public key for " .. key .. ": " .. host.problem(err, st)) end
  return st:output():match("^[^\n]+")
end

-- Merge the mapping src into dst key by key; anything else replaces (as configs merge).
local function merge(dst, src)
  for k, v in pairs(src) do
    if type(v) == "table" and #v == 0 and next(v) and type(dst[k]) == "table" and #dst[k] == 0 then
      merge(dst[k], v)
    else
      dst[k] = v
    end
  end
  return dst
end

--- The cloud-config of guest g: its hostname, the user (with passwordless sudo, or root
--- itself) with the public key, no locale generation, only an ed25519 host key (RSA key
--- generation is slow under TCG), and the config's cloud_init.user_data merged over it.
function cloud.user_data(g, user, pubkey, hostname)
  local ud = { hostname = hostname, manage_etc_hosts = "localhost", locale = false,
    ssh_pwauth = false, ssh_genkeytypes = { "ed25519" } }
  if user == "root" then
    ud.disable_root, ud.ssh_authorized_keys, ud.users = false, { pubkey }, {}
  else
    ud.users = { { name = user, sudo = "ALL=(ALL) NOPASSWD:ALL", shell = "/bin/bash",
      lock_passwd = true, ssh_authorized_keys = { pubkey } } }
  end
  local more = g:get("cloud_init.user_data") or {}
  if type(more) ~= "table" then return fail(g, "cloud_init.user_data must be a mapping") end
  return "#cloud-config\n" .. yaml.dump(merge(ud, more))
end

-- The command that makes seed.img in the folder, with the configured tool or the first
-- of SEED_TOOLS found; exit 127 when there is none.
local function seed_command(g)
  local tool = cijoe.getconf("qemu.seed_tool")
  local tools = tool and { tool } or SEED_TOOLS
  local cmd = {}
  for _, t in ipairs(tools) do
    local args = SEED_ARGS[t:match("[^/]+$")]
    if not args then
      return fail(g, "qemu.seed_tool '" .. t .. "' is none of " .. table.concat(SEED_TOOLS, ", "))
    end
    cmd[#cmd + 1] = string.format("if command -v %s >/dev/null; then exec %s%s; fi", q(t), q(t),
      args)
  end
  return "cd " .. q(g.path) .. " && rm -f seed.img && " .. table.concat(cmd, "; ") .. "; exit 127"
end

-- Write text to a file of the step's artifacts and copy it to the host's guest folder.
local function put_file(g, text, name)
  local dir, msg = cijoe.step_path("artifacts")
  if not dir then return nil, msg end
  local path = dir .. "/" .. g.name .. "-" .. name
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  local ok, err = cijoe.put(path, g.path .. "/" .. name, { transport = host.transport() })
  if not ok then
    return fail(g, "cannot write " .. g.path .. "/" .. name .. ": " .. tostring(err))
  end
  return true
end

--- Whether guest g gets a cloud-init seed: its `cloud_init` absent, a mapping or a YAML
--- 1.1 true ("yes", "on") is true; false ("no", "off", quoted or not) is false; anything
--- else is nil and a message, before anything is made (it was taken as a mapping).
function cloud.wanted(g)
  local value = g:get("cloud_init")
  if value == nil or type(value) == "table" then return true end
  local b = require("cijoe.config").boolean(value)
  if b ~= nil then return b end
  return fail(g, "cloud_init is '" .. tostring(value) .. "': it must be a mapping (hostname,"
    .. " user_data), true or false")
end

--- Make guest g's NoCloud seed (seed.img, a cidata volume) in its folder from user-data
--- and meta-data, which are kept in the step's artifacts too. Returns true, or nil and a
--- message (a missing seed tool says which package to install).
function cloud.make_seed(g)
  local tname = tostring(g:get("transport"))
  local pubkey, msg = public_key(g, tname)
  if not pubkey then return nil, msg end
  local user = cijoe.getconf("cijoe.transport." .. tname .. ".username") or os.getenv("USER")
    or "root"
  local hostname = tostring(g:get("cloud_init.hostname") or g.name):gsub("[^%w-]", "-")
  local ud, uerr = cloud.user_data(g, tostring(user), pubkey, hostname)
  if not ud then return nil, uerr end
  local ok, err = put_file(g, ud, "user-data")
  if ok then ok, err = put_file(g, "instance-id: iid-joe-" .. hostname .. "\nlocal-hostname: " ..
    hostname .. "\n", "meta-data") end
  local cmd, cerr = seed_command(g)
  if not ok or not cmd then return nil, err or cerr end
  local status, st = host.run(cmd, 120)
  if status == 127 then
    return fail(g, "no seed tool (" .. table.concat(cijoe.getconf("qemu.seed_tool") and
      { cijoe.getconf("qemu.seed_tool") } or SEED_TOOLS, ", ") .. ") on transport '" ..
      host.transport() .. "': " .. SEED_HINT)
  end
  if status ~= 0 then
    return fail(g, "cannot make " .. g.path .. "/seed.img: " .. host.problem(status, st))
  end
  return true
end

return cloud
