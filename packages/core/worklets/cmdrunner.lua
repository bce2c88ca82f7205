--- Run commands one at a time on the default transport (or with.transport), stopping at
--- the first that fails. with.commands is a list, or a string with one command per line.
--- with: commands, transport
return function(args, cijoe)
  local cmds = args.commands
  if type(cmds) == "string" then cmds = require("cijoe.task").commands(cmds) end
  if type(cmds) ~= "table" then return false, "with.commands: give a list of commands" end
  for _, cmd in ipairs(cmds) do
    local err, msg = cijoe.run(tostring(cmd), { transport = args.transport })
    if err ~= 0 then return err or false, err == nil and msg or nil end
  end
end
