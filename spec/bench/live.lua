-- The live display's cost (issue 19): the local command rate of a step of 10,000
-- cijoe.run("true") with stdout a pseudo-terminal (util-linux `script`; the live
-- display runs, redrawing ten times a second) against the same with stdout a file (no
-- display). Rounds alternate so that a noisy neighbour hits both alike; the medians are
-- compared. Target: the display costs under 1% of the rate. On a shared two-core machine
-- the display's own work (on the other core) competes with neighbours, so a second row
-- measures what the run itself pays: the two notices a command sends (console.command
-- to a pipe), against the time of a command at the rate measured.
local bench = require("bench")

local ROUNDS, N = 5, 10000
local dir = bench.tmpdir()
bench.write(dir .. "/loop.lua", string.format([[
local proc = require("cijoe.proc")
step("loop", function()
  local t0 = proc.now()
  for _ = 1, %d do cijoe.run("true") end
  local f = assert(io.open(os.getenv("RATE_FILE"), "w"))
  f:write(%d / (proc.now() - t0), "\n")
  f:close()
end)
]], N, N))

-- The rate of one run of loop.lua, with stdout a terminal (tty = true) or a file.
local function rate(round, tty)
  local out, file = "out-" .. round .. (tty and "-tty" or "-file"), dir .. "/rate"
  local cmd = string.format("env TERM=xterm RATE_FILE=%s %s -o %s loop.lua", file, bench.joe, out)
  -- 120 columns, so that the live line holds the whole command (script's terminal has no
  -- size, with stdin not one, and joe takes it for 80 columns then)
  if tty then cmd = "script -qfec " .. string.format("%q", "stty cols 120 rows 40; " .. cmd)
    .. " /dev/null" end
  bench.sh(cmd .. " >screen 2>&1 </dev/null", { cwd = dir })
  local f = assert(io.open(file))
  local value = tonumber(f:read("l"))
  f:close()
  f = assert(io.open(dir .. "/screen", "rb"))
  local drawn = f:read("a"):find("[local] $ true", 1, true) ~= nil
  f:close()
  assert(drawn == tty, "the live display ran where it should not, or did not run")
  bench.sh("rm -rf " .. out, { cwd = dir })
  return value
end

local plain, live = {}, {}
for round = 1, ROUNDS do
  plain[round] = rate(round, false)
  live[round] = rate(round, true)
end
local p, l = bench.median(plain), bench.median(live)
bench.row("live display", string.format("%.0f cmd/s (%+.1f%%)", l, (l / p - 1) * 100),
  string.format("stdout a file %.0f/s", p),
  l / p, ">= 0.99 (under 1%)", l / p >= 0.99)

-- The run's own cost: a command's two notices, written to a pipe as the worker does.
bench.write(dir .. "/notices.lua", [[
local console, proc = require("cijoe.console"), require("cijoe.proc")
console.live, console.token = true, "0123456789abcdef"
io.stdout:setvbuf("line")
local t0 = os.clock()
for _ = 1, 100000 do console.command("local", "true") console.command() end
io.stderr:write((os.clock() - t0) / 100000, "\n")
]])
local costs = {}
for round = 1, ROUNDS do
  bench.sh(bench.joe .. " -q -o notices-" .. round .. " notices.lua 2>cost | cat >/dev/null",
    { cwd = dir })
  local f = assert(io.open(dir .. "/cost"))
  costs[round] = tonumber(f:read("l"))
  f:close()
end
local cost = bench.median(costs)
bench.row("live notices", string.format("%.1f us/cmd", cost * 1e6),
  string.format("a command at %.0f/s: %.0f us", p, 1e6 / p), 1 / (cost * p),
  "< 1% of a command", cost * p < 0.01)
bench.sh("rm -rf " .. dir)

return bench.finish()
