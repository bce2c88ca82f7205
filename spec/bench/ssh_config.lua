-- What reading ~/.ssh/config adds to joe's start-up: cijoe.ssh_config.resolve on a
-- 1,000-line config (Host blocks with wildcards, comments, quoted values, an Include),
-- for an alias that only the last block names, so that every line is read and checked.
-- Cold: the modules are loaded afresh before each read, so no cache of theirs helps.
-- Next to it, `ssh -G` on the same file (a whole OpenSSH process, for scale).
local bench = require("bench")
local ssh_config = require("cijoe.ssh_config")

local dir = bench.tmpdir()

-- A config of about n lines, as people write them.
local function config(n)
  local lines = { "# generated for the benchmark", "IgnoreUnknown UseKeychain",
    "Include " .. dir .. "/conf.d/*.conf", "" }
  local i = 0
  while #lines < n - 8 do
    i = i + 1
    lines[#lines + 1] = string.format("Host lab%d lab%d.example.org !lab%d-old", i, i, i)
    lines[#lines + 1] = string.format("  HostName 10.%d.%d.%d", i // 65536, i // 256 % 256, i % 256)
    lines[#lines + 1] = "  User deploy"
    lines[#lines + 1] = string.format("  Port %d", 2000 + i % 1000)
    lines[#lines + 1] = '  IdentityFile "~/.ssh/id_lab %h"'
    lines[#lines + 1] = "  ServerAliveInterval=30 # keep NAT alive"
    lines[#lines + 1] = ""
  end
  for _, line in ipairs({ "Host target", "  HostName target.example.org", "  User me",
    "  ProxyJump jump@gw.example.org:2222", "Host *", "  ConnectTimeout 10",
    "  StrictHostKeyChecking accept-new", "  UserKnownHostsFile ~/.ssh/known_hosts" }) do
    lines[#lines + 1] = line
  end
  return table.concat(lines, "\n") .. "\n", #lines
end

bench.sh("mkdir -p " .. dir .. "/conf.d")
bench.write(dir .. "/conf.d/a.conf", "Host inc\n  User inc\n")
local text, count = config(1000)
local file = dir .. "/config"
bench.write(file, text)
assert(ssh_config.resolve("target", { file = file }).proxy_jump == "jump@gw.example.org:2222")

-- A cold read, as at joe's start-up: the modules loaded afresh (their caches empty), then
-- one resolve. Returns the seconds of each.
local MODULES = { "cijoe.ssh_config", "cijoe.ssh_keywords", "cijoe.ssh_resolve",
  "cijoe.ssh_syntax" }
local function cold_resolve()
  for _, name in ipairs(MODULES) do package.loaded[name] = nil end
  local load = bench.time(function() ssh_config = require("cijoe.ssh_config") end)
  return bench.time(function() assert(ssh_config.resolve("target", { file = file })) end), load
end

local ROUNDS, N = 9, 25
local ours, loads, ref = {}, {}, {}
for round = 1, ROUNDS do
  local times = {}
  for i = 1, N do times[i], loads[#loads + 1] = cold_resolve() end
  ours[round] = bench.median(times)
  ref[round] = bench.time(function()
    bench.sh("for i in 1 2 3 4 5 6 7 8 9 10; do ssh -G -F " .. file .. " target >/dev/null; done")
  end) / 10
end
local ms, ref_ms = bench.median(ours) * 1000, bench.median(ref) * 1000
bench.row("ssh_config", string.format("%.2f ms/%d lines", ms, count),
  string.format("ssh -G (a process) %.1f ms", ref_ms), ref_ms / ms, "< 1 ms", ms < 1)
print(string.format("  (loading the four modules, once per process: %.2f ms more)",
  bench.median(loads) * 1000))
bench.sh("rm -rf " .. dir)
return bench.finish()
