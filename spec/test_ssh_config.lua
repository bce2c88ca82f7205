-- cijoe.ssh_config against OpenSSH itself: for each config and alias, what joe resolves
-- must be what `ssh -G` prints (and, for expanded IdentityFile and ProxyCommand, what
-- `ssh -v` says it uses), run in the same test; every bad input has its file:line message.
local lu = require("luaunit")
local h = require("helper")
local ssh_config = require("cijoe.ssh_config")

TestSshConfig = {}

function TestSshConfig:setUp()
  self.dir = h.tmpdir()
end

-- The -l and -p options of ssh for opts.user and opts.port.
local function cli(opts)
  return (opts.user and "-l " .. opts.user .. " " or "")
    .. (opts.port and "-p " .. opts.port .. " " or "")
end

-- `ssh -G`'s settings for alias: key -> value (a list for identityfile).
local function ssh_G(file, alias, opts)
  local out, status = h.sh("ssh -G -F " .. h.q(file) .. " " .. cli(opts) .. h.q(alias)
    .. " </dev/null")
  lu.assertEquals(status, 0, out)
  local g = { identityfile = {} }
  for key, value in out:gmatch("(%S+) ([^\n]*)") do
    if key == "identityfile" then
      table.insert(g.identityfile, value)
    else
      g[key] = g[key] or value
    end
  end
  return g
end

-- What `ssh -v` uses: the identity files it tries and the proxy command it runs. Without a
-- ProxyCommand of the config, `exit 0` stands in, so that nothing is dialled.
local function ssh_v(file, alias, opts, has_proxy)
  local out = h.sh("ssh -v -F " .. h.q(file) .. " -o BatchMode=yes "
    .. (has_proxy and "" or "-o ProxyCommand='exit 0' ") .. cli(opts) .. h.q(alias)
    .. " true </dev/null")
  out = out:gsub("\r", "")
  local v = { identities = {}, proxy = out:match("Executing proxy command: exec ([^\n]*)") }
  for path in out:gmatch("identity file ([^\n]-) type %-?%d+") do
    if not path:find("%-cert$") then table.insert(v.identities, path) end
  end
  return v
end

-- ssh -G's form of a ProxyJump: the hops before the last as written, the last rebuilt.
local function jump_as_G(spec)
  local hops = assert(ssh_config.parse_jump(spec))
  local last = hops[#hops]
  local host = (last.host:find(":") or last.host:find("^[%d.]+$")) and "[" .. last.host .. "]"
    or last.host
  return (spec:match("^(.*,)") or "") .. (last.user and last.user .. "@" or "") .. host
    .. (last.port and ":" .. last.port or "")
end

local STRICT_AS_G = { yes = "true", no = "false", off = "false", ask = "ask",
  ["accept-new"] = "accept-new" }
local DEFAULT_IDS = { "id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk",
  "id_xmss", "id_dsa" }

-- The identity files ssh tries: the config's, else OpenSSH's defaults in ~/.ssh.
local function identities(r)
  if #r.identity_files > 0 or r.identity_files_none then return r.identity_files end
  local ids, home = {}, h.sh("echo ~"):gsub("\n", "")
  for i, name in ipairs(DEFAULT_IDS) do ids[i] = home .. "/.ssh/" .. name end
  return ids
end

-- The settings joe reads, in the words and defaults ssh -G prints.
local function as_G(r)
  return { hostname = r.hostname, user = r.user, port = tostring(r.port),
    stricthostkeychecking = STRICT_AS_G[r.strict_host_key_checking or "ask"],
    userknownhostsfile = table.concat(r.user_known_hosts_files, " "),
    globalknownhostsfile = table.concat(r.global_known_hosts_files, " "),
    connecttimeout = tostring(r.connect_timeout or "none"),
    serveraliveinterval = tostring(r.server_alive_interval or 0),
    serveralivecountmax = tostring(r.server_alive_count_max or 3),
    hashknownhosts = r.hash_known_hosts and "yes" or "no",
    identitiesonly = r.identities_only and "yes" or "no",
    proxyjump = r.proxy_jump and jump_as_G(r.proxy_jump) }
end

-- Resolve alias with joe and with OpenSSH and compare every setting joe uses.
local function same_as_openssh(file, alias, opts)
  opts = opts or {}
  local r, err = ssh_config.resolve(alias, { file = file, user = opts.user, port = opts.port })
  lu.assertNotNil(r, err)
  local g, what = ssh_G(file, alias, opts), alias .. " in " .. file .. ": "
  for key, value in pairs(as_G(r)) do
    local expected = g[key]
    if expected == "none" and key:find("knownhostsfile") then expected = "" end
    lu.assertEquals(value, expected, what .. key)
  end
  local v = ssh_v(file, alias, opts, g.proxycommand ~= nil)
  lu.assertEquals(r.proxy_command, g.proxycommand and v.proxy, what .. "proxycommand")
  lu.assertEquals(identities(r), v.identities, what .. "identity files")
  return r
end

function TestSshConfig:test_aliases_wildcards_negation_and_several_patterns()
  local file = h.write(self.dir .. "/config", [[
# aliases, wildcards and negation
Host web1 web2
  HostName %h.example.org
  User deploy
Host *.lab !bad.lab
  Port 2200
  User lab
Host db? "quoted alias"
  HostName DB-%h.Internal
Host 10.1.*
  User net
Host *
  User fallback
  ServerAliveInterval 30
  ConnectTimeout 1m30s
]])
  for _, alias in ipairs({ "web1", "web2", "web3", "x.lab", "bad.lab", "db1", "db12",
    "10.1.2.3", "WEB1" }) do
    same_as_openssh(file, alias)
  end
  local r = ssh_config.resolve("db1", { file = file })
  lu.assertEquals(r.hostname, "db-db1.internal")
  lu.assertEquals(r.where, { hostname = file .. ":9", user = file .. ":13",
    server_alive_interval = file .. ":14", connect_timeout = file .. ":15", identity_files = {} })
  lu.assertEquals(r.connect_timeout, 90)
end

function TestSshConfig:test_first_value_wins_and_the_caller_wins_over_the_file()
  local file = h.write(self.dir .. "/config", [[
Host app
  Port 2201
  User first
  HostName app-one
  StrictHostKeyChecking accept-new
Host app
  Port 2202
  User second
  HostName app-two
  ConnectTimeout 5
Host *
  StrictHostKeyChecking no
  ConnectTimeout 10
  ServerAliveCountMax 9
  HashKnownHosts yes
  IdentitiesOnly yes
]])
  local r = same_as_openssh(file, "app")
  lu.assertEquals({ r.port, r.user, r.hostname, r.strict_host_key_checking, r.connect_timeout },
    { 2201, "first", "app-one", "accept-new", 5 })
  r = same_as_openssh(file, "app", { user = "cli", port = 2999 })
  lu.assertEquals({ r.port, r.user }, { 2999, "cli" })
  lu.assertNil(r.where.user)
  same_as_openssh(file, "other")
end

function TestSshConfig:test_identity_files_accumulate_with_tokens_in_order()
  local file = h.write(self.dir .. "/config", [[
Host tok
  HostName tok.example
  IdentityFile ~/.ssh/id_%h
  IdentityFile %d/keys/%u-%r-%n-%p-%l-%L-%i-%k-%%
  IdentityFile ~/.ssh/id_%h
Host t*
  User tu
  Port 2022
  IdentityFile "/keys/with space"
  IdentityFile ${HOME}/env
Host none
  IdentityFile none
]])
  local r = same_as_openssh(file, "tok")
  lu.assertEquals(#r.identity_files, 4)
  lu.assertEquals(r.where.identity_files,
    { file .. ":3", file .. ":4", file .. ":9", file .. ":10" })
  same_as_openssh(file, "tok", { user = "other", port = 23 })
  r = same_as_openssh(file, "none")
  lu.assertEquals({ r.identity_files, r.identity_files_none }, { {}, true })
  r = same_as_openssh(file, "plain")
  lu.assertEquals({ r.identity_files, r.identity_files_none }, { {}, false })
end

function TestSshConfig:test_keyword_forms_quotes_comments_and_case()
  local file = h.write(self.dir .. "/config", "# comment\n\n  \t\nHOST=forms\r\n"
    .. "  user=bob # trailing comment\n\tPort = 2345   \n  HostName\t=\t\"forms.example\"\n"
    .. "  ProxyCommand = true %h %p %r %n %k %% # sh sees the comment\n"
    .. "  UserKnownHostsFile 'a b' c\\ d ~/e %h-%p\n  sTrIcTHoStKeYcHeCkInG Yes\n")
  local r = same_as_openssh(file, "forms")
  lu.assertEquals({ r.user, r.port, r.hostname, r.strict_host_key_checking },
    { "bob", 2345, "forms.example", "yes" })
  lu.assertEquals(r.proxy_command,
    "true forms.example 2345 bob forms forms % # sh sees the comment")
  -- a list keyword with only a comment sets nothing; the line after it does (the fuzzer's)
  file = h.write(self.dir .. "/config2", "Host bare\n  UserKnownHostsFile # comment\n" ..
    "  UserKnownHostsFile /k1\n")
  lu.assertEquals(same_as_openssh(file, "bare").user_known_hosts_files, { "/k1" })
end

function TestSshConfig:test_proxy_jump_and_proxy_command()
  local file = h.write(self.dir .. "/config", [[
Host j1
  ProxyJump u@jump1:2200,v@[fd00::1]:23,jump3
  ProxyCommand true never
Host j2
  ProxyCommand true %h
  ProxyJump never
Host j3
  ProxyJump none
  ProxyCommand true after-none
Host j4
  ProxyJump ssh://w@jump4:2222
Host j5
  ProxyJump 10.0.0.1:2200 # comment
]])
  local r = same_as_openssh(file, "j1")
  lu.assertEquals(r.proxy_jump, "u@jump1:2200,v@[fd00::1]:23,jump3")
  lu.assertNil(r.proxy_command)
  lu.assertEquals(same_as_openssh(file, "j2").proxy_command, "true j2")
  lu.assertEquals(same_as_openssh(file, "j3").proxy_command, "true after-none")
  same_as_openssh(file, "j4")
  same_as_openssh(file, "j5")
end

function TestSshConfig:test_parse_jump_forms()
  lu.assertEquals(ssh_config.parse_jump("u@h1:2200,[fd00::1]:23,ssh://v@h3:24,ssh://[::1],h5"), {
    { user = "u", host = "h1", port = 2200 }, { host = "fd00::1", port = 23 },
    { user = "v", host = "h3", port = 24 }, { host = "::1" }, { host = "h5" } })
  lu.assertEquals(ssh_config.parse_jump("ssh://a%40b;fp=x@h/"), { { user = "a@b", host = "h" } })
  lu.assertEquals(ssh_config.parse_jump("u@@h"), { { user = "u@", host = "h" } })
  lu.assertEquals(ssh_config.parse_jump("NONE"), {})
  for spec, message in pairs({ ["u@h:0"] = "port '0' of 'u@h:0' is not a number from 1 to 65535",
    ["h1,,h2"] = "empty jump host in 'h1,,h2'", ["@h"] = "empty user name in '@h'",
    ["ssh://h/path"] = "'ssh://h/path' has a path; ProxyJump takes none",
    ["[::1]x"] = "junk after ']' in '[::1]x'", [""] = "empty ProxyJump",
    ["ssh://h:99999"] = "port '99999' of 'ssh://h:99999' is not a number from 1 to 65535",
    ["ssh://-h"] = "'-h' in 'ssh://-h' is not a host name", ["u@"] = "no host name in 'u@'" }) do
    local hops, err = ssh_config.parse_jump(spec)
    lu.assertNil(hops, spec)
    lu.assertEquals(err, message)
  end
end

function TestSshConfig:test_include_with_globs_nested_and_inactive()
  local d = self.dir
  h.write(d .. "/conf.d/10-web.conf",
    "Host web\n  HostName web.inc\n  Include " .. d .. "/nested/*.conf\n")
  h.write(d .. "/conf.d/20-all.conf", "User from-20\n")
  h.write(d .. "/conf.d/.hidden.conf", "User hidden\n")
  h.write(d .. "/conf.d/30-x.txt", "User txt\n")
  h.write(d .. "/nested/a.conf", "Port 2001\nMatch host nomatch\n  Port 9\n")
  h.write(d .. "/inactive.conf", "Host *\n  User from-inactive\n")
  h.write(d .. "/sets/a1.conf", "IdentityFile /k/a1\n")
  h.write(d .. "/sets/b1.conf", "IdentityFile /k/b1\n")
  h.write(d .. "/sets/c1.conf", "IdentityFile /k/c1\n")
  local file = h.write(d .. "/config", "Host nothing\n  Include " .. d .. "/inactive.conf\n"
    .. "Host *\n  Include " .. d .. "/conf.d/*.conf " .. d .. "/missing/*.conf\n"
    .. "  Include " .. d .. "/sets/[!b]?.conf\n  ConnectTimeout 7\n")
  local r = same_as_openssh(file, "web")
  lu.assertEquals({ r.hostname, r.user, r.port, r.connect_timeout },
    { "web.inc", "from-20", 2001, 7 })
  lu.assertEquals(r.where.port, d .. "/nested/a.conf:1")
  lu.assertEquals(r.identity_files, { "/k/a1", "/k/c1" })
  same_as_openssh(file, "other")
end

function TestSshConfig:test_include_relative_to_the_users_ssh_folder()
  local user, home = "joetest", "/home/joetest"
  h.sh("id " .. user .. " >/dev/null 2>&1 || useradd -m -s /bin/sh " .. user)
  local sub = "joe-spec-" .. h.sh("basename " .. self.dir):gsub("%W", "")
  local dir = home .. "/.ssh/" .. sub
  h.write(dir .. "/rel.conf", "Host rel\n  User relative\n")
  h.write(dir .. "/tilde.conf", "Host tilde\n  User tilde\n")
  h.write(dir .. "/config",
    "Include " .. sub .. "/rel.conf\nInclude ~/.ssh/" .. sub .. "/t*.conf\n")
  h.sh("chown -R " .. user .. " " .. home .. "/.ssh")
  for _, alias in ipairs({ "rel", "tilde" }) do
    local out = h.sh("su -s /bin/sh " .. user .. " -c 'ssh -G -F " .. dir .. "/config "
      .. alias .. "' 2>&1")
    local r = assert(ssh_config.resolve(alias,
      { file = dir .. "/config", home = home, local_user = user }))
    lu.assertStrContains(out, "\nuser " .. r.user .. "\n")
    lu.assertEquals(r.user, alias == "rel" and "relative" or "tilde")
  end
  h.sh("rm -rf " .. dir .. "; rmdir " .. home .. "/.ssh 2>/dev/null")
end

function TestSshConfig:test_match_host_originalhost_user_exec_all_final()
  local marker = self.dir .. "/exec-ran"
  local file = h.write(self.dir .. "/config", string.format([[
Match final
  HostName only-in-the-second-pass-and-then-too-late
Match originalhost short
  HostName short.example.net
Match host *.example.net exec "test %%h = short.example.net && touch %s"
  User matched
Match user matched !localuser nobody
  ServerAliveCountMax 7
Match host other exec false
  User never
Match final host short.example.net
  Port 2022
Host short.example.net
  ConnectTimeout 4
Match canonical
  ServerAliveInterval 11
Match !host short* user=root,rooty
  HashKnownHosts yes
Match all
  IdentityFile ~/.ssh/%%r@%%h
]], marker))
  local r = same_as_openssh(file, "short")
  lu.assertEquals({ r.hostname, r.user, r.port, r.server_alive_count_max, r.connect_timeout,
    r.server_alive_interval }, { "short.example.net", "matched", 2022, 7, 4, 11 })
  lu.assertNotNil(h.read(marker), "Match exec did not run")
  same_as_openssh(file, "other")
  same_as_openssh(file, "short", { user = "cli" })
end

function TestSshConfig:test_ignore_unknown_and_keywords_joe_does_not_use()
  local file = h.write(self.dir .. "/config", [[
IgnoreUnknown Frob*,UseKeychain
Host *
  UseKeychain yes
  FrobnicateHarder 3
  ForwardAgent yes
  Ciphers aes128-ctr
  ControlPath ~/.ssh/%C
  GSSAPIAuthentication no
  Protocol 2
]])
  same_as_openssh(file, "any")
end

function TestSshConfig:test_default_files_and_missing_ones()
  local home = h.tmpdir()
  local r, err = ssh_config.resolve("h", { home = home, system_file = "none" })
  lu.assertNotNil(r, err)
  lu.assertEquals({ r.hostname, r.port }, { "h", 22 })
  h.write(home .. "/.ssh/config", "Host h\n  Port 2\n")
  lu.assertEquals(ssh_config.resolve("h", { home = home, system_file = "none" }).port, 2)
  h.write(self.dir .. "/system", "Host h\n  Port 3\n  User sys\n")
  r = ssh_config.resolve("h", { home = home, system_file = self.dir .. "/system" })
  lu.assertEquals({ r.port, r.user, r.where.user }, { 2, "sys", self.dir .. "/system:3" })
  lu.assertEquals(ssh_config.resolve("h", { file = "none", home = home }).port, 22)
  lu.assertEquals(select(2, ssh_config.resolve("h", { file = "none", port = "22x" })),
    "port 22x is not a number from 1 to 65535")
  local missing = self.dir .. "/nope"
  lu.assertEquals(select(2, ssh_config.resolve("h", { file = missing })),
    missing .. ": cannot open it")
  h.sh("chmod 664 " .. home .. "/.ssh/config")
  lu.assertEquals(select(2, ssh_config.resolve("h", { home = home, system_file = "none" })),
    home .. "/.ssh/config: bad permissions: group or others may write it (chmod go-w)")
end

-- Bad lines: joe's message, and whether OpenSSH refuses the same file.
local BAD = {
  { "Host nomatch\n  Frobnicate yes\n", 2, 'unknown keyword "Frobnicate" (OpenSSH refuses it too; '
    .. "if it is for a newer OpenSSH, name it in an IgnoreUnknown line above)" },
  { "Host nomatch\n  Port abc\n", 2, "bad port 'abc'" },
  { "Port 0\n", 1, "bad port '0'" },
  { "User\n", 1, 'no argument after keyword "User"' },
  { "Host x\n  User \"bob\n", 2, "invalid quotes" },
  { "Ciphers 'aes\n", 1, "invalid quotes" },
  { "User a b\n", 1, "extra arguments at end of line" },
  { "ConnectTimeout 5x\n", 1, "invalid time value '5x'" },
  { "ServerAliveCountMax -1\n", 1, "bad number '-1'" },
  { "HashKnownHosts maybe\n", 1, "unsupported option 'maybe'" },
  { "StrictHostKeyChecking sometimes\n", 1, "unsupported option 'sometimes'" },
  { "\nProxyJump u@h:0\n", 2,
    "invalid ProxyJump: port '0' of 'u@h:0' is not a number from 1 to 65535" },
  { "Match hostname x\n", 1, "unsupported Match attribute hostname" },
  { "Match host\n", 1, "missing Match criteria for host" },
  { "Match all host x\n", 1, "'all' cannot be combined with other criteria" },
  { "Match\t# nothing\n", 1, "one or more attributes required for Match" },
  { "UserKnownHostsFile a none\n", 1, '"none" must appear alone' },
  { "Host \"\"\n", 1, "empty argument" },
  { "Match localnetwork 10.0.0.0/8\n", 1, "Match localnetwork is not supported by joe: it would "
    .. "need this machine's interface addresses", "joe only" },
}

function TestSshConfig:test_bad_lines_name_file_and_line()
  for i, case in ipairs(BAD) do
    local file = h.write(self.dir .. "/bad" .. i, case[1])
    local r, err = ssh_config.resolve("x", { file = file })
    lu.assertNil(r, case[1])
    lu.assertEquals(err, file .. ":" .. case[2] .. ": " .. case[3])
    if not case[4] then
      local out, status = h.sh("ssh -G -F " .. file .. " x 2>&1")
      lu.assertEquals(status, 255, "OpenSSH took " .. case[1] .. out)
    end
  end
end

function TestSshConfig:test_bad_includes_and_tokens()
  local d = self.dir
  local loop = h.write(d .. "/loop", "Include " .. d .. "/loop\n")
  lu.assertEquals(select(2, ssh_config.resolve("x", { file = loop })),
    loop .. ":1: too many nested Includes (16)")
  h.write(d .. "/inc/writable.conf", "User w\n")
  h.sh("chmod 666 " .. d .. "/inc/writable.conf")
  local file = h.write(d .. "/perm", "\nInclude " .. d .. "/inc/*.conf\n")
  lu.assertEquals(select(2, ssh_config.resolve("x", { file = file })),
    d .. "/inc/writable.conf: bad permissions: group or others may write it (chmod go-w)")
  lu.assertEquals(select(2, h.sh("ssh -G -F " .. file .. " x")), 255)
  file = h.write(d .. "/sys", "Include ~/x\n")
  lu.assertEquals(select(2, ssh_config.resolve("x", { file = "none", system_file = file })),
    file .. ":1: bad include path ~/x (~ is for user configs only)")
  file = h.write(d .. "/tok", "Host x\n  IdentityFile ~/%q\n  HostName a%\n")
  lu.assertEquals(select(2, ssh_config.resolve("x", { file = file })),
    file .. ":3: HostName a%: a lone % at the end (write %% for a %)")
  file = h.write(d .. "/tok2", "Host x\n  IdentityFile ~/%q\n")
  lu.assertEquals(select(2, ssh_config.resolve("x", { file = file })),
    file .. ":2: IdentityFile ~/%q: unknown token %q")
  file = h.write(d .. "/env", "UserKnownHostsFile ${JOE_SPEC_UNSET_VAR}/k\n")
  lu.assertEquals(select(2, ssh_config.resolve("x", { file = file })),
    file .. ":1: UserKnownHostsFile ${JOE_SPEC_UNSET_VAR}/k: environment variable "
      .. "JOE_SPEC_UNSET_VAR is not set")
end

function TestSshConfig:test_wildcard_patterns()
  local syntax = require("cijoe.ssh_syntax")
  for _, case in ipairs({ { "abc", "a*c", true }, { "ac", "a*c", true }, { "ab", "a*c", false },
    { "", "*", true }, { "x", "", false }, { "abcabd", "*bc", false }, { "aXbXc", "a*b*c", true },
    { "web1", "web?", true }, { "web12", "web?", false }, { "[h]:22", "[h]:*", true },
    { "a.b", "a%.b", false }, { "abc", "**c", true }, { "ab", "?*?*?", false },
    { string.rep("a", 60), string.rep("a*", 20) .. "b", false }, -- linear, not exponential
    { "Web1", "web1", false } }) do
    lu.assertEquals(syntax.match(case[1], case[2]), case[3], case[1] .. " ~ " .. case[2])
  end
  lu.assertEquals(syntax.match_list("x.lab", "*.lab,!bad.lab", true), 1)
  lu.assertEquals(syntax.match_list("bad.lab", "*.lab,!bad.lab", true), -1)
  lu.assertEquals(syntax.match_list("other", "*.lab,!bad.lab", true), 0)
  lu.assertEquals(syntax.match_list("x.lab", "*.LAB", true), 1)
end
