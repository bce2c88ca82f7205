-- The one tree copy: put and get of every transport walk a file or folder with it, so
-- names, links, modes and failures are handled the same way everywhere.
--
-- - The source operand is followed when it is a link (as cp -H and scp do: you named
--   it); inside a folder a link is made again as a link with the same target, never
--   followed, so a link cannot pull /etc into a copy.
-- - A name in a listing that is empty, ".", ".." or holds "/" or NUL is refused, as
--   OpenSSH's sftp does: it could not have come from a real folder.
-- - Each file is written to a temporary name beside its destination and renamed over it
--   when complete: a failed or interrupted copy leaves the old file whole and no
--   truncated one under the final name. A link found where a folder is to be written
--   into is refused (never written through); a file or link in the way is replaced.
-- - Modes are kept without the setuid and setgid bits (keep_setuid keeps them); owners
--   are never copied. A folder is made 0700 while it is filled, then gets its mode.
-- - Other kinds of entries (devices, sockets, fifos) are an error: they cannot be copied.
--
-- The walk hands each entry to a writer: in place (above), or for a new folder on an
-- SSH target with GNU tar, a tar stream into a temporary folder (lua/cijoe/tar_put.lua).
--
-- A side is this machine or a target: an object with lstat, stat, list (entries with
-- name, type, mode, size), mkdir, readlink, symlink(path, target), rename (over what is
-- there), remove, setmode, all returning nil and a message on failure. The file copier
-- moves one file's bytes to a temporary path of the destination side.
local copy = {}

-- True when a name from a listing cannot be a real entry of a folder.
local function bad_name(name)
  return type(name) ~= "string" or name == "" or name == "." or name == ".."
    or name:find("[/%z]") ~= nil
end

-- A fresh name beside path for what is being written there.
local function temporary(path)
  local dir, base = path:match("^(.*/)([^/]*)$")
  return string.format("%s.joe-%d-%08x-%s", dir or "", require("cijoe.proc").pid(),
    math.random(0, 0x7fffffff), (base or path):sub(1, 180))
end

-- err with the temporary name tmp said as the destination dst: what failed is the
-- copy to dst, and the temporary file is gone.
local function said_as(err, tmp, dst)
  local at = tostring(err):find(tmp, 1, true)
  if not at then return err end
  return err:sub(1, at - 1) .. dst .. err:sub(at + #tmp)
end

-- A file: its bytes to a temporary name, then renamed over the destination.
local function copy_file(job, src, dst, st)
  local tmp = temporary(dst)
  local ok, err = job.file(src, tmp, st.mode, st.size)
  if ok then ok, err = job.dst:rename(tmp, dst) end
  if not ok then
    job.dst:remove(tmp)
    return nil, said_as(err, tmp, dst)
  end
  return true
end

-- A link: made again with the same target, by a temporary name renamed over dst.
local function copy_link(job, dst, target)
  local tmp = temporary(dst)
  local ok, lerr = job.dst:symlink(tmp, target)
  if ok then ok, lerr = job.dst:rename(tmp, dst) end
  if not ok then
    job.dst:remove(tmp)
    return nil, lerr
  end
  return true
end

-- The folder dst, made when missing; a link or a file there is refused.
local function folder(job, dst)
  local d = job.dst:lstat(dst)
  if d and d.type == "link" then
    return nil, dst .. ": is a link; joe does not write through links"
  elseif d and d.type ~= "directory" then
    return nil, dst .. ": exists and is not a folder"
  elseif d then
    return true
  end
  return job.dst:mkdir(dst, 448) -- 0700 while it is filled
end

local walk_entry

-- The in-place writer: each file and link to a temporary name beside its destination,
-- renamed over it once whole, and folders made (or found) in place.
--- The writer that copies in place onto side to, file bytes by file(src, tmp, mode, size).
function copy.in_place(to, file)
  local job, out = { dst = to, file = file }, {}
  function out.file(src, dst, st) return copy_file(job, src, dst, st) end
  function out.link(dst, target) return copy_link(job, dst, target) end
  function out.folder(dst) return folder(job, dst) end
  function out.folder_done(dst, mode) return job.dst:setmode(dst, mode) end
  return out
end

-- A folder: opened in the writer, its entries in name order, then its mode.
local function walk_dir(job, src, dst, st)
  local ok, err = job.out.folder(dst)
  if not ok then return nil, err end
  local entries, lerr = job.src:list(src)
  if not entries then return nil, lerr end
  table.sort(entries, function(a, b) return tostring(a.name) < tostring(b.name) end)
  for _, e in ipairs(entries) do
    if bad_name(e.name) then
      return nil, string.format("%s: the listing holds the name %q, which no folder can; " ..
        "refusing it", src, tostring(e.name))
    end
    ok, err = walk_entry(job, src .. "/" .. e.name, dst .. "/" .. e.name, e)
    if not ok then return nil, err end
  end
  job.stats.folders = job.stats.folders + 1
  return job.out.folder_done(dst, st.mode & job.mask)
end

function walk_entry(job, src, dst, st)
  if st.type == "directory" then return walk_dir(job, src, dst, st) end
  local ok, err
  if st.type == "link" then
    local target, rerr = job.src:readlink(src)
    if not target then return nil, rerr end
    ok, err = job.out.link(dst, target)
    job.stats.links = job.stats.links + (ok and 1 or 0)
  elseif st.type == "file" then
    ok, err = job.out.file(src, dst, { mode = st.mode & job.mask, size = st.size })
    job.stats.files, job.stats.bytes = job.stats.files + (ok and 1 or 0),
      job.stats.bytes + (ok and st.size or 0)
  else
    return nil, src .. ": not a file, folder or link (a device, socket or fifo): cannot be copied"
  end
  return ok, err
end

--- Where a copy of src (of side from) goes on side to: the source's stat (a link named
--- is followed), the destination (dst, or dst/<src's name> when dst is a folder, as cp -R
--- and scp) and what lstat says is there now (nil when nothing); or nil and why.
function copy.destination(from, src, to, dst)
  local base = src:match("([^/]+)/*$")
  if not base then return nil, src .. ": give a file or a folder below /" end
  local st, err = from:stat(src)
  if not st then return nil, err end
  local d = to:stat(dst)
  if d and d.type == "directory" then dst = dst:gsub("/+$", "") .. "/" .. base end
  return st, dst, to:lstat(dst)
end

--- Walk src (of side from, whose stat is st) into dst through the writer out: a table
--- of folder(dst), folder_done(dst, mode), file(src, dst, {mode, size}) and
--- link(dst, target), each returning true or nil and why. Modes come masked
--- (opts.keep_setuid keeps setuid and setgid bits). Returns the stats {files, folders,
--- links, bytes}, or nil and what went wrong.
function copy.walk(from, src, st, dst, out, opts)
  local job = { src = from, out = out, mask = (opts or {}).keep_setuid and 4095 or 1023,
    stats = { files = 0, folders = 0, links = 0, bytes = 0 } }
  local ok, err = walk_entry(job, src, dst, st)
  if not ok then return nil, err end
  return job.stats
end

--- Copy src of side `from` to dst of side `to` in place, moving file bytes with
--- file(src, tmp, mode, size); dst as for copy.destination, opts as for copy.walk.
function copy.tree(from, src, to, dst, file, opts)
  local st, final = copy.destination(from, src, to, dst)
  if not st then return nil, final end
  return copy.walk(from, src, st, final, copy.in_place(to, file), opts)
end

copy.temporary, copy.said_as = temporary, said_as

return copy
