-- Human units and chart text (cijoe.units, cijoe.svg): values, ticks and axes as exact
-- strings, and text escaped, fitted and wrapped for SVG.
local lu = require("luaunit")
local units = require("cijoe.units")
local svg = require("cijoe.svg")

local NAN = 0 / 0

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
    { 0, "ns", "0 ns" }, { 12.5, "percent", "12.5%" }, { -4, "percent", "-4%" },
    { 0.4, "percent", "0.4%" }, { 100, "percent", "100%" },
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
  lu.assertEquals(units.digits(1e-300), "1e-300")
  lu.assertEquals(units.digits(1.5e20), "1.5e+20")
  lu.assertEquals(units.format(1e20, "percent"), "1e+20%")
  lu.assertEquals(units.format(2.5e-7, "sec"), "2.5e-07 s")
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
  lu.assertEquals(tick_texts(units.axis({ -1e308, 1e308 }, "percent")), -- found by fuzzing
    { "-1.2e+308", "-8e+307", "-4e+307", "0", "4e+307", "8e+307", "1.2e+308" })
  lu.assertEquals(tick_texts(units.axis({ 1e-300, 1.0000001e-300 }, "count", { zero = false })),
    { "1e-300", "1e-300", "1e-300", "1e-300", "1e-300", "1e-300" }) -- no "%.302f"
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
