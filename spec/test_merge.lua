-- joe report DIR1 DIR2 ... -o OUT: runs put together (three real fio runs, one failed;
-- an older joe's run; a crashed one), named by the runs' names or --label, in one report
-- and one junit.xml with a suite per run and the metrics side by side; joe --each gives
-- the same combined report; bad input.
local lu = require("luaunit")
local h = require("helper")

TestMerge = {}

-- A fio step and a step that fails when FAIL is set.
local WORKFLOW = [[
step{ name = "randread", uses = "fio.run", with = { name = "rr", filename = %q, size = "8M",
  rw = "randread", bs = "4k", ioengine = "psync", runtime = "300ms", time_based = true } }
step("check", function() return cijoe.run(os.getenv("FAIL") and "echo broke; exit 3" or "true") end)
]]

local RUNS -- the scratch folder holding the three runs a, b, c (c failed), made once

-- The three runs, extracted; copied for each test.
local function three_runs()
  if RUNS then return RUNS end
  RUNS = h.tmpdir()
  for _, name in ipairs({ "a", "b", "c" }) do
    local dir = RUNS .. "/" .. name
    h.write(dir .. "/wf.lua", WORKFLOW:format(dir .. "/data"))
    local status = h.joe_in(dir, "-q -o run wf.lua", name == "c" and "FAIL=1" or nil)
    assert(status == (name == "c" and 1 or 0))
    assert(h.joe_in(dir, "extract run") == 0)
  end
  return RUNS
end

function TestMerge:setUp()
  self.dir = h.tmpdir()
  h.sh("cp -R " .. h.q(three_runs()) .. "/. " .. h.q(self.dir))
end

-- The suites of a junit.xml (name tests failures errors), read by a real XML parser.
local function suites(path)
  return h.sh("python3 -c " .. h.q([[
import sys, xml.dom.minidom
for s in xml.dom.minidom.parse(sys.argv[1]).getElementsByTagName("testsuite"):
    print(*(s.getAttribute(k) for k in ("name", "tests", "failures", "errors")))]])
    .. " " .. h.q(path))
end

function TestMerge:test_three_runs_one_failed()
  local status, out = h.joe_in(self.dir, "report a/run b/run c/run -o out")
  lu.assertEquals(status, 1) -- c failed
  lu.assertEquals(out, "report: out/report.html\n")
  -- a link: nothing copied, nothing lost
  lu.assertEquals(h.sh("readlink " .. h.q(self.dir .. "/out/a")), "../a/run\n")
  lu.assertEquals(suites(self.dir .. "/out/junit.xml"), "a 2 0 0\nb 2 0 0\nc 2 1 0\n")
  local html = h.read(self.dir .. "/out/report.html")
  lu.assertStrContains(html, '<h1>wf <span class="badge failed">failed</span></h1>')
  lu.assertStrContains(html, "3 runs: a, b, c · started")
  lu.assertStrContains(html, '<tr><th>c</th><td class="passed">passed</td>\n'
    .. '<td class="failed">failed</td></tr>')
  for _, label in ipairs({ "a", "b", "c" }) do
    lu.assertStrContains(html, '<span class="name">' .. label .. ": randread</span>")
    lu.assertStrContains(html, '<a href="' .. label .. '/002_check/cmd_01.output">')
  end
  lu.assertEquals(h.read(self.dir .. "/out/c/002_check/cmd_01.output"), "broke\n")
  lu.assertStrMatches(html, '.*<h4>Side by side</h4>.*<th>a</th>\n<th>b</th>\n<th>c</th>.*')
  lu.assertStrMatches(html, '.*<tr><td>randread</td><td>rr</td><td>read</td><td>IOPS</td>'
    .. '<td class="">[%d.]+k IO/s</td>\n<td class="">[%d.]+k IO/s</td>\n'
    .. '<td class="">[%d.]+k IO/s</td></tr>.*')
  lu.assertStrContains(html, 'aria-label="IOPS per step and job"')
  lu.assertEquals(h.joe_in(self.dir, "-q report out"), 1) -- rebuilt from out/runs.yml
end

function TestMerge:test_labels_given_and_made()
  local status, _, err = h.joe_in(self.dir, "report a/run b/run -o out --label x")
  lu.assertEquals({ status, err }, { 2, "joe: --label: 1 labels for 2 runs\n" })
  lu.assertEquals(h.joe_in(self.dir, "-q report a/run b/run -o out --label 'lab 1,lab2'"), 0)
  lu.assertEquals(h.yaml(self.dir .. "/out/runs.yml").runs[1].label, "lab_1")
  h.sh("cd " .. h.q(self.dir) .. " && mv b/run b/other")
  lu.assertEquals(h.joe_in(self.dir, "-q report a/run b/other -o two"), 0)
  local runs = h.yaml(self.dir .. "/two/runs.yml").runs -- both named wf: their folders' names
  lu.assertEquals({ runs[1].label, runs[2].label }, { "run", "other" })
  h.write(self.dir .. "/x/y.lua", 'step("s", function() end)\n')
  lu.assertEquals(h.joe_in(self.dir .. "/x", "-q -o run y.lua"), 0)
  lu.assertEquals(h.joe_in(self.dir, "-q report a/run x/run -o three"), 0)
  runs = h.yaml(self.dir .. "/three/runs.yml").runs -- named wf and y
  lu.assertEquals({ runs[1].label, runs[2].label }, { "wf", "y" })
end

function TestMerge:test_an_older_joes_run_and_a_crashed_one_keep_their_steps()
  h.sh("cd " .. h.q(self.dir) .. " && rm a/run/journal.yml") -- an older joe: workflow.state only
  local journal = h.read(self.dir .. "/c/run/journal.yml") -- c killed during its check
  h.write(self.dir .. "/c/run/journal.yml", journal:match('^(.-"ev": "begin", "n": 2[^\n]*\n)'))
  local status = h.joe_in(self.dir, "-q report a/run c/run -o out --label old,crashed")
  lu.assertEquals(status, 1)
  local html = h.read(self.dir .. "/out/report.html")
  lu.assertStrContains(html, '<span class="name">old: check</span><span class="status passed">')
  lu.assertStrContains(html,
    '<span class="name">crashed: check</span><span class="status running">')
  lu.assertStrMatches(html, '.*did not finish.*broke\n</pre>.*')
  lu.assertEquals(suites(self.dir .. "/out/junit.xml"), "old 2 0 0\ncrashed 2 0 1\n")
end

function TestMerge:test_bad_input()
  local status, _, err = h.joe_in(self.dir, "report a/run nowhere -o out")
  lu.assertEquals({ status, err }, { 2, "joe: nowhere: no such directory\n" })
  status, _, err = h.joe_in(self.dir, "report a/run b/run -o c/run")
  lu.assertEquals({ status, err },
    { 2, "joe: c/run is a run's output directory; give -o a new folder\n" })
  h.write(self.dir .. "/out/a", "mine\n")
  status, _, err = h.joe_in(self.dir, "report a/run b/run -o out --label a,b")
  lu.assertEquals({ status, err }, { 2, "joe: out/a exists and is not a link joe made\n" })
  lu.assertEquals(h.read(self.dir .. "/out/a"), "mine\n")
end

function TestMerge:test_each_gives_the_same_combined_report()
  local dir = self.dir .. "/each"
  h.write(dir .. "/wf.lua", WORKFLOW:format(dir .. "/data"))
  lu.assertEquals(h.joe_in(dir, "-q --each local -o out wf.lua"), 0)
  local status, out = h.joe_in(dir, "extract out")
  lu.assertEquals(status, 0)
  lu.assertEquals(out, "local/001_randread/metrics.yml: 1 job\n")
  lu.assertEquals(h.joe_in(dir, "-q report out"), 0)
  local html = h.read(dir .. "/out/report.html")
  lu.assertStrContains(html, '<span class="name">local: randread</span>')
  lu.assertStrMatches(html, '.*<h4>Side by side</h4>.*<th>local</th>.*')
  lu.assertEquals(suites(dir .. "/out/junit.xml"), "local 2 0 0\n")
end

function TestMerge:test_chromium_shows_the_runs_side_by_side()
  local fixture = require("metrics_fixture")
  if not h.read(fixture.CHROMIUM) then
    lu.skip("chromium is not installed (Debian package chromium)")
  end
  lu.assertEquals(h.joe_in(self.dir, "-q report a/run b/run c/run -o out"), 1)
  local shots = h.root .. "/build/report-shots"
  h.sh("mkdir -p " .. h.q(shots))
  local shot = shots .. "/merged.png"
  os.remove(shot)
  fixture.chromium("--screenshot=" .. h.q(shot) .. " --window-size=1280,1800",
    self.dir .. "/out/report.html")
  local palette = require("cijoe.svg").PALETTE -- a colour per run, in the bars and lines
  local counts = fixture.colour_counts(shot, { palette[1], palette[2], palette[3] })
  for i, n in ipairs(counts) do
    lu.assertTrue(n > 2000, "run " .. i .. "'s colour: " .. n .. " pixels")
  end
end
