-- The qemu package through the SSH transport, on the real test guest: wait_up, commands,
-- NVMe namespaces and put/get in the guest, fio failing there, the example workflow end
-- to end, workflows that fail or are interrupted midway, and qemu run on a host reached
-- over SSH (spec/sshd.lua). Every test checks that no qemu of its own is left. Skipped
-- only when the guest cannot be built.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("qemu_fixture")
local fio = require("fio")
local qemu = require("qemu")
local proc = require("cijoe.proc")

-- Skip when the guest cannot be built; else its files.
local function guest_files()
  local files, why = fixture.files()
  if not files then lu.skip(why) end
  return files
end

-- One guest, booted by the first test that needs it and killed after the last one.
TestQemuGuest = {}

function TestQemuGuest:setUp()
  local class = TestQemuGuest
  class.files, self.saved = guest_files(), cijoe.config
  if not class.dir then
    class.dir = h.tmpdir()
    class.config = fixture.config({ fixture.override(class.dir) }) -- a free port at start
  end
  cijoe.config = class.config
  if class.guest == nil then
    local t0, g = proc.now(), assert(qemu.guest("default"))
    class.guest, class.boot_error = g, nil
    local ok, msg = g:start()
    if ok then ok, msg = g:wait_up(60) end
    class.boot_error, class.boot_seconds = not ok and msg, proc.now() - t0
    if ok then
      print(string.format("\n  start to SSH answering: %.2f s (port %d)", class.boot_seconds,
        g:ssh_port()))
    end
  end
  lu.assertFalse(class.boot_error)
end

function TestQemuGuest:tearDown()
  cijoe.close_transports()
  cijoe.config = self.saved
end

function TestQemuGuest.teardownClass()
  local class, saved = TestQemuGuest, cijoe.config
  if not class.dir then return end
  cijoe.config = class.config
  if class.guest then class.guest:kill() end
  cijoe.close_transports()
  cijoe.config = saved
  local left = fixture.reap(class.dir .. "/")
  h.sh("rm -rf " .. h.q(class.dir))
  class.dir, class.guest = nil, nil
  -- LuaUnit has no test to fail here: the guest's own kill is checked by TestQemu
  if left ~= "" then io.stderr:write("TestQemuGuest: qemu was left running:\n", left) end
end

-- Run cmd in the guest; its exit status and output.
local function guest_run(cmd)
  local err, st = cijoe.run(cmd)
  lu.assertNotNil(err, st)
  return err, st:output()
end

function TestQemuGuest:test_wait_up_then_commands_and_nvme_in_the_guest()
  lu.assertTrue(self.boot_seconds < 30, "start to SSH took " .. self.boot_seconds .. " s")
  local t0 = proc.now()
  lu.assertEquals(self.guest:wait_up(5), true) -- a guest that is up answers at once
  lu.assertTrue(proc.now() - t0 < 2)
  local port = self.guest:ssh_port() -- picked at start, and what the transport was given
  lu.assertTrue(port >= 10000 and port <= 32767, tostring(port))
  lu.assertEquals(h.read(self.guest.path .. "/ssh_port"), port .. "\n")
  lu.assertEquals(cijoe.getconf("cijoe.transport.guest.port"), port)
  lu.assertEquals({ guest_run("uname -sn") }, { 0, "Linux joe-guest\n" })
  local _, st = cijoe.run("true")
  lu.assertEquals(st.transport, "guest")
  local err, out = guest_run("ls /dev/nvme*")
  lu.assertEquals(err, 0)
  lu.assertStrContains(out, "/dev/nvme0n1\n")
  lu.assertStrContains(out, "/dev/nvme0n2\n")
  lu.assertEquals({ guest_run("cat /sys/block/nvme0n1/queue/zoned /sys/block/nvme0n2/queue/zoned") },
    { 0, "none\nhost-managed\n" })
  lu.assertEquals({ guest_run("cat /sys/block/nvme0n1/size") }, { 0, tostring(1024 * 1024 * 2) .. "\n" })
end

-- dropbear (the guest's sshd) leaves an SFTP subsystem request unanswered when it comes
-- while a command's channel is still closing, and a command ends at its end markers,
-- before its channel closed: a transfer right after a command on a fresh session waited
-- for transfer_timeout (one in three times here) and failed. SFTP now starts with the
-- session, before any command.
function TestQemuGuest:test_a_transfer_right_after_commands_starts_at_once()
  for i = 1, 15 do
    cijoe.close_transport("guest")
    for _ = 1, 3 do guest_run("uname -a >/dev/null") end
    guest_run("echo " .. i .. " > /tmp/joe-after-commands")
    local t0 = proc.now()
    local ok, msg = cijoe.get("/tmp/joe-after-commands", "after-" .. i)
    lu.assertTrue(ok, msg)
    lu.assertTrue(proc.now() - t0 < 5, string.format("get %d took %.1f s", i, proc.now() - t0))
    lu.assertEquals(h.read(cijoe.step_path("artifacts") .. "/after-" .. i), i .. "\n")
  end
end

function TestQemuGuest:test_put_and_get_a_file_and_a_tree()
  local dir = h.tmpdir()
  local src = dir .. "/data.bin"
  h.sh("head -c 300000 /dev/urandom > " .. h.q(src) .. " && chmod 640 " .. h.q(src))
  h.write(dir .. "/tree/a/b.txt", "b\n")
  local sum = h.sh("sha256sum < " .. h.q(src)):match("%x+")
  lu.assertEquals(cijoe.put(src, "/tmp/data.bin"), true)
  lu.assertEquals({ guest_run("sha256sum < /tmp/data.bin | cut -c1-64; stat -c %a /tmp/data.bin") },
    { 0, sum .. "\n640\n" })
  lu.assertEquals(cijoe.put(dir .. "/tree", "/tmp"), true)
  lu.assertEquals({ guest_run("cat /tmp/tree/a/b.txt") }, { 0, "b\n" })
  lu.assertEquals(cijoe.get("/tmp/data.bin", dir .. "/back.bin"), true)
  lu.assertEquals(h.read(dir .. "/back.bin"), h.read(src))
  lu.assertEquals(h.sh("stat -c %a " .. h.q(dir .. "/back.bin")), "640\n")
  lu.assertEquals(cijoe.get("/tmp/tree", "tree"), true) -- relative: the step's artifacts
  lu.assertEquals(h.read(cijoe.step_path("artifacts") .. "/tree/a/b.txt"), "b\n")
  local ok, msg = cijoe.probe(cijoe.get, "/tmp/nosuch", dir .. "/x") -- failing on purpose
  lu.assertNil(ok)
  lu.assertStrContains(msg, "/tmp/nosuch")
  guest_run("rm -rf /tmp/data.bin /tmp/tree")
  h.sh("rm -rf " .. h.q(dir))
end

function TestQemuGuest:test_fio_failing_in_the_guest_returns_its_status_and_message()
  local err, result, state = fio.run({ name = "bad", filename = "/dev/nvme9n9", rw = "randread", bs = "4k" })
  lu.assertEquals(err, 1)
  lu.assertNil(result)
  lu.assertEquals(state.transport, "guest")
  lu.assertStrContains(state:output(), "bad: you need to specify size=")
  lu.assertEquals({ guest_run("ls /tmp/joe-fio-* /dev/nvme9n9 2>/dev/null | wc -l") }, { 0, "0\n" })
  err, result = fio.run({ name = "rr", filename = "/dev/nvme0n1", rw = "randread", bs = "4k",
    size = "16M", runtime = 1, time_based = true, ioengine = "libaio", direct = true })
  lu.assertEquals(err, 0)
  lu.assertTrue(result.jobs[1].read.iops > 0)
end

-- Workflows run by joe itself, in a folder of their own, with the guest "default" of the
-- package's default.config in that folder and on a free port.
function TestQemuGuest:test_timeout_stops_the_command_in_the_guest()
  local t0 = require("cijoe.proc").now()
  local err, state = cijoe.run("echo begun; sleep 37", { timeout = 1 })
  lu.assertTrue(require("cijoe.proc").now() - t0 < 5)
  lu.assertNotEquals(err, 0)
  lu.assertTrue(state.timed_out)
  lu.assertStrMatches(state:output(), "begun\n.*") -- ash reports "Terminated"
  require("cijoe.proc").sleep(0.5)
  lu.assertEquals({ guest_run("ps | grep -c '[s]leep 37'") }, { 1, "0\n" })
end

TestQemuWorkflow = {}

function TestQemuWorkflow:setUp()
  self.files, self.dir = guest_files(), h.tmpdir()
  self.pidfile = self.dir .. "/default/guest.pid"
  h.write(self.dir .. "/over.yaml", fixture.override(self.dir)) -- a free port at each start
  h.write(self.dir .. "/default.config", require("cijoe.packages").read("qemu/default.config"))
end

function TestQemuWorkflow:tearDown()
  local left = fixture.reap(self.dir .. "/") -- its guests' folders are all in there
  h.sh("rm -rf " .. h.q(self.dir))
  lu.assertEquals(left, "", "the test left qemu running")
end

-- Run joe with args in the test's folder, the package's config and the test's over it.
function TestQemuWorkflow:joe(args, env)
  return h.joe_in(self.dir, "-c default.config -c over.yaml " .. args, env)
end

-- The statuses of the steps of the newest run, in order.
function TestQemuWorkflow:statuses()
  local out = {}
  for i, s in ipairs(h.yaml(h.latest(self.dir) .. "/workflow.state").steps) do out[i] = s.name .. "=" .. s.status end
  return out
end

-- The result of fio in artifact file of the newest run.
function TestQemuWorkflow:fio_result(step, file)
  local path = h.latest(self.dir) .. "/" .. step .. "/artifacts/" .. file
  return assert(fio.decode(assert(h.read(path), "no " .. path), path))
end

-- The steps of the package's example workflow, all passed.
local EXAMPLE_STEPS = { "test_guest_build=passed", "guest_kill=passed", "guest_start=passed",
  "sysinfo=passed", "nvme_info=passed", "randread=passed", "randwrite=passed",
  "guest_poweroff=passed", "console_log=passed" }

-- What one run of the example workflow in folder dir left: its steps passed, fio's
-- results, nvme.info's summary, the console; returns the elapsed seconds of guest_start.
local function check_example_run(dir)
  local run = h.latest(dir)
  local steps = h.yaml(run .. "/workflow.state").steps
  local statuses = {}
  for i, st in ipairs(steps) do statuses[i] = st.name .. "=" .. st.status end
  lu.assertEquals(statuses, EXAMPLE_STEPS)
  local function fio_job(step, file)
    local text = assert(h.read(run .. "/" .. step .. "/artifacts/" .. file))
    return assert(fio.decode(text, file)).jobs[1]
  end
  local read = fio_job("006_randread", "fio-randread.json")
  local write = fio_job("007_randwrite", "fio-randwrite.json")
  lu.assertTrue(read.read.iops > 0 and read.read.clat_ns.percentile["99.000000"] > 0)
  lu.assertTrue(write.write.iops > 0 and write.write.io_bytes > 0)
  lu.assertEquals(read.error, 0)
  local info = h.yaml(run .. "/005_nvme_info/artifacts/nvme-info.yaml")
  lu.assertEquals(info.controllers[1].serial, "joe0001")
  lu.assertEquals(#info.controllers[1].namespaces, 2)
  lu.assertNotNil(h.read(run .. "/report.html"))
  lu.assertStrContains(h.read(run .. "/009_console_log/artifacts/console.log"), "joe-guest: ready")
  return steps[3].elapsed, read.read.iops, write.write.iops
end

-- `joe -s qemu && joe example.workflow` in two empty folders at once, as two users of one
-- machine would: no path and no port in the config, so each run's guest gets its own
-- folder (under qemu.run_dir, here the test's) and a free port, and both pass.
function TestQemuWorkflow:test_example_workflow_twice_at_once_from_two_folders()
  local dirs = { self.dir .. "/one", self.dir .. "/two" }
  local env = "QEMU_RUN_DIR=" .. h.q(self.dir .. "/guests")
  if self.files.key == os.getenv("HOME") .. "/.cache/joe-guest/current/id_ed25519" then
    env = env .. " JOE_GUEST_CACHE=" -- the config's ${JOE_GUEST_CACHE:-~/...}: the key of ~/
  end
  for _, dir in ipairs(dirs) do
    h.sh("mkdir -p " .. h.q(dir))
    lu.assertEquals(h.joe_in(dir, "-s qemu"), 0)
  end
  local t0 = proc.now()
  local run = "(env %s %s example.workflow >out 2>&1; echo $? >status) &"
  local out = h.sh(string.format("cd %s && " .. run .. " cd %s && " .. run .. " wait",
    h.q(dirs[1]), env, h.q(h.joe), h.q(dirs[2]), env, h.q(h.joe)))
  local elapsed = proc.now() - t0
  for _, dir in ipairs(dirs) do
    lu.assertEquals(h.read(dir .. "/status"), "0\n", out .. (h.read(dir .. "/out") or ""))
    local start, riops, wiops = check_example_run(dir)
    print(string.format("\n  example workflow in %s: guest_start %.1f s, randread %.0f IOPS, " ..
      "randwrite %.0f IOPS", dir:match("[^/]+$"), start, riops, wiops))
  end
  print(string.format("  both runs: %.1f s", elapsed))
  local folders = h.sh("ls " .. h.q(self.dir .. "/guests"))
  lu.assertStrMatches(folders, "default%-%x+\ndefault%-%x+\n") -- one folder each
  local ports = h.sh("cat " .. h.q(self.dir) .. "/guests/*/ssh_port")
  lu.assertStrMatches(ports, "(%d+)\n(%d+)\n")
  local a, b = ports:match("(%d+)\n(%d+)")
  lu.assertNotEquals(a, b)
  lu.assertEquals(fixture.processes(self.dir .. "/guests/"), "")
  if env:find("JOE_GUEST_CACHE=$") then -- the transport found the key of ~/
    lu.assertEquals(h.yaml(h.latest(dirs[1]) .. "/config.orig").cijoe.transport.guest.key_filename,
      "~/.cache/joe-guest/current/id_ed25519")
  end
end

function TestQemuWorkflow:test_steps_failing_midway_leave_no_qemu()
  h.write(self.dir .. "/wf.lua", [[
step{ name = "guest_start", uses = "qemu.guest_start", with = { timeout = 60 } }
step{ name = "fio_bad", uses = "fio.run", with = { name = "bad", filename = "/dev/nvme9n9", rw = "read" } }
step("uname", function() return cijoe.run("uname -n") end)
step{ name = "kill", uses = "qemu.guest_kill" }
step("after_kill", function() return cijoe.run("true") end)
step{ name = "poweroff", uses = "qemu.guest_poweroff", with = { timeout = 5 } }
]])
  local status = self:joe("wf.lua")
  lu.assertEquals(status, 1)
  lu.assertEquals(self:statuses(), { "guest_start=passed", "fio_bad=failed", "uname=passed",
    "kill=passed", "after_kill=failed", "poweroff=failed" })
  local run = h.latest(self.dir)
  lu.assertStrContains(h.read(run .. "/002_fio_bad/cmd_01.output"), "bad: you need to specify size=")
  lu.assertEquals(h.read(run .. "/003_uname/cmd_01.output"), "joe-guest\n")
  local steps = h.yaml(run .. "/workflow.state").steps
  lu.assertStrMatches(steps[2].failure.message, "`'fio' .*` on guest: exit status 1")
  lu.assertStrContains(steps[5].error, "transport guest: ")
  lu.assertTrue(steps[5].elapsed < 10, "a command to a killed guest took " .. steps[5].elapsed .. " s")
  lu.assertStrContains(steps[6].error, "guest 'default': QMP system_powerdown: ")
  lu.assertEquals(fixture.processes(self.pidfile), "")
end

-- The workflow of the interrupt tests: the guest, then a long command in it.
local LONG = [[
step{ name = "guest_kill", uses = "qemu.guest_kill" }
step{ name = "guest_start", uses = "qemu.guest_start", with = { timeout = 60 } }
step("long", function() return cijoe.run("echo begun; sleep 60") end)
step("uname", function() return cijoe.run("uname -n") end)
]]

-- Start joe on wf.lua in the background, wait until the shell test `until` holds, send
-- SIGINT; returns joe's exit status and the seconds it took to exit after the signal.
function TestQemuWorkflow:interrupt(until_test, extra)
  local out = h.sh(string.format([[cd %s && (%s -c default.config -c over.yaml %s wf.lua >/dev/null 2>&1 & pid=$!
    i=0; until %s || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done
    t0=$(date +%%s%%N); kill -INT $pid; wait $pid; s=$?; echo "status=$s ms=$((($(date +%%s%%N) - t0) / 1000000))")]],
    h.q(self.dir), h.q(h.joe), extra or "", until_test))
  return tonumber(out:match("status=(%d+)")), tonumber(out:match("ms=(%d+)")) / 1000
end

function TestQemuWorkflow:test_ctrl_c_leaves_the_guest_running_until_guest_kill()
  h.write(self.dir .. "/wf.lua", LONG)
  local status, seconds = self:interrupt("grep -qs begun cijoe-output/latest/003_long/cmd_01.output")
  lu.assertEquals(status, 130)
  lu.assertTrue(seconds < 3, "joe took " .. seconds .. " s to stop")
  lu.assertEquals(self:statuses(), { "guest_kill=passed", "guest_start=passed", "long=interrupted", "uname=skipped" })
  lu.assertNotEquals(fixture.processes(self.pidfile), "") -- left running, as CIJOE does
  lu.assertEquals(self:joe("wf.lua uname"), 0) -- and it still answers
  lu.assertEquals(h.read(h.latest(self.dir) .. "/004_uname/cmd_01.output"), "joe-guest\n")
  local status2, _, err = self:joe("wf.lua guest_start")
  lu.assertEquals(status2, 1)
  lu.assertStrContains(err, "guest 'default': already running (pid ")
  lu.assertEquals(self:joe("wf.lua guest_kill"), 0)
  lu.assertEquals(fixture.processes(self.pidfile), "")
end

function TestQemuWorkflow:test_ctrl_c_during_wait_up_stops_at_once()
  h.write(self.dir .. "/wf.lua", LONG)
  h.write(self.dir .. "/dead.yaml", "qemu: {guests: {default: {transport: dead}}}\ncijoe: {transport: " ..
    "{dead: {hostname: 127.0.0.1, port: " .. h.free_port() .. ", username: root}}}\n")
  local status, seconds = self:interrupt(string.format("[ -s %s ] && sleep 1.7", h.q(self.pidfile)), "-c dead.yaml")
  lu.assertEquals(status, 130)
  lu.assertTrue(seconds < 1.5, "joe took " .. seconds .. " s to stop waiting")
  print(string.format("\n  Ctrl-C during wait_up to exit: %.2f s", seconds))
  lu.assertEquals(self:statuses(), { "guest_kill=passed", "guest_start=interrupted", "long=skipped", "uname=skipped" })
  lu.assertNotEquals(fixture.processes(self.pidfile), "")
  lu.assertEquals(self:joe("wf.lua guest_kill"), 0)
  lu.assertEquals(fixture.processes(self.pidfile), "")
end

-- qemu and qemu-img on a host reached over SSH: the sshd fixture's user joetest.
TestQemuHostOverSsh = {}

function TestQemuHostOverSsh:setUp()
  self.files, self.saved = guest_files(), cijoe.config
  self.server = require("sshd").start()
  self.dir = h.tmpdir()
  self.home_dir = "joe-spec-" .. self.dir:match("[^.]*$") -- in joetest's home
  h.sh(string.format("cp %s %s %s && chmod 755 %s && chown -R joetest %s", h.q(self.files.kernel),
    h.q(self.files.initrd), h.q(self.dir), h.q(self.dir), h.q(self.dir)))
  cijoe.config = fixture.config({ fixture.override(self.dir),
    self.server:config({ "lab" }),
    string.format("qemu: {host_transport: lab, guests: {default: {path: ~/%s/default, kernel: %s/vmlinuz, " ..
      "initrd: %s/initrd.img, disks: []}}}\n", self.home_dir, self.dir, self.dir) })
end

function TestQemuHostOverSsh:tearDown()
  if self.guest then self.guest:kill() end
  cijoe.close_transports()
  cijoe.config = self.saved
  local left = fixture.reap(self.home_dir .. "/default/")
  self.server:stop() -- not kill_all: other runs' joetest sessions are not this test's
  h.sh("rm -rf " .. h.q(self.dir) .. " " .. h.q(self.server.dir) .. " /home/joetest/" .. h.q(self.home_dir))
  lu.assertEquals(left, "", "the test left qemu running")
end

-- The owner of a file on this machine (the SSH host is this machine too).
local function owner(path)
  return (h.sh("stat -c %U " .. h.q(path)):gsub("\n", ""))
end

function TestQemuHostOverSsh:test_img_create_and_a_guest_through_an_ssh_host()
  lu.assertEquals(qemu.img_create(self.dir .. "/lab.qcow2", "qcow2", "64M"), true)
  lu.assertEquals(owner(self.dir .. "/lab.qcow2"), "joetest")
  lu.assertStrContains(h.sh("qemu-img info " .. h.q(self.dir .. "/lab.qcow2")), "virtual size: 64 MiB")
  local g = assert(qemu.guest("default"))
  self.guest = g
  lu.assertEquals(g.path, "/home/joetest/" .. self.home_dir .. "/default") -- ~ of the SSH host
  lu.assertEquals(g:start(), true)
  local pid = g:pid()
  lu.assertEquals(h.sh("ps -o user= -p " .. pid), "joetest\n")
  lu.assertEquals(owner(g.path .. "/nvme0n2.img"), "joetest")
  lu.assertEquals(g:wait_up(60), true)
  local err, st = cijoe.run("cat /sys/block/nvme0n2/queue/zoned")
  lu.assertEquals({ err, st:output() }, { 0, "host-managed\n" })
  lu.assertEquals(g:poweroff(), true)
  lu.assertEquals(g:wait_down(30), true)
  lu.assertEquals(fixture.processes(g.pidfile), "")
  lu.assertStrContains(h.read(g.console), "joe-guest: ready")
end

-- An image guest whose qemu host is reached over SSH: its overlay over a base image on
-- that host, and its seed, are made there (by the host's user, with its qemu-img and
-- seed tool), then it boots from them and answers.
function TestQemuHostOverSsh:test_an_image_guest_is_made_and_booted_on_the_ssh_host()
  local base = self.dir .. "/base.qcow2"
  h.sh("qemu-img create -q -f qcow2 " .. h.q(base) .. " 256M && chown joetest " .. h.q(base))
  cijoe.config = fixture.config({ fixture.override(self.dir), self.server:config({ "lab" }),
    string.format("qemu: {host_transport: lab, guests: {default: {path: ~/%s/default, " ..
      "kernel: %s/vmlinuz, initrd: %s/initrd.img, disks: [], image: %s}}}\n", self.home_dir,
      self.dir, self.dir, base) })
  local g = assert(qemu.guest("default"))
  self.guest = g
  lu.assertEquals(g:start(), true) -- no overlay yet: initialized first, on the SSH host
  for _, file in ipairs({ "boot.qcow2", "seed.img" }) do
    lu.assertEquals(owner(g.path .. "/" .. file), "joetest", file)
  end
  local overlay = h.sh("qemu-img info -U " .. h.q(g.path .. "/boot.qcow2"))
  lu.assertStrContains(overlay, "backing file: " .. base .. "\n")
  lu.assertEquals(h.sh("blkid -o value -s LABEL " .. h.q(g.path .. "/seed.img")), "cidata\n")
  local cmd = fixture.processes(g.pidfile)
  lu.assertStrContains(cmd, "-drive file=" .. g.path .. "/boot.qcow2,format=qcow2,if=virtio " ..
    "-drive file=" .. g.path .. "/seed.img,format=raw,if=virtio,readonly=on")
  lu.assertEquals(g:wait_up(60), true)
  local err, st = cijoe.run("cat /sys/block/vd*/size")
  lu.assertEquals(err, 0)
  lu.assertStrContains(st:output(), "524288\n") -- the overlay's 256 MiB, in sectors
  lu.assertEquals(g:poweroff(), true)
  lu.assertEquals(g:wait_down(30), true)
  lu.assertEquals(fixture.processes(g.pidfile), "")
end
