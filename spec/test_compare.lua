-- joe compare BASE NEW and joe analyse --baseline on real fio runs: without a regression
-- (a run against its copy), with one (a copy whose metrics.yml says what a slower run
-- would), direction-aware (less latency is better), the threshold, steps and jobs only
-- one run has, and what the report and junit.xml of NEW say afterwards.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("metrics_fixture")

TestCompare = {}

function TestCompare:setUp()
  self.base = fixture.copy(false, "base")
  self.new = fixture.copy(false, "new")
  self.dir = self.base:match("^(.*)/")
  h.sh("mv " .. h.q(self.new) .. " " .. h.q(self.dir .. "/new"))
  self.new = self.dir .. "/new"
end

-- NEW as a slower run: half the IOPS of randwrite (a regression), half the p99 latency of
-- randread (an improvement) and 2 % more mean latency (within 5 %).
function TestCompare:slower()
  fixture.change_metrics(self.new, "002_writes", function(doc)
    doc.jobs[1].write.iops = doc.jobs[1].write.iops / 2
  end)
  fixture.change_metrics(self.new, "001_reads", function(doc)
    doc.jobs[1].read.clat_p99 = doc.jobs[1].read.clat_p99 / 2
    doc.jobs[1].read.lat_mean = doc.jobs[1].read.lat_mean * 1.02
  end)
end

function TestCompare:test_a_run_against_its_copy_has_no_regression()
  local status, out = h.joe_in(self.dir, "compare base new")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, "step +job +io +metric +base +new +change +result\n.*")
  lu.assertStrMatches(out, ".*\nwrites +rw +write +iops +[%d.]+k IO/s +[%d.]+k IO/s +%+0%.0%%\n.*")
  lu.assertStrContains(out, "\n24 compared, 0 regressions, 0 improvements (threshold 5%)\n")
  local c = h.yaml(self.new .. "/compare.yml")
  lu.assertEquals({ c.status, c.compared, c.regressions, c.base }, { "pass", 24, 0, "base" })
  lu.assertEquals(h.joe_in(self.dir, "-q report new"), 0)
  lu.assertStrContains(h.read(self.new .. "/report.html"), "<h2>Compared with the baseline</h2>")
end

function TestCompare:test_a_regression_is_marked_by_direction_and_fails()
  self:slower()
  local status, out = h.joe_in(self.dir, "compare base new")
  lu.assertEquals(status, 1, out)
  lu.assertStrMatches(out, ".*\nwrites +rw +write +iops +[%d.]+k IO/s +[%d.]+k IO/s "
    .. "+%-50%.0%% +regression\n.*")
  lu.assertStrMatches(out, ".*\nreads +rr +read +clat_p99 +[%d.]+ µs +[%d.]+ µs "
    .. "+%-50%.0%% +improvement\n.*")
  lu.assertStrMatches(out, ".*\nreads +rr +read +lat_mean +[%d.]+ µs +[%d.]+ µs +%+2%.0%%\n.*")
  lu.assertStrContains(out, "\n24 compared, 1 regressions, 1 improvements (threshold 5%)\n")
  local c = h.yaml(self.new .. "/compare.yml")
  lu.assertEquals({ c.status, c.regressions, c.improvements }, { "fail", 1, 1 })
  lu.assertEquals(h.joe_in(self.dir, "-q report new"), 1)
  local state = h.yaml(self.new .. "/workflow.state") -- the journal's story is unchanged
  lu.assertEquals(state.steps[2].status, "passed")
  local html = h.read(self.new .. "/report.html")
  lu.assertStrContains(html, '<details class="step failed" id="step-2" open>')
  lu.assertStrContains(html, "1 of 1 metrics compared with the baseline failed:\nrw write iops "
    .. "regressed -50.0%")
  lu.assertStrMatches(html, '.*<tr class="regression"><td>writes</td><td>rw</td><td>write</td>'
    .. '<td>IOPS</td><td>[%d.]+k IO/s</td><td>[%d.]+k IO/s</td><td>%-50%.0%%</td>.*')
  local junit = h.read(self.new .. "/junit.xml")
  lu.assertStrContains(junit, '<testcase classname="writes" name="compare rw write iops"')
  lu.assertStrContains(junit, 'name="bench" tests="')
  status = h.joe_in(self.dir, "compare base new -t 60%")
  lu.assertEquals(status, 0) -- 50 % is within 60 %
end

function TestCompare:test_steps_and_jobs_only_one_run_has_are_listed()
  h.sh("rm " .. h.q(self.new .. "/003_mixed/metrics.yml"))
  fixture.change_metrics(self.new, "002_writes", function(doc) doc.jobs[1].job = "rw2" end)
  local status, out = h.joe_in(self.dir, "compare base new --metrics iops,clat_p99.9")
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out,
    "only in base: writes / rw\nonly in base: mixed\nonly in new: writes / rw2\n")
  lu.assertStrContains(out, "\n2 compared, 0 regressions")
  lu.assertStrMatches(out, ".*\nreads +rr +read +clat_p99%.9 .*")
  local c = h.yaml(self.new .. "/compare.yml")
  lu.assertEquals(c.only_in_base, { "writes / rw", "mixed" })
  lu.assertEquals(c.only_in_new, { "writes / rw2" })
  status, out = h.joe_in(self.dir, "compare base new --metrics all")
  lu.assertEquals(status, 0)
  lu.assertStrMatches(out, ".*\nreads +rr +read +clat_p1 .*")
end

function TestCompare:test_analyse_with_a_baseline()
  self:slower()
  h.write(self.dir .. "/req.yml", 'workflow:\n  read:\n    iops: "[1; inf)"\n')
  local status, out = h.joe_in(self.dir, "analyse new --baseline base -r req.yml")
  lu.assertEquals(status, 1, out)
  lu.assertStrContains(out, "\n3 passed, 0 failed\n") -- the requirements: all in range
  lu.assertStrContains(out, "\n24 compared, 1 regressions, 1 improvements (threshold 5%)\n")
  lu.assertEquals(h.yaml(self.new .. "/analysis.yml").status, "pass")
  lu.assertEquals(h.yaml(self.new .. "/compare.yml").status, "fail")
  status = h.joe_in(self.dir, "analyse new --baseline base -t 80")
  lu.assertEquals(status, 0) -- no requirements needed with a baseline
end

function TestCompare:test_bad_input()
  local status, _, err = h.joe_in(self.dir, "compare base")
  lu.assertEquals({ status, err },
    { 2, "joe: compare: give two output directories, BASE and NEW\n" })
  status, _, err = h.joe_in(self.dir, "compare base nowhere")
  lu.assertEquals({ status, err }, { 2, "joe: nowhere: no such directory\n" })
  status, _, err = h.joe_in(self.dir, "compare base new -t lots")
  lu.assertEquals({ status, err },
    { 2, "joe: -t: a threshold such as 5% is expected, not 'lots'\n" })
  h.sh("rm " .. h.q(self.new) .. "/*/metrics.yml")
  status, _, err = h.joe_in(self.dir, "compare base new")
  lu.assertEquals({ status, err },
    { 2, "joe: new: no metrics.yml in its steps (run `joe extract` first)\n" })
end
