-- The doc comments of joe's Lua API as text, for the REPL's `:help NAME`: the `---`
-- comments LDoc makes the API reference of (make doc), of lua/cijoe.lua and of every
-- package's init.lua. A package's files are in joe as their source text, so its comments
-- are read from there; the core's modules are bytecode, without comments, so the Makefile
-- writes those of lua/cijoe.lua into build/doc-index.txt (each `---` block and the line
-- after it, as path:line:text), which joe embeds beside them. With JOE_LUA_PATH the
-- tree's own files are read.
local embedded = require("cijoe.embedded")
local packages = require("cijoe.packages")

local doc = {}
local CORE, INDEX = "lua/cijoe.lua", "build/doc-index.txt"
local index_lines, entries -- the embedded index by path; every entry, once read

-- The whole content of a file, or nil.
local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- The lines the Makefile kept of a core file, as its text (the other lines blank, so the
-- line numbers are the source's), or nil when the index does not have it.
local function from_index(path)
  if not index_lines then
    index_lines = {}
    for file, n, text in (embedded.read(INDEX) or ""):gmatch("([^:\n]+):(%d+):([^\n]*)") do
      index_lines[file] = index_lines[file] or {}
      index_lines[file][tonumber(n)] = text
    end
  end
  local kept = index_lines[path]
  if not kept then return nil end
  local lines, last = {}, 0
  for n in pairs(kept) do last = math.max(last, n) end
  for n = 1, last do lines[n] = kept[n] or "" end
  return table.concat(lines, "\n")
end

-- The source text of a Lua file of joe ("lua/cijoe.lua", "packages/fio/init.lua") or
-- one on disk, or nil.
local function source(path)
  local tree = os.getenv("JOE_LUA_PATH")
  local rel = path:match("^packages/(.+)")
  if rel then return (packages.read(rel)) end
  if tree and path:sub(1, 4) == "lua/" then return read_file(tree .. "/" .. path) end
  local text = embedded.read(path)
  if text and text:sub(1, 4) ~= "\27Lua" then return text end
  return text and from_index(path) or read_file(path)
end

-- The doc blocks of a source: each `---` comment with the lines of comment after it, and
-- the line that follows them (what they document), as {lines =, decl =, line =, start =}.
local function blocks(text)
  local out, block, n = {}, nil, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if not block and line:find("^%-%-%-") then block = { lines = {}, start = n } end
    if block and line:find("^%-%-") then
      block.lines[#block.lines + 1] = line:gsub("^%-%-%-? ?", "")
    elseif block then
      block.decl, block.line, out[#out + 1], block = line, n, block, nil
    end
  end
  return out
end

-- A block's prose (the lines before its first tag) and its tags, {tag =, mod =, lines =}:
-- "@tparam[opt] table opts what" is tag tparam, mod "opt", lines {"table opts what", ...}.
local function split(lines)
  local prose, tags = {}, {}
  for _, line in ipairs(lines) do
    local tag, rest = line:match("^@(%w+)%s*(.*)")
    if tag then
      local mod, after = rest:match("^%[(.-)%]%s*(.*)")
      tags[#tags + 1] = { tag = tag, mod = mod, lines = { after or rest } }
    elseif #tags > 0 then
      local last = tags[#tags].lines
      last[#last + 1] = line:match("^%s*(.-)%s*$")
    else
      prose[#prose + 1] = line
    end
  end
  while prose[#prose] == "" do prose[#prose] = nil end
  return prose, tags
end

-- The value of the first tag called name in tags, or nil.
local function tag_value(tags, name)
  for _, t in ipairs(tags) do
    if t.tag == name then return t.lines[1]:match("^(%S+)") end
  end
end

-- The parameters of an entry: from its declaration, else from its @param and @tparam tags
-- (a function assigned from elsewhere), each {name =, type =, optional =, text = lines}.
local function params_of(decl_params, tags)
  local described = {}
  for _, t in ipairs(tags) do
    local kind, name, first
    local line = t.lines[1]
    if t.tag == "tparam" then kind, name, first = line:match("^(%S+)%s+(%S+)%s*(.*)") end
    if t.tag == "param" then name, first = line:match("^(%S+)%s*(.*)") end
    if name then
      local optional = t.mod and t.mod:match("^opt") and (t.mod:match("^opt=(.*)") or true)
      described[#described + 1] = { name = name, type = kind, optional = optional,
        text = { first, table.unpack(t.lines, 2) } }
      described[name] = described[#described]
    end
  end
  if not decl_params then return described end
  local list = {}
  for name in decl_params:gmatch("[^,%s]+") do
    list[#list + 1] = described[name] or { name = name }
  end
  return list
end

-- The signature of a function entry as the reference shows it: optional parameters in
-- brackets, a method on an instance (guest:wait_up([timeout=60])).
local function signature(e)
  local shown = e.name:gsub("^(%u)(%w*):", function(a, b) return a:lower() .. b .. ":" end)
  local words = {}
  for i, p in ipairs(e.params) do
    local word = (i > 1 and ", " or "") .. p.name
    if p.optional then
      word = "[" .. word .. (p.optional ~= true and "=" .. p.optional or "") .. "]"
    end
    words[i] = word
  end
  return shown .. "(" .. table.concat(words) .. ")"
end

-- The entry a doc block makes in the file of module (whose table is called owner in its
-- code), or nil when it documents no name (a local, a call): {name =, kind =, params =,
-- prose =, tags =, file =, line =}. A file's first block, at its top, is the module's
-- (as LDoc takes it).
local function entry(block, module, owner, file)
  local prose, tags = split(block.lines)
  local e = { prose = prose, tags = tags, file = file, line = block.line }
  local name, params = block.decl:match("^function%s+([%w_.:]+)%s*%((.-)%)")
  name = name or block.decl:match("^([%w_.]+)%s*=")
  if tag_value(tags, "module") or (block.start == 1 and not name) then
    e.name, e.kind, e.line = tag_value(tags, "module") or module, "module", block.start
  elseif tag_value(tags, "type") then
    e.name, e.kind, e.line = tag_value(tags, "type"), "type", block.start
  elseif name then
    if owner and name:sub(1, #owner + 1) == owner .. "." then
      name = module .. name:sub(#owner + 1)
    end
    local fn = params or tag_value(tags, "function") or block.decl:find("=%s*function")
    e.name = name
    e.kind = fn and "function" or tag_value(tags, "table") and "table" or "value"
    e.params = fn and params_of(params or block.decl:match("function%s*%((.-)%)"), tags)
  else
    return nil
  end
  return e
end

-- The entries of a file of module, in the order of their lines.
local function parse(path, module)
  local text = source(path)
  if not text then return {} end
  local owner = text:match("\nreturn%s+([%w_]+)%s*$")
  local list = {}
  for _, block in ipairs(blocks(text)) do
    list[#list + 1] = entry(block, module, owner, path)
  end
  return list
end

-- The key a name is found under: case and "." against ":" do not matter.
local function key(name)
  return (name:lower():gsub(":", "."))
end

-- Every entry of the API, by key: the core's, then each package's init.lua. A method
-- (Guest:wait_up) is also found under its module's name (qemu.Guest:wait_up).
local function all()
  if entries then return entries end
  entries = { list = {} }
  local files, names = { { CORE, "cijoe" } }, {}
  for name, pkg in pairs(packages.list()) do
    if pkg.files["init.lua"] then names[#names + 1] = name end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    files[#files + 1] = { "packages/" .. name .. "/init.lua", name }
  end
  for _, f in ipairs(files) do
    for _, e in ipairs(parse(f[1], f[2])) do
      entries.list[#entries.list + 1], e.module = e, f[2]
      entries[key(e.name)] = entries[key(e.name)] or e
      if e.name:find("^%u[%w_]*:") then entries[key(f[2] .. "." .. e.name)] = e end
    end
  end
  return entries
end

-- Lines under a label, the lines after the first indented as far as it.
local function labelled(out, label, lines)
  for i, line in ipairs(lines) do
    out[#out + 1] = "  " .. (i == 1 and label or (" "):rep(#label)) .. line
  end
end

-- The parameters, returns, raises, fields and usage of an entry's tags, as lines.
local function tag_lines(e, out)
  local width = 0
  for _, p in ipairs(e.params or {}) do width = math.max(width, #p.name) end
  for _, p in ipairs(e.params or {}) do
    local what = (p.type or "") .. (p.optional and (p.type and ", " or "") .. "optional" or "")
    local text = p.text and { table.unpack(p.text) } or { "" }
    text[1] = what .. (what ~= "" and text[1] ~= "" and ": " or "") .. text[1]
    labelled(out, p.name .. (" "):rep(width - #p.name + 2), text)
  end
  local group
  for _, t in ipairs(e.tags) do
    if t.tag == "treturn" or t.tag == "return" then
      local g = t.mod or "1"
      local label = g == group and "" or g == "1" and "returns:" or "or:"
      labelled(out, label .. (" "):rep(9 - #label), t.lines)
      group = g
    elseif t.tag == "raise" or t.tag == "usage" or t.tag == "field" or t.tag == "see" then
      labelled(out, (t.tag == "raise" and "raises" or t.tag) .. ": ", t.lines)
    end
  end
end

-- What the entries of a module or type are, one line each, for its help.
local function members(e)
  local out, type_name = {}, e.kind == "type" and e.name .. ":"
  for _, m in ipairs(all().list) do
    local inside = type_name and m.name:sub(1, #type_name) == type_name or
      not type_name and m.module == e.name and m.kind ~= "module"
    if inside and m ~= e then
      out[#out + 1] = "  " .. (m.params and signature(m) or m.kind .. " " .. m.name)
    end
  end
  return out
end

--- The help text of an entry: its signature (or name), its doc comment's prose and tags
--- laid out as lines, where it is; for a module or type, the names in it.
function doc.render(e)
  local out = { e.params and signature(e) or e.kind .. " " .. e.name }
  for _, line in ipairs(e.prose) do out[#out + 1] = line == "" and "" or "  " .. line end
  local tags = {}
  tag_lines(e, tags)
  if #tags > 0 then out[#out + 1] = "" end
  for _, line in ipairs(tags) do out[#out + 1] = line end
  if e.kind == "module" or e.kind == "type" then
    out[#out + 1] = ""
    out[#out + 1] = "  in it (:help NAME for one):"
    for _, line in ipairs(members(e)) do out[#out + 1] = "  " .. line end
  end
  out[#out + 1] = "  (" .. e.file .. ":" .. e.line .. ")"
  return table.concat(out, "\n")
end

-- The file and line a function value of this name was defined at, the file named as joe
-- names its own ("packages/fio/init.lua"), or nil.
local function defined_at(name)
  local value = _G
  for part in name:gmatch("[^.:]+") do
    if type(value) ~= "table" then return nil end
    value = value[part]
  end
  if type(value) ~= "function" then return nil end
  local info = debug.getinfo(value, "S")
  local file = info.source:match("^@(.+)")
  local tree = os.getenv("JOE_LUA_PATH")
  if file and tree and file:sub(1, #tree + 1) == tree .. "/" then
    file = file:sub(#tree + 2)
  end
  return file, info.linedefined
end

-- The entry that documents the function defined at file:line, or nil.
local function entry_at(file, line)
  for _, e in ipairs(all().list) do
    if e.file == file and e.line == line then return e end
  end
  for _, e in ipairs(parse(file, file:match("([^/]+)%.lua$"))) do
    if e.line == line then return e end
  end
end

--- The entry of the API called name ("cijoe.run", "fio", "Guest:wait_up", which is also
--- guest.wait_up and qemu.Guest:wait_up), or of the function a global name reaches
--- (put, or g.start for a guest in g); nil and a message with the nearest name when none.
function doc.find(name)
  name = name:gsub("%(%)$", "")
  local e = all()[key(name)]
  if e then return e end
  local ok, file, line = pcall(defined_at, name)
  e = ok and file and entry_at(file, line)
  if e then return e end
  local names = {}
  for _, m in ipairs(all().list) do names[#names + 1] = m.name end
  return nil, "no help for '" .. name .. "'" .. require("cijoe.suggest").hint(name, names)
end

return doc
