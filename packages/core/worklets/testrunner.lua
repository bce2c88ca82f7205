--- Run LuaUnit tests with `joe test` as this step, with the run's config: with.args are
--- joe test's arguments (test files or folders, -k pattern). The tests run on this machine
--- and reach the target through the config's transports; with run_local: false, joe, the
--- tests and the config are copied to the target, run there, and the results fetched
--- back. Each test's result shows in the step (tests.yaml) and in the report. With
--- random_order: true (CIJOE's pytest-random-order) the tests run shuffled, the seed said.
--- with: args, run_local, random_order
local proc = require("cijoe.proc")
local yaml = require("cijoe.yaml")

-- CIJOE's pytest form `--pyargs cijoe.<pkg>.selftest` is joe's `selftest <pkg>`.
local function test_args(args)
  local pkg = args:match("%-%-pyargs%s+cijoe%.([%w_]+)%.selftest")
  if pkg then return "selftest " .. pkg end
  return "test " .. args
end

-- The config as joe test must see it (with its secrets), outside the output directory.
local function write_config(cijoe)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(yaml.dump(cijoe.config))
  f:close()
  return path
end

-- JOE_TEST_SEED for joe test, when the tests are to run in a random order.
local function order_env(random_order)
  if random_order ~= true then return "" end
  return "JOE_TEST_SEED=" .. math.random(1, 1e9) .. " "
end

-- Run joe test on the target: copy joe, the config and the test paths, run, fetch back.
local function run_remote(cijoe, q, config, args, dest, random_order)
  local remote = "/tmp/joe-testrunner-" .. math.random(1e9)
  local made, merr = cijoe.run("mkdir -p " .. q(remote))
  if made ~= 0 then return made or false, merr end
  for _, path in ipairs({ proc.exe(), config }) do
    local ok, msg = cijoe.put(path, remote .. "/" .. path:match("[^/]+$"))
    if not ok then return false, msg end
  end
  for path in args:gmatch("%S+") do
    if not path:match("^%-") and io.open(path) then
      cijoe.run("mkdir -p " .. q(remote .. "/" .. (path:match("^(.*)/[^/]+/?$") or ".")))
      local ok, msg = cijoe.put(path, remote .. "/" .. path)
      if not ok then return false, msg end
    end
  end
  local cmd = string.format("%s./joe -c %s -o out %s", order_env(random_order),
    q(config:match("[^/]+$")), test_args(args))
  local err = cijoe.run(cmd, { cwd = remote })
  cijoe.get(remote .. "/out", dest:sub(1, 1) == "/" and dest or os.getenv("PWD") .. "/" .. dest)
  cijoe.run("rm -rf " .. q(remote))
  return err
end

return function(args, cijoe)
  local q, dest = cijoe.quote, cijoe.step_path() .. "/tests"
  local config = write_config(cijoe)
  local err, msg
  if args.run_local == false then
    err, msg = run_remote(cijoe, q, config, args.args or "", dest, args.random_order)
  else
    err, msg = cijoe.run_local(string.format("%s%s -q -c %s -o %s %s", order_env(args.random_order),
      q(proc.exe()), q(config), q(dest), test_args(args.args or "")))
  end
  os.remove(config)
  local f = io.open(dest .. "/tests.yaml", "rb")
  if f then
    local copy = io.open(cijoe.step_path() .. "/tests.yaml", "wb")
    copy:write(f:read("a"))
    copy:close()
    f:close()
  end
  if err ~= 0 then return err or false, err == nil and msg or nil end
end
