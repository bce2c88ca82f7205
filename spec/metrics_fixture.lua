-- What the tests of metrics, comparisons, merged reports and the report's charts share:
-- real fio runs on this machine (made once per test file, copied for each test), and a
-- metrics.yml changed the way another run would have measured.
local h = require("helper")
local lu = require("luaunit")
local yaml = require("cijoe.yaml")

local fixture = { CHROMIUM = "/usr/bin/chromium" }

-- A workflow of three fio steps on a file of dir: randread with fio's logs (averaged
-- over 200 ms), randwrite, a mixed job of two clones with --status-interval, and a step
-- with no fio.
local WORKFLOW = [[
local function job(name, rw, more)
  local t = { name = name, rw = rw, filename = %q, size = "16M", bs = "4k", ioengine = "psync",
    runtime = "1200ms", time_based = true }
  for k, v in pairs(more or {}) do t[k] = v end
  return t
end
step{ name = "reads", uses = "fio.run", with = job("rr", "randread", { write_iops_log = true,
  write_bw_log = "bw", write_lat_log = 1, log_avg_msec = 200 }) }
step{ name = "writes", uses = "fio.run", with = job("rw", "randwrite") }
step{ name = "mixed", uses = "fio.run", with = job("mix", "randrw", { numjobs = 2,
  runtime = "2500ms", extra = { "--status-interval=1" } }) }
step("no_fio", function() return cijoe.run("true") end)
]]

local made = {}

--- The folder of a real run of the fio workflow (`joe bench.lua` in it, extracted unless
--- raw), made once per test file and kind; copy it before changing it.
function fixture.real_run(raw)
  local key = raw and "raw" or "extracted"
  if made[key] then return made[key] end
  local dir = h.tmpdir()
  h.write(dir .. "/bench.lua", string.format(WORKFLOW, dir .. "/data"))
  local status, out, err = h.joe_in(dir, "bench.lua")
  assert(status == 0, (out or "") .. (err or ""))
  if not raw then
    status, out, err = h.joe_in(dir, "extract")
    assert(status == 0, (out or "") .. (err or ""))
  end
  made[key] = h.sh("readlink -f " .. h.q(h.latest(dir))):gsub("\n$", "")
  return made[key]
end

--- A copy of the real run in a fresh folder (returns the copy's path).
function fixture.copy(raw, name)
  local dir = h.tmpdir() .. "/" .. (name or "run")
  h.sh("cp -R " .. h.q(fixture.real_run(raw)) .. " " .. h.q(dir))
  return dir
end

--- Change a step's metrics.yml: fn(doc) changes the table, which is written back.
function fixture.change_metrics(run, step, fn)
  local path = run .. "/" .. step .. "/metrics.yml"
  local doc = assert(yaml.load(assert(h.read(path)), path))
  fn(doc)
  assert(yaml.write(path, doc))
  return doc
end

--- A run's metrics of one step (its metrics.yml as a table).
function fixture.metrics(run, step)
  return h.yaml(run .. "/" .. step .. "/metrics.yml")
end

--- Run headless Chromium on a file with a fresh profile (as spec/test_report.lua does);
--- returns its stdout. Requests to the network cannot resolve; net_log records them.
function fixture.chromium(args, file, net_log)
  local profile = h.tmpdir()
  local out = h.sh(string.format("timeout 120 %s --headless --no-sandbox --disable-gpu "
    .. "--disable-quic --no-first-run --disable-background-networking --disable-component-update "
    .. "--disable-sync --user-data-dir=%s --host-resolver-rules='MAP * ~NOTFOUND' %s %s %s "
    .. "2>/dev/null", fixture.CHROMIUM, h.q(profile),
    net_log and "--log-net-log=" .. h.q(net_log) or "",
    args, h.q("file://" .. file)))
  h.sh("rm -rf " .. h.q(profile))
  return out
end

--- How many pixels of a screenshot (every other one of a row) are within 48 of each
--- colour (#rrggbb), by spec/chart_probe.py's PNG reader.
function fixture.colour_counts(png, colours)
  local out = h.sh("python3 -c " .. h.q([==[
import sys
sys.path.insert(0, sys.argv[1])
import chart_probe
w, h, bpp, rows = chart_probe.decode(sys.argv[2])
wants = [tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in sys.argv[3:]]
counts = [0] * len(wants)
for row in rows:
    for x in range(0, w * bpp, bpp * 2):
        px = row[x:x + 3]
        for i, want in enumerate(wants):
            if max(abs(px[j] - want[j]) for j in range(3)) <= 48:
                counts[i] += 1
print(*counts)]==]) .. " " .. h.q(h.root .. "/spec") .. " " .. h.q(png) .. " '"
    .. table.concat(colours, "' '") .. "'")
  local counts = {}
  for n in out:gmatch("%d+") do counts[#counts + 1] = tonumber(n) end
  lu.assertEquals(#counts, #colours, out)
  return counts
end

return fixture
