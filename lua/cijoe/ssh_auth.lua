-- Logging in on an SSH session, in OpenSSH's order: the key file the transport names,
-- the ssh-agent's keys (not with IdentitiesOnly), the IdentityFile keys of ssh_config or
-- else OpenSSH's default ones that exist (~/.ssh/id_ed25519, id_ecdsa, id_rsa), then the
-- password. A key file is looked at before libssh2 gets it, so a failure says exactly
-- why (missing, locked, wrong passphrase, an RSA key OpenSSH refuses), and the message
-- lists everything that was tried.
local sshkey = require("cijoe.sshkey")

local auth = {}

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

-- The key files to try after the agent: ssh_config's IdentityFile ones, else OpenSSH's
-- defaults that exist.
local function identity_files(s)
  if #(s.identity_files or {}) > 0 then return s.identity_files end
  if s.no_default_keys then return {} end
  local files, home = {}, os.getenv("HOME") or ""
  for _, name in ipairs({ "id_ed25519", "id_ecdsa", "id_rsa" }) do
    local path = home .. "/.ssh/" .. name
    local f = io.open(path, "rb")
    if f then
      f:close()
      files[#files + 1] = path
    end
  end
  return files
end

--- Log in on sess with the settings s (of cijoe.ssh_login.settings). Returns true, or
--- nil and "authentication failed (what was tried, and why each failed)".
function auth.authenticate(sess, s)
  local tried = {}
  local function attempt(ok, why)
    if not ok then tried[#tried + 1] = why end
    return ok
  end
  if s.key and attempt(try_key(sess, s.user, s.key, s.passphrase)) then return true end
  if (os.getenv("SSH_AUTH_SOCK") or "") ~= "" and not s.identities_only then
    local ok, why = sess:auth_agent(s.user)
    if attempt(ok, "ssh-agent: " .. tostring(why)) then return true end
  end
  for _, path in ipairs(s.key and {} or identity_files(s)) do
    if attempt(try_key(sess, s.user, path, s.passphrase)) then return true end
  end
  if s.password then
    local ok = sess:auth_password(s.user, tostring(s.password))
    if attempt(ok, "password refused") then return true end
  end
  if #tried == 0 then tried[1] = "no key file, no ssh-agent, no password" end
  return nil, "authentication failed (" .. table.concat(tried, "; ") .. ")"
end

return auth
