-- The linux package's own checks, on the target of the config (this machine by default).
local lu = require("luaunit")
local linux = require("linux")

TestLinuxSelftest = {}

function TestLinuxSelftest:test_sysinfo_runs_every_item()
  local failed, items = linux.sysinfo()
  lu.assertEquals(failed, 0)
  lu.assertEquals(#items, #linux.SYSINFO)
  lu.assertEquals(items[1].status, "ok") -- uname is everywhere
end

function TestLinuxSelftest:test_null_blk_insert_and_remove()
  local has, why = linux.has_module("null_blk")
  if not has then lu.skip(why) end
  lu.assertEquals(linux.null_blk_insert({ nr_devices = 1, gb = 1 }), 0)
  lu.assertEquals(cijoe.run("test -b /dev/nullb0"), 0)
  lu.assertEquals(linux.null_blk_remove(), 0)
end
