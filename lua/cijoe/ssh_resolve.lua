-- The values an ssh_config gives once read: Match criteria, %-tokens, the HostName and
-- the result table of cijoe.ssh_config.resolve. cijoe.ssh_config reads the lines and
-- calls this; the decisions are written at the top of ssh_config.lua.
local syntax = require("cijoe.ssh_syntax")

local resolve = {}

-- Facts of this machine and process, read once and only when a token needs them.
local facts = {}

-- The first line of a file, or nil.
local function first_line(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local line = f:read("l")
  f:close()
  return line
end

-- The real uid of this process, its user name and home (OpenSSH uses getpwuid's).
local function account()
  if not facts.uid then
    local status = io.open("/proc/self/status", "rb")
    local text = status and status:read("a") or ""
    if status then status:close() end
    facts.uid = text:match("\nUid:%s*(%d+)") or "0"
    for line in io.lines("/etc/passwd") do
      local name, uid, dir = line:match("^([^:]*):[^:]*:(%d+):[^:]*:[^:]*:([^:]*)")
      if uid == facts.uid then facts.user, facts.home = name, dir; break end
    end
  end
  return facts.user or os.getenv("USER"), facts.home or os.getenv("HOME")
end

-- %l %L %i: this host's name, its first label, the uid.
local LOCAL = { __index = function(_, token)
  if token == "l" or token == "L" then
    facts.host = facts.host or first_line("/proc/sys/kernel/hostname") or "localhost"
    return token == "l" and facts.host or facts.host:match("^[^.]*")
  elseif token == "i" then
    account()
    return facts.uid
  end
end }

-- The tokens of IdentityFile, UserKnownHostsFile and Match exec for a host name; %k is
-- HostKeyAlias, else the alias (Match exec: else the host), as in OpenSSH 9.2.
local function tokens(ctx, host, key_alias)
  return setmetatable({ d = ctx.home, h = host, k = ctx.o.host_key_alias or key_alias,
    n = ctx.alias, p = tostring(ctx.o.port or 22), r = ctx.o.user or ctx.local_user,
    u = ctx.local_user }, LOCAL)
end

--- The state of one resolve: the alias, what the caller set (it wins), who runs joe.
function resolve.context(alias, opts)
  local user, home = account()
  local o = { user = opts.user, port = opts.port and math.tointeger(tonumber(opts.port) or 0),
    hostname = opts.hostname, tag = opts.tag, identity_files = {} }
  return { alias = alias, host = alias, o = o, where = { identity_files = {} },
    home = opts.home or home, local_user = opts.local_user or user }
end

--- The host name to connect to: HostName with %h (the alias) expanded, lowercased
--- unless it is an address (as ssh.c does); or nil and a message.
function resolve.hostname(ctx)
  if ctx.final then return ctx.o.hostname end
  local host, err = ctx.alias, nil
  if ctx.o.hostname then
    host, err = syntax.expand(ctx.o.hostname, { h = ctx.alias })
    if not host then
      return nil, (ctx.where.hostname or "-o") .. ": HostName " .. ctx.o.hostname .. ": " .. err
    end
  end
  if host:find("^%d+%.%d+%.%d+%.%d+$") or host:find(":") then return host end
  return host:lower()
end

-- Why joe cannot evaluate these Match criteria.
local UNSUPPORTED = { localnetwork = "it would need this machine's interface addresses",
  version = "joe is not OpenSSH", command = "joe resolves a host before any command",
  sessiontype = "joe resolves a host before any session" }

-- Run a Match exec command as OpenSSH does: true when it exits 0.
local function exec(ctx, arg)
  local host, err = resolve.hostname(ctx)
  if not host then return nil, err end
  local cmd, xerr = syntax.expand(arg, tokens(ctx, host, host))
  if not cmd then return nil, "Match exec " .. arg .. ": " .. xerr end
  local shell = os.getenv("SHELL") or "/bin/sh"
  return os.execute(syntax.quote(shell) .. " -c " .. syntax.quote(cmd) .. " </dev/null >/dev/null")
    == true
end

-- One criterion with its argument: true or false, or nil and a message.
local function criterion(ctx, name, arg, matched_so_far, negate)
  if name == "host" then
    local host, err = resolve.hostname(ctx)
    if not host then return nil, err end
    return syntax.match_list(host:lower(), arg, true) == 1
  elseif name == "originalhost" then
    return syntax.match_list(ctx.alias:lower(), arg, true) == 1
  elseif name == "user" or name == "localuser" then
    local user = name == "user" and ctx.o.user or ctx.local_user
    return syntax.match_list(user, arg, false) == 1
  elseif name == "tagged" then
    local tag = ctx.o.tag or ""
    return tag == "" and arg == "" or tag ~= "" and syntax.match_list(tag, arg, false) == 1
  elseif name == "exec" then
    if not matched_so_far or ctx.never then return not negate end
    return exec(ctx, arg)
  elseif UNSUPPORTED[name] then
    return nil, "Match " .. name .. " is not supported by joe: " .. UNSUPPORTED[name]
  end
  return nil, "unsupported Match attribute " .. name
end

-- The criterion of a Match line at args[i] (with its argument, "name arg" or
-- "name=arg"): whether it holds and the index after it, or nil and a message.
local function match_one(ctx, args, i, result)
  local negate, name, arg = args[i]:match("^(!?)([^=]*)=?(.*)$")
  negate, name = negate == "!", name:lower()
  if not args[i]:find("=", 1, true) then arg = nil end
  i = i + 1
  if name == "canonical" or name == "final" then
    if name == "final" and not negate then ctx.want_final = true end
    return (ctx.final == true) ~= negate, i
  end
  if not arg then arg, i = args[i], i + 1 end
  if not arg or (arg == "" and name ~= "tagged") then
    return nil, "missing Match criteria for " .. name
  end
  local matched, err = criterion(ctx, name, arg, result, negate)
  if matched == nil then return nil, err end
  return matched ~= negate, i
end

--- The Match keyword: evaluate the criteria (all must hold) and set the block's state;
--- returns a message when the line is wrong.
function resolve.match(ctx, rest)
  local args, err = syntax.split(rest)
  if not args then return err end
  local result, count, i = true, 0, 1
  while args[i] do
    if args[i]:lower():find("^!?all$") then
      if count > 1 or args[i + 1] then return "'all' cannot be combined with other criteria" end
      result, count = result and args[i]:sub(1, 1) ~= "!", count + 1
      break
    end
    local holds
    holds, i = match_one(ctx, args, i, result)
    if holds == nil then return i end
    result, count = result and holds, count + 1
  end
  if count == 0 then return "one or more attributes required for Match" end
  ctx.active = result and not ctx.never
end

local GLOBAL_KNOWN_HOSTS = { "/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2" }

-- Expand ~ then tokens and ${VAR} in a path of the config; nil and "file:line: ..."
local function path(raw, t, ctx, at, keyword)
  local p, err = syntax.tilde(raw, ctx.home)
  if p then p, err = syntax.expand(p, t, true) end
  if not p then return nil, (at or "-o") .. ": " .. keyword .. " " .. raw .. ": " .. err end
  return p
end

-- The IdentityFile and UserKnownHostsFile paths, expanded ("none" dropped).
local function paths(ctx, r, t)
  local o, where = ctx.o, ctx.where
  for i, raw in ipairs(o.identity_files) do
    if raw:lower() ~= "none" then
      local p, err = path(raw, t, ctx, where.identity_files[i], "IdentityFile")
      if not p then return nil, err end
      r.identity_files[#r.identity_files + 1] = p
    end
  end
  r.identity_files_none = #o.identity_files > 0 and #r.identity_files == 0
  local known = o.user_known_hosts_files or { "~/.ssh/known_hosts", "~/.ssh/known_hosts2" }
  if known[1]:lower() == "none" then known = {} end
  for _, raw in ipairs(known) do
    local p, err = path(raw, t, ctx, where.user_known_hosts_files, "UserKnownHostsFile")
    if not p then return nil, err end
    r.user_known_hosts_files[#r.user_known_hosts_files + 1] = p
  end
  local global = o.global_known_hosts_files or GLOBAL_KNOWN_HOSTS
  for _, raw in ipairs(global[1]:lower() == "none" and {} or global) do
    local p, err = syntax.tilde(raw, ctx.home)
    if not p then return nil, where.global_known_hosts_files .. ": " .. err end
    r.global_known_hosts_files[#r.global_known_hosts_files + 1] = p
  end
  return r
end

--- The result of cijoe.ssh_config.resolve from the state the passes left.
function resolve.result(ctx)
  local o = ctx.o
  local host, err = resolve.hostname(ctx)
  if not host then return nil, err end
  local r = { hostname = host, port = o.port or 22, user = o.user or ctx.local_user,
    identity_files = {}, user_known_hosts_files = {}, global_known_hosts_files = {},
    where = ctx.where,
    identities_only = o.identities_only or false, hash_known_hosts = o.hash_known_hosts
    or false, strict_host_key_checking = o.strict_host_key_checking,
    connect_timeout = o.connect_timeout or nil, host_key_alias = o.host_key_alias,
    server_alive_interval = o.server_alive_interval or nil,
    server_alive_count_max = o.server_alive_count_max }
  if o.proxy_jump and o.proxy_jump:lower() ~= "none" then r.proxy_jump = o.proxy_jump end
  if o.proxy_command and o.proxy_command:lower() ~= "none" then
    local cmd, xerr = syntax.expand(o.proxy_command, { h = host, n = ctx.alias,
      k = o.host_key_alias or ctx.alias, p = tostring(r.port), r = r.user })
    if not cmd then
      return nil, ctx.where.proxy_command .. ": ProxyCommand " .. o.proxy_command .. ": " .. xerr
    end
    r.proxy_command = cmd
  end
  return paths(ctx, r, tokens(ctx, host, ctx.alias))
end

return resolve
