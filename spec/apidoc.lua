-- The API reference: every function that lua/cijoe.lua and the built-in packages' modules
-- export (`function M.name(` or `function M:name(`), with the `---` comment above it.
-- `joe spec/apidoc.lua` writes build/doc/index.html; with JOE_APIDOC_CHECK=1 it only
-- lists exported functions without a doc comment and fails when there is one.
-- JOE_APIDOC_FILES (space-separated) replaces the list of files to read.
local root = os.getenv("JOE_ROOT") or "."

-- The module files to document.
local function sources()
  local given = os.getenv("JOE_APIDOC_FILES")
  local files = {}
  if given then
    for path in given:gmatch("%S+") do files[#files + 1] = path end
    return files
  end
  files[1] = root .. "/lua/cijoe.lua"
  local pipe = io.popen("ls " .. root .. "/packages/*/*.lua")
  for path in pipe:lines() do files[#files + 1] = path end
  pipe:close()
  return files
end

-- The exported functions of a file: those of the table it returns, and methods (of the
-- objects it hands out); each as {name, signature, doc, line}.
local function exports(path)
  local found, doc, module = {}, {}, nil
  for line in io.lines(path) do module = line:match("^return ([%w_]+)%s*$") or module end
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    local comment = line:match("^%-%-%-?%s?(.*)")
    local owner, sep, fname, params = line:match("^function ([%w_]+)([.:])([%w_]+)(%b())")
    if owner and (owner == module or sep == ":") then
      local name = owner .. sep .. fname
      found[#found + 1] = { name = name, signature = name .. params, doc = table.concat(doc, "\n"), line = n }
    end
    if comment and (line:match("^%-%-%-") or #doc > 0) then doc[#doc + 1] = comment else doc = {} end
  end
  return found
end

-- HTML-escape.
local function esc(s)
  return (s:gsub("[&<>]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;" }))
end

-- The reference page.
local function page(modules)
  local out = { "<!doctype html><meta charset=utf-8><title>joe API</title><style>",
    "body{font:15px/1.5 sans-serif;max-width:60em;margin:2em auto}code,pre{background:#f4f4f4}",
    "h2{border-bottom:1px solid #ccc}pre{padding:.5em;white-space:pre-wrap}</style><h1>joe API reference</h1>" }
  for _, m in ipairs(modules) do
    out[#out + 1] = "<h2>" .. esc(m.path) .. "</h2>"
    for _, f in ipairs(m.functions) do
      out[#out + 1] = "<h3 id='" .. esc(f.name) .. "'><code>" .. esc(f.signature) .. "</code></h3><pre>" .. esc(f.doc) .. "</pre>"
    end
  end
  return table.concat(out, "\n")
end

local modules, missing = {}, {}
for _, path in ipairs(sources()) do
  local functions = exports(path)
  for _, f in ipairs(functions) do
    if f.doc:match("^%s*$") then missing[#missing + 1] = path .. ":" .. f.line .. ": " .. f.name .. " has no doc comment" end
  end
  modules[#modules + 1] = { path = path:gsub("^" .. root .. "/", ""), functions = functions }
end
for _, line in ipairs(missing) do print(line) end
local lacking = #missing > 0 and #missing .. " exported functions have no doc comment" or nil
if os.getenv("JOE_APIDOC_CHECK") then return lacking == nil, lacking end
os.execute("mkdir -p " .. root .. "/build/doc")
local f = assert(io.open(root .. "/build/doc/index.html", "wb"))
f:write(page(modules))
f:close()
print("wrote " .. root .. "/build/doc/index.html")
return lacking == nil, lacking
