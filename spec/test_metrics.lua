-- joe extract and joe analyse: metrics from the fio results of a real run, checked against
-- requirement ranges that pass and that fail; bad requirement files named by line.
local lu = require("luaunit")
local h = require("helper")
local requirements = require("cijoe.requirements")

TestMetrics = {}

-- One workflow with a randread and a randwrite step, run once for the whole suite.
local RUN = nil

-- The scratch folder holding a real run of two fio steps (made on first use).
local function real_run()
  if RUN then return RUN end
  RUN = h.tmpdir()
  h.write(RUN .. "/bench.lua", string.format([[
local common = { filename = %q, size = "16M", bs = "4k", ioengine = "psync",
  runtime = "500ms", time_based = true }
local function job(name, rw)
  local t = { name = name, rw = rw }
  for k, v in pairs(common) do t[k] = v end
  return t
end
step{ name = "reads", uses = "fio.run", with = job("rr", "randread") }
step{ name = "writes", uses = "fio.run", with = job("rw", "randwrite") }
step("no_fio", function() return cijoe.run("true") end)
]], RUN .. "/data"))
  local status, out = h.joe_in(RUN, "bench.lua")
  assert(status == 0, out)
  return RUN
end

-- Copy the real run into a fresh folder, so each test extracts and analyses its own.
function TestMetrics:setUp()
  self.dir = h.tmpdir()
  h.sh("cp -R " .. h.q(real_run() .. "/cijoe-output") .. " " .. h.q(self.dir))
end

function TestMetrics:tearDown()
  h.sh("rm -rf " .. h.q(self.dir))
end

function TestMetrics.teardownClass()
  if RUN then h.sh("rm -rf " .. h.q(RUN)) end
end

-- The run's folder inside the test's folder.
function TestMetrics:run_dir()
  return h.latest(self.dir)
end

function TestMetrics:test_extract_writes_metrics_per_step()
  local status, out = h.joe_in(self.dir, "extract")
  lu.assertEquals(status, 0)
  lu.assertEquals(out, "001_reads/metrics.yml: 1 job\n002_writes/metrics.yml: 1 job\n")
  local m = h.yaml(self:run_dir() .. "/001_reads/metrics.yml")
  lu.assertEquals(m.units, { iops = "IO/s", bw = "B/s", lat = "nsec", clat = "nsec", slat = "nsec" })
  lu.assertEquals(m.extractors, { "fio.output" })
  lu.assertEquals(m.key, { "iops", "bw", "lat_mean", "clat_p99" })
  local job = m.jobs[1]
  lu.assertEquals({ job.job, job.file }, { "rr", "fio-rr.json" })
  lu.assertNil(job.write, "randread did no writes")
  lu.assertTrue(job.read.iops > 0)
  lu.assertEquals(math.type(job.read.bw), "integer")
  lu.assertTrue(job.read.lat_min <= job.read.lat_mean and job.read.lat_mean <= job.read.lat_max)
  lu.assertTrue(job.read.clat_p50 <= job.read.clat_p99 and job.read.clat_p99 <= job.read["clat_p99.99"])
  local w = h.yaml(self:run_dir() .. "/002_writes/metrics.yml").jobs[1]
  lu.assertNil(w.read)
  lu.assertTrue(w.write.iops > 0)
  lu.assertNil(h.read(self:run_dir() .. "/003_no_fio/metrics.yml"))
end

-- A requirements file whose ranges hold the measured values with room to spare.
local function passing_requirements(dir, read, write)
  return h.write(dir .. "/req.yml", string.format([[
workflow:
  read:
    iops: "[%s; %s] k"
    clat_p99: "(0; 10] sec"
steps:
  writes:
    write:
      bw: "[%s; %s] MiB/s"
      lat_mean: "[%s; %s] usec"
]], read.iops / 2000, read.iops / 500, write.bw / 2 / 2 ^ 20, write.bw * 2 / 2 ^ 20,
    write.lat_mean / 2000, write.lat_mean / 500))
end

function TestMetrics:test_analyse_passing_ranges()
  lu.assertEquals(h.joe_in(self.dir, "extract"), 0)
  local read = h.yaml(self:run_dir() .. "/001_reads/metrics.yml").jobs[1].read
  local write = h.yaml(self:run_dir() .. "/002_writes/metrics.yml").jobs[1].write
  passing_requirements(self.dir, read, write)
  local status, out = h.joe_in(self.dir, "analyse -r req.yml")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, "step +job +io +metric +value +range +result\n.*")
  lu.assertStrMatches(out, ".*\n001_reads +rr +read +iops +[%d.]+ k +%[[%d.]+; [%d.]+%] k +pass\n.*")
  lu.assertStrContains(out, "\n4 passed, 0 failed\n")
  local a = h.yaml(self:run_dir() .. "/001_reads/analysis.yml")
  lu.assertEquals(a.status, "pass")
  lu.assertEquals(a.checks[2].metric, "iops")
  lu.assertEquals(a.checks[2].value, read.iops)
  lu.assertEquals(a.checks[2].requirement, "req.yml:3:11")
  local top = h.yaml(self:run_dir() .. "/analysis.yml")
  lu.assertEquals({ top.status, top.passed, top.failed }, { "pass", 4, 0 })
  lu.assertEquals(top.steps[2], { step = "002_writes", status = "pass", passed = 2, failed = 0 })
end

function TestMetrics:test_analyse_failing_ranges_exit_1()
  lu.assertEquals(h.joe_in(self.dir, "extract"), 0)
  h.write(self.dir .. "/req.yml", [[
workflow:
  read:
    iops: "[0; 1]"
    lat_mean: "[0; 1) nsec"
steps:
  writes:
    write:
      iops: "[1; inf)"
  nosuchstep:
    read:
      iops: "[1; 2] k"
]])
  local status, out = h.joe_in(self.dir, "analyse " .. h.q(self:run_dir()) .. " -r req.yml")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*001_reads +rr +read +iops +[%d.e+]+ +%[0; 1%] +fail\n.*")
  lu.assertStrContains(out, "req.yml:11:13: matches no measured metric (fail)\n")
  lu.assertStrContains(out, "\n1 passed, 3 failed\n")
  local a = h.yaml(self:run_dir() .. "/001_reads/analysis.yml")
  lu.assertEquals({ a.status, a.passed, a.failed }, { "fail", 0, 2 })
  local top = h.yaml(self:run_dir() .. "/analysis.yml")
  lu.assertEquals(top.status, "fail")
  lu.assertEquals(top.unmatched, { { at = "req.yml:11:13", direction = "read", metric = "iops" } })
  lu.assertEquals(top.steps[2].status, "pass")
end

-- A run folder with one step whose metrics.yml is written by hand.
local function hand_run(dir, jobs)
  local run = dir .. "/run"
  h.write(run .. "/001_step/metrics.yml", require("cijoe.yaml").dump({ jobs = jobs }))
  return run
end

function TestMetrics:test_bounds_units_and_levels()
  local run = hand_run(self.dir, {
    { job = "a", read = { iops = 1000, bw = 1048576, lat_mean = 3000 } },
    { job = "b", read = { iops = 1000, bw = 1048576, lat_mean = 3000 } } })
  h.write(self.dir .. "/req.yml", [[
workflow:
  read:
    iops: "[1; 2] k"          # a: pass (overridden for b)
    bw: "(0.5; 1] MiB"        # pass
  jobs:
    b:
      read:
        iops: "(1; 2] k"      # b: fail, the low bound is open
steps:
  step:
    read:
      lat_mean: "[1; 3) usec" # fail, the high bound is open
    jobs:
      a:
        read:
          lat_mean: "[3; 3] usec" # a: pass, most specific
          bw: "[1; 1] Mi"
]])
  local status, out = h.joe_in(self.dir, "analyse run -r req.yml")
  lu.assertEquals(status, 1, out)
  local got = {}
  for _, c in ipairs(h.yaml(run .. "/001_step/analysis.yml").checks) do
    got[#got + 1] = table.concat({ c.job, c.metric, c.status, c.requirement }, " ")
  end
  lu.assertEquals(got, { "a bw pass req.yml:17:15", "a iops pass req.yml:3:11",
    "a lat_mean pass req.yml:16:21", "b bw pass req.yml:4:9", "b iops fail req.yml:8:15",
    "b lat_mean fail req.yml:12:17" })
end

function TestMetrics:test_bad_requirements_name_file_line_and_column()
  lu.assertEquals(h.joe_in(self.dir, "extract"), 0)
  h.write(self.dir .. "/bad.yml", [[
workflow:
  read:
    iops: "[200; 999 k"
    ipos: "[1; 2]"
    lat_mean: "[3; 9] k"
steps:
  reads:
    read:
      bw: "[9; 1] MiB"
      clat_p99: 5
  writes:
    write:
      iops: "[1; 2] usec"
extra: 1
]])
  local status, out, err = h.joe_in(self.dir, "analyse -r bad.yml")
  lu.assertEquals(status, 2)
  lu.assertEquals(out, "")
  lu.assertEquals(err, [[
joe: bad.yml:3:11: bad range "[200; 999 k": expected "[low; high] unit"
bad.yml:4:11: unknown metric 'ipos' (no step's metrics have it or a unit for it; units: bw, clat, iops, lat, slat)
bad.yml:5:15: bad range "[3; 9] k": unit 'k' is not a time (nsec, usec, msec, sec)
bad.yml:9:11: bad range "[9; 1] MiB": the low bound is above the high one
bad.yml:10:17: a range such as "[200; 999] k" is expected
bad.yml:13:13: bad range "[1; 2] usec": unit 'usec' does not fit a count (k, M, G, Ki, Mi, Gi)
bad.yml:14:8: 'extra' is not workflow or steps (each a mapping)
]])
  lu.assertNil(h.read(self:run_dir() .. "/analysis.yml"), "nothing was checked")
  h.write(self.dir .. "/syntax.yml", "workflow:\n  read: [\n")
  status, _, err = h.joe_in(self.dir, "analyse -r syntax.yml")
  lu.assertEquals(status, 2)
  lu.assertStrMatches(err, "joe: syntax%.yml:3:1: .*\n")
end

function TestMetrics:test_parse_range()
  local r = requirements.parse_range("[200; 999] k", "count")
  lu.assertEquals({ r.lo, r.hi, r.lo_open, r.hi_open }, { 200000, 999000, false, false })
  r = requirements.parse_range(" ( 3 ; 9.5 ] usec ", "time")
  lu.assertEquals({ r.lo, r.hi, r.lo_open, r.hi_open }, { 3000, 9500, true, false })
  lu.assertEquals(requirements.parse_range("[1; 2] GiB/s", "bytes").hi, 2 ^ 31)
  lu.assertEquals(requirements.parse_range("[1; 2] kB", "bytes").hi, 2000)
  lu.assertEquals(requirements.parse_range("[1; 2] Mi", "count").lo, 2 ^ 20)
  lu.assertEquals(requirements.parse_range("[-inf; inf)", "time").hi, math.huge)
  lu.assertEquals(requirements.parse_range("[1; 2] msec", "time").hi, 2e6)
  lu.assertEquals(select(2, requirements.parse_range("[1; 2] sec", "bytes")),
    'bad range "[1; 2] sec": unit \'sec\' does not fit a bandwidth (B, kB, MB, GB, KiB, MiB, GiB, optionally /s)')
  lu.assertNil(requirements.parse_range("[1, 2]", "count"))
end

function TestMetrics:test_extract_and_analyse_refuse_what_is_not_there()
  local status, _, err = h.joe_in(self.dir, "extract nowhere")
  lu.assertEquals(status, 2)
  lu.assertEquals(err, "joe: nowhere: no such directory\n")
  h.sh("mkdir -p " .. h.q(self.dir .. "/empty/001_x"))
  status, _, err = h.joe_in(self.dir, "extract empty")
  lu.assertEquals(status, 2)
  lu.assertEquals(err, "joe: empty: nothing in its steps' artifacts that an extractor reads (fio.output)\n")
  status, _, err = h.joe_in(self.dir, "analyse")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: no requirements: give a file with -r, or put requirements.yml in this folder")
  status, _, err = h.joe_in(self.dir, "analyse -r nothing.yml")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: nothing.yml: No such file or directory")
  h.write(self.dir .. "/requirements.yml", "workflow: {read: {iops: '[1; 2]'}}\n")
  status, _, err = h.joe_in(self.dir, "analyse")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "no metrics.yml in its steps (run `joe extract` first)")
end

function TestMetrics:test_extract_reports_a_broken_fio_file()
  local art = self:run_dir() .. "/001_reads/artifacts"
  h.write(art .. "/fio-broken.json", '{\n  "fio version" : "fio-3.33",\n  "jobs" : [\n}\n')
  local status, out, err = h.joe_in(self.dir, "extract")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "002_writes/metrics.yml: 1 job")
  lu.assertStrContains(err, "/001_reads/artifacts/fio-broken.json:4:1: ")
end

function TestMetrics:test_step_named_by_folder_and_unmatched_job()
  hand_run(self.dir, { { job = "a", read = { iops = 1000 } } })
  h.write(self.dir .. "/req.yml", 'steps:\n  001_step:\n    read:\n      iops: "[1; 1] k"\n')
  local status, out = h.joe_in(self.dir, "analyse run -r req.yml")
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, "001_step  a    read  iops    1 k    [1; 1] k  pass\n1 passed, 0 failed\n")
  h.write(self.dir .. "/req.yml", 'steps:\n  step:\n    jobs:\n      b:\n        read:\n'
    .. '          iops: "[1; 1] k"\n')
  status, out = h.joe_in(self.dir, "analyse run -r req.yml")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "req.yml:6:17: matches no measured metric (fail)\n0 passed, 1 failed\n")
end

-- CIJOE's example.perfreq (spec/fixtures/cijoe, byte for byte): global metrics for every
-- job, in every direction it measured, under CIJOE's names (bwps is bw, lat lat_mean).
function TestMetrics:test_cijoe_example_perfreq()
  lu.assertEquals(h.joe_in(self.dir, "extract"), 0)
  local perfreq = h.root .. "/spec/fixtures/cijoe/example.perfreq"
  local status, out = h.joe_in(self.dir, "analyse -r " .. h.q(perfreq))
  local read = h.yaml(self:run_dir() .. "/001_reads/metrics.yml").jobs[1].read
  local got = {}
  for _, c in ipairs(h.yaml(self:run_dir() .. "/001_reads/analysis.yml").checks) do
    got[c.metric] = { c.value, c.range, c.requirement:match(":(%d+:%d+)$"), c.status }
  end
  local function want(value, lo, hi) return value >= lo and value <= hi and "pass" or "fail" end
  lu.assertEquals(got, {
    iops = { read.iops, "[200; 999] k", "5:11", want(read.iops, 200e3, 999e3) },
    bw = { read.bw, "[100; 940] MiB", "6:11", want(read.bw, 100 * 2 ^ 20, 940 * 2 ^ 20) },
    lat_mean = { read.lat_mean, "[3000; 9000] nsec", "7:10", want(read.lat_mean, 3000, 9000) } })
  local writes = h.yaml(self:run_dir() .. "/002_writes/analysis.yml").checks
  lu.assertEquals(#writes, 3)
  lu.assertEquals(writes[1].direction, "write")
  local passed, failed = out:match("\n(%d+) passed, (%d+) failed\n$")
  lu.assertEquals(tonumber(passed) + tonumber(failed), 6) -- 3 for each of the 2 jobs
  lu.assertEquals(status, failed == "0" and 0 or 1)
end

-- The rest of CIJOE's format: testcases, testsuites, ] [ for open bounds, its units.
function TestMetrics:test_cijoe_testcases_testsuites_and_bounds()
  local run = hand_run(self.dir, { { job = "a", read = { iops = 1000, bw = 2 ^ 20, lat_mean = 2e6 } } })
  h.write(run .. "/../req.perfreq", [[
global:
  metrics:
    iops: "]1; 2] k"
  testcases:
    step:
      bwps: "[1; 1] MiB"
run:
  step:
    lat: "[1; 2[ msec"
other:
  step:
    lat: "[0; 1] min"
]])
  local status, out = h.joe_in(self.dir, "analyse run -r req.perfreq")
  lu.assertEquals(status, 1, out)
  local got = {}
  for _, c in ipairs(h.yaml(run .. "/001_step/analysis.yml").checks) do
    got[#got + 1] = c.metric .. " " .. c.status
  end
  lu.assertEquals(got, { "bw pass", "iops fail", "lat_mean fail" })
  lu.assertStrContains(out, "req.perfreq:12:10: matches no measured metric (fail)\n")
  h.write(self.dir .. "/bad.perfreq", 'global:\n  metrics:\n    iopz: "[1; 2]"\nworkflow: {}\n')
  local _, _, err = h.joe_in(self.dir, "analyse run -r bad.perfreq")
  lu.assertEquals(err, "joe: bad.perfreq:2:3: CIJOE's `global` and joe's `workflow` or `steps` "
    .. "in one file; keep to one format\n")
end
