-- The qemu command line of a guest from its config table. Pure (it runs nothing), so the
-- package's selftest checks it without booting, and init.lua stays about running guests.
local args = {}

-- The guest config keys the command line is made of (qemu.guests.<name>.<key>).
args.KEYS = { "system", "machine", "cpu", "smp", "memory", "accel", "kernel", "initrd",
  "append", "boot_img", "boot_img_format", "ssh_port", "disks", "nvme", "extra_args" }
-- Set by init.lua rather than by the config: `seed`, the cloud-init volume of an image
-- guest (whose boot_img is its overlay), and ssh_port once picked.

args.DEFAULTS = { system = "qemu-system-x86_64", machine = "q35", cpu = "max", smp = 2,
  memory = "512M", accel = "tcg", boot_img_format = "qcow2" }

-- A value inside a QEMU option list, where a comma must be doubled.
local function val(v)
  return (tostring(v):gsub(",", ",,"))
end

-- "a=1,b=2" from a list of {name, value} pairs, leaving out nil values.
local function props(list)
  local out = {}
  for _, p in ipairs(list) do
    if p[2] ~= nil then out[#out + 1] = p[1] .. "=" .. val(p[2]) end
  end
  return table.concat(out, ",")
end

-- YAML gives booleans; environment overrides and quoted values give strings ("yes",
-- "On"), read as every boolean of a config is (cijoe.config.boolean).
local function truthy(v)
  return require("cijoe.config").boolean(v) == true or v == 1
end

-- Append the other arguments to words, as strings.
local function add(words, ...)
  for _, w in ipairs({ ... }) do words[#words + 1] = tostring(w) end
end

-- Machine, CPU and accelerators; accel "kvm:tcg" means kvm, else tcg (QEMU tries in order).
local function machine_args(c, words)
  add(words, "-machine", c.machine, "-cpu", c.cpu, "-smp", c.smp, "-m", c.memory)
  for accel in tostring(c.accel):gmatch("[^:]+") do add(words, "-accel", accel) end
end

-- A kernel with its initrd and command line, a boot disk, or both (an image guest whose
-- file system has no boot loader); without either, boot.img of the guest folder. The boot
-- disk comes first, so it is /dev/vda, then the cloud-init seed.
local function boot_args(c, dir, words, expand)
  if c.kernel then
    add(words, "-kernel", expand(c.kernel))
    if c.initrd then add(words, "-initrd", expand(c.initrd)) end
    if c.append then add(words, "-append", c.append) end
  end
  if c.boot_img or not c.kernel then
    add(words, "-drive", props({ { "file", expand(c.boot_img or dir .. "/boot.img") },
      { "format", c.boot_img_format }, { "if", "virtio" } }))
  end
  if c.seed then
    add(words, "-drive", props({ { "file", c.seed }, { "format", "raw" }, { "if", "virtio" },
      { "readonly", "on" } }))
  end
end

-- User-mode network; the guest's port 22 forwarded from 127.0.0.1 only.
local function net_args(c, words)
  local fwd = c.ssh_port and "tcp:127.0.0.1:" .. c.ssh_port .. "-:22" or nil
  add(words, "-netdev", "user," .. props({ { "id", "net0" }, { "hostfwd", fwd } }))
  add(words, "-device", "virtio-net-pci,netdev=net0,romfile=")
end

-- Extra virtio disks: {file, format (raw), readonly}.
local function disk_args(c, words, expand)
  for i, d in ipairs(c.disks or {}) do
    if type(d) ~= "table" or not d.file then return nil, "disks[" .. i .. "] needs a file" end
    add(words, "-drive", props({ { "file", expand(d.file) }, { "format", d.format or "raw" },
      { "if", d["if"] or "virtio" }, { "readonly", truthy(d.readonly) and "on" or nil } }))
  end
  return true
end

-- The -device nvme-ns properties of namespace ns (number nsid) on controller ctrl.
local function namespace_props(ns, ctrl, nsid, drive)
  local p = { { "drive", drive }, { "bus", ctrl }, { "nsid", nsid },
    { "logical_block_size", ns.block_size }, { "physical_block_size", ns.block_size } }
  if truthy(ns.zoned) then
    for _, z in ipairs({ { "zoned", "on" }, { "zoned.zone_size", ns.zone_size },
      { "zoned.zone_capacity", ns.zone_capacity }, { "zoned.max_open", ns.max_open },
      { "zoned.max_active", ns.max_active } }) do p[#p + 1] = z end
  end
  return props(p)
end

-- One NVMe controller (number i) and its namespaces; the images to create go to images.
local function controller_args(ctrl, i, dir, words, images, expand)
  local id = "nvme" .. (i - 1)
  add(words, "-device", "nvme," .. props({ { "id", id },
    { "serial", ctrl.serial or string.format("joe%04d", i) }, { "mdts", ctrl.mdts } }))
  for n, ns in ipairs(ctrl.namespaces or {}) do
    if type(ns) ~= "table" then
      return nil, "nvme[" .. i .. "].namespaces[" .. n .. "] must be a mapping"
    end
    local drive = id .. "n" .. n
    local file = expand(ns.file) or dir .. "/" .. drive .. ".img"
    if not ns.size and not ns.file then
      return nil, "nvme[" .. i .. "].namespaces[" .. n .. "] needs a size (or a file)"
    end
    images[#images + 1] = { file = file, format = ns.format or "raw", size = ns.size }
    add(words, "-drive", props({ { "if", "none" }, { "id", drive }, { "file", file },
      { "format", ns.format or "raw" } }))
    add(words, "-device", "nvme-ns," .. namespace_props(ns, id, n, drive))
  end
  return true
end

-- Every NVMe controller of the config.
local function nvme_args(c, dir, words, images, expand)
  for i, ctrl in ipairs(c.nvme or {}) do
    if type(ctrl) ~= "table" then return nil, "nvme[" .. i .. "] must be a mapping" end
    local ok, msg = controller_args(ctrl, i, dir, words, images, expand)
    if not ok then return nil, msg end
  end
  return true
end

--- The command line of a guest: args.build(c, files) with c the guest's config (see
--- args.KEYS; missing keys take args.DEFAULTS) and files = {dir, pidfile, qmp, console,
--- name, daemonize, expand}; expand(path) makes a config path absolute. Returns the words
--- (system binary first) and the NVMe images ({file, format, size}) the guest needs, or
--- nil and a message for a bad config.
function args.build(c, files)
  local conf = setmetatable({}, { __index = function(_, k) return args.DEFAULTS[k] end })
  for k, v in pairs(c) do conf[k] = v end
  local words, images = { conf.system }, {}
  add(words, "-name", files.name, "-display", "none", "-serial", "file:" .. files.console,
    "-qmp", "unix:" .. val(files.qmp) .. ",server=on,wait=off", "-pidfile", files.pidfile)
  if files.daemonize then add(words, "-daemonize") end
  machine_args(conf, words)
  local expand = files.expand or function(p) return p end
  boot_args(conf, files.dir, words, expand)
  net_args(conf, words)
  local ok, msg = disk_args(conf, words, expand)
  if ok then ok, msg = nvme_args(conf, files.dir, words, images, expand) end
  if not ok then return nil, msg end
  return words, images
end

return args
