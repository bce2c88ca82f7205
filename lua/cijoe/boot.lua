-- joe's first Lua: make the Lua files compiled into the binary (or, with JOE_LUA_PATH,
-- those of a source tree) requirable under the names their paths give, then run the
-- command line. main.c passes read(path) of an embedded file (its content, or nil), the
-- list of their paths, and argv.
local read, paths, argv = ...
local tree = os.getenv("JOE_LUA_PATH")

--- The packaged files: read(path) gives one ("packages/core/default.config"), files()
--- lists them.
package.loaded["cijoe.embedded"] = {
  read = read,
  files = function()
    local list = table.move(paths, 1, #paths, 1, {})
    table.sort(list)
    return list
  end,
}

if tree then
  package.path = ("%s/lua/?.lua;%s/lua/?/init.lua;%s/packages/?.lua;%s/packages/?/init.lua;")
    :format(tree, tree, tree, tree) .. package.path
else
  -- "lua/cijoe/cli.lua" is cijoe.cli, "packages/qemu/init.lua" qemu
  for _, path in ipairs(paths) do
    local name = path:match("^[^/]+/(.+)%.lua$")
    name = name and name:gsub("/", "."):gsub("%.init$", "")
    if name then
      -- the core's modules are bytecode (with their names), the packages' Lua source
      package.preload[name] = function(...)
        return assert(load(read(path), "@" .. path, "bt"))(...)
      end
    end
  end
end
_G.arg = argv
return require("cijoe.cli").main(argv)
