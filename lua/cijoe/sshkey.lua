-- Private key files as a login needs to know them before trying one: there and
-- readable, of which type, locked by a passphrase or not; for messages that say why a
-- key could not be used (libssh2 itself only says "Unable to open private key file").
local base64 = require("cijoe.base64")

local sshkey = {}

-- The SSH string (a 4-byte length, then the bytes) at pos of blob, and the position after.
local function ssh_string(blob, pos)
  if #blob < pos + 3 then return nil end
  local len = string.unpack(">I4", blob, pos)
  return blob:sub(pos + 4, pos + 3 + len), pos + 4 + len
end

-- The cipher and key type of an OpenSSH-format key (PROTOCOL.key).
local function openssh_key(body)
  local blob = base64.decode(body:gsub("%s", ""))
  local magic = "openssh-key-v1\0"
  if not blob or blob:sub(1, #magic) ~= magic then return nil end
  local cipher, pos = ssh_string(blob, #magic + 1)
  local _, after_kdf = ssh_string(blob, pos)
  local _, after_opts = ssh_string(blob, after_kdf or #blob)
  local pub = after_opts and ssh_string(blob, after_opts + 4) or ""
  return { type = ssh_string(pub, 1), encrypted = cipher ~= "none" }
end

-- The key type and lock of a PEM key (OpenSSL's formats).
local PEM_TYPES = { RSA = "ssh-rsa", EC = "ecdsa", DSA = "ssh-dss" }
local function pem_key(text, label)
  local kind = label:match("^(%u+) PRIVATE KEY$")
  return { type = PEM_TYPES[kind or ""] or "unknown",
    encrypted = label == "ENCRYPTED PRIVATE KEY"
      or text:find("Proc-Type: 4,ENCRYPTED", 1, true) ~= nil }
end

--- What the key file at path is: {type = "ssh-ed25519"|"ssh-rsa"|..., encrypted = bool},
--- or nil and why it cannot be used (missing, unreadable, not a private key).
function sshkey.inspect(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read(1 << 20) or ""
  f:close()
  local label, body = text:match("%-%-%-%-%-BEGIN ([%u ]+)%-%-%-%-%-(.-)%-%-%-%-%-END")
  local info = label == "OPENSSH PRIVATE KEY" and openssh_key(body)
    or label and pem_key(text, label)
  if not info then return nil, path .. ": not a private key file (give the key, not its .pub)" end
  return info
end

return sshkey
