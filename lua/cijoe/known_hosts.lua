-- known_hosts files read the way OpenSSH 9.2 reads them (hostfile.c, sshconnect.c), to
-- check a server's host key as `ssh` would. Decisions, each checked against ssh itself:
-- - A host on port 22 is looked up by its name, on another port as "[host]:port"; host
--   patterns (`*`, `?`, `!`) and hashed names (|1|salt|hmac) are matched as by ssh. With
--   HostKeyAlias, pass the alias and port 22: OpenSSH looks the alias up without a port.
-- - All matching entries of all files count, in order: a revoked entry (@revoked, same
--   key) wins, then an entry with the same key ("match"), then any other key of the host
--   ("changed", the last one named as OpenSSH names its "offending key"), even of
--   another type: OpenSSH refuses a key whose type differs from the known one. So joe
--   should ask for the known types first (known_hosts.types), as ssh orders its host key
--   algorithms by them.
-- - Nothing known for "[host]:port": OpenSSH then takes the same key known for the bare
--   host (sshconnect.c, "checking without port identifier"), and so does lookup; a bare
--   entry with another key is not "changed", the port's lookup stays "unknown".
-- - @cert-authority lines are for host certificates, which joe does not take: ignored.
-- - A line that cannot be read (bad marker, unknown key type, bad base64, a key blob of
--   another type, a bad hash) is skipped, as OpenSSH skips it.
local syntax = require("cijoe.ssh_syntax")

local base64 = require("cijoe.base64")

local known_hosts = {}

--- Host key types by name, as OpenSSH names them in known_hosts: name -> the type of
--- key it is (rsa-sha2-* are signatures made with ssh-rsa keys).
known_hosts.key_types = {}
for name in ([[ssh-ed25519 ecdsa-sha2-nistp256 ecdsa-sha2-nistp384 ecdsa-sha2-nistp521
  ssh-rsa ssh-dss sk-ssh-ed25519@openssh.com sk-ecdsa-sha2-nistp256@openssh.com
  ssh-xmss@openssh.com]]):gmatch("%S+") do
  known_hosts.key_types[name] = name
  known_hosts.key_types[name:gsub("@openssh%.com$", "") .. "-cert-v01@openssh.com"] =
    name .. "-cert"
end
known_hosts.key_types["rsa-sha2-256-cert-v01@openssh.com"] = "ssh-rsa-cert"
known_hosts.key_types["rsa-sha2-512-cert-v01@openssh.com"] = "ssh-rsa-cert"
known_hosts.key_types["rsa-sha2-256"] = "ssh-rsa"
known_hosts.key_types["rsa-sha2-512"] = "ssh-rsa"
known_hosts.key_types["webauthn-sk-ecdsa-sha2-nistp256@openssh.com"] =
  "sk-ecdsa-sha2-nistp256@openssh.com"

--- Bytes of base64 text as known_hosts holds it (padded), or nil when it is not that.
function known_hosts.base64_decode(text)
  if #text % 4 ~= 0 then return nil end
  return base64.decode(text)
end

--- Base64 text of bytes, padded.
known_hosts.base64_encode = base64.encode

--- The name OpenSSH looks a host up by: host for port 22, else "[host]:port".
function known_hosts.name(host, port)
  if not port or tonumber(port) == 22 then return host end
  return "[" .. host .. "]:" .. port
end

-- Whether the hosts field of a line names name; nil for a hashed field that is bad.
local function names(hosts, name, hmac_sha1)
  if hosts:byte(1) ~= 124 then return syntax.match_list(name:lower(), hosts, true) == 1 end
  local salt64, hash64 = hosts:match("^|1|([^|]+)|([^|]+)$")
  local salt = salt64 and known_hosts.base64_decode(salt64)
  local hash = hash64 and known_hosts.base64_decode(hash64)
  if not salt or #salt ~= 20 or not hash or #hash ~= 20 then return nil end
  if not hmac_sha1 then error("known_hosts: hashed entries need an hmac_sha1 function", 3) end
  return hmac_sha1(salt, name) == hash
end

-- The key of a line after its hosts field: its type, its blob; nil if it cannot be read.
local function key_of(rest)
  local name, text = rest:match("^[ \t]*([^ \t]+)[ \t]+([^ \t]+)")
  local kind = name and known_hosts.key_types[name]
  local blob = kind and known_hosts.base64_decode(text)
  if not blob or #blob < 4 then return nil end
  local len = string.unpack(">I4", blob)
  if known_hosts.key_types[blob:sub(5, 4 + len)] ~= kind then return nil end
  return kind, blob
end

-- An entry of a line if it names name: {marker =, type =, blob =}; nil otherwise.
local function entry_of(line, name, hmac_sha1)
  local rest, marker = line:match("^[ \t]*(.*)$"), nil
  local first = rest:byte(1)
  if not first or first == 35 then return nil end
  if first == 64 then
    marker, rest = rest:match("^@([^ \t]+)[ \t]+(.*)$")
    if marker ~= "revoked" and marker ~= "cert-authority" then return nil end
  end
  local hosts, after = rest:match("^([^ \t]+)(.*)$")
  if not hosts or not names(hosts, name, hmac_sha1) then return nil end
  local kind, blob = key_of(after)
  if not kind then return nil end
  return { marker = marker, type = kind, blob = blob }
end

--- The entries of files (a list of paths; missing ones are skipped, as ssh skips them)
--- that name name (see known_hosts.name), in order: a list of {file =, line =,
--- where = "file:line", marker = nil|"revoked"|"cert-authority", type =, blob =}.
--- hmac_sha1(key, message) -> raw 20 bytes is needed when a file has hashed names.
function known_hosts.find(files, name, hmac_sha1)
  local found = {}
  for _, file in ipairs(files) do
    local f = io.open(file, "rb")
    if f then
      local n = 0
      for line in f:lines() do
        n = n + 1
        local e = entry_of(line, name, hmac_sha1)
        if e then
          e.file, e.line, e.where = file, n, file .. ":" .. n
          found[#found + 1] = e
        end
      end
      f:close()
    end
  end
  return found
end

-- The verdict of the entries naming name for one key, as check_host_key gives it.
local function verdict(entries, kind, blob)
  for _, e in ipairs(entries) do
    if e.marker == "revoked" and e.blob == blob then
      return "revoked", e.where, "the key is marked @revoked at " .. e.where
    end
  end
  local status, where, detail = "unknown", nil, nil
  for _, e in ipairs(entries) do
    if not e.marker then
      if e.type == kind and e.blob == blob then return "match", e.where, nil end
      status, where = "changed", e.where
      detail = "a different " .. e.type .. " key is known at " .. e.where
    end
  end
  return status, where, detail
end

--- Check a server's host key: key_type is its type name (see known_hosts.key_types),
--- key_base64 its blob in base64. Returns "match" | "changed" | "revoked" | "unknown",
--- the "file:line" of the entry that decided (nil when unknown), and a detail for the
--- message. hmac_sha1(key, message) -> raw 20-byte digest, for hashed entries.
function known_hosts.lookup(files, host, port, key_type, key_base64, hmac_sha1)
  local kind = known_hosts.key_types[key_type]
  local blob = known_hosts.base64_decode(key_base64)
  if not kind or not blob then error("known_hosts.lookup: not a key: " .. tostring(key_type), 2) end
  local name = known_hosts.name(host, port)
  local status, where, detail = verdict(known_hosts.find(files, name, hmac_sha1), kind, blob)
  if status == "unknown" and name ~= host then
    local bare, bare_where = verdict(known_hosts.find(files, host, hmac_sha1), kind, blob)
    if bare == "match" then
      return "match", bare_where, "known for " .. host .. " without the port, as ssh accepts it"
    end
  end
  if status == "unknown" then detail = "no key is known for " .. name end
  return status, where, detail
end

--- The key types known for a host (first known first), so that joe can ask the server
--- for them first, as ssh does.
function known_hosts.types(files, host, port, hmac_sha1)
  local types, seen = {}, {}
  for _, e in ipairs(known_hosts.find(files, known_hosts.name(host, port), hmac_sha1)) do
    if not e.marker and not seen[e.type] then
      types[#types + 1], seen[e.type] = e.type, true
    end
  end
  return types
end

--- The known_hosts line for a host's key, without a newline, as ssh writes it: the name
--- (see known_hosts.name), hashed when hmac_sha1 is given (salt: 20 bytes, default from
--- /dev/urandom), then the key type and base64.
function known_hosts.entry(host, port, key_type, key_base64, hmac_sha1, salt)
  local name = known_hosts.name(host, port)
  if hmac_sha1 then
    if not salt then
      local random = assert(io.open("/dev/urandom", "rb"))
      salt = random:read(20)
      random:close()
    end
    name = "|1|" .. known_hosts.base64_encode(salt) .. "|"
      .. known_hosts.base64_encode(hmac_sha1(salt, name))
  end
  return name .. " " .. key_type .. " " .. key_base64
end

return known_hosts
