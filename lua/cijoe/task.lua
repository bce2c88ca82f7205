-- CIJOE task files: `doc` and `steps`, each a `name` with `run:` (commands, one per line,
-- a trailing backslash joining the next) or `uses:` and `with:`, turned into the steps of
-- a workflow so that they run through the same engine as Lua workflows.
local yaml = require("cijoe.yaml")
local cijoe = require("cijoe")

local task = {}
local STEP_KEYS = { name = true, run = true, uses = true, with = true }

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

-- A step function that runs the commands in order and stops at the first failure; as in
-- CIJOE, `with: {transport: name}` picks where they run.
local function runner(cmds, with)
  return function()
    for _, cmd in ipairs(cmds) do
      local err, msg = cijoe.run(cmd, { transport = with and with.transport })
      if err ~= 0 then return err, err == nil and msg or nil end
    end
  end
end

-- What is wrong with step entry i of list, if anything: the problem and where it is.
local function check(list, i)
  local s = list[i]
  if type(s) ~= "table" or #s > 0 then return "step " .. i .. " must be a mapping", list, i end
  for key in pairs(s) do
    if not STEP_KEYS[key] then return "step " .. i .. ": unknown key '" .. tostring(key) .. "'", s, key end
  end
  if type(s.name) ~= "string" then return "step " .. i .. " needs a name", list, i end
  if (s.run == nil) == (s.uses == nil) then return "step '" .. s.name .. "' needs run: or uses:", s, "name" end
  if s.with ~= nil and (type(s.with) ~= "table" or #s.with > 0) then return "with: must be a mapping", s, "with" end
end

--- Fill the workflow wf from its task file; nil and "file:line:column: problem" for a
--- malformed one or an unknown worklet.
function task.load(wf, make_step, add_step)
  local f, err = io.open(wf.path, "rb")
  if not f then return nil, err end
  local doc, marks = yaml.load(f:read("a"), wf.path)
  f:close()
  if doc == nil and type(marks) == "string" then return nil, marks end
  local function bad(t, key, text)
    return nil, wf.path .. ":" .. (marks[t] and marks[t][key] or "1:1") .. ": " .. text
  end
  if type(doc) ~= "table" or type(doc.steps) ~= "table" then return bad(doc, "steps", "a task file needs a list of steps") end
  wf.description = doc.doc
  for i, s in ipairs(doc.steps) do
    local problem, t, key = check(doc.steps, i)
    if problem then return bad(t, key, problem) end
    local step, serr = make_step(s.name, s.run and runner(task.commands(tostring(s.run)), s.with) or s.uses, s.with)
    if step then step, serr = add_step(wf, step) end
    if not step then return bad(s, s.uses and "uses" or "name", serr) end
    step.run, step.where = s.run, wf.path .. ":" .. (marks[doc.steps][i] or "1:1"):match("^%d+")
  end
  return wf
end

return task
