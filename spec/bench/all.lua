-- Every benchmark in one run, so `make bench` prints one table and exits nonzero when any
-- target was missed: the runtime's (issue 2), the SSH transport's (issue 3), fan-out's
-- (issue 9), reading ~/.ssh/config (cijoe.ssh_config), the live display (issue 19) and
-- joe report of a big run (issue 18).
local bench = require("bench")
local here = bench.root .. "/spec/bench/"
dofile(here .. "local.lua")
dofile(here .. "ssh.lua")
dofile(here .. "each.lua")
dofile(here .. "ssh_config.lua")
dofile(here .. "live.lua")
dofile(here .. "report.lua")
return bench.finish()
