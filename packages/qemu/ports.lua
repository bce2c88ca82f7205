-- A guest's SSH port: fixed by its config (ssh_port: N), or picked free on the qemu host
-- at each start (no ssh_port, or "auto") and written to the guest folder, where the
-- guest's transport finds it each time it is opened, in this run or in a later one.
local cijoe = require("cijoe")
local host = require("qemu.host")

local ports = {}

-- Ports are picked below Linux's ephemeral range (32768-60999), where outgoing
-- connections take theirs.
local FIRST, LAST = 10000, 32767

--- A guest's ssh_port value as a port number, "auto" when it is picked at start (no
--- value, or auto), or "none" for no SSH port (false or none); nil and a message for
--- anything else.
function ports.parse(value)
  if value == nil or value == "auto" then return "auto" end
  if value == false or value == "none" or value == "false" then return "none" end
  local port = math.tointeger(tonumber(value))
  if not port or port < 1 or port > 65535 then
    return nil, "ssh_port must be a port number (1-65535) or auto, not " .. tostring(value)
  end
  return port
end

-- The TCP ports something listens on, from the text of /proc/net/tcp and tcp6.
local function listening(text)
  local taken = {}
  for line in text:gmatch("[^\n]+") do
    local port, state = line:match("^%s*%d+: %x+:(%x+) %x+:%x+ (%x%x)")
    if state == "0A" then taken[tonumber(port, 16)] = true end
  end
  return taken
end

--- A port nothing listens on at the qemu host now, chosen at random, so that two guests
--- starting at once rarely pick the same one (the one whose qemu then cannot bind it picks
--- again). Returns the port, or nil and a message when the host cannot be asked.
function ports.pick()
  local err, st = host.run("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; true")
  if err == nil then return nil, st end
  local taken = listening(st:output())
  for _ = 1, 1000 do
    local port = math.random(FIRST, LAST)
    if not taken[port] then return port end
  end
  return nil, "no free TCP port between " .. FIRST .. " and " .. LAST .. " on the qemu host"
end

-- The names of the guests of the config, sorted.
local function guest_names()
  local names = {}
  for name in pairs(cijoe.getconf("qemu.guests", {})) do
    if type(name) == "string" then names[#names + 1] = name end
  end
  table.sort(names)
  return names
end

--- Called as each transport of the config is opened: when a guest whose port is picked
--- at start reaches it (the guest's `transport`), the transport gets the port that guest
--- recorded; while that guest does not run, the opening is refused with a message that
--- says so. qemu is the package (qemu.guest makes the guests).
function ports.on_open(qemu, name, conf)
  if type(cijoe.getconf("qemu.guests")) ~= "table" or name == host.transport() then return true end
  for _, gname in ipairs(guest_names()) do
    local key = "qemu.guests." .. gname .. "."
    if cijoe.getconf(key .. "transport") == name and
        ports.parse(cijoe.getconf(key .. "ssh_port")) == "auto" then
      local port, msg = assert(qemu.guest(gname)):ssh_port()
      if not port then return nil, "transport " .. name .. ": " .. msg end
      conf.port = port
      return true
    end
  end
  return true
end

return ports
