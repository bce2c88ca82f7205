-- joe convert CONFIG.toml [OUT.yaml]: a CIJOE TOML config written as the YAML config that
-- joe reads the same way: CIJOE's keys moved to joe's (the warnings say what joe ignores),
-- {{ local.env.X }} written as ${X}, so the YAML reads the environment when it loads, as
-- the TOML did.
local cijoe_toml = require("cijoe.cijoe_toml")
local config = require("cijoe.config")
local yaml = require("cijoe.yaml")

local convert = {}

-- Say msg on stderr and return the exit status for bad input.
local function bad(msg)
  io.stderr:write("joe: ", msg, "\n")
  return 2
end

-- The text of path, or nil and why not (a config is small: the loader's bound holds).
local function read(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text, rerr = f:read(config.MAX_SIZE + 1)
  f:close()
  if text and #text > config.MAX_SIZE then return nil, path .. ": that is no config" end
  return text or "", rerr
end

--- The YAML text for a CIJOE config's text (file names it in messages), and the
--- warnings; or nil and "file:line:column: problem".
function convert.to_yaml(text, file)
  local ok, root, _, warnings = pcall(cijoe_toml.load, text, file, { env_as_variables = true })
  if not ok then
    if type(root) == "table" and root.config_error then return nil, root.config_error end
    error(root, 0)
  end
  local head = "# " .. file:match("[^/]*$") .. " (CIJOE) as joe's YAML config, written by " ..
    "joe convert\n"
  return head .. yaml.dump(root), warnings
end

--- joe convert CONFIG.toml [OUT.yaml]: the YAML on stdout, or into OUT.yaml (never over
--- a file that exists). Returns the exit status: 0, or 2 for bad input.
function convert.main(_, args)
  if #args < 1 or #args > 2 or not args[1]:match("%.toml$") then
    return bad("usage: joe convert CONFIG.toml [OUT.yaml]")
  end
  local fs = require("cijoe.fs")
  if args[2] and fs.stat(args[2]) then
    return bad(args[2] .. ": exists (joe convert writes a new file only)")
  end
  local text, err = read(args[1])
  if not text then return bad(err) end
  local out, warnings = convert.to_yaml(text, args[1])
  if not out then return bad(warnings) end
  for _, w in ipairs(warnings) do config.warn(w) end
  if not args[2] then
    io.stdout:write(out)
    return 0
  end
  local f, ferr = fs.create(args[2])
  if not f then return bad(ferr) end
  f:write(out)
  f:close()
  print("wrote " .. args[2])
  return 0
end

return convert
