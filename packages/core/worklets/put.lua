--- Copy with.src (a file or directory on this machine) to with.dst on the target.
--- with: src, dst, transport
return function(args, cijoe)
  if type(args.src) ~= "string" or type(args.dst) ~= "string" then
    return false, "with.src and with.dst are required"
  end
  local ok, msg = cijoe.put(args.src, args.dst, { transport = args.transport })
  if not ok then return false, msg end
end
