-- CIJOE 0.9.60's own guest task (example_task_guest_x86_64.yaml) run unchanged with its
-- own config (example_config_guest_x86_64.toml), on a real Debian guest: the disk image
-- from a cloud image (system_imaging), the guest's overlay and seed, boot, CIJOE's
-- core.wait_for_transport, hostname, `sudo shutdown -h now`, the wait for qemu to end.
-- Only what cannot be had here is put over the TOML, in YAML: no KVM (TCG), no internet
-- (the cloud image is the Debian image packages/qemu/guest/debian.sh builds, which boots
-- its own kernel), a free port and a key instead of CIJOE's root password (joe's
-- cloud-init seed logs in with keys only). Skipped only when the image cannot be built.
-- CIJOE's null_blk task (example_task_null_blk.yaml, example_config_null_blk.toml) runs
-- unchanged the same way: the Debian cloud kernel has the module.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("qemu_fixture")

local FIXTURES = h.root .. "/spec/fixtures/cijoe/"
local GUEST = "generic-bios-kvm-x86_64"

TestCijoeGuest = {}

function TestCijoeGuest:setUp()
  local image, why = fixture.debian_image()
  if not image then lu.skip(why) end
  self.image, self.dir = image, h.tmpdir()
end

function TestCijoeGuest:tearDown()
  if self.dir then fixture.reap(self.dir .. "/") end
end

-- What this machine needs over CIJOE's config.
function TestCijoeGuest:override()
  local port = h.free_port()
  return h.write(self.dir .. "/here.yaml", string.format([[
cijoe:
  transport:
    qemu_guest: {port: %d, key_filename: %s/key}
qemu:
  start_timeout: 300
  guests:
    %s:
      path: %s/guest
      accel: tcg
      cpu: max
      smp: 2
      memory: 1G
      extra_args: []
      ssh_port: %d
      kernel: %s
      initrd: %s
      append: "%s"
system-imaging:
  images:
    debian-12-x86_64:
      cloud: {path: %s}
      disk: {path: %s/disk/debian-12-x86_64.qcow2}
]], port, self.dir, GUEST, self.dir, port, self.image.kernel, self.image.initrd,
    self.image.append, self.image.image, self.dir))
end

-- Run CIJOE's task with its config and this machine's over it into ./run; assert that it
-- passed, each of steps with it, and return joe's stderr.
function TestCijoeGuest:run_task(config, task, steps)
  local status, out, err = h.joe_in(self.dir, "-c " .. FIXTURES .. config .. " -c " ..
    self:override() .. " -o run " .. FIXTURES .. task)
  lu.assertEquals(status, 0, out .. err)
  for _, s in ipairs(steps) do lu.assertStrMatches(out, ".*%d " .. s .. " +passed.*") end
  return err
end

function TestCijoeGuest:test_cijoes_guest_task_runs_unchanged()
  local err = self:run_task("example_config_guest_x86_64.toml", "example_task_guest_x86_64.yaml",
    { "diskimage_from_cloudimage", "guest_initialize", "guest_start", "guest_wait_start",
      "guest_check", "guest_shutdown", "guest_wait", "guest_kill" })
  local run = self.dir .. "/run"
  lu.assertEquals(h.read(run .. "/005_guest_check/cmd_01.output"), "generic-bios-kvm-x86-64\n")
  lu.assertEquals(h.yaml(run .. "/006_guest_shutdown/cmd_01.state").transport, "qemu_guest")
  lu.assertStrMatches(h.read(self.dir .. "/disk/debian-12-x86_64.qcow2.sha256"), "%x+\n")
  lu.assertStrContains(err, "example_config_guest_x86_64.toml:5:18: cijoe.transport.qemu_guest: " ..
    "host_key_check = no (it reaches qemu guest 'generic-bios-kvm-x86_64'")
  lu.assertEquals(fixture.processes(self.dir .. "/guest/"), "", "qemu is left running")
end

function TestCijoeGuest:test_cijoes_null_blk_task_runs_unchanged()
  self:run_task("example_config_null_blk.toml", "example_task_null_blk.yaml", { "guest_start",
    "guest_check", "sysinfo", "null_blk_insert", "list", "null_blk_remove", "guest_kill" })
  local run = self.dir .. "/run"
  local insert = h.yaml(run .. "/006_null_blk_insert/cmd_02.state")
  lu.assertStrContains(insert.cmd, "modprobe null_blk ")
  lu.assertStrContains(insert.cmd, "nr_devices='4'")
  local lsblk = h.read(run .. "/007_list/cmd_01.output")
  for i = 0, 3 do lu.assertStrMatches(lsblk, ".*\nnullb" .. i .. " .* 14G .*") end
  lu.assertEquals(h.yaml(run .. "/008_null_blk_remove/cmd_02.state").err, 0)
  lu.assertEquals(fixture.processes(self.dir .. "/guest/"), "", "qemu is left running")
end
