-- joe through jump hosts and ssh_config, against real sshds in network namespaces where
-- the target cannot be reached but through the jumps (spec/jumphosts.lua): aliases of
-- ~/.ssh/config, ProxyJump chains of one and two hops (from ssh_config, a transport key,
-- a transport's name), ProxyCommand, and what fails says which hop.
local lu = require("luaunit")
local h = require("helper")
local jumphosts = require("jumphosts")

TestSshJump = {}

function TestSshJump.setupClass()
  TestSshJump.two = jumphosts.start({ hops = 2 })
end

function TestSshJump.teardownClass()
  TestSshJump.two:stop()
end

function TestSshJump:setUp()
  self.dir = h.tmpdir()
  self.config = self.two:ssh_config(self.dir .. "/ssh_config")
end

-- Run a script body with a config; returns status, stdout, stderr.
function TestSshJump:script(config, body)
  h.write(self.dir .. "/c.yaml", config)
  h.write(self.dir .. "/s.lua", body)
  return h.joe_in(self.dir, "-q -c c.yaml s.lua")
end

-- Where a command ran and from where its client came, as the target tells it.
local WHERE = [[
local err, st = cijoe.run("echo $(hostname) ${SSH_CONNECTION%% *}")
io.write(tostring(err), "\t", err and st:output() or st .. "\n")]]

function TestSshJump:test_an_alias_of_ssh_config_through_two_hops()
  local target = self.two.target
  local status, out, err = self:script("cijoe: {transport: {t: {hostname: target, ssh_config: " ..
    self.config .. "}}}\n", WHERE)
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "0\t" .. target.name .. " " .. target.from .. "\n")
end

function TestSshJump:test_the_target_alone_cannot_be_reached()
  local t = self.two.target
  local status, out = self:script(string.format("cijoe: {transport: {t: {hostname: %s, " ..
    "username: joetest, key_filename: %s, known_hosts: %s, connect_timeout: 2, ssh_config: none}}}\n",
    t.host, self.two.key, self.two.known_hosts), WHERE)
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "nil\t")
end

function TestSshJump:test_proxy_jump_in_the_transport_and_sftp_through_it()
  local j1, j2, t = self.two.jumps[1], self.two.jumps[2], self.two.target
  h.write(self.dir .. "/tree/a.txt", "A")
  local status, out, err = self:script(string.format("cijoe: {transport: {t: {hostname: %s, " ..
    "proxy_jump: 'joetest@%s,%s:22', ssh_config: %s}}}\n", t.host, j1.host, j2.host, self.config),
    WHERE .. [[
assert(cijoe.put("tree", "/tmp/joe-jump-tree"))
assert(cijoe.get("/tmp/joe-jump-tree", "back"))
print(io.open(cijoe.step_path("artifacts") .. "/back/a.txt"):read("a"))
cijoe.run("rm -rf /tmp/joe-jump-tree")]])
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "0\t" .. t.name .. " " .. t.from .. "\nA\n")
end

function TestSshJump:test_a_jump_named_after_a_transport()
  local j1, j2, t = self.two.jumps[1], self.two.jumps[2], self.two.target
  local keys = string.format("username: joetest, key_filename: %s, known_hosts: %s, ssh_config: none",
    self.two.key, self.two.known_hosts)
  local status, out, err = self:script(string.format("cijoe:\n  transport:\n" ..
    "    t: {hostname: %s, proxy_jump: b2, %s}\n    b1: {hostname: %s, %s}\n" ..
    "    b2: {hostname: %s, proxy_jump: b1, %s}\n", t.host, keys, j1.host, keys, j2.host, keys), WHERE)
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "0\t" .. t.name .. " " .. t.from .. "\n")
end

function TestSshJump:test_proxy_command()
  local j1, j2 = self.two.jumps[1], self.two.jumps[2]
  local status, out, err = self:script(string.format("cijoe: {transport: {t: {hostname: %s, " ..
    "proxy_command: 'ssh -F %s -W %%h:%%p jump1', ssh_config: %s}}}\n", j2.host, self.config,
    self.config), WHERE)
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "0\t" .. j2.name .. " " .. j2.from .. "\n")
end

function TestSshJump:test_a_hop_that_refuses_the_login_is_named()
  local j1, j2 = self.two.jumps[1], self.two.jumps[2]
  h.write(self.dir .. "/bad_config", "Host jump1\n  User nobody-here\n" .. h.read(self.config))
  local status, out = self:script(string.format("cijoe: {transport: {t: {hostname: target, " ..
    "ssh_config: %s}}}\n", self.dir .. "/bad_config"), WHERE)
  lu.assertEquals(status, 1)
  local expected = string.format("nil\ttransport t: jump jump2 (%s:22): jump jump1 (%s:22): " ..
    "nobody-here@%s:22 (jump1): authentication failed (key file %s refused)\n", j2.host, j1.host,
    j1.host, self.two.key)
  lu.assertEquals(out, expected)
end

function TestSshJump:test_a_name_that_does_not_resolve_says_so()
  local status, out = self:script("cijoe: {transport: {t: {hostname: nosuch.invalid, " ..
    "connect_timeout: 2, ssh_config: none}}}\n", WHERE)
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, "nil\ttransport t: [%w]+@nosuch%.invalid:22: cannot resolve nosuch%.invalid: .*\n")
end

function TestSshJump:test_just_an_alias_of_the_users_ssh_config()
  local home = h.tmpdir()
  h.write(home .. "/.ssh/config", h.read(self.config))
  h.sh("chmod 700 " .. h.q(home .. "/.ssh"))
  h.write(self.dir .. "/c.yaml", "cijoe: {transport: {t: {hostname: target}}}\n")
  h.write(self.dir .. "/s.lua", WHERE)
  local status, out, err = h.joe_in(self.dir, "-q -c c.yaml s.lua", "HOME=" .. h.q(home))
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "0\t" .. self.two.target.name .. " " .. self.two.target.from .. "\n")
end

-- Through two jumps, as directly: a timeout stops the remote command, and after the
-- target's sshd was killed the next command connects again.
function TestSshJump:test_timeout_and_reconnect_through_jumps()
  local t = self.two.target
  local marker = 7000 + math.random(999)
  local go = self.dir .. "/go"
  h.write(self.dir .. "/c.yaml", "cijoe: {transport: {t: {hostname: target, ssh_config: " ..
    self.config .. "}}}\n")
  h.write(self.dir .. "/s.lua", string.format([[
local err, st = cijoe.run("echo begun; sleep %d", { timeout = 1 })
print(err, st.timed_out)
io.open("ready", "w"):close()
while not io.open(%q) do os.execute("sleep 0.1") end
print((cijoe.run("true")))]], marker, go))
  h.sh("cd " .. h.q(self.dir) .. " && (" .. h.q(h.joe) .. " -q -c c.yaml s.lua > out.txt 2>&1 &)")
  lu.assertNotNil(h.wait_for(function() return h.read(self.dir .. "/ready") end, 20))
  lu.assertEquals(h.sh("ip netns exec " .. t.ns .. " pgrep -f '[s]leep " .. marker .. "' || echo gone"), "gone\n")
  t.server:kill_all()
  t.server:start()
  h.write(go, "")
  local out = h.wait_for(function()
    local text = h.read(self.dir .. "/out.txt") or ""
    return text:find("\n.*\n") and text
  end, 20)
  lu.assertEquals(out, "143\ttrue\n0\n")
end
