-- The charts (cijoe.chart) in real headless Chromium under report.html's CSP: each page
-- screenshot 1280 px wide, and the pixels checked where the charts drew bars, lines and
-- text; the --dump-dom text; label widths measured against the estimates. The pages and
-- screenshots stay in build/charts/ to be looked at.
local lu = require("luaunit")
local h = require("helper")
local shared = require("chart_helper")
local chart = require("cijoe.chart")
local svg = require("cijoe.svg")
local flog = require("fio.log")

local NAN = shared.NAN
local PROBE = shared.PROBE
local parse_svgs = shared.parse_svgs

TestChartBrowser = {}

local CHROMIUM = "/usr/bin/chromium"
local SHOTS = h.root .. "/build/charts" -- kept, to be looked at
local LEFT = (1280 - 1100) / 2 -- where a chart's x = 0 is in the screenshot

function TestChartBrowser:setUp()
  if not h.read(CHROMIUM) then lu.skip("chromium is not installed (Debian package chromium)") end
  h.sh("mkdir -p " .. h.q(SHOTS))
end

-- Run headless Chromium on a file with a fresh profile, as spec/test_report.lua does;
-- returns its stdout.
local function chromium(args, file)
  local profile = h.tmpdir()
  local out = h.sh(string.format("timeout 120 %s --headless --no-sandbox --disable-gpu "
    .. "--disable-quic --no-first-run --disable-background-networking "
    .. "--disable-component-update --disable-sync --user-data-dir=%s "
    .. "--host-resolver-rules='MAP * ~NOTFOUND' %s %s 2>/dev/null", CHROMIUM, h.q(profile),
    args, h.q("file://" .. file)))
  h.sh("rm -rf " .. h.q(profile))
  return out
end

-- A page of SVG documents under report.html's CSP, each in a column 1100 px wide centred
-- in 1280, so a chart's units are the screenshot's pixels from (LEFT, its top). Returns
-- the page and each document's top.
local function page(docs)
  local tops, y = {}, 0
  for i, doc in ipairs(docs) do
    tops[i], y = y, y + tonumber(doc:match('^<svg viewBox="0 0 1100 ([%d.]+)"'))
  end
  return '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
    .. '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    .. 'style-src \'unsafe-inline\'">\n<style>body { margin: 0; background: #fff; font: '
    .. '15px/1.45 system-ui, "DejaVu Sans", sans-serif; } main { width: 1100px; margin: 0 '
    .. 'auto; } svg { display: block; }</style></head>\n<body><main>\n'
    .. table.concat(docs, "\n") .. "\n</main></body></html>\n", tops, math.ceil(y)
end

-- Screenshot a page of documents 1280 px wide into build/charts/<name>.png; returns the
-- PNG's path, each document's parts and top.
local function render(name, docs)
  local html, tops, height = page(docs)
  local file = h.write(SHOTS .. "/" .. name .. ".html", html)
  local png = SHOTS .. "/" .. name .. ".png"
  os.remove(png)
  chromium(string.format("--screenshot=%s --window-size=1280,%d", h.q(png), height), file)
  local data = h.read(png) or ""
  lu.assertEquals(data:sub(1, 8), "\137PNG\r\n\26\n", "no screenshot")
  lu.assertEquals({ string.unpack(">I4I4", data, 17) }, { 1280, height, 25 })
  return png, parse_svgs(docs), tops
end

-- Ask the screenshot the probes (chart_probe.py png) and return one answer each.
local function probe(png, probes)
  local dir = h.tmpdir()
  h.write(dir .. "/probes", table.concat(probes, "\n"))
  local out, status = h.sh(string.format("python3 %s png %s %s", h.q(PROBE), h.q(png),
    h.q(dir .. "/probes")))
  lu.assertEquals(status, 0, out)
  local answers = {}
  for line in out:gmatch("[^\n]+") do answers[#answers + 1] = line end
  lu.assertEquals(#answers, #probes)
  return answers
end

-- The box where a text that is not rotated starts (14 x 11 px by its anchor), to look
-- for its ink.
local function text_probe(t, top)
  local dx = ({ start = 0, middle = -7, ["end"] = -14 })[t.anchor]
  return string.format("dark %f %f 14 11", LEFT + t.x + dx, top + t.y - 10)
end

-- The probes of one drawn chart, with what each answer must be: the fill of each opaque
-- bar at its centre, the red edge of each failed one, the colour of each line at its
-- start and ink where each level text starts.
local function chart_probes(parts, top, probes, checks)
  local function add(p, check, what)
    probes[#probes + 1], checks[#probes + 1] = p, { check, what }
  end
  for _, s in ipairs(parts.shapes) do
    local x, y, w, hh = tonumber(s.x), tonumber(s.y), tonumber(s.width), tonumber(s.height)
    if s.tag == "rect" and (s.class or ""):match("^bar") and s["fill-opacity"] == "1"
      and w >= 4 and hh >= 8 then
      add(string.format("px %f %f", LEFT + x + w / 2, top + y + hh / 2), s.fill:lower(), "bar")
      if s.class == "bar fail" then
        add(string.format("px %f %f", LEFT + x, top + y + hh / 2), svg.FAIL:lower(), "fail edge")
      end
    elseif s.tag == "polyline" then -- 3 px into the first segment: on its first dash
      local x1, y1, x2, y2 = s.points:match("^([%d.]+),([%d.]+) ([%d.]+),([%d.]+)")
      local len = math.max(1e-9, math.sqrt((x2 - x1) ^ 2 + (y2 - y1) ^ 2))
      add(string.format("near %f %f 2 %s", LEFT + x1 + 3 * (x2 - x1) / len,
        top + y1 + 3 * (y2 - y1) / len, s.stroke), "some", "line colour")
    end
  end
  for _, t in ipairs(parts.texts) do
    if not t.transform and t.text:find("%S") then
      add(text_probe(t, top), "ink", "text " .. t.text)
    end
  end
end

-- Assert the answers of the probes.
local function assert_probes(answers, checks)
  for i, answer in ipairs(answers) do
    local want, what = checks[i][1], checks[i][2]
    if want == "some" or want == "ink" then
      if tonumber(answer) < (want == "ink" and 3 or 1) then
        lu.fail(what .. ": nothing drawn", 2)
      end
    elseif answer ~= want then
      lu.fail(string.format("%s: %s, expected %s", what, answer, want), 2)
    end
  end
end

-- Render the documents as build/charts/<name>.png and check what each drew is on it.
local function render_and_check(name, docs)
  local png, parsed, tops = render(name, docs)
  local probes, checks = { "nonwhite" }, { { nil, "nonwhite" } }
  for i, parts in ipairs(parsed) do
    lu.assertNil(parts.error, name .. " chart " .. i)
    chart_probes(parts, tops[i], probes, checks)
  end
  local answers = probe(png, probes)
  lu.assertTrue(tonumber(answers[1]) > 0.03, "a blank screenshot? " .. answers[1])
  table.remove(answers, 1)
  table.remove(checks, 1)
  assert_probes(answers, checks)
  return png, #checks
end

-- fio's usual completion latency percentiles, growing from base by up to `grow` times.
local function fio_percentiles(base, grow)
  local out = {}
  local list = { 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99 }
  for i, p in ipairs(list) do
    out[string.format("%f", p)] = math.floor(base * (1 + (i / #list) ^ 6 * grow))
  end
  return out
end

-- The bar charts of the report: IOPS per job and step with a required range, a failed
-- check and a baseline; bandwidth per run; 50 jobs; the change against a baseline.
local function bar_docs()
  local fifty = {}
  for i = 1, 50 do fifty[i] = { name = "job-" .. i, values = { i * 1000, 50000 - i * 900 } } end
  return {
    chart.bars{ title = "IOPS per job and step", kind = "iops", axis_label = "IOPS",
      groups = { "randread 4k qd1", "randwrite 4k qd32, a long name that needs two lines",
        "seq <read> & 'write'" },
      series = { { name = "job1", values = { 150e3, 420e3, 600e3 }, baseline = { 160e3, 400e3 } },
        { name = "job2 <b>", values = { 250e3, NAN, 590e3 } },
        { name = "job3", values = { 350e3, 380e3, 1.2e6 } } },
      ranges = { { lo = 200e3, hi = 999e3, text = "[200; 999] k", group = 1 },
        { lo = 200e3, hi = 999e3, text = "[200; 999] k", group = 3 } } },
    chart.bars{ title = "Bandwidth per run", kind = "bw", axis_label = "bandwidth",
      groups = { "run 1 (baseline)", "run 2", "run 3" },
      series = { { name = "read", values = { 512 * 2 ^ 20, 700 * 2 ^ 20, 690 * 2 ^ 20 } },
        { name = "write", values = { 300 * 2 ^ 20, 310 * 2 ^ 20, 120 * 2 ^ 20 } } } },
    chart.bars{ title = "50 jobs", kind = "iops", axis_label = "IOPS", groups = { "a", "b" },
      series = fifty },
    chart.bars{ title = "Change against the baseline run", kind = "percent",
      axis_label = "change", groups = { "randread", "randwrite", "seqread", "seqwrite" },
      series = { { name = "IOPS", values = { 3.2, -12.5, 0.4, 1.1 } },
        { name = "p99 latency", values = { -2, 31, 0, -0.5 } } },
      ranges = { { lo = -10, hi = 10, text = "±10 %", series = 1 } } },
  }
end

-- The line charts: percentiles of two jobs and directions on a log axis, and IOPS and
-- bandwidth over time from real fio logs.
local function line_docs()
  local dir = h.tmpdir()
  shared.real_fio_logs(dir, 100)
  local iops = assert(flog.read(dir .. "/j_iops.1.log"))
  local bw = assert(flog.read(dir .. "/j_bw.1.log"))
  return {
    chart.percentiles{ title = "Completion latency percentiles", series = {
      { name = "randread-qd1", direction = "read", points = fio_percentiles(80e3, 40) },
      { name = "randread-qd1", direction = "write", points = fio_percentiles(20e3, 300) },
      { name = "job <2>", direction = "read", points = fio_percentiles(150e3, 10) } } },
    chart.timeseries{ title = "IOPS over time (fio, log_avg_msec=100)", kind = "iops",
      axis_label = "IOPS", series = iops.series },
    chart.timeseries{ title = "Bandwidth over time", kind = "bw", axis_label = "bandwidth",
      series = bw.series },
  }
end

-- Charts of degenerate data: none, one point, zeros, 30 steps of long names.
local function odd_docs()
  local groups, values = {}, {}
  for i = 1, 30 do groups[i], values[i] = "step_number_" .. i .. "_randrw", (i % 7 - 2) * 1e5 end
  return {
    chart.bars{ title = "No data", groups = {}, series = {} },
    chart.bars{ title = "All zero", kind = "iops", groups = { "a", "b" },
      series = { { name = "j", values = { 0, 0 } } } },
    chart.percentiles{ title = "One percentile",
      series = { { name = "j", points = { { 99, 5e4 } } } } },
    chart.bars{ title = "30 steps, negative values", kind = "iops", groups = groups,
      series = { { name = "only", values = values } } },
  }
end

function TestChartBrowser:test_bars_render_readably_at_1280px()
  local docs = bar_docs()
  local _, n = render_and_check("bars", docs)
  lu.assertTrue(n > 150, n .. " probes")
  local dom = chromium("--dump-dom", SHOTS .. "/bars.html")
  lu.assertEquals(select(2, dom:gsub("<svg ", "")), #docs)
  for _, text in ipairs({ ">required [200; 999] k<", ">outside the required range<",
    ">job2 &lt;b&gt;<", ">seq &lt;read&gt; &amp; 'write'<", ">1.20M IO/s<", ">IOPS (k IO/s)<" }) do
    lu.assertStrContains(dom, text)
  end
end

function TestChartBrowser:test_lines_render_readably_at_1280px()
  local _, n = render_and_check("lines", line_docs())
  lu.assertTrue(n > 40, n .. " probes")
  local dom = chromium("--dump-dom", SHOTS .. "/lines.html")
  for _, text in ipairs({ ">p99.99<", ">10 ms<", ">job &lt;2&gt;<", ">time (s)<", ">j.1<" }) do
    lu.assertStrContains(dom, text)
  end
end

function TestChartBrowser:test_degenerate_charts_render_at_1280px()
  render_and_check("odd", odd_docs())
end

-- Texts drawn at known places, to measure their width in the browser.
local MEASURED = { "randwrite 4k qd32 with a very long name", "job-50", "IOPS (k IO/s)",
  "WWWWMMMM@@%%", "iiiilllljjjtf!|", "1234567890", "µs é à ü ß", "outside the required range",
  "p99.99", "1.20M IO/s", "日本語 ✓" }

function TestChartBrowser:test_label_widths_are_never_underestimated()
  local rows = {}
  for i, text in ipairs(MEASURED) do rows[i] = svg.label(20, 30 * i, text) end
  local doc = svg.document(30 * #MEASURED + 20, "", table.concat(rows, "\n"))
  local png = render("widths", { doc })
  local probes = {}
  for i = 1, #MEASURED do probes[i] = string.format("ink %d %d 1100 14", LEFT, 30 * i - 11) end
  for i, answer in ipairs(probe(png, probes)) do
    local first, last = answer:match("^(%d+) (%d+)$")
    lu.assertNotNil(first, MEASURED[i] .. " was not drawn")
    local drawn, estimated = last - first + 1, svg.width(MEASURED[i])
    lu.assertTrue(drawn <= estimated, string.format("%q: %d px drawn, %.1f estimated",
      MEASURED[i], drawn, estimated))
    lu.assertTrue(estimated <= drawn * 1.45 + 8, string.format("%q: %d px drawn, %.1f estimated",
      MEASURED[i], drawn, estimated))
  end
end
