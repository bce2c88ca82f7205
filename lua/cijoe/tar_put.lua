-- A new folder put to an SSH target as a tar stream: a tree of many small files costs a
-- few commands instead of several SFTP round trips per file. The walk is the tree copy's
-- own (lua/cijoe/copy.lua), so names, links, kinds and modes follow its rules; only the
-- writing differs:
--
-- - Used when the destination does not exist and the target's tar is GNU tar (asked
--   once a session); otherwise the copy is made in place, file by file, over SFTP.
-- - The tree is written into a temporary folder beside the destination and renamed to
--   it once whole (SFTP's rename, which never replaces what is there): a failed or
--   interrupted put leaves nothing under the destination's name, and the temporary
--   folder is removed.
-- - Files go in batches of about 4 MiB, each one `tar -x` on the target; a file of
--   256 KiB or more goes over SFTP between batches. Memory stays at a batch.
-- - Owners are not kept (--no-same-owner), modes are the walk's (-p), times are those of
--   the put (-m), as for a put in place.
local copy = require("cijoe.copy")
local tar = require("cijoe.tar")
local transport = require("cijoe.transport")

local tar_put = {}

local BATCH, BIG = 4 << 20, 256 << 10

-- True when the target's tar is GNU tar (what the stream's format and options want),
-- asked once a session.
local function gnu_tar(t, sess)
  if t.tar_of ~= sess then
    local log = io.tmpfile()
    local r = log and t:run("tar --version", { log = log })
    local said = r and r.err == 0 and log:seek("set") and log:read(200) or ""
    t.tar_of, t.gnu_tar = sess, said:find("GNU tar", 1, true) ~= nil
    if log then log:close() end
  end
  return t.gnu_tar
end

-- Run cmd on the target with input on its stdin; true, or nil and what it printed.
local function run(t, what, cmd, input)
  local log = io.tmpfile()
  if not log then return nil, "cannot make a temporary file for " .. what end
  local r, err = t:run(cmd, { log = log, stdin = input })
  log:seek("set")
  local said = (log:read(4000) or ""):gsub("%s+$", "")
  log:close()
  if not r then return nil, err end
  if r.err == 0 then return true end
  return nil, string.format("transport %s: %s failed (status %d)%s", t.name, what, r.err,
    said ~= "" and ": " .. said or "")
end

-- The writer of the walk: entries into the batch, named relative to the destination.
local function stream_writer(t, put_file, dst, tmp)
  local w, batch, size = {}, {}, 0
  local function rel(path) return path == dst and "." or path:sub(#dst + 2) end
  local function add(entry)
    batch[#batch + 1], size = entry, size + #entry
    if size >= BATCH then return w.flush() end
    return true
  end
  function w.flush()
    if #batch == 0 then return true end
    batch[#batch + 1] = tar.END
    local archive = table.concat(batch)
    batch, size = {}, 0
    return run(t, "extracting into " .. dst, "tar -x -f - -p -m --no-same-owner -C " ..
      transport.quote(tmp), archive)
  end
  function w.folder(path) return add(tar.folder(rel(path), 448)) end -- 0700 while filled
  function w.folder_done(path, mode) return add(tar.folder(rel(path), mode)) end
  function w.link(path, target) return add(tar.link(rel(path), target)) end
  function w.file(src, path, st)
    if (st.size or 0) >= BIG then
      local ok, err = w.flush() -- its folder is made
      if not ok then return nil, err end
      return put_file(src, tmp .. "/" .. rel(path), st.mode)
    end
    local f, err = io.open(src, "rb")
    if not f then return nil, err end
    local data, rerr = f:read("a")
    f:close()
    if not data then return nil, src .. ": " .. tostring(rerr) end
    return add(tar.file(rel(path), st.mode, data))
  end
  return w
end

--- Put the local folder src (its stat st) as the new folder dst on SSH transport t, whose
--- SFTP side is there and file copier put_file; opts as for copy.walk. Returns the
--- stats, nil and why, or false when the target has no GNU tar (copy in place then).
function tar_put.put(t, sess, there, put_file, src, st, dst, opts)
  if not gnu_tar(t, sess) then return false end
  local tmp = copy.temporary(dst)
  local ok, err = there:mkdir(tmp, 448)
  if not ok then return nil, copy.said_as(err, tmp, dst) end
  local w = stream_writer(t, put_file, dst, tmp)
  local stats, werr = copy.walk(require("cijoe.transport_local").disk, src, st, dst, w, opts)
  if stats then ok, werr = w.flush() end
  if stats and ok then ok, werr = there:rename(tmp, dst) end
  if stats and ok then return stats end
  run(t, "removing " .. tmp, "chmod -R u+w " .. transport.quote(tmp) .. "; rm -rf " ..
    transport.quote(tmp))
  return nil, copy.said_as(werr, tmp, dst)
end

return tar_put
