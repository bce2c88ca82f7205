-- Test helpers: run the joe binary in a scratch folder and look at what users see (exit
-- status, stdout, stderr, files in the output directory).
local yaml = require("cijoe.yaml")

local h = {}

--- Run a shell command; returns its output (stdout and stderr) and exit status.
function h.sh(cmd)
  local pipe = io.popen("{ " .. cmd .. "\n} 2>&1")
  local out = pipe:read("a")
  local _, _, status = pipe:close()
  return out, status
end

h.root = os.getenv("JOE_ROOT") or h.sh("pwd"):gsub("\n$", "")
h.joe = os.getenv("JOE") or h.root .. "/build/joe"

--- Quote for sh.
function h.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The folders tmpdir made; they go when the test run's Lua state closes (its __gc). A
-- process still running from one of them (an sshd fixture or a guest a failed test left
-- behind) is killed first: it would outlive the run and hold its port. The pattern's
-- brackets keep pkill off the shell that runs it.
local made = setmetatable({}, { __gc = function(dirs)
  if #dirs > 0 and not os.getenv("JOE_SPEC_KEEP") then
    for _, dir in ipairs(dirs) do
      os.execute("pkill -KILL -f '[" .. dir:sub(1, 1) .. "]" .. dir:sub(2) .. "/' 2>/dev/null")
    end
    os.execute("rm -rf " .. table.concat(dirs, " ") .. " 2>/dev/null")
  end
end })
h.made_dirs = made

--- A fresh empty folder, removed when the test run ends (JOE_SPEC_KEEP=1 keeps them).
function h.tmpdir()
  local dir = (h.sh("mktemp -d /tmp/joe-spec.XXXXXX"):gsub("\n$", ""))
  made[#made + 1] = dir
  return dir
end

--- Write a file (creating folders as needed).
function h.write(path, text)
  h.sh("mkdir -p " .. h.q(path:match("^(.*)/") or "."))
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

--- The content of a file, or nil.
function h.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

--- A YAML file as a Lua table.
function h.yaml(path)
  return assert(yaml.load(assert(h.read(path), "missing " .. path), path))
end

--- Run joe with `args` (a shell-ready string) in dir; returns status, stdout, stderr.
-- env is an optional prefix such as "FOO=1".
function h.joe_in(dir, args, env)
  local out, err = dir .. "/.stdout", dir .. "/.stderr"
  local _, status = h.sh(string.format("cd %s && %s %s %s </dev/null >%s 2>%s", h.q(dir),
    env or "", h.q(h.joe), args, h.q(out), h.q(err)))
  return status, h.read(out), h.read(err)
end

--- The output directory of the newest run in dir.
function h.latest(dir)
  return dir .. "/cijoe-output/latest"
end

-- The TCP ports something listens on, from /proc/net/tcp and tcp6.
local function listening_ports()
  local ports = {}
  for _, file in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    for line in (h.read(file) or ""):gmatch("[^\n]+") do
      local port, state = line:match("^%s*%d+: %x+:(%x+) %x+:%x+ (%x%x)")
      if state == "0A" then ports[tonumber(port, 16)] = true end
    end
  end
  return ports
end

--- A TCP port (20000-59999) that nothing listens on now.
function h.free_port()
  local taken = listening_ports()
  for _ = 1, 100 do
    local port = math.random(20000, 59999)
    if not taken[port] then return port end
  end
  error("no free TCP port found")
end

--- Call fn every 0.1 s until it returns a true value or timeout seconds pass; returns
--- that value (nil on timeout) and the seconds waited.
function h.wait_for(fn, timeout)
  local proc = require("cijoe.proc")
  local t0 = proc.now()
  repeat
    local value = fn()
    if value then return value, proc.now() - t0 end
    h.sh("sleep 0.1")
  until proc.now() - t0 > timeout
  return nil, proc.now() - t0
end

--- The bound, in seconds, within which a hang test expects joe to be done: n, three
--- times that under the sanitizers (ASAN_OPTIONS set), which slow joe down.
function h.bound(n)
  return os.getenv("ASAN_OPTIONS") and n * 3 or n
end

--- Run a shell command under a watchdog: after h.bound(seconds) it gets SIGKILL (with
--- its process group, as timeout(1) does) and the test fails saying that it hung, so a
--- regression cannot stall the suite. Signals sent to the watchdog (the pid of a `&`
--- around it) reach the command. Returns its output and exit status.
function h.sh_watched(cmd, seconds, what)
  local proc = require("cijoe.proc")
  local bound, t0 = h.bound(seconds), proc.now()
  local out, status = h.sh(string.format("timeout -s KILL %g sh -c %s", bound, h.q(cmd)))
  if status == 137 and proc.now() - t0 >= bound - 0.2 then
    require("luaunit").fail(string.format("%s hung: still running after %g s, killed",
      what or cmd, bound))
  end
  return out, status
end

--- h.joe_in under the watchdog of h.sh_watched: joe that is not done within
--- h.bound(seconds) is killed and the test fails. Returns status, stdout, stderr.
function h.joe_watched(dir, args, seconds, env)
  local out, err = dir .. "/.stdout", dir .. "/.stderr"
  local _, status = h.sh_watched(string.format("cd %s && %s exec %s %s </dev/null >%s 2>%s",
    h.q(dir), env or "", h.q(h.joe), args, h.q(out), h.q(err)), seconds, "joe " .. args)
  return status, h.read(out), h.read(err)
end

return h
