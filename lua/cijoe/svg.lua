-- The pieces of joe's charts (cijoe.chart): escaped text, labels fitted to a width with
-- the whole text in a <title>, the palette, value scales, the value axis and the legend.
-- Text widths are estimated from DejaVu Sans, the widest of the usual sans fonts, so a
-- label that fits here fits in the fonts other machines pick for system-ui.
local units = require("cijoe.units")

local svg = {
  WIDTH = 1100, -- the report's column
  TICKS_MAX = 160, -- the widest a value axis' label may be
  FONT = 13,
  FAMILY = "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif",
  -- Okabe and Ito's colours, told apart with the common colour blindnesses; yellow is
  -- left out (too light on white).
  PALETTE = { "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6F4E37" },
  DASHES = { "", "7 4", "2 3", "10 3 2 3" }, -- after the palette, lines differ by dash
  MARKERS = { "circle", "square", "triangle", "diamond" }, -- and by marker
  HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"', -- text readable over lines
  FAIL = "#C00000", GRID = "#E1E4E8", AXIS = "#8C959F", INK = "#1F2328", MUTED = "#57606A",
}

--- Text that is safe in XML text and attribute values: markup characters become numeric
--- entities, control characters, bytes that are not UTF-8 and U+FFFE/FFFF become "?",
--- line breaks spaces.
function svg.esc(value)
  local text, out, i = tostring(value == nil and "" or value), {}, 1
  while i <= #text do
    local ok, bad = utf8.len(text, i)
    out[#out + 1] = text:sub(i, ok and #text or bad - 1)
    if ok then break end
    out[#out + 1], i = "?", bad + 1
  end
  text = table.concat(out):gsub("[\t\n\r]", " "):gsub("[%z\1-\31\127]", "?")
  text = text:gsub("\xEF\xBF[\xBE\xBF]", "?")
  return (text:gsub("[&<>\"']", function(c) return "&#" .. c:byte() .. ";" end))
end

--- A coordinate or length in the markup: one decimal, none when it is whole; 0 for NaN.
function svg.num(x)
  if not units.finite(x) then return "0" end
  return (string.format("%.1f", x):gsub("%.0$", ""):gsub("^%-0$", "0"))
end

-- The width of one character in ems, from DejaVu Sans' advances, rounded up; past
-- U+07FF (CJK, symbols, emoji) a full em or more, what fallback fonts take.
local function char_em(c)
  if #c > 1 then return ({ 0.72, 1.0, 1.2 })[#c - 1] or 1.2 end
  if c:match("^[ilIjtfr.,:;'|!()%[%] ]$") then return 0.36 end
  if c:match("^[mwMW@%%]$") then return 0.95 end
  if c:match("^[A-Z0-9]$") then return 0.72 end
  return 0.62
end

--- The estimated width in px of text at font size `size` (default svg.FONT).
function svg.width(text, size)
  local em = 0
  for c in svg.chars(text) do em = em + char_em(c) end
  return em * (size or svg.FONT)
end

--- The characters of text (UTF-8 sequences; a stray byte is one character), in order.
function svg.chars(text)
  return tostring(text):gmatch("[%z\1-\127\192-\255][\128-\191]*")
end

--- text cut to at most max_px wide (an ellipsis ends a cut one); returns the text shown
--- and whether it was cut.
function svg.fit(text, max_px, size)
  text = tostring(text == nil and "" or text)
  if svg.width(text, size) <= max_px then return text, false end
  local kept, width, limit = {}, 0, max_px - svg.width("…", size)
  for c in svg.chars(text) do
    width = width + char_em(c) * (size or svg.FONT)
    if width > limit then break end
    kept[#kept + 1] = c
  end
  return table.concat(kept) .. "…", true
end

--- A <text> at x, y with the attributes `attrs` (markup), fitted to max_px: a cut one
--- holds the whole text in a <title>, which a browser shows on hover.
function svg.label(x, y, text, max_px, attrs, size)
  local shown, cut = svg.fit(text, max_px or math.huge, size)
  return string.format('<text x="%s" y="%s"%s>%s%s</text>', svg.num(x), svg.num(y),
    attrs and " " .. attrs or "", cut and "<title>" .. svg.esc(text) .. "</title>" or "",
    svg.esc(shown))
end

--- text in at most `lines` lines of max_px, broken after a space, "_", "-", "/" or ".",
--- the last line cut; returns the lines and whether text was cut.
function svg.wrap(text, max_px, lines, size)
  local rest, out = tostring(text == nil and "" or text), {}
  while #out < lines - 1 and svg.width(rest, size) > max_px do
    local head = svg.fit(rest, max_px, size):gsub("…$", "")
    local cut = head:match("^(.*[ _%-/.])") or head
    if cut == "" then break end
    out[#out + 1], rest = cut:gsub(" $", ""), rest:sub(#cut + 1)
  end
  local last, cut = svg.fit(rest, max_px, size)
  out[#out + 1] = last
  return out, cut
end

--- The colour, dash, marker and fill opacity of the i-th series: the palette's colours,
--- then the same again with dashes and other markers (lines) or a light fill inside a
--- solid outline (bars).
function svg.style(i)
  local n = #svg.PALETTE
  local round = (i - 1) // n
  return { colour = svg.PALETTE[(i - 1) % n + 1], dash = svg.DASHES[round % #svg.DASHES + 1],
    marker = svg.MARKERS[round % #svg.MARKERS + 1], opacity = round % 2 == 0 and 1 or 0.35 }
end

--- The function from a value to a pixel for an axis ({lo, hi, log}) drawn from px_lo (at
--- lo) to px_hi (at hi); values beyond the axis are clamped to its ends.
function svg.scale(axis, px_lo, px_hi)
  local lo, hi, log = axis.lo, axis.hi, axis.log
  if log then lo, hi = math.log(lo, 10), math.log(hi, 10) end
  return function(v)
    if log then v = v > 0 and math.log(v, 10) or lo end
    local t = math.max(0, math.min(1, (v - lo) / (hi - lo)))
    return px_lo + t * (px_hi - px_lo)
  end
end

--- The widest tick label of an axis in px (at most svg.TICKS_MAX), for the left margin.
function svg.ticks_width(axis)
  local widest = 0
  for _, t in ipairs(axis.ticks) do widest = math.max(widest, svg.width(t.text)) end
  return math.min(widest, svg.TICKS_MAX)
end

--- The value axis on the left of plot ({x, y, w, h}): a grid line and a label per tick, the
--- zero line darker, and the title (with the axis' unit) upright along it.
function svg.y_axis(axis, plot, title)
  local y_of, out = svg.scale(axis, plot.y + plot.h, plot.y), {}
  for _, t in ipairs(axis.ticks) do
    local y = svg.num(y_of(t.value))
    out[#out + 1] = string.format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>',
      svg.num(plot.x), y, svg.num(plot.x + plot.w), y, t.value == 0 and svg.AXIS or svg.GRID)
    out[#out + 1] = svg.label(plot.x - 8, y_of(t.value) + 4.5, t.text, svg.TICKS_MAX,
      'text-anchor="end" fill="' .. svg.MUTED .. '"')
  end
  local text = tostring(title or "")
  if axis.unit ~= "" then text = (text .. " (" .. axis.unit .. ")"):gsub("^ ", "") end
  local mid = plot.y + plot.h / 2
  out[#out + 1] = svg.label(18, mid, text, plot.h, string.format(
    'text-anchor="middle" transform="rotate(-90 18 %s)" fill="%s"', svg.num(mid), svg.INK))
  return table.concat(out, "\n")
end

-- The swatch of a legend entry at x, y (the top left of a 14 px square).
local function swatch(e, x, y)
  local s = { x = svg.num(x), y = svg.num(y), cy = svg.num(y + 7), x2 = svg.num(x + 22) }
  if e.kind == "line" then
    return string.format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" '
      .. 'stroke-width="2.5" stroke-dasharray="%s"/>%s', s.x, s.cy, s.x2, s.cy, e.colour,
      e.dash or "", e.marker and svg.marker(e.marker, x + 11, y + 7, e.colour) or "")
  end
  if e.kind == "tick" then
    return string.format('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="3"/>',
      s.x, s.cy, s.x2, s.cy, svg.INK)
  end
  local dash = e.dash and ' stroke-dasharray="' .. e.dash .. '"' or ""
  return string.format('<rect x="%s" y="%s" width="22" height="14" fill="%s" '
    .. 'fill-opacity="%s" stroke="%s" stroke-width="%s"%s/>', s.x, s.y, e.fill or e.colour,
    e.opacity or 1, e.stroke or e.colour, e.stroke_width or 1, dash)
end

--- The legend: entries ({name, colour, kind = "box"|"line"|"tick", dash, marker (a
--- line's), opacity, fill, stroke}) from left to right in rows of `width` from x, y; names
--- over 220 px are cut. Returns the markup and its height.
function svg.legend(entries, x, y, width)
  local out, cx, cy = {}, x, y
  for _, e in ipairs(entries) do
    local shown = svg.fit(e.name, 220)
    local w = 30 + svg.width(shown) + 18
    if cx > x and cx + w > x + width then cx, cy = x, cy + 22 end
    out[#out + 1] = swatch(e, cx, cy)
    out[#out + 1] = svg.label(cx + 30, cy + 11.5, e.name, 220, 'fill="' .. svg.INK .. '"')
    cx = cx + w
  end
  return table.concat(out, "\n"), #entries > 0 and cy - y + 22 or 0
end

--- The whole chart: an inline <svg> 1100 wide (scaled to its column) and `height` high,
--- with its title on top, the body (markup) and the note (a line under the title), if any.
--- No xmlns: the HTML parser puts <svg> in its namespace, and report.html names no URL.
function svg.document(height, title, body, note)
  local head = string.format('<svg viewBox="0 0 %d %s" width="100%%" role="img" '
    .. 'aria-label="%s" font-family="%s" font-size="%d" class="joe-chart">\n'
    .. '<rect width="%d" height="%s" fill="#fff"/>', svg.WIDTH, svg.num(height),
    svg.esc(title), svg.FAMILY, svg.FONT, svg.WIDTH, svg.num(height))
  local heading = svg.label(10, 22, title, svg.WIDTH - 20, 'font-size="16" '
    .. 'font-weight="600" fill="' .. svg.INK .. '"', 16)
  local under = note and svg.label(10, 42, note, svg.WIDTH - 20, 'fill="' .. svg.MUTED .. '"')
  return table.concat({ head, heading, under or "", body, "</svg>" }, "\n")
end

--- A chart with nothing to draw: its title and why, in a frame of the same width.
function svg.empty(title, why)
  local frame = string.format('<rect x="10" y="36" width="%d" height="60" fill="none" '
    .. 'stroke="%s" stroke-dasharray="4 3"/>', svg.WIDTH - 20, svg.AXIS)
  return svg.document(110, title, frame .. "\n" .. svg.label(svg.WIDTH / 2, 71, why,
    svg.WIDTH - 40, 'text-anchor="middle" fill="' .. svg.MUTED .. '"'))
end

--- A point's marker at x, y: "circle", "square", "triangle" or "diamond", with `inner`
--- markup (a <title>) inside it.
function svg.marker(shape, x, y, colour, inner)
  local open, d = string.format('fill="%s"', colour), nil
  if shape == "square" then d = "M%s %sm-3.5 -3.5h7v7h-7z"
  elseif shape == "triangle" then d = "M%s %sm0 -4.5l4.5 8h-9z"
  elseif shape == "diamond" then d = "M%s %sm0 -5l5 5l-5 5l-5 -5z"
  end
  local tail = inner and ">" .. inner .. (d and "</path>" or "</circle>") or "/>"
  if d then return '<path d="' .. d:format(svg.num(x), svg.num(y)) .. '" ' .. open .. tail end
  return string.format('<circle cx="%s" cy="%s" r="3.5" %s%s', svg.num(x), svg.num(y), open,
    tail)
end

--- A spec's field as a list of the tables in it (anything else a caller gave is left out).
function svg.tables(value)
  local out = {}
  for _, item in ipairs(type(value) == "table" and value or {}) do
    if type(item) == "table" then out[#out + 1] = item end
  end
  return out
end

--- The layout of a chart: the plot ({x, y, w, h}, spec.height or 300 px high) below the
--- title, the note and the legend, and left of it the value axis' labels and title.
--- Returns the plot and the legend's markup.
function svg.layout(spec, axis, entries)
  local left = 36 + svg.ticks_width(axis) + 10
  local top = spec.note and 52 or 36
  local legend, legend_h = svg.legend(entries, left, top, svg.WIDTH - left - 20)
  local h = tonumber(spec.height)
  h = h and h >= 60 and h <= 2000 and h or 300
  return { x = left, y = top + legend_h + 14, w = svg.WIDTH - left - 24, h = h }, legend
end

return svg
