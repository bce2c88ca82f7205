-- The output directory of a run: a fresh folder per run, one folder per step (made when
-- the step first logs something), a log and a state file per command.
local fs = require("cijoe.fs")
local yaml = require("cijoe.yaml")

local output = { dir = nil, step = 0, cmd = 0 }

--- A name that is safe as one path component.
function output.safe_name(name)
  return (tostring(name):gsub("[^%w._-]", "_"))
end

-- Claim cijoe-output/<timestamp>-<name>[-N]: mkdir without parents fails on an existing
-- directory, so two runs never share one.
local function claim_default(name)
  local ok, msg = fs.mkdir("cijoe-output", true)
  if not ok then return nil, msg end
  local base = os.date("%Y%m%d-%H%M%S-") .. output.safe_name(name)
  for i = 1, 10000 do
    local leaf = i == 1 and base or base .. "-" .. i
    local made, err, code = fs.mkdir("cijoe-output/" .. leaf)
    if made then
      fs.symlink(leaf, "cijoe-output/latest")
      return "cijoe-output/" .. leaf
    elseif code ~= 17 then
      return nil, err
    end
  end
  return nil, "cijoe-output: no free directory name for " .. base
end

--- Start a run in dir (from -o) or in a fresh default directory named after name.
--- Returns the directory, or nil and a message.
function output.open(dir, name)
  local path, msg = dir, nil
  if dir then
    local ok, err = fs.mkdir(dir, true)
    if not ok then return nil, err end
    if fs.stat(dir .. "/workflow.state") then
      return nil, dir .. ": holds an earlier run; refusing to overwrite it"
    end
  else
    path, msg = claim_default(name)
    if not path then return nil, msg end
  end
  output.dir, output.step, output.cmd, output.step_dir = path, 0, 0, nil
  return path
end

--- Begin step number `number` (default: the next one); its folder is made on first use.
function output.begin_step(name, number)
  output.step = number or output.step + 1
  output.step_dir = string.format("%s/%03d_%s", output.dir, output.step, output.safe_name(name))
  output.step_made = false
  output.cmd = 0
  return output.step_dir
end

--- The current step's folder, made if needed; with sub, a folder inside it.
function output.step_path(sub)
  if not output.step_made then
    local ok, msg = fs.mkdir(output.step_dir, true)
    if not ok then return nil, msg end
    output.step_made = true
  end
  if not sub then return output.step_dir end
  local path = output.step_dir .. "/" .. sub
  local ok, msg = fs.mkdir(path, true)
  if not ok then return nil, msg end
  return path
end

--- The log and state paths of the next command of the current step.
function output.next_command()
  local dir, msg = output.step_path()
  if not dir then return nil, msg end
  output.cmd = output.cmd + 1
  local base = string.format("%s/cmd_%02d", dir, output.cmd)
  return base .. ".output", base .. ".state"
end

--- Write a value as YAML; with atomic, through a temporary file and rename, so readers
--- never see half a file. Returns true or nil, message.
function output.write_yaml(path, value, atomic)
  local target = atomic and path .. ".tmp" or path
  local f, msg = io.open(target, "wb")
  if not f then return nil, msg end
  local ok, err = f:write(yaml.dump(value))
  local closed, cerr = f:close()
  if not ok or not closed then
    if atomic then os.remove(target) end -- no half-written temporary left behind
    return nil, target .. ": " .. tostring(err or cerr)
  end
  if atomic then return os.rename(target, path) end
  return true
end

return output
