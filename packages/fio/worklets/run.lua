--- Run fio on the target with the options of `with` (name, filename, rw, bs, iodepth, size,
--- runtime, time_based, numjobs, ioengine, direct, verify, extra; or jobfile, a local job
--- file) and keep its JSON output as artifacts/fio-<name>.json of the step.
local fio = require("fio")

-- The keys of `with` that are joe's (for cijoe.run), not fio's.
local RUN_OPTS = { transport = true, cwd = true, env = true, timeout = true, monitor = true }

-- A step fails on fio's nonzero status, or with the message when fio could not be run or
-- its output not read (a bare `nil, msg` would count as success).
return function(args)
  local opts, run_opts = {}, {}
  for key, value in pairs(args) do
    if RUN_OPTS[key] then run_opts[key] = value elseif key ~= "jobfile" then opts[key] = value end
  end
  local err, result
  if args.jobfile then
    err, result = fio.run_jobfile(args.jobfile, run_opts)
  else
    err, result = fio.run(opts, run_opts)
  end
  if err == nil then return false, result end
  return err
end
