-- ssh_config.resolve of any file never raises: it gives settings of the right types, or
-- a message that names the file and a line of it; parse_jump of any line never raises
-- and gives hosts with names and ports in range. `exec` and `Include` are turned into
-- harmless words first: the fuzzer must not run commands or glob the whole disk.
local ssh_config = require("cijoe.ssh_config")

-- On tmpfs, as rewriting a file on ext4 flushes it at close (auto_da_alloc): milliseconds.
local tmp = os.tmpname()
os.remove(tmp)
local path = "/dev/shm/" .. tmp:match("[^/]+$")

-- Check a resolved result.
local function check_result(r)
  assert(type(r.hostname) == "string" and r.hostname ~= "", "bad hostname")
  assert(math.type(r.port) == "integer" and r.port >= 1 and r.port <= 65535, "bad port")
  assert(type(r.user) == "string", "bad user")
  for _, list in ipairs({ r.identity_files, r.user_known_hosts_files }) do
    for _, file in ipairs(list) do assert(type(file) == "string", "bad file list") end
  end
  for key, at in pairs(r.where) do
    if type(at) == "string" then assert(at:find("^.+:%d+$"), key .. " at " .. at) end
  end
  if r.proxy_jump then assert(ssh_config.parse_jump(r.proxy_jump), "bad proxy_jump") end
end

-- Check parse_jump on one line.
local function check_jump(line)
  local hops, err = ssh_config.parse_jump(line)
  if not hops then return assert(type(err) == "string", "no message") end
  for _, hop in ipairs(hops) do
    assert(type(hop.host) == "string" and hop.host ~= "", "hop without host")
    assert(hop.port == nil or (hop.port >= 1 and hop.port <= 65535), "hop port")
  end
end

return function(data)
  data = data:gsub("[Ee][Xx][Ee][Cc]", "host"):gsub("[Ii][Nn][Cc][Ll][Uu][Dd][Ee]", "tag")
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  local lines = select(2, data:gsub("\n", "")) + 1
  for _, alias in ipairs({ "fuzzhost", data:match("[Hh][Oo][Ss][Tt][ \t=]+([%w.-]+)") }) do
    local r, err = ssh_config.resolve(alias, { file = path, home = "/nonexistent",
      local_user = "fuzz" })
    if r then
      check_result(r)
    else
      local n = err:match("^" .. path:gsub("%p", "%%%0") .. ":(%d+): .")
      assert(n and tonumber(n) <= lines, "message without file:line: " .. err)
    end
  end
  for line in data:gmatch("[^\n]+") do check_jump(line) end
end
