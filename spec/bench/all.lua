-- Every benchmark in one run, so `make bench` prints one table and exits nonzero when any
-- target was missed: the runtime's (issue 2), the SSH transport's (issue 3), fan-out's
-- (issue 9) and reading ~/.ssh/config (cijoe.ssh_config).
local bench = require("bench")
local here = bench.root .. "/spec/bench/"
dofile(here .. "local.lua")
dofile(here .. "ssh.lua")
dofile(here .. "each.lua")
dofile(here .. "ssh_config.lua")
return bench.finish()
