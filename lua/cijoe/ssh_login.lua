-- Reaching an SSH target the way OpenSSH does: its settings from the transport's own
-- keys, then ~/.ssh/config (or ssh_config: PATH, or none); through ProxyCommand or a
-- chain of ProxyJump hops (each a session of its own, with its own host key check and
-- login, carrying the next over a direct-tcpip channel); the host key under
-- host_key_check; a login by key file, ssh-agent, OpenSSH's default keys or password.
-- Every failure names the hop or host and says what was tried.
local hostkey = require("cijoe.hostkey")
local proc = require("cijoe.proc")
local ssh = require("cijoe.ssh")
local ssh_auth = require("cijoe.ssh_auth")

local login = { MAX_HOPS = 8 }

-- A path with ~ for the home folder.
local function expand_home(path)
  return path and (path:gsub("^~", os.getenv("HOME") or "~"))
end

-- The policy of host_key_check (or StrictHostKeyChecking): yes, accept-new or no.
local function policy(value)
  if value == false or value == "no" or value == "off" then return "no" end
  if value == "accept-new" then return "accept-new" end
  return "yes"
end

-- The first of the values that is not nil.
local function first(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v ~= nil then return v end
  end
end

-- The known_hosts files: the transport's known_hosts, else ssh_config's, else OpenSSH's.
local function known_files(c, r)
  if c.known_hosts then return { expand_home(c.known_hosts) } end
  local files = {}
  for _, f in ipairs(r.user_known_hosts_files or {}) do files[#files + 1] = f end
  if #files == 0 then files = { expand_home("~/.ssh/known_hosts") } end
  return files
end

-- An ssh_config number held to the bound of joe's own key (cijoe.config_values) before
-- it reaches C: OpenSSH takes a ConnectTimeout of 68 years, and a day is the same in use.
local function at_most(v, most)
  return v and math.min(v, most)
end

--- The settings of a host: c is a transport's config entry (or a hop's {hostname,
--- username, port}), alias what it is called; its keys win over ssh_config's, which win
--- over OpenSSH's defaults. Returns them, or nil and "file:line: message".
function login.settings(alias, c)
  local r, err = require("cijoe.ssh_config").resolve(tostring(c.hostname or alias),
    { file = c.ssh_config, user = c.username and tostring(c.username), port = c.port,
      home = os.getenv("HOME") }) -- ~ is $HOME, as for joe's other paths (and paramiko's)
  if not r then return nil, err end
  return { alias = tostring(c.hostname or alias), host = r.hostname, port = r.port or 22,
    user = r.user or os.getenv("USER") or "root",
    key = c.key_filename and expand_home(c.key_filename),
    identity_files = r.identity_files, no_default_keys = r.identity_files_none,
    identities_only = r.identities_only, passphrase = c.passphrase, password = c.password,
    known_hosts = known_files(c, r), hash = r.hash_known_hosts,
    policy = policy(first(c.host_key_check, r.strict_host_key_checking)),
    connect_timeout = first(c.connect_timeout, at_most(r.connect_timeout, 86400), 10),
    keepalive = first(c.keepalive, at_most(r.server_alive_interval, 86400), 15),
    count_max = first(c.keepalive_count_max, at_most(r.server_alive_count_max, 1000), 3),
    transfer_timeout = c.transfer_timeout or 60, ssh_config = c.ssh_config,
    proxy_jump = first(c.proxy_jump, r.proxy_jump), proxy_command = first(c.proxy_command,
      r.proxy_command), host_key_alias = r.host_key_alias }
end

-- "user@host:port", and the alias when the host was found under another name.
local function label(s)
  local text = s.user .. "@" .. s.host .. ":" .. s.port
  if s.alias ~= s.host then text = text .. " (" .. s.alias .. ")" end
  return text
end

-- Host key and login on a session through its handshake; true, or nil and why.
local function admit(sess, s)
  local name = s.host_key_alias or s.host
  local ok, why = hostkey.check(sess, s.policy, s.known_hosts, name,
    s.host_key_alias and 22 or s.port, s.hash)
  if ok then ok, why = ssh_auth.authenticate(sess, s) end
  if not ok then return nil, why end
  sess:start(s.keepalive, s.count_max, s.transfer_timeout)
  return true
end

local open_host

-- The session that carries the next hop: the last hop of a ProxyJump value, reached
-- through the hops before it (as OpenSSH's -J does), its own settings from the same
-- ssh_config file as the host it carries (or, for a hop named after a transport, that
-- transport's keys).
local function jump_carrier(spec, file, chain, depth, transports)
  local hops, err = require("cijoe.ssh_config").parse_jump(spec)
  if not hops then return nil, "proxy_jump " .. spec .. ": " .. err end
  if #hops == 0 then return nil end -- none
  local last = hops[#hops]
  local entry = transports and transports[last.host]
  local c = type(entry) == "table" and entry or { hostname = last.host, ssh_config = file }
  c = setmetatable({ username = last.user or c.username, port = last.port or c.port },
    { __index = c })
  local s, serr = login.settings(last.host, c)
  if not s then return nil, serr end
  if #hops > 1 then
    local before = {}
    for i = 1, #hops - 1 do before[i] = (hops[i].user and hops[i].user .. "@" or "") ..
      hops[i].host .. (hops[i].port and ":" .. hops[i].port or "") end
    s.proxy_jump, s.proxy_command = table.concat(before, ","), nil
  end
  local sess, why = open_host(s, chain, depth + 1, transports)
  if not sess then
    return nil, "jump " .. last.host .. " (" .. s.host .. ":" .. s.port .. "): " .. why
  end
  return sess
end

-- How the session to s gets its bytes: through a jump, a ProxyCommand, or TCP.
local function route(s, chain, depth, transports)
  if depth > login.MAX_HOPS then
    return nil, "more than " .. login.MAX_HOPS .. " jumps (a loop?)"
  end
  if s.proxy_jump and s.proxy_jump ~= "none" then
    local via, err = jump_carrier(s.proxy_jump, s.ssh_config, chain, depth, transports)
    if via then return { via = via, host = s.host, port = s.port } end
    if err then return nil, err end
  end
  if s.proxy_command and s.proxy_command ~= "none" then
    local cmd, terr = require("cijoe.ssh_syntax").expand(s.proxy_command,
      { h = s.host, p = tostring(s.port), r = s.user, n = s.alias })
    if not cmd then return nil, "proxy_command: " .. terr end
    local fd, pid = proc.connect(cmd)
    if not fd then return nil, "proxy_command: " .. pid end
    chain.pids[#chain.pids + 1] = pid
    return { fd = fd }
  end
  return { host = s.host, port = s.port }
end

-- Open and admit the session to s (through its route); added to chain.
function open_host(s, chain, depth, transports)
  local how, err = route(s, chain, depth, transports)
  if not how then return nil, err end
  how.timeout = s.connect_timeout
  local sess, oerr = ssh.open(label(s), how)
  if not sess then return nil, oerr end
  chain[#chain + 1] = sess
  local ok, why = admit(sess, s)
  if not ok then return nil, label(s) .. ": " .. why end
  return sess
end

--- Close what a chain holds: its sessions, the last first, and its ProxyCommands.
function login.close(chain)
  for i = #chain, 1, -1 do chain[i]:close() end
  for _, pid in ipairs(chain.pids or {}) do proc.reap(pid) end
end

--- Connect the transport called name with its config entry c (transports: the config's
--- cijoe.transport, for jumps named after transports). Returns the logged-in session,
--- its label and the chain of everything opened for it (see login.close), or nil and
--- what went wrong.
function login.connect(name, c, transports)
  local s, err = login.settings(name, c)
  if not s then return nil, err end
  local chain = { pids = {} }
  local sess, why = open_host(s, chain, 0, transports)
  if not sess then
    login.close(chain)
    return nil, why
  end
  return sess, label(s), chain
end

return login
