-- CIJOE's TOML configs read as CIJOE 0.9 reads them, then moved to joe's keys: toml.load,
-- every string rendered with the Jinja of cijoe.template in CIJOE's config context
-- (local.env and resources; `config` is empty while a config loads), cijoe_config.map,
-- and what CIJOE left to paramiko and to its own packages:
-- * host_key_check, which paramiko never did (it took any host key): a transport that a
--   qemu guest is reached through gets `no` (the guest makes a new key at each boot);
--   any other gets `accept-new` (the first key is kept in known_hosts, a changed one is
--   refused). A note at the transport's line says which, unless the config sets it.
-- * {{ resources.auxiliary['...'] }} names a file of CIJOE's Python packages: in the
--   system-imaging section (whose cloud-init files joe does not use) the value stays as
--   written; anywhere else it is an error naming the key.
-- * system-imaging.images.NAME: joe's system_imaging package reads cloud.url, cloud.path,
--   disk.path and disk.url; every other key gets a warning.
-- A YAML config gets the same mapping less the transports, which joe's config check
-- holds to joe's keys: it only ever adds warnings there, never changes a transport.
local template = require("cijoe.template")
local cijoe_config = require("cijoe.cijoe_config")

local cijoe_toml = {}

local RESOURCES = "{{ resources... }} names a file of CIJOE's Python packages, which joe " ..
  "does not have; write the file's path"
local IMAGE_KEYS = { system_label = true, cloud = true, disk = true }
local IMAGE_PARTS = { cloud = { url = true, path = true }, disk = { path = true, url = true } }
local SEED = "joe's guests get their cloud-init data from the seed qemu.guest_initialize makes"
local IMAGE_WHY = { "joe's system_imaging package does not read it", metadata_path = SEED,
  userdata_path = SEED, url_checksum = "joe checks an image with qemu.guests.NAME.image_sha256",
  decompressed_path = "joe reads cloud images as qemu-img does (qcow2 or raw, uncompressed)",
  docker = "joe makes no docker images" }

-- A key path as TOML writes it.
local function join(path, k)
  k = tostring(k)
  local part = k:find("^[A-Za-z0-9_-]+$") and k or '"' .. k:gsub('[\\"]', "\\%0") .. '"'
  return path == "" and part or path .. "." .. part
end

-- "file:line:column" of t[k].
local function where(d, t, k)
  return d.file .. ":" .. ((d.marks[t] or {})[k] or "1:1")
end

-- One warning or note about t[k].
local function warn(d, t, k, text)
  d.warnings[#d.warnings + 1] = where(d, t, k) .. ": " .. text
end

-- The environment as a template sees it: the values, or for joe convert ${NAME}, so that
-- the YAML written reads the variable when it is loaded, as the TOML did.
local function environment(as_variables)
  return setmetatable({}, { __index = function(_, name)
    if as_variables then return "${" .. name .. "}" end
    return os.getenv(name)
  end })
end

-- Render the string t[k] in place; a config error names the key and the column in it.
local function render_one(d, t, k, path)
  local s = t[k]
  if not s:find("{[{%%#]") then return end
  if s:find("{{%s*resources%f[^%w_]") then
    if path:match("^[^.]+") == "system-imaging" then return end
    error({ config_error = where(d, t, k) .. ": " .. path .. ": " .. RESOURCES }, 0)
  end
  local out, err = template.render(s, d.context)
  if not out then
    err = err:gsub("^(.-): ", "%1 of the value: ", 1)
    if err:find(": config[.[]") then
      err = err .. "; a config cannot name config values: CIJOE renders a config with an " ..
        "empty config, task files with the whole of it"
    end
    error({ config_error = where(d, t, k) .. ": " .. path .. ": " .. err }, 0)
  end
  t[k] = out
end

-- Render every string of t, at any depth (CIJOE renders strings, lists and tables).
local function render_all(d, t, path)
  for k, v in pairs(t) do
    if type(v) == "string" then
      render_one(d, t, k, join(path, k))
    elseif type(v) == "table" then
      render_all(d, v, join(path, k))
    end
  end
end

-- Line and column of a warning, for sorting them in the order of the file.
local function position(w)
  local line, col = w:match(":(%d+):(%d+): ")
  return (tonumber(line) or 0) * 1e6 + (tonumber(col) or 0)
end

-- Note the keys of t not in known: by what they are called below an image (images share
-- them, so each is said once, at its first image).
local function ignored(d, t, image, part, known)
  for k in pairs(t) do
    local sub = join(part, k)
    if not known[k] and not d.ignored[sub] then
      d.ignored[sub] = { t = t, k = k, path = image .. "." .. sub, n = 0 }
      d.ignored[#d.ignored + 1] = sub
    elseif not known[k] then
      d.ignored[sub].n = d.ignored[sub].n + 1
    end
  end
end

-- The system-imaging section: what joe's system_imaging package reads, and one warning
-- per key it does not (naming how many other images have it too).
local function check_images(d, root)
  local si = root["system-imaging"]
  if type(si) ~= "table" then return end
  d.ignored = {}
  ignored(d, si, "system-imaging", "", { images = true })
  local images = type(si.images) == "table" and si.images or {}
  local names = {}
  for name in pairs(images) do names[#names + 1] = name end
  table.sort(names, function(a, b) return position(where(d, images, a) .. ": ") <
    position(where(d, images, b) .. ": ") end)
  for _, name in ipairs(names) do
    local image, path = images[name], join("system-imaging.images", name)
    if type(image) == "table" then
      ignored(d, image, path, "", IMAGE_KEYS)
      for part, known in pairs(IMAGE_PARTS) do
        if type(image[part]) == "table" then ignored(d, image[part], path, part, known) end
      end
    end
  end
  for _, sub in ipairs(d.ignored) do
    local i = d.ignored[sub]
    warn(d, i.t, i.k, i.path .. (i.n > 0 and " (and in " .. i.n .. " more images)" or "") ..
      ": joe ignores this key (" .. (IMAGE_WHY[i.k] or IMAGE_WHY[1]) .. ")")
  end
end

-- host_key_check for each transport that does not set it (see the top of this file).
local function choose_host_key_checks(d, root)
  local c = type(root.cijoe) == "table" and root.cijoe or {}
  local transports = type(c.transport) == "table" and c.transport or {}
  local q = type(root.qemu) == "table" and root.qemu or {}
  local guest_of, names = {}, {}
  for name in pairs(type(q.guests) == "table" and q.guests or {}) do names[#names + 1] = name end
  table.sort(names, function(a, b) return tostring(a) > tostring(b) end) -- the first wins
  for _, name in ipairs(names) do
    local g = q.guests[name]
    if type(g) == "table" and g.transport ~= nil then guest_of[g.transport] = name end
  end
  for name, t in pairs(transports) do
    if type(t) == "table" and t.host_key_check == nil then
      local guest, path = guest_of[name], join("cijoe.transport", name)
      t.host_key_check = guest == nil and "accept-new" or "no"
      d.marks[t] = d.marks[t] or {}
      d.marks[t].host_key_check = (d.marks[transports] or {})[name]
      warn(d, transports, name, path .. ": " .. (guest and "host_key_check = no (it reaches " ..
        "qemu guest '" .. tostring(guest) .. "', whose host key is new at each boot)" or
        "host_key_check = accept-new (CIJOE's paramiko took any host key; joe keeps the " ..
        "first one in known_hosts and refuses a changed one; set host_key_check to choose)"))
    end
  end
end

-- The warnings of cijoe_config.map and ours, in the order of the file.
local function merged(d, more)
  for _, w in ipairs(more) do d.warnings[#d.warnings + 1] = w end
  table.sort(d.warnings, function(a, b) return position(a) < position(b) end)
  return d.warnings
end

--- Read a CIJOE config: TOML text, rendered, moved to joe's keys. opts.env_as_variables
--- writes {{ local.env.X }} as ${X} (joe convert). Returns the config, its marks and the
--- warnings ("file:line:column: key: ..."), or raises {config_error = "file:line:column:
--- problem"} for bad TOML or a template that cannot be rendered.
function cijoe_toml.load(text, file, opts)
  local root, marks = require("cijoe.toml").load(text, file) -- here: YAML configs need no TOML
  if root == nil then error({ config_error = marks }, 0) end
  local d = { file = file, marks = marks, warnings = {},
    context = { ["local"] = { env = environment(opts and opts.env_as_variables) },
      config = {}, resources = {} } }
  render_all(d, root, "")
  local _, warnings = cijoe_config.map(root, marks, file)
  check_images(d, root)
  choose_host_key_checks(d, root)
  return root, marks, merged(d, warnings)
end

--- The warnings for the CIJOE keys of a YAML config (a mapping, with its marks), after
--- moving them as cijoe_config.map does; its transports are left as they are.
function cijoe_toml.map_yaml(root, marks, file)
  local d = { file = file, marks = marks, warnings = {} }
  local c = type(root.cijoe) == "table" and root.cijoe or nil
  local transports = c and c.transport
  if c then c.transport = nil end
  local _, warnings = cijoe_config.map(root, marks, file)
  if c then c.transport = transports end
  check_images(d, root)
  return merged(d, warnings)
end

return cijoe_toml
