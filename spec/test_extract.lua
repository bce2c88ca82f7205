-- joe extract on real fio runs: metrics per job, fio's logs and --status-interval output
-- as series over time, clones of one job told apart; a package's own extractor; and bad
-- input: a fio job that failed, a metric with no unit, an older joe's metrics.yml.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("metrics_fixture")

TestExtract = {}

function TestExtract:test_logs_and_status_interval_become_series()
  local run = fixture.real_run()
  local art = h.sh("ls " .. h.q(run .. "/001_reads/artifacts"))
  lu.assertEquals(art, "fio-rr.json\nfio-rr_bw.1.log\nfio-rr_clat.1.log\nfio-rr_iops.1.log\n"
    .. "fio-rr_lat.1.log\nfio-rr_slat.1.log\n") -- fetched by fio.run, whatever prefix was named
  local cmd = h.yaml(run .. "/001_reads/cmd_01.state").cmd -- fio's, naming its files there
  local base = assert(cmd:match("%-%-output='(/tmp/joe%-fio%-rr%-%x+)%.json'"), cmd)
  lu.assertEquals(h.sh("ls -d " .. base .. "* 2>/dev/null | wc -l"), "0\n") -- removed there
  local series = h.yaml(run .. "/001_reads/series.yml").series
  local by = {}
  for _, s in ipairs(series) do by[s.metric] = s end
  for _, metric in ipairs({ "iops", "bw", "lat", "clat" }) do
    local s = assert(by[metric], "no " .. metric .. " series")
    lu.assertEquals({ s.job, s.direction, s.averaged, s.extractor },
      { "rr", "read", true, "fio.output" })
    lu.assertTrue(#s.points >= 4, metric .. ": " .. #s.points .. " points")
    lu.assertAlmostEquals(s.points[2][1] - s.points[1][1], 0.2, 0.01) -- log_avg_msec
  end
  local job = fixture.metrics(run, "001_reads").jobs[1]
  local mean = 0
  for _, p in ipairs(by.iops.points) do mean = mean + p[2] / #by.iops.points end
  lu.assertTrue(mean > job.read.iops * 0.5 and mean < job.read.iops * 2, "IOPS over time "
    .. mean .. " against " .. job.read.iops)
  lu.assertNil(h.read(run .. "/002_writes/series.yml"), "no logs, no status: no series")
  local mixed = h.yaml(run .. "/003_mixed/series.yml").series
  lu.assertEquals(#mixed, 8) -- 2 clones x read, write x iops, bw
  lu.assertEquals({ mixed[1].metric, mixed[1].job, mixed[1].file },
    { "iops", "mix", "fio-mix.json" })
end

function TestExtract:test_clones_and_the_totals_of_status_output()
  local m = fixture.metrics(fixture.real_run(), "003_mixed")
  lu.assertEquals(#m.jobs, 2)
  lu.assertEquals({ m.jobs[1].job, m.jobs[2].job }, { "mix", "mix" })
  for _, job in ipairs(m.jobs) do
    lu.assertTrue(job.read.iops > 0 and job.write.iops > 0)
    lu.assertTrue(job.read.clat_p99 > 0)
  end
  local out = fixture.copy(true)
  local status, text = h.joe_in(out, "extract .")
  lu.assertEquals(status, 0)
  lu.assertEquals(text, "001_reads/metrics.yml: 1 job, 4 series over time\n"
    .. "002_writes/metrics.yml: 1 job\n003_mixed/metrics.yml: 2 jobs, 8 series over time\n")
end

function TestExtract:test_a_failed_fio_job_is_said_and_its_numbers_kept()
  local run = fixture.copy(true)
  local json = h.read(run .. "/002_writes/artifacts/fio-rw.json")
  h.write(run .. "/002_writes/artifacts/fio-rw.json", (json:gsub('"error" : 0', '"error" : 5', 1)))
  local status, _, err = h.joe_in(run, "extract .")
  lu.assertEquals(status, 1)
  lu.assertStrContains(err, "joe: ./002_writes/artifacts/fio-rw.json: job 'rw' ended with fio "
    .. "error 5; its numbers are kept\n")
  lu.assertTrue(fixture.metrics(run, "002_writes").jobs[1].write.iops > 0)
end

-- A package of the user's with an extractor, in ./packages of the folder joe runs in.
local EXTRACTOR = [[
--- Lines "name ops_per_sec latency_us" of bench.txt.
return {
  units = { ops = "ops/s", latency = "usec" }, groups = { "all" }, key = { "ops", "latency" },
  extract = function(step)
    local f = io.open(step.dir .. "/artifacts/bench.txt")
    if not f then return nil end
    local jobs = {}
    for line in f:lines() do
      local name, ops, lat = line:match("^(%S+) (%S+) (%S+)$")
      jobs[#jobs + 1] = { job = name, file = "bench.txt", all = { ops = tonumber(ops),
        latency = tonumber(lat), extra = 1 } }
    end
    f:close()
    return { jobs = jobs }
  end,
}
]]

function TestExtract:test_a_package_extractor_and_a_metric_with_no_unit()
  local dir = h.tmpdir()
  h.write(dir .. "/packages/kv/extractors/bench.lua", EXTRACTOR)
  h.write(dir .. "/wf.lua", [[
step("kv", function()
  local f = assert(io.open(assert(cijoe.step_path("artifacts")) .. "/bench.txt", "w"))
  f:write("put 120000 8.5\nget 250000 3.25\n")
  f:close()
end)
]])
  lu.assertEquals(h.joe_in(dir, "-q wf.lua"), 0)
  local status, out = h.joe_in(dir, "extract")
  lu.assertEquals(status, 0)
  lu.assertEquals(out, "001_kv/metrics.yml: 2 jobs\n")
  local m = fixture.metrics(h.latest(dir), "001_kv")
  lu.assertEquals(m.extractors, { "kv.bench" })
  lu.assertEquals(m.jobs[2], { job = "get", file = "bench.txt", extractor = "kv.bench",
    all = { ops = 250000, latency = 3.25, extra = 1 } })
  h.write(dir .. "/req.yml",
    'workflow:\n  all:\n    ops: "[100; 300] k"\n    latency: "[1; 5] usec"\n')
  local err
  status, out, err = h.joe_in(dir, "analyse -r req.yml")
  lu.assertEquals(status, 1, out .. err)
  lu.assertStrMatches(out, ".*001_kv +get +all +latency +3%.25 usec +%[1; 5%] usec +pass\n.*")
  lu.assertStrMatches(out, ".*001_kv +put +all +latency +8%.5 usec +%[1; 5%] usec +fail\n.*")
  lu.assertStrContains(err, "/001_kv/metrics.yml:") -- the metric with no unit, by line
  lu.assertStrContains(err,
    ": metric 'extra' has no unit (add it to `units`); shown as a plain number\n")
  lu.assertEquals(h.joe_in(dir, "-q report"), 1)
  local html = h.read(h.latest(dir) .. "/report.html")
  lu.assertStrContains(html,
    "<td>all</td><td class=\"\">120k ops/s</td>\n<td class=\"\">8.50 µs</td>")
end

function TestExtract:test_an_older_joes_metrics_yml_is_read_as_fios()
  local run = fixture.copy()
  fixture.change_metrics(run, "001_reads", function(doc)
    doc.extractors, doc.groups, doc.key = nil, nil, nil
    doc.units = { iops = "IO/s", bw = "B/s", lat = "nsec" } -- what joe wrote before
  end)
  h.write(run .. "/req.yml", 'steps:\n  reads:\n    read:\n      clat_p99: "(0; 10] sec"\n')
  local status, out = h.joe_in(run, "analyse . -r req.yml")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, ".*001_reads +rr +read +clat_p99 +[%d.e-]+ sec +%(0; 10%] sec +pass\n.*")
end

function TestExtract:test_extract_of_a_merged_report_reaches_every_run()
  local a, b = fixture.copy(true, "a"), fixture.copy(true, "b")
  local dir = a:match("^(.*)/")
  lu.assertEquals(h.joe_in(dir, "-q report " .. h.q(a) .. " " .. h.q(b)
    .. " -o out --label a,b"), 0)
  local status, out = h.joe_in(dir, "extract out")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "a/001_reads/metrics.yml: 1 job, 4 series over time\n")
  lu.assertStrContains(out, "b/003_mixed/metrics.yml: 2 jobs, 8 series over time\n")
  lu.assertNotNil(h.read(b .. "/003_mixed/metrics.yml"), "written in the run itself")
end

-- A metrics.yml written by hand (or torn) with what the fuzzer found: a job that is not a
-- mapping, a value that is not a number, units and groups that are not strings.
function TestExtract:test_a_metrics_yml_with_odd_entries_is_read_with_warnings()
  local run = h.tmpdir() .. "/run"
  h.write(run .. "/001_step/metrics.yml", [[
extractors: [mine]
units: {ops: ops/s, 1: x}
groups: [all, {a: 1}]
key: [ops]
jobs:
  - 3
  - {job: a, all: {ops: 5, lat: fast}}
]])
  h.write(run .. "/req.yml", 'workflow:\n  all:\n    ops: "[1; 9]"\n')
  local status, out, err = h.joe_in(run .. "/..", "analyse run -r run/req.yml")
  lu.assertEquals(status, 0, out .. err)
  lu.assertStrContains(out, "001_step  a    all  ops     5      [1; 9]  pass\n")
  lu.assertStrContains(err, "run/001_step/metrics.yml:6:5: a job must be a mapping\n")
  lu.assertStrContains(err, "run/001_step/metrics.yml:7:33: metric 'lat' is not a number\n")
end
