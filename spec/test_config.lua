-- Configs: YAML parsing, merging, ${VAR} expansion, environment overrides, bad input.
local lu = require("luaunit")
local h = require("helper")
local yaml = require("cijoe.yaml")

TestConfig = {}

function TestConfig:setUp()
  self.dir = h.tmpdir()
  h.write(self.dir .. "/show.lua", [[
    for _, key in ipairs({ "a.b", "a.c", "list", "home", "dflt", "cijoe.run.env.LC_ALL" }) do
      print(key, cijoe.getconf(key, "-"))
    end]])
end

function TestConfig:test_builtin_default_when_no_config()
  local status, out = h.joe_in(self.dir, "show.lua")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "cijoe.run.env.LC_ALL\tC\n")
  lu.assertStrContains(h.read(h.latest(self.dir) .. "/config.orig"), "LC_ALL: C")
end

function TestConfig:test_default_config_in_cwd_is_used()
  h.write(self.dir .. "/default.config", "a: {b: from-cwd}\n")
  local _, out = h.joe_in(self.dir, "show.lua")
  lu.assertStrContains(out, "a.b\tfrom-cwd\n")
end

function TestConfig:test_merge_in_order_and_expansion()
  h.write(self.dir .. "/one.yaml", "a: {b: 1, c: keep}\nlist: [1, 2]\nhome: ${HOME}\n")
  h.write(self.dir .. "/two.yaml", "a: {b: 2}\nlist: [3]\ndflt: ${JOE_UNSET_VAR:-fallback}\n")
  local status, out = h.joe_in(self.dir, "-c one.yaml --config=two.yaml show.lua")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "a.b\t2\na.c\tkeep\n")
  lu.assertStrContains(out, "home\t" .. os.getenv("HOME") .. "\n")
  lu.assertStrContains(out, "dflt\tfallback\n")
  lu.assertStrMatches(out, ".*list\ttable: .*")
end

function TestConfig:test_environment_overrides_getconf()
  h.write(self.dir .. "/one.yaml", "a: {b: 1}\n")
  local _, out = h.joe_in(self.dir, "-c one.yaml show.lua", "A_B=from-env")
  lu.assertStrContains(out, "a.b\tfrom-env\n")
end

function TestConfig:test_malformed_yaml_exits_2_with_position()
  h.write(self.dir .. "/bad.yaml", "a:\n  b: 1\n c: [unclosed\n")
  local status, _, err = h.joe_in(self.dir, "-c bad.yaml show.lua")
  lu.assertEquals(status, 2)
  lu.assertStrMatches(err, "joe: bad%.yaml:%d+:%d+: .*")
  lu.assertNil(h.read(h.latest(self.dir) .. "/config.orig"))
end

function TestConfig:test_bad_values_name_line_and_column()
  local cases = {
    { "cijoe:\n  transport:\n    t1:\n      hostname: x\n      port: http\n", "c.yaml:5:13: transport t1: port must be a port number" },
    { "cijoe:\n  transport:\n    local: {hostname: x}\n", "c.yaml:3:12: the transport name 'local' is reserved" },
    { "cijoe:\n  transport:\n    t1: {hostnme: x}\n", "c.yaml:3:19: unknown key 'hostnme' in transport t1" },
    { "x: ${JOE_SURELY_UNSET}\n", "c.yaml:1:4: environment variable JOE_SURELY_UNSET is not set" },
    { "- a\n- b\n", "c.yaml:1:1: the document must be a mapping" },
    { "cijoe:\n  workflow: {fail_fast: maybe}\n", "c.yaml:2:25: cijoe.workflow.fail_fast must be true or false" },
  }
  for _, case in ipairs(cases) do
    h.write(self.dir .. "/c.yaml", case[1])
    local status, _, err = h.joe_in(self.dir, "-c c.yaml show.lua")
    lu.assertEquals(status, 2, case[2])
    lu.assertStrContains(err, case[2])
  end
end

function TestConfig:test_unreadable_config()
  local status, _, err = h.joe_in(self.dir, "-c nope.yaml show.lua")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "nope.yaml: No such file or directory")
end

function TestConfig:test_secrets_masked_in_config_orig()
  h.write(self.dir .. "/c.yaml", "cijoe:\n  transport:\n    t: {hostname: h, password: hunter2, passphrase: pp}\n")
  lu.assertEquals(h.joe_in(self.dir, "-c c.yaml show.lua"), 0)
  local orig = h.read(h.latest(self.dir) .. "/config.orig")
  lu.assertNotStrContains(orig, "hunter2")
  lu.assertNotStrContains(orig, ": pp")
  lu.assertStrContains(orig, 'password: "********"')
end

function TestConfig:test_yaml_scalars_and_roundtrip()
  local doc = assert(yaml.load("a: yes\nb: '1'\nc: 1.5\nd: ~\ne: [x, 2]\nf: 0x10\ng: 'yes'\n"))
  lu.assertEquals(doc, { a = true, b = "1", c = 1.5, e = { "x", 2 }, f = 16, g = "yes" })
  local back = assert(yaml.load(yaml.dump(doc)))
  lu.assertEquals(back, doc)
  local odd = { s = "line1\nline2", n = "007", t = "true", e = "", bin = "a\255b" }
  local again = assert(yaml.load(yaml.dump(odd)))
  lu.assertEquals(again.s, odd.s)
  lu.assertEquals(again.n, "007")
  lu.assertEquals(again.t, "true")
  lu.assertEquals(again.e, "")
  lu.assertEquals(again.bin, "a\239\191\189b")
end

function TestConfig:test_empty_documents()
  for _, text in ipairs({ "", "# only a comment\n", "---\n" }) do
    local value, marks = yaml.load(text, "e.yaml")
    lu.assertNil(value)
    lu.assertEquals(type(marks), "table", text)
  end
  local _, err = yaml.load("a: 1\n---\nb: 2\n", "two.yaml")
  lu.assertStrContains(err, "two.yaml:2:1: more than one document")
  h.write(self.dir .. "/empty.yaml", "# nothing here\n")
  lu.assertEquals(h.joe_in(self.dir, "-c empty.yaml show.lua"), 0)
end

function TestConfig:test_alias_bomb_is_refused()
  local bomb = { 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]' }
  local prev = "a"
  for i, name in ipairs({ "b", "c", "d", "e", "f", "g", "h", "i" }) do
    bomb[#bomb + 1] = string.format("%s: &%s [%s]", name, name, ("*" .. prev .. ","):rep(9):sub(1, -2))
    prev = name
    local _ = i
  end
  local value, err = yaml.load(table.concat(bomb, "\n"), "bomb.yaml")
  lu.assertNil(value)
  lu.assertStrContains(err, "bomb.yaml:")
  lu.assertStrContains(err, "alias bomb")
end
