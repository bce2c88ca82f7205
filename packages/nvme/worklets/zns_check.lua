--- Check a zoned namespace (with.dev, default the first host-managed one of the target,
--- with.transport): reset every zone, open the first zone explicitly, finish the second,
--- reset every zone again, reading the zone report after each and failing at the first
--- zone state that is not the one the ZNS command set says (EMPTY, EXP_OPENED, FULL,
--- EMPTY). It erases every zone of the namespace. The reports are kept in the step's
--- artifacts.
--- with: dev, transport
local nvme = require("nvme")

-- The first host-managed NVMe namespace of the target, or nil and why there is none.
local function first_zoned(cijoe, opts)
  local err, st = cijoe.run("for f in /sys/block/nvme*/queue/zoned; do " ..
    "[ \"$(cat \"$f\")\" = host-managed ] && echo \"$f\"; done; true", opts)
  if err ~= 0 then return nil, st end
  local name = st:output():match("/sys/block/([^/]+)/queue/zoned")
  if not name then return nil, "no zoned NVMe namespace on the target (give with.dev)" end
  return "/dev/" .. name
end

-- The zone report of dev after the named action, kept in the artifacts; nil and a
-- message when the states of the first zones are not those expected.
local function expect(dev, opts, action, states, dir)
  local report, st = nvme.report_zones(dev, opts)
  if not report then return nil, st end
  local f = assert(io.open(dir .. "/zones-after-" .. action .. ".json", "wb"))
  f:write(st:output())
  f:close()
  local zones = report.zone_list or {}
  if #zones < #states or report.nr_zones < #states then
    return nil, dev .. " has " .. tostring(report.nr_zones) .. " zones; the check needs " .. #states
  end
  for i, want in ipairs(states) do
    if zones[i].state ~= want then
      return nil, string.format("after %s, zone %d of %s (slba %s) is %s, not %s", action, i - 1,
        dev, tostring(zones[i].slba), tostring(zones[i].state), want)
    end
  end
  return zones
end

-- The actions in order, each with the states zones 0, 1 and 2 must be in after it.
local ACTIONS = {
  { "reset", function(dev, _, opts) return nvme.zone_reset(dev, nil, opts) end,
    { "EMPTY", "EMPTY", "EMPTY" } },
  { "open", function(dev, zones, opts) return nvme.zone_open(dev, zones[1].slba, opts) end,
    { "EXP_OPENED", "EMPTY", "EMPTY" } },
  { "finish", function(dev, zones, opts) return nvme.zone_finish(dev, zones[2].slba, opts) end,
    { "EXP_OPENED", "FULL", "EMPTY" } },
  { "reset-all", function(dev, _, opts) return nvme.zone_reset(dev, nil, opts) end,
    { "EMPTY", "EMPTY", "EMPTY" } },
}

-- Stops at the first action that fails or leaves a zone in another state.
return function(args, cijoe)
  local opts = { transport = args.transport }
  local dev, msg = args.dev, nil
  if not dev then dev, msg = first_zoned(cijoe, opts) end
  if not dev then return false, msg end
  local dir = assert(cijoe.step_path("artifacts"))
  local zones = {}
  for _, a in ipairs(ACTIONS) do
    local ok, err = a[2](dev, zones, opts)
    if ok then zones, err = expect(dev, opts, a[1], a[3], dir) end
    if not (ok and zones) then return false, err end
  end
end
