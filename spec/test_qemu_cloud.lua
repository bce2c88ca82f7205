-- A real Debian 12 guest with cloud-init: its disk image built from Debian packages with
-- mmdebstrap (packages/qemu/guest/debian.sh, cached like the test guest), booted by the
-- qemu package's CIJOE task (cloud.workflow, CIJOE's step names) run by joe, with an
-- overlay and a cloud-init seed of its own, and reached over SSH as the user cloud-init
-- made, with a key pair made for this test (none is in the image). Then the nvme package
-- against its conventional and zoned namespaces and fio in it, and the task's power-off
-- through QMP, which leaves no qemu. One boot serves every test: the task's boot steps
-- start the guest (this process finds its port in the guest folder), the tests in between
-- only run commands in it, and the last (test_zz_) runs the task's shutdown steps.
-- Skipped only when the image cannot be built.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("qemu_fixture")
local fio = require("fio")
local nvme = require("nvme")
local packages = require("cijoe.packages")
local proc = require("cijoe.proc")
local qemu = require("qemu")

local BOOT = "diskimage guest_kill_stale guest_initialize guest_start guest_wait_start " ..
  "guest_check nvme_info"
local SHUTDOWN = "guest_shutdown guest_wait guest_kill"
local ON = { transport = "debian" }

TestQemuCloud = {}

-- The test's folder: the package's config and task, and its own over them.
local function make_folder(image)
  local dir = h.tmpdir()
  h.write(dir .. "/default.config", packages.read("qemu/default.config"))
  h.write(dir .. "/cloud.workflow", packages.read("qemu/cloud.workflow"))
  local over = string.format([[
cijoe: {transport: {debian: {key_filename: %s/key}}}
qemu:
  guests:
    debian: {path: %s/debian, image: %s, kernel: %s, initrd: %s, append: "%s"}
]], dir, dir, image.image, image.kernel, image.initrd, image.append)
  h.write(dir .. "/over.yaml", over)
  return dir, over
end

-- Run joe on the task's steps in the class's folder; status, output, seconds.
local function task(steps)
  local t0 = proc.now()
  local status, out, err = h.joe_in(TestQemuCloud.dir,
    "-c default.config -c over.yaml cloud.workflow " .. steps)
  return status, (out or "") .. (err or ""), proc.now() - t0
end

function TestQemuCloud:setUp()
  local class = TestQemuCloud
  self.saved = cijoe.config -- first: tearDown runs after a skip too, and puts it back
  local image, why = fixture.debian_image()
  if not image then lu.skip(why) end
  if not class.dir then
    local over
    class.dir, over = make_folder(image)
    class.config = fixture.config({ over })
    class.boot_status, class.boot_out, class.boot_seconds = task(BOOT)
    class.run = h.sh("readlink -f " .. h.q(h.latest(class.dir))):gsub("\n$", "")
  end
  cijoe.config = class.config
  lu.assertEquals(class.boot_status, 0, class.boot_out)
end

function TestQemuCloud:tearDown()
  cijoe.close_transports()
  cijoe.config = self.saved
end

function TestQemuCloud.teardownClass()
  local class, saved = TestQemuCloud, cijoe.config
  if not class.dir then return end
  cijoe.config = class.config
  local g = qemu.guest("debian")
  if g then g:kill() end
  cijoe.close_transports()
  cijoe.config = saved
  local left = fixture.reap(class.dir .. "/")
  h.sh("rm -rf " .. h.q(class.dir))
  class.dir = nil
  if left ~= "" then io.stderr:write("TestQemuCloud: qemu was left running:\n", left) end
end

-- Run cmd in the guest; its exit status and output.
local function guest_run(cmd)
  local err, st = cijoe.run(cmd, ON)
  lu.assertNotNil(err, st)
  return err, st:output()
end

-- The steps of the boot run with their status, and the elapsed seconds of one.
local function boot_steps(name)
  local out, seconds = {}, nil
  for _, st in ipairs(h.yaml(TestQemuCloud.run .. "/workflow.state").steps) do
    out[#out + 1] = st.name .. "=" .. st.status
    if st.name == name then seconds = st.elapsed end
  end
  return out, seconds
end

function TestQemuCloud:test_a_cijoe_task_initializes_and_boots_it()
  local statuses, start = boot_steps("guest_start")
  lu.assertEquals(statuses, { "diskimage=passed", "guest_kill_stale=passed",
    "guest_initialize=passed", "guest_start=passed", "guest_wait_start=passed",
    "guest_check=passed", "nvme_info=passed",
    "guest_shutdown=skipped", "guest_wait=skipped", "guest_kill=skipped" })
  local _, init = boot_steps("guest_initialize")
  print(string.format("\n  initialize (overlay, seed): %.2f s; start to SSH answering: %.1f s; " ..
    "the boot steps: %.1f s", init, start, self.boot_seconds))
  local check = h.sh("cat " .. h.q(self.run) .. "/006_guest_check/cmd_*.output")
  lu.assertStrContains(check, "joe-debian\n")
  lu.assertStrContains(check, "status: done")
  lu.assertStrContains(check, "/dev/nvme0n2 ")
  local info = h.yaml(self.run .. "/007_nvme_info/artifacts/nvme-info.yaml")
  lu.assertEquals(info.controllers[1].serial, "joe0001")
  lu.assertEquals(info.controllers[1].namespaces[2].zones, 16)
end

function TestQemuCloud:test_the_user_and_its_key_come_from_the_seed()
  local pub = assert(h.read(self.dir .. "/key.pub"), "initialize made the test's key pair")
  lu.assertEquals({ guest_run("id -un") }, { 0, "joe\n" })
  lu.assertEquals({ guest_run("cat ~/.ssh/authorized_keys") }, { 0, pub })
  lu.assertEquals({ guest_run("sudo -n id -u") }, { 0, "0\n" })
  local _, ds = guest_run("cat /var/lib/cloud/instance/datasource")
  lu.assertStrContains(ds, "DataSourceNoCloud [seed=/dev/vdb]") -- the seed, after the overlay
  local g = assert(qemu.guest("debian")) -- the joe run started it; its port is in its folder
  lu.assertEquals(cijoe.getconf("cijoe.transport.debian.port"), g:ssh_port())
  lu.assertEquals(h.read(g.path .. "/ssh_port"), g:ssh_port() .. "\n")
end

function TestQemuCloud:test_nvme_package_in_the_debian_guest()
  local ctrl, st = nvme.id_ctrl("/dev/nvme0", ON)
  lu.assertNotNil(ctrl, st)
  lu.assertStrContains(st.cmd, "sudo -n 'nvme' id-ctrl") -- its user is not root
  lu.assertEquals({ ctrl.vid, ctrl.mdts, (ctrl.sn:gsub("%s+$", "")) }, { 0x1b36, 7, "joe0001" })
  local list = assert(nvme.list(ON))
  lu.assertEquals(#list.Devices, 2)
  local zoned = "/dev/nvme0n2"
  lu.assertEquals({ guest_run("cat /sys/block/nvme0n2/queue/zoned") }, { 0, "host-managed\n" })
  lu.assertEquals(nvme.zone_reset(zoned, nil, ON), true)
  lu.assertEquals(nvme.zone_open(zoned, 0, ON), true)
  lu.assertEquals(nvme.zone_finish(zoned, 131072, ON), true)
  local report = assert(nvme.report_zones(zoned, ON))
  lu.assertEquals(report.nr_zones, 16)
  local zones = report.zone_list
  lu.assertEquals({ zones[1].state, zones[2].state, zones[3].state },
    { "EXP_OPENED", "FULL", "EMPTY" })
  lu.assertEquals(nvme.zone_reset(zoned, nil, ON), true)
  report = assert(nvme.report_zones(zoned, { transport = "debian", count = 2 }))
  lu.assertEquals(report.zone_list[2].state, "EMPTY")
end

function TestQemuCloud:test_fio_on_the_conventional_namespace()
  local err, out = guest_run("sudo -n fio --name=rr --filename=/dev/nvme0n1 --rw=randread " ..
    "--bs=4k --size=64M --runtime=2 --time_based --ioengine=libaio --iodepth=8 --direct=1 " ..
    "--output-format=json")
  lu.assertEquals(err, 0, out)
  local job = assert(fio.decode(out, "fio")).jobs[1]
  lu.assertEquals(job.error, 0)
  lu.assertTrue(job.read.iops > 0)
  print(string.format("\n  fio randread 4k in the Debian guest: %.0f IOPS", job.read.iops))
end

-- Last (LuaUnit runs a class's tests in name order): the guest goes down.
function TestQemuCloud:test_zz_the_task_powers_it_off_through_qmp_and_leaves_no_qemu()
  local g = assert(qemu.guest("debian"))
  lu.assertEquals(g:is_running(), true)
  local status, out, seconds = task(SHUTDOWN)
  lu.assertEquals(status, 0, out)
  print(string.format("\n  power button to qemu gone: %.1f s", seconds))
  lu.assertEquals(g:is_running(), false)
  lu.assertEquals(fixture.processes(self.dir .. "/"), "")
  lu.assertStrContains(h.read(g.console), "reboot: Power down")
  local err, msg = cijoe.probe(cijoe.run, "true", ON) -- it is expected to be down now
  lu.assertNil(err)
  lu.assertStrContains(msg, "guest 'debian': not running, so it has no SSH port")
end
