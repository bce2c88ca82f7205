-- cijoe.cijoe_config: CIJOE 0.9.60's example configs read with cijoe.toml and moved to
-- joe's keys, the warnings for what joe ignores, and the result passing joe's own config
-- check.
local lu = require("luaunit")
local h = require("helper")
local toml = require("cijoe.toml")
local yaml = require("cijoe.yaml")
local config = require("cijoe.config")
local cijoe_config = require("cijoe.cijoe_config")

local FIXTURES = h.root .. "/spec/fixtures/cijoe/"

-- A fixture (or text) loaded and mapped: the config, the warnings and the marks.
local function mapped(name, text)
  local root, marks = toml.load(text or assert(h.read(FIXTURES .. name)), name)
  assert(root, marks)
  local out, warnings = cijoe_config.map(root, marks, name)
  return out, warnings, marks
end

local QEMU_GUEST = { qemu_guest = { username = "root", password = "root",
  hostname = "localhost", port = 4200 } }
local SYSTEMS = { aarch64 = { bin = "qemu-system-aarch64" },
  x86_64 = { bin = "qemu-system-x86_64" } }
local VIRTFS = "'-virtfs' 'fsdriver=local,id=fsdev0,security_model=mapped,mount_tag=hostshare," ..
  "path={{ local.env.HOME }}' "
local X86 = { path = "{{ local.env.HOME }}/guests/generic-bios-kvm-x86_64",
  system = "qemu-system-x86_64", cpu = "host", smp = 4, memory = "6G", accel = "kvm",
  ssh_port = 4200, transport = "qemu_guest", extra_args = VIRTFS ..
  '-M "type=q35,kernel_irqchip=split" -device "intel-iommu,pt=on,intremap=on" ' }
local AARCH64 = { path = "{{ local.env.HOME }}/guests/generic-uefi-tcg-aarch64",
  system = "qemu-system-aarch64", cpu = "max", smp = 4, memory = "6G", accel = "tcg,thread=multi",
  ssh_port = 4200, transport = "qemu_guest",
  extra_args = VIRTFS .. '-M "virt,iommu=smmuv3,gic-version=3" ' }
local BOTH = { ["generic-bios-kvm-x86_64"] = X86, ["generic-uefi-tcg-aarch64"] = AARCH64 }
local NULL_BLK = { nr_devices = 4, queue_mode = 2, home_node = 0, bs = 512, irqmode = 2,
  gb = 14, completion_nsec = 10, submit_queue = 1, hw_queue_depth = 64, memory_backed = 1,
  use_per_node_hctx = 0, no_sched = 0, blocking = 0, shared_tags = 0, zoned = 0,
  zone_size = 256, zone_nr_conv = 0 }
local GUEST_CIJOE = { transport = QEMU_GUEST, workflow = { fail_fast = true } }

-- The warnings of an example with guests: the aarch64 guest's firmware (system-imaging is
-- checked by cijoe.cijoe_toml, spec/test_cijoe_toml.lua).
local function guest_warnings(file, aarch64_line)
  local out = {}
  if aarch64_line then
    out[1] = file .. ":" .. aarch64_line .. ":16: qemu.guests.generic-uefi-tcg-aarch64." ..
      "system_label: joe ignores this key (joe boots no UEFI firmware: CIJOE's " ..
      "qemu.guest_initialize makes bios.img for an aarch64 guest; give it as a pflash " ..
      "-drive in extra_args)"
  end
  return out
end

-- Each example: the sections joe reads as mapped, the other top-level keys, the warnings.
local EXAMPLES = {
  ["example_config_default.toml"] = { { cijoe = { workflow = { fail_fast = false } } },
    { "example" }, {} },
  ["example_config_get_put.toml"] = { { cijoe = GUEST_CIJOE, qemu = { img = "qemu-img",
    systems = SYSTEMS, guests = { ["generic-uefi-tcg-aarch64"] = AARCH64 } } },
    { "system-imaging" }, guest_warnings("example_config_get_put.toml", 29) },
  ["example_config_testrunner.toml"] = { { cijoe = GUEST_CIJOE, qemu = { img = "qemu-img",
    systems = SYSTEMS, guests = { ["generic-bios-kvm-x86_64"] = X86 } } },
    { "system-imaging", "testrunner" }, guest_warnings("example_config_testrunner.toml") },
  ["transport-ssh.toml"] = { { cijoe = { transport = { ssh = { username = "root",
    hostname = "test_target", port = 22 } } } }, {}, {} },
  ["example_config_build_kdebs.toml"] = { { linux = { null_blk = NULL_BLK, repository = {
    remote = "https://github.com/torvalds/linux.git", path = "{{ local.env.HOME }}/git/linux" } } },
    {}, {} },
  ["example_config_null_blk.toml"] = { { cijoe = GUEST_CIJOE, qemu = { img = "qemu-img",
    systems = SYSTEMS, guests = BOTH }, linux = { null_blk = NULL_BLK } }, { "system-imaging" },
    guest_warnings("example_config_null_blk.toml", 63) },
  ["example_config_build.toml"] = { { cijoe = { workflow = { fail_fast = true } }, qemu = {
    repository = { remote = "https://github.com/qemu/qemu.git", tag = "v9.2.0",
      path = "{{ local.env.HOME }}/git/qemu" },
    build = { prefix = "{{ local.env.HOME }}/opt/qemu" },
    img = "{{ local.env.HOME }}/opt/qemu/bin/qemu-img",
    systems = { x86_64 = { bin = "{{ local.env.HOME }}/opt/qemu/bin/qemu-system-x86_64" },
      aarch64 = { bin = "{{ local.env.HOME }}/opt/qemu/bin/qemu-system-aarch64" } } } }, {},
    { "example_config_build.toml:17:7: qemu.build: joe ignores this key (used by CIJOE's " ..
      "qemu.build and qemu.install, which joe does not have)" } },
  ["example_config_guest_aarch64.toml"] = { { cijoe = GUEST_CIJOE, qemu = { img = "qemu-img",
    systems = SYSTEMS, guests = BOTH } }, { "system-imaging" },
    guest_warnings("example_config_guest_aarch64.toml", 63) },
  ["example_config_guest_x86_64.toml"] = { { cijoe = GUEST_CIJOE, qemu = { img = "qemu-img",
    systems = SYSTEMS, guests = BOTH } }, { "system-imaging" },
    guest_warnings("example_config_guest_x86_64.toml", 63) },
  ["example_config_debian.toml"] = { { cijoe = GUEST_CIJOE, qemu = { img = "qemu-img",
    systems = SYSTEMS, guests = BOTH } }, { "system-imaging" },
    guest_warnings("example_config_debian.toml", 63) },
}

TestCijoeConfig = {}

function TestCijoeConfig:test_every_example_config_maps_to_joe_keys()
  local n = 0
  for name in h.sh("ls " .. FIXTURES .. "*.toml"):gmatch("[^\n]+") do
    local file = name:match("[^/]+$")
    local expected = assert(EXAMPLES[file], "no expectation for " .. file)
    local root, warnings = mapped(file)
    local others = {}
    for key, value in pairs(root) do
      if expected[1][key] then
        lu.assertEquals(value, expected[1][key], file .. ": " .. key)
      else
        others[#others + 1] = key
      end
    end
    table.sort(others)
    lu.assertEquals(others, expected[2], file)
    lu.assertEquals(warnings, expected[3], file)
    n = n + 1
  end
  lu.assertEquals(n, 10)
end

-- What a mapped example holds, joe's config loader takes (its transport keys are checked).
function TestCijoeConfig:test_mapped_examples_pass_joes_config_check()
  local warn = config.warn
  config.warn = function() end -- the system-imaging keys: spec/test_cijoe_toml.lua
  for file in pairs(EXAMPLES) do
    local root = mapped(file)
    local conf, err = config.load({ { file = file .. ".yaml", text = yaml.dump(root) } })
    lu.assertNotNil(conf, err)
  end
  local text = yaml.dump(mapped("example_config_null_blk.toml"))
  local conf = config.load({ { file = "g.yaml", text = text } })
  config.warn = warn
  lu.assertEquals(config.transport_names(conf), { "qemu_guest" })
end

-- Moved values keep the marks of where CIJOE's file wrote them, so joe's messages about a
-- bad value name the CIJOE file's line.
function TestCijoeConfig:test_moved_values_keep_their_marks()
  local root, _, marks = mapped("example_config_get_put.toml")
  lu.assertEquals(marks[root.cijoe].workflow, "11:8")
  lu.assertEquals(marks[root.cijoe.workflow].fail_fast, "12:11")
  lu.assertEquals(marks[root.qemu].img, "16:11")
  local g = root.qemu.guests["generic-uefi-tcg-aarch64"]
  lu.assertEquals(marks[g].system, "19:7")
  lu.assertEquals(marks[g].cpu, "32:26")
  lu.assertEquals(marks[g].memory, "32:46")
  lu.assertEquals(marks[g].ssh_port, "49:35")
  lu.assertEquals(marks[g].transport, "49:35")
  lu.assertEquals(marks[g].extra_args, "32:1")
  local kdebs, _, kmarks = mapped("example_config_build_kdebs.toml")
  lu.assertEquals(kmarks[kdebs.linux].null_blk, "13:2")
  lu.assertEquals(kmarks[kdebs.linux.null_blk].gb, "19:6")
end

-- A config with every CIJOE key joe moves or ignores, beyond what the examples write.
local EVERYTHING = [[
[cijoe.transport.box]
hostname = "127.0.0.1"
port = 2222
username = "u"
timeout = 7
key_filename = ["~/.ssh/a", "~/.ssh/b"]
allow_agent = true
look_for_keys = false
compress = true
banner_timeout = 3
gss_auth = true
sock = "x"

[cijoe.transport.picky]
hostname = "h"
allow_agent = false
look_for_keys = true
host_key_check = "accept-new"

[cijoe.run]
shell = "pwsh"
env = {LC_ALL = "C"}

[cijoe.workflow]
fail_fast = false

[cijoe.task]
fail_fast = true
repeat = 2

[cijoe.color]
x = 1

[qemu]
img_bin = "/opt/qemu-img"
img = "/usr/bin/qemu-img"
turbo = true

[qemu.guests.g]
system_label = "riscv64"
boot_driver = "virtio-scsi-pci"
system_image_name = "debian"
initialize.diskimage = "debian"
system_args.kwa = {M = "virt", m = "1G", device = "virtio-rng-pci", smp = 2, numa = {node = 1}}
system_args.tcp_forward = {host = 2222, guest = 22, host_address = "0.0.0.0"}
system_args.extra = "?"
nvme = []

[qemu.guests.h]
boot_driver = "virtio-blk-pci"
extra_args = ["-s"]
system_args.kwa = {enable-kvm = true}
system_args.tcp_forward = {host = 2223, guest = 2200}

[linux]
modules = ["nvme"]

[linux.repository]
remote = "r"
path = "p"
depth = 1

[null_blk]
nr_devices = 2

[fio]
bin = "fio"
engine = "io_uring"

[example]
anything = "stays"
]]

function TestCijoeConfig:test_each_key_joe_moves_or_ignores()
  local root, warnings = mapped("all.toml", EVERYTHING)
  lu.assertEquals(root.cijoe, {
    transport = {
      box = { hostname = "127.0.0.1", port = 2222, username = "u", connect_timeout = 7,
        key_filename = "~/.ssh/a" },
      picky = { hostname = "h", host_key_check = "accept-new" },
    },
    run = { shell = "pwsh", env = { LC_ALL = "C" } },
    workflow = { fail_fast = true },
    task = { ["repeat"] = 2 },
    color = { x = 1 },
  })
  lu.assertEquals(root.qemu, {
    img = "/usr/bin/qemu-img", turbo = true,
    guests = {
      g = { boot_driver = "virtio-scsi-pci", system_image_name = "debian",
        initialize = { diskimage = "debian" }, machine = "virt", memory = "1G", smp = 2,
        nvme = {}, ssh_port = 2222, transport = "box",
        extra_args = { "-device", "virtio-rng-pci" } },
      h = { extra_args = { "-s", "-enable-kvm", "True" } },
    },
  })
  lu.assertEquals(root.linux, { modules = { "nvme" }, repository = { remote = "r", path = "p",
    depth = 1 }, null_blk = { nr_devices = 2 } })
  lu.assertEquals(root.fio, { bin = "fio", engine = "io_uring" })
  lu.assertEquals(root.example, { anything = "stays" })
  local why = "joe ignores this key ("
  lu.assertEquals(warnings, {
    "all.toml:6:29: cijoe.transport.box.key_filename[2]: " .. why .. "joe logs in with one " ..
      "key file, the first)",
    "all.toml:9:12: cijoe.transport.box.compress: " .. why .. "joe's SSH transport does not " ..
      "compress)",
    "all.toml:10:18: cijoe.transport.box.banner_timeout: " .. why .. "joe's connect_timeout " ..
      "bounds the connection, handshake and login together)",
    "all.toml:11:12: cijoe.transport.box.gss_auth: " .. why .. "joe has no GSS-API " ..
      "(Kerberos) login)",
    "all.toml:12:8: cijoe.transport.box.sock: " .. why .. "joe's SSH transport has no such " ..
      "setting)",
    "all.toml:16:15: cijoe.transport.picky.allow_agent: " .. why .. "joe always offers the " ..
      "ssh-agent's keys when SSH_AUTH_SOCK is set)",
    "all.toml:17:17: cijoe.transport.picky.look_for_keys: " .. why .. "joe does not search " ..
      "~/.ssh for keys; name one in key_filename)",
    "all.toml:21:9: cijoe.run.shell: " .. why .. "joe runs commands with the target's POSIX shell)",
    "all.toml:29:10: cijoe.task.repeat: " .. why .. "joe's workflows have no such setting)",
    "all.toml:31:8: cijoe.color: " .. why .. "joe has no such setting)",
    "all.toml:37:9: qemu.turbo: " .. why .. "joe's qemu package has no such setting)",
    "all.toml:40:16: qemu.guests.g.system_label: " .. why .. "no qemu.systems.riscv64.bin " ..
      "names its qemu binary)",
    "all.toml:41:15: qemu.guests.g.boot_driver: " .. why .. "joe boots the disk with if=virtio)",
    "all.toml:43:1: qemu.guests.g.initialize: " .. why .. "joe's qemu.guest_initialize " ..
      "takes with.system_image_name instead)",
    "all.toml:44:85: qemu.guests.g.system_args.kwa.numa: " .. why .. "a table; write the " ..
      "option's value as a string)",
    "all.toml:45:68: qemu.guests.g.system_args.tcp_forward.host_address: " .. why .. "joe " ..
      "forwards from 127.0.0.1 only)",
    "all.toml:46:21: qemu.guests.g.system_args.extra: " .. why .. "neither CIJOE's qemu " ..
      "wrapper nor joe reads it)",
    "all.toml:53:49: qemu.guests.h.system_args.tcp_forward.guest: " .. why .. "joe forwards " ..
      "the guest's port 22 only)",
    "all.toml:56:11: linux.modules: " .. why .. "joe's linux package has no such setting)",
    "all.toml:61:9: linux.repository.depth: " .. why .. "joe's core.repository_prep does not " ..
      "read it)",
    "all.toml:68:10: fio.engine: " .. why .. "joe's fio package has no such setting)",
  })
end

function TestCijoeConfig:test_a_config_with_nothing_of_cijoe_stays_as_it_is()
  local root, warnings = mapped("empty.toml", "")
  lu.assertEquals(root, {})
  lu.assertEquals(warnings, {})
  root, warnings = mapped("joe.toml", "[cijoe.workflow]\nfail_fast = true\n[mine]\nx = 1\n")
  lu.assertEquals(root, { cijoe = { workflow = { fail_fast = true } }, mine = { x = 1 } })
  lu.assertEquals(warnings, {})
end
