-- The metrics in the reports of a real fio run that `joe analyse` found 3 checks failed
-- in, as the issue's new user saw it: the run and those steps failed (report.html,
-- junit.xml, the GitHub summary, joe report's exit status), a table per job, the checks
-- with their ranges, and the charts; then report.html in headless Chromium, its
-- screenshot (build/report-shots/, to be looked at) checked for the charts' pixels.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("metrics_fixture")
local svg = require("cijoe.svg")

TestReportMetrics = {}

local SHOTS = h.root .. "/build/report-shots"

-- Requirements that 3 jobs miss (the read IOPS of reads and of both mixed clones) and 1
-- meets (the write IOPS of writes).
local REQUIREMENTS = [[
workflow:
  read:
    iops: "[1; 2] M"
steps:
  writes:
    write:
      iops: "[1; inf)"
]]

function TestReportMetrics:setUp()
  self.run = fixture.copy()
  h.write(self.run .. "/req.yml", REQUIREMENTS)
  local status, out = h.joe_in(self.run, "analyse . -r req.yml")
  lu.assertEquals(status, 1, out)
  lu.assertStrContains(out, "\n1 passed, 3 failed\n")
end

-- Assert that text holds s; a failure names s only, as reports are long.
local function has(text, s)
  if not text:find(s, 1, true) then lu.fail("the report lacks: " .. s, 2) end
end

function TestReportMetrics:test_failed_checks_fail_the_steps_and_the_run()
  local summary = self.run .. "/summary.md"
  local status = h.joe_in(self.run, "-q report .", "GITHUB_STEP_SUMMARY=" .. h.q(summary))
  lu.assertEquals(status, 1)
  local html = h.read(self.run .. "/report.html")
  has(html, '<h1>bench <span class="badge failed">failed</span></h1>')
  has(html, '<li class="passed"><b>2</b>passed</li>\n<li class="failed"><b>2</b>failed</li>')
  has(html, '<details class="step failed" id="step-1" open>')
  has(html, '<details class="step passed" id="step-2">')
  has(html, "1 of 1 checks failed:\nrr read iops = ")
  has(html, "2 of 2 checks failed:\nmix read iops = ")
  has(html, '<table class="tests metrics"><caption>job rr <span class="size">fio-rr.json</span>')
  has(html, "<th>io</th><th>IOPS</th>\n<th>bandwidth</th>\n<th>mean latency</th>\n"
    .. "<th>p99 completion latency</th>")
  lu.assertStrMatches(html, '.*<tr><td>read</td><td class="">[%d.]+k IO/s</td>\n'
    .. '<td class="">[%d.]+ MiB/s</td>\n'
    .. '<td class="">[%d.]+ µs</td>\n<td class="">[%d.]+ µs</td></tr>.*')
  lu.assertStrMatches(html, '.*<tr class="fail"><td>rr</td><td>read</td><td>iops</td>'
    .. '<td>[%d.]+k IO/s</td>'
    .. '<td>%[1; 2%] M</td><td class="status fail">✗ fail</td></tr>.*')
  lu.assertStrMatches(html, '.*<tr class="pass"><td>rw</td><td>write</td><td>iops</td>.*✓ pass.*')
  for _, title in ipairs({ "IOPS per step and job", "Bandwidth per step and job",
    "Latency percentiles per job", "IOPS over time", "Bandwidth over time",
    "Latency over time" }) do
    has(html, 'aria-label="' .. title .. '"')
  end
  has(html, 'class="bar fail"') -- the bars that missed their range
  has(html, "required [1; 2] M")
  has(h.read(self.run .. "/workflow.state"), "status: passed") -- the journal's story stays
  local junit = h.read(self.run .. "/junit.xml")
  has(junit, '<testcase classname="reads" name="check rr read iops"')
  has(junit, '<failure message="1 of 1 checks failed: rr read iops = ')
  -- 4 steps and 4 checks; 2 steps and 3 checks failed
  has(junit, 'tests="8" failures="5" errors="0"')
  local md = h.read(summary)
  has(md, "### joe: bench failed\n\n2 passed, 2 failed, 0 skipped")
  lu.assertStrMatches(md, ".*\n| reads | rr | read | IOPS [%d.]+k IO/s, bandwidth [%d.]+ MiB/s, .*")
end

function TestReportMetrics:test_chromium_shows_the_tables_and_charts()
  if not h.read(fixture.CHROMIUM) then
    lu.skip("chromium is not installed (Debian package chromium)")
  end
  lu.assertEquals(h.joe_in(self.run, "-q report ."), 1)
  h.sh("mkdir -p " .. h.q(SHOTS))
  local file = self.run .. "/report.html"
  local shot = SHOTS .. "/metrics.png"
  os.remove(shot)
  fixture.chromium("--screenshot=" .. h.q(shot) .. " --window-size=1280,2200", file)
  local png = h.read(shot) or ""
  lu.assertEquals(png:sub(1, 8), "\137PNG\r\n\26\n")
  lu.assertEquals({ string.unpack(">I4I4", png, 17) }, { 1280, 2200, 25 }) -- IHDR width, height
  -- the bars' blue (every other pixel counted), the failure red, the percentiles' orange
  local counts = fixture.colour_counts(shot, { svg.PALETTE[1], svg.FAIL, svg.PALETTE[2] })
  lu.assertTrue(counts[1] > 4000, "bars: " .. counts[1] .. " blue pixels")
  lu.assertTrue(counts[2] > 300, "failure marks and text: " .. counts[2] .. " red pixels")
  lu.assertTrue(counts[3] > 100, "percentile lines: " .. counts[3] .. " orange pixels")
  local dom = fixture.chromium("--dump-dom", file, self.run .. "/net.json")
  for _, title in ipairs({ "IOPS per step and job", "Latency percentiles per job",
    "IOPS over time" }) do
    has(dom, 'aria-label="' .. title .. '"')
  end
  has(dom, '<caption>job rr <span class="size">fio-rr.json</span></caption>')
  has(dom, "✗ fail")
  local net = h.read(self.run .. "/net.json") or ""
  lu.assertEquals(select(2, net:gsub('"initiator":"null"', "")), 0) -- the page's requests
end
