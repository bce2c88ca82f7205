--- nvme: what storage developers do with nvme-cli on the target: list the controllers and
-- namespaces, identify them, read the SMART log, report and manage the zones of a zoned
-- namespace, format. Each call is one logged command on the target (opts.transport, or
-- the default one) and returns nvme-cli's JSON as a Lua table and the command's state,
-- or nil and nvme-cli's message. Commands go through `sudo -n` when the transport's user
-- is not root (`nvme.sudo`: auto, the default; true or false to say), as nvme-cli needs
-- root for its admin commands. The opts of the calls that run nvme-cli: `transport`,
-- `timeout` (seconds, default 120). Their failure's message is "nvme ARGS: nvme-cli's
-- first line (exit status N)", or why the command could not run.
-- @module nvme
local cijoe = require("cijoe")
local yaml = require("cijoe.yaml")

local nvme = {}
local q = cijoe.quote

-- Raise the error luaL_check* would for a bad argument of an exported function.
local function check(value, kind, n, fname)
  if type(value) ~= kind then
    error(string.format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, kind,
      type(value)), 3)
  end
end

-- Whether commands on the transport called name go through sudo.
local function needs_sudo(name)
  local setting = cijoe.getconf("nvme.sudo", "auto")
  local said = require("cijoe.config").boolean(setting) -- quoted "yes", "off" too
  if said ~= nil then return said end
  if setting ~= "auto" then return false end
  local user = name ~= "local" and cijoe.getconf("cijoe.transport." .. name .. ".username")
  user = user or os.getenv("USER") or "root"
  return user ~= "root"
end

--- nvme-cli's message in its output text: the first line, without terminal escapes.
-- @tparam string text what nvme-cli printed
-- @treturn string its first line that is not blank, or "(no message)"
function nvme.message(text)
  local plain = text:gsub("\27%[[%d;]*m", "")
  return plain:match("[^\n]*%S[^\n]*") or "(no message)"
end

--- Parse nvme-cli's JSON output (name, such as the command, is for messages): the lines
-- from the first that begins with "{" to the last "}", since warnings on stderr share
-- the log.
-- @tparam string text what nvme-cli printed
-- @tparam string name for the messages, such as "nvme id-ctrl /dev/nvme0"
-- @treturn[1] table the JSON document
-- @treturn[2] nil
-- @treturn[2] string "name:line:column: problem", or that there was no JSON
function nvme.decode(text, name)
  local first = text:sub(1, 1) == "{" and 1 or text:find("\n{")
  if not first then return nil, name .. ": no JSON in nvme-cli's output: " .. nvme.message(text) end
  local from_end = text:reverse():find("}", 1, true) -- none: cut short, the parser says where
  local last = from_end and #text - from_end + 1 or #text
  local doc, err = yaml.load(text:sub(first, last), name)
  if type(doc) ~= "table" then
    return nil, type(err) == "string" and err or name .. ": not a JSON object"
  end
  return doc
end

-- Run `nvme <args>` (args already quoted) on the target for the function fname. With
-- json, returns the decoded output and the state; else true and the state; nil and a
-- message when it failed.
local function run(fname, args, opts, json)
  opts = opts or {}
  check(opts, "table", fname == "list" and 1 or 2, fname)
  local name = opts.transport or cijoe.default_transport()
  local cmd = (needs_sudo(name) and "sudo -n " or "") ..
    q(cijoe.getconf("nvme.bin", "nvme")) .. " " .. args .. (json and " -o json" or "")
  local err, st = cijoe.run(cmd, { transport = name, timeout = opts.timeout or 120 })
  if err == nil then return nil, st end
  if err ~= 0 then
    return nil, "nvme " .. args .. ": " .. nvme.message(st:output()) .. " (exit status " ..
      err .. ")"
  end
  if not json then return true, st end
  local doc, msg = nvme.decode(st:output(), "nvme " .. args)
  if not doc then return nil, msg end
  return doc, st
end

--- The NVMe namespaces of the target (`nvme list`).
-- @tparam[opt] table opts `transport`, `timeout`
-- @treturn[1] table `{Devices = {{DevicePath =, SerialNumber =, ModelNumber =, ...}}}`;
--   with none, an empty Devices
-- @treturn[1] State the command's state
-- @treturn[2] nil
-- @treturn[2] string why
-- @usage for _, d in ipairs(assert(nvme.list()).Devices) do print(d.DevicePath) end
function nvme.list(opts)
  local ok, st = run("list", "list -o json", opts, false)
  if not ok then return nil, st end
  if not st:output():find("{", 1, true) then return { Devices = {} }, st end
  local doc, msg = nvme.decode(st:output(), "nvme list")
  if not doc then return nil, msg end
  return doc, st
end

--- The Identify Controller data of dev (/dev/nvme0, or one of its namespaces).
-- @tparam string dev a device path on the target
-- @tparam[opt] table opts `transport`, `timeout`
-- @treturn[1] table nvme-cli's JSON (`mn`, `sn`, `fr`, ...)
-- @treturn[1] State the command's state
-- @treturn[2] nil
-- @treturn[2] string why
-- @usage print(assert(nvme.id_ctrl("/dev/nvme0")).mn)
function nvme.id_ctrl(dev, opts)
  check(dev, "string", 1, "id_ctrl")
  return run("id_ctrl", "id-ctrl " .. q(dev), opts, true)
end

--- The Identify Namespace data of dev (/dev/nvme0n1).
-- @tparam string dev a namespace's device path on the target
-- @tparam[opt] table opts `transport`, `timeout`
-- @treturn[1] table nvme-cli's JSON (`nsze`, `lbafs`, ...)
-- @treturn[1] State the command's state
-- @treturn[2] nil
-- @treturn[2] string why
function nvme.id_ns(dev, opts)
  check(dev, "string", 1, "id_ns")
  return run("id_ns", "id-ns " .. q(dev), opts, true)
end

--- The SMART / health log of dev's controller.
-- @tparam string dev a device path on the target
-- @tparam[opt] table opts `transport`, `timeout`
-- @treturn[1] table nvme-cli's JSON (`critical_warning`, `temperature`, ...)
-- @treturn[1] State the command's state
-- @treturn[2] nil
-- @treturn[2] string why
function nvme.smart_log(dev, opts)
  check(dev, "string", 1, "smart_log")
  return run("smart_log", "smart-log " .. q(dev), opts, true)
end

--- The zones of the zoned namespace dev (`nvme zns report-zones`).
-- @tparam string dev a zoned namespace's device path on the target
-- @tparam[opt] table opts `start` (the LBA to report from), `count` (at most that many
--   zones), `transport`, `timeout`
-- @treturn[1] table `{nr_zones =, zone_list = {{slba =, wp =, cap =, state = "EMPTY" |
--   "IMP_OPENED" | "EXP_OPENED" | "CLOSED" | "FULL" | ..., type =}}}`
-- @treturn[1] State the command's state
-- @treturn[2] nil
-- @treturn[2] string why
-- @usage local zones = assert(nvme.report_zones("/dev/nvme0n2", { count = 4 }))
function nvme.report_zones(dev, opts)
  check(dev, "string", 1, "report_zones")
  local args = "zns report-zones " .. q(dev)
  if opts and opts.start then args = args .. " -s " .. q(opts.start) end
  if opts and opts.count then args = args .. " -d " .. q(opts.count) end
  return run("report_zones", args, opts, true)
end

-- A zone management command on the zone at slba, or on every zone when slba is nil.
local function zone_action(action, dev, slba, opts)
  check(dev, "string", 1, "zone_" .. action)
  if slba ~= nil and math.type(slba) ~= "integer" then
    check(slba, "integer", 2, "zone_" .. action)
  end
  local where = slba and " -s " .. q(slba) or " -a"
  return run("zone_" .. action, "zns " .. action .. "-zone " .. q(dev) .. where, opts, false)
end

--- Reset the zone starting at LBA slba of dev to empty, or every zone when slba is nil.
-- @tparam string dev a zoned namespace's device path on the target
-- @tparam[opt] int slba the zone's start LBA (nil: every zone)
-- @tparam[opt] table opts `transport`, `timeout`
-- @treturn[1] boolean true
-- @treturn[1] State the command's state
-- @treturn[2] nil
-- @treturn[2] string nvme-cli's message, or why it could not run
-- @usage assert(nvme.zone_reset("/dev/nvme0n2"))
function nvme.zone_reset(dev, slba, opts)
  return zone_action("reset", dev, slba, opts)
end

--- Open the zone at slba explicitly (every zone when nil).
-- @tparam string dev a zoned namespace's device path on the target
-- @tparam[opt] int slba the zone's start LBA
-- @tparam[opt] table opts `transport`, `timeout`
-- @return as nvme.zone_reset
function nvme.zone_open(dev, slba, opts)
  return zone_action("open", dev, slba, opts)
end

--- Close the zone at slba (every open zone when nil).
-- @tparam string dev a zoned namespace's device path on the target
-- @tparam[opt] int slba the zone's start LBA
-- @tparam[opt] table opts `transport`, `timeout`
-- @return as nvme.zone_reset
function nvme.zone_close(dev, slba, opts)
  return zone_action("close", dev, slba, opts)
end

--- Finish the zone at slba, making it full (every zone when nil).
-- @tparam string dev a zoned namespace's device path on the target
-- @tparam[opt] int slba the zone's start LBA
-- @tparam[opt] table opts `transport`, `timeout`
-- @return as nvme.zone_reset
function nvme.zone_finish(dev, slba, opts)
  return zone_action("finish", dev, slba, opts)
end

--- Format the namespace dev, erasing it, with no confirmation asked.
-- @tparam string dev a namespace's device path on the target
-- @tparam[opt] table opts `lbaf` (the LBA format, default 0), `ses` (secure erase: 0, 1
--   or 2; default 0), `transport`, `timeout`
-- @treturn[1] boolean true
-- @treturn[1] State the command's state
-- @treturn[2] nil
-- @treturn[2] string nvme-cli's message, or why it could not run
-- @usage assert(nvme.format("/dev/nvme0n1"))
function nvme.format(dev, opts)
  check(dev, "string", 1, "format")
  if opts ~= nil then check(opts, "table", 2, "format") end
  opts = opts or {}
  return run("format", string.format("format %s --lbaf=%s --ses=%s --force", q(dev),
    q(opts.lbaf or 0), q(opts.ses or 0)), opts, false)
end

return nvme
