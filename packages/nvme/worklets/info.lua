--- Every NVMe controller and namespace of the target (with.transport, default the default
--- one): nvme list; id-ctrl and smart-log of each controller; id-ns of each namespace, and
--- report-zones of the zoned ones. Each is kept as nvme-cli's JSON in the step's artifacts
--- (nvme-list.json, nvme0-id-ctrl.json, nvme0n1-id-ns.json, ...) with a summary,
--- nvme-info.yaml. Fails when a command fails; a target without NVMe passes, with an empty
--- summary.
--- with: transport
local nvme = require("nvme")
local yaml = require("cijoe.yaml")

-- Keep what a command printed (nvme-cli's JSON) in the artifacts folder dir as name.
local function keep(state, dir, name)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(state:output())
  f:close()
end

-- The namespaces' zoned models from sysfs ("none", "host-managed", ...), by device name.
local function zoned_models(cijoe, names, opts)
  local out = {}
  if #names == 0 then return out end
  local err, st = cijoe.run("for n in " .. table.concat(names, " ") .. "; do printf '%s %s\\n' " ..
    "\"$n\" \"$(cat /sys/block/$n/queue/zoned 2>/dev/null)\"; done", opts)
  if err ~= 0 then return out end
  for name, model in st:output():gmatch("(%S+) (%S+)") do out[name] = model end
  return out
end

-- The summary of one namespace, its id-ns (and zone report) kept in dir.
local function namespace(dev, zoned, dir, opts)
  local base = dev:match("[^/]+$")
  local ns, st = nvme.id_ns(dev, opts)
  if not ns then return nil, st end
  keep(st, dir, base .. "-id-ns.json")
  local format = type(ns.lbafs) == "table" and ns.lbafs[(tonumber(ns.flbas) or 0) % 16 + 1] or {}
  local entry = { device = dev, nsze = ns.nsze, block_size = format.ds and 1 << format.ds,
    zoned = zoned ~= nil and zoned ~= "none" }
  if entry.zoned then
    local zones, zst = nvme.report_zones(dev, opts)
    if not zones then return nil, zst end
    keep(zst, dir, base .. "-report-zones.json")
    entry.zones = zones.nr_zones
  end
  return entry
end

-- The summary of the controller dev with the namespaces of the list, kept in dir.
local function controller(dev, list, zoned, dir, opts)
  local base = dev:match("[^/]+$")
  local id, st = nvme.id_ctrl(dev, opts)
  if not id then return nil, st end
  keep(st, dir, base .. "-id-ctrl.json")
  local log, lst = nvme.smart_log(dev, opts)
  if not log then return nil, lst end
  keep(lst, dir, base .. "-smart-log.json")
  local entry = { device = dev, model = tostring(id.mn):gsub("%s+$", ""),
    serial = tostring(id.sn):gsub("%s+$", ""), firmware = tostring(id.fr):gsub("%s+$", ""),
    temperature_kelvin = log.temperature, namespaces = {} }
  for _, ns_dev in ipairs(list) do
    local ns, msg = namespace(ns_dev, zoned[ns_dev:match("[^/]+$")], dir, opts)
    if not ns then return nil, msg end
    entry.namespaces[#entry.namespaces + 1] = ns
  end
  return entry
end

-- Namespaces are grouped under their controller (/dev/nvme0n1 -> /dev/nvme0), in order.
return function(args, cijoe)
  local opts = { transport = args.transport }
  local dir = assert(cijoe.step_path("artifacts"))
  local list, st = nvme.list(opts)
  if not list then return false, st end
  if st then keep(st, dir, "nvme-list.json") end
  local by_ctrl, order, names = {}, {}, {}
  for _, d in ipairs(list.Devices or {}) do
    local ctrl = tostring(d.DevicePath):match("^(/dev/nvme%d+)n%d+$")
    if ctrl and not by_ctrl[ctrl] then by_ctrl[ctrl], order[#order + 1] = {}, ctrl end
    if ctrl then table.insert(by_ctrl[ctrl], d.DevicePath) end
    names[#names + 1] = ctrl and d.DevicePath:match("[^/]+$") or nil
  end
  local zoned, summary = zoned_models(cijoe, names, opts), { controllers = {} }
  table.sort(order)
  for _, ctrl in ipairs(order) do
    table.sort(by_ctrl[ctrl])
    local entry, msg = controller(ctrl, by_ctrl[ctrl], zoned, dir, opts)
    if not entry then return false, msg end
    summary.controllers[#summary.controllers + 1] = entry
  end
  local f = assert(io.open(dir .. "/nvme-info.yaml", "wb"))
  f:write(yaml.dump(summary))
  f:close()
end
