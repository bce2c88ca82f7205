-- Issue 14 against a real sshd: known_hosts kept whole under accept-new, also by 40 runs
-- at once (item 3), a stalled server and a blackholed one (its link down, in a network
-- namespace of spec/jumphosts.lua) found dead through their keepalives (9), login
-- lines before the command (10), background processes and timeouts on both transports
-- (11), what ps shows of env values (4), and the bad inputs that need a server (an RSA
-- key OpenSSH refuses, accept-new without ~/.ssh, a full disk under --each). Every joe
-- runs under the watchdog (h.joe_watched), so a hang fails the test.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

-- Run a script body with a config (YAML text) in dir under the watchdog.
local function script(dir, body, conf, bound, env)
  h.write(dir .. "/c.yaml", conf)
  h.write(dir .. "/s.lua", body)
  return h.joe_watched(dir, "-q -c c.yaml s.lua", bound or 30, env)
end

-- No process of the test user runs `sleep <marker>` any more, within a few seconds.
local function sleep_gone(marker)
  return h.wait_for(function()
    local left = h.sh("pgrep -u " .. sshd.user .. " -f '[s]leep " .. marker .. "' || echo gone")
    return left == "gone\n"
  end, h.bound(5))
end

TestHostileHostKeys = {}

function TestHostileHostKeys.setupClass()
  TestHostileHostKeys.server = sshd.start()
  local s = TestHostileHostKeys.server
  TestHostileHostKeys.entry = "[127.0.0.1]:" .. s.port .. " " ..
    h.read(s.dir .. "/host_key.pub"):match("^(%S+ %S+)")
  TestHostileHostKeys.other = h.read(s.dir .. "/id_ed25519.pub"):match("^(%S+ %S+)")
end

function TestHostileHostKeys.teardownClass()
  TestHostileHostKeys.server:kill_all()
end

function TestHostileHostKeys:setUp()
  self.dir = h.tmpdir()
end

-- The lines of `after` past `before`, which must be its start (nothing rewritten).
local function appended(before, after)
  lu.assertEquals(after:sub(1, #before), before)
  local lines = {}
  for line in after:sub(#before + 1):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  lu.assertEquals(table.concat(lines, "\n") .. "\n", after:sub(#before + 1)) -- no torn line
  return lines
end

-- Each line is the fixture's host key entry, its name plain or hashed (joe hashes it when
-- ssh_config says HashKnownHosts yes, as Debian's does): OpenSSH finds each for the host.
function TestHostileHostKeys:are_entries(lines)
  local key = self.entry:match(" (.*)$")
  for _, line in ipairs(lines) do
    lu.assertEquals(line:sub(-#key - 1), " " .. key)
    local name = line:sub(1, #line - #key - 1)
    lu.assertTrue(name == self.entry:match("^%S+") or name:match("^|1|[%w+/]+=*|[%w+/]+=*$") ~= nil,
      line)
  end
  local file = h.write(self.dir .. "/appended", table.concat(lines, "\n") .. "\n")
  local found = h.sh(string.format("ssh-keygen -F '[127.0.0.1]:%d' -f %s | grep -vc '^#'",
    self.server.port, file))
  lu.assertEquals(found, #lines .. "\n")
end

-- Connect with known_hosts file kh under policy; returns what the script printed.
function TestHostileHostKeys:connect(kh, policy, env)
  local _, out = script(self.dir, 'print(cijoe.run("true"))', self.server:config(nil,
    { known_hosts = kh, host_key_check = policy }), 30, env)
  return out
end

function TestHostileHostKeys:test_accept_new_appends_one_line_and_keeps_every_other()
  local kh = self.dir .. "/known_hosts"
  local long = "long.example," .. string.rep("h", 4000) .. ".example " .. self.other
  local before = table.concat({ "# a comment", long, "barehostname", "@bad-marker x y z",
    "garbage without a key", "other.example " .. self.other, "", "# the end" }, "\n") .. "\n"
  h.write(kh, before)
  lu.assertStrContains(self:connect(kh, "accept-new"), "0\t")
  local lines = appended(before, h.read(kh))
  lu.assertEquals(#lines, 1)
  self:are_entries(lines)
  -- read past what it cannot parse: the line at the end is found, nothing is added
  local once = h.read(kh)
  lu.assertStrContains(self:connect(kh, "yes"), "0\t")
  lu.assertEquals(h.read(kh), once)
  -- OpenSSH reads the file the same way
  local _, status = h.sh(string.format("ssh-keygen -F '[127.0.0.1]:%d' -f %s >/dev/null",
    self.server.port, kh))
  lu.assertEquals(status, 0)
end

function TestHostileHostKeys:test_forty_runs_at_once_append_whole_lines()
  local kh = self.dir .. "/known_hosts"
  h.sh(string.format("awk 'BEGIN { for (i = 0; i < 60000; i++) " ..
    "print \"host\" i \".example %s\" }' > %s", self.other, kh))
  local before = h.read(kh)
  h.write(self.dir .. "/c.yaml", self.server:config(nil, { known_hosts = kh,
    host_key_check = "accept-new" }))
  h.write(self.dir .. "/s.lua", 'print(cijoe.run("true"))')
  local out = h.sh_watched(string.format([[cd %s && for i in $(seq 40); do
      mkdir r$i; (cd r$i && %s -q -c ../c.yaml ../s.lua > out 2>&1; echo $? > status) &
    done; wait; cat r*/status | sort | uniq -c]], h.q(self.dir), h.q(h.joe)), 120)
  lu.assertEquals(out:gsub("^%s+", ""), "40 0\n", h.read(self.dir .. "/r1/out"))
  local lines = appended(before, h.read(kh))
  lu.assertEquals(#lines, 1) -- each run looks again once it holds the lock
  self:are_entries(lines) -- nothing torn, nothing else
end

function TestHostileHostKeys:test_a_port_is_never_taken_for_the_bare_host_with_another_key()
  local kh = self.dir .. "/known_hosts"
  h.write(kh, "127.0.0.1 " .. self.other .. "\n")
  local out = self:connect(kh, "yes")
  lu.assertStrContains(out, "the host key is not known (SHA256:")
  lu.assertNotStrContains(out, "CHANGED")
  -- the same key known for the bare host is taken, as OpenSSH takes it
  h.write(kh, "127.0.0.1 " .. self.entry:match(" (.*)$") .. "\n")
  lu.assertStrContains(self:connect(kh, "yes"), "0\t")
  -- accept-new adds the port's own entry beside the bare host's other key
  h.write(kh, "127.0.0.1 " .. self.other .. "\n")
  lu.assertStrContains(self:connect(kh, "accept-new"), "0\t")
  local lines = appended("127.0.0.1 " .. self.other .. "\n", h.read(kh))
  lu.assertEquals(#lines, 1)
  self:are_entries(lines)
end

function TestHostileHostKeys:test_accept_new_without_a_dot_ssh_folder_makes_it_0700()
  local home = self.dir .. "/home"
  h.sh("mkdir -m 755 " .. home)
  lu.assertStrContains(self:connect(false, "accept-new", "HOME=" .. h.q(home)), "0\t")
  lu.assertEquals(h.sh("stat -c %a " .. home .. "/.ssh"), "700\n")
  local lines = appended("", h.read(home .. "/.ssh/known_hosts"))
  lu.assertEquals(#lines, 1)
  self:are_entries(lines)
end

function TestHostileHostKeys:test_an_rsa_key_the_server_refuses_says_why_and_what_to_do()
  local key = self.dir .. "/id_rsa"
  h.sh("ssh-keygen -q -t rsa -b 2048 -N '' -f " .. key)
  local rsa = sshd.start({ client_key = key })
  local ok, err = pcall(function()
    h.write(rsa.dir .. "/id_ed25519", h.read(key)) -- the fixture names its key so
    local status, out = script(self.dir, 'print(cijoe.run("true"))', rsa:config())
    lu.assertEquals(status, 1)
    lu.assertStrContains(out, "nil\ttransport target: joetest@127.0.0.1:" .. rsa.port ..
      ": authentication failed (key file " .. rsa.dir .. "/id_ed25519 refused: it is an " ..
      "RSA key, which libssh2 1.10 can sign only with SHA-1 (ssh-rsa), and OpenSSH 8.8 and " ..
      "later refuse that by default; use an ed25519 or ECDSA key (ssh-keygen -t ed25519), " ..
      "or allow ssh-rsa on the server (PubkeyAcceptedAlgorithms +ssh-rsa))")
  end)
  rsa:kill_all()
  if not ok then error(err, 0) end
end

TestHostileTarget = {}

function TestHostileTarget.setupClass()
  TestHostileTarget.server = sshd.start()
end

function TestHostileTarget.teardownClass()
  TestHostileTarget.server:signal("CONT")
  TestHostileTarget.server:kill_all()
end

function TestHostileTarget:setUp()
  self.dir = h.tmpdir()
  self.server:signal("CONT")
  self.server:start() -- a test may have stopped it
end

function TestHostileTarget:test_a_stalled_server_is_found_dead_by_its_keepalives()
  local marker, go = 7000 + math.random(999), self.dir .. "/go"
  h.write(self.dir .. "/c.yaml", self.server:config(nil, { keepalive = 1,
    keepalive_count_max = 2 }))
  h.write(self.dir .. "/s.lua", string.format([[
    io.stdout:setvbuf("line")
    print(cijoe.run("echo begun; sleep %d"))
    while not io.open(%q) do os.execute("sleep 0.1") end
    print(cijoe.run("echo again"))]], marker, go))
  h.sh(string.format("(cd %s && timeout -s KILL %d %s -q -c c.yaml s.lua > out.txt 2>&1; " ..
    "echo $? >> out.txt) >/dev/null 2>&1 &", h.q(self.dir), h.bound(60), h.q(h.joe)))
  local log = self.dir .. "/cijoe-output/latest/001_s/cmd_01.output"
  lu.assertNotNil(h.wait_for(function() return h.read(log) == "begun\n" end, h.bound(10)))
  lu.assertTrue(self.server:signal("STOP") > 0)
  local lost = h.wait_for(function() return (h.read(self.dir .. "/out.txt") or ""):find("\n") end,
    h.bound(30))
  self.server:signal("CONT")
  h.write(go, "")
  h.sh("pkill -u " .. sshd.user .. " -f '[s]leep " .. marker .. "'")
  lu.assertNotNil(lost, "joe hung on a stalled server")
  local done = h.wait_for(function()
    return (h.read(self.dir .. "/out.txt") or ""):find("\n%d+\n$")
  end, h.bound(30))
  lu.assertNotNil(done, "joe hung after the server came back")
  lu.assertStrMatches(h.read(self.dir .. "/out.txt"), "255\ttable: [^\n]+\n0\ttable: [^\n]+\n" ..
    ".*: the connection was lost while it ran %(exit status 255%): transport target: " ..
    "joetest@127%.0%.0%.1:" .. self.server.port .. ": connection lost: no answer to 2 " ..
    "keepalives.*\n1\n")
  local st = h.yaml(self.dir .. "/cijoe-output/latest/001_s/cmd_01.state")
  lu.assertEquals(st.err, 255)
  lu.assertStrContains(st.lost, "connection lost: no answer to 2 keepalives")
  lu.assertEquals(h.read(self.dir .. "/cijoe-output/latest/001_s/cmd_02.output"), "again\n")
end

-- Run cmd on both transports with opts (a Lua table's text); returns what each printed.
function TestHostileTarget:both(cmd, opts)
  local status, out = script(self.dir, string.format([[
    for _, t in ipairs({ "local", "target" }) do
      local o = %s
      o.transport = t
      local err, st = cijoe.run(%q, o)
      print(t, err, st.timed_out, st:output())
    end]], opts or "{}", cmd), self.server:config())
  lu.assertEquals(status, 0, out)
  return out
end

function TestHostileTarget:test_background_processes_do_not_hold_a_step_on_either_transport()
  local marker = 8000 + math.random(999)
  local ok, err = pcall(function()
    local out = self:both("setsid sleep " .. marker .. " & echo bg")
    lu.assertEquals(out, "local\t0\tnil\tbg\n\ntarget\t0\tnil\tbg\n\n")
    out = self:both("sleep " .. (marker + 1) .. " & echo bg", "{ timeout = 3 }")
    lu.assertEquals(out, "local\t0\tnil\tbg\n\ntarget\t0\tnil\tbg\n\n")
  end)
  h.sh(string.format("pkill -f '[s]leep %d'; pkill -f '[s]leep %d'", marker, marker + 1))
  if not ok then error(err, 0) end
end

function TestHostileTarget:test_a_timed_out_command_is_never_green()
  -- the shell exits 0 on the TERM of the timeout: the status is still not 0
  local out = self:both("trap 'exit 0' TERM; echo begun; sleep 30 & wait", "{ timeout = 1 }")
  lu.assertEquals(out, "local\t124\ttrue\tbegun\n\ntarget\t124\ttrue\tbegun\n\n")
end

function TestHostileTarget:test_ps_shows_no_env_value_on_either_machine()
  -- this machine is also the target: one ps of the target sees both sides' processes
  local secret, plain = "s3cr3t-" .. math.random(1e9), "pl41n-" .. math.random(1e9)
  local _, out = script(self.dir, string.format([[
    local function count(text, value)
      local n, at = 0, text:find(value, 1, true)
      while at do n, at = n + 1, text:find(value, at + 1, true) end
      return n
    end
    for _, t in ipairs({ "local", "target" }) do
      local err, st = cijoe.run("ps -eo args; echo \"$API_TOKEN $PLAIN\"", { transport = t,
        env = { API_TOKEN = %q, PLAIN = %q } })
      local ps, last = st:output():match("^(.*\n)(.-)\n$")
      print(t, err, last, count(ps, %q), count(ps, %q))
    end]], secret, plain, secret, plain), self.server:config())
  -- the values reach the command; ps shows neither anywhere: over SSH both go through
  -- the channel's stdin, not only those whose names say secret
  lu.assertEquals(out, string.format("local\t0\t%s %s\t0\t0\ntarget\t0\t%s %s\t0\t0\n",
    secret, plain, secret, plain))
end

TestHostileLogin = {}

-- The sshd's ForceCommand: what the mode file says is printed before the command, as a
-- chatty ~/.ssh/rc or login script would (this sshd only, the test user's files stay).
local LOGIN = [[#!/bin/sh
case "$(cat %s)" in
  line) echo "login noise"; echo "login noise on stderr" >&2 ;;
  partial) printf 'login noise without a newline' ;;
  flood) head -c 100000 /dev/zero | tr '\0' n; echo ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
]]

function TestHostileLogin.setupClass()
  local dir = h.tmpdir()
  h.sh("chmod 755 " .. dir)
  TestHostileLogin.mode = h.write(dir .. "/mode", "line")
  h.write(dir .. "/login.sh", string.format(LOGIN, TestHostileLogin.mode))
  h.sh("chmod 644 " .. dir .. "/*")
  TestHostileLogin.server = sshd.start({ force_command = "/bin/sh " .. dir .. "/login.sh" })
end

function TestHostileLogin.teardownClass()
  TestHostileLogin.server:kill_all()
end

function TestHostileLogin:tearDown() -- a failed check leaves its command running
  if self.marker then h.sh("pkill -u " .. sshd.user .. " -f '[s]leep " .. self.marker .. "'") end
  self.marker = nil
end

-- With the login printing `mode`: a command's output and status, and a command that
-- times out; returns the two logs and the marker of the second one's sleep.
function TestHostileLogin:check(mode)
  h.write(self.mode, mode)
  local dir, marker = h.tmpdir(), 9000 + math.random(999)
  self.marker = marker
  local _, out = script(dir, string.format([[
    print(cijoe.run("echo out; exit 3"))
    local err, st = cijoe.run("echo begun; sleep %d", { timeout = 1 })
    print(err ~= 0, st.timed_out)]], marker), self.server:config())
  lu.assertStrMatches(out, "3\ttable: [^\n]+\ntrue\ttrue\n", nil, nil, mode)
  local step = h.latest(dir) .. "/001_s/"
  local first, second = h.read(step .. "cmd_01.output"), h.read(step .. "cmd_02.output")
  for _, log in ipairs({ first, second }) do
    lu.assertNotStrContains(log, "joe-pid:", false, mode)
    lu.assertNotStrContains(log, "\30", false, mode)
  end
  -- the login's own shell (sh -c of the ForceCommand) may say that its child, the
  -- command's shell, was killed: what a login prints is the log's, as the lines above
  return first, (second:gsub("\nTerminated\n", "\n", 1)), marker
end

-- Whether the remote sleep was gone; one that is left is killed here.
local function stopped(marker)
  local gone = sleep_gone(marker)
  h.sh("pkill -u " .. sshd.user .. " -f '[s]leep " .. marker .. "'")
  return gone
end

function TestHostileLogin:test_login_lines_stay_in_the_log_and_timeouts_still_kill()
  local first, second, marker = self:check("line")
  -- the login's stderr line may come anywhere: sshd reads stdout and stderr apart
  local function sorted(text)
    local lines = {}
    for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
    table.sort(lines)
    return table.concat(lines, "|")
  end
  lu.assertStrContains(first, "login noise\n")
  lu.assertEquals(sorted(first), "login noise|login noise on stderr|out")
  lu.assertEquals(sorted(second), "begun|login noise|login noise on stderr")
  -- the stop script of the timeout ran through the same login, on a channel of its own
  lu.assertTrue(stopped(marker), "the timeout did not stop the remote command")
end

-- Where two long texts part (luaunit's own message would take minutes to diff 100 KB).
local function assert_same_text(actual, expected)
  if actual == expected then return end
  local i = 1
  while actual:byte(i) == expected:byte(i) do i = i + 1 end
  lu.fail(string.format("%d bytes, not %d; they part at byte %d: %q instead of %q", #actual,
    #expected, i, actual:sub(i, i + 40), expected:sub(i, i + 40)))
end

function TestHostileLogin:test_a_login_flood_before_the_pid_line()
  local flood = string.rep("n", 100000) .. "\n"
  local first, second, marker = self:check("flood")
  assert_same_text(first, flood .. "out\n")
  assert_same_text(second, flood .. "begun\n")
  lu.assertTrue(stopped(marker), "the timeout did not stop the remote command")
end

function TestHostileLogin:test_a_login_line_without_a_newline()
  local first, second, marker = self:check("partial")
  lu.assertEquals(first, "login noise without a newlineout\n")
  lu.assertEquals(second, "login noise without a newlinebegun\n")
  lu.assertTrue(stopped(marker), "the timeout did not stop the remote command")
end

TestHostileBlackhole = {}

function TestHostileBlackhole.setupClass()
  TestHostileBlackhole.net = require("jumphosts").start({ hops = 1 })
end

function TestHostileBlackhole.teardownClass()
  TestHostileBlackhole.net:stop()
end

-- Take the link of the first host of the network down on its side (or up again): what
-- this machine sends it is lost, and nothing comes back, as in a blackhole.
function TestHostileBlackhole:link(state)
  local host = self.net.jumps[1]
  local out, status = h.sh(string.format("ip netns exec %s ip link set dev jh%sa1 %s", host.ns,
    self.net.block, state))
  lu.assertEquals(status, 0, out)
end

function TestHostileBlackhole:test_a_blackholed_target_fails_a_command_and_a_connect()
  local host, dir = self.net.jumps[1], h.tmpdir()
  h.write(dir .. "/c.yaml", string.format([[
cijoe:
  transport:
    target: {hostname: %s, port: 22, username: %s, key_filename: %s, known_hosts: %s,
      keepalive: 1, keepalive_count_max: 2, connect_timeout: 2}
]], host.host, host.user, host.key, host.known_hosts))
  h.write(dir .. "/s.lua", [[
    io.stdout:setvbuf("line")
    print(cijoe.run("echo begun; sleep 60"))
    print(cijoe.run("true"))]])
  h.sh(string.format("(cd %s && timeout -s KILL %d %s -q -c c.yaml s.lua > out.txt 2>&1; " ..
    "echo $? >> out.txt) >/dev/null 2>&1 &", h.q(dir), h.bound(60), h.q(h.joe)))
  local log = dir .. "/cijoe-output/latest/001_s/cmd_01.output"
  local begun = h.wait_for(function() return h.read(log) == "begun\n" end, h.bound(10))
  self:link("down")
  local done = h.wait_for(function() return (h.read(dir .. "/out.txt") or ""):find("\n%d+\n$") end,
    h.bound(40))
  self:link("up")
  lu.assertNotNil(begun, "the command did not begin")
  lu.assertNotNil(done, "joe hung on a blackholed target")
  lu.assertStrMatches(h.read(dir .. "/out.txt"), "255\ttable: [^\n]+\nnil\ttransport target: " ..
    "[^\n]+\n.*1\n")
  lu.assertStrContains(h.yaml(dir .. "/cijoe-output/latest/001_s/cmd_01.state").lost,
    "connection lost: no answer to 2 keepalives")
end
