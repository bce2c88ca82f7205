-- The qemu package's disk-image guests without booting a distro: the overlay over a base
-- image (nothing copied, however large the base), the cloud-init seed and what it
-- carries, fetching into the cache with a sha256, the command line that boots them, and
-- the bad inputs (a missing or corrupt base image, a seed tool missing, a qemu host that
-- is down, a wrong sha256), each a message naming the guest and the file, and no qemu
-- left. The boot of a real Debian image is in test_qemu_cloud.lua.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("qemu_fixture")
local qemu = require("qemu")

TestQemuImage = {}

function TestQemuImage:setUp()
  self.saved, self.dir = cijoe.config, h.tmpdir()
  self.base = self.dir .. "/base.qcow2"
  h.sh("qemu-img create -q -f qcow2 " .. h.q(self.base) .. " 1G && " ..
    "qemu-io -c 'write -P 0x55 0 4M' " .. h.q(self.base) .. " >/dev/null")
  self:configure()
end

function TestQemuImage:tearDown()
  if self.guest then self.guest:kill() end
  cijoe.close_transports()
  cijoe.config = self.saved
  local left = fixture.reap(self.dir .. "/")
  h.sh("rm -rf " .. h.q(self.dir))
  lu.assertEquals(left, "", "the test left qemu running")
end

-- The guest "img" over the base image, its transport "imgt" (user tester, a key pair in
-- the test's folder, made at initialize), and more YAML over it.
function TestQemuImage:configure(more)
  local files = fixture.files()
  cijoe.config = fixture.config({ string.format([[
cijoe:
  transport:
    imgt: {hostname: 127.0.0.1, username: tester, key_filename: %s/key, host_key_check: no}
    dead: {hostname: 127.0.0.1, port: %d, username: root, connect_timeout: 2}
qemu:
  guests:
    img:
      path: %s/img
      transport: imgt
      image: %s
      cloud_init:
        hostname: img-host
        user_data: {packages: [fio], write_files: [{path: /etc/joe, content: "hi\n"}]}
      kernel: %s
      initrd: %s
]], self.dir, h.free_port(), self.dir, self.base, files and files.kernel or "/k",
    files and files.initrd or "/i"), more })
end

-- qemu-img info of an image, as a table.
local function info(path)
  return h.yaml(h.write(path .. ".info", h.sh("qemu-img info --output=json -U " .. h.q(path))))
end

-- A file of the seed volume (an ISO 9660 image with Rock Ridge names), read with isoinfo.
local function seed_file(seed, name)
  return (h.sh("isoinfo -R -i " .. h.q(seed) .. " -x /" .. name))
end

function TestQemuImage:test_initialize_makes_an_overlay_and_a_seed_and_copies_nothing()
  local g = assert(qemu.guest("img"))
  local sum = h.sh("sha256sum " .. h.q(self.base))
  lu.assertEquals(g:initialize(), true)
  local overlay = info(g.path .. "/boot.qcow2")
  lu.assertEquals(overlay.format, "qcow2")
  lu.assertEquals(overlay["backing-filename"], self.base)
  lu.assertEquals(overlay["backing-filename-format"], "qcow2")
  lu.assertEquals(overlay["virtual-size"], 1024 * 1024 * 1024)
  lu.assertTrue(overlay["actual-size"] < 1024 * 1024, "overlay: " .. overlay["actual-size"])
  lu.assertEquals(h.sh("blkid -o value -s LABEL " .. h.q(g.path .. "/seed.img")), "cidata\n")
  local pub = assert(h.read(self.dir .. "/key.pub"), "initialize made the key pair")
  local ud = seed_file(g.path .. "/seed.img", "user-data")
  lu.assertStrMatches(ud, "#cloud%-config\n.*")
  local doc = h.yaml(h.write(self.dir .. "/ud.yaml", ud))
  lu.assertEquals(doc.users[1].name, "tester")
  lu.assertEquals(doc.users[1].ssh_authorized_keys, { (pub:gsub("\n$", "")) })
  lu.assertEquals(doc.users[1].sudo, "ALL=(ALL) NOPASSWD:ALL")
  lu.assertEquals({ doc.hostname, doc.locale, doc.packages }, { "img-host", false, { "fio" } })
  lu.assertEquals(doc.write_files[1].path, "/etc/joe")
  lu.assertStrContains(seed_file(g.path .. "/seed.img", "meta-data"), "local-hostname: img-host\n")
  lu.assertEquals(g:initialize(), true) -- again: a fresh overlay, the base untouched
  lu.assertTrue(info(g.path .. "/boot.qcow2")["actual-size"] < 1024 * 1024)
  lu.assertEquals(h.sh("sha256sum " .. h.q(self.base)), sum)
end

-- cloud_init: "no", quoted as YAML users write it, means no seed, as false does.
function TestQemuImage:test_a_quoted_no_for_cloud_init_makes_no_seed()
  self:configure("qemu: {guests: {img: {cloud_init: 'no'}}}")
  local g = assert(qemu.guest("img"))
  lu.assertEquals(g:initialize(), true)
  lu.assertNotNil(h.read(g.path .. "/boot.qcow2") and true)
  lu.assertNil(h.read(g.path .. "/seed.img"))
end

-- Any other word is refused before anything is made: it was taken as a mapping, and the
-- seed made with none of what the user meant.
function TestQemuImage:test_a_cloud_init_that_is_no_mapping_or_boolean_is_refused()
  self:configure("qemu: {guests: {img: {cloud_init: maybe}}}")
  local g = assert(qemu.guest("img"))
  local ok, msg = g:initialize()
  lu.assertNil(ok)
  lu.assertEquals(msg, "guest 'img': cloud_init is 'maybe': it must be a mapping (hostname," ..
    " user_data), true or false")
  lu.assertNil(h.read(g.path .. "/boot.qcow2"))
end

function TestQemuImage:test_root_gets_the_key_itself()
  self:configure("cijoe: {transport: {imgt: {username: root}}}")
  local g = assert(qemu.guest("img"))
  lu.assertEquals(g:initialize(), true)
  local doc = h.yaml(h.write(self.dir .. "/ud.yaml", seed_file(g.path .. "/seed.img", "user-data")))
  lu.assertEquals(doc.disable_root, false)
  lu.assertEquals(#doc.ssh_authorized_keys, 1)
  lu.assertNil(next(doc.users))
end

function TestQemuImage:test_start_boots_overlay_and_seed_and_initialize_refuses_while_running()
  if not fixture.files() then lu.skip("no test guest kernel") end
  local g = assert(qemu.guest("img"))
  self.guest = g
  lu.assertEquals(g:start(), true) -- no overlay yet: initialized first
  local cmd = fixture.processes(g.pidfile)
  lu.assertStrContains(cmd, "-kernel ")
  lu.assertStrContains(cmd, "-drive file=" .. g.path .. "/boot.qcow2,format=qcow2,if=virtio " ..
    "-drive file=" .. g.path .. "/seed.img,format=raw,if=virtio,readonly=on")
  local ok, msg = g:initialize()
  lu.assertNil(ok)
  lu.assertEquals(msg, "guest 'img': already running (pid " .. g:pid() ..
    "); qemu.guest_kill stops it")
  lu.assertEquals(g:kill(), true)
end

function TestQemuImage:test_a_missing_base_image_fails_the_step_and_leaves_no_qemu()
  self:configure("qemu: {guests: {img: {image: " .. self.dir .. "/none.qcow2}}}")
  local ok, msg = assert(qemu.guest("img")):initialize()
  lu.assertNil(ok)
  lu.assertEquals(msg, "guest 'img': base image " .. self.dir ..
    "/none.qcow2: no such file on transport 'local'")
  h.write(self.dir .. "/default.config", require("cijoe.packages").read("qemu/default.config"))
  h.write(self.dir .. "/over.yaml", string.format(
    "qemu: {guests: {debian: {path: %s/d, image: %s/none.qcow2}}}\n", self.dir, self.dir))
  h.write(self.dir .. "/wf.lua",
    'step{ name = "start", uses = "qemu.guest_start", with = { guest_name = "debian" } }\n')
  local status, _, err = h.joe_in(self.dir, "-c default.config -c over.yaml wf.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(err, "guest 'debian': base image " .. self.dir ..
    "/none.qcow2: no such file")
  lu.assertEquals(fixture.processes(self.dir .. "/d/"), "")
end

function TestQemuImage:test_a_corrupt_or_wrong_base_image_is_named()
  h.sh(string.format("cp %s %s/bad.qcow2 && dd if=/dev/urandom of=%s/bad.qcow2 bs=64k " ..
    "seek=1 count=2 conv=notrunc 2>/dev/null && head -c 65536 /dev/urandom >%s/junk.img",
    h.q(self.base), self.dir, self.dir, self.dir))
  self:configure("qemu: {guests: {img: {image: " .. self.dir .. "/bad.qcow2}}}")
  local ok, msg = assert(qemu.guest("img")):initialize()
  lu.assertNil(ok)
  lu.assertStrContains(msg, "guest 'img': base image " .. self.dir .. "/bad.qcow2 is corrupt: ")
  self:configure("qemu: {guests: {img: {image: " .. self.dir .. "/junk.img, image_format: qcow2}}}")
  ok, msg = assert(qemu.guest("img")):initialize()
  lu.assertNil(ok)
  lu.assertStrContains(msg, "guest 'img': base image " .. self.dir ..
    "/junk.img is not a disk image: ")
  lu.assertStrContains(msg, "not in qcow2 format")
  lu.assertNil(h.read(self.dir .. "/img/boot.qcow2")) -- nothing made
end

function TestQemuImage:test_a_missing_seed_tool_says_what_to_install()
  self:configure("qemu: {seed_tool: /nonexistent/cloud-localds}")
  local ok, msg = assert(qemu.guest("img")):initialize()
  lu.assertNil(ok)
  lu.assertEquals(msg, "guest 'img': no seed tool (/nonexistent/cloud-localds) on " ..
    "transport 'local': install cloud-image-utils (apt-get install cloud-image-utils)")
  self:configure("qemu: {seed_tool: mkseed}")
  ok, msg = assert(qemu.guest("img")):initialize()
  lu.assertNil(ok)
  lu.assertStrContains(msg, "qemu.seed_tool 'mkseed' is none of cloud-localds, genisoimage")
  self:configure("qemu: {seed_tool: genisoimage}") -- what cloud-localds runs, named itself
  local g = assert(qemu.guest("img"))
  lu.assertEquals(g:initialize(), true)
  lu.assertEquals(h.sh("blkid -o value -s LABEL " .. h.q(g.path .. "/seed.img")), "cidata\n")
end

function TestQemuImage:test_a_qemu_host_that_is_down_is_named()
  self:configure("qemu: {host_transport: dead}")
  local guest = assert(qemu.guest("img"))
  local ok, msg = cijoe.probe(guest.initialize, guest) -- the host is expected to be down
  lu.assertNil(ok)
  lu.assertStrContains(msg, "guest 'img': base image " .. self.base .. ": transport dead: ")
  ok, msg = cijoe.probe(guest.start, guest)
  lu.assertNil(ok)
  lu.assertStrContains(msg,
    "guest 'img': cannot ask the qemu host whether it runs: transport dead: ")
end

function TestQemuImage:test_image_url_is_fetched_once_into_the_cache_with_its_sha256()
  local sum = h.sh("sha256sum " .. h.q(self.base)):match("%x+")
  local cache = self.dir .. "/cache"
  local over = "qemu: {image_cache: %s, guests: {web: {path: " .. self.dir ..
    "/img, transport: imgt, image_url: 'file://%s', image_sha256: %s}}}"
  self:configure(string.format(over, cache, self.base, sum:upper()))
  lu.assertEquals(assert(qemu.guest("web")):initialize(), true)
  lu.assertEquals(h.sh("sha256sum < " .. h.q(cache .. "/base.qcow2")):match("%x+"), sum)
  lu.assertEquals(info(self.dir .. "/img/boot.qcow2")["backing-filename"], cache .. "/base.qcow2")
  h.sh("qemu-io -c 'write -P 0x66 0 1M' " .. h.q(self.base) .. " >/dev/null") -- the source changes
  lu.assertEquals(assert(qemu.guest("web")):initialize(), true) -- the cache is not fetched again
  lu.assertEquals(h.sh("sha256sum < " .. h.q(cache .. "/base.qcow2")):match("%x+"), sum)
  self:configure(string.format(over, self.dir .. "/cache2", self.base, sum))
  local ok, msg = assert(qemu.guest("web")):initialize() -- what comes now has another sum
  lu.assertNil(ok)
  lu.assertStrContains(msg, "guest 'web': base image " .. self.dir .. "/cache2/base.qcow2: " ..
    "what came from image_url has sha256 ")
  lu.assertStrContains(msg, ", not " .. sum .. " (image_sha256)")
  lu.assertEquals(h.sh("ls -A " .. h.q(self.dir .. "/cache2")), "base.qcow2.lock\n") -- nothing kept
  self:configure(string.format(over, self.dir .. "/cache3", self.dir .. "/nosuch", sum))
  ok, msg = assert(qemu.guest("web")):initialize()
  lu.assertNil(ok)
  lu.assertStrContains(msg, "guest 'web': cannot fetch file://" .. self.dir .. "/nosuch into " ..
    self.dir .. "/cache3/nosuch: curl: (37)")
end
