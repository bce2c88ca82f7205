-- Shared by the benchmarks: run the reference tools, take medians, print the rows of one
-- table (joe, reference, ratio, target) and remember whether every target was met.
local proc = require("cijoe.proc")

local bench = { failed = false, root = os.getenv("JOE_ROOT") or os.getenv("PWD") }
bench.joe = bench.root .. "/build/joe"
bench.spawn = bench.root .. "/build/bench-spawn"
bench.floor = bench.root .. "/build/bench-floor"

--- Run a local command that must succeed; returns what it printed.
function bench.sh(cmd, opts)
  local err, st = cijoe.run_local(cmd, opts)
  if err ~= 0 then error(cmd .. " failed (" .. tostring(err) .. "): " .. (st and st:output() or "")) end
  return st:output()
end

--- The median of a list of numbers.
function bench.median(list)
  local sorted = { table.unpack(list) }
  table.sort(sorted)
  return sorted[(#sorted + 1) // 2]
end

--- Seconds fn takes.
function bench.time(fn)
  local t0 = proc.now()
  fn()
  return proc.now() - t0
end

local header_printed = false

--- Print one row of the table: what was measured, joe's figure, the reference's figure
--- (measured in the same run), the ratio joe/reference (higher is better), the target,
--- and whether it was met. The header comes before the first row.
function bench.row(name, joe, ref, ratio, target, ok)
  local line = "%-13s %-20s %-34s %6s  %-24s %s"
  if not header_printed then
    print(string.format(line, "measure", "joe", "reference (same run)", "ratio", "target", "result"))
    header_printed = true
  end
  print(string.format(line, name, joe, ref, string.format("%.2f", ratio), target, ok and "ok" or "BELOW TARGET"))
  io.stdout:flush()
  if not ok then bench.failed = true end
end

--- Write a file.
function bench.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- A scratch folder.
function bench.tmpdir()
  return (bench.sh("mktemp -d /tmp/joe-bench.XXXXXX"):gsub("\n$", ""))
end

--- End the benchmark: nonzero when a target was missed.
function bench.finish()
  return bench.failed and 1 or 0
end

return bench
