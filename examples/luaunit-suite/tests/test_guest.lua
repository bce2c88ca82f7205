-- A LuaUnit suite against a QEMU guest, written as CIJOE users write pytest: each test
-- names the fixtures it needs as parameters, and one test function runs over a table of
-- parameters, each case its own test. `guest` (the qemu package's) boots the guest once
-- for this file and powers it off after its last test; `fio` (the fio package's) runs one
-- fio job in the test that asks for it; `target` (the core's) is the default transport,
-- the guest here. Run it: joe -c default.config test tests/
local lu = require("luaunit")

function test_the_guest_sees_its_nvme_namespaces(guest)
  lu.assertTrue(guest:is_running())
  lu.assertEquals(cijoe.run("test -b /dev/nvme0n1 && test -b /dev/nvme0n2"), 0)
end

-- One test per block size: test_random_reads[bs=4k], test_random_reads[bs=64k], ...
test_random_reads = parametrize({ { bs = "4k" }, { bs = "64k" }, { bs = "1M" } },
  function(bs, guest, fio)
    local result = fio{ name = "randread-" .. bs, filename = "/dev/nvme0n1", rw = "randread",
      bs = bs, size = "64M", runtime = 1, time_based = true, ioengine = "libaio", direct = 1,
      iodepth = 4 }
    local read = result.jobs[1].read
    lu.assertTrue(read.iops > 0, "no reads at " .. bs)
    lu.assertEquals(result.jobs[1]["job options"].bs, bs)
  end)

-- One test per queue attribute of a namespace (dev, default nvme0n1), each with what it
-- must be; `target` runs the command, as cijoe.run on the default transport does.
test_queue_attribute = parametrize({
  { attr = "logical_block_size", want = "512" },
  { attr = "zoned", want = "none" },
  { id = "zoned namespace", attr = "zoned", want = "host-managed", dev = "nvme0n2" },
}, function(attr, want, dev, guest, target)
  lu.assertTrue(guest:is_running())
  local err, st = target.run("cat /sys/block/" .. (dev or "nvme0n1") .. "/queue/" .. attr)
  lu.assertEquals(err, 0)
  lu.assertEquals(st:output(), want .. "\n")
end)
