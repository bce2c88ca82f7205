-- The keywords of ssh_config(5): all that OpenSSH knows, and how joe reads the values of
-- those it uses that take one word, and ProxyJump's [user@]host[:port] and ssh:// forms
-- (misc.c's parse_user_host_port and parse_uri). cijoe.ssh_config reads the lines.
local syntax = require("cijoe.ssh_syntax")

local keywords = {}

--- Every ssh_config keyword of OpenSSH up to 10.x (readconf.c's table, aliases
--- included) that joe does not read, lowercased: name -> true.
keywords.known = {}
for name in ([[addkeystoagent addressfamily afstokenpassing batchmode bindaddress
  bindinterface canonicaldomains canonicalizefallbacklocal canonicalizemaxdots
  canonicalizepermittedcnames casignaturealgorithms certificatefile
  challengeresponseauthentication channeltimeout checkhostip cipher ciphers
  clearallforwardings compression compressionlevel connectionattempts controlmaster
  controlpath controlpersist dsaauthentication dynamicforward enableescapecommandline
  enablesshkeysign escapechar exitonforwardfailure fallbacktorsh fingerprinthash
  forkafterauthentication forwardagent forwardx11 forwardx11timeout forwardx11trusted
  gatewayports globalknownhostsfile2 gssapiauthentication
  gssapidelegatecredentials hostbasedacceptedalgorithms hostbasedauthentication
  hostbasedkeytypes hostkeyalgorithms identityagent ipqos kbdinteractiveauthentication
  kbdinteractivedevices keepalive kerberosauthentication kerberostgtpassing
  kexalgorithms knownhostscommand localcommand localforward loglevel logverbose macs
  nohostauthenticationforlocalhost numberofpasswordprompts obscurekeystroketiming
  passwordauthentication permitlocalcommand permitremoteopen pkcs11provider
  preferredauthentications protocol proxyusefdpass pubkeyacceptedalgorithms
  pubkeyacceptedkeytypes pubkeyauthentication refuseconnection rekeylimit remotecommand
  remoteforward requesttty requiredrsasize revokedhostkeys rhostsauthentication
  rhostsrsaauthentication rsaauthentication securitykeyprovider sendenv sessiontype
  setenv skeyauthentication smartcarddevice stdinnull streamlocalbindmask
  streamlocalbindunlink syslogfacility tcpkeepalive tisauthentication tunnel
  tunneldevice updatehostkeys useprivilegedport userknownhostsfile2 useroaming usersh
  verifyhostkeydns versionaddendum visualhostkey warnweakcrypto xauthlocation]])
  :gmatch("%S+") do
  keywords.known[name] = true
end

local find = string.find
local YES_NO = { yes = true, ["true"] = true, no = false, ["false"] = false }
local STRICT = { yes = "yes", ["true"] = "yes", no = "no", ["false"] = "no", off = "off",
  ask = "ask", ["accept-new"] = "accept-new" }
local CANONICALIZE = { yes = true, ["true"] = true, always = true, no = false,
  ["false"] = false }
local UNITS = { [""] = 1, s = 1, m = 60, h = 3600, d = 86400, w = 604800 }

-- The arguments one_arg found, by line text (big configs repeat lines).
local single = {}

--- The one argument of a line, or nil and what is wrong (most keywords take one).
function keywords.one_arg(rest)
  local arg = single[rest]
  if arg then return arg end
  if not rest:find("[ \t\"'\\#]") then return rest end
  local args, err = syntax.split(rest)
  if not args then return nil, err end
  if not args[1] or args[1] == "" then return nil, "missing argument" end
  if args[2] then return nil, "extra arguments at end of line" end
  syntax.remember(single, rest, args[1])
  return args[1]
end

-- Seconds of an OpenSSH time value ("90", "1h30m", "none" is false), or nil.
local function seconds(s)
  if s == "none" then return false end
  local total = 0
  local rest = s:gsub("(%d+)([sSmMhHdDwW]?)", function(n, unit)
    total = total + tonumber(n) * UNITS[unit:lower()]
    return ""
  end)
  if s == "" or rest ~= "" or total > 2147483647 then return nil end
  return total
end

-- Readers of one word, by kind: the value or nil (then the kind's message says why).
local READ = {
  string = function(arg) return arg end,
  port = function(arg)
    local port = arg:match("^%d+$") and tonumber(arg)
    return port and port >= 1 and port <= 65535 and port or nil
  end,
  time = seconds,
  int = function(arg) return arg:match("^%d+$") and tonumber(arg) end }
local WHY = { port = "bad port '%s'", time = "invalid time value '%s'",
  int = "bad number '%s'" }

-- The value of a keyword that takes one word, or nil and what is wrong.
local function word_value(kind, arg)
  local value
  if READ[kind] then value = READ[kind](arg) else value = kind[arg:lower()] end
  if value ~= nil then return value end
  return nil, string.format(WHY[kind] or "unsupported option '%s'", arg)
end

--- Keywords of one word: name -> {field of the result, how the word is read}.
keywords.words = { user = { "user", "string" }, hostname = { "hostname", "string" },
  hostkeyalias = { "host_key_alias", "string" }, tag = { "tag", "string" },
  ignoreunknown = { "ignore_unknown", "string" }, port = { "port", "port" },
  connecttimeout = { "connect_timeout", "time" },
  serveraliveinterval = { "server_alive_interval", "time" },
  serveralivecountmax = { "server_alive_count_max", "int" },
  identitiesonly = { "identities_only", YES_NO },
  hashknownhosts = { "hash_known_hosts", YES_NO },
  stricthostkeychecking = { "strict_host_key_checking", STRICT },
  canonicalizehostname = { "canonicalize_hostname", CANONICALIZE } }

-- Time values by keyword and text: configs repeat their lines, and these cost most.
local times = setmetatable({}, { __index = function(t, name)
  t[name] = {}
  return t[name]
end })

--- The value of a line of the one-word keyword name (its kind from keywords.words), or
--- nil and what is wrong. A plain word or a line of digits needs no look for quotes: big
--- configs have many User, HostName and Port lines, and this is most of their cost.
function keywords.value(name, kind, rest)
  if kind == "string" and not find(rest, "[ \t\"'\\#]") then return rest end
  if kind == "time" and times[name][rest] ~= nil then return times[name][rest] end
  local arg, err = rest, nil
  if not (kind == "port" and find(rest, "^%d+$")) then arg, err = keywords.one_arg(rest) end
  if not arg then return nil, err end
  local value, verr = word_value(kind, arg)
  if kind == "time" and value ~= nil then syntax.remember(times[name], rest, value) end
  return value, verr
end

-- A port number of a jump spec ("" is none), or nil and a message.
local function port_number(s, spec)
  if s == "" then return nil end
  local port = s:match("^%d+$") and tonumber(s)
  if port and port >= 1 and port <= 65535 then return port end
  return false, "port '" .. s .. "' of '" .. spec .. "' is not a number from 1 to 65535"
end

-- Host and port of host[:port], [host]:port or host/port (OpenSSH's hpdelim), the
-- brackets taken off; or nil and a message.
local function host_port(s, spec)
  local host, delim, rest = s:match("^(%[[^%]]*%])([:/]?)(.*)$")
  if not host then host, delim, rest = s:match("^([^:/]*)([:/]?)(.*)$") end
  if delim == "" and rest ~= "" then return nil, "junk after ']' in '" .. spec .. "'" end
  host = host:match("^%[(.*)%]$") or host
  if host == "" then return nil, "no host name in '" .. spec .. "'" end
  local port, err = port_number(rest, spec)
  if port == false then return nil, err end
  return host, port
end

-- An ssh:// URI's %XX and + decoded, or nil for a bad %.
local function url_decode(s)
  if s:gsub("%%%x%x", ""):find("%%") then return nil end
  local decoded = s:gsub("%+", " "):gsub("%%(%x%x)", function(hex)
    return string.char(tonumber(hex, 16))
  end)
  return decoded
end

-- One hop written as ssh://[user[;params]@]host[:port][/], as OpenSSH's parse_uri reads
-- it; a bracketed IPv6 address is taken too (OpenSSH 9.2 refuses it).
local function uri_hop(s, spec)
  local user, rest = s:match("^([^@]*)@(.*)$")
  if user then
    user = url_decode((user:gsub(";.*", "")))
    if not user or user == "" then return nil, "bad user name in '" .. spec .. "'" end
  end
  local authority, path = (rest or s):match("^([^/]*)/?(.*)$")
  if path ~= "" then return nil, "'" .. spec .. "' has a path; ProxyJump takes none" end
  local host, port = host_port(authority, spec)
  if not host then return nil, port end
  if not authority:find("^%[") and not host:find("^%w[%w%.%-_]*$") then
    return nil, "'" .. host .. "' in '" .. spec .. "' is not a host name"
  end
  return { user = user, host = host, port = port }
end

-- One hop written as [user@]host[:port].
local function plain_hop(s, spec)
  local user, rest = s:match("^(.*)@([^@]*)$")
  if user == "" then return nil, "empty user name in '" .. spec .. "'" end
  local host, port = host_port(rest or s, spec)
  if not host then return nil, port end
  return { user = user, host = host, port = port }
end

--- The hops of a ProxyJump value, first hop first: a list of {user =, host =, port =}
--- (user and port nil when not given), {} for "none"; or nil and what is wrong.
--- Forms: [user@]host[:port], [user@][v6addr]:port, ssh://[user@]host[:port], by commas.
function keywords.parse_jump(spec)
  spec = spec:gsub("#.*", ""):gsub("[ \t]+$", "")
  if spec:lower() == "none" then return {} end
  if spec == "" then return nil, "empty ProxyJump" end
  local hops = {}
  for hop in (spec .. ","):gmatch("([^,]*),") do
    if hop == "" then return nil, "empty jump host in '" .. spec .. "'" end
    if hop:find("[ \t]") then return nil, "space in jump host '" .. hop .. "'" end
    local parsed, err
    if hop:find("^ssh://") then parsed, err = uri_hop(hop:sub(7), hop)
    else parsed, err = plain_hop(hop, hop) end
    if not parsed then return nil, err end
    hops[#hops + 1] = parsed
  end
  return hops
end

return keywords
