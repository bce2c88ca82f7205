-- Host keys under the policy of host_key_check (yes, accept-new, no), the way OpenSSH's
-- StrictHostKeyChecking treats them: a known key must match, a changed key is refused
-- even under accept-new, an unknown key is refused (yes) or appended (accept-new) to the
-- first known_hosts file under a lock, never by rewriting the file.
local base64 = require("cijoe.base64")
local fs = require("cijoe.fs")
local known_hosts = require("cijoe.known_hosts")
local ssh = require("cijoe.ssh")

local hostkey = {}

-- The key type named at the start of an SSH key blob (a length, then the name).
local function key_type(blob)
  local len = #blob >= 4 and string.unpack(">I4", blob) or 0
  return blob:sub(5, 4 + len)
end

--- The fingerprint of a key as OpenSSH prints it, from its SHA-256.
function hostkey.fingerprint(sha256)
  return "SHA256:" .. base64.encode(sha256):gsub("=+$", "")
end

-- Append the entry to file, making its folder (0700, as OpenSSH does) when missing;
-- unless, once the lock is held, known() says another run added the key meanwhile (so
-- runs that accept one target's key at once write it once).
local function append(file, entry, known)
  local dir = file:match("^(.*)/[^/]*$")
  if dir and not fs.stat(dir) then
    local ok, err = fs.mkdir(dir, true, 448)
    if not ok then return nil, err end
  end
  local f, err = io.open(file, "ab")
  if not f then return nil, err end
  local ok, werr = fs.lock(f)
  if ok and not known() then ok, werr = f:write(entry, "\n") end
  local closed, cerr = f:close()
  if ok and closed then return true end
  return nil, tostring(werr or cerr)
end

-- " (host certificates, which joe does not take, are known for it at file:line)" when a
-- @cert-authority entry names the host, else "".
local function certificates(files, host, port)
  for _, e in ipairs(known_hosts.find(files, known_hosts.name(host, port), ssh.hmac_sha1)) do
    if e.marker == "cert-authority" then
      return " (a @cert-authority entry at " .. e.where .. " is for host certificates, " ..
        "which joe does not take)"
    end
  end
  return ""
end

--- Check the host key of a session that has done its handshake: policy is "yes",
--- "accept-new" or "no"; files the known_hosts files, the first of them written to (a
--- hashed entry with hash, as HashKnownHosts asks). Returns true, or nil and what is
--- wrong with the fix.
function hostkey.check(sess, policy, files, host, port, hash)
  if policy == "no" then return true end
  local blob, sha = sess:hostkey()
  if not blob then return nil, sha end
  local ktype, b64, fp = key_type(blob), base64.encode(blob), hostkey.fingerprint(sha)
  local status, where = known_hosts.lookup(files, host, port, ktype, b64, ssh.hmac_sha1)
  if status == "match" then return true end
  if status == "revoked" then
    return nil, "the host key " .. fp .. " is revoked in " .. where .. "; refusing to connect"
  elseif status == "changed" then
    return nil, "the host key has CHANGED (now " .. fp .. "); refusing to connect. If that "
      .. "is expected, remove the old key from " .. where
  elseif policy ~= "accept-new" then
    return nil, "the host key is not known (" .. fp .. "); add it to " .. files[1] ..
      " or set host_key_check: accept-new" .. certificates(files, host, port)
  end
  local function known()
    return known_hosts.lookup(files, host, port, ktype, b64, ssh.hmac_sha1) == "match"
  end
  local ok, err = append(files[1], known_hosts.entry(host, port, ktype, b64,
    hash and ssh.hmac_sha1 or nil), known)
  if not ok then return nil, "cannot add the host key to " .. files[1] .. ": " .. err end
  return true
end

return hostkey
