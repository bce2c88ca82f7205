-- What the chart tests share: SVG documents read by a real XML parser (python3's
-- xml.etree, through spec/chart_probe.py), and real fio logs.
local lu = require("luaunit")
local h = require("helper")
local yaml = require("cijoe.yaml")

local c = { PROBE = h.root .. "/spec/chart_probe.py", NAN = 0 / 0 }

--- The parts of SVG documents as a real XML parser sees them (chart_probe.py svg): per
--- document {error} or {root, viewBox, texts = {{text, x, y, anchor, transform}}, titles,
--- shapes = {{tag, class, fill, stroke, ...}}}.
function c.parse_svgs(docs)
  local dir = h.tmpdir()
  h.write(dir .. "/svgs", table.concat(docs, "\n\0\n"))
  local out, status = h.sh("python3 " .. h.q(c.PROBE) .. " svg " .. h.q(dir .. "/svgs"))
  assert(status == 0, out)
  return assert(yaml.load(out, "chart_probe.py"))
end

--- One SVG document's parts; fails the test when it is not well-formed.
function c.parse_svg(doc)
  local parts = c.parse_svgs({ doc })[1]
  lu.assertNil(parts.error, "not well-formed XML")
  lu.assertEquals(parts.root, "svg")
  return parts
end

--- The texts a chart shows, as a set (text -> true), and its titles likewise.
function c.text_set(parts)
  local texts, titles = {}, {}
  for _, t in ipairs(parts.texts) do texts[t.text] = true end
  for _, t in ipairs(parts.titles) do titles[t] = true end
  return texts, titles
end

--- Assert that a chart shows each of the texts of `want`.
function c.assert_shows(parts, want)
  local texts = c.text_set(parts)
  for _, text in ipairs(want) do
    if not texts[text] then lu.fail(string.format("the chart does not show %q", text), 2) end
  end
end

--- The shapes of a chart whose attribute key is value.
function c.shapes(parts, key, value)
  local found = {}
  for _, s in ipairs(parts.shapes) do
    if s[key] == value then found[#found + 1] = s end
  end
  return found
end

--- Real fio logs of a short randrw job in dir: prefix "j" with log_avg_msec (avg) or one
--- line per I/O.
function c.real_fio_logs(dir, avg_msec)
  local out, status = h.sh(string.format("cd %s && fio --name=j --filename=data --size=8M "
    .. "--rw=randrw --bs=4k --ioengine=psync --runtime=1 --time_based --write_iops_log=j "
    .. "--write_bw_log=j %s --output-format=json --output=fio.json", h.q(dir),
    avg_msec and "--log_avg_msec=" .. avg_msec or ""))
  lu.assertEquals(status, 0, out)
end

return c
