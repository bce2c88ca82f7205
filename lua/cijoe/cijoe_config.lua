-- CIJOE 0.9.60 configs in joe: the keys CIJOE names differently are moved to joe's names,
-- and each key joe does not know or cannot honour gets a warning naming file:line:column.
-- What moves (the rest of a config stays as it is):
-- * a transport's paramiko options: timeout -> connect_timeout; a list key_filename ->
--   its first file (host_key_check is left to the loader, cijoe.cijoe_toml, which picks
--   one for CIJOE's transports, whose paramiko took any host key);
-- * cijoe.task.fail_fast -> cijoe.workflow.fail_fast (task wins, as in CIJOE);
-- * qemu.img_bin -> qemu.img; a guest's system_label -> system (qemu.systems.<label>.bin);
--   system_args.kwa cpu, smp, m, accel, machine/M -> cpu, smp, memory, accel, machine,
--   other kwa -> extra_args words; system_args.raw -> extra_args (shell words);
--   tcp_forward {host, guest = 22} -> ssh_port, and transport = the config's transport
--   on localhost with that port; host_share -> a -virtfs in extra_args, as CIJOE adds it;
-- * the top-level null_blk section (CIJOE's linux.null_blk reads it) -> linux.null_blk.
-- Keys joe ignores stay where they are, so a workflow may still read them, except in a
-- transport, whose unknown keys joe's config check refuses. Run it on rendered values
-- (template.render first), as CIJOE renders a config when it loads it.
local template = require("cijoe.template")

local cijoe_config = {}

local TRANSPORT_KEYS = { hostname = true, port = true, username = true, password = true,
  key_filename = true, passphrase = true, host_key_check = true, connect_timeout = true,
  keepalive = true, known_hosts = true }
local TIMEOUTS = "joe's connect_timeout bounds the connection, handshake and login together"
local PARAMIKO = { banner_timeout = TIMEOUTS, auth_timeout = TIMEOUTS, channel_timeout = TIMEOUTS,
  compress = "joe's SSH transport does not compress",
  disabled_algorithms = "joe chooses the algorithms itself (AES-128-CTR first)",
  look_for_keys = "joe does not search ~/.ssh for keys; name one in key_filename",
  allow_agent = "joe always offers the ssh-agent's keys when SSH_AUTH_SOCK is set" }
local KWA = { cpu = "cpu", smp = "smp", m = "memory", accel = "accel", machine = "machine",
  M = "machine" }
local GUEST_KEYS = { path = true, transport = true, system = true, machine = true, cpu = true,
  smp = true, memory = true, accel = true, kernel = true, initrd = true, append = true,
  boot_img = true, boot_img_format = true, ssh_port = true, disks = true, nvme = true,
  extra_args = true, image = true, image_url = true, image_sha256 = true, image_format = true,
  disk_size = true, cloud_init = true, system_image_name = true }
local REPOSITORY_KEYS = { remote = true, path = true, branch = true, tag = true, run_local = true }
local NO_WORKLET = "used by CIJOE's %s, which joe does not have"
local SECTIONS = { cijoe = { run = true, workflow = true, transport = true, task = true },
  qemu = { host_transport = true, img = true, guests = true, systems = true, repository = true,
    run_dir = true, image_cache = true, seed_tool = true, start_timeout = true,
    fixture_guest = true, fixture_timeout = true },
  linux = { null_blk = true, repository = true }, fio = { bin = true, remote_dir = true } }

-- Where t[k] was written.
local function at(m, t, k)
  return (m.marks[t] or {})[k] or "1:1"
end

-- One warning: "file:line:column: path: joe ignores this key (why)".
local function warn(m, t, k, path, why)
  local line, col = at(m, t, k):match("(%d+):(%d+)")
  m.warnings[#m.warnings + 1] = { tonumber(line), tonumber(col),
    m.file .. ":" .. at(m, t, k) .. ": " .. path .. ": joe ignores this key (" .. why .. ")" }
end

-- A key as TOML writes it: bare, or quoted.
local function quoted(k)
  k = tostring(k)
  return k:find("^[A-Za-z0-9_-]+$") and k or '"' .. k:gsub('[\\"]', "\\%0") .. '"'
end

-- A key path as TOML writes it.
local function join(path, k)
  return path .. "." .. quoted(k)
end

-- The keys of t in the order they were written.
local function ordered(m, t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  local function pos(k)
    local line, col = at(m, t, k):match("(%d+):(%d+)")
    return tonumber(line) * 1e6 + tonumber(col)
  end
  table.sort(keys, function(a, b) return pos(a) < pos(b) end)
  return keys
end

-- Set t[k] = v, marked where CIJOE wrote it (from_t[from_k]).
local function put(m, t, k, v, from_t, from_k)
  t[k] = v
  m.marks[t] = m.marks[t] or {}
  m.marks[t][k] = at(m, from_t, from_k)
end

-- t[k] as a table, made (and marked where from_t[from_k] is) when missing.
local function section(m, t, k, from_t, from_k)
  if type(t[k]) ~= "table" then put(m, t, k, {}, from_t, from_k) end
  return t[k]
end

-- Warn about every key of t that is not in known, with why: a string, or a table of
-- reasons by key with the reason for any other key at [1].
local function warn_unknown(m, t, path, known, why)
  for k in pairs(t) do
    if not known[k] then
      warn(m, t, k, join(path, k), type(why) == "table" and (why[k] or why[1]) or why)
    end
  end
end

-- One transport: paramiko's names to joe's; what joe lacks is warned about and dropped.
local function map_transport(m, transports, name)
  local t, path = transports[name], join("cijoe.transport", name)
  if type(t) ~= "table" then return end
  if t.timeout ~= nil and t.connect_timeout == nil then
    put(m, t, "connect_timeout", t.timeout, t, "timeout")
  end
  t.timeout = nil
  if type(t.key_filename) == "table" then
    for i = 2, #t.key_filename do
      warn(m, t.key_filename, i, join(path, "key_filename") .. "[" .. i .. "]",
        "joe logs in with one key file, the first")
    end
    put(m, t, "key_filename", t.key_filename[1], t, "key_filename")
  end
  if t.allow_agent == true then t.allow_agent = nil end -- joe always asks the agent
  if t.look_for_keys == false then t.look_for_keys = nil end
  for k in pairs(t) do
    if not TRANSPORT_KEYS[k] then
      warn(m, t, k, join(path, k), PARAMIKO[k] or (tostring(k):find("^gss_") and
        "joe has no GSS-API (Kerberos) login" or "joe's SSH transport has no such setting"))
      t[k] = nil
    end
  end
end

-- The cijoe section: transports, run, and task (CIJOE's name for joe's workflow).
local function map_cijoe(m, c)
  for name in pairs(type(c.transport) == "table" and c.transport or {}) do
    map_transport(m, c.transport, name)
  end
  if type(c.run) == "table" then
    if c.run.shell == "sh" then c.run.shell = nil end
    warn_unknown(m, c.run, "cijoe.run", { env = true }, { "joe has no such setting",
      shell = "joe runs commands with the target's POSIX shell" })
  end
  if type(c.task) == "table" then
    if c.task.fail_fast ~= nil then
      local workflow = section(m, c, "workflow", c, "task")
      put(m, workflow, "fail_fast", c.task.fail_fast, c.task, "fail_fast")
      c.task.fail_fast = nil
    end
    warn_unknown(m, c.task, "cijoe.task", {}, "joe's workflows have no such setting")
    if next(c.task) == nil then c.task = nil end
  end
  if type(c.workflow) == "table" then
    warn_unknown(m, c.workflow, "cijoe.workflow", { fail_fast = true },
      "joe's workflows have no such setting")
  end
  warn_unknown(m, c, "cijoe", SECTIONS.cijoe, "joe has no such setting")
end

-- The kwa of a guest's system_args: machine options to joe's keys, others to words.
local function map_kwa(m, g, kwa, path, words)
  for k, v in pairs(kwa) do
    if type(v) == "table" then
      warn(m, kwa, k, join(path, k), "a table; write the option's value as a string")
    elseif KWA[k] and g[KWA[k]] == nil then
      put(m, g, KWA[k], v, kwa, k)
    else
      words[#words + 1], words[#words + 2] = "-" .. k, template.to_text(v)
    end
  end
end

-- tcp_forward {host, guest = 22}: joe's ssh_port, and the transport that reaches it.
local function map_forward(m, g, fwd, path, transports)
  if fwd.guest ~= 22 then
    return warn(m, fwd, "guest", join(path, "guest"), "joe forwards the guest's port 22 only")
  end
  local addr = fwd.host_address
  if addr ~= nil and addr ~= "127.0.0.1" and addr ~= "localhost" then
    warn(m, fwd, "host_address", join(path, "host_address"), "joe forwards from 127.0.0.1 only")
  end
  if g.ssh_port == nil then put(m, g, "ssh_port", fwd.host, fwd, "host") end
  for _, name in ipairs(ordered(m, transports)) do
    local t = transports[name]
    local here = type(t) == "table" and (t.hostname == "localhost" or t.hostname == "127.0.0.1")
    if g.transport == nil and here and t.port == fwd.host then
      put(m, g, "transport", name, fwd, "host")
    end
  end
end

-- Words (lists) and shell words (strings) as one extra_args: a list when all are words.
local function extra_args(parts)
  local words, text = {}, {}
  for _, p in ipairs(parts) do
    if type(p) == "string" then
      text[#text + 1] = p
    else
      for _, w in ipairs(p) do
        words[#words + 1] = w
        text[#text + 1] = "'" .. tostring(w):gsub("'", "'\\''") .. "'"
      end
    end
  end
  if #text == #words then return words end
  return table.concat(text, " ")
end

-- A guest's system_args: kwa, raw, tcp_forward and host_share, as CIJOE's qemu wrapper
-- reads them (the raw words last).
local function map_system_args(m, g, sa, path, transports)
  local words = {}
  if type(sa.kwa) == "table" then map_kwa(m, g, sa.kwa, join(path, "kwa"), words) end
  if type(sa.tcp_forward) == "table" then
    map_forward(m, g, sa.tcp_forward, join(path, "tcp_forward"), transports)
  end
  if type(sa.host_share) == "string" then
    words[#words + 1] = "-virtfs"
    words[#words + 1] = "fsdriver=local,id=fsdev0,security_model=mapped,mount_tag=hostshare," ..
      "path=" .. sa.host_share:gsub(",", ",,")
  end
  local raw = type(sa.raw) == "string" and sa.raw or nil
  if #words > 0 or raw then
    local parts = { g.extra_args or {}, words, raw or {} }
    put(m, g, "extra_args", extra_args(parts), g, "system_args")
  end
  warn_unknown(m, sa, path, { kwa = true, raw = true, tcp_forward = true, host_share = true },
    "neither CIJOE's qemu wrapper nor joe reads it")
end

-- One guest of qemu.guests.
local function map_guest(m, q, guests, name, transports)
  local g, path = guests[name], join("qemu.guests", name)
  if type(g) ~= "table" then return end
  if g.system_label ~= nil then
    local sys = type(q.systems) == "table" and q.systems[g.system_label]
    if type(sys) == "table" and sys.bin then
      put(m, g, "system", sys.bin, sys, "bin")
      if g.system_label == "aarch64" then
        warn(m, g, "system_label", join(path, "system_label"), "joe boots no UEFI firmware: " ..
          "CIJOE's qemu.guest_initialize makes bios.img for an aarch64 guest; give it as a " ..
          "pflash -drive in extra_args")
      end
    else
      warn(m, g, "system_label", join(path, "system_label"), "no qemu.systems." ..
        tostring(g.system_label) .. ".bin names its qemu binary")
    end
    g.system_label = nil
  end
  if type(g.system_args) == "table" then
    map_system_args(m, g, g.system_args, join(path, "system_args"), transports)
  end
  g.system_args = nil
  if g.boot_driver == "virtio-blk-pci" then g.boot_driver = nil end
  warn_unknown(m, g, path, GUEST_KEYS, { "joe's qemu package has no such guest key",
    boot_driver = "joe boots the disk with if=virtio",
    initialize = "joe's qemu.guest_initialize takes with.system_image_name instead" })
end

-- The qemu section: img_bin, the guests, and the keys of CIJOE's build worklets.
local function map_qemu(m, q, transports)
  if q.img_bin ~= nil and q.img == nil then put(m, q, "img", q.img_bin, q, "img_bin") end
  q.img_bin = nil
  for name in pairs(type(q.guests) == "table" and q.guests or {}) do
    map_guest(m, q, q.guests, name, transports)
  end
  warn_unknown(m, q, "qemu", SECTIONS.qemu, { "joe's qemu package has no such setting",
    build = NO_WORKLET:format("qemu.build and qemu.install") })
end

-- The top-level null_blk section, which CIJOE's linux.null_blk reads, into linux.null_blk.
local function map_null_blk(m, root)
  local linux = section(m, root, "linux", root, "null_blk")
  local nb = section(m, linux, "null_blk", root, "null_blk")
  for k, v in pairs(root.null_blk) do
    if nb[k] == nil then put(m, nb, k, v, root.null_blk, k) end
  end
  root.null_blk = nil
end

-- The keys joe ignores in the sections of its packages and in every section's repository
-- (joe's core.repository_prep clones them all, as CIJOE's does); the system-imaging
-- section is checked by cijoe.cijoe_toml, beside joe's system_imaging package.
local function check_sections(m, root)
  for name, s in pairs(root) do
    if type(s) == "table" and type(s.repository) == "table" then
      warn_unknown(m, s.repository, quoted(name) .. ".repository", REPOSITORY_KEYS,
        "joe's core.repository_prep does not read it")
    end
    if SECTIONS[name] and name ~= "cijoe" and name ~= "qemu" and type(s) == "table" then
      warn_unknown(m, s, name, SECTIONS[name], "joe's " .. name .. " package has no such setting")
    end
  end
end

--- Move the keys of a CIJOE config (a document of cijoe.toml.load, with its marks) to
--- joe's names, in place; marks follow the values. Returns the config and the warnings,
--- one string per key joe ignores, in the order of the file:
--- "file:line:column: cijoe.x.y: joe ignores this key (why)".
function cijoe_config.map(root, marks, file)
  local m = { marks = marks, file = file, warnings = {} }
  local c = type(root.cijoe) == "table" and root.cijoe or {}
  map_cijoe(m, c)
  if type(root.qemu) == "table" then
    map_qemu(m, root.qemu, type(c.transport) == "table" and c.transport or {})
  end
  if type(root.null_blk) == "table" then map_null_blk(m, root) end
  check_sections(m, root)
  table.sort(m.warnings, function(a, b) return a[1] < b[1] or a[1] == b[1] and a[2] < b[2] end)
  local out = {}
  for i, w in ipairs(m.warnings) do out[i] = w[3] end
  return root, out
end

return cijoe_config
