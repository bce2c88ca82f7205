-- Tar archives in GNU's format, written for the tree copy's stream to a target whose tar
-- is GNU tar (lua/cijoe/tar_put.lua): folders, files and symbolic links only, owned by
-- uid 0 (the extracting tar is told not to keep owners), names of any length (GNU's
-- long-name entries, which carry any bytes, where pax headers would want UTF-8).
-- Written here because what is needed is 60 lines and Debian packages no Lua tar
-- writer. It writes only what joe's own walk gives it (not input from a peer); what
-- GNU tar makes of it is checked through a real sshd in spec/test_copy.lua.
local tar = {}

local BLOCK = 512
-- The header's fields: name, mode, uid, gid, size, mtime, checksum, type, link name,
-- magic and version ("ustar  \0": GNU's), user and group names, device numbers, rest.
local LAYOUT = "c100c8c8c8c12c12c8c1c100c6c2c32c32c8c8c167"
local MAX_SIZE = 8 ^ 11 - 1 -- what 11 octal digits hold

--- The two empty blocks that end an archive.
tar.END = string.rep("\0", 2 * BLOCK)

local function octal(n, width)
  return string.format("%0" .. (width - 1) .. "o", n) .. "\0"
end

-- Zeros up to the next block boundary after n bytes.
local function padding(n)
  return string.rep("\0", -n % BLOCK)
end

-- The sum of the bytes of the strings given.
local function bytesum(...)
  local sum = 0
  for i = 1, select("#", ...) do
    local s = select(i, ...)
    for k = 1, #s do sum = sum + s:byte(k) end
  end
  return sum
end

-- What the fields that are the same in every header add to its checksum: the checksum
-- field itself counted as spaces, uid, gid and mtime, the magic and version.
local FIXED = bytesum("        ", octal(0, 8), octal(0, 8), octal(0, 12), "ustar ", " \0")

-- One header block; name and link are cut to their fields (a long-name entry before it
-- carries the whole). The checksum adds up the fields that vary instead of the whole
-- block: a tree of small files has two headers per file.
local function block(name, flag, mode, size, link)
  name, link = name:sub(1, 100), link:sub(1, 100)
  local m, n = octal(mode, 8), octal(size, 12)
  local sum = FIXED + bytesum(name, m, n, flag, link)
  return string.pack(LAYOUT, name, m, octal(0, 8), octal(0, 8), n, octal(0, 12),
    string.format("%06o\0 ", sum), flag, link, "ustar ", " \0", "", "", "", "", "")
end

-- GNU's long-name entry (flag L for a name, K for a link's target) when text is too long
-- for its field.
local function long(flag, text)
  if #text <= 100 then return "" end
  local data = text .. "\0"
  return block("././@LongLink", flag, 0, #data, "") .. data .. padding(#data)
end

-- The header of an entry, after the long-name entries it needs.
local function header(name, flag, mode, size, link)
  return long("L", name) .. long("K", link) .. block(name, flag, mode, size, link)
end

--- A folder's entry (name without a trailing slash, "." for the archive's root).
function tar.folder(name, mode)
  return header(name .. "/", "5", mode, 0, "")
end

--- A regular file's entry with its bytes.
function tar.file(name, mode, data)
  assert(#data <= MAX_SIZE, "tar.file: too big for one entry")
  return header(name, "0", mode, #data, "") .. data .. padding(#data)
end

--- A symbolic link's entry.
function tar.link(name, target)
  return header(name, "2", 511, 0, target)
end

return tar
