-- known_hosts of any file never raises: find gives entries on lines of the file with
-- known key types, lookup gives one of its four verdicts (a file:line unless unknown),
-- and a line that entry() wrote, plain or hashed, is found again. The HMAC here is a
-- stand-in (a keyed FNV-1a, 20 bytes): what is fuzzed is the reading, not SHA-1.
local known_hosts = require("cijoe.known_hosts")

-- On tmpfs, as rewriting a file on ext4 flushes it at close (auto_da_alloc): milliseconds.
local tmp = os.tmpname()
os.remove(tmp)
local path = "/dev/shm/" .. tmp:match("[^/]+$")
local KEY = "AAAAC3NzaC1lZDI1NTE5AAAAINeTr6og0xKhodBsJJcNxGH3jW9iSwqvt3ARIiYW6lgA"

-- 20 bytes that depend on key and message.
local function hmac(key, message)
  local out = {}
  for round = 1, 5 do
    local h = 2166136261 ~ round
    for i = 1, #key + #message do
      local b = i <= #key and key:byte(i) or message:byte(i - #key)
      h = ((h ~ b) * 16777619) & 0xffffffff
    end
    out[round] = string.pack(">I4", h)
  end
  return table.concat(out)
end

-- Check what find and lookup say of name.
local function check(name, lines)
  for _, e in ipairs(known_hosts.find({ path }, name, hmac)) do
    assert(e.line >= 1 and e.line <= lines, "entry beyond the file")
    assert(known_hosts.key_types[e.type] or e.type:find("%-cert$"), "unknown type " .. e.type)
  end
  local status, where = known_hosts.lookup({ path }, name, 2222, "ssh-ed25519", KEY, hmac)
  assert(({ match = 1, changed = 1, revoked = 1, unknown = 1 })[status], "verdict " .. status)
  assert((where == nil) == (status == "unknown"), "where for " .. status)
end

-- A line entry() writes for name is found again, plain and hashed.
local function round_trip(name)
  for _, hashed in ipairs({ false, true }) do
    local f = assert(io.open(path, "wb"))
    f:write(known_hosts.entry(name, 2222, "ssh-ed25519", KEY, hashed and hmac or nil), "\n")
    f:close()
    local found = known_hosts.find({ path }, known_hosts.name(name, 2222), hmac)
    assert(#found == 1 and found[1].line == 1, "entry not found again for " .. name)
  end
end

return function(data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  local lines = select(2, data:gsub("\n", "")) + 1
  local first = data:match("^[ \t]*@?%S*[ \t]*([^ \t\n]+)") or "fuzzhost"
  for _, name in ipairs({ "fuzzhost", first, "[" .. first .. "]:2222" }) do check(name, lines) end
  local plain = data:match("^([%w.-]+)")
  if plain then round_trip(plain) end
end
