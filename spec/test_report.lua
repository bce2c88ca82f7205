-- Reports: report.html, junit.xml, the GitHub step summary and `joe report`, checked in
-- the files users open, and report.html in a real browser (headless Chromium).
local lu = require("luaunit")
local h = require("helper")
local yaml = require("cijoe.yaml")

TestReport = {}

-- Passing, skipped (lint, when run as `joe wf.lua build tests fails`) and failing steps;
-- "tests" writes the tests.yaml of its own folder.
local WORKFLOW = [=[
step{name = "build", description = "Compile <it> & check", fn = function()
  cijoe.run("echo building; echo '<script>alert(1)</script>'; printf 'ctl\\001\\n'")
  cijoe.run_local("mkdir -p x && echo hi > x/log.txt")
  return cijoe.get("x/log.txt", "log #1.txt")
end}
step("lint", function() return cijoe.run("echo lint") end)
step("tests", function()
  local _, st = cijoe.run("echo testing")
  local f = assert(io.open(st.state_fpath:match("^(.*)/") .. "/tests.yaml", "w"))
  f:write("- {name: t_ok, status: passed, elapsed: 0.25}\n",
    "- {name: t_bad, status: failed, elapsed: 1.5, message: \"expected 1 <got> 2\"}\n",
    "- {name: t_skip, status: skipped, message: no disk}\n")
  f:close()
end)
step("fails", function() return (cijoe.run("echo 'it <b>broke</b>' >&2; exit 3")) end)
]=]

-- Assert that a report holds s (or with plain = false, matches the pattern s); a failure
-- names s only, as the reports are long.
local function has(text, s, plain)
  if not text:find(s, 1, plain ~= false) then lu.fail("the report lacks: " .. s, 2) end
end

function TestReport:setUp()
  self.dir = h.tmpdir()
  h.write(self.dir .. "/wf.lua", WORKFLOW)
end

-- Run the workflow (lint skipped); returns status, stdout and the run's folder.
function TestReport:run_workflow(env)
  local status, out = h.joe_in(self.dir, "wf.lua build tests fails", env)
  return status, out, (h.sh("readlink -f " .. h.q(h.latest(self.dir))):gsub("\n$", ""))
end

-- The testsuite's counts and one line per testcase of a junit.xml, read by a real XML
-- parser (it fails on anything that is not well-formed).
local function junit_summary(path)
  return h.sh("python3 -c " .. h.q([[
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
s = doc.getElementsByTagName("testsuite")[0]
print(*(k + "=" + s.getAttribute(k) for k in ("name", "tests", "failures", "errors", "skipped")))
for c in doc.getElementsByTagName("testcase"):
    tags = [n.tagName + ":" + n.getAttribute("message") for n in c.childNodes
            if n.nodeType == 1 and n.tagName != "system-out"]
    print(c.getAttribute("classname"), c.getAttribute("name"), *tags)]]) .. " " .. h.q(path))
end

function TestReport:test_html_shows_steps_commands_tests_artifacts_config()
  local status, out, run = self:run_workflow()
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "report: cijoe-output/")
  local html = h.read(run .. "/report.html")
  has(html, '<h1>wf <span class="badge failed">failed</span></h1>')
  has(html, '<li class="passed"><b>1</b>passed.*<li class="failed"><b>2</b>failed'
    .. '.*<li class="skipped"><b>1</b>skipped.*<li class="tests"><b>1/3</b>tests passed', false)
  has(html, '<details class="step passed" id="step-1">\n<summary><span class="num">1</span>'
    .. '<span class="name">build</span>')
  has(html, '<details class="step skipped" id="step-2">')
  has(html, '<details class="step failed" id="step-3" open>') -- a test failed
  has(html, '<details class="step failed" id="step-4" open>')
  has(html, "Compile &#60;it&#62; &#38; check")
  has(html, "&#60;script&#62;alert(1)&#60;/script&#62;\nctl?\n")
  lu.assertNil(html:find("<script", 1, true))
  has(html, '<details class="cmd failed" open>\n<summary><code>$ echo &#39;it &#60;b&#62;'
    .. '.*exit 3.*<pre class="out">it &#60;b&#62;broke&#60;/b&#62;\n</pre>', false)
  has(html, "<pre class=\"error\">`echo &#39;it &#60;b&#62;broke&#60;/b&#62;&#39; &#62;&#38;2; exit 3` on local: exit status 3")
  has(html, '<tr class="failed"><td>t_bad</td>.*expected 1 &#60;got&#62; 2', false)
  has(html, '<a href="001_build/artifacts/log%20%231.txt">log #1.txt</a>')
  lu.assertEquals(h.read(run .. "/001_build/artifacts/log #1.txt"), "hi\n")
  has(html, '<a href="004_fails/cmd_01.output">')
  has(html, "    fail_fast: false")
end

-- A wait's probes are what a wait is made of: a transport that does not answer yet is no
-- failure, so its probes are shown as probes (dashed, "probe"), not as red commands in a
-- green step, and junit has no failure for them; the step passes or fails by the wait.
function TestReport:test_a_wait_steps_probes_are_no_failures()
  h.write(self.dir .. "/c.yaml", string.format("cijoe: {transport: {dead: {hostname: 127.0.0.1," ..
    " port: %d, username: nobody, connect_timeout: 1}}}\n", h.free_port()))
  h.write(self.dir .. "/w.lua", 'step{name = "gone", uses = "core.wait_for_transport", ' ..
    'with = {transport = "dead", state = "down", timeout = 5}}\n' ..
    'step{name = "up", uses = "core.wait_for_transport", with = {transport = "dead", timeout = 2}}\n')
  local status = h.joe_in(self.dir, "-q -c c.yaml -o run w.lua")
  lu.assertEquals(status, 1)
  local html = h.read(self.dir .. "/run/report.html")
  has(html, '<details class="step passed" id="step-1">')
  has(html, '<details class="step failed" id="step-2" open>')
  local gone = html:match('id="step%-1">(.-)id="step%-2"') or ""
  has(gone, '<details class="cmd probe"')
  lu.assertNil(gone:find('class="cmd failed"', 1, true), "a probe of the passed wait shows as failed")
  has(html, "transport dead is not up after 2 s")
  local junit = h.read(self.dir .. "/run/junit.xml")
  local case = junit:match('<testcase [^>]*name="gone".-</testcase>')
  lu.assertNotNil(case, junit)
  lu.assertNil(case:find("<failure", 1, true), case)
end

function TestReport:test_html_is_self_contained()
  local _, _, run = self:run_workflow()
  local html = h.read(run .. "/report.html")
  for _, external in ipairs({ "http://", "https://", "src=", "<link", "<script", "url(", "@import" }) do
    lu.assertNil(html:find(external, 1, true), "report.html refers to something outside: " .. external)
  end
end

function TestReport:test_large_output_is_capped_with_a_link()
  h.write(self.dir .. "/big.lua", 'cijoe.run("seq 1 300000")')
  lu.assertEquals(h.joe_in(self.dir, "-q big.lua"), 0)
  local html = h.read(h.latest(self.dir) .. "/report.html")
  lu.assertTrue(#html < 100 * 1024, "report.html is " .. #html .. " bytes")
  has(html, "1988895 bytes: the last 64 KiB are shown")
  has(html, "\n299999\n300000\n</pre>")
  lu.assertNil(html:find("\n1\n2\n3\n", 1, true))
  has(html, '<a href="001_big/cmd_01.output">')
end

function TestReport:test_junit_parses_with_a_case_per_step_and_test()
  local _, _, run = self:run_workflow()
  lu.assertEquals(junit_summary(run .. "/junit.xml"), [[
name=wf tests=7 failures=3 errors=0 skipped=2
wf build
wf lint skipped:skipped
wf tests failure:1 of 3 tests failed: t_bad
tests t_ok
tests t_bad failure:expected 1 <got> 2
tests t_skip skipped:no disk
wf fails failure:`echo 'it <b>broke</b>' >&2; exit 3` on local: exit status 3
]])
end

function TestReport:test_github_step_summary_is_appended()
  h.write(self.dir .. "/summary.md", "earlier\n")
  self:run_workflow("GITHUB_STEP_SUMMARY=" .. h.q(self.dir .. "/summary.md"))
  local md = h.read(self.dir .. "/summary.md")
  lu.assertStrMatches(md, "earlier\n### joe: wf failed\n\n1 passed, 2 failed, 1 skipped; tests: 1 passed, 1 failed, "
    .. "1 skipped in %d+%.%d%ds\n\n"
    .. "| # | step | status | elapsed |\n|%-%-:|%-%-%-|%-%-%-|%-%-:|\n| 1 | build | passed | %d+%.%d%ds |\n"
    .. "| 2 | lint | skipped | 0%.00s |\n| 3 | tests | failed | .*| 4 | fails | failed | %d+%.%d%ds |\n\n"
    .. "%- %*%*3 tests%*%*: ` 1 of 3 tests failed: t_bad `\n"
    .. "%- %*%*4 fails%*%*: `` `echo 'it <b>broke</b>' >&2; exit 3` on local: exit status 3 ``\n\n")
end

-- A crash is simulated by cutting the journal after step 4 began (what a run killed there
-- leaves: its command's output, no record of its end) and removing the derived files.
function TestReport:test_report_rebuilds_a_crashed_run()
  local _, _, run = self:run_workflow()
  local journal = h.read(run .. "/journal.yml")
  h.write(run .. "/journal.yml", journal:match("^(.-\"ev\": \"begin\", \"n\": 4[^\n]*\n)"))
  h.sh("cd " .. h.q(run) .. " && rm 004_fails/cmd_01.state report.html junit.xml workflow.state")
  local status, out = h.joe_in(self.dir, "report")
  lu.assertEquals(status, 1) -- the run did not pass: a step never ended
  lu.assertEquals(out, "report: cijoe-output/latest/report.html\n")
  local html = h.read(run .. "/report.html")
  has(html, '<details class="step running" id="step-4" open>')
  has(html, '<details class="cmd failed" open>.*did not finish.*it &#60;b&#62;broke', false)
  lu.assertStrContains(junit_summary(run .. "/junit.xml"), "wf fails error:running\n")
  h.sh("rm " .. h.q(run) .. "/journal.yml " .. h.q(run) .. "/workflow.state")
  lu.assertEquals(h.joe_in(self.dir, "-q report " .. h.q(run)), 1)
  html = h.read(run .. "/report.html")
  has(html, '<span class="name">build</span><span class="status unknown">unknown</span>')
  has(html, '<span class="name">fails</span>')
  lu.assertStrContains(junit_summary(run .. "/junit.xml"), "tests=6 failures=1 errors=3 skipped=1")
end

-- A line of the journal that does not parse (here the end of step 1, cut short) is the
-- only one left out: the journal is parsed many lines at a time, and the lines around a
-- bad one are read one by one.
function TestReport:test_a_torn_journal_line_loses_only_itself()
  local _, _, run = self:run_workflow()
  local journal = h.read(run .. "/journal.yml")
  local torn = journal:gsub('(%- {"elapsed": [^\n]-"ev": "end", "n": 1,)[^\n]*', "%1", 1)
  lu.assertNotEquals(torn, journal)
  h.write(run .. "/journal.yml", torn)
  lu.assertEquals(h.joe_in(self.dir, "-q report " .. h.q(run)), 1)
  local html = h.read(run .. "/report.html")
  has(html, '<details class="step running" id="step-1" open>')
  has(html, '<details class="step skipped" id="step-2">')
  has(html, '<details class="step failed" id="step-3" open>')
  has(html, '<details class="step failed" id="step-4" open>')
  lu.assertStrContains(junit_summary(run .. "/junit.xml"), "wf build error:running\n")
end

-- A step of 1,200 commands, the 700th failing: the report and junit.xml list the first and
-- last 500 and the failed one, and say how many are not listed and where they are.
function TestReport:test_a_step_of_many_commands_lists_the_first_last_and_failed()
  h.write(self.dir .. "/soak.lua", [[
step("soak", function()
  for i = 1, 1200 do cijoe.run("echo run" .. i .. (i == 700 and "; exit 4" or "")) end
end)]])
  lu.assertEquals(h.joe_in(self.dir, "-q soak.lua"), 0)
  local run = h.latest(self.dir)
  local html = h.read(run .. "/report.html")
  local listed = {}
  for n in html:gmatch('<details class="cmd %a+"[^\n]*>\n<summary><code>%$ echo run(%d+)') do
    listed[#listed + 1] = tonumber(n)
  end
  lu.assertEquals(#listed, 1001)
  lu.assertEquals({ listed[500], listed[501], listed[502], listed[1001] }, { 500, 700, 701, 1200 })
  has(html, '<p class="note omitted">199 more commands of this step are not listed here (0 of '
    .. "them failed), to keep the report readable: the first and last 500 and the failed ones "
    .. "are; every command&#39;s log and state are in 001_soak/</p>")
  lu.assertEquals(h.read(run .. "/001_soak/cmd_600.output"), "run600\n")
  local out = h.sh("python3 -c " .. h.q([[
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
print(doc.getElementsByTagName("system-out")[0].firstChild.data.splitlines()[0])]])
    .. " " .. h.q(run .. "/junit.xml"))
  lu.assertEquals(out, "[199 more commands are in the output directory]\n")
end

function TestReport:test_odd_tests_yaml_is_shown_not_fatal()
  h.write(self.dir .. "/w.lua", [[
local function results(text)
  local _, st = cijoe.run("true")
  local f = assert(io.open(st.state_fpath:match("^(.*)/") .. "/tests.yaml", "w"))
  f:write(text)
  f:close()
end
step("odd", function() results("- just text\n- {name: fine, status: passed}\n") end)
step("torn", function() results("- {name: [") end)]])
  lu.assertEquals(h.joe_in(self.dir, "-q w.lua"), 1) -- a result that is no result fails its step
  lu.assertEquals(junit_summary(h.latest(self.dir) .. "/junit.xml"), [[
name=w tests=4 failures=1 errors=1 skipped=0
w odd failure:1 of 2 tests failed: just text
odd just text error:error
odd fine
w torn
]])
  has(h.read(h.latest(self.dir) .. "/report.html"), '<details class="step failed" id="step-1" open>')
end

function TestReport:test_report_of_missing_or_unwritable_dir()
  local status, _, err = h.joe_in(self.dir, "report nowhere")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: nowhere: no such directory")
  h.sh("mkdir -p " .. h.q(self.dir .. "/out/report.html"))
  status, _, err = h.joe_in(self.dir, "-q -o out wf.lua build")
  lu.assertEquals(status, 0) -- a report that cannot be written does not fail the run
  lu.assertStrContains(err, "joe: report: out/report.html: Is a directory")
  lu.assertEquals(h.joe_in(self.dir, "report out"), 1)
end

function TestReport:test_interrupted_run_has_a_report()
  h.write(self.dir .. "/stop.lua", 'step("a", function() cijoe.run("echo a") end)\n'
    .. 'step("stop", function() cijoe.run("kill -INT $PPID; sleep 5") end)\nstep("c", function() end)\n')
  local status = h.joe_in(self.dir, "-q stop.lua")
  lu.assertEquals(status, 130)
  local html = h.read(h.latest(self.dir) .. "/report.html")
  has(html, '<span class="badge interrupted">interrupted</span>')
  has(html, '<details class="step interrupted" id="step-2" open>')
  has(html, '<details class="step skipped" id="step-3">')
end

local CHROMIUM = "/usr/bin/chromium"

-- Run headless Chromium on a file with a fresh profile; returns its stdout. Requests to
-- the network cannot resolve, and with net_log every request is written to that file.
local function chromium(args, file, net_log)
  local profile = h.tmpdir()
  local out = h.sh(string.format("timeout 120 %s --headless --no-sandbox --disable-gpu --disable-quic "
    .. "--no-first-run --disable-background-networking --disable-component-update --disable-sync "
    .. "--user-data-dir=%s --host-resolver-rules='MAP * ~NOTFOUND' %s %s %s 2>/dev/null", CHROMIUM,
    h.q(profile), net_log and "--log-net-log=" .. h.q(net_log) or "", args, h.q("file://" .. file)))
  h.sh("rm -rf " .. h.q(profile))
  return out
end

-- How many requests a page made itself (its origin is the opaque one of file://, which
-- the net log calls "null"; Chromium's own background requests say "not an origin").
local function page_requests(net_log)
  return select(2, (h.read(net_log) or ""):gsub('"initiator":"null"', ""))
end

function TestReport:test_chromium_renders_the_report_offline()
  if not h.read(CHROMIUM) then lu.skip("chromium is not installed (Debian package chromium)") end
  local _, _, run = self:run_workflow()
  local shot = run .. "/screenshot.png"
  chromium("--screenshot=" .. h.q(shot) .. " --window-size=1280,2000", run .. "/report.html")
  local png = h.read(shot) or ""
  lu.assertEquals(png:sub(1, 8), "\137PNG\r\n\26\n")
  lu.assertEquals({ string.unpack(">I4I4", png, 17) }, { 1280, 2000, 25 }) -- IHDR width, height
  lu.assertTrue(#png > 20000, "a blank page? the screenshot is " .. #png .. " bytes")
  local dom = chromium("--dump-dom", run .. "/report.html", run .. "/net.json")
  for _, name in ipairs({ "build", "lint", "tests", "fails" }) do
    has(dom, '<span class="name">' .. name .. "</span>")
  end
  has(dom, '<details class="step failed" id="step-4" open="">')
  has(dom, "&lt;script&gt;alert(1)&lt;/script&gt;") -- text, not an element
  lu.assertEquals(page_requests(run .. "/net.json"), 0)
  -- the same check sees the requests of a page that does load things from the network
  h.write(self.dir .. "/remote.html", '<img src="http://example.invalid/a.png"><link rel="stylesheet" '
    .. 'href="https://example.invalid/a.css">')
  chromium("--dump-dom", self.dir .. "/remote.html", self.dir .. "/net.json")
  lu.assertEquals(page_requests(self.dir .. "/net.json"), 2)
end
