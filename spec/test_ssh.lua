-- The SSH transport against a real sshd on loopback: commands, logs, timeouts, quoting,
-- authentication, host keys, a dying server, SFTP trees and big files, two transports.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

TestSsh = {}

function TestSsh.setupClass()
  TestSsh.server = sshd.start()
end

function TestSsh.teardownClass()
  TestSsh.server:kill_all()
end

function TestSsh:setUp()
  self.dir = h.tmpdir()
  self.server:start() -- a test may have stopped it
  h.write(self.dir .. "/ssh.yaml", self.server:config())
end

-- Run a script body with the fixture's config; returns status, stdout, stderr.
function TestSsh:script(body, config)
  h.write(self.dir .. "/s.lua", body)
  return h.joe_in(self.dir, "-q -c " .. (config or "ssh.yaml") .. " s.lua")
end

function TestSsh:log(n)
  return h.read(string.format("%s/001_s/cmd_%02d.output", h.latest(self.dir), n))
end

function TestSsh:test_exit_status_signal_and_output()
  local status, out = self:script([[
    print((cijoe.run("echo out; echo err >&2; exit 3")))
    print((cijoe.run("kill -TERM $$")))
    local _, st = cijoe.run("id -un")
    print(st.transport, st:output())]])
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "3\n143\ntarget\tjoetest\n")
  lu.assertEquals(self:log(1), "out\nerr\n")
end

function TestSsh:test_100mb_interleaved_output_is_logged_whole()
  local status, out = self:script([[
    print((cijoe.run("yes o | head -c 50000000 & yes e | head -c 50000000 >&2; wait")))]])
  lu.assertEquals(status, 0)
  lu.assertEquals(out, "0\n")
  local log = string.format("%s/001_s/cmd_01.output", h.latest(self.dir))
  lu.assertEquals(h.sh("wc -c < " .. log), "100000000\n")
  lu.assertEquals(h.sh("tr -cd o < " .. log .. " | wc -c"), "25000000\n")
  lu.assertEquals(h.sh("tr -cd e < " .. log .. " | wc -c"), "25000000\n")
  lu.assertEquals(h.sh("tr -d 'oe\\n' < " .. log .. " | wc -c"), "0\n")
end

function TestSsh:test_timeout_kills_remote_and_session_survives()
  local marker = 5000 + math.random(999)
  local status, out = self:script(string.format([[
    local t0 = require("cijoe.proc").now()
    local err, st = cijoe.run("echo begun; sleep %d; echo never", { timeout = 1 })
    print(err ~= 0, st.timed_out, require("cijoe.proc").now() - t0 < 6)
    print(cijoe.run("echo after"))]], marker))
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "true\ttrue\ttrue\n0\t")
  lu.assertEquals(self:log(1), "begun\n")
  lu.assertEquals(self:log(2), "after\n")
  h.sh("sleep 0.5")
  lu.assertEquals(h.sh("pgrep -u joetest -f '[s]leep " .. marker .. "' || true"), "")
end

function TestSsh:test_env_cwd_and_hostile_values()
  local flag = self.dir .. "/pwned"
  local status = self:script(string.format([[
    cijoe.run('pwd; printf "%%s|" "$A" "$B"', { cwd = "/tmp", env = { A = "x'; touch %s; '$(touch %s)", B = 2 } })]], flag, flag))
  lu.assertEquals(status, 0)
  lu.assertEquals(self:log(1), string.format("/tmp\nx'; touch %s; '$(touch %s)|2|", flag, flag))
  lu.assertNil(h.read(flag))
  -- values with line breaks (read whole, not line by line), a backslash at a line's end
  -- and a value that looks like the loop's own variable
  status = self:script([[
    cijoe.run('printf "%s|" "$A" "$B" "$C" "${joe_l-unset}"', { env = { A = "one\ntwo\r\n",
      B = "back\\", C = "$joe_l" } })
    cijoe.run('printf "%s|" "$B" "${joe_l-unset}"', { env = { B = "end\\" } })]])
  lu.assertEquals(status, 0)
  lu.assertEquals(self:log(1), "one\ntwo\r\n|back\\|$joe_l|unset|")
  lu.assertEquals(self:log(2), "end\\|unset|")
end

-- The wrapper runs the command only once the whole input came, its go line last: joe sends
-- the input once the server confirmed the exec, so a channel given up before that (and
-- the command sent again on a new session) ends the input early, and nothing runs twice.
-- Through a real sh with the input cut in the go line, then whole; with no env, one value
-- and one with a line break (read by cat).
function TestSsh:test_a_command_runs_only_once_its_whole_input_came()
  local wrap = require("cijoe.transport_ssh")._wrap
  local markers = { pid = "\30joe-pid:t:", ending = "\30joe-end:t:" }
  local ran = self.dir .. "/ran"
  for _, env in ipairs({ {}, { { "A", "x y" } }, { { "A", "two\nlines" } } }) do
    local cmd, input = wrap('echo "ran $A" >> ' .. h.q(ran), { env = env }, markers)
    h.write(self.dir .. "/cut", input:sub(1, #input - 3))
    h.write(self.dir .. "/whole", input)
    local out, status = h.sh("sh -c " .. h.q(cmd) .. " < " .. h.q(self.dir .. "/cut"))
    lu.assertEquals({ out, status, h.sh("cat " .. h.q(ran) .. " 2>&1 || true"):match("No such") },
      { "", 125, "No such" })
    out, status = h.sh("sh -c " .. h.q(cmd) .. " < " .. h.q(self.dir .. "/whole"))
    lu.assertEquals(status, 0)
    lu.assertStrContains(out, "\30joe-end:t:0\n")
    lu.assertEquals(h.read(ran), "ran " .. (env[1] and env[1][2] or "") .. "\n")
    os.remove(ran)
  end
end

function TestSsh:test_wrong_password_names_host()
  h.write(self.dir .. "/pw.yaml", self.server:config(nil, { key_filename = false, password = "wrong" }))
  local status, out = self:script([[print(cijoe.run("true"))]], "pw.yaml")
  lu.assertEquals(status, 1) -- its command could not run: the script fails
  lu.assertStrContains(out, "nil\ttransport target: joetest@127.0.0.1:" .. self.server.port .. ": authentication failed")
  lu.assertNotStrContains(h.sh("cat " .. h.latest(self.dir) .. "/*/*"), "wrong")
end

function TestSsh:test_password_login()
  h.write(self.dir .. "/pw.yaml", self.server:config(nil, { key_filename = false, password = sshd.password }))
  local status, out = self:script([[print(cijoe.run("true"))]], "pw.yaml")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "0\t")
  lu.assertNotStrContains(h.read(h.latest(self.dir) .. "/config.orig"), sshd.password)
end

function TestSsh:test_agent_and_passphrase_keys()
  h.sh("cp " .. self.server.dir .. "/id_ed25519 " .. self.dir .. "/locked && ssh-keygen -q -p -P '' -N 'sesame' -f " .. self.dir .. "/locked")
  h.write(self.dir .. "/pp.yaml", self.server:config(nil, { key_filename = self.dir .. "/locked", passphrase = "sesame" }))
  local status, out = self:script([[print(cijoe.run("true"))]], "pp.yaml")
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, "0\t")
  h.write(self.dir .. "/agent.yaml", self.server:config(nil, { key_filename = false }))
  h.write(self.dir .. "/s.lua", [[print(cijoe.run("true"))]])
  local agent_out = h.sh(string.format("cd %s && eval $(ssh-agent -s) >/dev/null && ssh-add -q %s/id_ed25519 && %s -q -c agent.yaml s.lua; kill $SSH_AGENT_PID",
    self.dir, self.server.dir, h.joe))
  lu.assertStrContains(agent_out, "0\t")
end

function TestSsh:test_host_key_policies()
  local other = self.dir .. "/other_known_hosts"
  h.write(other, "[127.0.0.1]:" .. self.server.port .. " " .. h.read(self.server.dir .. "/id_ed25519.pub"))
  local empty = self.dir .. "/empty_known_hosts"
  local cases = {
    { empty, "yes", "the host key is not known (SHA256:" },
    { other, "yes", "the host key has CHANGED" },
    { other, "accept-new", "the host key has CHANGED" },
    { other, "no", "0\t" },
    { empty, "accept-new", "0\t" },
    { empty, "yes", "0\t" }, -- accept-new wrote it down
  }
  for _, case in ipairs(cases) do
    h.write(self.dir .. "/hk.yaml", self.server:config(nil, { known_hosts = case[1], host_key_check = case[2] }))
    local _, out = self:script([[print(cijoe.run("true"))]], "hk.yaml")
    lu.assertNotNil(out:find(case[3], 1, true), case[2] .. " " .. case[1] .. ": " .. out)
  end
  -- written as OpenSSH would (hashed: Debian's ssh_config says HashKnownHosts yes), and
  -- OpenSSH finds it
  local found = h.sh("ssh-keygen -F '[127.0.0.1]:" .. self.server.port .. "' -f " .. h.q(empty))
  lu.assertStrContains(found, " ssh-ed25519 ")
end

function TestSsh:test_server_dies_mid_command_then_reconnect()
  local go = self.dir .. "/go"
  h.write(self.dir .. "/s.lua", string.format([[
    print(cijoe.run("echo begun; sleep 30"))
    while not io.open(%q) do os.execute("sleep 0.1") end
    print(cijoe.run("echo again"))]], go))
  local out = h.sh(string.format([[cd %s && (%s -q -c ssh.yaml s.lua > out.txt 2>&1 & pid=$!;
    while ! grep -qs begun cijoe-output/latest/001_s/cmd_01.output; do sleep 0.05; done;
    echo killing; ) ]], h.q(self.dir), h.q(h.joe)))
  lu.assertStrContains(out, "killing")
  self.server:kill_all()
  self.server:start()
  h.write(go, "")
  h.sh("for i in $(seq 100); do grep -q again " .. self.dir .. "/out.txt 2>/dev/null && break; sleep 0.1; done")
  local printed = h.read(self.dir .. "/out.txt")
  -- it started, so it is no "did not run": 255, as ssh(1) gives, and the step fails
  lu.assertStrMatches(printed, "255\ttable: [^\n]+\n.*")
  lu.assertStrContains(printed, "`echo begun; sleep 30` on target: the connection was lost " ..
    "while it ran (exit status 255): transport target: joetest@127.0.0.1:" ..
    self.server.port .. ": the connection broke")
  lu.assertStrMatches(printed, ".*\n0\ttable: .*")
  lu.assertEquals(self:log(2), "again\n")
end

function TestSsh:test_server_restarted_between_commands_reconnects_once()
  local go, ready = self.dir .. "/go", self.dir .. "/ready"
  h.write(self.dir .. "/s.lua", string.format([[
    print(cijoe.run("echo one"))
    io.open(%q, "w"):close()
    while not io.open(%q) do os.execute("sleep 0.1") end
    print(cijoe.run("echo two"))]], ready, go))
  h.sh(string.format("cd %s && (%s -q -c ssh.yaml s.lua > out.txt 2>&1 &)", h.q(self.dir), h.q(h.joe)))
  h.sh("for i in $(seq 100); do [ -e " .. ready .. " ] && break; sleep 0.05; done")
  self.server:kill_all()
  self.server:start()
  h.write(go, "")
  h.sh("for i in $(seq 100); do grep -q '^0.*\n0' " .. self.dir .. "/out.txt 2>/dev/null; [ $(grep -c '^0' " .. self.dir .. "/out.txt) = 2 ] && break; sleep 0.1; done")
  lu.assertStrMatches(h.read(self.dir .. "/out.txt"), "0\ttable: [^\n]*\n0\ttable: [^\n]*\n")
  lu.assertEquals(self:log(2), "two\n")
end

function TestSsh:test_silent_server_times_out_connecting()
  local port = self.server.port + 1
  h.sh("(timeout 20 nc -l 127.0.0.1 " .. port .. " >/dev/null 2>&1 &) ; sleep 0.3")
  h.write(self.dir .. "/silent.yaml", self.server:config(nil, { port = port, connect_timeout = 1 }))
  local status, out = self:script([[
    local t0 = require("cijoe.proc").now()
    print(cijoe.run("true"))
    print(require("cijoe.proc").now() - t0 < 4)]], "silent.yaml")
  lu.assertEquals(status, 1) -- its command could not run: the script fails
  lu.assertStrContains(out, "nil\ttransport target: joetest@127.0.0.1:" .. port .. ": SSH handshake failed")
  lu.assertStrContains(out, "\ntrue\n")
end

function TestSsh:test_put_get_tree_with_modes()
  h.write(self.dir .. "/tree/a.txt", "A")
  h.write(self.dir .. "/tree/sub/run.sh", "echo run")
  h.sh("chmod 751 " .. self.dir .. "/tree/sub/run.sh; chmod 700 " .. self.dir .. "/tree/sub")
  local remote = "/tmp/joe-put-" .. math.random(1e9)
  local status, out = self:script(string.format([[
    print(cijoe.put("tree", %q))
    print(cijoe.run("stat -c '%%a %%n' %s/a.txt %s/sub/run.sh && sh %s/sub/run.sh"))
    print(cijoe.get(%q, "back"))
    print(cijoe.get("/nonexistent/file", "x"))
    cijoe.run("rm -rf %s")]], remote, remote, remote, remote, remote, remote))
  lu.assertEquals(status, 1, out) -- the failed get fails the step
  lu.assertStrContains(out, "true\n0\t")
  local back = h.latest(self.dir) .. "/001_s/artifacts/back"
  lu.assertEquals(h.read(back .. "/sub/run.sh"), "echo run")
  lu.assertEquals(h.sh("stat -c %a " .. back .. "/sub/run.sh"), "751\n")
  lu.assertStrContains(self:log(1), "644 " .. remote .. "/a.txt\n751 " .. remote .. "/sub/run.sh\nrun\n")
  lu.assertStrContains(out, "nil\tjoetest@127.0.0.1:" .. self.server.port .. ": /nonexistent/file: no such file")
end

function TestSsh:test_256mib_file_roundtrip_checksum()
  h.sh("head -c 268435456 /dev/urandom > " .. self.dir .. "/big")
  local sum = h.sh("sha256sum < " .. self.dir .. "/big")
  local remote = "/tmp/joe-big-" .. math.random(1e9)
  local status, out = self:script(string.format([[
    print(cijoe.put("big", %q))
    local _, st = cijoe.run("sha256sum < %s")
    io.write(st:output())
    print(cijoe.get(%q, "big.back"))
    cijoe.run("rm -f %s")]], remote, remote, remote, remote))
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, "true\n" .. sum .. "true\n")
  lu.assertEquals(h.sh("sha256sum < " .. h.latest(self.dir) .. "/001_s/artifacts/big.back"), sum)
end

function TestSsh:test_two_transports_and_local()
  h.write(self.dir .. "/two.yaml", self.server:config({ "first", "second" }))
  local status, out = self:script([[
    print(cijoe.default_transport())
    for _, t in ipairs({ "first", "second", "local" }) do
      local err, st = cijoe.run("echo $USER", { transport = t })
      print(err, st.transport)
    end
    local _, st = cijoe.run_local("true")
    print(st.transport)]], "two.yaml")
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, "first\n0\tfirst\n0\tsecond\n0\tlocal\nlocal\n")
end

function TestSsh:test_unreachable_host_is_nil_and_message()
  h.write(self.dir .. "/dead.yaml", self.server:config(nil, { port = 1, connect_timeout = 2 }))
  local status, out = self:script([[print(cijoe.run("true"))]], "dead.yaml")
  lu.assertEquals(status, 1) -- its command could not run: the script fails
  lu.assertStrContains(out, "nil\ttransport target: joetest@127.0.0.1:1: Connection refused")
end

-- Keepalives go out while joe waits on something else: a local command, a sleep. sshd's
-- debug log shows each keepalive request and each exec, so count those between execs.
function TestSsh:test_idle_session_gets_keepalives()
  local server = sshd.start({ log_level = "DEBUG" })
  h.write(self.dir .. "/ka.yaml", server:config(nil, { keepalive = 2 }))
  local status, out = self:script([[
    local a = select(2, cijoe.run("echo $PPID")):output()
    cijoe.run_local("sleep 4.5")
    local b = select(2, cijoe.run("echo $PPID")):output()
    require("cijoe.proc").sleep(4.5)
    local c = select(2, cijoe.run("echo $PPID")):output()
    print(a == b and b == c)]], "ka.yaml")
  local log = h.read(server.dir .. "/sshd.log")
  server:kill_all()
  lu.assertEquals({ status, out }, { 0, "true\n" }, log) -- one session throughout
  local parts = {}
  for part in log:gmatch("(.-)request exec") do
    local _, n = part:gsub("keepalive@", "")
    parts[#parts + 1] = n >= 2
  end
  lu.assertEquals({ parts[2], parts[3] }, { true, true }, log)
end

function TestSsh:test_joe_test_against_the_target()
  h.write(self.dir .. "/tests/test_remote.lua", [[
local lu = require("luaunit")
function test_runs_on_target()
  local err, st = cijoe.run("id -un")
  lu.assertEquals(err, 0)
  lu.assertEquals(st:output(), "joetest\n")
  lu.assertEquals(st.transport, "target")
end]])
  local status, out = h.joe_in(self.dir, "-q -c ssh.yaml test tests")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, ".*\n1 passed, 0 failed, 0 skipped\n$")
end

function TestSsh:test_testrunner_runs_joe_on_the_target()
  h.write(self.dir .. "/tests/test_there.lua", [[
local lu = require("luaunit")
function test_where() lu.assertEquals(select(2, cijoe.run_local("id -un")):output(), "joetest\n") end
function test_fails() lu.assertEquals(1, 2) end]])
  h.write(self.dir .. "/wf.yaml", "steps:\n- name: remote_tests\n  uses: core.testrunner\n  with: {args: tests, run_local: false}\n")
  local status, out = h.joe_in(self.dir, "-q -c ssh.yaml wf.yaml")
  lu.assertEquals(status, 1, out)
  local step = h.latest(self.dir) .. "/001_remote_tests"
  local results = {}
  for _, t in ipairs(h.yaml(step .. "/tests.yaml")) do results[t.name] = t.status end
  lu.assertEquals(results, { test_where = "passed", test_fails = "failed" })
  lu.assertNotNil(h.read(step .. "/tests/report.html"))
  lu.assertEquals(h.sh("ls -d /tmp/joe-testrunner-* 2>/dev/null | wc -l"), "0\n")
end

-- What a key file that cannot be used says: its path and why.
function TestSsh:test_key_file_messages()
  h.sh("cd " .. h.q(self.dir) .. " && cp " .. self.server.dir .. "/id_ed25519 locked && " ..
    "ssh-keygen -q -p -P '' -N 'sesame' -f locked && ssh-keygen -q -t rsa -b 2048 -N '' -f rsa && " ..
    "cat rsa.pub >> " .. self.server.dir .. "/authorized_keys")
  local cases = {
    { self.dir .. "/nosuch", false, "key file " .. self.dir .. "/nosuch: No such file or directory" },
    { self.dir .. "/locked", false, "key file " .. self.dir .. "/locked needs a passphrase" },
    { self.dir .. "/locked", "wrong", "key file " .. self.dir .. "/locked: wrong passphrase" },
    { self.dir .. "/rsa", false, "key file " .. self.dir .. "/rsa refused: it is an RSA key, which " ..
      "libssh2 1.10 can sign only with SHA-1 (ssh-rsa)" },
    { self.server.dir .. "/id_ed25519.pub", false, "id_ed25519.pub: not a private key file (give the key, not its .pub)" },
  }
  for _, case in ipairs(cases) do
    h.write(self.dir .. "/k.yaml", self.server:config(nil, { key_filename = case[1], passphrase = case[2],
      ssh_config = "none" }))
    local status, out = self:script([[print(cijoe.run("true"))]], "k.yaml")
    lu.assertEquals(status, 1, out)
    lu.assertStrContains(out, "authentication failed (" , false, out)
    lu.assertStrContains(out, case[3], false, out)
  end
end

-- Numbers that OpenSSH takes but C could not (seconds * 1000 in an int, a count past any
-- integer) are held to joe's bounds on their way from ssh_config; a command's timeout is
-- refused past them, before it reaches C (under the sanitizers, an overflow would stop joe).
function TestSsh:test_numbers_too_big_for_c_are_bounded_or_refused()
  h.write(self.dir .. "/ssh_config", "Host *\n  ConnectTimeout 2147483647\n" ..
    "  ServerAliveInterval 2147483647\n  ServerAliveCountMax 99999999999999999999\n")
  h.write(self.dir .. "/b.yaml",
    self.server:config(nil, { ssh_config = self.dir .. "/ssh_config" }))
  local status, out = self:script([[
print(cijoe.run("echo up"))
print(pcall(cijoe.run, "true", { timeout = 1e12 }))]], "b.yaml")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, "0\ttable: [^\n]+\nfalse\t[^\n]*bad option timeout to 'run' %(a " ..
    "number of seconds above 0 and at most 2000000 expected, got 1e%+12%)\n")
end

-- With no key_filename, OpenSSH's default key files are tried (after the agent), and the
-- failure lists what was tried.
function TestSsh:test_default_identities()
  local home = h.tmpdir()
  h.sh("mkdir -p " .. home .. "/.ssh && cp " .. self.server.dir .. "/id_ed25519 " .. home .. "/.ssh/")
  h.write(self.dir .. "/d.yaml", self.server:config(nil, { key_filename = false, ssh_config = "none" }))
  h.write(self.dir .. "/s.lua", [[local e, m = cijoe.run("true") print(e, e == nil and m or "")]])
  local status, out = h.joe_in(self.dir, "-q -c d.yaml s.lua", "SSH_AUTH_SOCK= HOME=" .. h.q(home))
  lu.assertEquals({ status, out }, { 0, "0\t\n" })
  h.sh("rm " .. home .. "/.ssh/id_ed25519")
  status, out = h.joe_in(self.dir, "-q -c d.yaml s.lua", "SSH_AUTH_SOCK= HOME=" .. h.q(home))
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "authentication failed (no key file, no ssh-agent, no password)")
end
