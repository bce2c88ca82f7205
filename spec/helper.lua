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

--- A fresh empty folder, removed when the test process ends.
function h.tmpdir()
  return (h.sh("mktemp -d /tmp/joe-spec.XXXXXX"):gsub("\n$", ""))
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

return h
