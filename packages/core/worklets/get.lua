--- Copy with.src (a file or directory on the target) to with.dst on this machine; a
--- relative with.dst lands in the step's artifacts folder.
--- with: src, dst, transport
return function(args, cijoe)
  if type(args.src) ~= "string" or type(args.dst) ~= "string" then
    return false, "with.src and with.dst are required"
  end
  local ok, msg = cijoe.get(args.src, args.dst, { transport = args.transport })
  if not ok then return false, msg end
end
