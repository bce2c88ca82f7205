-- ssh_config(5) read the way OpenSSH 9.2 reads it (readconf.c, ssh.c), for the settings
-- joe's SSH transport honours. Decisions, where joe differs or had to choose:
-- - Files: opts.file is `ssh -F`: only it is read, and it must exist ("none" reads
--   nothing). Without it, ~/.ssh/config (may be missing; must not be group or world
--   writable) then /etc/ssh/ssh_config (opts.system_file; "none" skips it), as ssh does.
-- - Every keyword OpenSSH knows is accepted; those joe does not use are ignored without
--   a word. An unknown keyword is an error, as in OpenSSH, unless IgnoreUnknown lists it.
--   The values of the keywords joe reads are checked in every block, active or not, as
--   OpenSSH checks them. The first error ends the reading (OpenSSH counts them all).
-- - Match: host, originalhost, user, localuser, tagged (Tag), exec, all, canonical and
--   final as OpenSSH has them; `final`, or CanonicalizeHostname yes|always, makes the
--   second pass, where Host and Match host see the HostName. joe resolves no names, so
--   `canonical` only says "second pass". localnetwork, version, command and sessiontype
--   are errors that say joe cannot evaluate them. `exec` runs `$SHELL -c` (stdin and
--   stdout /dev/null) only where its line can still match, and never in an Include read
--   from an inactive block (OpenSSH runs it there and discards the result).
-- - Tokens: %C is not supported (unknown-token error); %d and ~ are opts.home, else the
--   passwd home of the uid (OpenSSH ignores $HOME too). File owners are not checked,
--   only the mode bits. Port takes numbers only (OpenSSH also takes service names).
local fs = require("cijoe.fs")
local resolve = require("cijoe.ssh_resolve")
local keywords = require("cijoe.ssh_keywords")
local syntax = require("cijoe.ssh_syntax")

local ssh_config = {}

local byte = string.byte
local one_arg, words, known = keywords.one_arg, keywords.words, keywords.known
local MAX_DEPTH = 16

-- "file:line" of the line being read, made only when it is kept.
local function here(ctx)
  return ctx.file .. ":" .. ctx.line
end

-- Set a field the first time an active block gives it: OpenSSH's first value wins.
local function set(ctx, field, value)
  if ctx.active and ctx.o[field] == nil then
    ctx.o[field], ctx.where[field] = value, here(ctx)
  end
end

local handlers = {}

-- IdentityFile: every active one counts, in order, a repeated one once.
function handlers.identityfile(ctx, rest)
  local file, err = one_arg(rest)
  if not file then return err end
  if not ctx.active then return end
  local list, where = ctx.o.identity_files, ctx.where.identity_files
  for _, seen in ipairs(list) do
    if seen == file then return end
  end
  list[#list + 1], where[#where + 1] = file, here(ctx)
end
handlers.identityfile2 = handlers.identityfile

-- UserKnownHostsFile and GlobalKnownHostsFile: the first active line, all its files. A
-- line with none (only a comment) sets nothing, as in OpenSSH: a later line still may.
local function known_hosts_files(field)
  return function(ctx, rest)
    local files, err = syntax.split(rest)
    if not files then return err end
    if #files == 0 then return end
    for i, file in ipairs(files) do
      if file == "" then return "empty argument" end
      if file:lower() == "none" and (i > 1 or files[2]) then
        return "\"none\" must appear alone"
      end
    end
    set(ctx, field, files)
  end
end
handlers.userknownhostsfile = known_hosts_files("user_known_hosts_files")
handlers.globalknownhostsfile = known_hosts_files("global_known_hosts_files")

-- ProxyCommand: the rest of the line as written; a ProxyJump before it wins.
function handlers.proxycommand(ctx, rest)
  set(ctx, "proxy_command", (rest:gsub("^[ \t=]+", "")))
end

-- ProxyJump: checked always; set unless a ProxyCommand or ProxyJump came first.
function handlers.proxyjump(ctx, rest)
  local spec = rest:gsub("^[ \t=]+", ""):gsub("#.*", ""):gsub("[ \t]+$", "")
  local hops, err = keywords.parse_jump(spec)
  if not hops then return "invalid ProxyJump: " .. err end
  if ctx.o.proxy_command == nil and ctx.o.proxy_jump == nil then
    set(ctx, "proxy_jump", spec)
    if #hops > 0 and ctx.active then ctx.o.proxy_command = "none" end
  end
end

-- Host: the block applies when a pattern matches and no negated one does.
function handlers.host(ctx, rest)
  ctx.active = false
  if ctx.never then return end
  -- Most Host lines of a big config are plain names, none this one: that is quick to see.
  if not rest:find("[*?\"'\\]") and not rest:find(ctx.host, 1, true) then return end
  local patterns, err = syntax.split(rest)
  if not patterns then return err end
  local active = false
  for _, pattern in ipairs(patterns) do
    if pattern == "" then return "empty argument" end
    local negated = pattern:sub(1, 1) == "!"
    if syntax.match(ctx.host, negated and pattern:sub(2) or pattern) then
      if negated then active = false; break end
      active = true
    end
  end
  ctx.active = active
end

local read_file

-- Include: each glob pattern's files, in order, read in the including block's state.
function handlers.include(ctx, rest, depth)
  local patterns, err = syntax.split(rest)
  if not patterns then return err end
  for _, pattern in ipairs(patterns) do
    if pattern == "" then return "empty argument" end
    if pattern:sub(1, 1) == "~" and not ctx.user_conf then
      return "bad include path " .. pattern .. " (~ is for user configs only)"
    end
    if pattern:sub(1, 1) ~= "/" and pattern:sub(1, 1) ~= "~" then
      pattern = (ctx.user_conf and "~/.ssh/" or "/etc/ssh/") .. pattern
    end
    local path, terr = syntax.tilde(pattern, ctx.home)
    if not path then return terr end
    local active, never = ctx.active, ctx.never
    for _, file in ipairs(syntax.glob(path)) do
      if depth >= MAX_DEPTH then return "too many nested Includes (" .. MAX_DEPTH .. ")" end
      ctx.never = never or not active
      local outer = ctx.file
      local ok, ferr = read_file(ctx, file, depth + 1, true)
      ctx.active, ctx.never, ctx.file = active, never, outer
      if ok == nil then return ferr, true end
    end
  end
end

handlers.match = resolve.match

-- Keywords lowercased: a table is quicker than string.lower on every line.
local lower = setmetatable({}, { __index = function(t, keyword)
  return syntax.remember(t, keyword, keyword:lower())
end })

-- One line (its keyword, and the rest); returns a message when it is wrong.
local function process(ctx, keyword, rest, depth)
  local last = byte(rest, -1)
  if last == 32 or last == 9 or last == 13 or last == 12 then
    rest = rest:gsub("[ \t\r\f]+$", "")
  end
  if rest == "" then return "no argument after keyword \"" .. keyword .. "\"" end
  local name = lower[keyword]
  local word = words[name]
  if word then
    local value, err = keywords.value(name, word[2], rest)
    if value == nil then return err end
    if ctx.active then set(ctx, word[1], value) end
    return
  end
  if handlers[name] then return handlers[name](ctx, rest, depth) end
  local ignored = ctx.o.ignore_unknown
  if not known[name] and not (ignored and syntax.match_list(name, ignored, true) == 1) then
    return "unknown keyword \"" .. keyword .. "\" (OpenSSH refuses it too; if it is "
      .. "for a newer OpenSSH, name it in an IgnoreUnknown line above)"
  end
  if rest:find("[\"']") and not syntax.split(rest) then return "invalid quotes" end
end

-- A line's keyword (up to a space, tab, = or quote) and the rest after one = at most.
local LINE = "[ \t\r]*([^ \t\r\n\"=]*)[ \t\r]*=?[ \t\r]*([^\n]*)\n"

-- Read one file; true, or false when it does not exist, or nil and "file:line: message".
function read_file(ctx, path, depth, check_mode)
  local f = io.open(path, "rb")
  if not f then return false end
  local text = f:read("a") or ""
  f:close()
  local st = check_mode and fs.stat(path)
  if st and st.mode & 18 ~= 0 then
    return nil, path .. ": bad permissions: group or others may write it (chmod go-w)"
  end
  if text:byte(-1) ~= 10 then text = text .. "\n" end
  ctx.file = path
  local n = 0
  for keyword, rest in text:gmatch(LINE) do
    n = n + 1
    local first = byte(keyword, 1)
    if first and first ~= 35 then
      ctx.line = n
      local err, prefixed = process(ctx, keyword, rest, depth)
      if err then return nil, prefixed and err or path .. ":" .. n .. ": " .. err end
    end
  end
  return true
end

-- The files `ssh` would read for these options: {path, user config?, must exist?}.
local function config_files(opts, home)
  local files = {}
  if opts.file and opts.file ~= "none" then
    files[1] = { opts.file, true, true }
  elseif not opts.file then
    files[1] = { home .. "/.ssh/config", true, false, true }
  end
  local system = opts.system_file or (not opts.file and "/etc/ssh/ssh_config")
  if system and system ~= "none" then files[#files + 1] = { system, false, false } end
  return files
end

-- One pass over the files (OpenSSH makes a second one for Match final).
local function pass(ctx, files)
  for _, file in ipairs(files) do
    ctx.active, ctx.never, ctx.user_conf = true, false, file[2]
    local ok, err = read_file(ctx, file[1], 0, file[4])
    if ok == nil then return nil, err end
    if ok == false and file[3] then return nil, file[1] .. ": cannot open it" end
  end
  return true
end

--- What OpenSSH's client would use to connect to alias, or nil, "file:line: message".
--- {hostname, user, port (defaults: alias with HostName's %h, the local user, 22);
--- identity_files (expanded; {} when none is named: add OpenSSH's defaults, unless
--- identity_files_none says "IdentityFile none"); user_known_hosts_files and
--- global_known_hosts_files (expanded, OpenSSH's defaults when not set, {} for none);
--- identities_only, hash_known_hosts (false when not set); strict_host_key_checking
--- ("yes" | "no" | "off" | "ask" | "accept-new"; true and false read as yes and no),
--- connect_timeout, server_alive_interval, server_alive_count_max (seconds, count),
--- proxy_jump (as written), proxy_command (tokens expanded, without "exec "),
--- host_key_alias: nil when not set; where = {field = "file:line"}, identity_files a list}.
--- opts: file, system_file, user, port, hostname (they win over the files, as -l, -p
--- and -o do), home, local_user, tag (as ssh -P).
function ssh_config.resolve(alias, opts)
  opts = opts or {}
  local ctx = resolve.context(alias, opts)
  local port = ctx.o.port
  if opts.port and not (port and port >= 1 and port <= 65535) then
    return nil, "port " .. tostring(opts.port) .. " is not a number from 1 to 65535"
  end
  local files = config_files(opts, ctx.home)
  local ok, err = pass(ctx, files)
  if ok and (ctx.want_final or ctx.o.canonicalize_hostname) then
    ok, err = resolve.hostname(ctx)
    ctx.o.hostname, ctx.host, ctx.final = ok, ok, true
    if ok then ok, err = pass(ctx, files) end
  end
  if not ok then return nil, err end
  return resolve.result(ctx)
end

--- The hops of a ProxyJump value: a list of {user =, host =, port =} ({} for "none"),
--- or nil and what is wrong (see cijoe.ssh_keywords.parse_jump).
ssh_config.parse_jump = keywords.parse_jump

return ssh_config
