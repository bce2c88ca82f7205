-- Issue 14, files (items 1, 2 and 8): put and get against a hostile SFTP server of the
-- fixture's own (spec/sftp_hostile.py, run by a real sshd as its `Subsystem sftp`) and
-- against OpenSSH's sftp-server: no write outside the destination, links made again and
-- never followed, no setuid bit kept unasked, no truncated file at the final name, and
-- a stalled transfer bounded, after which transfers work again. Every joe runs under the
-- watchdog (h.joe_watched), so a hang fails the test instead of stalling the suite.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

local PYTHON = "/usr/bin/python3 " .. h.root .. "/spec/sftp_hostile.py"

-- A folder the test user (the SFTP server's user) can write into.
local function shared_dir()
  local dir = h.tmpdir()
  h.sh("chmod 1777 " .. dir)
  return dir
end

-- The names in dir whose name says they are a transfer's temporary file.
local function temporaries(dir)
  return h.sh("find " .. h.q(dir) .. " -name '.joe-*' 2>/dev/null")
end

-- Run a script body with a config (YAML text) under the watchdog; status, out, err.
local function script(dir, body, conf, bound, env)
  h.write(dir .. "/c.yaml", conf)
  h.write(dir .. "/s.lua", body)
  return h.joe_watched(dir, "-q -c c.yaml s.lua", bound or 30, env)
end

-- A test class whose tests share one sshd, started with options (sshd.start's).
local function class_with_server(options)
  local class = {}
  function class.setupClass() class.server = sshd.start(options) end
  function class.teardownClass() class.server:kill_all() end
  return class
end

TestHostileNames = {}

function TestHostileNames.setupClass()
  local dir = shared_dir()
  TestHostileNames.name_file = dir .. "/name"
  h.write(TestHostileNames.name_file, "x")
  h.sh("chmod 644 " .. TestHostileNames.name_file)
  TestHostileNames.server = sshd.start({ subsystem = PYTHON .. " names " ..
    TestHostileNames.name_file })
end

function TestHostileNames.teardownClass()
  TestHostileNames.server:kill_all()
end

-- get /hostile into a fresh folder with the listing's odd name set to name.
function TestHostileNames:get_with(name)
  local dir = h.tmpdir()
  h.write(self.name_file, name)
  local status, out, err = script(dir, string.format([[
    print(cijoe.get("/hostile", %q))]], dir .. "/into"), self.server:config())
  return dir, status, out, err
end

function TestHostileNames:test_names_that_would_leave_the_destination_are_refused()
  local escape = "/tmp/joe-escape-" .. math.random(1e9)
  for _, name in ipairs({ "../../../../../../.." .. escape, escape, "a/b", "ok\0.txt",
    "x\0/../../../.." .. escape }) do
    local dir, _, out = self:get_with(name)
    lu.assertStrContains(out, "nil\t/hostile: the listing holds the name " ..
      string.format("%q", name) .. ", which no folder can; refusing it", false)
    lu.assertNil(h.read(escape), "get wrote " .. escape .. " for the name " .. name)
    lu.assertEquals(h.sh("find " .. h.q(dir .. "/into") .. " -newer " .. h.q(dir .. "/s.lua") ..
      " -type f ! -name ok.txt"), "")
    lu.assertEquals(h.sh("find / -xdev -newer " .. h.q(dir .. "/s.lua") ..
      " -name 'joe-escape-*' 2>/dev/null"), "")
  end
end

function TestHostileNames:test_an_empty_name_is_refused_not_the_end_of_the_listing()
  local _, _, out = self:get_with("")
  lu.assertStrContains(out, 'nil\t/hostile: the listing holds the name "", which no folder ' ..
    "can; refusing it")
end

function TestHostileNames:test_dot_names_are_skipped_and_setuid_bits_dropped()
  -- "." and ".." of the listing are the folder itself and its parent: skipped, as
  -- OpenSSH's sftp skips them; ok.txt comes with mode 06755 from the server.
  local dir, status, out = self:get_with("zz.txt")
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, "true\n")
  lu.assertEquals(h.sh("cd " .. h.q(dir .. "/into") .. " && find . | sort"),
    ".\n./ok.txt\n./zz.txt\n")
  lu.assertEquals(h.read(dir .. "/into/ok.txt"), "ok\n")
  lu.assertEquals(h.sh("stat -c '%a %U' " .. h.q(dir .. "/into/ok.txt")), "755 root\n")
  lu.assertEquals(temporaries(dir), "")
end

-- A server slower to answer than the time left to the next keepalive: libssh2 1.10's
-- blocking calls wait only until a keepalive is due, and failed the read ("Timed out
-- waiting on socket") after at most `keepalive` seconds, not transfer_timeout (seen as
-- a fio result lost from a busy guest).
TestHostileSlow = class_with_server({ subsystem = PYTHON .. " slow 3.5" })

function TestHostileSlow:test_a_slow_reply_waits_for_transfer_timeout_not_a_keepalive()
  local dir = h.tmpdir()
  local status, out = script(dir, [[
    local t0 = require("cijoe.proc").now()
    print(cijoe.get("/f.txt", "]] .. dir .. [[/got"))
    print(require("cijoe.proc").now() - t0 >= 3.5)]],
    self.server:config(nil, { transfer_timeout = 30, keepalive = 2 }))
  lu.assertEquals(out, "true\ntrue\n")
  lu.assertEquals(status, 0)
  lu.assertEquals(h.read(dir .. "/got"), "ok\n")
end

TestHostileStall = {}

function TestHostileStall.setupClass()
  TestHostileStall.flags = shared_dir()
  TestHostileStall.flag = TestHostileStall.flags .. "/stalled"
  TestHostileStall.server = sshd.start({ subsystem = PYTHON .. " stall-once " ..
    TestHostileStall.flag })
end

function TestHostileStall.teardownClass()
  TestHostileStall.server:kill_all()
end

function TestHostileStall:setUp()
  os.remove(self.flag) -- the next SFTP session stalls
end

function TestHostileStall:test_a_stall_is_bounded_and_later_transfers_work()
  local dir = h.tmpdir()
  h.write(dir .. "/old", "old content\n")
  h.write(dir .. "/up", "up\n")
  local _, out = script(dir, [[
    local t0 = require("cijoe.proc").now()
    print("stalled", cijoe.get("/f.txt", "]] .. dir .. [[/old"))
    print("bounded", require("cijoe.proc").now() - t0 < 20)
    print("command", (cijoe.run("echo alive")))
    print("again", cijoe.get("/f.txt", "]] .. dir .. [[/new"))
    print("put", cijoe.put("]] .. dir .. [[/up", "/up.txt"))
    print("old", io.open("]] .. dir .. [[/old"):read("a"))]],
    self.server:config(nil, { transfer_timeout = 1, keepalive = 1 }))
  lu.assertStrMatches(out, "stalled\tnil\t[^\n]*/f.txt: [^\n]*\n.*")
  lu.assertStrContains(out,
    "\nbounded\ttrue\ncommand\t0\nagain\ttrue\nput\ttrue\nold\told content\n\n")
  lu.assertEquals(h.read(dir .. "/new"), "ok\n")
  lu.assertEquals(temporaries(dir), "")
  lu.assertNotNil(h.read(self.flag), "the server never stalled: the test proves nothing")
end

function TestHostileStall:test_a_server_stalled_for_good_fails_every_transfer_in_bound()
  h.write(self.flag, "") -- the stalls come from STOP instead
  local dir = h.tmpdir()
  h.write(dir .. "/old", "old\n")
  local go = dir .. "/go"
  h.write(dir .. "/c.yaml", self.server:config(nil, { transfer_timeout = 1, keepalive = 1,
    keepalive_count_max = 2 }))
  h.write(dir .. "/s.lua", string.format([[
    print("first", (cijoe.run("echo up")))
    io.open(%q, "w"):close()
    os.execute("sleep 0.5")
    print("get", cijoe.get("/f.txt", %q))
    print("put", cijoe.put(%q, "/g.txt"))]], go, dir .. "/old", dir .. "/old"))
  local out = h.sh_watched(string.format([[cd %s && { %s -q -c c.yaml s.lua > out.txt 2>&1 & }
    while [ ! -e %s ]; do sleep 0.05; done]], h.q(dir), h.q(h.joe), h.q(go)), 20)
  self.server:signal("STOP")
  local done = h.wait_for(function() return (h.read(dir .. "/out.txt") or ""):find("put\t") end,
    h.bound(30))
  self.server:signal("CONT")
  lu.assertNotNil(done, "joe hung on a stalled server: " .. out ..
    (h.read(dir .. "/out.txt") or ""))
  local printed = h.read(dir .. "/out.txt")
  lu.assertStrContains(printed, "first\t0\n")
  lu.assertStrMatches(printed, ".*get\tnil\t[^\n]+\nput\tnil\t[^\n]+\n.*")
  lu.assertEquals(h.read(dir .. "/old"), "old\n")
  lu.assertEquals(temporaries(dir), "")
end

TestHostileDeath = class_with_server({ subsystem = PYTHON .. " die" })

function TestHostileDeath:test_a_server_that_dies_mid_request_fails_the_transfer()
  -- The SFTP server exits on the read: joe notices no end of the channel and waits
  -- for transfer_timeout (libssh2 1.10 does not look at the channel's EOF there).
  local dir = h.tmpdir()
  h.write(dir .. "/old", "old\n")
  local _, out = script(dir, string.format([[
    print("get", cijoe.get("/f", %q))
    print("list", cijoe.get("/hostile", %q))
    print("command", (cijoe.run("echo alive")))]], dir .. "/old", dir .. "/tree"),
    self.server:config(nil, { transfer_timeout = 1 }))
  lu.assertStrMatches(out, "get\tnil\t[^\n]*/f: [^\n]+\nlist\tnil\t[^\n]*/hostile: [^\n]+\n" ..
    "command\t0\n")
  lu.assertEquals(h.read(dir .. "/old"), "old\n")
  lu.assertEquals(temporaries(dir), "")
end

-- SFTP v3 will not rename over a file, so a put over one moves the old file aside first;
-- here the rename that then puts the new file in place fails: the old one is back.
TestHostileRename = class_with_server({ subsystem = PYTHON .. " refuse-rename" })

function TestHostileRename:test_a_put_whose_last_rename_fails_keeps_the_old_file()
  local dir, there = h.tmpdir(), shared_dir()
  h.sh(string.format("su %s -c 'echo old there > %s/f'", sshd.user, there))
  h.write(dir .. "/new", "new\n")
  local _, out = script(dir, string.format([[
    print("over", cijoe.put(%q, %q))
    print("new", cijoe.put(%q, %q))]], dir .. "/new", there .. "/f", dir .. "/new",
    there .. "/g"), self.server:config())
  local at = sshd.user .. "@127.0.0.1:" .. self.server.port
  lu.assertEquals(out, string.format("over\tnil\t%s: %s/f: failure\nnew\tnil\t%s: %s/g: failure\n",
    at, there, at, there))
  lu.assertEquals(h.read(there .. "/f"), "old there\n")
  lu.assertNil(h.read(there .. "/g"))
  lu.assertEquals(temporaries(there), "")
end

TestHostileFiles = class_with_server()

function TestHostileFiles:setUp()
  self.dir = h.tmpdir()
  self.remote = shared_dir() -- the target's side (the same machine, the test user)
  self.mounts = {}
end

function TestHostileFiles:tearDown()
  for _, mnt in ipairs(self.mounts) do h.sh("umount -l " .. h.q(mnt)) end
end

function TestHostileFiles:run(body, extra, bound)
  return script(self.dir, body, self.server:config(nil, extra), bound)
end

-- A 1 MiB tmpfs at path that the test user may write into.
function TestHostileFiles:tmpfs(path)
  h.sh("mkdir -p " .. h.q(path))
  local out, status = h.sh("mount -t tmpfs -o size=1m,mode=1777 tmpfs " .. h.q(path))
  lu.assertEquals(status, 0, out)
  self.mounts[#self.mounts + 1] = path
  return path
end

function TestHostileFiles:test_get_makes_links_again_and_never_follows_them()
  local r = self.remote
  h.sh(string.format([[su %s -c 'mkdir %s/tree && echo a > %s/tree/a.txt &&
    ln -s ../../../../../../../etc %s/tree/etc && ln -s /etc/passwd %s/tree/passwd &&
    ln -s tree %s/named'
  ]], sshd.user, r, r, r, r, r))
  local status, out = self:run(string.format([[
    print(cijoe.get(%q, %q))
    print(cijoe.get(%q, %q))]], r .. "/tree", self.dir .. "/back", r .. "/named",
    self.dir .. "/through"))
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, "true\ntrue\n")
  for _, back in ipairs({ self.dir .. "/back", self.dir .. "/through" }) do
    -- the operand named (a link to the tree) is followed, as by cp -H and scp
    lu.assertEquals(h.sh("readlink " .. back .. "/etc " .. back .. "/passwd"),
      "../../../../../../../etc\n/etc/passwd\n")
    lu.assertEquals(h.sh("find " .. back .. " -type f"), back .. "/a.txt\n")
  end
  lu.assertEquals(temporaries(self.dir), "")
end

function TestHostileFiles:test_put_makes_links_again_and_never_follows_them()
  h.sh(string.format("mkdir -p %s/up && echo u > %s/up/u.txt && ln -s ../../../../etc %s/up/etc" ..
    " && ln -s u.txt %s/up/v.txt", self.dir, self.dir, self.dir, self.dir))
  local r = self.remote
  local status, out = self:run(string.format("print(cijoe.put(%q, %q))", self.dir .. "/up",
    r .. "/up"))
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, "true\n")
  lu.assertEquals(h.sh(string.format("readlink %s/up/etc %s/up/v.txt; stat -c %%U %s/up/u.txt",
    r, r, r)), "../../../../etc\nu.txt\n" .. sshd.user .. "\n")
  lu.assertEquals(temporaries(r), "")
end

function TestHostileFiles:test_local_links_in_the_destination_are_never_written_through()
  local outside = h.tmpdir()
  h.write(outside .. "/victim", "victim\n")
  local r = self.remote
  h.sh(string.format("su %s -c 'mkdir -p %s/tree/sub && echo a > %s/tree/a.txt && " ..
    "echo s > %s/tree/sub/s.txt'", sshd.user, r, r, r))
  h.sh(string.format("mkdir -p %s/into/tree && ln -s %s/victim %s/into/tree/a.txt && " ..
    "ln -s %s %s/into/tree/sub", self.dir, outside, self.dir, outside, self.dir))
  local _, out = self:run(string.format("print(cijoe.get(%q, %q))", r .. "/tree",
    self.dir .. "/into"))
  lu.assertStrContains(out, "nil\t" .. self.dir .. "/into/tree/sub: is a link; joe does not " ..
    "write through links\n")
  lu.assertEquals(h.read(outside .. "/victim"), "victim\n")
  lu.assertEquals(h.sh("ls " .. outside), "victim\n")
  -- a.txt, a link in the way of a file, was replaced by the file, not written through
  lu.assertEquals(h.sh("stat -c %F " .. self.dir .. "/into/tree/a.txt"), "regular file\n")
  lu.assertEquals(h.read(self.dir .. "/into/tree/a.txt"), "a\n")
end

function TestHostileFiles:test_setuid_bits_and_owners_are_not_kept_unless_asked()
  local r = self.remote
  h.sh(string.format("su %s -c 'echo s > %s/s && chmod 6755 %s/s'", sshd.user, r, r))
  h.write(self.dir .. "/l", "l\n")
  h.sh("chmod 4755 " .. self.dir .. "/l")
  local status, out = self:run(string.format([[
    print(cijoe.get(%q, %q), cijoe.get(%q, %q, { keep_setuid = true }))
    print(cijoe.put(%q, %q), cijoe.put(%q, %q, { keep_setuid = true }))]],
    r .. "/s", self.dir .. "/s1", r .. "/s", self.dir .. "/s2",
    self.dir .. "/l", r .. "/l1", self.dir .. "/l", r .. "/l2"))
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, "true\ttrue\ntrue\ttrue\n")
  lu.assertEquals(h.sh(string.format("stat -c '%%a %%U' %s/s1 %s/s2 %s/l1", self.dir,
    self.dir, r)), "755 root\n6755 root\n755 joetest\n")
  lu.assertEquals(temporaries(self.dir) .. temporaries(r), "")
  lu.assertEquals(h.sh("stat -c '%a %U' " .. r .. "/l2"), "4755 joetest\n")
end

function TestHostileFiles:test_a_failed_get_keeps_the_old_file()
  local here = self:tmpfs(self.dir .. "/here")
  h.write(here .. "/f", "old here\n")
  h.sh(string.format("head -c 2000000 /dev/urandom > %s/big", self.remote))
  local _, out = self:run(string.format([[
    print("missing", cijoe.get("/nonexistent/f", %q))
    print("full here", cijoe.get(%q, %q))
    print("after", (cijoe.run("echo still")))]], here .. "/f", self.remote .. "/big", here .. "/f"))
  lu.assertStrMatches(out, "missing\tnil\t[^\n]*/nonexistent/f: no such file\nfull here\tnil\t" ..
    here:gsub("%p", "%%%0") .. "/f: No space left on device\nafter\t0\n")
  lu.assertEquals(h.read(here .. "/f"), "old here\n")
  lu.assertEquals(temporaries(here), "")
end

function TestHostileFiles:test_a_failed_put_keeps_the_old_file()
  local there = self:tmpfs(self.remote .. "/there")
  h.sh(string.format("su %s -c 'echo old there > %s/f'", sshd.user, there))
  h.sh(string.format("head -c 2000000 /dev/urandom > %s/big", self.dir))
  local _, out = self:run(string.format([[
    print("full there", cijoe.put(%q, %q))
    print("after", (cijoe.run("echo still")))]], self.dir .. "/big", there .. "/f"))
  lu.assertStrMatches(out, "full there\tnil\t[^\n]*: " .. there:gsub("%p", "%%%0") ..
    "/f: FXP write failed %(failure%)\nafter\t0\n")
  lu.assertEquals(h.read(there .. "/f"), "old there\n")
  lu.assertEquals(temporaries(there), "")
end

-- Start a transfer of a big file in joe (op: get or put), kill sshd as soon as the
-- temporary file shows in the folder watch (the processes that hold its connections at
-- once), and return what joe printed once it is done.
function TestHostileFiles:kill_mid_transfer(op, src, dst, watch)
  local printed = self.dir .. "/out.txt"
  h.write(self.dir .. "/c.yaml", self.server:config(nil, { keepalive = 1 }))
  h.write(self.dir .. "/s.lua", string.format("print(cijoe.%s(%q, %q))", op, src, dst))
  h.sh_watched(string.format([[cd %s && { %s -q -c c.yaml s.lua > %s 2>&1;
    echo $? >> %s; } >/dev/null 2>&1 &
    until ls -A %s | grep -q '^[.]joe-' || [ -s %s ]; do :; done
    kill -KILL $(ss -Htnp 'sport = :%d' | grep -o 'pid=[0-9]*' | cut -d= -f2)]],
    h.q(self.dir), h.q(h.joe), printed, printed, h.q(watch), printed, self.server.port), 20)
  self.server:kill_all()
  self.server:start()
  local done = h.wait_for(function() return (h.read(printed) or ""):find("\n%d+\n$") end,
    h.bound(30))
  lu.assertNotNil(done, "joe hung after sshd was killed mid-transfer")
  return h.read(printed)
end

-- kill_mid_transfer until the kill came before the transfer's end (on a busy machine it
-- may come after), with reset() making the old file again before each try.
function TestHostileFiles:interrupted_transfer(op, src, dst, watch, reset)
  for _ = 1, 3 do
    reset()
    local out = self:kill_mid_transfer(op, src, dst, watch)
    if not out:find("^true\n") then return out end
  end
  lu.fail("each transfer was over before sshd was killed")
end

function TestHostileFiles:test_sshd_killed_mid_get_leaves_the_old_file_whole()
  h.sh("head -c 300000000 /dev/zero > " .. self.remote .. "/huge")
  local out = self:interrupted_transfer("get", self.remote .. "/huge", self.dir .. "/f", self.dir,
    function() h.write(self.dir .. "/f", "old\n") end)
  lu.assertStrMatches(out, "nil\t[^\n]+\n.*could not copy: .*\n1\n") -- the step failed
  lu.assertEquals(h.sh("head -c 100 " .. self.dir .. "/f"), "old\n")
  lu.assertEquals(temporaries(self.dir), "")
end

function TestHostileFiles:test_sshd_killed_mid_put_leaves_the_old_file_whole()
  h.sh("head -c 300000000 /dev/zero > " .. self.dir .. "/huge")
  local out = self:interrupted_transfer("put", self.dir .. "/huge", self.remote .. "/f",
    self.remote, function()
      h.sh(string.format("su %s -c 'rm -f %s/.joe-*; echo old > %s/f'", sshd.user, self.remote,
        self.remote))
    end)
  lu.assertEquals(h.sh("head -c 100 " .. self.remote .. "/f"), "old\n")
  -- the temporary file stays on the target: the server that could remove it is gone
  lu.assertStrMatches(out, "nil\t[^\n]+\n.*could not copy: .*\n1\n") -- the step failed
end

function TestHostileFiles:test_put_or_get_of_the_root_is_refused()
  local _, out = self:run([[
    print(cijoe.put("/", "/tmp/x"))
    print(cijoe.get("/", "]] .. self.dir .. [[/root"))]])
  lu.assertEquals(out, "nil\t/: give a file or a folder below /\n" ..
    "nil\t/: give a file or a folder below /\n")
  lu.assertNil(h.read(self.dir .. "/root"))
end
