--- CIJOE's "Hello, World!" example script as a worklet: echo the message of the config
--- (example.message, default "Hello World!") with.repeat times (default 1), and check
--- that the command printed it. CIJOE's example_task_default.yaml uses it.
--- with: repeat, transport
return function(args, cijoe)
  local times = math.tointeger(tonumber(args["repeat"] or 1))
  if not times or times < 1 then
    return false, "with.repeat must be a whole number of at least 1, not " ..
      tostring(args["repeat"])
  end
  local message = tostring(cijoe.getconf("example.message", "Hello World!"))
  for _ = 1, times do
    local err, st = cijoe.run("echo " .. cijoe.quote(message), { transport = args.transport })
    if err ~= 0 then return err or false, err == nil and st or nil end
    if not st:output():find(message, 1, true) then
      return false, "the command did not print the message"
    end
  end
end
