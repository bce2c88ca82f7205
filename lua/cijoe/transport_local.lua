-- This machine as a transport: commands through cijoe.proc (sh -c in a process group of
-- its own), files through the tree copy with this machine on both sides.
local copy = require("cijoe.copy")
local fs = require("cijoe.fs")
local proc = require("cijoe.proc")
local transport = require("cijoe.transport")

local T = { name = "local" }

--- This machine's files as a side of the tree copy (see cijoe.copy).
local disk = {}
function disk.stat(_, path) return fs.stat(path) end
function disk.lstat(_, path) return fs.lstat(path) end
function disk.readlink(_, path) return fs.readlink(path) end
function disk.symlink(_, path, target) return fs.symlink(target, path) end
function disk.rename(_, from, to) return os.rename(from, to) end
function disk.remove(_, path) return os.remove(path) end
function disk.setmode(_, path, mode) return fs.chmod(path, mode) end
function disk.mkdir(_, path, mode) return fs.mkdir(path, false, mode) end

-- The entries of a folder with what lstat says of each.
function disk.list(_, path)
  local names, err = fs.dir(path)
  if not names then return nil, err end
  local entries = {}
  for i, name in ipairs(names) do
    local st, serr = fs.lstat(path .. "/" .. name)
    if not st then return nil, serr end
    st.name, entries[i] = name, st
  end
  return entries
end
T.disk = disk

--- Copy the bytes of local file src into the new file tmp with mode: the file copier
--- of local copies (and the local half of a transfer's temporary file).
function T.copy_file(src, tmp, mode)
  local input, err = io.open(src, "rb")
  if not input then return nil, err end
  local output, oerr = fs.create(tmp, 384) -- 0600 until it is whole
  if not output then
    input:close()
    return nil, oerr
  end
  local ok, werr = true, nil
  for block in input:lines(1 << 20) do
    ok, werr = output:write(block)
    if not ok then break end
  end
  input:close()
  local closed, cerr = output:close()
  if ok and closed then return fs.chmod(tmp, mode) end
  return nil, tmp .. ": " .. tostring(werr or cerr)
end

--- Run cmd with sh -c; the env goes into the shell's environment, not its command line,
--- so ps does not show the values. See cijoe.transport for the result.
function T:run(cmd, opts)
  local env = {}
  for i, pair in ipairs(opts.env or {}) do env[i] = pair[1] .. "=" .. pair[2] end
  local status, why, log_error = proc.run(transport.prefixed(cmd, opts.cwd), { log = opts.log,
    timeout = opts.timeout, monitor = opts.monitor, env = env })
  if status == nil then return nil, why end
  return transport.result(status, why, log_error)
end

--- Copy a local file or folder to dst on this machine.
function T:put(src, dst, opts)
  return copy.tree(disk, src, disk, dst, T.copy_file, opts)
end
T.get = T.put

--- Nothing to close for this machine.
function T:close() end

return T
