-- The fio package's own checks, on the target of the config (this machine by default):
-- fio is there, a short job runs, its JSON comes back as numbers, a bad job fails.
local lu = require("luaunit")
local fio = require("fio")

-- A scratch file for the jobs, in fio.remote_dir of the target.
local DATA = cijoe.getconf("fio.remote_dir", "/tmp") .. "/joe-fio-selftest.bin"

TestFioSelftest = {}

function TestFioSelftest:setUp()
  local err = cijoe.run(cijoe.quote(cijoe.getconf("fio.bin", "fio")) .. " --version")
  if err ~= 0 then lu.skip("fio is not installed on the target") end
end

function TestFioSelftest:tearDown()
  cijoe.run("rm -f " .. cijoe.quote(DATA))
end

function TestFioSelftest:test_randread_returns_numbers()
  local err, result = fio.run({ name = "selftest", filename = DATA, size = "8M",
    rw = "randread", bs = "4k", runtime = "500ms", time_based = true })
  lu.assertEquals(err, 0)
  local read = result.jobs[1].read
  lu.assertTrue(read.iops > 0)
  lu.assertEquals(math.type(read.bw), "integer")
  lu.assertTrue(read.clat_ns.percentile["99.000000"] >= read.clat_ns.percentile["50.000000"])
end

function TestFioSelftest:test_bad_job_fails_with_fio_status()
  local err, result, state = fio.run({ name = "bad", filename = DATA, rw = "frob" })
  lu.assertEquals(err, 1)
  lu.assertNil(result)
  lu.assertStrContains(state:output(), "rw=frob")
end
