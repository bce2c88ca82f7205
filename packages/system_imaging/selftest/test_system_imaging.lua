-- The system_imaging package's own checks on this machine (the qemu host of the default
-- config): a disk image made from a cloud image fetched with curl from a file:// URL.
local lu = require("luaunit")
local system_imaging = require("system_imaging")

TestSystemImagingSelftest = {}

function TestSystemImagingSelftest:setUp()
  self.saved = cijoe.config
  local dir = os.tmpname()
  os.remove(dir)
  self.dir = dir
  assert(cijoe.run_local("mkdir -p " .. cijoe.quote(dir)) == 0)
  local config = {}
  for k, v in pairs(self.saved) do config[k] = v end
  config["system-imaging"] = { images = {
    ["tiny-x86_64"] = { cloud = { url = "file://" .. dir .. "/src.img", path = dir .. "/c/cloud.img" },
      disk = { path = dir .. "/d/disk.qcow2" } },
    ["other-aarch64"] = { cloud = { path = dir .. "/none.img" }, disk = { path = dir .. "/x" } } } }
  config.qemu = { host_transport = "local" }
  cijoe.config = config
end

function TestSystemImagingSelftest:tearDown()
  cijoe.config = self.saved
  cijoe.run_local("rm -rf " .. cijoe.quote(self.dir))
end

function TestSystemImagingSelftest:test_matching_is_fnmatch_without_case()
  lu.assertEquals(system_imaging.matching("*"), { "other-aarch64", "tiny-x86_64" })
  lu.assertEquals(system_imaging.matching("TINY-*"), { "tiny-x86_64" })
  lu.assertEquals(system_imaging.matching("*-x86_6?"), { "tiny-x86_64" })
  lu.assertEquals(system_imaging.matching("tiny"), {})
end

function TestSystemImagingSelftest:test_a_disk_image_from_a_fetched_cloud_image()
  if cijoe.run_local("command -v qemu-img && command -v curl") ~= 0 then
    lu.skip("qemu-img or curl is not installed")
  end
  lu.assertEquals(cijoe.run_local("qemu-img create -q -f raw " .. self.dir .. "/src.img 4M"), 0)
  lu.assertEquals(system_imaging.diskimage_from_cloudimage("tiny-x86_64"), true)
  local err, st = cijoe.run_local("qemu-img info " .. self.dir .. "/d/disk.qcow2")
  lu.assertEquals(err, 0)
  lu.assertStrContains(st:output(), "file format: qcow2")
  local _, sum = cijoe.run_local("cat " .. self.dir .. "/d/disk.qcow2.sha256")
  lu.assertStrMatches(sum:output(), "%x+\n")
  local ok, msg = system_imaging.diskimage_from_cloudimage("other-aarch64")
  lu.assertNil(ok)
  lu.assertEquals(msg, "system image 'other-aarch64': " .. self.dir .. "/none.img: no such " ..
    "file (and no cloud.url)")
  ok, msg = system_imaging.diskimage_from_cloudimage("nope")
  lu.assertEquals(msg, "no system image 'nope' in the config (system-imaging.images.nope)")
end
