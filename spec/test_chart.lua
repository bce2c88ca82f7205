-- Charts for the report (cijoe.chart, cijoe.units, fio.log): units and ticks as exact
-- strings; every chart well-formed XML for python3's xml.etree, each label in it and
-- escaped, for odd and random inputs too; fio's logs parsed, also from a real fio; and
-- the charts in real headless Chromium under the report's CSP, checked in the pixels of
-- 1280 px screenshots, which stay in build/charts/ to be looked at.
local lu = require("luaunit")
local h = require("helper")
local yaml = require("cijoe.yaml")
local units = require("cijoe.units")
local chart = require("cijoe.chart")
local svg = require("cijoe.svg")
local flog = require("fio.log")

local PROBE = h.root .. "/spec/chart_probe.py"
local NAN = 0 / 0

-- The parts of SVG documents as a real XML parser sees them (chart_probe.py svg): per
-- document {error} or {root, viewBox, texts = {{text, x, y, anchor, transform}}, titles,
-- shapes = {{tag, class, fill, stroke, ...}}}.
local function parse_svgs(docs)
  local dir = h.tmpdir()
  h.write(dir .. "/svgs", table.concat(docs, "\n\0\n"))
  local out, status = h.sh("python3 " .. h.q(PROBE) .. " svg " .. h.q(dir .. "/svgs"))
  assert(status == 0, out)
  return assert(yaml.load(out, "chart_probe.py"))
end

-- One SVG document's parts; fails the test when it is not well-formed.
local function parse_svg(doc)
  local parts = parse_svgs({ doc })[1]
  lu.assertNil(parts.error, "not well-formed XML")
  lu.assertEquals(parts.root, "svg")
  return parts
end

-- The texts a chart shows, as a set (text -> true), and its titles likewise.
local function text_set(parts)
  local texts, titles = {}, {}
  for _, t in ipairs(parts.texts) do texts[t.text] = true end
  for _, t in ipairs(parts.titles) do titles[t] = true end
  return texts, titles
end

-- Assert that a chart shows each of the texts of `want`.
local function assert_shows(parts, want)
  local texts = text_set(parts)
  for _, text in ipairs(want) do
    if not texts[text] then lu.fail("the chart does not show " .. string.format("%q", text), 2) end
  end
end

-- The shapes of a chart whose attribute key is value.
local function shapes(parts, key, value)
  local found = {}
  for _, s in ipairs(parts.shapes) do
    if s[key] == value then found[#found + 1] = s end
  end
  return found
end

-- The tick texts of an axis, in order.
local function tick_texts(axis)
  local out = {}
  for i, t in ipairs(axis.ticks) do out[i] = t.text end
  return out
end

TestUnits = {}

function TestUnits:test_values_in_human_units()
  local cases = {
    { 12345, "iops", "12.3k IO/s" }, { 999, "iops", "999 IO/s" }, { 1.5e6, "iops", "1.50M IO/s" },
    { 0.005, "iops", "0.00500 IO/s" }, { 512 * 2 ^ 20, "bw", "512 MiB/s" },
    { 1536, "bw", "1.50 KiB/s" }, { 1023 * 2 ^ 10, "bw", "0.999 MiB/s" }, { 100, "bw", "100 B/s" },
    { -2048, "bw", "-2.00 KiB/s" }, { 3 * 2 ^ 40, "bytes", "3.00 TiB" }, { 812, "ns", "812 ns" },
    { 12400, "ns", "12.4 µs" }, { 3.21e6, "ns", "3.21 ms" }, { 1.2e9, "ns", "1.20 s" },
    { 999.6, "ns", "1.00 µs" }, { 999.4, "ns", "999 ns" }, { 3600e9, "ns", "3600 s" },
    { 0, "ns", "0 ns" }, { 12.5, "percent", "12.5%" }, { -4, "percent", "-4.00%" },
    { 12345, "count", "12.3k" }, { 42, "no such kind", "42.0" }, { NAN, "iops", "n/a" },
    { math.huge, "ns", "inf" }, { -math.huge, "bw", "-inf" }, { "12", "iops", "n/a" },
  }
  for _, c in ipairs(cases) do
    lu.assertEquals(units.format(c[1], c[2]), c[3], tostring(c[1]) .. " " .. c[2])
  end
end

function TestUnits:test_three_digits_and_short_ticks()
  lu.assertEquals(units.digits(9.996), "10.0")
  lu.assertEquals(units.digits(0.0001234), "0.000123")
  lu.assertEquals(units.digits(123456), "123456")
  lu.assertEquals(units.digits(1.2345, 2), "1.2")
  lu.assertEquals(units.short(1e3, "ns"), "1 µs")
  lu.assertEquals(units.short(2.5e6, "ns"), "2.5 ms")
  lu.assertEquals(units.short(1.2e9, "ns"), "1.2 s")
  lu.assertEquals(units.short(100, "ns"), "100 ns")
  lu.assertEquals(units.short(12300, "iops"), "12.3k IO/s")
end

function TestUnits:test_nice_steps()
  lu.assertEquals(units.nice_step(13), 5)
  lu.assertEquals(units.nice_step(10), 2)
  lu.assertEquals(units.nice_step(1), 0.2)
  lu.assertAlmostEquals(units.nice_step(0.07), 0.02, 1e-12)
  lu.assertEquals(units.nice_step(1000, 10), 100)
  lu.assertEquals(units.nice_step(0), 1)
  lu.assertEquals(units.nice_step(NAN), 1)
  lu.assertEquals(units.ticks(0, 950), { 0, 200, 400, 600, 800, 1000 })
  lu.assertEquals(units.ticks(-3, 17), { -5, 0, 5, 10, 15, 20 })
  lu.assertEquals(units.ticks(4, 4), { 4, 4.2, 4.4, 4.6, 4.8, 5 })
end

function TestUnits:test_an_axis_has_one_unit()
  local a = units.axis({ 0, 950e3 }, "iops")
  lu.assertEquals({ a.unit, a.lo, a.hi }, { "k IO/s", 0, 1e6 })
  lu.assertEquals(tick_texts(a), { "0", "200", "400", "600", "800", "1000" })
  a = units.axis({ 12e3, 790e3 }, "ns")
  lu.assertEquals({ a.unit, tick_texts(a) }, { "µs", { "0", "200", "400", "600", "800" } })
  a = units.axis({ 300 * 2 ^ 20, 700 * 2 ^ 20 }, "bw")
  lu.assertEquals({ a.unit, a.scale, a.hi }, { "MiB/s", 2 ^ 20, 800 * 2 ^ 20 })
  a = units.axis({ -3, 17 }, "percent")
  lu.assertEquals({ a.unit, tick_texts(a) }, { "%", { "-5", "0", "5", "10", "15", "20" } })
  a = units.axis({ 0.3, 0.35 }, "count", { zero = false })
  lu.assertEquals(tick_texts(a), { "0.30", "0.31", "0.32", "0.33", "0.34", "0.35" })
end

function TestUnits:test_axes_of_odd_values()
  local empty = { "0.0", "0.2", "0.4", "0.6", "0.8", "1.0" }
  lu.assertEquals(tick_texts(units.axis({}, "ns")), empty)
  lu.assertEquals(tick_texts(units.axis({ 0, 0, 0 }, "ns")), empty)
  lu.assertEquals(tick_texts(units.axis({ NAN, math.huge, -math.huge, "7" }, "ns")), empty)
  lu.assertEquals(tick_texts(units.axis({ 5, 5 }, "count")), { "0", "1", "2", "3", "4", "5" })
  lu.assertEquals(tick_texts(units.axis({ 5 }, "count", { zero = false })),
    { "5", "6", "7", "8", "9", "10" })
  lu.assertEquals(tick_texts(units.axis({ -4, -1 }, "count")), { "-4", "-3", "-2", "-1", "0" })
  local huge = units.axis({ 1, 1e300 }, "iops")
  lu.assertEquals(huge.unit, "T IO/s")
  lu.assertTrue(#huge.ticks >= 2 and #huge.ticks <= 11)
end

function TestUnits:test_log_axis_ticks_decades()
  lu.assertEquals(tick_texts(units.log_axis({ 800, 3.2e6 }, "ns")),
    { "100 ns", "1 µs", "10 µs", "100 µs", "1 ms", "10 ms" })
  lu.assertEquals(tick_texts(units.log_axis({ 800, 3.2e3 }, "ns")),
    { "100 ns", "200 ns", "500 ns", "1 µs", "2 µs", "5 µs", "10 µs" })
  lu.assertEquals(tick_texts(units.log_axis({ 1000, 1000 }, "iops")),
    { "1k IO/s", "2k IO/s", "5k IO/s", "10k IO/s" })
  lu.assertNil(units.log_axis({ 0, -1, NAN }, "ns"))
end

TestSvgText = {}

function TestSvgText:test_escape_makes_any_bytes_xml_text()
  lu.assertEquals(svg.esc([[<b>&"it's"</b>]]), "&#60;b&#62;&#38;&#34;it&#39;s&#34;&#60;/b&#62;")
  lu.assertEquals(svg.esc("a\1b\0c\127d\te\nf"), "a?b?c?d e f")
  lu.assertEquals(svg.esc("bad \xff\xfe byte, \xed\xa0\x80 surrogate, \xef\xbf\xbe"),
    "bad ?? byte, ??? surrogate, ?")
  lu.assertEquals(svg.esc("µs ✓"), "µs ✓")
  lu.assertEquals(svg.esc(nil), "")
  lu.assertEquals(svg.esc(12.5), "12.5")
end

function TestSvgText:test_fit_and_wrap_cut_at_characters()
  lu.assertEquals({ svg.fit("job1", 100) }, { "job1", false })
  local shown, cut = svg.fit(string.rep("µ", 100), 100)
  lu.assertTrue(cut)
  lu.assertEquals(shown:gsub("µ", ""), "…") -- whole characters, never half a UTF-8 one
  lu.assertTrue(svg.width(shown) <= 100)
  local rows = svg.wrap("randwrite 4k qd32 with a very long name that goes on and on", 200, 2)
  lu.assertEquals(#rows, 2)
  lu.assertEquals(rows[1], "randwrite 4k qd32 with a")
  lu.assertStrMatches(rows[2], "^very long name.*…$")
end

TestChart = {}

-- A bar chart of IOPS whose every label holds markup, quotes, control characters or
-- bytes that are not UTF-8; job1 of step <a> is outside its range.
local function odd_bars()
  return chart.bars{ title = "IOPS & <latency>", kind = "iops", axis_label = "IOPS <x>",
    note = "note \"quoted\" & 'single'",
    groups = { "step <a>", "bad\xff\1byte", "<script>alert(1)</script>" },
    series = { { name = "job1", values = { 150e3, 420e3, 600e3 }, baseline = { 160e3 } },
      { name = "job2 <b>&amp;", values = { 250e3, NAN, 590e3 } } },
    ranges = { { lo = 200e3, hi = 999e3, text = "[200; 999] k", group = 1 } } }
end

function TestChart:test_bars_are_well_formed_with_every_label_escaped()
  local doc = odd_bars()
  lu.assertNil(doc:find("<script", 1, true))
  lu.assertNil(doc:find("<b>", 1, true))
  lu.assertNil(doc:find("http://", 1, true)) -- no xmlns: report.html names no URL
  local parts = parse_svg(doc)
  lu.assertEquals(parts.viewBox:match("^0 0 1100 "), "0 0 1100 ")
  assert_shows(parts, { "IOPS & <latency>", "note \"quoted\" & 'single'", "job1",
    "job2 <b>&amp;", "step <a>", "bad??byte", "<script>alert(1)</script>", "IOPS <x> (k IO/s)",
    "150k IO/s", "250k IO/s", "420k IO/s", "600k IO/s", "590k IO/s", "n/a", "baseline",
    "required range", "outside the required range", "required [200; 999] k" })
  local _, titles = text_set(parts)
  lu.assertTrue(titles["job1, step <a>: 150k IO/s outside the required range [200; 999] k"])
  lu.assertTrue(titles["job2 <b>&amp;, bad??byte: n/a"])
  lu.assertTrue(titles["baseline: 160k IO/s"])
end

function TestChart:test_a_failed_check_stands_out()
  local parts = parse_svg(chart.bars{ title = "t", kind = "iops", groups = { "a", "b" },
    series = { { name = "j1", values = { 150e3, 500e3 } }, { name = "j2", values = { 300e3, NAN } } },
    ranges = { { lo = 200e3, hi = 999e3, text = "[200; 999] k" },
      { lo = 500e3, hi = 600e3, lo_open = true, text = "(500; 600] k", group = 2, series = 1 } } })
  local failed = shapes(parts, "class", "bar fail")
  lu.assertEquals(#failed, 3) -- 150k, 500k (open bound), and NaN, which meets no range
  for _, bar in ipairs(failed) do lu.assertEquals(bar.stroke, svg.FAIL) end
  lu.assertEquals(#shapes(parts, "class", "bar"), 1) -- 300k, the one that passed
  lu.assertEquals(#shapes(parts, "class", "fail-mark"), 3)
  lu.assertEquals(#shapes(parts, "class", "range"), 2)
  assert_shows(parts, { "required [200; 999] k", "required (500; 600] k",
    "outside the required range" })
  local passing = parse_svg(chart.bars{ title = "t", kind = "iops", groups = { "a" },
    series = { { name = "j1", values = { 300e3 } } },
    ranges = { { lo = 200e3, hi = 999e3, text = "[200; 999] k" } } })
  lu.assertEquals(#shapes(passing, "class", "bar fail"), 0)
  lu.assertNil(text_set(passing)["outside the required range"])
end

function TestChart:test_long_labels_are_cut_and_keep_the_whole_text()
  local long = "randwrite-4k-qd32-" .. string.rep("very-long-", 20) .. "end"
  local parts = parse_svg(chart.bars{ title = "t", kind = "bw", groups = { long, "b", "c" },
    series = { { name = long, values = { 1, 2, 3 } } } })
  local _, titles = text_set(parts)
  lu.assertTrue(titles[long], "the whole group and series name is in a <title>")
  local cut = 0
  for _, t in ipairs(parts.texts) do
    if t.text:find("…", 1, true) then cut = cut + 1 end
  end
  lu.assertEquals(cut, 2) -- the group label and the legend entry
  local groups, values = {}, {}
  for i = 1, 30 do groups[i], values[i] = "step_number_" .. i, i end
  parts = parse_svg(chart.bars{ title = "t", groups = groups, series = { { values = values } } })
  local tilted = 0
  for _, t in ipairs(parts.texts) do
    if (t.transform or ""):match("^rotate%(%-40 ") then tilted = tilted + 1 end
  end
  lu.assertEquals(tilted, 30)
end

function TestChart:test_percentiles_go_logarithmic_when_spread()
  local fio_map = { ["1.000000"] = 900, ["50.000000"] = 1200, ["99.000000"] = 9.5e4,
    ["99.990000"] = 3.2e6 }
  local parts = parse_svg(chart.percentiles{ title = "clat", series = {
    { name = "rr", direction = "read", points = fio_map },
    { name = "rr", direction = "write", points = { { 50, 2000 }, { 99.9, 4e5 } } } } })
  assert_shows(parts, { "clat", "rr", "read", "write", "latency", "100 ns", "1 µs", "10 ms",
    "p1", "p50", "p99", "p99.9", "p99.99", "percentile" })
  local _, titles = text_set(parts)
  lu.assertTrue(titles["rr read p99.99: 3.20 ms"])
  lu.assertTrue(titles["rr write p99.9: 400 µs"])
  parts = parse_svg(chart.percentiles{ title = "narrow", series = {
    { name = "a", points = { { 50, 800 }, { 99, 1500 } } } } })
  assert_shows(parts, { "latency (µs)", "0.0", "1.5" })
end

function TestChart:test_timeseries_thins_long_logs_and_keeps_spikes()
  local points = {}
  for i = 1, 100000 do points[i] = { i / 1000, 1000 + i % 7 } end
  points[50000][2] = 1e6 -- one spike
  local doc = chart.timeseries{ title = "iops", kind = "iops", series = {
    { name = "j", direction = "read", points = points } } }
  local parts = parse_svg(doc)
  local line = shapes(parts, "tag", "polyline")
  lu.assertEquals(#line, 1)
  local top, n = math.huge, 0
  for y in line[1].points:gmatch("[%d.]+,([%d.]+)") do
    top, n = math.min(top, tonumber(y)), n + 1
  end
  lu.assertTrue(n < 2200, n .. " points drawn")
  local grid_top = math.huge
  for _, l in ipairs(shapes(parts, "stroke", svg.GRID)) do
    grid_top = math.min(grid_top, tonumber(l.y1))
  end
  lu.assertEquals(top, grid_top) -- the spike reaches the axis' top, 1M IO/s
  assert_shows(parts, { "time (s)", "0", "10", "100", "(M IO/s)" })
end

-- Values a caller might hand over: odd ones and ordinary ones.
local ODD = { NAN, math.huge, -math.huge, 0, -1, -5e5, 1e-9, 1e15, 1e300, 42, 12345, "7", false }

-- A random label: markup, quotes, UTF-8, bytes that are not UTF-8, control characters.
local function random_label(rand)
  local pieces = { "<", ">", "&", '"', "'", "job", "µs", "\xff", "\1", "\n", "é", "_", " ",
    "very-long-name-", "日本" }
  local out = {}
  for i = 1, rand(0, 12) do out[i] = pieces[rand(1, #pieces)] end
  return table.concat(out)
end

-- A random chart spec: up to 60 series of up to 30 values, any of them odd.
local function random_spec(rand)
  local value = function() return rand(1, 3) == 1 and ODD[rand(1, #ODD)] or rand() * 10 ^ rand(0, 9) end
  local spec = { title = random_label(rand), kind = ({ "iops", "bw", "ns", "percent", nil })[rand(1, 5)],
    groups = {}, series = {}, ranges = {}, note = rand(1, 4) == 1 and random_label(rand) or nil }
  for g = 1, rand(0, 30) do spec.groups[g] = random_label(rand) end
  for s = 1, rand(0, 60) do
    local sr = { name = random_label(rand), values = {}, points = {}, baseline = {},
      direction = ({ "read", "write", "trim", "other", nil })[rand(1, 5)] }
    for i = 1, rand(0, 30) do
      sr.values[i], sr.baseline[i], sr.points[i] = value(), value(), { value(), value() }
    end
    spec.series[s] = rand(1, 20) == 1 and "junk" or sr
  end
  for r = 1, rand(0, 3) do
    spec.ranges[r] = { lo = value(), hi = value(), text = random_label(rand),
      group = rand(1, 3) == 1 and rand(-1, 32) or nil, series = rand(1, 3) == 1 and rand(0, 3) or nil }
  end
  return spec
end

function TestChart:test_random_inputs_always_draw_well_formed_charts()
  local rand = math.random
  math.randomseed(20240607)
  local docs = {}
  for i = 1, 150 do
    local spec = random_spec(rand)
    local fn = ({ chart.bars, chart.percentiles, chart.timeseries })[i % 3 + 1]
    local ok, doc = pcall(fn, spec)
    if not ok then lu.fail("chart " .. i .. " raised: " .. tostring(doc)) end
    docs[i] = doc
  end
  for i, parts in ipairs(parse_svgs(docs)) do
    lu.assertNil(parts.error, "chart " .. i .. " is not well-formed")
    lu.assertStrMatches(parts.viewBox, "0 0 1100 %d+%.?%d*")
  end
end

function TestChart:test_degenerate_inputs_are_drawn_sensibly()
  local fifty = {}
  for i = 1, 50 do fifty[i] = { name = "job-" .. i, values = { i * 1000 }, points = { { 50, i } } } end
  local cases = {
    { chart.bars{}, "no data to draw" },
    { chart.bars{ groups = { "a" }, series = { { name = "j", values = { NAN } } } }, "no data to draw" },
    { chart.bars{ groups = { "a" }, series = { { name = "j", values = { 0 } } }, kind = "iops" }, "0 IO/s" },
    { chart.bars{ groups = { "a", "b" }, series = { { values = { -5, 3 } } } }, "-5.00" },
    { chart.bars{ groups = { "a", "b" }, series = { { values = { 1, 1e15 } } }, kind = "iops" }, "1.00 IO/s" },
    { chart.bars{ groups = { "a" }, series = { { values = { math.huge, 2 } }, { values = { 2 } } } }, "inf" },
    { chart.bars{ groups = { "a" }, series = fifty }, "job-50" },
    { chart.percentiles{ series = {} }, "no percentiles to draw" },
    { chart.percentiles{ series = { { name = "one", points = { { 99, 5 } } } } }, "p99" },
    { chart.percentiles{ series = { { name = "z", points = { { 50, 0 }, { 99, 0 } } } } }, "p50" },
    { chart.percentiles{ series = { { name = "s", points = { { 50, 0 }, { 99, 1e7 }, { 1, 10 } } } } },
      "1 value at or below zero is not drawn on the logarithmic axis" },
    { chart.percentiles{ series = fifty }, "job-50" },
    { chart.timeseries{ series = { { name = "e", points = {} } } }, "no samples to draw" },
    { chart.timeseries{ series = { { name = "one", points = { { 3, 7 } } } } }, "one" },
    { chart.timeseries{ series = { { name = "gap", points = { { 1, 5 }, { 2, NAN }, { 3, -4 } } } } }, "gap" },
  }
  local docs = {}
  for i, c in ipairs(cases) do docs[i] = c[1] end
  for i, parts in ipairs(parse_svgs(docs)) do
    lu.assertNil(parts.error, "case " .. i)
    lu.assertTrue(text_set(parts)[cases[i][2]], "case " .. i .. " shows " .. cases[i][2])
  end
  lu.assertEquals(#shapes(parse_svgs({ cases[15][1] })[1], "tag", "circle"), 2) -- two dots, no line
end

TestFioLog = {}

function TestFioLog:test_averaged_logs_are_series_per_direction()
  local r = assert(flog.parse("200, 11875, 0, 0, 0\n200, 12425, 1, 0, 0\n400, 18685, 0, 0, 0\n",
    "/out/j1_iops.1.log"))
  lu.assertEquals(r, { kind = "iops", averaged = true, series = {
    { name = "j1.1", direction = "read", points = { { 0.2, 11875 }, { 0.4, 18685 } } },
    { name = "j1.1", direction = "write", points = { { 0.2, 12425 } } } } })
  r = assert(flog.parse("100, 4000, 1, 0\r\n\n100, 10, 2, 0, 0, 1, 5\n", "job_bw.log"))
  lu.assertEquals(r.series, { { name = "job", direction = "write", points = { { 0.1, 4096000 } } },
    { name = "job", direction = "trim", points = { { 0.1, 10240 } } } })
  r = assert(flog.parse("5, 812, 0, 0\n", "x_clat.2.log"))
  lu.assertEquals({ r.kind, r.series[1].name }, { "ns", "x.2" })
  r = assert(flog.parse("5, 1, 0, 0\n", "results.txt", { kind = "iops" }))
  lu.assertEquals({ r.kind, r.series[1].name }, { "iops", "results.txt" })
  lu.assertEquals(flog.parse("", "j_iops.1.log").series, {})
end

function TestFioLog:test_logs_of_one_line_per_io_are_summed_in_windows()
  local text = "5, 1, 0, 4096, 0\n10, 1, 0, 4096, 4096\n1500, 1, 0, 8192, 0\n"
    .. "3600, 1, 0, 4096, 0\n3700, 1, 0, 4096, 0\n"
  local r = assert(flog.parse(text, "j_iops.1.log"))
  lu.assertFalse(r.averaged)
  lu.assertEquals(r.series[1].points, { { 1, 2 }, { 2, 1 }, { 3, 0 }, { 3.7, 2000 / 700 } })
  r = assert(flog.parse(text, "j_bw.1.log"))
  lu.assertEquals(r.series[1].points, { { 1, 8192 }, { 2, 8192 }, { 3, 0 }, { 3.7, 8192000 / 700 } })
  r = assert(flog.parse("100, 1, 1, 512\n900, 1, 1, 512\n1100, 1, 1, 512\n", "j_iops.log"))
  lu.assertEquals(r.series[1].points, { { 1.1, 3000 / 1100 } }) -- a short last window joins
  r = assert(flog.parse("100, 300, 0, 512\n200, 500, 0, 512\n", "j_lat.log", { window_msec = 500 }))
  lu.assertEquals(r.series[1].points, { { 0.2, 400 } })
end

function TestFioLog:test_bad_lines_are_named_by_file_and_line()
  local cases = {
    { "200, 1, 0, 0\nfoo\n", 'j_iops.1.log:2: "foo" is not a number' },
    { "1, 2\n", "j_iops.1.log:1: expected '<msec>, <value>, <direction>, <bs>[, <offset>, "
      .. "<prio>]', got 2 fields" },
    { "\n\n1, 2, -1, 0\n", "j_iops.1.log:3: the time, direction and bs must be whole numbers "
      .. "at or above zero" },
    { "1, 2, 0.5, 0\n", "j_iops.1.log:1: the time, direction and bs must be whole numbers at "
      .. "or above zero" },
    { "1e999, 1, 0, 0\n", 'j_iops.1.log:1: "1e999" is not a number' },
    { "1, nan, 0, 0\n", 'j_iops.1.log:1: "nan" is not a number' },
  }
  for _, c in ipairs(cases) do lu.assertEquals({ flog.parse(c[1], "j_iops.1.log") }, { nil, c[2] }) end
  lu.assertErrorMsgContains("window_msec must be above zero", flog.parse, "", "x", { window_msec = 0 })
  lu.assertEquals({ flog.read("/nonexistent/j_iops.1.log") },
    { nil, "/nonexistent/j_iops.1.log: No such file or directory" })
end

-- Real fio logs of a short randrw job in dir: prefix "j" with log_avg_msec (avg) or one
-- line per I/O.
local function real_fio_logs(dir, avg_msec)
  local out, status = h.sh(string.format("cd %s && fio --name=j --filename=data --size=8M "
    .. "--rw=randrw --bs=4k --ioengine=psync --runtime=1 --time_based --write_iops_log=j "
    .. "--write_bw_log=j %s --output-format=json --output=fio.json", h.q(dir),
    avg_msec and "--log_avg_msec=" .. avg_msec or ""))
  lu.assertEquals(status, 0, out)
end

function TestFioLog:test_real_fio_logs_become_charts()
  local dir = h.tmpdir()
  real_fio_logs(dir, 100)
  local iops = assert(flog.read(dir .. "/j_iops.1.log"))
  lu.assertEquals({ iops.kind, iops.averaged, #iops.series }, { "iops", true, 2 })
  lu.assertEquals({ iops.series[1].direction, iops.series[2].direction }, { "read", "write" })
  for _, s in ipairs(iops.series) do
    lu.assertTrue(#s.points >= 5 and #s.points <= 12, #s.points .. " points")
    lu.assertTrue(s.points[1][1] > 0 and s.points[1][1] < 0.3, "first at " .. s.points[1][1])
    lu.assertAlmostEquals(s.points[3][1] - s.points[2][1], 0.1, 0.03)
    for _, p in ipairs(s.points) do lu.assertTrue(p[2] > 0) end
  end
  local bw = assert(flog.read(dir .. "/j_bw.1.log"))
  lu.assertAlmostEquals(bw.series[1].points[2][2] / iops.series[1].points[2][2], 4096, 4096 * 0.02)
  local parts = parse_svg(chart.timeseries{ title = "IOPS", kind = "iops", series = iops.series })
  assert_shows(parts, { "IOPS", "j.1", "read", "write", "time (s)" })
  lu.assertEquals(#shapes(parts, "tag", "polyline"), 2)
  real_fio_logs(dir, nil)
  local per_io = assert(flog.read(dir .. "/j_iops.1.log"))
  lu.assertFalse(per_io.averaged)
  local p = per_io.series[1].points
  lu.assertTrue(#p >= 1 and #p <= 2, #p .. " windows in a 1 s run")
  lu.assertTrue(p[1][2] > 100, "IO/s in the first second: " .. p[1][2])
end
