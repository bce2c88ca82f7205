-- The SSH transport's speed targets, against references measured in the same run on the
-- same sshd: cijoe.run("true") over one session with logging against C doing the same
-- over one libssh2 session (spec/bench/floor.c) and against `ssh true` through a
-- ControlMaster; the same through one jump host (spec/jumphosts.lua) against `ssh -J`
-- with a ControlMaster; put/get of a 256 MiB file against OpenSSH's sftp; a tree of
-- 2,000 small files against `sftp -r` and a tar stream.
local bench = require("bench")
package.path = bench.root .. "/spec/?.lua;" .. package.path
local sshd = require("sshd")
local jumphosts = require("jumphosts")

local server = sshd.start()
local dir = bench.tmpdir()
local key, known = server.dir .. "/id_ed25519", server.dir .. "/known_hosts"
local ssh_opts = string.format("-F none -i %s -p %d -o UserKnownHostsFile=%s -o BatchMode=yes " ..
  "-o ControlPath=%s/cm", key, server.port, known, dir)
local login = "joetest@127.0.0.1"
local run = require("cijoe.run").current()

-- Use the fixture as the default transport of this run (and a jumped one beside it).
local jump = jumphosts.start({ hops = 1 })
local jump_config = jump:ssh_config(dir .. "/jump_config")
cijoe.config.cijoe.transport = { target = { hostname = "127.0.0.1", port = server.port,
  username = "joetest", key_filename = key, known_hosts = known, ssh_config = "none" },
  jumped = { hostname = "target", ssh_config = jump_config } }
run:set_default("target")

-- Commands per second of joe on transport name, and of a shell loop (n_ref commands).
local function rates(name, n, shell, n_ref)
  local ours, ref = {}, {}
  for round = 1, 5 do
    ours[round] = n / bench.time(function()
      for _ = 1, n do assert(cijoe.run("true", { transport = name }) == 0) end
    end)
    ref[round] = n_ref / bench.time(function() bench.sh(shell) end)
  end
  return bench.median(ours), bench.median(ref)
end

local N, N_REF = 400, 60
bench.sh("ssh " .. ssh_opts .. " -o ControlMaster=yes -o ControlPersist=600 -fN " .. login)
local rate, cm_rate = rates("target", N, string.format("for i in $(seq %d); do ssh %s %s true; done",
  N_REF, ssh_opts, login), N_REF)
bench.sh("ssh " .. ssh_opts .. " -O exit " .. login .. " 2>/dev/null || true")
bench.sh("mkdir -p " .. dir .. "/floor")
local floor = tonumber(bench.sh(string.format("%s ssh %d %s/floor 127.0.0.1 %d joetest %s", bench.floor,
  N, dir, server.port, key)))
bench.row("ssh run", string.format("%.0f cmd/s", rate), string.format("C, libssh2, same files %.0f/s", floor),
  rate / floor, ">= 0.90", rate / floor >= 0.9)
bench.row("ssh run", string.format("%.0f cmd/s", rate), string.format("ssh via ControlMaster %.0f/s", cm_rate),
  rate / cm_rate, ">= 400/s, >= 3.0", rate >= 400 and rate / cm_rate >= 3)

-- Through one jump host: against joe direct, and OpenSSH -J through a ControlMaster.
local jm = string.format("-F %s -o ControlPath=%s/jm", jump_config, dir)
bench.sh("ssh " .. jm .. " -o ControlMaster=yes -o ControlPersist=600 -fN target")
local jumped, jcm_rate = rates("jumped", N, string.format("for i in $(seq %d); do ssh %s target true; done",
  N_REF, jm), N_REF)
bench.sh("ssh " .. jm .. " -O exit target 2>/dev/null || true")
bench.row("ssh jump", string.format("%.0f cmd/s", jumped), string.format("joe direct %.0f/s", rate),
  jumped / rate, ">= 0.50", jumped / rate >= 0.5)
bench.row("ssh jump", string.format("%.0f cmd/s", jumped), string.format("ssh -J, ControlMaster %.0f/s", jcm_rate),
  jumped / jcm_rate, ">= 3.0", jumped / jcm_rate >= 3)
cijoe.close_transport("jumped")
jump:stop()

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

-- A tree of 2,000 files (13 MB, sizes from 100 B to 13 KB), both ways, against sftp -r
-- and tar through ssh, each the median of 3. Both ends in tmpfs: on this machine's disk
-- the writeback of the 256 MiB files above made any one of the three take 0.5 or 2 s
-- (the tar reference too), so the rows measured the disk, not the transfer.
local disk_dir = dir
dir = "/dev/shm/joe-bench-" .. require("cijoe.proc").pid()
bench.sh("mkdir -p " .. dir .. "/tree && cd " .. dir .. "/tree && for d in $(seq 40); do mkdir d$d; " ..
  "for f in $(seq 50); do head -c $(( (d * 50 + f) * 6 + 100 )) /dev/urandom > d$d/f$f; done; done")
local remote = dir .. "-remote"
local function tree_times(way)
  local t = { joe = {}, sftp = {}, tar = {} }
  for _ = 1, 3 do
    cijoe.run("rm -rf " .. remote .. "*")
    bench.sh("rm -rf " .. dir .. "/tree-back*")
    if way == "put" then
      table.insert(t.joe, bench.time(function() assert(cijoe.put(dir .. "/tree", remote)) end))
      table.insert(t.sftp, bench.time(function() bench.sh("echo 'put -r " .. dir .. "/tree " .. remote .. "2' | " .. sftp) end))
      table.insert(t.tar, bench.time(function() bench.sh("tar -C " .. dir .. "/tree -cf - . | ssh " ..
        ssh_opts .. " " .. login .. " 'mkdir -p " .. remote .. "3 && tar -C " .. remote .. "3 -xf -'") end))
    else
      assert(cijoe.put(dir .. "/tree", remote))
      table.insert(t.joe, bench.time(function() assert(cijoe.get(remote, dir .. "/tree-back")) end))
      table.insert(t.sftp, bench.time(function() bench.sh("echo 'get -r " .. remote .. " " .. dir .. "/tree-back2' | " .. sftp) end))
      table.insert(t.tar, bench.time(function() bench.sh("mkdir -p " .. dir .. "/tree-back3 && ssh " .. ssh_opts ..
        " " .. login .. " 'tar -C " .. remote .. " -cf - .' | tar -C " .. dir .. "/tree-back3 -xf -") end))
    end
  end
  return bench.median(t.joe), bench.median(t.sftp), bench.median(t.tar)
end
for _, way in ipairs({ "put", "get" }) do
  local ours, by_sftp, by_tar = tree_times(way)
  bench.row("tree " .. way, string.format("%.2f s", ours), string.format("sftp -r %.2f s, tar %.2f s", by_sftp, by_tar),
    by_sftp / ours, ">= 1.0 of sftp, 1.5 of tar", ours <= by_sftp and ours <= 1.5 * by_tar)
end
cijoe.run("rm -rf " .. remote .. "*")

cijoe.close_transports()
server:kill_all()
bench.sh("rm -rf " .. dir .. " " .. disk_dir)
return bench.finish()
