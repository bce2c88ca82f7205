-- Metrics of fio in the real test guest (spec/test_qemu_ssh.lua's, over SSH): the qemu
-- package's example workflow, then joe extract, joe analyse -r (3 checks failed) and joe
-- report, as the issue's new user did, who saw PASSED and no numbers; and fio's logs
-- and --status-interval output fetched from the guest as series over time. Skipped
-- only when the guest cannot be built.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("qemu_fixture")

TestMetricsGuest = {}

function TestMetricsGuest:setUp()
  local files, why = fixture.files()
  if not files then lu.skip(why) end
  self.dir = h.tmpdir()
  self.pidfile = self.dir .. "/default/guest.pid"
  h.write(self.dir .. "/over.yaml", fixture.override(self.dir)) -- a free port at each start
  h.write(self.dir .. "/default.config", require("cijoe.packages").read("qemu/default.config"))
end

function TestMetricsGuest:tearDown()
  if not self.dir then return end
  local left = fixture.reap(self.dir .. "/")
  h.sh("rm -rf " .. h.q(self.dir))
  lu.assertEquals(left, "", "the test left qemu running")
end

-- Run joe with args in the test's folder, the package's config and the test's over it.
function TestMetricsGuest:joe(args, env)
  return h.joe_in(self.dir, "-c default.config -c over.yaml " .. args, env)
end

-- Requirements the guest's fio misses 3 times (IOPS beyond any TCG guest, a latency of
-- no time) and meets once.
local REQUIREMENTS = [[
steps:
  randread:
    read:
      iops: "[1; 2] G"
      lat_mean: "[0; 1] nsec"
      clat_p99: "(0; 10] sec"
  randwrite:
    write:
      iops: "[1; 2] G"
]]

function TestMetricsGuest:test_example_workflow_extract_analyse_report()
  h.write(self.dir .. "/example.workflow", require("cijoe.packages").read("qemu/example.workflow"))
  local status, out, err = self:joe("-q example.workflow")
  lu.assertEquals(status, 0, (out or "") .. (err or ""))
  status, out = h.joe_in(self.dir, "extract")
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, "006_randread/metrics.yml: 1 job\n007_randwrite/metrics.yml: 1 job\n")
  h.write(self.dir .. "/req.yml", REQUIREMENTS)
  status, out = h.joe_in(self.dir, "analyse -r req.yml")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "\n1 passed, 3 failed\n")
  local summary = self.dir .. "/summary.md"
  status = h.joe_in(self.dir, "-q report", "GITHUB_STEP_SUMMARY=" .. h.q(summary))
  lu.assertEquals(status, 1)
  local run = h.latest(self.dir)
  local html = h.read(run .. "/report.html")
  lu.assertStrContains(html, '<span class="badge failed">failed</span>')
  lu.assertStrContains(html, '<details class="step failed" id="step-6" open>')
  lu.assertStrContains(html, "2 of 3 checks failed:\nrandread read iops = ")
  lu.assertStrContains(html, '<caption>job randwrite <span class="size">fio-randwrite.json</span>')
  lu.assertStrMatches(html, '.*<tr><td>read</td><td class="">[%d.]+k? IO/s</td>.*')
  lu.assertStrContains(html, 'aria-label="IOPS per step and job"')
  lu.assertStrContains(html, 'aria-label="Latency percentiles per job"')
  lu.assertStrContains(h.read(run .. "/junit.xml"), 'name="check randread read lat_mean"')
  lu.assertStrContains(h.read(summary), "### joe: example failed")
end

-- A guest run of fio with logs and status output; the guest is stopped at the end.
local WITH_LOGS = [[
step{ name = "guest_start", uses = "qemu.guest_start", with = { timeout = 60 } }
step{ name = "logged", uses = "fio.run", with = { name = "lg", filename = "/dev/nvme0n1",
  rw = "randrw", bs = "4k", iodepth = 4, ioengine = "libaio", direct = 1, size = "64M",
  runtime = 3, time_based = true, write_iops_log = true, write_bw_log = true,
  log_avg_msec = 500, extra = { "--status-interval=1" } } }
step("left", function() return cijoe.run("ls /tmp | grep -c joe-fio || true") end)
step{ name = "guest_poweroff", uses = "qemu.guest_poweroff" }
]]

function TestMetricsGuest:test_logs_and_status_from_the_guest_become_series()
  h.write(self.dir .. "/wf.lua", WITH_LOGS)
  local status, out, err = self:joe("-q wf.lua")
  lu.assertEquals(status, 0, (out or "") .. (err or ""))
  local run = h.latest(self.dir)
  lu.assertEquals(h.read(run .. "/003_left/cmd_01.output"), "0\n") -- nothing left in the guest
  lu.assertEquals(h.sh("ls " .. h.q(run .. "/002_logged/artifacts")),
    "fio-lg.json\nfio-lg_bw.1.log\nfio-lg_iops.1.log\n")
  status, out, err = h.joe_in(self.dir, "extract")
  lu.assertEquals(status, 0, out .. err)
  local series = h.yaml(run .. "/002_logged/series.yml").series
  local kinds = {}
  for _, s in ipairs(series) do
    local from = s.file:match("log$") and "log" or "status"
    kinds[s.metric .. " " .. s.direction .. " " .. from] = #s.points
  end
  for _, key in ipairs({ "iops read log", "bw write log", "iops read status",
    "bw write status" }) do
    lu.assertTrue((kinds[key] or 0) >= 2, key .. ": " .. tostring(kinds[key]) .. " points")
  end
  lu.assertEquals(h.joe_in(self.dir, "-q report"), 0)
  lu.assertStrContains(h.read(run .. "/report.html"), 'aria-label="IOPS over time"')
end
