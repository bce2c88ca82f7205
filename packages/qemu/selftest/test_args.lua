-- The qemu command line built from guest config tables; nothing is booted.
local lu = require("luaunit")
local args = require("qemu.args")

local FILES = { dir = "/g", name = "t", pidfile = "/g/guest.pid", qmp = "/g/qmp.sock",
  console = "/g/console.log", daemonize = true }

-- The command line of config c as one string, and the images it needs.
local function line(c, files)
  local words, images = args.build(c, files or FILES)
  if not words then return nil, images end
  return table.concat(words, " "), images
end

TestQemuArgs = {}

function TestQemuArgs:test_defaults_and_control_files()
  local cmd, images = line({ kernel = "/k", initrd = "/i", append = "console=ttyS0" })
  lu.assertStrContains(cmd, "qemu-system-x86_64 -name t -display none -serial file:/g/console.log " ..
    "-qmp unix:/g/qmp.sock,server=on,wait=off -pidfile /g/guest.pid -daemonize")
  lu.assertStrContains(cmd, "-machine q35 -cpu max -smp 2 -m 512M -accel tcg")
  lu.assertStrContains(cmd, "-kernel /k -initrd /i -append console=ttyS0")
  lu.assertStrContains(cmd, "-netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile=")
  lu.assertEquals(images, {})
end

function TestQemuArgs:test_ssh_port_is_forwarded_from_loopback_only()
  local cmd = line({ kernel = "/k", ssh_port = 10022 })
  lu.assertStrContains(cmd, "-netdev user,id=net0,hostfwd=tcp:127.0.0.1:10022-:22 ")
end

function TestQemuArgs:test_accelerators_in_order_and_boot_disk()
  local cmd = line({ accel = "kvm:tcg", memory = 1024, smp = 4 })
  lu.assertStrContains(cmd, "-smp 4 -m 1024 -accel kvm -accel tcg")
  lu.assertStrContains(cmd, "-drive file=/g/boot.img,format=qcow2,if=virtio")
  local files = setmetatable({ daemonize = false }, { __index = FILES })
  lu.assertNotStrContains(line({ boot_img = "/b,c.raw", boot_img_format = "raw" }, files), "-daemonize")
  lu.assertStrContains(line({ boot_img = "/b,c.raw", boot_img_format = "raw" }), "file=/b,,c.raw,format=raw")
end

function TestQemuArgs:test_disks()
  local cmd = line({ kernel = "/k", disks = { { file = "/t.img", readonly = true }, { file = "/u.qcow2", format = "qcow2" } } })
  lu.assertStrContains(cmd, "-drive file=/t.img,format=raw,if=virtio,readonly=on -drive file=/u.qcow2,format=qcow2,if=virtio")
  lu.assertEquals(select(2, line({ disks = { { format = "raw" } } })), "disks[1] needs a file")
end

function TestQemuArgs:test_nvme_conventional_and_zoned_namespaces()
  local cmd, images = line({ kernel = "/k", nvme = { { serial = "s1", mdts = 7, namespaces = {
    { size = "1G" },
    { size = "2G", zoned = true, zone_size = "64M", zone_capacity = "48M", max_open = 8, max_active = 9 },
  } }, { namespaces = { { file = "/x.qcow2", format = "qcow2", block_size = 4096 } } } } })
  lu.assertStrContains(cmd, "-device nvme,id=nvme0,serial=s1,mdts=7 " ..
    "-drive if=none,id=nvme0n1,file=/g/nvme0n1.img,format=raw -device nvme-ns,drive=nvme0n1,bus=nvme0,nsid=1 " ..
    "-drive if=none,id=nvme0n2,file=/g/nvme0n2.img,format=raw -device nvme-ns,drive=nvme0n2,bus=nvme0,nsid=2," ..
    "zoned=on,zoned.zone_size=64M,zoned.zone_capacity=48M,zoned.max_open=8,zoned.max_active=9 ")
  lu.assertStrContains(cmd, "-device nvme,id=nvme1,serial=joe0002 -drive if=none,id=nvme1n1,file=/x.qcow2,format=qcow2 " ..
    "-device nvme-ns,drive=nvme1n1,bus=nvme1,nsid=1,logical_block_size=4096,physical_block_size=4096")
  lu.assertEquals(images, { { file = "/g/nvme0n1.img", format = "raw", size = "1G" },
    { file = "/g/nvme0n2.img", format = "raw", size = "2G" }, { file = "/x.qcow2", format = "qcow2" } })
end

function TestQemuArgs:test_bad_nvme_entries_say_where()
  lu.assertEquals(select(2, line({ nvme = { { namespaces = { {} } } } })), "nvme[1].namespaces[1] needs a size (or a file)")
  lu.assertEquals(select(2, line({ nvme = { "x" } })), "nvme[1] must be a mapping")
end

function TestQemuArgs:test_paths_go_through_expand()
  local files = setmetatable({ expand = function(p) return (p:gsub("^~", "/home/u")) end }, { __index = FILES })
  local cmd = line({ kernel = "~/k", initrd = "~/i", disks = { { file = "~/d" } },
    nvme = { { namespaces = { { file = "~/n" } } } } }, files)
  lu.assertStrContains(cmd, "-kernel /home/u/k -initrd /home/u/i")
  lu.assertStrContains(cmd, "file=/home/u/d,")
  lu.assertStrContains(cmd, "file=/home/u/n,")
end

function TestQemuArgs:test_an_image_guest_boots_its_overlay_then_its_seed()
  local cmd = line({ kernel = "/k", append = "root=/dev/vda", boot_img = "/g/boot.qcow2",
    seed = "/g/seed.img", disks = { { file = "/t.img" } } })
  lu.assertStrContains(cmd, "-kernel /k -append root=/dev/vda -drive file=/g/boot.qcow2,format=qcow2," ..
    "if=virtio -drive file=/g/seed.img,format=raw,if=virtio,readonly=on -netdev ")
  lu.assertStrContains(cmd, "-drive file=/t.img,format=raw,if=virtio") -- after them: /dev/vdc
  lu.assertNotStrContains(line({ boot_img = "/g/boot.qcow2" }), "-kernel")
end

function TestQemuArgs:test_ssh_port_values()
  local ports = require("qemu.ports")
  lu.assertEquals(ports.parse(nil), "auto")
  lu.assertEquals(ports.parse("auto"), "auto")
  lu.assertEquals(ports.parse(false), "none")
  lu.assertEquals(ports.parse("none"), "none")
  lu.assertEquals(ports.parse(10022), 10022)
  lu.assertEquals(ports.parse("10022"), 10022) -- from the environment
  lu.assertEquals({ ports.parse(70000) }, { nil, "ssh_port must be a port number (1-65535) or auto, not 70000" })
  lu.assertEquals(select(2, ports.parse("x")), "ssh_port must be a port number (1-65535) or auto, not x")
  lu.assertNotStrContains(line({ kernel = "/k" }), "hostfwd") -- no port given, none forwarded
end
