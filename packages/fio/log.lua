--- fio.log: fio's logs over time (write_iops_log, write_bw_log, write_lat_log, and the
-- JSON of --status-interval) read into series for cijoe.chart.timeseries. A log's line is
-- `<msec>, <value>, <direction>, <bs>` and more fields (offset, priority, issue time)
-- that are not needed here. With log_avg_msec fio writes one line per window and
-- direction (bs 0); without it, one line per I/O (its bs), which is summed into windows
-- of one second here, as a line per I/O is no rate. Units as fio.metrics: iops in IO/s,
-- bw in bytes/s (fio logs KiB/s), latency in ns.
local yaml = require("cijoe.yaml")

local log = {}

local DIRECTIONS = { [0] = "read", [1] = "write", [2] = "trim" }
local KINDS = { iops = "iops", bw = "bw", lat = "ns", clat = "ns", slat = "ns" }

-- The job and kind of a log from its file name, as fio names them:
-- <prefix>_<kind>.<job number>.log; nil for names of other forms.
local function name_parts(name)
  local base = tostring(name):match("([^/]*)$")
  local prefix, kind, n = base:match("^(.*)_(%a+)%.(%d+)%.log$")
  if not prefix then prefix, kind = base:match("^(.*)_(%a+)%.log$") end
  return prefix and (n and prefix .. "." .. n or prefix), KINDS[kind or ""]
end

-- The numbers of one line, or nil and what is wrong with it.
local function fields(line)
  local out = {}
  for field in (line .. ","):gmatch("%s*([^,]-)%s*,") do
    local n = tonumber(field)
    if not n or n ~= n or n == math.huge or n == -math.huge then
      return nil, string.format("%q is not a number", field:sub(1, 40))
    end
    out[#out + 1] = n
  end
  if #out < 4 or #out > 8 then
    return nil, "expected '<msec>, <value>, <direction>, <bs>[, <offset>, <prio>]', got "
      .. #out .. " fields"
  end
  if out[1] < 0 or out[4] < 0 then return nil, "the time and bs must be at or above zero" end
  if not DIRECTIONS[out[3]] then
    return nil, "the direction must be 0 (read), 1 (write) or 2 (trim), not " .. out[3]
  end
  return out
end

-- The samples of a log by direction: {direction = {{msec, value, bs}, ...}}, in the order
-- of the directions' first lines; or nil and "name:line: problem".
local function samples(text, name)
  local by_dir, order, n = {}, {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:find("%S") then
      local f, err = fields((line:gsub("\r$", "")))
      if not f then return nil, string.format("%s:%d: %s", name, n, err) end
      local dir = DIRECTIONS[f[3]]
      if not by_dir[dir] then by_dir[dir], order[#order + 1] = {}, dir end
      by_dir[dir][#by_dir[dir] + 1] = { f[1], f[2], f[4] }
    end
  end
  return by_dir, order
end

-- The windows of window_msec that the lines of one I/O each fall in, from the first to
-- the last (an idle one is there, with no I/O: a stall is a rate of zero); with more
-- than MAX_WINDOWS of them, only those that saw I/O.
local MAX_WINDOWS = 100000 -- 27 hours of 1 s windows
local function window_spans(list, kind, window_msec)
  local by_index, first, last = {}, math.huge, -math.huge
  for _, s in ipairs(list) do
    local i = s[1] // window_msec
    local w = by_index[i] or { t0 = i * window_msec, t1 = (i + 1) * window_msec, sum = 0,
      count = 0, last = 0 }
    by_index[i], first, last = w, math.min(first, i), math.max(last, i)
    w.sum = w.sum + (kind == "bw" and s[3] or kind == "iops" and 1 or s[2])
    w.count, w.last = w.count + 1, math.max(w.last, s[1])
  end
  local spans, lo, hi = {}, math.tointeger(first), math.tointeger(last)
  if lo and hi and hi - lo < MAX_WINDOWS then -- integers: a float loop at 1e22 never ends
    for i = lo, hi do
      spans[#spans + 1] = by_index[i] or { t0 = i * window_msec, t1 = (i + 1) * window_msec,
        sum = 0, count = 0 }
    end
  else
    for _, w in pairs(by_index) do spans[#spans + 1] = w end
    table.sort(spans, function(a, b) return a.t0 < b.t0 end)
  end
  return spans
end

-- One line per I/O summed into windows: IO/s (count), bytes/s (sum of bs) or the mean
-- latency, each at its window's end as fio places them. The last window ends at the last
-- I/O, and joins the one before when under half a window, so the end of a run is not
-- drawn as a drop or a spike.
local function windows(list, kind, window_msec)
  local spans = window_spans(list, kind, window_msec)
  local tail, before = spans[#spans], spans[#spans - 1]
  tail.t1 = math.max(tail.last, tail.t0 + 1)
  if before and tail.t1 - tail.t0 < window_msec / 2 then
    before.t1, before.sum = tail.t1, before.sum + tail.sum
    before.count, spans[#spans] = before.count + tail.count, nil
  end
  local points = {}
  for i, w in ipairs(spans) do
    local rate = w.t1 > w.t0 and w.sum * 1000 / (w.t1 - w.t0) or 0 / 0 -- t0 + 1 == t0
    points[i] = { w.t1 / 1000, kind == "ns" and w.sum / w.count or rate }
  end
  return points
end

-- True when every line of the log has bs 0: fio averaged it over log_avg_msec windows.
local function is_averaged(by_dir, order)
  for _, dir in ipairs(order) do
    for _, s in ipairs(by_dir[dir]) do
      if s[3] ~= 0 then return false end
    end
  end
  return true
end

--- Parse the text of a fio log named `name` (its file name: fio's <prefix>_iops.1.log
--- says the job and the kind). opts.kind ("iops", "bw", "ns") overrides the name's;
--- opts.window_msec (default 1000) is the window for logs of one line per I/O.
--- Returns {kind, averaged = true when fio averaged (log_avg_msec), series = {{name,
--- direction, points = {{seconds, value}, ...}}, ...}}, or nil and "name:line: problem".
function log.parse(text, name, opts)
  opts = opts or {}
  local window = tonumber(opts.window_msec or 1000)
  if not window or window <= 0 then error("fio.log.parse: window_msec must be above zero", 2) end
  name = tostring(name or "<fio log>")
  local job, kind = name_parts(name)
  kind = opts.kind or kind
  local by_dir, order = samples(tostring(text), name)
  if not by_dir then return nil, order end
  local averaged, series = is_averaged(by_dir, order), {}
  for i, dir in ipairs(order) do
    local points = {}
    if averaged or not kind then
      for j, s in ipairs(by_dir[dir]) do
        points[j] = { s[1] / 1000, kind == "bw" and s[2] * 1024 or s[2] }
      end
    else
      points = windows(by_dir[dir], kind, window)
    end
    series[i] = { name = job or name, direction = dir, points = points }
  end
  return { kind = kind, averaged = averaged, series = series }
end

--- Read and parse the fio log at path (see log.parse). Returns the same, or nil and a
--- message naming the file.
function log.read(path, opts)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return log.parse(text, path, opts)
end

-- Status output -------------------------------------------------------------------------

-- The line breaks of text as the YAML loader counts them (CR LF, CR, LF, NEL, LS, PS),
-- so the line of an error in a document is the line of the whole text.
local function breaks(text)
  local n = 0
  for _, br in ipairs({ "\r\n", "[\r\n]", "\xC2\x85", "\xE2\x80[\xA8\xA9]" }) do
    local count
    text, count = text:gsub(br, "")
    n = n + count
  end
  return n
end

-- The JSON documents of fio's --status-interval output, each from a "{" that starts a
-- line (fio's messages before the first are left out), as {text, line}.
local function documents(text)
  local starts, docs, line, counted = {}, {}, 1, 1
  if text:sub(1, 1) == "{" then starts[1] = 1 end
  for at in text:gmatch("\n(){") do starts[#starts + 1] = at end
  for i, at in ipairs(starts) do
    line = line + breaks(text:sub(counted, at - 1))
    counted = at
    docs[i] = { text = text:sub(at, (starts[i + 1] or #text + 1) - 1), line = line }
  end
  return docs
end

-- A job's totals of one direction in one document, appended to its series as the rates
-- since its previous totals; a direction's series start with its first I/O.
local function add_interval(job, dir, seen, out, index)
  local d, t = job[dir], tonumber(job.job_runtime)
  if type(d) ~= "table" or not t or not tonumber(d.total_ios) or not tonumber(d.io_bytes) then
    return
  end
  local key = tostring(index) .. "\0" .. dir -- clones (numjobs) share a name
  local last = seen[key] or { t = 0, ios = 0, bytes = 0 }
  seen[key] = last
  local dt = (t - last.t) / 1000
  if not last.iops and d.total_ios > 0 then
    last.iops = { name = tostring(job.jobname), direction = dir, points = {}, job = index }
    last.bw = { name = last.iops.name, direction = dir, points = {}, job = index }
    out.iops[#out.iops + 1], out.bw[#out.bw + 1] = last.iops, last.bw
  end
  if last.iops and dt > 0 then
    last.iops.points[#last.iops.points + 1] = { t / 1000, (d.total_ios - last.ios) / dt }
    last.bw.points[#last.bw.points + 1] = { t / 1000, (d.io_bytes - last.bytes) / dt }
  end
  if dt > 0 then last.t, last.ios, last.bytes = t, d.total_ios, d.io_bytes end
end

--- The IOPS and bandwidth over time of fio's --status-interval JSON output named `name`:
--- fio writes a document per interval with the totals so far; between two, the I/Os and
--- bytes done over the job's runtime. Returns {iops = series, bw = series} (as log.parse
--- makes them, one per job and direction that did I/O, in the order of the jobs; each
--- has `job`, the job's place in the documents), or nil and
--- "name:line:column: problem".
function log.status(text, name)
  name = tostring(name or "<fio status>")
  local out, seen = { iops = {}, bw = {} }, {}
  for _, d in ipairs(documents(tostring(text))) do
    local doc, err = yaml.load(d.text, name)
    if type(doc) ~= "table" then
      local line, rest = tostring(err):sub(#name + 2):match("^(%d+)(:.*)$")
      return nil, string.format("%s:%d%s", name, (tonumber(line) or 1) + d.line - 1,
        rest or ": not a JSON object")
    end
    for i, job in ipairs(type(doc.jobs) == "table" and doc.jobs or {}) do
      for _, dir in ipairs({ "read", "write", "trim" }) do
        if type(job) == "table" then add_interval(job, dir, seen, out, i) end
      end
    end
  end
  return out
end

return log
