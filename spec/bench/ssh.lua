-- The SSH transport's speed targets, against OpenSSH measured in the same run on the
-- same sshd: cijoe.run("true") over one session with logging against `ssh true` through
-- a ControlMaster, and put/get of a 256 MiB file against OpenSSH's sftp.
local bench = require("bench")
local output = require("cijoe.output")
package.path = bench.root .. "/spec/?.lua;" .. package.path
local sshd = require("sshd")

local server = sshd.start()
local dir = bench.tmpdir()
local key, known = server.dir .. "/id_ed25519", server.dir .. "/known_hosts"
local ssh_opts = string.format("-i %s -p %d -o UserKnownHostsFile=%s -o BatchMode=yes -o ControlPath=%s/cm",
  key, server.port, known, dir)
local login = "joetest@127.0.0.1"

-- Use the fixture as the default transport of this run.
cijoe.config.cijoe.transport = { target = { hostname = "127.0.0.1", port = server.port,
  username = "joetest", key_filename = key, known_hosts = known } }
cijoe.default = "target"

local ROUNDS, N, N_REF = 5, 400, 60
bench.sh("ssh " .. ssh_opts .. " -o ControlMaster=yes -o ControlPersist=600 -fN " .. login)
local ours, ref = {}, {}
for round = 1, ROUNDS do
  output.begin_step("ssh_round_" .. round)
  ours[round] = N / bench.time(function()
    for _ = 1, N do assert(cijoe.run("true") == 0) end
  end)
  ref[round] = N_REF / bench.time(function()
    bench.sh(string.format("for i in $(seq %d); do ssh %s %s true; done", N_REF, ssh_opts, login))
  end)
end
bench.sh("ssh " .. ssh_opts .. " -O exit " .. login .. " 2>/dev/null || true")
local rate, ref_rate = bench.median(ours), bench.median(ref)
bench.row("ssh run", string.format("%.0f cmd/s", rate), string.format("ssh via ControlMaster %.0f/s", ref_rate),
  rate / ref_rate, ">= 400/s, >= 3.0", rate >= 400 and rate / ref_rate >= 3)

-- Transfers: the same file both ways, joe and sftp alternating.
local big, size = dir .. "/big", 256 * 1024 * 1024
bench.sh("head -c " .. size .. " /dev/urandom > " .. big)
local sftp = "sftp -q " .. ssh_opts:gsub("%-p ", "-P ") .. " -b - " .. login
local times = { put = {}, get = {}, sftp_put = {}, sftp_get = {} }
for _ = 1, 5 do -- medians of 5: the disk writes back between transfers
  table.insert(times.put, bench.time(function() assert(cijoe.put(big, "/tmp/joe-bench-big")) end))
  table.insert(times.sftp_put, bench.time(function() bench.sh("echo 'put " .. big .. " /tmp/joe-bench-big2' | " .. sftp) end))
  table.insert(times.get, bench.time(function() assert(cijoe.get("/tmp/joe-bench-big", dir .. "/back")) end))
  table.insert(times.sftp_get, bench.time(function() bench.sh("echo 'get /tmp/joe-bench-big2 " .. dir .. "/back2' | " .. sftp) end))
end
bench.sh("cmp " .. big .. " " .. dir .. "/back")
cijoe.run("rm -f /tmp/joe-bench-big /tmp/joe-bench-big2")
for _, way in ipairs({ "put", "get" }) do
  local mbs = size / 2 ^ 20 / bench.median(times[way])
  local ref_mbs = size / 2 ^ 20 / bench.median(times["sftp_" .. way])
  bench.row("ssh " .. way, string.format("%.0f MiB/s", mbs), string.format("OpenSSH sftp %.0f MiB/s", ref_mbs),
    mbs / ref_mbs, ">= 0.90", mbs / ref_mbs >= 0.9)
end

cijoe.close_transports()
server:kill_all()
bench.sh("rm -rf " .. dir)
return bench.finish()
