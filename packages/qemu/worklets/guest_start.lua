--- Start a QEMU guest (with.guest, default "default") and wait until its SSH transport
--- answers (with.timeout seconds, default 120); a guest that does not answer is killed,
--- and the step fails with the tail of its console.
local qemu = require("qemu")

-- A guest that never answers is killed, so no qemu is left behind by a failed step.
return function(args)
  local guest, msg = qemu.guest(args.guest or "default")
  if not guest then return false, msg end
  local ok, err = guest:start({ extra_args = args.extra_args })
  if not ok then return false, err end
  ok, err = guest:wait_up(args.timeout or 120)
  if not ok then
    guest:kill()
    return false, err
  end
end
