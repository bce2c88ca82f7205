-- Reaching an SSH target: the TCP connection and handshake within connect_timeout, the
-- host key under host_key_check, then a login by key file, ssh-agent or password; the
-- failure says what was tried.
local hostkey = require("cijoe.hostkey")
local ssh = require("cijoe.ssh")
local sshkey = require("cijoe.sshkey")

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

-- libssh2's codes for a key file it could not read, and for a key the server refused.
local FILE_ERROR, AUTH_FAILED, UNVERIFIED = -16, -18, -19

-- Why a key that the server refused may have been refused.
local function refused(path, info, code, phrase)
  if code == FILE_ERROR and info.encrypted and phrase then
    return "key file " .. path .. ": wrong passphrase"
  end
  if info.type == "ssh-rsa" and (code == AUTH_FAILED or code == UNVERIFIED) then
    return "key file " .. path .. " refused: it is an RSA key, which libssh2 1.10 can " ..
      "sign only with SHA-1 (ssh-rsa), and OpenSSH 8.8 and later refuse that by default; " ..
      "use an ed25519 or ECDSA key (ssh-keygen -t ed25519), or allow ssh-rsa on the server " ..
      "(PubkeyAcceptedAlgorithms +ssh-rsa)"
  end
  return "key file " .. path .. " refused"
end

-- Try one key file; true once logged in, else nil and what became of it.
local function try_key(sess, user, path, phrase)
  local info, why = sshkey.inspect(path)
  if not info then return nil, "key file " .. why end
  if info.encrypted and not phrase then
    return nil, "key file " .. path .. " needs a passphrase (give passphrase: in the " ..
      "transport, or add the key to the ssh-agent)"
  end
  local ok, _, code = sess:auth_key(user, path, phrase)
  if ok then return true end
  return nil, refused(path, info, code, phrase)
end

-- The key files to try: key_filename, else OpenSSH's default identities that exist.
local function key_files(c)
  if c.key_filename then return { expand_home(c.key_filename) }, true end
  local files = {}
  for _, name in ipairs({ "id_ed25519", "id_ecdsa", "id_rsa" }) do
    local path = expand_home("~/.ssh/" .. name)
    if io.open(path, "rb") then files[#files + 1] = path end
  end
  return files, false
end

-- Log in with the first method that works: the key file named, the ssh-agent, OpenSSH's
-- default key files (without a key file named), the password. The failure lists each.
local function authenticate(sess, user, c)
  local tried, files, named = {}, key_files(c)
  if named then
    local ok, why = try_key(sess, user, files[1], c.passphrase)
    if ok then return true end
    tried[#tried + 1] = why
  end
  if os.getenv("SSH_AUTH_SOCK") then
    local ok, why = sess:auth_agent(user)
    if ok then return true end
    tried[#tried + 1] = "ssh-agent: " .. tostring(why)
  end
  for _, path in ipairs(named and {} or files) do
    local ok, why = try_key(sess, user, path, c.passphrase)
    if ok then return true end
    tried[#tried + 1] = why
  end
  if c.password then
    if sess:auth_password(user, tostring(c.password)) then return true end
    tried[#tried + 1] = "password refused"
  end
  if #tried == 0 then tried[1] = "no key file, no ssh-agent, no password" end
  return nil, "authentication failed (" .. table.concat(tried, "; ") .. ")"
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
  sess:start(c.keepalive or 15, c.keepalive_count_max or 3, c.transfer_timeout or 60)
  return sess, label
end

return login
