-- Configs: YAML files, and CIJOE's TOML ones (*.toml, read by cijoe.cijoe_toml), checked
-- one by one (so errors name file:line:column), ${VAR} expanded, merged in order, and
-- looked up by dotted keys with environment overrides. CIJOE keys joe ignores are warned
-- about (config.warn), each naming its file:line:column.
local yaml = require("cijoe.yaml")
local cijoe_toml = require("cijoe.cijoe_toml")

local config = { MAX_SIZE = 64 << 20 } -- the largest config file joe reads

--- Say one warning about a config ("file:line:column: key: why"); a program embedding the
--- loader (the fuzzer, a test) may replace it.
function config.warn(text)
  io.stderr:write("joe: warning: ", text, "\n")
end
local refuse_overrides_of_maps

-- What a transport entry may hold, and what each value must be.
local TRANSPORT_KEYS = {
  hostname = "string", port = "port", username = "string", password = "string",
  key_filename = "string", passphrase = "string", host_key_check = "host_key_check",
  connect_timeout = "seconds", keepalive = "keepalive", keepalive_count_max = "count",
  transfer_timeout = "seconds", ssh_config = "string", proxy_jump = "string",
  proxy_command = "string",
  known_hosts = "string",
}

local values = require("cijoe.config_values")
local CHECKS = values.CHECKS

--- The boolean a config value (or an environment override of one) stands for: true,
--- false, or nil for a value that is no boolean.
config.boolean = values.boolean

-- The "file:line:column" where t[key] was written, for messages.
local function where(doc, t, key)
  local m = doc.marks[t] and doc.marks[t][key]
  return doc.file .. ":" .. (m or "1:1")
end

-- Raise a config error at t[key]; load() turns it into nil, message.
local function complain(doc, t, key, text)
  error({ config_error = where(doc, t, key) .. ": " .. text }, 0)
end

-- Check t[key] against one of CHECKS, and keep it as joe takes it ("no" as false, "22"
-- as 22).
local function check(doc, t, key, kind, name)
  local take, expected = CHECKS[kind][1], CHECKS[kind][2]
  if t[key] == nil then return end
  local value = take(t[key])
  if value == nil then
    complain(doc, t, key, (name or key) .. " must be " .. expected)
  else
    t[key] = value
  end
end

-- Expand ${VAR} and ${VAR:-default} in s; an unset VAR without a default is an error.
local function expand(s, doc, t, key)
  return (s:gsub("%${([%a_][%w_]*)(.-)}", function(name, rest)
    local value = os.getenv(name)
    if rest == "" and value == nil then
      complain(doc, t, key, "environment variable " .. name ..
        " is not set (write ${" .. name .. ":-default} to give a default)")
    elseif rest == "" then
      return value
    elseif rest:sub(1, 2) == ":-" then
      return (value and value ~= "") and value or rest:sub(3)
    end
  end))
end

-- Expand every string of the document, once per table even when aliases share it.
local function expand_all(doc, t, seen)
  if seen[t] then return end
  seen[t] = true
  for key, value in pairs(t) do
    if type(value) == "string" and value:find("${", 1, true) then
      t[key] = expand(value, doc, t, key)
    elseif type(value) == "table" then
      expand_all(doc, value, seen)
    end
  end
end

-- The names of a mapping's keys in the order they were written (keys with a null value
-- too: the marks know them).
local function ordered_keys(doc, t)
  local keys = {}
  for key in pairs(doc.marks[t] or t) do keys[#keys + 1] = key end
  local function pos(key)
    local line, col = (doc.marks[t][key] or "0:0"):match("(%d+):(%d+)")
    return tonumber(line) * 100000 + tonumber(col)
  end
  table.sort(keys, function(a, b) return pos(a) < pos(b) end)
  return keys
end

-- Check the cijoe.transport section and note the order of its names.
local function check_transports(doc, transports)
  for _, name in ipairs(ordered_keys(doc, transports)) do
    local t = transports[name]
    if name == "local" then
      complain(doc, transports, name, "the transport name 'local' is reserved")
    end
    if type(name) ~= "string" then
      complain(doc, transports, name, "the transport name " .. tostring(name) ..
        " is not a string (quote it)")
    end
    if t == nil or (type(t) == "table" and next(t) == nil) then
      complain(doc, transports, name, "transport " .. name .. " has no settings (give at least " ..
        "its hostname, or remove it)")
    end
    check(doc, transports, name, "map", "transport " .. name)
    for key in pairs(t) do
      if not TRANSPORT_KEYS[key] then
        complain(doc, t, key, "unknown key '" .. tostring(key) .. "' in transport " .. name ..
          require("cijoe.suggest").hint(tostring(key), TRANSPORT_KEYS))
      end
      check(doc, t, key, TRANSPORT_KEYS[key], "transport " .. name .. ": " .. key)
    end
    doc.transport_order[#doc.transport_order + 1] = name
  end
end

-- Check the parts of the cijoe section that joe itself reads.
local function check_document(doc)
  local root = doc.root
  if root == nil then doc.root = {} return end
  if not CHECKS.map[1](root) then
    error({ config_error = doc.file .. ":1:1: the document must be a mapping" }, 0)
  end
  if root.cijoe == nil then return end
  check(doc, root, "cijoe", "map")
  local c = root.cijoe
  for _, key in ipairs({ "transport", "run", "workflow" }) do
    check(doc, c, key, "map", "cijoe." .. key)
  end
  if c.run then check(doc, c.run, "env", "map", "cijoe.run.env") end
  if c.workflow then check(doc, c.workflow, "fail_fast", "boolean", "cijoe.workflow.fail_fast") end
  if c.transport then check_transports(doc, c.transport) end
end

-- A deep copy of maps, so merging never changes a table an alias shares.
local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end

local function is_map(v) return type(v) == "table" and #v == 0 end

--- Merge src into dst: maps key by key, anything else replaced.
function config.merge(dst, src)
  for key, value in pairs(src) do
    if is_map(value) and is_map(dst[key]) then
      config.merge(dst[key], value)
    else
      dst[key] = copy(value)
    end
  end
  return dst
end

-- A YAML error, with a word on TOML when the text reads as TOML.
local function yaml_error(text, file, err)
  if require("cijoe.toml").load(text, file) then
    err = err .. " (the file is TOML, not YAML: name it *.toml, as CIJOE's configs are, " ..
      "and joe reads it as CIJOE does)"
  end
  error({ config_error = err }, 0)
end

-- Parse and check one file's text (TOML for *.toml, else YAML); returns a doc or raises
-- a config error.
local function parse(text, file)
  local root, marks, warnings
  if file:match("%.toml$") then
    root, marks, warnings = cijoe_toml.load(text, file)
  else
    root, marks = yaml.load(text, file)
    if root == nil and type(marks) == "string" then yaml_error(text, file, marks) end
  end
  local doc = { root = root, marks = marks or {}, file = file, transport_order = {} }
  if not warnings and CHECKS.map[1](root) then
    warnings = cijoe_toml.map_yaml(root, doc.marks, file)
  end
  doc.warnings = warnings or {}
  if type(root) == "table" then expand_all(doc, root, {}) end -- first: a port may be ${VAR}
  check_document(doc)
  return doc
end

-- The text of a config file, read with a bound (a config is small; /dev/zero is not).
local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error({ config_error = err }, 0) end
  local text, rerr = f:read(config.MAX_SIZE + 1)
  f:close()
  if not text and rerr then error({ config_error = path .. ": " .. rerr }, 0) end
  if text and #text > config.MAX_SIZE then
    error({ config_error = path .. ": larger than " .. config.MAX_SIZE // (1 << 20) ..
      " MB; that is no config" }, 0)
  end
  return text or ""
end

-- Whether an environment variable overrides a key: only a dotted key does (a top-level
-- key's name would be the shell's own: CI, HOME, PATH, USER), and only a name that
-- starts with a letter (the key `-` would stand for `_`, which every shell sets).
local function override_of(key)
  local name = config.env_name(key)
  return key:find(".", 1, true) and name:find("^%a") and os.getenv(name), name
end

-- An environment variable that would replace a whole mapping of the config with a string
-- (CIJOE_RUN_ENV=1) is a mistake: refuse it, naming the keys it could mean.
function refuse_overrides_of_maps(t, prefix)
  for key, value in pairs(t) do
    if type(key) == "string" and type(value) == "table" and #value == 0 then
      local path = prefix .. key
      local overridden, name = override_of(path)
      if overridden then
        error({ config_error = "the environment variable " .. name .. " would replace the " ..
          "mapping " .. path .. " of the config with a string; unset it, or set a key below " ..
          "it (" .. name .. "_<KEY>)" }, 0)
      end
      refuse_overrides_of_maps(value, path .. ".")
    end
  end
end

--- Load and merge config sources in order; each is {file = path} or {file = name,
--- text = yaml_or_toml}. Returns the config table, or nil and "file:line:column:
--- problem". The warnings go to config.warn, after the whole config loaded.
function config.load(sources)
  local ok, result = pcall(function()
    local merged, order, seen, warnings = {}, {}, {}, {}
    for _, src in ipairs(sources) do
      local doc = parse(src.text or read_file(src.file), src.file)
      config.merge(merged, doc.root)
      for _, name in ipairs(doc.transport_order) do
        if not seen[name] then seen[name], order[#order + 1] = true, name end
      end
      table.move(doc.warnings, 1, #doc.warnings, #warnings + 1, warnings)
    end
    refuse_overrides_of_maps(merged, "")
    return setmetatable(merged, { transport_order = order, warnings = warnings })
  end)
  if ok then
    for _, w in ipairs(getmetatable(result).warnings) do config.warn(w) end
    return result
  end
  if type(result) == "table" and result.config_error then return nil, result.config_error end
  error(result, 0)
end

--- The transport names in the order the configs wrote them; the first is the default.
function config.transport_names(conf)
  local order = (getmetatable(conf) or {}).transport_order
  if order then return order end
  local names = {} -- a config made in Lua: no order was written, so sorted
  local c = type(conf.cijoe) == "table" and conf.cijoe or {}
  for name in pairs(type(c.transport) == "table" and c.transport or {}) do
    names[#names + 1] = name
  end
  table.sort(names)
  return names
end

--- The environment variable that overrides a key: qemu.guests.x -> QEMU_GUESTS_X.
function config.env_name(key)
  return (key:upper():gsub("[.-]", "_"))
end

--- Look up a dotted key: the environment first (QEMU_GUESTS_X for qemu.guests.x; a key
--- of one part has none), then the config, then default.
function config.get(conf, key, default)
  local value = override_of(key)
  if value then return value end
  value = conf
  for part in key:gmatch("[^.]+") do
    if type(value) ~= "table" then return default end
    value = value[part]
  end
  if value == nil then return default end
  return value
end

--- A copy with its secrets masked (see cijoe.secrets), for config.orig and the REPL.
function config.masked(conf)
  return (require("cijoe.secrets").masked(conf))
end

return config
