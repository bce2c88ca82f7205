-- CIJOE task files: `doc` and `steps`, each a `name` with `run:` (commands, one per line,
-- a trailing backslash joining the next) or `uses:` and `with:`, turned into the steps of
-- a workflow so that they run through the same engine as Lua workflows. As in CIJOE, the
-- strings of run: and with: are Jinja templates ({{ config.a.b }}, {{ local.env.HOME }};
-- the subset of cijoe.template), checked when the file loads and rendered with the run's
-- config when the step runs; `transport: initiator` (CIJOE's name for this machine) is
-- joe's `local`. A string without "{" is taken as written.
local yaml = require("cijoe.yaml")
local template = require("cijoe.template")
local cijoe = require("cijoe")

local task = {}
local STEP_KEYS = { name = true, run = true, uses = true, with = true }
local ENV = setmetatable({}, { __index = function(_, name) return os.getenv(name) end })

--- The commands of a `run:` block.
function task.commands(text)
  local cmds, pending = {}, ""
  for line in (text .. "\n"):gmatch("(.-)\n") do
    if line:match("\\$") then
      pending = pending .. line:sub(1, -2)
    else
      if (pending .. line):match("%S") then cmds[#cmds + 1] = pending .. line end
      pending = ""
    end
  end
  return cmds
end

-- A copy of v with each of its strings that holds "{" rendered in ctx; nil and "path:
-- problem" at the first that cannot be.
local function rendered(v, ctx, path)
  if type(v) == "string" and v:find("{", 1, true) then
    local out, err = template.render(v, ctx)
    if not out then return nil, path .. ": " .. err end
    return out
  end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    local r, err = rendered(x, ctx, path .. "." .. tostring(k))
    if r == nil and err then return nil, err end
    out[k] = r
  end
  return out
end

-- The `with` of a step rendered with the run's config, initiator as local; or nil and
-- the message.
local function arguments(with, where)
  local ctx = { config = cijoe.config or {}, ["local"] = { env = ENV }, resources = {} }
  local args, err = rendered(with or {}, ctx, "with")
  if not args then return nil, where .. ": " .. err end
  if args.transport == "initiator" then args.transport = "local" end
  return args, ctx
end

-- A step function that runs the commands in order and stops at the first failure; as in
-- CIJOE, `with: {transport: name}` picks where they run.
local function runner(text, with, where)
  return function()
    local args, ctx = arguments(with, where)
    if not args then return false, ctx end
    local script, err = rendered(text, ctx, "run")
    if not script then return false, where .. ": " .. err end
    for _, cmd in ipairs(task.commands(script)) do
      local status, msg = cijoe.run(cmd, { transport = args.transport })
      if status ~= 0 then return status, status == nil and msg or nil end
    end
  end
end

-- A worklet's function called with the step's `with` rendered.
local function with_rendered(fn, with, where)
  return function(_, cj)
    local args, err = arguments(with, where)
    if not args then return false, err end
    return fn(args, cj)
  end
end

-- What is wrong with step entry i of list, if anything: the problem and where it is.
local function check(list, i)
  local s = list[i]
  if type(s) ~= "table" or #s > 0 then return "step " .. i .. " must be a mapping", list, i end
  for key in pairs(s) do
    if not STEP_KEYS[key] then
      return "step " .. i .. ": unknown key '" .. tostring(key) .. "'", s, key
    end
  end
  if type(s.name) ~= "string" then return "step " .. i .. " needs a name", list, i end
  if (s.run == nil) == (s.uses == nil) then
    return "step '" .. s.name .. "' needs run: or uses:", s, "name"
  end
  if s.with ~= nil and (type(s.with) ~= "table" or #s.with > 0) then
    return "with: must be a mapping", s, "with"
  end
end

-- The line of the file where the text of t[k] begins: after the | or > of a block scalar.
local function text_line(d, t, k)
  local line, col = ((d.marks[t] or {})[k] or "1:1"):match("(%d+):(%d+)")
  line, col = tonumber(line), tonumber(col)
  local indicator = (d.lines[line] or ""):sub(col, col)
  return (indicator == "|" or indicator == ">") and line + 1 or line
end

-- Check the templates in t[k] (a string, or the strings inside a table), adding each
-- problem as "file:line: step 'name': key: column N: what" to d.problems.
local function check_templates(d, t, k, s, path)
  local v = t[k]
  if type(v) == "table" then
    for key in pairs(v) do check_templates(d, v, key, s, path .. "." .. tostring(key)) end
  elseif type(v) == "string" and v:find("{", 1, true) then
    local ok, err, line = template.check(v)
    if not ok then
      d.problems[#d.problems + 1] = string.format("%s:%d: step '%s': %s: %s", d.path,
        text_line(d, t, k) + line - 1, s.name, path, (err:gsub("^line %d+, ", "")))
    end
  end
end

-- Make and add the step of entry s; nil and the message when its worklet is unknown.
local function add(d, wf, s, make_step, add_step)
  local where = wf.path .. ":" .. (d.marks[d.list][d.i] or "1:1"):match("^%d+")
  local body = s.run and runner(tostring(s.run), s.with, where) or s.uses
  local step, serr = make_step(s.name, body, s.with)
  if step then step, serr = add_step(wf, step) end
  if not step then return nil, serr end
  if s.uses then step.fn = with_rendered(step.fn, s.with, where) end
  step.run, step.where = s.run, where
  return step
end

--- Fill the workflow wf from its task file; nil and "file:line:column: problem" for a
--- malformed one or an unknown worklet ("file:line: ..." lines for templates that joe
--- cannot render, all of them).
function task.load(wf, make_step, add_step)
  local f, err = io.open(wf.path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local doc, marks = yaml.load(text, wf.path)
  if doc == nil and type(marks) == "string" then return nil, marks end
  local function bad(t, key, problem)
    return nil, wf.path .. ":" .. (marks[t] and marks[t][key] or "1:1") .. ": " .. problem
  end
  if type(doc) ~= "table" or type(doc.steps) ~= "table" then
    return bad(doc, "steps", "a task file needs a list of steps")
  end
  wf.description = doc.doc
  local d = { path = wf.path, marks = marks, problems = {}, lines = {}, list = doc.steps }
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do d.lines[#d.lines + 1] = line end
  for i, s in ipairs(doc.steps) do
    local problem, t, key = check(doc.steps, i)
    if problem then return bad(t, key, problem) end
    check_templates(d, s, "run", s, "run")
    check_templates(d, s, "with", s, "with")
    d.i = i
    local step, serr = add(d, wf, s, make_step, add_step)
    if not step then return bad(s, s.uses and "uses" or "name", serr) end
  end
  if #d.problems > 0 then return nil, table.concat(d.problems, "\n") end
  return wf
end

return task
