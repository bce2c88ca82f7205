-- A real OpenSSH sshd on 127.0.0.1 for tests and benchmarks: a free port, its own host
-- key, a test user whose shell is /bin/sh (root's startup files are slow), a client key,
-- a known_hosts file, and a joe config that points at it. Options put it elsewhere: in a
-- network namespace (netns) on an address and port of it, with a host name of its own
-- (uts_name, through unshare --uts) and a client key shared with other sshds (client_key);
-- spec/jumphosts.lua builds its chains of hosts with them.
local h = require("helper")

local sshd = { user = "joetest", password = "joe-test-pw" }

-- The test user exists, has /bin/sh and a known password.
local function ensure_user()
  h.sh("id " .. sshd.user .. " >/dev/null 2>&1 || useradd -m -s /bin/sh " .. sshd.user)
  h.sh("echo '" .. sshd.user .. ":" .. sshd.password .. "' | chpasswd")
end

-- A TCP port nothing listens on.
local function free_port()
  for _ = 1, 50 do
    local port = 20000 + math.random(30000)
    if h.sh("ss -Hltn 'sport = :" .. port .. "'") == "" then return port end
  end
  error("no free port")
end

-- The sshd_config of the fixture.
local function config(f)
  return table.concat({
    "Port " .. f.port, "ListenAddress " .. f.address, "HostKey " .. f.dir .. "/host_key",
    "PidFile " .. f.dir .. "/sshd.pid", "AuthorizedKeysFile " .. f.dir .. "/authorized_keys",
    "StrictModes no", "UsePAM no", "PasswordAuthentication yes", "KbdInteractiveAuthentication no",
    "PermitRootLogin no", "MaxStartups 500", "MaxSessions 500", "LogLevel " .. f.log_level,
    "Subsystem sftp " .. (f.subsystem or "/usr/lib/openssh/sftp-server"),
    f.force_command and "ForceCommand " .. f.force_command or "",
    table.concat(f.extra_config or {}, "\n"), "" }, "\n")
end

local Fixture = {}
Fixture.__index = Fixture

--- Start sshd (again, after stop or kill_all: same port, same host key).
function Fixture:start()
  h.sh("mkdir -p /run/sshd")
  local sshd_cmd = "/usr/sbin/sshd -f " .. self.dir .. "/sshd_config -E " .. self.dir
    .. "/sshd.log"
  if self.uts_name then
    sshd_cmd = "unshare --uts sh -c " .. h.q("hostname " .. self.uts_name .. " && exec " .. sshd_cmd)
  end
  local out, status = h.sh(self.exec .. sshd_cmd)
  assert(status == 0, "sshd did not start: " .. out)
  for _ = 1, 100 do
    if h.sh(self.exec .. "ss -Hltn 'sport = :" .. self.port .. "'") ~= "" then return self end
    h.sh("sleep 0.05")
  end
  error("sshd does not listen on " .. self.port)
end

--- Stop the listener; sessions already open go on.
function Fixture:stop()
  h.sh("kill $(cat " .. self.dir .. "/sshd.pid) 2>/dev/null; rm -f " .. self.dir .. "/sshd.pid")
end

--- Kill this sshd and everything it started (its sessions and their commands): the
--- target "dies". Only this fixture's processes: other runs may share the test user.
function Fixture:kill_all()
  h.sh(string.format([[pids="$(cat %s/sshd.pid 2>/dev/null) $(%sss -Htnp 'sport = :%d' | grep -o 'pid=[0-9]*' | cut -d= -f2)"
    all=""; while [ -n "$(echo $pids)" ]; do all="$all $pids"; pids=$(for p in $pids; do pgrep -P "$p"; done); done
    kill -KILL $all 2>/dev/null; rm -f %s/sshd.pid; true]], self.dir, self.exec, self.port, self.dir))
end

--- The pids of this sshd and everything it started (its sessions and their commands).
function Fixture:pids()
  local out = h.sh(string.format([[
    pids="$(cat %s/sshd.pid 2>/dev/null)
      $(%sss -Htnp 'sport = :%d' | grep -o 'pid=[0-9]*' | cut -d= -f2)"
    all=""
    while [ -n "$(echo $pids)" ]; do
      all="$all $pids"; pids=$(for p in $pids; do pgrep -P "$p"; done)
    done
    echo $all]], self.dir, self.exec, self.port))
  local pids = {}
  for pid in out:gmatch("%d+") do pids[#pids + 1] = pid end
  return pids
end

--- Send sig (STOP, CONT, ...) to this sshd and everything it started: STOP makes a
--- server that is there but never answers (a stalled host), CONT lets it go on.
function Fixture:signal(sig)
  local pids = self:pids()
  if #pids > 0 then h.sh("kill -" .. sig .. " " .. table.concat(pids, " ") .. " 2>/dev/null") end
  return #pids
end

--- A joe config with transports named in names (default {"target"}), extra keys merged in.
function Fixture:config(names, extra)
  local lines = { "cijoe:", "  transport:" }
  for _, name in ipairs(names or { "target" }) do
    lines[#lines + 1] = "    " .. name .. ":"
    local keys = { hostname = self.address, port = self.port, username = sshd.user,
      key_filename = self.dir .. "/id_ed25519", known_hosts = self.dir .. "/known_hosts" }
    for k, v in pairs(extra or {}) do keys[k] = v end
    for k, v in pairs(keys) do
      if v ~= false then lines[#lines + 1] = string.format("      %s: %s", k, tostring(v)) end
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

--- A running sshd fixture; opts.log_level (default ERROR) is sshd's LogLevel, and
--- its log is sshd.log in the fixture's dir. opts.netns runs it in that network namespace
--- on opts.address (default 127.0.0.1) and opts.port (default a free one), opts.uts_name
--- gives it a host name of its own, opts.client_key (a private key file, .pub beside it)
--- is the key it lets in, copied to id_ed25519 (default: a new key). For hostile
--- servers: opts.subsystem is the command of `Subsystem sftp` (default OpenSSH's
--- sftp-server), opts.force_command an sshd ForceCommand (it runs instead of every
--- command and subsystem; the original is in $SSH_ORIGINAL_COMMAND), opts.extra_config
--- a list of more sshd_config lines; only this sshd has them, never the test user.
function sshd.start(opts)
  opts = opts or {}
  ensure_user()
  local f = setmetatable({ dir = h.tmpdir(), log_level = opts.log_level or "ERROR",
    address = opts.address or "127.0.0.1", uts_name = opts.uts_name,
    subsystem = opts.subsystem, force_command = opts.force_command,
    extra_config = opts.extra_config,
    exec = opts.netns and "ip netns exec " .. opts.netns .. " " or "" }, Fixture)
  f.port = opts.port or free_port()
  h.sh("chmod 755 " .. f.dir)
  h.sh("ssh-keygen -q -t ed25519 -N '' -f " .. f.dir .. "/host_key")
  if opts.client_key then
    h.sh("cp " .. opts.client_key .. " " .. f.dir .. "/id_ed25519 && cp " .. opts.client_key
      .. ".pub " .. f.dir .. "/id_ed25519.pub")
  else
    h.sh("ssh-keygen -q -t ed25519 -N '' -f " .. f.dir .. "/id_ed25519")
  end
  h.sh("cp " .. f.dir .. "/id_ed25519.pub " .. f.dir .. "/authorized_keys")
  local name = f.port == 22 and f.address or "[" .. f.address .. "]:" .. f.port
  h.write(f.dir .. "/known_hosts", name .. " " .. h.read(f.dir .. "/host_key.pub"))
  h.write(f.dir .. "/sshd_config", config(f))
  return f:start()
end

return sshd
