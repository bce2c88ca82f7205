-- The small syntaxes OpenSSH's files share, read the way OpenSSH reads them (misc.c and
-- match.c of OpenSSH 9.2 are the reference): wildcard patterns and pattern lists, the
-- quoted arguments of ssh_config, %-tokens and ${VAR}, ~ in paths, glob(3) for Include.
-- cijoe.ssh_config and cijoe.known_hosts are built on it.
local fs = require("cijoe.fs")

local syntax = {}

-- The number of entries of each cache that syntax.remember keeps.
local sizes = setmetatable({}, { __mode = "k" })

--- Remember value under key in cache (a table from strings to what they gave) and return
--- it; a cache that reaches 1024 entries is emptied first, so that no input, however
--- odd, grows one without end.
function syntax.remember(cache, key, value)
  local n = (sizes[cache] or 0) + 1
  if n > 1024 then
    for k in pairs(cache) do cache[k] = nil end
    n = 1
  end
  sizes[cache], cache[key] = n, value
  return value
end

-- Whether each pattern has a wildcard, by pattern: configs repeat a few patterns.
local wild = {}

-- s against a pattern with wildcards, without backtracking beyond the last `*` seen (the
-- usual linear glob match): Lua's own patterns take exponential time on "a*a*a*a*...b".
local function match_wild(s, p)
  local si, pi, star, mark = 1, 1, nil, 1
  local byte = string.byte
  while si <= #s do
    local c = byte(p, pi)
    if c == 42 then
      star, mark, pi = pi, si, pi + 1
    elseif c and (c == 63 or c == byte(s, si)) then
      si, pi = si + 1, pi + 1
    elseif star then
      mark = mark + 1
      si, pi = mark, star + 1
    else
      return false
    end
  end
  while byte(p, pi) == 42 do pi = pi + 1 end
  return pi > #p
end

--- Whether s matches an OpenSSH wildcard pattern: `*` any run of characters, `?` one
--- character, every other character itself (case matters).
function syntax.match(s, pattern)
  local has_wild = wild[pattern]
  if has_wild == nil then
    has_wild = syntax.remember(wild, pattern, pattern:find("[*?]") ~= nil)
  end
  if not has_wild then return s == pattern end
  return match_wild(s, pattern)
end

--- Match s against a comma-separated pattern list whose patterns may start with `!`:
--- 1 when a pattern matched, -1 when a negated one did (that wins), 0 otherwise.
--- With lower, the patterns are lowercased first (s is taken as given).
function syntax.match_list(s, list, lower)
  local result = 0
  for negated, pattern in list:gmatch("(!?)([^,]*)") do
    if lower then pattern = pattern:lower() end
    if syntax.match(s, pattern) then
      if negated == "!" then return -1 end
      result = 1
    end
  end
  return result
end

-- What ends a run of plain characters in an argument: outside quotes, inside "..."
-- and inside '...'.
local STOPS = { [""] = "[ \t\"'\\]", ['"'] = '["\\]', ["'"] = "['\\]" }

-- Split one argument with quotes or escapes; returns it and the index after it, or nil
-- when a quote is not closed. Runs of plain characters are copied whole (this is hot).
local function split_quoted(s, i)
  local out, quote = {}, ""
  while true do
    local j = s:find(STOPS[quote], i)
    out[#out + 1] = s:sub(i, (j or 0) - 1)
    if not j then
      if quote ~= "" then return nil end
      return table.concat(out), #s + 1
    end
    local c, next_c = s:sub(j, j), s:sub(j + 1, j + 1)
    i = j + 1
    if c == "\\" then
      local escaped = next_c == "'" or next_c == '"' or next_c == "\\"
        or (quote == "" and next_c == " ")
      out[#out + 1] = escaped and next_c or c
      if escaped then i = j + 2 end
    elseif c == " " or c == "\t" then
      return table.concat(out), j
    else
      quote = quote == "" and c or ""
    end
  end
end

-- syntax.split without the cache.
local function split_uncached(s)
  local args, special = {}, s:find("[\"'\\#]")
  if special and s:byte(special) == 35 and not s:find("[\"'\\]", special)
      and (special == 1 or s:find("^[ \t]", special - 1)) then
    s, special = s:sub(1, special - 1), nil
  end
  if not special then
    for arg in s:gmatch("[^ \t]+") do args[#args + 1] = arg end
    return args
  end
  local i = 1
  while true do
    i = s:find("[^ \t]", i)
    if not i or s:sub(i, i) == "#" then return args end
    local arg
    arg, i = split_quoted(s, i)
    if not arg then return nil, "invalid quotes" end
    args[#args + 1] = arg
  end
end

-- Lists syntax.split made, by line: configs repeat lines. Callers must not change them.
local split_cache = {}

--- The arguments of an ssh_config line as OpenSSH's argv_split makes them: split at
--- spaces and tabs, "double" or 'single' quotes group, \" \' \\ and "\ " escape, a `#`
--- starting an argument ends the line. Returns the list, or nil, "invalid quotes".
function syntax.split(s)
  local args = split_cache[s]
  if args then return args end
  args = split_uncached(s)
  if args then syntax.remember(split_cache, s, args) end
  return args, "invalid quotes"
end

-- The value of ${NAME} at the start of s (after the $), and the length consumed.
local function env_value(s)
  local name = s:match("^{([^}]*)}")
  if not name then return nil, "no closing } after ${" end
  if name == "" then return nil, "empty variable name in ${}" end
  local value = os.getenv(name)
  if not value then return nil, "environment variable " .. name .. " is not set" end
  return value, #name + 2
end

--- Expand %x tokens from tokens (a table letter -> string; %% is %) and, with dollar,
--- ${NAME} from the environment. Returns the string, or nil and what is wrong.
function syntax.expand(s, tokens, dollar)
  local out, i = {}, 1
  while true do
    local at = s:find(dollar and "[%%$]" or "%%", i)
    if not at then break end
    out[#out + 1] = s:sub(i, at - 1)
    local c = s:sub(at + 1, at + 1)
    if s:sub(at, at) == "$" then
      if c == "{" then
        local value, len = env_value(s:sub(at + 1))
        if not value then return nil, len end
        out[#out + 1], i = value, at + 1 + len
      else
        out[#out + 1], i = "$", at + 1
      end
    elseif c == "" then
      return nil, "a lone % at the end (write %% for a %)"
    else
      local value = c == "%" and "%" or tokens[c]
      if not value then return nil, "unknown token %" .. c end
      out[#out + 1], i = value, at + 2
    end
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

--- Quote for sh.
function syntax.quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- The home folder of a user from /etc/passwd, or nil.
function syntax.home_of(user)
  for line in io.lines("/etc/passwd") do
    local name, dir = line:match("^([^:]*):[^:]*:[^:]*:[^:]*:[^:]*:([^:]*)")
    if name == user then return dir end
  end
end

--- Expand a leading ~ or ~user as OpenSSH's tilde_expand does ("~" is home/);
--- returns the path, or nil and a message for an unknown user.
function syntax.tilde(path, home)
  if path:sub(1, 1) ~= "~" then return path end
  local user, rest = path:match("^~([^/]*)/*(.*)$")
  local dir = home
  if user ~= "" then
    dir = syntax.home_of(user)
    if not dir then return nil, "no such user '" .. user .. "' in '" .. path .. "'" end
  end
  return (dir:gsub("/$", "")) .. "/" .. rest
end

-- The Lua set for a glob(3) bracket expression starting at i ("[" there), and the index
-- after it; nil when the bracket is not closed (then "[" is itself).
local function glob_set(component, i)
  local j = i + 1
  local negate = component:sub(j, j) == "!" or component:sub(j, j) == "^"
  if negate then j = j + 1 end
  local close = component:find("]", component:sub(j, j) == "]" and j + 1 or j, true)
  if not close then return nil end
  local body = component:sub(j, close - 1):gsub("[%%%]%^]", "%%%0")
  return "[" .. (negate and "^" or "") .. body .. "]", close + 1
end

-- A Lua pattern for one glob(3) path component: * ? [set] [!set], \ quotes.
local function glob_pattern(component)
  local out, i = { "^" }, 1
  while i <= #component do
    local c = component:sub(i, i)
    local set, after = nil, nil
    if c == "[" then set, after = glob_set(component, i) end
    if set then
      out[#out + 1], i = set, after
    else
      if c == "*" or c == "?" then
        c = c == "?" and "." or out[#out] == ".*" and "" or ".*" -- "**" is "*", not ".*.*"
      else
        if c == "\\" and i < #component then i = i + 1 end
        c = component:sub(i, i):gsub("%W", "%%%0")
      end
      out[#out + 1], i = c, i + 1
    end
  end
  return table.concat(out) .. "$"
end

--- The paths an absolute glob(3) pattern matches, sorted bytewise as glob sorts them
--- in the C locale; a leading dot must be matched by a dot, as glob wants.
function syntax.glob(pattern)
  local paths = { "" }
  for component in pattern:gmatch("[^/]+") do
    local next_paths = {}
    if not component:find("[%*%?%[\\]") then
      for _, p in ipairs(paths) do next_paths[#next_paths + 1] = p .. "/" .. component end
    else
      local lua = glob_pattern(component)
      for _, p in ipairs(paths) do
        for _, name in ipairs(fs.dir(p == "" and "/" or p) or {}) do
          if name:find(lua) and (name:sub(1, 1) ~= "." or component:sub(1, 1) == ".") then
            next_paths[#next_paths + 1] = p .. "/" .. name
          end
        end
      end
    end
    paths = next_paths
  end
  local found = {}
  for _, p in ipairs(paths) do
    if fs.stat(p) then found[#found + 1] = p end
  end
  table.sort(found)
  return found
end

return syntax
