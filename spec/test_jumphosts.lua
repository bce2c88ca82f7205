-- The jump-host fixture (spec/jumphosts.lua) proven with OpenSSH itself: the target cannot
-- be reached directly, `ssh -J` through one and two hops runs a command on it, and the
-- host name and the addresses seen there say where it ran; stop() leaves nothing behind,
-- two fixtures live side by side, and one left by a crashed run is taken down.
local lu = require("luaunit")
local h = require("helper")
local jumphosts = require("jumphosts")

TestJumpHosts = {}

function TestJumpHosts:setUp()
  self.dir, self.fixtures = h.tmpdir(), {}
end

function TestJumpHosts:tearDown()
  for _, f in ipairs(self.fixtures) do f:stop() end
end

-- Start a fixture that tearDown stops, and its ssh_config.
function TestJumpHosts:start(hops)
  local f = jumphosts.start({ hops = hops })
  table.insert(self.fixtures, f)
  return f, f:ssh_config(self.dir .. "/ssh_config" .. #self.fixtures)
end

-- Run a command with ssh -F config; returns its output and exit status.
local function ssh(config, args)
  return h.sh("ssh -F " .. config .. " " .. args .. " </dev/null")
end

-- "hostname SSH_CONNECTION" on the target: where it ran and who came from where.
local WHERE = "'echo $(hostname) $SSH_CONNECTION'"

function TestJumpHosts:test_one_hop()
  local f, config = self:start(1)
  local jump, target = f.jumps[1], f.target
  lu.assertEquals(#f.jumps, 1)
  local out, status = ssh(config, "target " .. WHERE)
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out:gsub(" %d+ ", " PORT ", 1),
    target.name .. " " .. target.from .. " PORT " .. target.host .. " 22\n")
  lu.assertStrContains(h.sh("ip -n " .. jump.ns .. " -4 -o addr"), " " .. target.from .. "/30 ")
  out = ssh(config, "-J " .. jump.user .. "@" .. jump.host .. " " .. target.user .. "@"
    .. target.host .. " hostname")
  lu.assertEquals(out, target.name .. "\n")
  out, status = ssh(config, "jump1 " .. WHERE)
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, jump.name .. " " .. jump.from .. " ")
  out, status = ssh(config, "-o ProxyJump=none target true")
  lu.assertEquals(status, 255)
  lu.assertStrContains(out, "connect to host " .. target.host .. " port 22: No route to host")
end

function TestJumpHosts:test_two_hops()
  local f, config = self:start(2)
  local j1, j2, target = f.jumps[1], f.jumps[2], f.target
  local out, status = ssh(config, "target " .. WHERE)
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, target.name .. " " .. target.from .. " ")
  lu.assertStrContains(h.sh("ip -n " .. j2.ns .. " -4 -o addr"), " " .. target.from .. "/30 ")
  lu.assertStrContains(out, " " .. target.host .. " 22\n")
  out, status = ssh(config, "-J jump1,jump2 target hostname")
  lu.assertEquals({ out, status }, { target.name .. "\n", 0 })
  out, status = ssh(config, "jump2 " .. WHERE)
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(out, j2.name .. " " .. j2.from .. " ")
  lu.assertStrContains(h.sh("ip -n " .. j1.ns .. " -4 -o addr"), " " .. j2.from .. "/30 ")
  out, status = ssh(config, "-J jump1 target true")
  lu.assertEquals(status, 255, out)
  lu.assertStrContains(out, "open failed")
  out, status = ssh(config, "-o ProxyJump=none target true")
  lu.assertEquals(status, 255, out)
  lu.assertStrContains(out, "No route to host")
  out, status = ssh(config, "-o ProxyJump=none jump2 true")
  lu.assertEquals(status, 255, out)
end

-- Whether any of the processes pids (by spaces) is alive: killed ones may stay zombies of
-- joe, which reaps its own children only.
local function alive(pids)
  return h.sh("for p in " .. pids .. "; do grep -q '^State:.*[^Z] (' /proc/$p/status 2>/dev/null "
    .. "&& echo $p; done") ~= ""
end

-- What is left of a fixture: its namespaces, its veth, its route.
local function leftovers(f)
  return h.sh("ip netns list | grep -o '^joejh" .. f.block .. "[abt]'; ip -o link | grep -o ' jh"
    .. f.block .. "h'; ip route show type unreachable | grep -F " .. f.network .. "; true")
end

function TestJumpHosts:test_two_fixtures_side_by_side_and_stop_leaves_nothing()
  local one, config_one = self:start(1)
  local two, config_two = self:start(2)
  lu.assertNotEquals(one.block, two.block)
  lu.assertEquals(ssh(config_one, "target hostname"), one.target.name .. "\n")
  lu.assertEquals(ssh(config_two, "target hostname"), two.target.name .. "\n")
  local pids = h.sh("ip netns pids " .. two.target.ns):gsub("\n", " ")
  lu.assertNotEquals(pids, "")
  one:stop()
  two:stop()
  for _, f in ipairs({ one, two }) do
    lu.assertEquals(leftovers(f), "")
    lu.assertNil(h.read("/run/joe-jumphosts/" .. f.block .. ".pid"))
  end
  lu.assertFalse(alive(pids))
end

function TestJumpHosts:test_a_crashed_run_is_taken_down_and_its_block_reused()
  local b = tonumber(h.sh("echo $PPID"):match("%d+")) % jumphosts.BLOCKS
  local dead = h.sh("sh -c 'echo $$'"):match("%d+")
  local n = "joejh" .. b
  local _, status = h.sh("ip netns add " .. n .. "a && ip netns add " .. n .. "t && ip link add jh"
    .. b .. "h type veth peer name x netns " .. n .. "a && mkdir -p /run/joe-jumphosts && echo "
    .. dead .. " 12345 > /run/joe-jumphosts/" .. b .. ".pid")
  lu.assertEquals(status, 0, "block " .. b .. " is in use: cannot play a crashed run there")
  h.sh("ip netns exec " .. n .. "t sleep 600 </dev/null >/dev/null 2>&1 & sleep 0.2")
  local sleeper = h.sh("ip netns pids joejh" .. b .. "t"):match("%d+")
  lu.assertTrue(sleeper and alive(sleeper), "the crashed run's process did not start")
  local f, config = self:start(1)
  lu.assertEquals(f.block, b)
  lu.assertEquals(ssh(config, "target hostname"), f.target.name .. "\n")
  lu.assertFalse(alive(sleeper))
  lu.assertStrMatches(h.read("/run/joe-jumphosts/" .. b .. ".pid"),
    h.sh("echo $PPID"):match("%d+") .. " %d+")
end
