-- The API reference. `make doc` runs this with joe: it writes the worklets' page (every
-- worklet of every package with its description and `with` keys and defaults, from the
-- worklets' own `---` comments) and runs LDoc (Debian's lua-ldoc) with docs/config.ld
-- over the doc comments of cijoe and the packages, into build/doc/; LDoc's warnings are
-- printed and fail it. With JOE_APIDOC_CHECK=1 it only lists the exported functions of
-- those files that have no doc comment, and fails when there is one (JOE_APIDOC_FILES,
-- space-separated, replaces the files to read).
local root = os.getenv("JOE_ROOT") or "."

-- The module files whose exports must be documented.
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

-- The exported functions of a file that have no doc comment: those of the table it
-- returns, and methods (of the objects it hands out), as "file:line: name".
local function undocumented(path)
  local missing, doc, module = {}, false, nil
  for line in io.lines(path) do module = line:match("^return ([%w_]+)%s*$") or module end
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    local owner, sep, fname = line:match("^function ([%w_]+)([.:])([%w_]+)%(")
    if owner and (owner == module or sep == ":") and not doc then
      missing[#missing + 1] = path .. ":" .. n .. ": " .. owner .. sep .. fname ..
        " has no doc comment"
    end
    local comment = line:match("^%-%-")
    doc = (line:match("^%-%-%-") or (doc and comment)) and true or false
  end
  return missing
end

-- The worklets' page, in markdown: a section per package, a row per worklet.
local function worklets_page()
  local packages, workflow = require("cijoe.packages"), require("cijoe.workflow")
  local all, names = packages.list(), {}
  for name in pairs(all) do names[#names + 1] = name end
  table.sort(names)
  local out = { "# Worklets", "", "Every built-in worklet: `step{uses = NAME, with = {...}}`.", "" }
  for _, pkg in ipairs(names) do
    local files = {}
    for file in pairs(all[pkg].files) do
      local w = file:match("^worklets/(.-)%.lua$")
      if w then files[#files + 1] = w end
    end
    table.sort(files)
    if #files > 0 then
      out[#out + 1] = "## " .. pkg .. "\n\n| worklet | what | with |\n|---|---|---|"
    end
    for _, w in ipairs(files) do
      local _, doc, keys = workflow.worklet(pkg .. "." .. w)
      local with = {}
      for key, default in pairs(keys or {}) do
        with[#with + 1] = "`" .. key .. "`" .. (default ~= true and " (" .. default .. ")" or "")
      end
      table.sort(with)
      out[#out + 1] = string.format("| `%s.%s` | %s | %s |", pkg, w, (doc or ""):gsub("|", "\\|"),
        table.concat(with, ", "))
    end
    out[#out + 1] = ""
  end
  return table.concat(out, "\n")
end

local missing = {}
for _, path in ipairs(sources()) do
  for _, line in ipairs(undocumented(path)) do missing[#missing + 1] = line end
end
for _, line in ipairs(missing) do print(line) end
local lacking = #missing > 0 and #missing .. " exported functions have no doc comment" or nil
if os.getenv("JOE_APIDOC_CHECK") then return lacking == nil, lacking end

os.execute("mkdir -p " .. root .. "/build/doc-src")
local f = assert(io.open(root .. "/build/doc-src/worklets.md", "wb"))
f:write(worklets_page())
f:close()
local err, state = cijoe.run_local("ldoc -c docs/config.ld .", { cwd = root })
if err == nil then return false, "could not run ldoc: " .. state end
if err ~= 0 then return false, "ldoc failed (see its log in this step)" end
-- LDoc says what it does and its warnings (an unknown tag, a bad reference) in one log;
-- the warnings are shown, and a page with any is a failure.
local warnings = {}
for line in state:output():gmatch("[^\n]+") do
  if not (line:find("^reading configuration from ") or line:find("^changing to directory")
      or line:find("^output written to ")) then
    warnings[#warnings + 1] = line
    print(line)
  end
end
print("wrote " .. root .. "/build/doc/index.html")
if #warnings > 0 then lacking = (lacking and lacking .. "; " or "") .. "LDoc warned" end
return lacking == nil, lacking
