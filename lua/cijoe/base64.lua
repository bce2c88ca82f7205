-- Base64 (RFC 4648, with padding) for host keys and their fingerprints, and the salts and
-- hashes of hashed known_hosts entries.
local base64 = {}

local ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local VALUE = {}
for i = 1, 64 do VALUE[ALPHABET:byte(i)] = i - 1 end

--- The base64 text of a string of bytes, with "=" padding.
function base64.encode(bytes)
  local out = {}
  for i = 1, #bytes, 3 do
    local a, b, c = bytes:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local chars = {}
    for k = 1, 4 do
      local v = (n >> (24 - 6 * k)) & 63
      chars[k] = ALPHABET:sub(v + 1, v + 1)
    end
    if not b then chars[3] = "=" end
    if not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

--- The bytes of a base64 text (padding optional), or nil when it is not base64.
function base64.decode(text)
  text = text:gsub("=+$", "")
  if text:find("[^%w+/]") or #text % 4 == 1 then return nil end
  local out = {}
  for i = 1, #text, 4 do
    local n, k = 0, 0
    for j = i, math.min(i + 3, #text) do
      n, k = (n << 6) | VALUE[text:byte(j)], k + 1
    end
    n = n << (6 * (4 - k))
    local bytes = string.char((n >> 16) & 255, (n >> 8) & 255, n & 255)
    out[#out + 1] = bytes:sub(1, k - 1)
  end
  return table.concat(out)
end

return base64
