-- The runtime's speed targets (issue 2): cijoe.run("true") with logging against raw
-- posix_spawn of `sh -c true` in the same run; joe's start-up time and peak RSS for a
-- one-command script, next to Python doing the same; a command writing 1 GiB to stdout
-- and stderr logged whole with flat memory, next to the shell writing it to a file.
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
bench.row("local run", string.format("%.0f cmd/s", rate), string.format("posix_spawn sh -c true %.0f/s", ref_rate),
  rate / ref_rate, ">= 1100/s, >= 0.80", rate >= 1100 and rate / ref_rate >= 0.8)

-- Start-up: a one-command script from start to exit, against Python (what CIJOE runs on)
-- starting and running the same command through the shell.
local dir = bench.tmpdir()
bench.write(dir .. "/one.lua", 'cijoe.run("true")\n')
local startup = bench.sh(bench.spawn .. " 200 " .. bench.joe .. " -q one.lua", { cwd = dir })
local runs_per_s, rss_kb = startup:match("^(%S+) (%S+)")
local py = bench.sh(bench.spawn .. " 50 /usr/bin/python3 -c 'import subprocess; subprocess.run(\"true\", shell=True)'")
local ms, py_ms = 1000 / tonumber(runs_per_s), 1000 / tonumber(py:match("^(%S+)"))
bench.row("start-up", string.format("%.1f ms, %.1f MB", ms, rss_kb / 1024), string.format("python3 + subprocess %.1f ms", py_ms),
  py_ms / ms, "< 10 ms, < 8 MB RSS", ms < 10 and rss_kb / 1024 < 8)

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
bench.sh("rm -rf " .. dir)

return bench.finish()
