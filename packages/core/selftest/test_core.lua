-- The core package's own checks, run by `joe selftest core` against the given config:
-- commands and files on the default transport, and every transport the config names
-- (one that cannot be reached is skipped, with the reason).
local lu = require("luaunit")
local proc = require("cijoe.proc")

function test_run_on_default_transport()
  local err, st = cijoe.run("echo selftest; echo to-stderr >&2")
  lu.assertEquals(err, 0)
  lu.assertEquals(st:output(), "selftest\nto-stderr\n")
end

function test_exit_status_and_signal()
  lu.assertEquals(cijoe.run("exit 3"), 3)
  lu.assertEquals(cijoe.run("kill -TERM $$"), 143)
end

function test_cwd_env_and_timeout()
  local _, st = cijoe.run('pwd; echo "$JOE_SELFTEST"', { cwd = "/", env = { JOE_SELFTEST = "a'b" } })
  lu.assertEquals(st:output(), "/\na'b\n")
  local t0 = proc.now()
  local err, timed = cijoe.run("sleep 30", { timeout = 1 })
  lu.assertNotEquals(err, 0)
  lu.assertTrue(timed.timed_out)
  lu.assertTrue(proc.now() - t0 < 10)
end

function test_put_and_get_roundtrip()
  local name = os.tmpname()
  local f = assert(io.open(name, "wb"))
  f:write("round trip\n")
  f:close()
  local remote = "/tmp/joe-selftest-" .. math.random(1e9)
  assert(cijoe.put(name, remote))
  local err, st = cijoe.run("cat " .. cijoe.quote(remote) .. "; rm -f " .. cijoe.quote(remote))
  os.remove(name)
  lu.assertEquals(err, 0)
  lu.assertEquals(st:output(), "round trip\n")
end

function test_every_transport_answers()
  local names = require("cijoe.config").transport_names(cijoe.config)
  if #names == 0 then lu.skip("the config names no transport; commands run on this machine") end
  for _, name in ipairs(names) do
    local err, msg = cijoe.run("true", { transport = name })
    if err == nil then lu.skip("transport " .. name .. " cannot be reached: " .. tostring(msg)) end
    lu.assertEquals(err, 0, name)
  end
end
