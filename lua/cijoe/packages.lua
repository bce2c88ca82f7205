-- Packages: the built-in ones (in the binary, or in the tree JOE_LUA_PATH names), then
-- ./packages, the folders of JOE_PATH and ~/.local/share/joe/packages.
local embedded = require("cijoe.embedded")
local fs = require("cijoe.fs")

local packages = {}

-- The whole content of a file, or nil.
local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

--- The folders user packages are found in, in search order.
function packages.folders()
  local dirs = { "./packages" }
  for dir in (os.getenv("JOE_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = dir end
  dirs[#dirs + 1] = (os.getenv("HOME") or "") .. "/.local/share/joe/packages"
  return dirs
end

--- Let require() find the modules of user packages: require("mypkg") loads
--- <folder>/mypkg/init.lua.
function packages.extend_path()
  local paths = {}
  for _, dir in ipairs(packages.folders()) do
    paths[#paths + 1] = dir .. "/?/init.lua;" .. dir .. "/?.lua"
  end
  package.path = package.path .. ";" .. table.concat(paths, ";")
end

-- The built-in packages' files as {relative path -> true}.
local function builtin_files()
  local tree, files = os.getenv("JOE_LUA_PATH"), {}
  if not tree then
    for _, path in ipairs(embedded.files()) do
      local rel = path:match("^packages/(.*)")
      if rel then files[rel] = true end
    end
    return files
  end
  local function walk(rel)
    for _, name in ipairs(fs.dir(tree .. "/packages/" .. rel) or {}) do
      local sub = rel == "" and name or rel .. "/" .. name
      local st = fs.stat(tree .. "/packages/" .. sub)
      if st and st.type == "directory" then walk(sub) else files[sub] = true end
    end
  end
  walk("")
  return files
end

--- True when a source file of a traceback is joe's own (the core, a built-in package,
--- C), not the user's: a failure shows the user's frames, joe's only with -v.
function packages.is_own(file)
  local tree = os.getenv("JOE_LUA_PATH")
  if tree and (file:sub(1, #tree + 5) == tree .. "/lua/" or
      file:sub(1, #tree + 10) == tree .. "/packages/") then
    return true
  end
  if file:sub(1, 3) == "..." then -- a long path cut short by Lua
    return file:find("/lua/cijoe", 1, true) ~= nil or file:find("/packages/", 1, true) ~= nil
  end
  return file == "[C]" or embedded.read(file) ~= nil
end

--- The text of a package file ("core/default.config") and where it was found, or nil.
function packages.read(rel)
  local tree = os.getenv("JOE_LUA_PATH")
  local text = tree and read_file(tree .. "/packages/" .. rel) or embedded.read("packages/" .. rel)
  if text then return text, (tree and tree .. "/" or "") .. "packages/" .. rel end
  for _, dir in ipairs(packages.folders()) do
    text = read_file(dir .. "/" .. rel)
    if text then return text, dir .. "/" .. rel end
  end
end

--- Every package: name -> {builtin = bool, files = {relative path -> true}}.
function packages.list()
  local found = {}
  for rel in pairs(builtin_files()) do
    local name, file = rel:match("^([^/]+)/(.+)")
    found[name] = found[name] or { builtin = true, files = {} }
    found[name].files[file] = true
  end
  for _, dir in ipairs(packages.folders()) do
    for _, name in ipairs(fs.dir(dir) or {}) do
      if not found[name] and (fs.stat(dir .. "/" .. name) or {}).type == "directory" then
        found[name] = { builtin = false, dir = dir .. "/" .. name, files = {} }
        for _, sub in ipairs({ "", "worklets/", "selftest/", "extractors/" }) do
          for _, file in ipairs(fs.dir(dir .. "/" .. name .. "/" .. sub) or {}) do
            found[name].files[sub .. file] = true
          end
        end
      end
    end
  end
  return found
end

return packages
