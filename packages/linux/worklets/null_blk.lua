--- Insert (with.do = "insert", the default) or remove (with.do = "remove") the null_blk
--- kernel module, with the module parameters of linux.null_blk in the config overridden by
--- those of `with` (nr_devices, gb, bs, queue_mode, ...). Skipped, with the reason, on a
--- target where the module does not exist.
local linux = require("linux")

-- The keys of `with` that are not module parameters.
local OURS = { ["do"] = true, action = true, transport = true }

-- The module parameters of `with`: everything but our own keys.
local function module_params(args)
  local params = {}
  for k, v in pairs(args) do
    if not OURS[k] then params[k] = v end
  end
  return params
end

-- Returns "skip" and the reason where modinfo does not know null_blk (see DESIGN.md).
return function(args)
  local action = args["do"] or args.action or "insert"
  if action ~= "insert" and action ~= "remove" then
    error("linux.null_blk: with.do must be \"insert\" or \"remove\", not " .. tostring(action))
  end
  local run_opts = { transport = args.transport }
  local has, why = linux.has_module("null_blk", run_opts)
  if has == nil then return false, why end
  if not has then
    return "skip", "the null_blk kernel module cannot be found on the target (" .. why .. ")"
  end
  local err, msg
  if action == "remove" then
    err, msg = linux.null_blk_remove(run_opts)
  else
    err, msg = linux.null_blk_insert(module_params(args), run_opts)
  end
  if err == nil then return false, msg end
  return err
end
