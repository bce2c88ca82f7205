-- fio.decode never raises; it returns a table, or nil and a message naming the file, and
-- a "file:line:column" in it is a line of the file, or the end of it (fio's messages
-- around the JSON are kept as blank lines).
local fio = require("fio")

-- The lines of data as YAML counts them: CR LF, CR, LF, NEL, LS and PS end a line.
local function lines(data)
  local ends = data:find("[\r\n]$") or data:find("\xC2\x85$") or data:find("\xE2\x80[\xA8\xA9]$")
  local n, count = 0, 0
  for _, br in ipairs({ "\r\n", "[\r\n]", "\xC2\x85", "\xE2\x80[\xA8\xA9]" }) do
    data, count = data:gsub(br, "")
    n = n + count
  end
  return ends and n or n + 1
end

return function(data)
  local doc, err = fio.decode(data, "fio.json")
  if doc ~= nil then
    assert(type(doc) == "table", "decoded to a " .. type(doc))
    return
  end
  assert(type(err) == "string" and err:match("^fio%.json:"), "bad error: " .. tostring(err))
  local line = tonumber(err:match("^fio%.json:(%d+):%d+: "))
  assert(not line or line <= lines(data) + 1, "line " .. tostring(line) .. " is past the end: " .. err)
end
