-- Jump hosts for tests in which the target cannot be reached directly: network namespaces
-- joined by veth pairs, a real sshd (spec/sshd.lua) in each, so that this machine reaches
-- jump 1 only, each jump the next host only, and only the last jump the target. See
-- spec/README.md for the layout. Needs root (ip netns).
local h = require("helper")
local sshd = require("sshd")

local jumphosts = {}

-- Where runs claim their blocks of addresses (a file per block: the owner's pid and start
-- time).
local STATE = "/run/joe-jumphosts"
--- Blocks of 16 addresses in 198.18.0.0/15 (RFC 2544's benchmarking range, never routed).
jumphosts.BLOCKS = 8192

-- Address n (0-15) of block b.
local function address(b, n)
  local v = (198 << 24 | 18 << 16) + b * 16 + n
  return string.format("%d.%d.%d.%d", v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255)
end

-- The namespaces of block b: jump 1 ("a", it is also the claim of the block), jump 2, target.
local function ns(b, role)
  return "joejh" .. b .. role
end

-- This joe process: its pid (the parent of the shell h.sh starts) and "pid start-time"
-- (/proc/pid/stat's 22nd field), which a later process with the same pid does not have.
local function joe_id()
  local pid = h.sh("echo $PPID"):match("%d+")
  local after_comm = (h.read("/proc/" .. pid .. "/stat") or ""):match("^.*%) (.*)$") or ""
  local fields = {}
  for word in after_comm:gmatch("%S+") do fields[#fields + 1] = word end
  return pid, pid .. " " .. (fields[20] or "?")
end

-- Shell that takes down everything of block $1: the processes in its namespaces, the
-- namespaces (jump 1's, the claim, last), the route, the veth on this side, the pid file.
local DESTROY = [[destroy() {
  for n in joejh${1}t joejh${1}b joejh${1}a; do
    pids=$(ip netns pids $n 2>/dev/null); [ -n "$pids" ] && kill -KILL $pids
  done
  ip netns del joejh${1}t 2>/dev/null; ip netns del joejh${1}b 2>/dev/null
  v=$((3323068416 + $1 * 16))
  ip route del unreachable $((v >> 24)).$((v >> 16 & 255)).$((v >> 8 & 255)).$((v & 255))/28 \
    2>/dev/null
  ip link del jh${1}h 2>/dev/null
  rm -f ]] .. STATE .. [[/$1.pid; ip netns del joejh${1}a 2>/dev/null; true
}
]]

-- Take down the blocks of runs that died without stopping (their owner is gone or a
-- zombie, or never wrote its pid and the claim is over a minute old). The reaper of a block holds
-- STATE/b.reap, and looks again once it holds it.
local function reap_stale()
  h.sh(DESTROY .. [[stale() {
    block=$1; owner=$(cat ]] .. STATE .. [[/$1.pid 2>/dev/null)
    if [ -n "$owner" ]; then
      set -- $owner
      now=$(sed 's/^.*) //' /proc/$1/stat 2>/dev/null | awk '$1 != "Z" { print $20 }')
      [ -z "$now" ] || [ "$now" != "$2" ]; return
    fi
    [ $(( $(date +%s) - $(stat -c %Y /run/netns/joejh${block}a) )) -gt 60 ]
  }
  find ]] .. STATE .. [[ -maxdepth 1 -name '*.reap' -mmin +5 -exec rmdir {} + 2>/dev/null
  for n in $(ip netns list | grep -o '^joejh[0-9]*a'); do
    b=${n#joejh}; b=${b%a}
    stale $b && mkdir ]] .. STATE .. [[/$b.reap 2>/dev/null || continue
    stale $b && destroy $b
    rmdir ]] .. STATE .. [[/$b.reap
  done]])
end

-- Claim a free block: its jump-1 namespace is made only once (ip netns add fails when it
-- exists), so two runs never get the same block. Starts from this process's pid.
local function claim()
  h.sh("mkdir -p " .. STATE)
  local pid, id = joe_id()
  for k = 0, jumphosts.BLOCKS - 1 do
    local b = (tonumber(pid) + k) % jumphosts.BLOCKS
    local _, status = h.sh("ip netns add " .. ns(b, "a") .. " 2>/dev/null")
    if status == 0 then
      h.write(STATE .. "/" .. b .. ".pid", id)
      return b
    end
  end
  error("jumphosts: no free block of addresses in 198.18.0.0/15")
end

-- Join namespaces from and to (nil: this machine) with a veth pair and addresses.
local function link(from, from_dev, from_addr, to, to_dev, to_addr)
  local at = from and "ip -n " .. from .. " " or "ip "
  local there = "ip -n " .. to .. " "
  local out, status = h.sh(table.concat({
    at .. "link add " .. from_dev .. " type veth peer name " .. to_dev .. " netns " .. to,
    at .. "addr add " .. from_addr .. "/30 dev " .. from_dev,
    at .. "link set " .. from_dev .. " up", there .. "addr add " .. to_addr .. "/30 dev " .. to_dev,
    there .. "link set " .. to_dev .. " up", there .. "link set lo up" }, " && "))
  assert(status == 0, "jumphosts: cannot link " .. tostring(from) .. " to " .. to .. ": " .. out)
end

-- The namespaces and links of block b for hops jumps; returns the hosts, first jump first:
-- {name =, ns =, address = (its own, which the host before it dials), from = (the other
-- end of that link: where it sees connections come from)}.
local function build(b, hops)
  local roles = hops == 1 and { "a", "t" } or { "a", "b", "t" }
  for i = 2, #roles do
    local out, status = h.sh("ip netns add " .. ns(b, roles[i]))
    assert(status == 0, "jumphosts: " .. out)
  end
  local hosts, prev = {}, nil
  for i, role in ipairs(roles) do
    local near, far = address(b, 4 * (i - 1) + 1), address(b, 4 * (i - 1) + 2)
    link(prev and ns(b, prev), "jh" .. b .. (prev and prev .. i or "h"), near, ns(b, role),
      "jh" .. b .. role .. i, far)
    hosts[i] = { ns = ns(b, role), address = far, from = near,
      name = (role == "t" and "joe-target-" or "joe-jump" .. i .. "-") .. b }
    prev = role
  end
  local out, status = h.sh("ip route add unreachable " .. address(b, 0) .. "/28")
  assert(status == 0, "jumphosts: " .. out)
  return hosts
end

local Fixture = {}
Fixture.__index = Fixture

--- Write an ssh_config with aliases jump1 [jump2] target (each going through the ones
--- before it) and the key, known_hosts and strict checking for all; returns path.
function Fixture:ssh_config(path)
  local lines, prev = { "# spec/jumphosts.lua, block " .. self.block }, nil
  for i, host in ipairs(self.hosts) do
    local alias = host == self.target and "target" or "jump" .. i
    lines[#lines + 1] = "Host " .. alias .. "\n  HostName " .. host.host
    if prev then lines[#lines + 1] = "  ProxyJump " .. prev end
    prev = alias
  end
  lines[#lines + 1] = table.concat({ "Host *", "  User " .. sshd.user, "  Port 22",
    "  IdentityFile " .. self.key, "  IdentitiesOnly yes",
    "  UserKnownHostsFile " .. self.known_hosts,
    "  GlobalKnownHostsFile /dev/null", "  StrictHostKeyChecking yes", "  BatchMode yes",
    "  ConnectTimeout 5" }, "\n")
  return h.write(path, table.concat(lines, "\n") .. "\n")
end

--- Stop every sshd and take the namespaces, links and route of the fixture down.
function Fixture:stop()
  if self.stopped then return end
  self.stopped = true
  for _, host in ipairs(self.hosts) do
    if host.server then host.server:kill_all() end
  end
  h.sh(DESTROY .. "destroy " .. self.block)
end
Fixture.__gc = Fixture.stop

-- Start the sshds of the hosts: one client key and one known_hosts file for all.
local function serve(f)
  local known = {}
  for _, host in ipairs(f.hosts) do
    host.server = sshd.start({ netns = host.ns, address = host.address, port = 22,
      uts_name = host.name, client_key = f.key })
    host.host, host.port, host.user = host.address, 22, sshd.user
    host.key, host.known_hosts = f.key, host.server.dir .. "/known_hosts"
    known[#known + 1] = h.read(host.known_hosts)
  end
  h.write(f.known_hosts, table.concat(known))
end

--- Start jump hosts: opts.hops is 1 or 2. Returns the fixture: {jumps = {host...},
--- target = host, hosts = jumps and target, block =, network = (its /28), key =,
--- known_hosts =,
--- ssh_config(path), stop()}, where a host is {host =, port =, user =, key =,
--- known_hosts =, name = (its hostname), from = (the address it sees the previous host
--- come from), ns =, server = (its spec/sshd.lua fixture)}.
function jumphosts.start(opts)
  local hops = opts and opts.hops or 1
  assert(hops == 1 or hops == 2, "jumphosts.start: hops must be 1 or 2")
  assert(h.sh("id -u") == "0\n", "jumphosts: network namespaces need root")
  reap_stale()
  local b = claim()
  local f = setmetatable({ block = b, dir = h.tmpdir(), network = address(b, 0) .. "/28" },
    Fixture)
  local ok, err = pcall(function()
    f.hosts = build(b, hops)
    f.key, f.known_hosts = f.dir .. "/id_ed25519", f.dir .. "/known_hosts"
    h.sh("ssh-keygen -q -t ed25519 -N '' -f " .. f.key)
    serve(f)
  end)
  f.hosts = f.hosts or {}
  if not ok then f:stop(); error(err, 0) end
  f.target = f.hosts[#f.hosts]
  f.jumps = { table.unpack(f.hosts, 1, #f.hosts - 1) }
  return f
end

return jumphosts
