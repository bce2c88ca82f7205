-- known_hosts files as OpenSSH writes them (a first, plain-entry reader: lines it cannot
-- read are skipped, never the end of the file).
local known_hosts = {}

-- The name a host has in known_hosts: the bare name for port 22, else [host]:port.
local function host_name(host, port)
  if not port or port == 22 then return host end
  return "[" .. host .. "]:" .. port
end

--- Look host:port's key up in files: "match", "changed" (the host has another key of
--- this type), or "unknown"; and where ("file:line") the entry was found.
function known_hosts.lookup(files, host, port, key_type, key_base64)
  local name, changed = host_name(host, port), nil
  for _, file in ipairs(files) do
    local f = io.open(file, "rb")
    local n = 0
    for line in f and f:lines() or function() end do
      n = n + 1
      local hosts, t, k = line:match("^%s*([^%s#@][^%s]*)%s+(%S+)%s+(%S+)")
      local listed = false
      for h in (hosts or ""):gmatch("[^,]+") do listed = listed or h == name end
      if listed and t == key_type then
        if k == key_base64 then f:close() return "match", file .. ":" .. n end
        changed = changed or file .. ":" .. n
      end
    end
    if f then f:close() end
  end
  if changed then return "changed", changed end
  return "unknown"
end

--- The line to append for host:port's key.
function known_hosts.entry(host, port, key_type, key_base64)
  return host_name(host, port) .. " " .. key_type .. " " .. key_base64
end

return known_hosts
