-- The input cut at the first "\n#8<\n" is a requirements file (req.yml, joe's format or
-- CIJOE's perfreq) and a metrics.yml (m.yml). Reading either never raises: a failure is
-- "file:line:column: problem" with a line of that file (or the one after its end); every
-- warning of the metrics names a line of m.yml; every requirement has an ordered range
-- and its position; checking and formatting every metric against every requirement, as
-- analyse and the report do, never raises.
local metrics = require("cijoe.metrics")
local requirements = require("cijoe.requirements")

-- The number of lines of text as the YAML loader counts them, plus one for its end.
local function last_line(text)
  local n = 1
  for _, br in ipairs({ "\r\n", "[\r\n]", "\xC2\x85", "\xE2\x80[\xA8\xA9]" }) do
    local count
    text, count = text:gsub(br, "")
    n = n + count
  end
  return n + 1
end

-- Raise unless msg is "name:line:column: ..." with a line of text (or its end).
local function names_a_line(msg, name, text)
  local line = tonumber(tostring(msg):match("^" .. name:gsub("%.", "%%.") .. ":(%d+):%d+: "))
  assert(line and line >= 1 and line <= last_line(text), "bad message: " .. tostring(msg))
end

-- Every check analyse would make, and every text the report would show.
local function check_all(reqs, doc, req_text)
  for _, r in ipairs(reqs) do
    assert(r.range.lo <= r.range.hi, "a range whose low bound is above its high one")
    names_a_line(r.at .. ": x", "req.yml", req_text)
    for _, job in ipairs(doc.jobs) do
      for _, g in ipairs(type(job) == "table" and metrics.groups_of(doc, job) or {}) do
        local v = g.values[r.metric]
        if type(v) == "number" then
          local own = metrics.unit_info(metrics.unit(doc, r.metric)).scale
          requirements.contains(r.range, v * own)
          assert(type(metrics.format(doc, r.metric, v)) == "string")
          metrics.better(doc, r.metric)
        end
      end
    end
  end
end

return function(data)
  local cut = data:find("\n#8<\n", 1, true)
  local req_text = cut and data:sub(1, cut) or data
  local m_text = cut and data:sub(cut + 5) or ""
  local doc, warnings = metrics.parse(m_text, "m.yml")
  if not doc then names_a_line(warnings, "m.yml", m_text) return end
  for _, w in ipairs(warnings) do names_a_line(w, "m.yml", m_text) end
  local file, err = requirements.parse(req_text, "req.yml")
  if not file then names_a_line(err, "req.yml", req_text) return end
  local reqs, problems = requirements.load(file, { doc })
  if not reqs then
    for line in problems:gmatch("[^\n]+") do names_a_line(line, "req.yml", req_text) end
    return
  end
  check_all(reqs, doc, req_text)
end
