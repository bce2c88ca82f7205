-- `joe report` on a big run: 1,000 steps and 10,000 commands (issue 18: under 1 s, a
-- report under 5 MB), and the peak memory (RSS) at 1k, 10k and 50k commands, whose slope
-- must be flat: the report streams the journal a step at a time. The runs are written as
-- a real run writes them (journal lines as run.lua's, cmd_NN.output and .state files),
-- which takes seconds, where running 50,000 commands would take minutes.
local bench = require("bench")

-- One run of `steps` steps and `cmds` commands in dir, each command printing 3 lines,
-- every 100th of them failing.
local function make_run(dir, steps, cmds)
  bench.sh("rm -rf " .. dir .. " && mkdir -p " .. dir)
  local journal = assert(io.open(dir .. "/journal.yml", "wb"))
  local t = 1.7e9
  journal:write(string.format('- {"begin": %.3f, "ev": "run", "kind": "workflow", '
    .. '"name": "big", "script": "big.lua"}\n', t))
  for n = 1, steps do
    journal:write(string.format('- {"ev": "step", "n": %d, "name": "s%d", "status": '
      .. '"pending"}\n', n, n))
  end
  local per, extra, failed = cmds // steps, cmds % steps, 0
  for n = 1, steps do
    local folder = string.format("%03d_s%d", n, n)
    bench.sh("mkdir -p " .. dir .. "/" .. folder)
    journal:write(string.format('- {"begin": %.3f, "ev": "begin", "n": %d, "name": "s%d"}\n',
      t + n, n, n))
    local status = "passed"
    for c = 1, per + (n <= extra and 1 or 0) do
      local log = string.format("%s/cmd_%02d", folder, c)
      local err = (n * 1000 + c) % 100 == 0 and 1 or 0
      if err ~= 0 then status, failed = "failed", failed + 1 end
      journal:write(string.format('- {"cmd": "make -C src/part%d all", "elapsed": 0.012, '
        .. '"err": %d, "ev": "cmd", "log": "%s.output", "n": %d, "transport": "local"}\n',
        c, err, log, n))
      bench.write(dir .. "/" .. log .. ".output", string.format(
        "building part %d\ncc -O2 -c part%d.c\nlinked part%d.o\n", c, c, c))
      bench.write(dir .. "/" .. log .. ".state", string.format("cmd: make -C src/part%d all\n"
        .. "err: %d\nelapsed: 0.012\ntransport: local\n", c, err))
    end
    journal:write(string.format('- {"elapsed": 0.5, "ev": "end", "n": %d, "status": "%s"}\n',
      n, status))
  end
  journal:write('- {"elapsed": 500.0, "ev": "finish", "status": "failed"}\n')
  journal:close()
  bench.write(dir .. "/config.orig", "cijoe:\n  run:\n    env: {LC_ALL: C}\n")
end

-- Run `joe report DIR` the way a user does; returns seconds and the peak RSS in MB.
local function report(dir)
  local out = bench.tmpdir()
  local seconds = bench.time(function()
    -- the run made here fails (one command in 100 does): joe report says so with status 1
    cijoe.run_local(string.format("/usr/bin/time -f %%M -o %s/rss %s -q report %s; test $? = 1",
      out, bench.joe, dir))
  end)
  local f = assert(io.open(out .. "/rss", "rb"))
  local kb = tonumber(f:read("a"):match("(%d+)%s*$"))
  f:close()
  bench.sh("rm -rf " .. out)
  return seconds, kb / 1024
end

-- The size of a file in bytes.
local function size(path)
  local f = assert(io.open(path, "rb"))
  local n = f:seek("end")
  f:close()
  return n
end

local dir = bench.tmpdir()
make_run(dir .. "/run", 1000, 10000)
local times = {}
for i = 1, 3 do times[i] = report(dir .. "/run") end
local seconds = bench.median(times)
local bytes = size(dir .. "/run/report.html")
bench.row("report 10k", string.format("%.2f s, %.1f MB", seconds, bytes / 1e6),
  "1,000 steps, 10,000 commands", 1 / seconds, "< 1 s, < 5 MB", seconds < 1 and bytes < 5e6)
local rss = {}
for i, n in ipairs({ 1000, 10000, 50000 }) do
  make_run(dir .. "/run", 1000, n)
  rss[i] = select(2, report(dir .. "/run"))
end
local slope = (rss[3] - rss[1]) / 49 -- MB per 1,000 commands
bench.row("report RSS", string.format("%.1f/%.1f/%.1f MB", rss[1], rss[2], rss[3]),
  "at 1k/10k/50k commands", 1, string.format("slope %.3f MB/1k cmds", slope), slope < 0.1)
bench.sh("rm -rf " .. dir)
return bench.finish()
