-- Charts for the report (cijoe.chart) and fio's logs (fio.log): every chart well-formed
-- XML for python3's xml.etree with each label in it and escaped, for odd, degenerate and
-- random inputs too; fio's logs parsed, also those of a real fio, and charted.
local lu = require("luaunit")
local h = require("helper")
local shared = require("chart_helper")
local chart = require("cijoe.chart")
local svg = require("cijoe.svg")
local flog = require("fio.log")
local yaml = require("cijoe.yaml")

local NAN = shared.NAN
local parse_svgs, parse_svg, text_set, assert_shows, shapes =
  shared.parse_svgs, shared.parse_svg, shared.text_set, shared.assert_shows, shared.shapes

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
    series = { { name = "j1", values = { 150e3, 500e3 } },
      { name = "j2", values = { 300e3, NAN } } },
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
  local function value()
    return rand(1, 3) == 1 and ODD[rand(1, #ODD)] or rand() * 10 ^ rand(0, 9)
  end
  local kinds = { "iops", "bw", "ns", "percent", nil }
  local spec = { title = random_label(rand), kind = kinds[rand(1, 5)],
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
      group = rand(1, 3) == 1 and rand(-1, 32) or nil,
      series = rand(1, 3) == 1 and rand(0, 3) or nil }
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

-- Charts of degenerate data, each with a text it must show.
local function degenerate_cases()
  local fifty = {}
  for i = 1, 50 do
    fifty[i] = { name = "job-" .. i, values = { i * 1000 }, points = { { 50, i } } }
  end
  local function bars(values, kind) return chart.bars{ groups = { "a", "b" }, kind = kind,
    series = { { name = "j", values = values } } } end
  local function lines(fn, points) return fn{ series = { { name = "s", points = points } } } end
  return {
    { chart.bars{}, "no data to draw" }, { bars({ NAN, NAN }), "no data to draw" },
    { bars({ 0 }, "iops"), "0 IO/s" }, { bars({ -5, 3 }), "-5.00" },
    { bars({ 1, 1e15 }, "iops"), "1.00 IO/s" }, { bars({ math.huge, 2 }), "inf" },
    { chart.bars{ groups = { "a" }, series = fifty }, "job-50" },
    { chart.percentiles{ series = {} }, "no percentiles to draw" },
    { lines(chart.percentiles, { { 99, 5 } }), "p99" },
    { lines(chart.percentiles, { { 50, 0 }, { 99, 0 } }), "p50" },
    { lines(chart.percentiles, { { 50, 0 }, { 99, 1e7 }, { 1, 10 } }),
      "1 value at or below zero is not drawn on the logarithmic axis" },
    { chart.percentiles{ series = fifty }, "job-50" },
    { lines(chart.timeseries, {}), "no samples to draw" },
    { lines(chart.timeseries, { { 3, 7 } }), "s" },
    { lines(chart.timeseries, { { 1, 5 }, { 2, NAN }, { 3, -4 } }), "-4" },
  }
end

function TestChart:test_degenerate_inputs_are_drawn_sensibly()
  local cases, docs = degenerate_cases(), {}
  for i, c in ipairs(cases) do docs[i] = c[1] end
  local parsed = parse_svgs(docs)
  for i, parts in ipairs(parsed) do
    lu.assertNil(parts.error, "case " .. i)
    lu.assertTrue(text_set(parts)[cases[i][2]], "case " .. i .. " shows " .. cases[i][2])
  end
  lu.assertEquals(#shapes(parsed[15], "tag", "circle"), 2) -- two dots, no line
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
  lu.assertEquals(r.series[1].points,
    { { 1, 8192 }, { 2, 8192 }, { 3, 0 }, { 3.7, 8192000 / 700 } })
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
    { "\n\n-1, 2, 1, 0\n", "j_iops.1.log:3: the time and bs must be at or above zero" },
    { "1, 2, 1, -4096\n", "j_iops.1.log:1: the time and bs must be at or above zero" },
    { "1, 2, 0.5, 0\n", "j_iops.1.log:1: the direction must be 0 (read), 1 (write) or 2 "
      .. "(trim), not 0.5" },
    { "1, 2, 3, 0\n", "j_iops.1.log:1: the direction must be 0 (read), 1 (write) or 2 "
      .. "(trim), not 3" },
    { "1e999, 1, 0, 0\n", 'j_iops.1.log:1: "1e999" is not a number' },
    { "1, nan, 0, 0\n", 'j_iops.1.log:1: "nan" is not a number' },
  }
  for _, c in ipairs(cases) do
    lu.assertEquals({ flog.parse(c[1], "j_iops.1.log") }, { nil, c[2] })
  end
  lu.assertErrorMsgContains("window_msec must be above zero", flog.parse, "", "x",
    { window_msec = 0 })
  lu.assertEquals({ flog.read("/nonexistent/j_iops.1.log") },
    { nil, "/nonexistent/j_iops.1.log: No such file or directory" })
end

function TestFioLog:test_absurd_times_end_quickly()
  -- found by fuzzing: windows of a time of 1e25 ms were counted in a float loop that
  -- never ended (1e22 + 1 is 1e22)
  local r = assert(flog.parse("1e25, 3, 2, 0, 1\n200, 1, 1, 4096\n100, 1, 1, 4096\n",
    "j_iops.1.log"))
  lu.assertEquals({ r.series[1].direction, #r.series[1].points }, { "trim", 1 })
  lu.assertEquals(r.series[1].points[1][1], 1e22)
  lu.assertNotEquals(r.series[1].points[1][2], r.series[1].points[1][2]) -- NaN: no rate
  lu.assertEquals(r.series[2].points, { { 0.2, 2000 / 200 } })
  parse_svg(chart.timeseries{ title = "t", kind = "iops", series = r.series })
end

function TestFioLog:test_real_fio_logs_become_charts()
  local dir = h.tmpdir()
  shared.real_fio_logs(dir, 100)
  local iops = assert(flog.read(dir .. "/j_iops.1.log"))
  lu.assertEquals({ iops.kind, iops.averaged, #iops.series }, { "iops", true, 2 })
  lu.assertEquals({ iops.series[1].direction, iops.series[2].direction }, { "read", "write" })
  -- How many windows fio logs in its 1 s depends on the machine's load: each point is
  -- checked against the line fio wrote (msec, value, direction), not counted.
  local lines = { [0] = {}, [1] = {} }
  for t, v, d in h.read(dir .. "/j_iops.1.log"):gmatch("(%d+), (%d+), (%d)[^\n]*\n") do
    table.insert(lines[tonumber(d)], { tonumber(t) / 1000, tonumber(v) })
  end
  for i, s in ipairs(iops.series) do
    lu.assertTrue(#s.points >= 1, "no points")
    lu.assertEquals(s.points, lines[i - 1])
    for _, p in ipairs(s.points) do lu.assertTrue(p[2] > 0) end
  end
  local bw = assert(flog.read(dir .. "/j_bw.1.log"))
  lu.assertAlmostEquals(bw.series[1].points[1][2] / iops.series[1].points[1][2], 4096, 4096 * 0.02)
  local parts = parse_svg(chart.timeseries{ title = "IOPS", kind = "iops", series = iops.series })
  assert_shows(parts, { "IOPS", "j.1", "read", "write", "time (s)" })
  lu.assertEquals(#shapes(parts, "tag", "polyline"), 2)
  shared.real_fio_logs(dir, nil)
  local per_io = assert(flog.read(dir .. "/j_iops.1.log"))
  lu.assertFalse(per_io.averaged)
  local p = per_io.series[1].points
  lu.assertTrue(#p >= 1 and #p <= 2, #p .. " windows in a 1 s run")
  lu.assertTrue(p[1][2] > 100, "IO/s in the first second: " .. p[1][2])
end

-- The rates of status output over their intervals, added up: {I/Os, bytes}.
local function totals(iops, bw)
  local ios, bytes, t0 = 0, 0, 0
  for j, p in ipairs(iops.points) do
    ios, bytes, t0 = ios + p[2] * (p[1] - t0), bytes + bw.points[j][2] * (p[1] - t0), p[1]
  end
  return ios, bytes
end

function TestFioLog:test_status_interval_output_becomes_rates()
  local dir = h.tmpdir()
  local out, status = h.sh(string.format("cd %s && fio --name=s --filename=data --size=8M "
    .. "--rw=randrw --bs=4k --ioengine=psync --runtime=2 --time_based --status-interval=1 "
    .. "--output-format=json >status.json", h.q(dir)))
  lu.assertEquals(status, 0, out)
  local text = h.read(dir .. "/status.json")
  local r = assert(flog.status(text, "status.json"))
  lu.assertEquals({ #r.iops, #r.bw }, { 2, 2 })
  local last = assert(yaml.load(text:match(".*\n({.*)$"), "last")).jobs[1]
  for i, dir_name in ipairs({ "read", "write" }) do
    lu.assertEquals({ r.iops[i].name, r.iops[i].direction }, { "s", dir_name })
    lu.assertTrue(#r.iops[i].points >= 2, #r.iops[i].points .. " intervals")
    local ios, bytes = totals(r.iops[i], r.bw[i]) -- they add up to fio's totals
    lu.assertAlmostEquals(ios, last[dir_name].total_ios, 0.5)
    lu.assertAlmostEquals(bytes, last[dir_name].io_bytes, 1)
  end
end

function TestFioLog:test_bad_status_output_is_named_by_line()
  lu.assertEquals({ flog.status('{"jobs": []}\n{"jobs": [\n', "st.json") },
    { nil, "st.json:3:1: did not find expected node content" })
  lu.assertEquals({ flog.status("fio: warming up\n{\n  \"jobs\": 12,\n}\n{1\n", "st.json") },
    { nil, "st.json:6:1: did not find expected ',' or '}'" })
  lu.assertEquals({ flog.status('x\ry\n{"jobs": [\n', "st.json") }, -- lines as YAML counts them
    { nil, "st.json:4:1: did not find expected node content" })
  lu.assertEquals(flog.status("no JSON here\n", "st.json"), { iops = {}, bw = {} })
end
