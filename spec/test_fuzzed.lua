-- What the fuzz targets of spec/fuzz found, each kept as a test of what a user sees: the
-- input that broke joe, and the clear result it gives now.
local lu = require("luaunit")
local h = require("helper")
local yaml = require("cijoe.yaml")

TestFuzzed = {}

function TestFuzzed:setUp()
  self.dir = h.tmpdir()
  h.write(self.dir .. "/s.lua", "print(cijoe.getconf('x'))\n")
end

-- Run s.lua with config text; returns status, stdout, stderr and config.orig as loaded.
function TestFuzzed:run_with(config)
  h.write(self.dir .. "/c.yaml", config)
  local status, out, err = h.joe_in(self.dir, "-q -c c.yaml s.lua")
  local orig = h.read(h.latest(self.dir) .. "/config.orig")
  return status, out, err, orig and yaml.load(orig, "config.orig")
end

-- yaml.dump wrote a list with nulls in it (a Lua table with holes) as a sequence when its
-- length happened to equal its number of entries, and raised "cannot write a nil": joe
-- died writing config.orig.
function TestFuzzed:test_list_with_nulls_in_a_config()
  local status, out, err, orig = self:run_with("x: [~, a, b, c, ~, d]\n")
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "table: " .. out:match("0x%x+") .. "\n")
  lu.assertEquals(orig.x, { [2] = "a", [3] = "b", [4] = "c", [6] = "d" })
end
