-- The runtime's speed targets against floors measured in the same run: C doing the same
-- file work a logged command does (spec/bench/floor.c: the log, the state, a journal
-- line, sh -c true through a pipe), and the files of a one-command run for start-up;
-- a command writing 1 GiB logged whole with flat memory; the run records of a 1,000-step
-- run (bytes written, cost per step at 10 and 1,000 steps); memory over 50,000 commands.
local bench = require("bench")

local ROUNDS, N = 7, 1000
local dir = bench.tmpdir()

-- Alternate floor and joe in rounds and compare medians, so a noisy neighbour hits both.
local floor, ours = {}, {}
for round = 1, ROUNDS do
  bench.sh("mkdir -p " .. dir .. "/floor-" .. round)
  floor[round] = tonumber(bench.sh(bench.floor .. " local " .. N .. " " .. dir .. "/floor-" .. round))
  ours[round] = N / bench.time(function()
    for _ = 1, N do cijoe.run("true") end
  end)
end
local rate, floor_rate = bench.median(ours), bench.median(floor)
local raw = tonumber(bench.sh(bench.spawn .. " " .. N):match("^(%S+)"))
bench.row("local run", string.format("%.0f cmd/s", rate), string.format("C, same files %.0f/s", floor_rate),
  rate / floor_rate, ">= 0.90 (raw spawn " .. math.floor(raw) .. "/s)", rate / floor_rate >= 0.9)

-- Start-up: a one-command script from start to exit against a C program started as
-- often that makes the same files of a run; joe's peak RSS.
bench.write(dir .. "/one.lua", 'cijoe.run("true")\n')
local startup = bench.sh(bench.spawn .. " 200 " .. bench.joe .. " -q one.lua", { cwd = dir })
local runs_per_s, rss_kb = startup:match("^(%S+) (%S+)")
bench.sh("mkdir -p " .. dir .. "/starts")
local c_runs = bench.sh(bench.spawn .. " 200 " .. bench.floor .. " startup 1 " .. dir .. "/starts/x" ..
  " 2>/dev/null || true", { cwd = dir })
local ms = 1000 / tonumber(runs_per_s)
local c_ms = 1000 / tonumber(c_runs:match("^(%S+)") or 1)
bench.row("start-up", string.format("%.1f ms, %.1f MB", ms, rss_kb / 1024),
  string.format("C process, same files %.1f ms", c_ms), c_ms / ms, "< 10 ms, < 8 MB RSS",
  ms < 10 and rss_kb / 1024 < 8)

-- 1 GiB on stdout and stderr: every byte logged, joe's memory flat; the reference moves
-- the same bytes through a pipe into a file with cat, measured first.
local BIG = "head -c 536870912 /dev/zero & head -c 536870912 /dev/zero >&2; wait"
local ref_secs = bench.time(function() bench.sh("{ " .. BIG .. "; } 2>&1 | cat > ref.out; rm ref.out", { cwd = dir }) end)
bench.write(dir .. "/big.lua", string.format("local err = cijoe.run(%q)\nassert(err == 0)\n", BIG))
local big = bench.sh(bench.spawn .. " 1 " .. bench.joe .. " -q -o out big.lua", { cwd = dir })
local big_rate, big_rss = big:match("^(%S+) (%S+)")
local logged = tonumber(bench.sh("stat -c %s out/001_big/cmd_01.output", { cwd = dir }))
bench.row("1 GiB output", string.format("%.1f s, %.1f MB", 1 / big_rate, big_rss / 1024),
  string.format("pipe, cat into a file %.1f s", ref_secs), ref_secs * big_rate,
  "every byte, < 8 MB RSS", logged == 1073741824 and big_rss / 1024 < 8)

-- A workflow of n steps of one `true` each: seconds per step, and bytes of the run's
-- records (everything but the commands' own files and the reports).
local function steps_run(n)
  local lines = {}
  for i = 1, n do lines[i] = string.format('step("s%d", function() return cijoe.run("true") end)', i) end
  bench.write(dir .. "/steps.lua", table.concat(lines, "\n"))
  local out = "steps-" .. n
  local secs = bench.time(function() bench.sh(bench.joe .. " -q -o " .. out .. " steps.lua", { cwd = dir }) end)
  local bytes = tonumber(bench.sh("cat " .. out .. "/journal.yml " .. out .. "/workflow.state | wc -c", { cwd = dir }))
  return secs / n, bytes
end
local per10 = steps_run(10)
local per1000, records = steps_run(1000)
bench.row("1,000 steps", string.format("%.2f ms/step, %.1f MB", per1000 * 1000, records / 2 ^ 20),
  string.format("10 steps %.2f ms/step", per10 * 1000), per10 / per1000, "records < 3 MB, >= 0.83",
  records < 3 * 2 ^ 20 and per10 / per1000 >= 0.83)

-- Peak RSS of a script running n commands: flat in n.
local function rss_of(n)
  bench.write(dir .. "/many.lua", string.format('for _ = 1, %d do cijoe.run("true") end\n', n))
  local out = bench.sh(bench.spawn .. " 1 " .. bench.joe .. " -q many.lua", { cwd = dir })
  return tonumber(out:match("^%S+ (%S+)")) / 1024
end
local small, large = rss_of(1000), rss_of(50000)
bench.row("memory", string.format("50,000 cmds %.1f MB", large), string.format("1,000 cmds %.1f MB", small),
  small / large, "within 4 MB", large - small < 4)
bench.sh("rm -rf " .. dir)

return bench.finish()
