-- The fio package against the real fio of this machine: jobs on a small file in a scratch
-- folder, their JSON kept as artifacts and parsed, failures, quoting, the fio.run worklet.
local lu = require("luaunit")
local h = require("helper")
local fio = require("fio")

TestFio = {}

function TestFio:setUp()
  self.dir = h.tmpdir()
end

function TestFio:tearDown()
  h.sh("rm -rf " .. h.q(self.dir))
end

-- A short time-based job on a 16 MiB file of the scratch folder.
local function job(dir, name, rw, more)
  local opts = { name = name, filename = dir .. "/data", size = "16M", rw = rw, bs = "4k",
    ioengine = "psync", runtime = 1, time_based = true }
  for k, v in pairs(more or {}) do opts[k] = v end
  return opts
end

-- The numbers fio reports for one direction of a job, checked for sanity.
local function assert_sane(d, io_kind)
  lu.assertTrue(d.iops > 0, io_kind .. " iops")
  lu.assertEquals(math.type(d.bw), "integer")
  lu.assertTrue(d.bw > 0)
  lu.assertAlmostEquals(d.bw_bytes / 1024, d.bw, d.bw * 0.01 + 1)
  lu.assertTrue(d.total_ios > 0)
  local clat = d.clat_ns
  lu.assertTrue(clat.min <= clat.mean and clat.mean <= clat.max)
  local p50, p99 = clat.percentile["50.000000"], clat.percentile["99.000000"]
  lu.assertEquals(math.type(p50), "integer")
  lu.assertTrue(p50 > 0 and p50 <= p99)
end

function TestFio:test_randread_and_randwrite_parse_real_output()
  local err, result, state = fio.run(job(self.dir, "rr", "randread"))
  lu.assertEquals(err, 0, state and state:output())
  lu.assertEquals(result.jobs[1].jobname, "rr")
  lu.assertEquals(result.jobs[1].error, 0)
  assert_sane(result.jobs[1].read, "read")
  lu.assertEquals(result.jobs[1].write.iops, 0)
  err, result = fio.run(job(self.dir, "rw", "randwrite", { numjobs = 2 }))
  lu.assertEquals(err, 0)
  lu.assertEquals(#result.jobs, 2)
  assert_sane(result.jobs[2].write, "write")
  local artifacts = cijoe.step_path("artifacts")
  local kept = fio.decode(h.read(artifacts .. "/fio-rr.json"))
  lu.assertEquals(kept.jobs[1]["job options"].rw, "randread")
  lu.assertStrContains(h.read(artifacts .. "/fio-rw.json"), '"fio version"')
  lu.assertEquals(h.sh("ls /tmp | grep -c '^joe-fio-r[rw]-'"), "0\n") -- removed on the target
end

function TestFio:test_same_name_twice_keeps_both_results()
  lu.assertEquals(fio.run(job(self.dir, "twice", "read", { runtime = "200ms" })), 0)
  lu.assertEquals(fio.run(job(self.dir, "twice", "read", { runtime = "200ms" })), 0)
  local artifacts = cijoe.step_path("artifacts")
  lu.assertNotNil(h.read(artifacts .. "/fio-twice.json"))
  lu.assertNotNil(h.read(artifacts .. "/fio-twice-2.json"))
end

function TestFio:test_fio_failure_returns_its_status_and_message()
  local err, result, state = fio.run({ name = "nodev", filename = self.dir .. "/no/such/dev",
    rw = "read" })
  lu.assertEquals(err, 1)
  lu.assertNil(result)
  lu.assertStrContains(state:output(), "you need to specify size=")
  err, result, state = fio.run(job(self.dir, "badopt", "read", { extra = { "--no-such-option" } }))
  lu.assertEquals(err, 1)
  lu.assertStrContains(state:output(), "unrecognized option '--no-such-option'")
  lu.assertStrContains(h.read(state.output_fpath), "--no-such-option")
end

function TestFio:test_unknown_transport_is_nil_and_message()
  local err, msg = fio.run(job(self.dir, "x", "read"), { transport = "nowhere", probe = true })
  lu.assertNil(err)
  lu.assertStrContains(msg, "unknown transport 'nowhere'")
end

function TestFio:test_misuse_raises()
  lu.assertErrorMsgContains("bad argument #1 to 'run' (table expected, got string)", fio.run, "x")
  lu.assertErrorMsgContains("option 'bs' must be a string, number or boolean, not table",
    fio.command, { bs = {} })
  lu.assertErrorMsgContains('bad option name "a b"', fio.command, { ["a b"] = 1 })
  lu.assertErrorMsgContains("fio: extra must be a list of arguments, not string", fio.command,
    { extra = "--norandommap" })
end

function TestFio:test_command_line_quotes_every_value()
  local cmd = fio.command({ name = "q", filename = "/tmp/it's", direct = true,
    time_based = false, size = 2 ^ 20, extra = { "--rwmixread=70" }, zonemode = "zbd" }, "/tmp/o")
  lu.assertEquals(cmd, "'fio' --name='q' --filename='/tmp/it'\\''s' --size='1048576' "
    .. "--time_based='0' --direct='1' --zonemode='zbd' '--rwmixread=70' "
    .. "--output-format=json --output='/tmp/o'")
end

function TestFio:test_hostile_filename_is_one_argument()
  -- (fio itself cuts a value at ';' and '#', and splits filenames at ':')
  local name = self.dir .. "/a b'c\"d\\e\tf $(touch pwned) `touch pwned2` && touch pwned3 |"
  local err, result, state = fio.run(job(self.dir, "it's && rm -rf /", "read",
    { filename = name, size = "1M", runtime = "200ms" }))
  lu.assertEquals(err, 0, state and state:output())
  lu.assertNotNil(h.read(name), "fio wrote the file with the exact name")
  lu.assertEquals(h.sh("ls -A " .. h.q(self.dir) .. " | wc -l"), "1\n") -- that file only
  lu.assertEquals(h.sh("ls pwned pwned2 pwned3 2>/dev/null | wc -l"), "0\n") -- in the cwd
  lu.assertEquals(result.jobs[1]["job options"].filename, name)
  lu.assertEquals(result.jobs[1].jobname, "it's && rm -rf /")
  lu.assertNotNil(h.read(cijoe.step_path("artifacts") .. "/fio-it_s____rm_-rf__.json"))
end

function TestFio:test_run_jobfile()
  local path = h.write(self.dir .. "/mixed.fio", string.format([[
[global]
filename=%s/data
size=8M
bs=4k
ioengine=psync
runtime=300ms
time_based

[reader]
rw=randread

[writer]
rw=randwrite
]], self.dir))
  local err, result = fio.run_jobfile(path)
  lu.assertEquals(err, 0)
  lu.assertEquals(result.jobs[1].jobname, "reader")
  lu.assertEquals(result.jobs[2].jobname, "writer")
  assert_sane(result.jobs[1].read, "read")
  assert_sane(result.jobs[2].write, "write")
  lu.assertNotNil(h.read(cijoe.step_path("artifacts") .. "/fio-mixed.json"))
  err = fio.run_jobfile(h.write(self.dir .. "/bad.fio", "[x]\nrw=frob\n"))
  lu.assertEquals(err, 1)
end

function TestFio:test_decode_skips_fio_messages_and_reports_lines()
  local doc = fio.decode('a: you need to specify size=\nfio: pid=0, err=22\n{\n  "jobs" : [\n'
    .. '    {"jobname" : "a\\/b", "iops" : 1.5, "bw" : 9007199254740993}\n  ]\n}\n'
    .. "fio: file hash not empty on exit\nfio: a message that ends in a brace {1}\n")
  lu.assertEquals(doc.jobs[1].jobname, "a/b")
  lu.assertEquals(doc.jobs[1].iops, 1.5)
  lu.assertEquals(doc.jobs[1].bw, 9007199254740993)
  local none, msg = fio.decode("fio: unrecognized option\n", "x.json")
  lu.assertNil(none)
  lu.assertEquals(msg, "x.json: no JSON object in fio's output")
  none, msg = fio.decode('warning\n{\n  "a" : [1,\n  "b" : 2\n}\n', "y.json")
  lu.assertNil(none)
  lu.assertEquals(msg, "y.json:5:1: did not find expected ',' or ']'") -- the file's line
end

function TestFio:test_worklet_in_a_workflow()
  h.write(self.dir .. "/bench.lua", string.format([[
step{ name = "bench", uses = "fio.run", with = { name = "bench", filename = %q, size = "16M",
  rw = "randread", bs = "4k", ioengine = "psync", runtime = "500ms", time_based = true } }
step{ name = "broken", uses = "fio.run", with = { name = "broken", filename = %q, rw = "read" } }
]], self.dir .. "/data", self.dir .. "/no/such/dev"))
  local status, out = h.joe_in(self.dir, "bench.lua")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*  1 bench +passed.*  2 broken +failed.*")
  local run = h.latest(self.dir)
  local result = fio.decode(h.read(run .. "/001_bench/artifacts/fio-bench.json"))
  assert_sane(result.jobs[1].read, "read")
  local state = h.yaml(run .. "/workflow.state")
  lu.assertStrContains(state.steps[1].description, "Run fio on the target")
  lu.assertStrMatches(state.steps[2].failure.message, "`'fio' .*` on local: exit status 1")
  lu.assertStrContains(h.read(run .. "/002_broken/cmd_01.output"), "you need to specify size=")
end

function TestFio:test_package_selftest_passes()
  local status, out = h.joe_in(self.dir, "test " .. h.q(h.root .. "/packages/fio/selftest"))
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, "\n2 passed, 0 failed, 0 skipped\n")
end

function TestFio:test_example_workflow_runs()
  lu.assertEquals(h.joe_in(self.dir, "-s fio"), 0)
  local status, out = h.joe_in(self.dir, "run")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, ".*randwrite: %d+ IOPS, %d+ KiB/s, mean latency [%d.]+ usec\n.*")
  lu.assertStrContains(h.read(self.dir .. "/default.config"), "remote_dir: /tmp")
  local run = h.latest(self.dir)
  lu.assertNotNil(h.read(run .. "/001_randread/artifacts/fio-randread.json"))
  lu.assertNotNil(h.read(run .. "/002_randwrite/artifacts/fio-randwrite.json"))
end
