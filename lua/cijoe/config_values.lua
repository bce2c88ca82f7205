-- The kinds of value a config holds (a port, seconds, a count, a boolean...): each one's
-- reading of a value as joe takes it ("no" as false, "22" as 22: ${VAR} and environment
-- overrides give strings) and what it must be, for cijoe.config's messages.
local values = {}

-- Words users write for booleans, quoted or not (YAML 1.1's, as PyYAML reads them).
local BOOLEANS = { ["true"] = true, yes = true, on = true, ["false"] = false, no = false,
  off = false }

-- The boolean a value stands for, or nil when it stands for none.
local function as_boolean(v)
  if type(v) == "boolean" then return v end
  if type(v) ~= "string" then return nil end
  return BOOLEANS[v:lower()]
end

--- The boolean a config value (or an environment override of one) stands for: true,
--- false, or nil for a value that is no boolean.
values.boolean = as_boolean

-- A whole number from a number or a string of digits (what ${VAR} gives), or nil.
local function as_integer(v)
  return math.tointeger(type(v) == "string" and tonumber(v) or v)
end

-- A number from a number or a numeric string, or nil.
local function as_number(v)
  local n = type(v) == "string" and tonumber(v) or v
  return type(n) == "number" and n == n and n or nil
end

-- Each kind of value: a function giving the value as joe takes it (nil when it is not
-- one), and what it must be, for the message. Numbers are bounded here, before they
-- reach C, where an out-of-range one would be undefined.
values.CHECKS = {
  string = { function(v) return (type(v) == "string" or type(v) == "number") and v or nil end,
    "a string" },
  seconds = { function(v) v = as_number(v) return v and v > 0 and v <= 86400 and v or nil end,
    "a number of seconds above 0 and at most 86400" },
  keepalive = { function(v) v = as_integer(v) return v and v >= 0 and v <= 86400 and v or nil end,
    "a whole number of seconds from 0 (none) to 86400" },
  count = { function(v) v = as_integer(v) return v and v >= 1 and v <= 1000 and v or nil end,
    "a whole number from 1 to 1000" },
  boolean = { as_boolean, "true or false (yes/no)" },
  map = { function(v) return type(v) == "table" and #v == 0 and v or nil end, "a mapping" },
  port = { function(v) v = as_integer(v) return v and v > 0 and v < 65536 and v or nil end,
           "a port number (1-65535)" },
  host_key_check = { function(v)
    local b = as_boolean(v)
    if b ~= nil then return b and "yes" or "no" end
    return v == "accept-new" and v or nil
  end, "yes, no or accept-new" },
}

return values
