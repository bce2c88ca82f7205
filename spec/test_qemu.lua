-- The qemu package on the real test guest that packages/qemu/guest/build.sh makes: start, the
-- console, the NVMe namespaces the guest sees, QMP reset and poweroff, kill, and the
-- faults (a second start, a taken port, a missing binary, a guest that never answers).
-- What goes through the guest's SSH transport is in test_qemu_ssh.lua. Skipped only when
-- the guest cannot be built.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("qemu_fixture")
local packages = require("cijoe.packages")
local qemu = require("qemu")

local processes = fixture.processes

TestQemu = {}

function TestQemu:setUp()
  local files, why = fixture.files()
  if not files then lu.skip(why) end
  self.files, self.dir, self.saved = files, h.tmpdir(), cijoe.config
  self.port, self.dead_port = h.free_port(), h.free_port()
  self.guests = {}
end

function TestQemu:tearDown()
  for _, g in ipairs(self.guests or {}) do g:kill() end
  cijoe.close_transports() -- the next test's "guest" and "dead" have other ports
  cijoe.config = self.saved
  if self.dir then
    fixture.reap(self.dir .. "/")
    h.sh("rm -rf " .. h.q(self.dir))
  end
end

-- Use the package's default.config with this test's folders and ports (and more YAML).
function TestQemu:configure(more)
  local over = string.format([[
cijoe:
  transport:
    guest: {port: %d}
    dead: {hostname: 127.0.0.1, port: %d, username: root, key_filename: %s, host_key_check: no, connect_timeout: 2}
qemu:
  guests:
    default: {path: %s/default, ssh_port: %d}
    second: {path: %s/second, ssh_port: %d, kernel: %s, initrd: %s, transport: guest}
    nobin: {path: %s/nobin, system: /nonexistent/qemu-system-x86_64, kernel: %s}
]], self.port, self.dead_port, self.files.key, self.dir, self.port, self.dir, self.port,
    self.files.kernel, self.files.initrd, self.dir, self.files.kernel)
  cijoe.config = fixture.config({ over, more })
end

-- The guest called name, killed at the end of the test.
function TestQemu:guest(name)
  local g = assert(qemu.guest(name))
  self.guests[#self.guests + 1] = g
  return g
end

-- Wait until the console holds pattern `count` times; returns the seconds waited.
local function wait_console(g, pattern, count)
  local found, waited = h.wait_for(function()
    local _, n = (h.read(g.console) or ""):gsub(pattern, "")
    return n >= (count or 1)
  end, 60)
  lu.assertTrue(found, "no '" .. pattern .. "' on the console:\n" .. (h.read(g.console) or ""))
  return waited
end

function TestQemu:test_boot_console_nvme_reset_poweroff()
  self:configure()
  local g = self:guest("default")
  lu.assertEquals(g:expand(g:get("kernel")), self.files.kernel) -- default.config finds build.sh's guest
  lu.assertEquals(g:start(), true)
  lu.assertEquals(g:is_running(), true)
  local pid = g:pid()
  lu.assertTrue(math.type(pid) == "integer" and pid > 1)
  lu.assertStrContains(processes(g.pidfile), tostring(pid) .. " ")
  print(string.format("\n  boot to marker: %.2f s", wait_console(g, "joe%-guest: ready")))
  local console = g:console_log():gsub("\r", "")
  lu.assertStrContains(console, "joe-guest: nvme: nvme0 nvme0n1 nvme0n2\n")
  lu.assertStrContains(console, "joe-guest: zoned: nvme0n1=none nvme0n2=host-managed")
  lu.assertStrContains(g:console_log(1), "joe-guest: ready")
  lu.assertEquals(g:reset(), true)
  print(string.format("  reset to marker: %.2f s", wait_console(g, "joe%-guest: ready", 2)))
  lu.assertEquals(g:pid(), pid)
  lu.assertEquals(g:poweroff(), true)
  lu.assertEquals(g:wait_down(30), true)
  lu.assertEquals(g:is_running(), false)
  lu.assertNil(g:pid())
  lu.assertEquals(processes(g.pidfile), "")
  local ok, msg = g:poweroff()
  lu.assertNil(ok)
  lu.assertStrContains(msg, "guest 'default': QMP system_powerdown: ")
end

function TestQemu:test_second_start_and_taken_port_are_refused()
  self:configure()
  local g, other = self:guest("default"), self:guest("second")
  lu.assertEquals(g:start(), true)
  local ok, msg = g:start()
  lu.assertNil(ok)
  lu.assertEquals(msg, "guest 'default': already running (pid " .. g:pid() .. "); qemu.guest_kill stops it")
  ok, msg = other:start()
  lu.assertNil(ok)
  lu.assertStrContains(msg, "guest 'second': port " .. self.port .. " on 127.0.0.1 is taken (")
  lu.assertEquals(other:is_running(), false)
  lu.assertEquals(processes(other.pidfile), "")
end

function TestQemu:test_kill_leaves_no_process()
  self:configure()
  local g = self:guest("default")
  lu.assertEquals(g:start(), true)
  lu.assertNotEquals(processes(g.pidfile), "")
  lu.assertEquals(g:kill(), true)
  lu.assertEquals(processes(g.pidfile), "")
  lu.assertEquals(g:is_running(), false)
  lu.assertEquals(g:kill(), true) -- nothing to kill is fine
end

function TestQemu:test_never_up_times_out_with_the_console_tail()
  self:configure("qemu: {guests: {default: {transport: dead}}}")
  local g = self:guest("default")
  lu.assertEquals(g:start(), true)
  wait_console(g, "joe%-guest: ready")
  local t0 = require("cijoe.proc").now()
  local ok, msg = g:wait_up(2)
  local waited = require("cijoe.proc").now() - t0
  lu.assertNil(ok)
  lu.assertStrContains(msg, "guest 'default': no answer on transport 'dead' within 2 s (last error: ")
  lu.assertStrContains(msg, "the console's last lines:\n")
  lu.assertStrContains(msg, "joe-guest: ready")
  lu.assertTrue(waited < 15, "wait_up(2) took " .. waited .. " s")
  lu.assertEquals(g:kill(), true)
  ok, msg = g:wait_up(1) -- a guest that is not running says so at once
  lu.assertNil(ok)
  lu.assertStrContains(msg, "qemu stopped before the guest answered")
end

function TestQemu:test_missing_binary_unknown_guest_and_transport()
  self:configure("qemu: {guests: {default: {transport: nosuch}}}")
  local ok, msg = self:guest("nobin"):start()
  lu.assertNil(ok)
  lu.assertEquals(msg, "guest 'nobin': qemu binary '/nonexistent/qemu-system-x86_64' not found on transport 'local'")
  lu.assertEquals({ qemu.guest("nope") }, { nil, "no guest 'nope' in the config (qemu.guests.nope)" })
  ok, msg = self:guest("default"):wait_up(1)
  lu.assertNil(ok)
  lu.assertStrContains(msg, "its transport 'nosuch' is not under cijoe.transport")
  lu.assertErrorMsgContains("bad argument #1 to 'guest' (string expected, got number)", qemu.guest, 1)
end

function TestQemu:test_img_create()
  self:configure()
  local path = self.dir .. "/a.qcow2"
  lu.assertEquals(qemu.img_create(path, "qcow2", "64M"), true)
  lu.assertStrContains(h.sh("qemu-img info " .. h.q(path)), "virtual size: 64 MiB")
  local ok, msg = qemu.img_create(self.dir .. "/b.img", "nosuchformat", 1024)
  lu.assertNil(ok)
  lu.assertStrContains(msg, "qemu-img create " .. self.dir .. "/b.img: ")
  lu.assertErrorMsgContains("bad argument #3 to 'img_create' (string expected, got nil)",
    qemu.img_create, path, "raw")
end

function TestQemu:test_worklets_in_a_workflow()
  self:configure()
  h.write(self.dir .. "/over.yaml", string.format(
    "qemu: {guests: {default: {path: %s/default, ssh_port: %d, transport: dead}}}\n" ..
    "cijoe: {transport: {dead: {hostname: 127.0.0.1, port: %d}}}\n", self.dir, self.port, self.dead_port))
  h.write(self.dir .. "/wf.lua", string.format([[
step{ name = "img", uses = "qemu.img_create", with = { path = "%s/c.raw", format = "raw", size = "1M" } }
step{ name = "kill_idle", uses = "qemu.guest_kill" }
step{ name = "start", uses = "qemu.guest_start", with = { timeout = 1 } }
step{ name = "poweroff_down", uses = "qemu.guest_poweroff", with = { timeout = 1 } }
]], self.dir))
  local default = packages.read("qemu/default.config")
  h.write(self.dir .. "/default.yaml", default)
  local status, out, err = h.joe_in(self.dir, "-c default.yaml -c over.yaml wf.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(err, "    guest 'default': no answer on transport 'dead' within 1 s")
  lu.assertStrMatches(out, ".*img +passed.*kill_idle +passed.*start +failed.*poweroff_down +failed.*")
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertStrContains(state.steps[3].error, "no answer on transport 'dead' within 1 s")
  lu.assertEquals(state.steps[1].description, "Create a disk image on the qemu host: with.path, with.size (such as \"8G\") and with.format (default qcow2).")
  lu.assertEquals(processes(self.dir .. "/default/guest.pid"), "") -- the start step killed it
end

-- Two guests of the test guest's files, a and b, each with its own transport and a port
-- picked at start.
local function two_guests(self)
  local f = self.files
  local guest = string.format("{kernel: %s, initrd: %s, append: console=ttyS0 quiet, " ..
    "disks: [{file: %s, format: raw, readonly: true}]", f.kernel, f.initrd, f.tools)
  local transport = string.format("{hostname: 127.0.0.1, username: root, key_filename: %s, " ..
    "host_key_check: no, connect_timeout: 5}", f.key)
  cijoe.config = fixture.config({ "cijoe:\n  transport:\n    ta: " .. transport ..
    "\n    tb: " .. transport .. "\nqemu:\n  guests:\n" ..
    "    a: " .. guest .. ", path: " .. self.dir .. "/a, transport: ta}\n" ..
    "    b: " .. guest .. ", path: " .. self.dir .. "/b, transport: tb}\n" })
  return self:guest("a"), self:guest("b")
end

function TestQemu:test_two_guests_at_once_on_free_ports_their_transports_find()
  local a, b = two_guests(self)
  local err, msg = cijoe.run("true", { transport = "ta", probe = true }) -- not started: no port yet
  lu.assertNil(err)
  lu.assertStrContains(msg, "transport ta: guest 'a': not running, so it has no SSH port")
  lu.assertEquals(a:start(), true)
  lu.assertEquals(b:start(), true)
  lu.assertEquals(a:wait_up(60), true)
  lu.assertEquals(b:wait_up(60), true)
  local pa, pb = a:ssh_port(), b:ssh_port()
  lu.assertNotEquals(pa, pb)
  lu.assertEquals(cijoe.getconf("cijoe.transport.ta.port"), pa)
  lu.assertEquals(cijoe.getconf("cijoe.transport.tb.port"), pb)
  lu.assertStrContains(processes(a.pidfile), "hostfwd=tcp:127.0.0.1:" .. pa .. "-:22")
  lu.assertEquals(cijoe.run("echo a >/tmp/who", { transport = "ta" }), 0)
  local status, st = cijoe.run("cat /tmp/who", { transport = "tb" }) -- another guest
  lu.assertEquals(status, 1)
  lu.assertStrContains(st:output(), "No such file")
  lu.assertEquals(a:kill(), true)
  lu.assertEquals(b:kill(), true)
  lu.assertEquals(processes(self.dir .. "/"), "")
end

function TestQemu:test_guest_folder_is_per_user_and_per_folder_joe_runs_in()
  local wf = 'print("path=" .. assert(require("qemu").guest("default")).path)\n'
  local function path_in(dir)
    h.write(dir .. "/wf.lua", wf)
    h.write(dir .. "/default.config", packages.read("qemu/default.config"))
    local status, out = h.joe_in(dir, "wf.lua", "QEMU_RUN_DIR=/run/joe-test")
    lu.assertEquals(status, 0, out)
    return out:match("path=([^\n]+)")
  end
  self:configure()
  local one, two = path_in(self.dir .. "/one"), path_in(self.dir .. "/two")
  lu.assertStrMatches(one, "/run/joe%-test/default%-%x%x%x%x%x%x%x%x")
  lu.assertStrMatches(two, "/run/joe%-test/default%-%x%x%x%x%x%x%x%x")
  lu.assertNotEquals(one, two)
  lu.assertEquals(path_in(self.dir .. "/one"), one) -- a later run finds the same guest
  local home = os.getenv("HOME")
  lu.assertStrContains(assert(qemu.guest("nobin")).path, self.dir) -- a path of the config wins
  cijoe.config = fixture.config({ "qemu: {guests: {x: {kernel: /k}}}" })
  lu.assertStrMatches(assert(qemu.guest("x")).path,
    home:gsub("%p", "%%%0") .. "/%.cache/joe%-qemu/x%-%x+")
end

-- The builder as a user without root, as an installed joe's user runs it: apt-get
-- downloads, dpkg-deb unpacks, and fakeroot gives the initramfs its console device.
TestQemuBuild = {}

function TestQemuBuild:test_the_test_guest_builds_as_a_user_without_root()
  if h.sh("id -u") ~= "0\n" then lu.skip("making a user to build as needs root") end
  if not fixture.files() then lu.skip("the test guest cannot be built here") end
  h.sh("id joetest >/dev/null 2>&1 || useradd -m -s /bin/sh joetest")
  local dir = h.tmpdir()
  h.sh(string.format("cp %s/packages/qemu/guest/build.sh %s/packages/qemu/guest/rc %s && " ..
    "chown -R joetest %s", h.q(h.root), h.q(h.root), h.q(dir), h.q(dir)))
  local out, status = h.sh("cd / && su joetest -s /bin/sh -c " ..
    h.q("JOE_GUEST_CACHE=" .. dir .. "/cache sh " .. dir .. "/build.sh"))
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, "kernel: " .. dir .. "/cache/current/vmlinuz\n")
  lu.assertEquals(h.sh("stat -c %U " .. h.q(dir .. "/cache/current/tools.img")), "joetest\n")
  local console = h.sh("zcat " .. h.q(dir .. "/cache/current/initrd.img") ..
    " | cpio -itv --quiet | grep ' dev/console$'")
  lu.assertStrMatches(console, "crw%-%-%-%-%-%-%- +1 root +root +5, +1 .* dev/console\n")
  local sbin = h.sh("debugfs -R 'ls -l /sbin' " .. h.q(dir .. "/cache/current/tools.img") ..
    " 2>/dev/null")
  lu.assertStrContains(sbin, "nvme") -- nvme-cli is on the tools disk
  h.sh("rm -rf " .. h.q(dir))
end
