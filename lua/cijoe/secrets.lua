-- Secrets: what a config holds under a key that names one (pass, pwd, secret, token and
-- credential anywhere in the name; a word, split at _ - ., that ends with "key" or starts
-- with "auth"; and the names listed in cijoe.secrets), masked wherever joe writes
-- or prints the config, and wherever such a value shows in a command line it logs.
-- Keys that name a file (…_file, …_filename, …_path, …_dir) hold where a secret is,
-- not the secret, and are shown.
local secrets = { MASK = "********" }

local ANYWHERE = { "pass", "pwd", "secret", "token", "credential" }

-- The extra names of cijoe.secrets in conf, lower case, as a set.
local function listed(conf)
  local set = {}
  local c = type(conf) == "table" and type(conf.cijoe) == "table" and conf.cijoe.secrets
  for _, name in ipairs(type(c) == "table" and c or {}) do set[tostring(name):lower()] = true end
  return set
end

-- True when a key's name says its value is a secret.
local function names_secret(key, extra)
  if type(key) ~= "string" then return false end
  local k = key:lower()
  if extra[k] then return true end
  if k:find("_file$") or k:find("_filename$") or k:find("_path$") or k:find("_dir$") then
    return false
  end
  for _, part in ipairs(ANYWHERE) do
    if k:find(part, 1, true) then return true end
  end
  for word in k:gmatch("[^_.%-]+") do
    if word:sub(-3) == "key" or word:sub(1, 4) == "auth" then return true end
  end
  return false
end

-- A copy of v with every value at or below a secret key masked; the values masked go
-- into found.
local function mask(v, secret, extra, found)
  if type(v) ~= "table" then
    if secret and v ~= nil then
      -- a number too (a PIN, a numeric password) is text in a command line; values under
      -- 3 characters are masked in the config only: masking "ab" in every log would hide
      -- the logs, not the secret
      local text = (type(v) == "string" or type(v) == "number") and tostring(v) or nil
      if text and #text >= 3 then found[#found + 1] = text end
      return secrets.MASK
    end
    return v
  end
  local out = {}
  for k, x in pairs(v) do out[k] = mask(x, secret or names_secret(k, extra), extra, found) end
  return out
end

--- A copy of the config with its secrets masked, and the list of the secret values.
function secrets.masked(conf)
  local found = {}
  local copy = mask(conf, false, listed(conf), found)
  table.sort(found, function(a, b) return #a > #b end) -- the longest first, when masking text
  return copy, found
end

--- True when a variable or key name (API_KEY, DB_PWD) says its value is a secret.
function secrets.is_secret_name(name, conf)
  return names_secret(name, listed(conf))
end

--- text with every value of the list replaced by the mask.
function secrets.hide(text, values)
  if type(text) ~= "string" then return text end
  for _, value in ipairs(values) do
    local at = text:find(value, 1, true)
    while at do
      text = text:sub(1, at - 1) .. secrets.MASK .. text:sub(at + #value)
      at = text:find(value, at + #secrets.MASK, true)
    end
  end
  return text
end

return secrets
