-- Workflows: a Lua script that declares steps, or is one step itself, or a CIJOE task
-- file; loaded here, checked by joe lint, run by cijoe.runner.
local packages = require("cijoe.packages")
local fs = require("cijoe.fs")
local cijoe = require("cijoe")

local workflow = {}

--- The names ("pkg.name") of every worklet of the packages that are here.
function workflow.worklet_names()
  local names = {}
  for pkg, info in pairs(packages.list()) do
    for file in pairs(info.files) do
      local name = file:match("^worklets/(.-)%.lua$")
      if name then names[#names + 1] = pkg .. "." .. name end
    end
  end
  return names
end

-- CIJOE 0.9.60's worklets (Python scripts) that joe has no Lua worklet for.
local CIJOE_ONLY = { ["qemu.build"] = true, ["qemu.install"] = true,
  ["qemu.qemu_version"] = true, ["linux.build_kdebs"] = true, ["core.reporter"] = true,
  ["core.example_script_testrunner"] = true, ["system_imaging.diskimage_from_oras"] = true,
  ["system_imaging.dockerimage_from_diskimage"] = true }

-- A CIJOE script for an unpackaged worklet name: NAME.py here or in a folder here, where
-- CIJOE looks for them.
local function python_script(name)
  if not name:match("^[%w_-]+$") then return nil end
  local candidates = { name .. ".py" }
  for _, dir in ipairs(fs.dir(".") or {}) do
    candidates[#candidates + 1] = dir .. "/" .. name .. ".py"
  end
  for _, path in ipairs(candidates) do
    if fs.stat(path) then return path end
  end
end

-- Why the worklet called name cannot be had, said so that the fix is plain.
local function missing(name)
  name = tostring(name)
  local script = python_script(name)
  if script then
    return "uses: " .. name .. ": " .. script .. " is a CIJOE Python script, which joe does " ..
      "not run; write it as a Lua worklet, worklets/" .. name .. ".lua returning " ..
      "function(args, cijoe) ... end (see DESIGN.md, Workflows)"
  end
  if CIJOE_ONLY[name] then
    return "unknown worklet '" .. name .. "': CIJOE has it (a Python script), joe has no " ..
      "Lua worklet of that name; write one in worklets/ or a package (joe resources lists " ..
      "joe's)"
  end
  local hint = require("cijoe.suggest").hint(name, workflow.worklet_names())
  return "unknown worklet '" .. name .. "'" ..
    (hint ~= "" and hint or " (joe resources lists the worklets there are)")
end

--- The function, description and accepted `with` keys of worklet "pkg.name", or nil and
-- a message. The description is the leading `---` comment; a `--- with: a, b` line in it
-- lists the keys the worklet takes (for joe lint).
function workflow.worklet(name)
  local pkg, file = tostring(name):match("^([%w_-]+)%.([%w_-]+)$")
  local text, origin = packages.read((pkg or "?") .. "/worklets/" .. (file or "?") .. ".lua")
  if not pkg and tostring(name):match("^[%w_-]+$") then -- CIJOE's unpackaged worklets
    origin = "worklets/" .. name .. ".lua"
    local f = io.open(origin)
    text = f and f:read("a")
    if f then f:close() end
  end
  if not text then return nil, missing(name) end
  local chunk, err = load(text, "@" .. origin, "t")
  if not chunk then return nil, err end
  local ok, fn = pcall(chunk)
  if not ok or type(fn) ~= "function" then
    return nil, origin .. ": a worklet must return a function" ..
      (ok and "" or ": " .. tostring(fn))
  end
  local doc, keys = {}, nil
  for line in text:gmatch("[^\n]*") do
    local comment = line:match("^%-%-%-%s?(.*)")
    if not comment then break end
    local with = comment:match("^with:%s*(.*)")
    if with then keys = {} end
    for item in (with or ""):gmatch("[^,]+") do -- "name" or "name=default"
      local key, default = item:match("^%s*([%w_]+)%s*=?%s*(.-)%s*$")
      if key then keys[key] = default ~= "" and default or true end
    end
    if not with then doc[#doc + 1] = comment end
  end
  return fn, table.concat(doc, " "), keys
end

--- A step from step("name", fn_or_worklet [, with]) or step{name =, uses =, with =};
--- nil and a message when it is malformed or its worklet does not exist.
function workflow.make_step(name, body, with)
  local spec = type(name) == "table" and name or { name = name, with = with }
  if type(body) == "function" then spec.fn = body elseif body ~= nil then spec.uses = body end
  if type(spec.name) ~= "string" or spec.name == "" then return nil, "step: a name is required" end
  if not spec.fn and type(spec.uses) ~= "string" then
    return nil, "step '" .. spec.name .. "': give a function or a worklet name"
  end
  if spec.uses and not spec.fn then
    local fn, doc, keys = workflow.worklet(spec.uses)
    if not fn then return nil, "step '" .. spec.name .. "': " .. doc end
    spec.fn, spec.description, spec.keys = fn, spec.description or doc, keys
  end
  return spec
end

-- Add a step to the workflow; its name must be new.
local function add_step(wf, s)
  if wf.names[s.name] then return nil, "step '" .. s.name .. "' is declared twice" end
  wf.steps[#wf.steps + 1], wf.names[s.name] = s, true
  return s
end

-- True when a .workflow file is not Lua but a CIJOE task (YAML with steps), as CIJOE's
-- own .workflow files are.
local function is_task(path, lua_error)
  if path:match("%.ya?ml$") then return true end
  local f = lua_error and io.open(path, "rb")
  local doc = f and require("cijoe.yaml").load(f:read("a"), path)
  if f then f:close() end
  return type(doc) == "table" and type(doc.steps) == "table"
end

--- Load a workflow: a Lua script, compiled with step() and cijoe in its environment, or a
-- CIJOE task file (*.yaml, or a .workflow that is YAML). Returns the workflow, or nil and
-- "file:line: message".
function workflow.load(path)
  local wf = { path = path, steps = {}, names = {}, chunk = function() end }
  wf.name = path:match("([^/]+)$"):gsub("%.[^.]*$", "")
  local env = setmetatable({ cijoe = cijoe }, { __index = _G })
  function env.step(...)
    local s, err = workflow.make_step(...)
    if not (s and add_step(wf, s)) then
      error(err or "step '" .. s.name .. "' is declared twice", 2)
    end
    local caller = debug.getinfo(2, "Sl")
    s.where = caller.short_src .. ":" .. caller.currentline
  end
  local chunk, err
  if not path:match("%.ya?ml$") then chunk, err = loadfile(path, "t", env) end
  if is_task(path, not chunk) then
    return require("cijoe.task").load(wf, workflow.make_step, add_step)
  end
  if not chunk then return nil, err end
  package.path = (path:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
  wf.chunk, wf.env = chunk, env
  return wf
end

-- Lint's stand-in for cijoe: no run is open, so commands and copies are refused and the
-- config is the built-in default's (every getconf gives its default).
local linting = setmetatable({
  getconf = function(key, default) return require("cijoe.config").get({}, key, default) end,
  default_transport = function() return "local" end,
}, { __index = function(_, key)
  if key == "run" or key == "run_local" or key == "put" or key == "get" or key == "each" then
    return function() error("lint runs nothing", 0) end
  end
  return cijoe[key]
end })

--- Check a workflow without running it: syntax, step names, worklets, and the `with` keys
--- of worklets that list theirs. Returns the problems found (none when it is fine). A Lua
--- workflow's top level runs to declare its steps, with commands refused.
function workflow.lint(path)
  local wf, err = workflow.load(path)
  if not wf then return { err } end
  local problems = {}
  if wf.env then
    wf.env.cijoe = linting
    local ok, msg = pcall(wf.chunk)
    if not ok and msg ~= "lint runs nothing" then problems[1] = tostring(msg) end
  end
  for _, s in ipairs(wf.steps) do
    for key, value in pairs(s.with or {}) do
      local where = (s.where or path) .. ": step '" .. s.name .. "': "
      if s.keys and not s.keys[key] then
        problems[#problems + 1] = where .. s.uses .. " takes no with." .. tostring(key)
      elseif type(value) == "function" or type(value) == "userdata" or type(key) ~= "string" then
        problems[#problems + 1] = where .. "with." .. tostring(key) .. " is not plain data"
      end
    end
  end
  return problems
end

return workflow
