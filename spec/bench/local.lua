-- The runtime's speed targets: cijoe.run("true") with logging against raw posix_spawn of
-- `sh -c true` in the same run; joe's start-up time and peak RSS for a one-command
-- script; a command writing 1 GiB to stdout and stderr logged whole with flat memory.
local bench = require("bench")
local output = require("cijoe.output")

local ROUNDS, N = 9, 1000

-- Alternate reference and joe in rounds and compare medians, so a noisy neighbour hits
-- both alike.
local ref, ours = {}, {}
for round = 1, ROUNDS do
  ref[round] = tonumber(bench.sh(bench.spawn .. " " .. N):match("^(%S+)"))
  output.begin_step("round_" .. round) -- a step of N commands, as workflows have them
  ours[round] = N / bench.time(function()
    for _ = 1, N do cijoe.run("true") end
  end)
end
local rate, ref_rate = bench.median(ours), bench.median(ref)
bench.report("local run", string.format("joe %.0f/s, posix_spawn %.0f/s, ratio %.2f (targets: >= 1100/s, >= 0.80)",
  rate, ref_rate, rate / ref_rate), rate >= 1100 and rate / ref_rate >= 0.8)

local dir = bench.tmpdir()
bench.sh("printf 'cijoe.run(\"true\")\\n' > one.lua", { cwd = dir })
local startup = bench.sh(bench.spawn .. " 200 " .. bench.joe .. " -q one.lua", { cwd = dir })
local runs_per_s, rss_kb = startup:match("^(%S+) (%S+)")
local ms = 1000 / tonumber(runs_per_s)
bench.report("start-up", string.format("%.1f ms per one-command script, peak RSS %.1f MB (targets: < 10 ms, < 8 MB)",
  ms, rss_kb / 1024), ms < 10 and rss_kb / 1024 < 8)

bench.sh([[printf 'local err = cijoe.run("head -c 536870912 /dev/zero & head -c 536870912 /dev/zero >&2; wait")\nassert(err == 0)\n' > big.lua]], { cwd = dir })
local big = bench.sh(bench.spawn .. " 1 " .. bench.joe .. " -q -o out big.lua", { cwd = dir })
local big_rate, big_rss = big:match("^(%S+) (%S+)")
local logged = tonumber(bench.sh("stat -c %s out/001_big/cmd_01.output", { cwd = dir }))
bench.report("1 GiB output", string.format("%d bytes logged in %.1f s, joe's peak RSS %.1f MB (targets: all 1073741824, < 8 MB)",
  logged, 1 / big_rate, big_rss / 1024), logged == 1073741824 and big_rss / 1024 < 8)
bench.sh("rm -rf " .. dir)

return bench.finish()
