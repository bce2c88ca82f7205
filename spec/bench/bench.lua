-- Shared by the benchmarks: run the reference tools, take medians, print a ratio line and
-- remember whether every target was met.
local proc = require("cijoe.proc")

local bench = { failed = false, root = os.getenv("JOE_ROOT") or os.getenv("PWD") }
bench.joe = bench.root .. "/build/joe"
bench.spawn = bench.root .. "/build/bench-spawn"

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

--- Print one result line; ok says whether its target was met.
function bench.report(name, text, ok)
  print(string.format("%-14s %s  %s", name, text, ok and "ok" or "BELOW TARGET"))
  if not ok then bench.failed = true end
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
