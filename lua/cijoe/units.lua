-- Human units for fio's metrics as fio prints them: IOPS with SI prefixes (12.3k IO/s),
-- bandwidth in bytes/s with binary ones (512 MiB/s), latencies given in nanoseconds
-- (812 ns, 12.4 µs, 3.21 ms, 1.20 s), each with 3 significant digits; and the axes of
-- charts: one unit for a set of values, nice ticks (1, 2, 5 x 10^n), decades for a log axis.
local units = {}

-- The kinds of value: each prefix is {factor, what follows the number}, smallest first.
local KINDS = {
  iops = { { 1, " IO/s" }, { 1e3, "k IO/s" }, { 1e6, "M IO/s" }, { 1e9, "G IO/s" },
    { 1e12, "T IO/s" } },
  bw = { { 1, " B/s" }, { 2 ^ 10, " KiB/s" }, { 2 ^ 20, " MiB/s" }, { 2 ^ 30, " GiB/s" },
    { 2 ^ 40, " TiB/s" }, { 2 ^ 50, " PiB/s" } },
  bytes = { { 1, " B" }, { 2 ^ 10, " KiB" }, { 2 ^ 20, " MiB" }, { 2 ^ 30, " GiB" },
    { 2 ^ 40, " TiB" }, { 2 ^ 50, " PiB" } },
  ns = { { 1, " ns" }, { 1e3, " µs" }, { 1e6, " ms" }, { 1e9, " s" } },
  count = { { 1, "" }, { 1e3, "k" }, { 1e6, "M" }, { 1e9, "G" }, { 1e12, "T" } },
  sec = { { 1, " s" } },
  percent = { { 1, "%" } },
}

-- The prefixes of a kind; an unknown kind is a plain count, so a caller's typo still
-- draws (the chart's title names the metric anyway).
local function prefixes(kind)
  return KINDS[kind] or KINDS.count
end

-- True for a number that is neither NaN nor infinite.
local function finite(x)
  return type(x) == "number" and x == x and x ~= math.huge and x ~= -math.huge
end
units.finite = finite

--- The text of x >= 0 with `sig` significant digits (default 3), trailing zeros kept as
--- fio does: 812, 12.4, 3.21, 1.20, 0.00500; numbers of more digits are whole: 12346;
--- from 1e15 and below 1e-4 in exponent form: 1.23e+15, 5e-05.
function units.digits(x, sig)
  sig = sig or 3
  if x == 0 then return "0" end
  if x >= 1e15 or x < 1e-4 then return string.format("%." .. sig .. "g", x) end
  local exp = math.floor(math.log(x, 10))
  local text = string.format("%." .. math.max(0, sig - 1 - exp) .. "f", x)
  if tonumber(text) >= 10 ^ (exp + 1) then -- rounding added a digit: 9.996 -> 10.00
    text = string.format("%." .. math.max(0, sig - 2 - exp) .. "f", x)
  end
  return text
end

-- The prefix of `kind` for a magnitude m: the largest factor not above it.
local function prefix_for(kind, m)
  local list = prefixes(kind)
  local chosen = list[1]
  for _, p in ipairs(list) do
    if m >= p[1] then chosen = p end
  end
  return chosen, list
end

--- The text of value x of kind "iops", "bw", "bytes", "ns", "count", "sec" or "percent":
--- "12.3k IO/s", "512 MiB/s", "3.21 ms", "-4%" (percentages without trailing zeros);
--- "n/a" for NaN or a non-number, "inf" and "-inf" for infinities.
function units.format(x, kind)
  if type(x) ~= "number" or x ~= x then return "n/a" end
  if x == math.huge or x == -math.huge then return x > 0 and "inf" or "-inf" end
  local sign, m = x < 0 and "-" or "", math.abs(x)
  local p, list = prefix_for(kind, m)
  local text = units.digits(m / p[1])
  for i, q in ipairs(list) do
    if q == p and tonumber(text) >= 1000 and list[i + 1] then -- 999.6 ns is 1.00 µs
      p, text = list[i + 1], units.digits(m / list[i + 1][1])
      break
    end
  end
  if kind == "percent" and text:find("^%d*%.%d*$") then text = text:gsub("%.?0+$", "") end
  return sign .. text .. p[2]
end

--- The text of x as units.format makes it, without trailing zeros: "1 µs", "2.5 ms", for
--- the ticks of a log axis, which are round numbers.
function units.short(x, kind)
  return (units.format(x, kind):gsub("^(%-?%d+)%.(%d-)0*(%D)", function(whole, frac, after)
    return whole .. (frac ~= "" and "." .. frac or "") .. after
  end))
end

--- A nice step for about `count` (default 5) intervals over span: 1, 2 or 5 x 10^n.
function units.nice_step(span, count)
  if not finite(span) or span <= 0 then return 1 end
  local raw = span / (count or 5)
  local magnitude = 10 ^ math.floor(math.log(raw, 10))
  for _, m in ipairs({ 1, 2, 5 }) do
    if m * magnitude >= raw * (1 - 1e-9) then return m * magnitude end
  end
  return 10 * magnitude
end

--- The ticks covering [lo, hi] at a nice step (about `count` intervals): a list of
--- numbers from a multiple of the step at or below lo to one at or above hi (rounded to
--- 12 digits, so 21 * 0.2 is 4.2), and the step.
function units.ticks(lo, hi, count)
  if hi <= lo then hi = lo + 1 end
  if not finite(hi - lo) then -- the span of -1e308 and 1e308: the same ticks, halved
    local list, step = units.ticks(lo / 2, hi / 2, count)
    for i, v in ipairs(list) do list[i] = v * 2 end
    return list, step * 2
  end
  local step = units.nice_step(hi - lo, count)
  local first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
  local list = {}
  for i = first, last do list[#list + 1] = tonumber(string.format("%.12g", i * step)) end
  return list, step
end

-- A tick's number with the decimals its step needs; never "-0".
local function tick_text(v, step)
  if math.abs(v) >= 1e15 or step < 1e-9 then return string.format("%.3g", v) end
  local decimals = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
  local text = string.format("%." .. decimals .. "f", v)
  return (text:gsub("^%-(0%.?0*)$", "%1"))
end

-- The finite numbers of a list, their least and greatest (nil when there are none).
local function extent(values)
  local lo, hi
  for _, v in ipairs(values) do
    if finite(v) then lo, hi = math.min(lo or v, v), math.max(hi or v, v) end
  end
  return lo, hi
end
units.extent = extent

--- A linear axis for the values (a list; NaN, infinities and non-numbers are left out) of
--- a kind: zero included unless opts.zero is false, one unit picked for the whole axis.
--- Returns {lo, hi, unit = "MiB/s", scale = 2^20, ticks = {{value, text = "512"}, ...}}
--- with lo, hi and values in the kind's base unit (IO/s, bytes/s, ns, ...).
function units.axis(values, kind, opts)
  local lo, hi = extent(values)
  lo, hi = lo or 0, hi or 0
  if not (opts and opts.zero == false) then lo, hi = math.min(lo, 0), math.max(hi, 0) end
  if hi == lo then hi = lo == 0 and 1 or lo + math.abs(lo) end
  local p = prefix_for(kind, math.max(math.abs(lo), math.abs(hi)))
  local list, step = units.ticks(lo / p[1], hi / p[1], opts and opts.count)
  local ticks = {}
  for i, v in ipairs(list) do ticks[i] = { value = v * p[1], text = tick_text(v, step) } end
  return { lo = list[1] * p[1], hi = list[#list] * p[1], unit = p[2]:gsub("^ ", ""),
    scale = p[1], ticks = ticks }
end

--- A logarithmic axis for the positive finite values of a list (others left out): from
--- the decade at or below the least to the one at or above the greatest, a tick at each
--- decade (and at 2 and 5 times it when there are at most two decades), each tick's text
--- with its own unit ("10 µs", "1 ms"). Returns {lo, hi, log = true, ticks}, or nil when
--- no value is positive.
function units.log_axis(values, kind)
  local positive = {}
  for _, v in ipairs(values) do
    if finite(v) and v > 0 then positive[#positive + 1] = v end
  end
  local lo, hi = extent(positive)
  if not lo then return nil end
  local first, last = math.floor(math.log(lo, 10) + 1e-9), math.ceil(math.log(hi, 10) - 1e-9)
  if last == first then last = first + 1 end
  local ticks, steps = {}, last - first <= 2 and { 1, 2, 5 } or { 1 }
  for e = first, last do
    for _, m in ipairs(steps) do
      local v = m * 10 ^ e
      if v <= 10 ^ last then ticks[#ticks + 1] = { value = v, text = units.short(v, kind) } end
    end
  end
  return { lo = 10 ^ first, hi = 10 ^ last, log = true, unit = "", scale = 1, ticks = ticks }
end

return units
