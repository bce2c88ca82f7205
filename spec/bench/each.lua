-- Fan-out's speed target: a 10-command workflow on 50 targets (transports to one sshd on
-- loopback) against the same workflow on one target, in the same run; and the peak memory
-- of all joe processes together. Two workflows: commands that take time as they do on
-- real targets (sleep 0.2), and `true`, where all 50 "targets" share this machine's CPUs.
local bench = require("bench")
package.path = bench.root .. "/spec/?.lua;" .. package.path
local sshd = require("sshd")

local server = sshd.start()
local dir = bench.tmpdir()
local names = {}
for i = 1, 50 do names[i] = string.format("t%02d", i) end
local f = assert(io.open(dir .. "/each.yaml", "wb"))
f:write(server:config(names))
f:close()

-- Time a joe run in dir, sampling the memory of all joe processes together (the sum of
-- their proportional set sizes: pages the forked children share count once); returns
-- seconds and the peak in MB.
local function timed(args)
  bench.sh("rm -f rss; (while :; do for p in $(pgrep -x joe); do awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null; done | awk '{s+=$1} END {print s+0}' >> rss; sleep 0.05; done) & echo $! > sampler", { cwd = dir })
  local seconds = bench.time(function() bench.sh(bench.joe .. " -q -c each.yaml " .. args, { cwd = dir }) end)
  bench.sh("kill $(cat sampler)", { cwd = dir })
  local peak = 0
  for line in io.lines(dir .. "/rss") do peak = math.max(peak, tonumber(line) or 0) end
  return seconds, peak / 1024
end

for _, body in ipairs({ "sleep 0.2", "true" }) do
  local lines = {}
  for i = 1, 10 do lines[i] = string.format('step("c%d", function() return cijoe.run(%q) end)', i, body) end
  local wf = assert(io.open(dir .. "/wf.lua", "wb"))
  wf:write(table.concat(lines, "\n"))
  wf:close()
  local ones = {}
  for i = 1, 3 do ones[i] = timed("wf.lua") end
  local one = bench.median(ones)
  local many, peak = timed("--each all wf.lua")
  local ratio = many / one
  bench.row("each " .. body, string.format("50 targets %.2f s, %.0f MB", many, peak),
    string.format("1 target %.2f s", one), ratio, body == "true" and "shown only (2 CPUs)" or "< 3 (50 vs 1)",
    body == "true" or ratio < 3)
end

server:kill_all()
bench.sh("rm -rf " .. dir)
return bench.finish()
