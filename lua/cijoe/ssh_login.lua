-- Reaching an SSH target: the TCP connection and handshake within connect_timeout, the
-- host key under host_key_check, then a login by key file, ssh-agent or password; the
-- failure says what was tried.
local hostkey = require("cijoe.hostkey")
local ssh = require("cijoe.ssh")

local login = {}

-- A path with ~ for the home folder.
local function expand_home(path)
  return path and (path:gsub("^~", os.getenv("HOME") or "~"))
end

-- The policy of host_key_check: yes (the default), accept-new or no.
local function policy(value)
  if value == false or value == "no" then return "no" end
  if value == "accept-new" then return "accept-new" end
  return "yes"
end

-- Log in with the first method that works: key file, ssh-agent, password.
local function authenticate(sess, user, c)
  local tried = {}
  if c.key_filename then
    local key = expand_home(c.key_filename)
    if sess:auth_key(user, key, c.passphrase) then return true end
    tried[#tried + 1] = "key file " .. key
  end
  if os.getenv("SSH_AUTH_SOCK") then
    if sess:auth_agent(user) then return true end
    tried[#tried + 1] = "ssh-agent"
  end
  if c.password then
    if sess:auth_password(user, tostring(c.password)) then return true end
    tried[#tried + 1] = "password"
  else
    tried[#tried + 1] = "no password"
  end
  return nil, "authentication failed (tried: " .. table.concat(tried, ", ") .. ")"
end

--- Connect the transport called name with its config entry c. Returns the logged-in
--- session and its label (user@host:port), or nil and what went wrong.
function login.connect(name, c)
  local host, port = tostring(c.hostname or name), math.tointeger(c.port) or 22
  local user = tostring(c.username or os.getenv("USER") or "root")
  local label = user .. "@" .. host .. ":" .. port
  local sess, err = ssh.open(label, { host = host, port = port, timeout = c.connect_timeout })
  if not sess then return nil, err end
  local files = { expand_home(c.known_hosts or "~/.ssh/known_hosts") }
  local ok, why = hostkey.check(sess, policy(c.host_key_check), files, host, port)
  if ok then ok, why = authenticate(sess, user, c) end
  if not ok then
    sess:close()
    return nil, label .. ": " .. why
  end
  sess:start(c.keepalive or 15, c.keepalive_count_max or 3)
  return sess, label
end

return login
