-- joe's first Lua: make the Lua files compiled into the binary (or, with JOE_LUA_PATH,
-- those of a source tree) requirable under the names their paths give, then run the
-- command line. main.c passes the embedded files (path -> content) and argv.
local files, argv = ...
local tree = os.getenv("JOE_LUA_PATH")

--- The packaged files: read(path) gives one ("packages/core/default.config"), files()
--- lists them.
package.loaded["cijoe.embedded"] = {
  read = function(path) return files[path] end,
  files = function()
    local list = {}
    for path in pairs(files) do list[#list + 1] = path end
    table.sort(list)
    return list
  end,
}

if tree then
  package.path = ("%s/lua/?.lua;%s/lua/?/init.lua;%s/packages/?.lua;%s/packages/?/init.lua;")
    :format(tree, tree, tree, tree) .. package.path
else
  -- "lua/cijoe/cli.lua" is cijoe.cli, "packages/qemu/init.lua" qemu
  for path, text in pairs(files) do
    local name = path:match("^[^/]+/(.+)%.lua$")
    name = name and name:gsub("/", "."):gsub("%.init$", "")
    if name then
      -- the core's modules are bytecode (with their names), the packages' Lua source
      package.preload[name] = function(...) return assert(load(text, "@" .. path, "bt"))(...) end
    end
  end
end
_G.arg = argv
return require("cijoe.cli").main(argv)
