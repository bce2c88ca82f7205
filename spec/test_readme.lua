-- Every Lua example of README.md runs as written: each ```lua block is a script of its
-- own, run in a fresh folder (the QEMU one with the qemu package's config and the test
-- guest), and must exit 0.
local lu = require("luaunit")
local h = require("helper")
local fixture = require("qemu_fixture")

TestReadme = {}

-- The ```lua blocks of README.md, in order.
local function blocks()
  local list = {}
  for block in h.read(h.root .. "/README.md"):gmatch("```lua\n(.-)```") do list[#list + 1] = block end
  return list
end

function TestReadme:test_there_are_examples()
  lu.assertTrue(#blocks() >= 3, "README.md has " .. #blocks() .. " Lua examples")
end

function TestReadme:test_every_example_runs()
  for i, block in ipairs(blocks()) do
    local dir = h.tmpdir()
    local name = block:match("^%-%- ([%w_]+%.lua)") or ("example" .. i .. ".lua")
    h.write(dir .. "/" .. name, block)
    local args = "-q " .. name
    if block:find('require("qemu")', 1, true) then
      local files, why = fixture.files()
      if not files then lu.fail(why) end
      lu.assertEquals(h.joe_in(dir, "-s qemu"), 0)
      args = "-q " .. name
    end
    local status, out, err = h.joe_in(dir, args)
    lu.assertEquals(status, 0, string.format("README example %d (%s):\n%s%s", i, name, out, err))
  end
end
