-- The one tree copy (lua/cijoe/copy.lua) behaves the same on every transport: a tree with
-- links inside (relative, absolute, dangling, to a folder), a setuid file and odd modes,
-- put and got back through this machine and through a real sshd, compared entry by entry.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

TestCopy = {}

function TestCopy.setupClass()
  TestCopy.server = sshd.start()
end

function TestCopy.teardownClass()
  TestCopy.server:kill_all()
end

function TestCopy:setUp()
  self.dir = h.tmpdir()
  h.sh("chmod 755 " .. h.q(self.dir))
  h.write(self.dir .. "/ssh.yaml", self.server:config())
  local t = self.dir .. "/tree"
  h.write(t .. "/a.txt", "A")
  h.write(t .. "/sub/run.sh", "echo run")
  h.write(t .. "/suid", "s")
  h.sh(table.concat({ "cd " .. h.q(t), "chmod 751 sub/run.sh", "chmod 4755 suid", "chmod 700 sub",
    "ln -s a.txt rel", "ln -s ../../../../../../etc etc", "ln -s /nonexistent dangling",
    "ln -s sub subdir" }, " && "))
end

-- Each entry of a tree as "path type mode [-> target]", sorted.
local function listing(root)
  return h.sh("cd " .. h.q(root) .. " && find . -mindepth 1 | sort | while read -r p; do " ..
    "if [ -L \"$p\" ]; then echo \"$p link -> $(readlink \"$p\")\"; " ..
    "else echo \"$p $(stat -c '%F %a' \"$p\")\"; fi; done")
end

local EXPECTED = table.concat({
  "./a.txt regular file 644", "./dangling link -> /nonexistent",
  "./etc link -> ../../../../../../etc", "./rel link -> a.txt", "./sub directory 700",
  "./sub/run.sh regular file 751", "./subdir link -> sub", "./suid regular file 755", "" }, "\n")

-- Put the tree to dst and get it back into the step's artifacts, on a transport (the
-- config file is nil for this machine); returns what came back and what went there.
function TestCopy:round_trip(config, dst)
  h.write(self.dir .. "/s.lua", string.format([[
assert(cijoe.put("tree", %q))
assert(cijoe.get(%q, "back"))
print(cijoe.step_path("artifacts") .. "/back")]], dst, dst))
  local status, out, err = h.joe_in(self.dir, "-q " .. (config and "-c " .. config or "") .. " s.lua")
  lu.assertEquals(status, 0, err)
  return listing(self.dir .. "/" .. out:gsub("\n$", "")), listing(dst)
end

function TestCopy:test_locally_links_stay_links_and_setuid_goes()
  local back, there = self:round_trip(nil, self.dir .. "/there")
  lu.assertEquals(there, EXPECTED)
  lu.assertEquals(back, EXPECTED)
end

function TestCopy:test_over_ssh_the_same()
  local dst = "/tmp/joe-copy-" .. math.random(1e9)
  local back, there = self:round_trip("ssh.yaml", dst)
  h.sh("rm -rf " .. dst)
  lu.assertEquals(there, EXPECTED)
  lu.assertEquals(back, EXPECTED)
end

function TestCopy:test_keep_setuid_when_asked_and_a_file_in_the_way_is_replaced()
  h.write(self.dir .. "/old/suid", "old")
  h.write(self.dir .. "/s.lua", string.format([[
assert(cijoe.put("tree/suid", %q, { keep_setuid = true }))
assert(cijoe.put("tree/a.txt", %q))]], self.dir .. "/old/suid", self.dir .. "/old/suid"))
  lu.assertEquals(h.joe_in(self.dir, "-q s.lua"), 0)
  lu.assertEquals(h.read(self.dir .. "/old/suid"), "A")
  h.write(self.dir .. "/s.lua", string.format('assert(cijoe.put("tree/suid", %q, { keep_setuid = true }))',
    self.dir .. "/kept"))
  lu.assertEquals(h.joe_in(self.dir, "-q s.lua"), 0)
  lu.assertEquals(h.sh("stat -c %a " .. h.q(self.dir .. "/kept")), "4755\n")
end

function TestCopy:test_a_link_where_a_folder_goes_is_refused()
  local dst = self.dir .. "/dst"
  h.sh("mkdir -p " .. h.q(dst) .. " " .. h.q(self.dir .. "/elsewhere") .. " && ln -s ../elsewhere " ..
    h.q(dst .. "/sub"))
  h.write(self.dir .. "/s.lua", string.format('print(cijoe.put("tree/sub", %q))', dst))
  local status, out = h.joe_in(self.dir, "-q s.lua")
  lu.assertEquals(status, 1) -- a failed copy fails its step
  lu.assertEquals(out, "nil\t" .. dst .. "/sub: is a link; joe does not write through links\n")
  lu.assertEquals(h.sh("ls -A " .. h.q(self.dir .. "/elsewhere")), "")
end

function TestCopy:test_a_failed_get_leaves_the_old_file_whole()
  h.write(self.dir .. "/keep.txt", "old content")
  h.write(self.dir .. "/s.lua", string.format('print(cijoe.get("/nonexistent/file", %q))', self.dir .. "/keep.txt"))
  local status, out = h.joe_in(self.dir, "-q -c ssh.yaml s.lua")
  lu.assertEquals(status, 1) -- a failed copy fails its step
  lu.assertStrContains(out, "nil\t")
  lu.assertEquals(h.read(self.dir .. "/keep.txt"), "old content")
  lu.assertEquals(h.sh("ls -A " .. h.q(self.dir) .. " | grep -c '^\\.joe-' || true"), "0\n")
end

-- A new folder put over SSH goes as a tar stream (lua/cijoe/tar_put.lua) into a temporary
-- folder renamed into place: the same tree as in place, with what a stream must carry
-- right (names over 100 bytes and not UTF-8, a long link target, a folder without write
-- permission, a file big enough to go over SFTP between batches).
function TestCopy:test_a_new_folder_over_ssh_comes_whole()
  local t = self.dir .. "/tree"
  local long = string.rep("d", 150) .. "/" .. string.rep("f", 120)
  h.write(t .. "/" .. long, "deep")
  h.write(t .. "/caf\xe9", "latin-1 name")
  h.write(t .. "/ro/inside", "in a folder no one may write")
  h.sh(table.concat({ "cd " .. h.q(t), "head -c 300000 /dev/urandom > big", "chmod 555 ro",
    "ln -s " .. string.rep("t", 200) .. " longlink" }, " && "))
  local parent = "/tmp/joe-copy-" .. math.random(1e9)
  h.sh("mkdir -m 777 " .. parent)
  h.write(self.dir .. "/s.lua", string.format("print(cijoe.put('tree', %q))", parent .. "/new"))
  local status, out = h.joe_in(self.dir, "-q -c ssh.yaml s.lua")
  local there, files = listing(parent .. "/new"), h.sh("ls -A " .. parent)
  local same = h.sh("cmp " .. t .. "/big " .. parent .. "/new/big && cat " .. h.q(parent ..
    "/new/" .. long) .. "; echo $?")
  h.sh("rm -rf " .. parent)
  lu.assertEquals({ status, out }, { 0, "true\n" })
  lu.assertEquals(there, listing(t):gsub("suid regular file 4755", "suid regular file 755"))
  lu.assertEquals(files, "new\n") -- no temporary folder left beside it
  lu.assertEquals(same, "deep0\n")
end

-- A put of a new folder that fails part way (a fifo, which cannot be copied, after files
-- that went) leaves nothing under the destination's name and no temporary folder.
function TestCopy:test_a_new_folder_that_fails_over_ssh_leaves_nothing()
  h.sh("mkfifo " .. h.q(self.dir .. "/tree/zz-fifo"))
  local parent = "/tmp/joe-copy-" .. math.random(1e9)
  h.sh("mkdir -m 777 " .. parent)
  h.write(self.dir .. "/s.lua", string.format("print(cijoe.put('tree', %q))", parent .. "/new"))
  local status, out = h.joe_in(self.dir, "-q -c ssh.yaml s.lua")
  local files = h.sh("ls -A " .. parent)
  h.sh("rm -rf " .. parent)
  lu.assertEquals(status, 1) -- a failed copy fails its step
  lu.assertEquals(out, "nil\ttree/zz-fifo: not a file, folder or link " ..
    "(a device, socket or fifo): cannot be copied\n")
  lu.assertEquals(files, "")
end
