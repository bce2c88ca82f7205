-- cijoe.known_hosts against OpenSSH: the entries it finds for a name are those
-- `ssh-keygen -F` finds (plain and hashed files), the lines it writes are found by
-- ssh-keygen, and its verdict on a server's key is the one `ssh` itself reaches against a
-- real sshd with StrictHostKeyChecking=yes, for the same known_hosts files.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")
local known_hosts = require("cijoe.known_hosts")

TestKnownHosts = {}

-- HMAC-SHA1 from the openssl command line, remembered (each call is a process).
local macs = {}
local function hmac_sha1(key, message)
  local id = key .. "\0" .. message
  if not macs[id] then
    local hex = key:gsub(".", function(c) return string.format("%02x", c:byte()) end)
    local pipe = io.popen("printf '%s' " .. h.q(message)
      .. " | openssl dgst -sha1 -mac HMAC -macopt hexkey:" .. hex .. " -binary")
    macs[id] = pipe:read("a")
    pipe:close()
  end
  return macs[id]
end

-- A new key of a type: "type base64".
local function new_key(dir, kind)
  local file = dir .. "/" .. kind .. math.random(1e9)
  h.sh("ssh-keygen -q -t " .. kind .. (kind == "rsa" and " -b 1024" or "") .. " -N '' -f " .. file)
  return h.read(file .. ".pub"):match("^(%S+ %S+)")
end

function TestKnownHosts.setupClass()
  TestKnownHosts.server = sshd.start()
  local s = TestKnownHosts.server
  s.key = h.read(s.dir .. "/host_key.pub"):match("^(%S+ %S+)")
  s.base64 = s.key:match(" (%S+)")
  local dir = h.tmpdir()
  TestKnownHosts.other = { ed = new_key(dir, "ed25519"), rsa = new_key(dir, "rsa"),
    ecdsa = new_key(dir, "ecdsa") }
end

function TestKnownHosts.teardownClass()
  TestKnownHosts.server:kill_all()
end

function TestKnownHosts:setUp()
  self.dir = h.tmpdir()
end

-- Line numbers (with ssh-keygen's CA/REVOKED notes) of the entries found for name.
local function keygen_F(file, name)
  local found = {}
  for n, note in h.sh("ssh-keygen -F " .. h.q(name) .. " -f " .. h.q(file) .. " 2>/dev/null")
      :gmatch("# Host [^\n]* found: line (%d+) ?(%u*)") do
    found[#found + 1] = n .. note
  end
  return found
end

-- The same from known_hosts.find.
local function joe_F(file, name)
  local found, notes = {}, { revoked = "REVOKED", ["cert-authority"] = "CA" }
  for _, e in ipairs(known_hosts.find({ file }, name, hmac_sha1)) do
    lu.assertEquals(e.where, file .. ":" .. e.line)
    found[#found + 1] = e.line .. (notes[e.marker] or "")
  end
  return found
end

function TestKnownHosts:test_find_is_ssh_keygen_F_on_plain_and_hashed_files()
  local k, o = self.server.key, self.other
  local valid = table.concat({ "# comment", "", "   \t", "  example.org,192.0.2.7 " .. k,
    "[example.org]:2222 " .. o.ed .. " a comment", "*.lab,!bad.lab " .. o.rsa,
    "web? " .. o.ecdsa, "Example.ORG " .. o.ed, "@revoked example.org " .. o.rsa,
    "@cert-authority *.org " .. k, "[10.0.0.1]:*,10.0.0.? " .. k, "[::1]:2200 " .. k,
    "\tfd00::1 " .. k }, "\n") .. "\n"
  local file = h.write(self.dir .. "/known_hosts", valid
    .. "@bogus example.org " .. k .. "\nexample.org\nexample.org ssh-foo AAAA\n"
    .. "example.org 1024 35 12345\n@revoked\n")
  local names = { "example.org", "EXAMPLE.org", "[example.org]:2222", "[example.org]:22",
    "x.lab", "bad.lab", "web1", "web12", "www.org", "[10.0.0.1]:2200", "10.0.0.9",
    "[::1]:2200", "fd00::1", "nowhere" }
  for _, name in ipairs(names) do
    lu.assertEquals(joe_F(file, name), keygen_F(file, name), name)
  end
  lu.assertEquals(joe_F(file, "example.org"), { "4", "8", "9REVOKED", "10CA" })
  local hashed = h.write(self.dir .. "/hashed", valid)
  local out, status = h.sh("ssh-keygen -H -f " .. hashed)
  lu.assertEquals(status, 0, out)
  lu.assertStrContains(h.read(hashed), "|1|")
  for _, name in ipairs(names) do
    lu.assertEquals(joe_F(hashed, name), keygen_F(hashed, name), "hashed " .. name)
  end
  lu.assertEquals(#joe_F(hashed, "[example.org]:2222"), 1) -- -H puts each name on a line
end

function TestKnownHosts:test_lines_that_ssh_cannot_read_are_skipped()
  local k, o = self.server.key, self.other
  local ed_type, rsa_blob = k:match("^(%S+)"), o.rsa:match(" (%S+)")
  local file = h.write(self.dir .. "/kh", table.concat({
    "example.org " .. ed_type .. " " .. rsa_blob, -- a blob of another type
    "example.org " .. ed_type .. " AAAA*notbase64", "example.org " .. ed_type,
    "|1|bm90MjBieXRlcw==|AAAA " .. k, "|2|abc|def " .. k, "example.org " .. k }, "\n"))
  lu.assertEquals(joe_F(file, "example.org"), { "6" })
end

function TestKnownHosts:test_entry_lines_are_found_by_ssh_keygen()
  local kind, b64 = self.server.key:match("^(%S+) (%S+)$")
  lu.assertEquals(known_hosts.entry("h.example", 22, kind, b64), "h.example " .. kind .. " " .. b64)
  lu.assertEquals(known_hosts.entry("h.example", 2222, kind, b64),
    "[h.example]:2222 " .. kind .. " " .. b64)
  local salt = ("0123456789abcdefghij")
  local lines = { known_hosts.entry("h.example", 22, kind, b64, hmac_sha1, salt),
    known_hosts.entry("h.example", 2222, kind, b64, hmac_sha1),
    known_hosts.entry("10.1.2.3", 2200, kind, b64, hmac_sha1) }
  lu.assertStrMatches(lines[1],
    "|1|MDEyMzQ1Njc4OWFiY2RlZmdoaWo=|[%w+/]+= " .. kind:gsub("%-", "%%-") .. " .*")
  local file = h.write(self.dir .. "/kh", table.concat(lines, "\n") .. "\n")
  lu.assertEquals(keygen_F(file, "h.example"), { "1" })
  lu.assertEquals(keygen_F(file, "[h.example]:2222"), { "2" })
  lu.assertEquals(keygen_F(file, "[10.1.2.3]:2200"), { "3" })
  lu.assertEquals(keygen_F(file, "[h.example]:22"), {})
end

function TestKnownHosts:test_base64_both_ways()
  for _, bytes in ipairs({ "", "a", "ab", "abc", "abcd", "\0\255\128\1\2" }) do
    lu.assertEquals(known_hosts.base64_decode(known_hosts.base64_encode(bytes)), bytes)
  end
  lu.assertEquals(known_hosts.base64_encode("abcd"), "YWJjZA==")
  lu.assertNil(known_hosts.base64_decode("YWJjZA="))
  lu.assertNil(known_hosts.base64_decode("YW*jZA=="))
end

-- What ssh decides for these known_hosts files: its verdict, and the file:line it names.
function TestKnownHosts:ssh_verdict(files)
  local s = self.server
  local out = h.sh(string.format("ssh -o BatchMode=yes -o StrictHostKeyChecking=yes "
    .. "-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null -i %s/id_ed25519 -p %d "
    .. "%s@127.0.0.1 echo connected </dev/null", h.q(table.concat(files, " ")), s.dir, s.port,
    sshd.user))
  if out:find("connected\n$") then return "match" end
  if out:find("is marked as revoked") then return "revoked" end
  local offending = out:match("Offending %S+ key in (%S+)")
  if offending then return "changed", offending end
  if out:find("No %S+ host key is known for") then return "unknown" end
  error("ssh said: " .. out)
end

-- Write known_hosts files from lists of lines; their paths.
function TestKnownHosts:files(...)
  local paths = {}
  for i, lines in ipairs({ ... }) do
    paths[i] = h.write(self.dir .. "/kh" .. i, table.concat(lines, "\n") .. "\n")
  end
  return paths
end

-- The verdict of known_hosts.lookup for the fixture's key must be ssh's.
function TestKnownHosts:same_verdict_as_ssh(want, ...)
  local files = self:files(...)
  local s = self.server
  local status, where, detail = known_hosts.lookup(files, "127.0.0.1", s.port, "ssh-ed25519",
    s.base64, hmac_sha1)
  local ssh_status, ssh_where = self:ssh_verdict(files)
  lu.assertEquals(status, ssh_status, detail)
  lu.assertEquals(status, want)
  if status == "changed" then lu.assertEquals(where, ssh_where) end
  return status, where, detail
end

function TestKnownHosts:test_verdicts_are_those_of_ssh()
  local k, o, at = self.server.key, self.other, "[127.0.0.1]:" .. self.server.port
  local hashed = known_hosts.entry("127.0.0.1", self.server.port, "ssh-ed25519",
    self.server.base64, hmac_sha1)
  local bare_hashed = known_hosts.entry("127.0.0.1", 22, "ssh-ed25519", self.server.base64,
    hmac_sha1)
  local _, where = self:same_verdict_as_ssh("match", { "# c", at .. " " .. k })
  lu.assertEquals(where, self.dir .. "/kh1:2")
  self:same_verdict_as_ssh("match", { hashed })
  self:same_verdict_as_ssh("match", { "127.0.0.*,!127.0.0.2 " .. o.rsa, "[127.0.0.*]:* " .. k })
  self:same_verdict_as_ssh("match", { "* " .. k })
  self:same_verdict_as_ssh("match", { at .. " " .. o.rsa, at .. " " .. k })
  self:same_verdict_as_ssh("match", { at .. " " .. o.ed }, { at .. " " .. k })
  local _, _, detail = self:same_verdict_as_ssh("changed",
    { at .. " " .. o.ed, at .. " " .. o.rsa })
  lu.assertEquals(detail, "a different ssh-rsa key is known at " .. self.dir .. "/kh1:2")
  self:same_verdict_as_ssh("changed", { at .. " " .. o.ecdsa })
  self:same_verdict_as_ssh("changed", { "nothing " .. k }, { at .. " " .. o.ed })
  self:same_verdict_as_ssh("revoked", { at .. " " .. k, "@revoked * " .. k })
  self:same_verdict_as_ssh("unknown", { "127.0.0.*,!127.0.0.1 " .. k })
  self:same_verdict_as_ssh("unknown", { "@cert-authority * " .. k, "[127.0.0.1]:22 " .. k })
  self:same_verdict_as_ssh("unknown", { at .. " ssh-ed25519 " .. o.rsa:match(" (%S+)") })
  self:same_verdict_as_ssh("unknown", { "127.0.0.1 " .. o.ed })
  local status, _, bare = self:same_verdict_as_ssh("match", { "127.0.0.1 " .. k })
  lu.assertEquals({ status, bare },
    { "match", "known for 127.0.0.1 without the port, as ssh accepts it" })
  self:same_verdict_as_ssh("match", { bare_hashed })
  local three = self:files({ at .. " " .. o.rsa, at .. " " .. k, at .. " " .. o.ed })
  lu.assertEquals(known_hosts.types(three, "127.0.0.1", self.server.port),
    { "ssh-rsa", "ssh-ed25519" })
end

function TestKnownHosts:test_port_22_is_the_bare_name_and_missing_files_are_nothing()
  local kind, b64 = self.server.key:match("^(%S+) (%S+)$")
  local files = self:files({ "[box]:2222 " .. self.other.ed, "box " .. self.server.key })
  lu.assertEquals({ known_hosts.lookup(files, "box", 22, kind, b64) },
    { "match", files[1] .. ":2" })
  lu.assertEquals({ known_hosts.lookup({ self.dir .. "/missing" }, "box", 22, kind, b64) },
    { "unknown", nil, "no key is known for box" })
  lu.assertEquals(known_hosts.name("box", 22), "box")
  lu.assertEquals(known_hosts.name("fd00::1", 2200), "[fd00::1]:2200")
  lu.assertError(known_hosts.lookup, files, "box", 22, "ssh-foo", b64)
  local hashed = self:files({ known_hosts.entry("box", 22, kind, b64, hmac_sha1) })
  lu.assertErrorMsgContains("hashed entries need an hmac_sha1 function", known_hosts.lookup,
    hashed, "box", 22, kind, b64)
end
