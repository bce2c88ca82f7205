-- What the fuzz targets of spec/fuzz found, each kept as a test of what a user sees: the
-- input that broke joe, and the clear result it gives now.
local lu = require("luaunit")
local h = require("helper")
local yaml = require("cijoe.yaml")

TestFuzzed = {}

function TestFuzzed:setUp()
  self.dir = h.tmpdir()
  h.write(self.dir .. "/s.lua", "print(cijoe.getconf('x'))\n")
end

-- Run s.lua with config text; returns status, stdout, stderr and config.orig as loaded.
function TestFuzzed:run_with(config)
  h.write(self.dir .. "/c.yaml", config)
  local status, out, err = h.joe_in(self.dir, "-q -c c.yaml s.lua")
  local orig = h.read(h.latest(self.dir) .. "/config.orig")
  return status, out, err, orig and yaml.load(orig, "config.orig")
end

-- yaml.dump wrote a list with nulls in it (a Lua table with holes) as a sequence when its
-- length happened to equal its number of entries, and raised "cannot write a nil": joe
-- died writing config.orig.
function TestFuzzed:test_list_with_nulls_in_a_config()
  local status, out, err, orig = self:run_with("x: [~, a, b, c, ~, d]\n")
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "table: " .. out:match("0x%x+") .. "\n")
  lu.assertEquals(orig.x, { [2] = "a", [3] = "b", [4] = "c", [6] = "d" })
end

-- yaml.dump wrote floats with Lua's 14 digits, so state files and config.orig changed
-- numbers (2^64 came back as 18446744073710000000); YAML 1.1's .inf and .nan, which
-- PyYAML reads as floats, were strings; 1e400 loaded as inf and came back as "inf".
function TestFuzzed:test_numbers_keep_every_digit()
  local status, _, err, orig = self:run_with(
    "x: 18446744073709551616\nt: 1732300000.123456\nf: 0.1\none: 1.0\ninf: .inf\n" ..
    "ninf: -.Inf\nnan: .NaN\nhuge: 1e400\nplus: +\ns: '.inf'\n")
  lu.assertEquals(status, 0, err)
  lu.assertEquals(orig.x, 18446744073709551616.0)
  lu.assertEquals(orig.t, 1732300000.123456)
  lu.assertEquals(orig.f, 0.1)
  lu.assertEquals(math.type(orig.one), "float")
  lu.assertEquals(orig.inf, math.huge)
  lu.assertEquals(orig.ninf, -math.huge)
  lu.assertNotEquals(orig.nan, orig.nan)
  lu.assertEquals(orig.huge, math.huge)
  lu.assertEquals(orig.plus, "+")
  lu.assertEquals(orig.s, ".inf")
  local text = h.read(h.latest(self.dir) .. "/config.orig")
  lu.assertStrContains(text, "f: 0.1\n")
  lu.assertStrContains(text, "one: 1.0\n")
  lu.assertStrContains(text, "inf: .inf\n")
  lu.assertStrContains(text, 's: ".inf"\n')
end

-- fio.decode of output cut short (fio killed, a full disk) raised "bad argument #2 to
-- 'sub'" when fio's messages came before the JSON, and took quadratic time (hours for a
-- megabyte) to look for the closing brace when they did not.
function TestFuzzed:test_fio_output_cut_short()
  local fio = require("fio")
  local doc, err = fio.decode('fio: warning\n{\n  "jobs" : [\n    {"a": 1', "cut.json")
  lu.assertNil(doc)
  lu.assertStrMatches(err, "cut%.json:%d+:%d+: .*")
  h.write(self.dir .. "/big.lua", [[
    local text = "{\n" .. ('  "jobname" : "a",\n'):rep(60000)
    local t0 = os.clock()
    local doc, err = require("fio").decode(text, "big.json")
    print(doc, err, os.clock() - t0 < 2)]])
  local out = h.sh("cd " .. h.q(self.dir) .. " && timeout -k 1 10 " .. h.q(h.joe) .. " -q big.lua")
  lu.assertStrMatches(out, "nil\tbig%.json:%d+:%d+: [^\n]*\ttrue\n")
end

-- Once .nan loaded as a float, ".nan: x" made the loader raise Lua's own "table index is
-- NaN", with no file:line:column.
function TestFuzzed:test_nan_as_a_mapping_key()
  local status, _, err = self:run_with("a: 1\n.nan: x\n")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "c.yaml:2:1: a mapping key is empty, null or .nan")
end

-- A YAML 1.1 boolean (yes, on, true) as a transport name or as a key of a transport
-- ended config checking with "attempt to concatenate a boolean value" and a traceback.
function TestFuzzed:test_boolean_keys_in_transports()
  local status, _, err = self:run_with("cijoe:\n  transport:\n    t:\n      yes: 1\n")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "c.yaml:4:12: unknown key 'true' in transport t")
  status, _, err = self:run_with("cijoe:\n  transport:\n    on: {hostname: x}\n")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "c.yaml:3:9: the transport name true is not a string (quote it)")
  status, _, err = self:run_with("cijoe:\n  transport:\n    7: {hostname: x}\n")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "the transport name 7 is not a string")
  lu.assertNotStrContains(err, "traceback")
end

-- fio output starting with an empty line before the "{" got one line too many in front
-- of it, so fio.decode's errors named the line after the wrong one.
function TestFuzzed:test_fio_error_line_after_a_leading_empty_line()
  local _, err = require("fio").decode('\n{\n  "jobs" : [,\n', "e.json")
  lu.assertStrContains(err, "e.json:3:")
  _, err = require("fio").decode('fio: x\n{\n  "jobs" : [,\n', "e.json")
  lu.assertStrContains(err, "e.json:3:")
end

-- yaml.dump wrote a string starting with "..." plain, which at the start of a line is
-- YAML's end-of-document marker: the text did not load again.
function TestFuzzed:test_dots_at_the_start_of_a_line()
  for _, value in ipairs({ "...", "... and more", { ["... x"] = 1 }, { "..." } }) do
    local back, err = yaml.load(yaml.dump(value), "dump")
    lu.assertEquals(back, value, err)
  end
end

-- A top-level mapping whose name is a variable the shell or CI sets (ci: with CI=true, as
-- every CI runner has it; user:, path:, home:) was refused as "would replace the mapping
-- ci of the config", and getconf("user") gave $USER: only a dotted key has an override
-- (found by check-fuzz in CI, where CI=true).
function TestFuzzed:test_a_top_level_key_has_no_environment_override()
  local config = require("cijoe.config")
  h.write(self.dir .. "/c.yaml", "ci: {matrix: 1}\nuser: me\n")
  h.write(self.dir .. "/g.lua", 'print(cijoe.getconf("ci.matrix"), cijoe.getconf("user"))\n')
  local status, out, err = h.joe_in(self.dir, "-q -c c.yaml g.lua", "CI=true USER=someone")
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "1\tme\n")
  local _, out2 = h.joe_in(self.dir, "-q -c c.yaml g.lua", "CI_MATRIX=2")
  lu.assertEquals(out2, "2\tme\n")
  lu.assertEquals(config.env_name("ci.matrix"), "CI_MATRIX")
end

-- When fio's output had a "}" line only before its first "{" line, nothing was left to
-- parse, and fio.decode returned nil and the loader's table of positions as its message.
function TestFuzzed:test_fio_output_with_nothing_between_the_braces()
  local doc, err = require("fio").decode("fio: odd\n}\n{", "e.json")
  lu.assertNil(doc)
  lu.assertEquals(err, "e.json:4:1: did not find expected node content")
end

-- A mapping under the key "-" stands for the environment variable "_", which every shell
-- sets (the last command): config.load refused the config, with no file:line:column.
function TestFuzzed:test_the_shells_underscore_is_no_override()
  local config = require("cijoe.config")
  local status, _, err = self:run_with("-: {a: 1}\nx: {y: 2}\n")
  lu.assertEquals(status, 0, err)
  local conf = assert(config.load({ { file = "u.yaml", text = "_>-: {}\n-: {a: 1}\n" } }))
  lu.assertEquals(config.get(conf, "-.a"), 1)
end

-- A range in double quotes that spans lines holds line breaks, and the problem quoting it
-- broke the list of problems (one per line) into lines naming no place in the file.
function TestFuzzed:test_a_range_with_line_breaks_is_one_problem_line()
  local metrics = require("cijoe.metrics")
  local requirements = require("cijoe.requirements")
  local doc = assert(metrics.parse("jobs:\n  - {file: f.json, job: j, read: {iops: 5}}\n", "m.yml"))
  local text = 'workflow:\n  read:\n    iops: "[1\r\r2; 3]"\n    lat: "[1;\n\n 2] k"\n'
  local reqs, problems = requirements.load(assert(requirements.parse(text, "req.yml")), { doc })
  lu.assertNil(reqs)
  lu.assertEquals(problems, 'req.yml:3:11: bad range "[1?2; 3]": the bounds must be numbers\n'
    .. "req.yml:6:10: bad range \"[1;?2] k\": unit 'k' is not a time (nsec, usec, msec, sec)")
end
