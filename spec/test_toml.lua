-- cijoe.toml against Python 3.11's tomllib as the oracle: CIJOE's example configs, one
-- document per TOML form, documents both refuse (with joe's messages), marks, and what
-- the fuzz target found.
local lu = require("luaunit")
local h = require("helper")
local toml = require("cijoe.toml")

-- tomllib's reading of each file, as a Lua chunk: values written exactly (floats in hex,
-- strings byte by byte), dates as {datetime = isoformat}, integers past 64 bits as
-- {bigint = digits}, a refusal as {refused = message}.
local ORACLE = [[
import datetime, math, sys, tomllib
def lua(v):
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, int):
        if not -2**63 <= v < 2**63: return '{bigint="%d"}' % v
        return str(v) if v >= 0 else "(-%d-1)" % (-v - 1)
    if isinstance(v, float):
        if math.isnan(v): return "(0/0)"
        if math.isinf(v): return "(1/0)" if v > 0 else "(-1/0)"
        return "(" + v.hex() + ")"
    if isinstance(v, str): return '"' + "".join("\\%03d" % b for b in v.encode()) + '"'
    if isinstance(v, (datetime.date, datetime.time)): return '{datetime="%s"}' % v.isoformat()
    if isinstance(v, list): return "{" + ",".join(lua(x) for x in v) + "}"
    return "{" + ",".join("[%s]=%s" % (lua(k), lua(x)) for k, x in v.items()) + "}"
out = []
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as f: out.append(lua(tomllib.load(f)))
    except Exception as e:
        out.append('{refused=%s}' % lua(type(e).__name__ + ": " + str(e)))
print("return {" + ",\n".join(out) + "}")
]]

-- tomllib's results for a list of documents, in order.
local function oracle(texts)
  local dir = h.tmpdir()
  local paths = {}
  for i, text in ipairs(texts) do paths[i] = h.q(h.write(dir .. "/" .. i .. ".toml", text)) end
  h.write(dir .. "/oracle.py", ORACLE)
  local out, status = h.sh("python3 " .. dir .. "/oracle.py " .. table.concat(paths, " "))
  assert(status == 0, out)
  return assert(load(out, "=oracle"))()
end

-- A date or time as Python's isoformat() writes what tomllib made of it.
local function isoformat(s)
  s = s:gsub("^(%d%d%d%d%-%d%d%-%d%d)[Tt ]", "%1T"):gsub("[Zz]$", "+00:00")
  return (s:gsub("%.(%d+)", function(frac)
    local micro = (frac .. "00000"):sub(1, 6)
    return tonumber(micro) == 0 and "" or "." .. micro
  end))
end

-- Whether joe's value equals tomllib's: NaN equals NaN, dates compare as isoformat.
local function same(ours, theirs, path)
  if type(theirs) == "table" and theirs.datetime then
    return type(ours) == "string" and isoformat(ours) == theirs.datetime, path
  end
  if type(ours) ~= type(theirs) then return false, path end
  if type(ours) == "number" then
    return math.type(ours) == math.type(theirs) and (ours == theirs or ours ~= ours and
      theirs ~= theirs), path
  end
  if type(ours) ~= "table" then return ours == theirs, path end
  for k, v in pairs(theirs) do
    local ok, where = same(ours[k], v, path .. "." .. tostring(k))
    if not ok then return false, where end
  end
  for k in pairs(ours) do
    if theirs[k] == nil then return false, path .. "." .. tostring(k) end
  end
  return true
end

-- Load each document with joe and compare it with tomllib's reading.
local function assert_same_as_tomllib(cases)
  local texts = {}
  for i, case in ipairs(cases) do texts[i] = case[2] end
  local theirs = oracle(texts)
  for i, case in ipairs(cases) do
    lu.assertNil(theirs[i].refused, case[1] .. ": tomllib refuses it")
    local ours, marks = toml.load(case[2], case[1])
    lu.assertIsTable(ours, case[1] .. ": " .. tostring(marks))
    local ok, where = same(ours, theirs[i], case[1])
    lu.assertTrue(ok, "joe and tomllib differ at " .. tostring(where))
  end
end

TestToml = {}

function TestToml:test_every_cijoe_example_config_reads_as_tomllib_reads_it()
  local cases = {}
  for name in h.sh("ls " .. h.root .. "/spec/fixtures/cijoe/*.toml"):gmatch("[^\n]+") do
    cases[#cases + 1] = { name:match("[^/]+$"), h.read(name) }
  end
  lu.assertEquals(#cases, 10)
  assert_same_as_tomllib(cases)
end

-- One document per form of TOML 1.0, as the spec's own examples write them.
local VALID = {
  { "tables", [==[
title = "x"
[owner]
name = "Tom"
[database.server]
"quoted key" = 1
'literal key' = 2
a.b.c = 3
a . "d" . 'e' = 4
"" = 5
3.14159 = "pi"
"ʎǝʞ" = "unicode key"
[x.y.z.w]
[x]
k = 1
]==] },
  { "arrays of tables", [==[
[[fruits]]
name = "apple"
[fruits.physical]
color = "red"
[[fruits.varieties]]
name = "red delicious"
[[fruits.varieties]]
name = "granny smith"
[[fruits]]
name = "banana"
[fruits.physical]
color = "yellow"
[[fruits.varieties]]
name = "plantain"
[[a.b]]
x = 1
[a]
y = 2
]==] },
  { "dotted keys, then headers below them", [==[
[fruit]
apple.color = "red"
apple.taste.sweet = true
[fruit.apple.texture]
smooth = true
[p.q.r]
z = 1
[p]
q.s = 2
]==] },
  { "basic strings", [==[
s = "tab\there \"q\" \\ \u00e9 \U0001F600 \b\f\n\r end"
raw = "é € 😀"
empty = ""
hash = "# not a comment"
]==] },
  { "multi-line basic strings", [==[
a = """
Roses are red
Violets are blue"""
b = """\
    The quick brown \
    fox jumps over \
    the lazy dog."""
c = """Here are two quotation marks: "". Simple enough."""
d = """Here are fifteen quotation marks: ""\"""\"""\"""\"""\"."""
e = """"This," she said, "is just a pointless statement.""""
f = """a\tb\u0041"""
g = """ trailing backslash with spaces \   
  next"""
h = """"""
i = """two more""""" 
]==] },
  { "literal strings", [==[
winpath  = 'C:\Users\nodejs\templates'
quoted   = 'Tom "Dubs" Preston-Werner'
regex    = '<\i\c*\s*>'
re2 = '''I [dw]on't need \d{2} apples'''
lines  = '''
The first newline is
trimmed in raw strings.
   All other whitespace
   is preserved.
'''
quot15 = '''Here are fifteen quotation marks: """""""""""""""'''
apos15 = "Here are fifteen apostrophes: '''''''''''''''"
str = ''''That,' she said, 'is still pointless.''''
tab = 'a	b'
]==] },
  { "integers", [==[
a = +99
b = 42
c = 0
d = -17
e = 1_000
f = 5_349_221
g = 53_49_221
h = 1_2_3_4_5
hex1 = 0xDEADBEEF
hex2 = 0xdeadbeef
hex3 = 0xdead_beef
oct1 = 0o01234567
oct2 = 0o755
bin1 = 0b11010110
max = 9223372036854775807
min = -9223372036854775808
hexmax = 0x7FFFFFFFFFFFFFFF
zeros = [+0, -0, 0x0, 0o0, 0b0, 0x00_01]
]==] },
  { "floats", [==[
a = +1.0
b = 3.1415
c = -0.01
d = 5e+22
e = 1e06
f = -2E-2
g = 6.626e-34
h = 224_617.445_991_228
i = -0.0
j = +0.0
k = [inf, +inf, -inf, nan, +nan, -nan]
big = 1e400
tenth = 0.1
max = 1.7976931348623157e308
tiny = 5e-324
zero = 0e0
u = 1_0e1_0
]==] },
  { "booleans", "t = true\nf = false\nl = [true,false]\n" },
  { "dates and times", [==[
odt1 = 1979-05-27T07:32:00Z
odt2 = 1979-05-27T00:32:00-07:00
odt3 = 1979-05-27T00:32:00.999999-07:00
odt4 = 1979-05-27 07:32:00Z
odt5 = 1979-05-27t07:32:00z
odt6 = 1979-05-27T00:32:00.1234567891+05:30
ldt1 = 1979-05-27T07:32:00
ldt2 = 1979-05-27T00:32:00.999999
ld1 = 1979-05-27
lt1 = 07:32:00
lt2 = 00:32:00.999999
lt3 = 00:32:00.5
leap = 2000-02-29
arr = [1979-05-27, 07:32:00, 1979-05-27T07:32:00Z]
commented = 1979-05-27 # a date, then a comment
]==] },
  { "arrays", [==[
integers = [ 1, 2, 3 ]
colors = [ "red", "yellow", "green", ]
nested = [ [ 1, 2 ], [3, 4, 5] ]
mixed = [ [ 1, 2 ], ["a", "b", "c"], 1.5, true ]
strings = [ "all", 'strings', """are the same""", '''type''' ]
contributors = [
  "Foo Bar <foo@example.com>",
  { name = "Baz Qux", email = "bazqux@example.com", url = "https://example.com/bazqux" }
]
integers2 = [
  1, 2, 3 # comment
  , 4,
  # only a comment
]
empty = [ ]
empty2 = [
]
deep = [[[[[]]]]]
]==] },
  { "inline tables", [==[
name = { first = "Tom", last = "Preston-Werner" }
point = {x=1,y=2}
animal = { type.name = "pug", type.age = 3 }
empty = {}
nested = { a = { b = { c = 1 } }, d = [ { e = 1 } ] }
multiline_array = { list = [
  1,
  2 ] }
]==] },
  { "whitespace, tabs and CRLF", "\ta\t=\t1\t# c\r\nb = \"x\"\r\n[t]\r\nc = '''l1\r\nl2'''\r\n" ..
    "d = \"\"\"l1\r\nl2\\\r\n  l3\"\"\"\r\n" },
  { "comments", "# é ∆ \t tab\n\n   # indented\nk = 1 # ∆\n#last" },
  { "empty", "" },
  { "only comments", "# x\n\n# y\n" },
  { "no newline at the end", "a = 1" },
}

function TestToml:test_each_form_reads_as_tomllib_reads_it()
  assert_same_as_tomllib(VALID)
end

-- Documents TOML forbids: tomllib refuses each too, and joe says where and why.
local INVALID = {
  { "a = 1\na = 2\n", "2:1: the key a is defined twice (first at 1:5)" },
  { "a.b = 1\na = 2\n", "2:1: the key a is defined twice (first at 1:1)" },
  { "[t]\na = 1\na = 2\n", "3:1: the key t.a is defined twice (first at 2:5)" },
  { "a = 1\na.b = 2\n", "2:1: a is already an integer (1:5), not a table" },
  { "[a]\n[a]\n", "2:2: table a is already defined (1:2); a [header] cannot define it again" },
  { "[a]\nb = 1\n[a.b]\n", "3:4: a.b is already an integer (2:5), not a table" },
  { "[fruit]\napple.color = 'red'\n[fruit.apple]\n",
    "3:8: table fruit.apple is already defined (2:1); a [header] cannot define it again" },
  { "[fruit]\napple.color = 'red'\n[fruit.apple.taste]\n[fruit]\napple.x = 1\n",
    "4:2: table fruit is already defined (1:2); a [header] cannot define it again" },
  { "[a.b]\nc = 1\n[a]\nb.d = 2\n",
    "4:1: table a.b is already defined (1:4); a dotted key cannot add to it here" },
  { "[a]\nb.c = 1\n[a.b]\n",
    "3:4: table a.b is already defined (2:1); a [header] cannot define it again" },
  { "a = {b = 1}\na.c = 2\n",
    "2:1: a is an inline table (1:5); TOML lets nothing add to it later" },
  { "a = {b = 1}\n[a]\n", "2:2: a is an inline table (1:5); TOML lets nothing add to it later" },
  { "a = {b = {c = 1}}\n[a.b.d]\n",
    "2:2: a is an inline table (1:5); TOML lets nothing add to it later" },
  { "a = {b = {c = 1}, b.d = 2}\n",
    "1:19: a.b is an inline table (1:10); TOML lets nothing add to it later" },
  { "a = [1]\n[[a]]\n", "2:3: a is already an array (1:5); [[a]] appends to an array of tables" },
  { "a = [{b = 1}]\n[a.c]\n", "2:2: a is already an array (1:5), not a table" },
  { "[a]\n[[a]]\n", "2:3: a is already a table (1:2); [[a]] appends to an array of tables" },
  { "[[a]]\n[a]\n", "2:2: a is already an array (1:3), not a table" },
  { "a = \"x\"\n[a.b]\n", "2:2: a is already a string (1:5), not a table" },
  { "a = {b = 1, b = 2}\n", "1:13: the key a.b is defined twice (first at 1:10)" },
  { "a = {b = 1,}\n", "1:12: TOML allows no comma before '}'" },
  { "a = {b = 1,\nc = 2}\n", "1:12: expected a key, found the end of the line" },
  { "a = {b = 1 # c\n}\n", "1:12: expected ',' or '}' after a value of the inline table, " ..
    "found '#' (an inline table is on one line)" },
  { 'a = "abc\n', "1:9: the string is not closed on its line (a newline is written \\n; " ..
    '""" opens a multi-line string)' },
  { "a = 'abc\n", "1:9: the string is not closed on its line (a newline is written \\n; " ..
    '""" opens a multi-line string)' },
  { 'a = """abc\n', "1:5: the string opened here is not closed" },
  { "a = '''abc\n", "1:5: the string opened here is not closed" },
  { 'a = "\\x41"\n', "1:6: unknown escape '\\x' (a backslash itself is written \\\\)" },
  { 'a = "\\e"\n', "1:6: unknown escape '\\e' (a backslash itself is written \\\\)" },
  { 'a = "a \\ b"\n', "1:8: unknown escape '\\ ' (a backslash itself is written \\\\)" },
  { 'a = """a \\ b"""\n', "1:10: unknown escape '\\ ' (a backslash itself is written \\\\)" },
  { 'a = "\\uD800"\n', "1:6: \\uD800 is not a Unicode scalar value" },
  { 'a = "\\U00110000"\n', "1:6: \\U00110000 is not a Unicode scalar value" },
  { 'a = "\\u12"\n', "1:6: \\u needs 4 hexadecimal digits" },
  { 'a = "x\1y"\n', "1:7: the control character U+0001 in a string (write it as \\u0001)" },
  { "a = '''x\127'''\n", "1:9: the control character U+007F in a string (write it as \\u007F)" },
  { "# a\127\n", "1:4: the control character U+007F in a comment" },
  { "a = 0123\n", "1:5: '0123' is not a TOML value" },
  { "a = 1__2\n", "1:5: '1__2' is not a TOML value" },
  { "a = 1_\n", "1:5: '1_' is not a TOML value" },
  { "a = _1\n", "1:5: expected a value, found '_'" },
  { "a = +0x1\n", "1:5: '+0x1' is not a TOML value (a string needs quotes)" },
  { "a = 0X1\n", "1:5: '0X1' is not a TOML value (a string needs quotes)" },
  { "a = 0b102\n", "1:5: '0b102' is not a TOML value (a string needs quotes)" },
  { "a = 1.\n", "1:5: '1.' is not a TOML value" },
  { "a = .5\n", "1:5: expected a value, found '.'" },
  { "a = 1e\n", "1:5: '1e' is not a TOML value (a string needs quotes)" },
  { "a = 1.e5\n", "1:5: '1.e5' is not a TOML value (a string needs quotes)" },
  { "a = 01.5\n", "1:5: '01.5' is not a TOML value" },
  { "a = infinity\n", "1:5: 'infinity' is not a TOML value (a string needs quotes)" },
  { "a = hello\n", "1:5: 'hello' is not a TOML value (a string needs quotes)" },
  { "a = TRUE\n", "1:5: 'TRUE' is not a TOML value (a string needs quotes)" },
  { "a = \n", "1:5: expected a value, found the end of the line" },
  { "a =", "1:4: expected a value, found the end of the document" },
  { "a 1\n", "1:3: expected '=' after the key a, found '1'" },
  { "= 1\n", "1:1: expected a key, found '='" },
  { "é = 1\n", "1:1: expected a key, found 'é' (U+00E9) (a key of other characters than " ..
    "A-Z a-z 0-9 _ - is quoted)" },
  { "\239\187\191a = 1\n", "1:1: expected a key, found '\239\187\191' (U+FEFF) (a key of " ..
    "other characters than A-Z a-z 0-9 _ - is quoted)" },
  { '"""a""" = 1\n', "1:3: expected '=' after the key \"\", found '\"'" },
  { "a = 1 b = 2\n", "1:7: expected the end of the line after the value, found 'b'" },
  { "a = 1\rb = 2\n",
    "1:6: expected the end of the line after the value, found the control character U+000D" },
  { "a = [1, 2\n", "1:5: the array opened here is not closed" },
  { "a = [1 2]\n", "1:8: expected ',' or ']' after a value of the array, found '2'" },
  { "a = [1,,2]\n", "1:8: expected a value, found ','" },
  { "a = [,]\n", "1:6: expected a value, found ','" },
  { "[a\nb = 1\n", "1:3: expected ']' to end the header, found the end of the line" },
  { "[[a] ]\n", "1:4: expected ']]' to end the header, found ']'" },
  { "[]\n", "1:2: expected a key, found ']'" },
  { "[a] b = 1\n", "1:5: expected the end of the line after the header, found 'b'" },
  { "[a]]\n", "1:4: expected the end of the line after the header, found ']'" },
  { "d = 1979-02-30\n", "1:5: 1979-02-30 is not a valid date" },
  { "d = 1900-02-29\n", "1:5: 1900-02-29 is not a valid date" },
  { "d = 0000-01-01\n", "1:5: 0000-01-01 is not a valid date" },
  { "d = 1979-13-01\n", "1:5: 1979-13-01 is not a valid date" },
  { "t = 24:00:00\n", "1:5: 24:00:00 is not a valid time" },
  { "t = 23:59:60\n", "1:5: 23:59:60 is not a valid time" },
  { "d = 1979-05-27T25:00:00Z\n", "1:16: 25:00:00 is not a valid time" },
  { "d = 1979-05-27T00:00:00+24:00\n", "1:24: not a valid time offset" },
  { "d = 1979-05-27T\n", "1:15: expected the end of the line after the value, found 'T'" },
  { "t = 07:32\n", "1:5: '07' is not a TOML value" },
  { "t = 07:32:00Z\n", "1:13: expected the end of the line after the value, found 'Z'" },
  { 'a = "\255"\n', "1:6: the text is not valid UTF-8 (TOML files are UTF-8)" },
  { "x = 1\né\255 = 2\n", "2:2: the text is not valid UTF-8 (TOML files are UTF-8)" },
}

function TestToml:test_what_toml_forbids_is_refused_by_both_with_a_position()
  local texts = {}
  for i, case in ipairs(INVALID) do texts[i] = case[1] end
  local theirs = oracle(texts)
  for i, case in ipairs(INVALID) do
    lu.assertIsString(theirs[i].refused, "tomllib takes " .. case[1])
    local value, err = toml.load(case[1], "c.toml")
    lu.assertNil(value, case[1])
    lu.assertEquals(err, "c.toml:" .. case[2], case[1])
  end
end

-- Where TOML asks a reader to refuse what it cannot keep, and tomllib does not.
function TestToml:test_integers_past_64_bits_are_refused_though_tomllib_keeps_them()
  local texts = { "a = 9223372036854775808\n", "a = -9223372036854775809\n",
    "a = 0x8000000000000000\n", "a = 0b" .. ("1"):rep(64) .. "\n" }
  local theirs = oracle(texts)
  for i, text in ipairs(texts) do
    lu.assertIsString(theirs[i].a.bigint, text)
    lu.assertEquals(select(2, toml.load(text, "c.toml")), "c.toml:1:5: the integer does " ..
      "not fit in 64 bits (-9223372036854775808 to 9223372036854775807)")
  end
end

function TestToml:test_nesting_deeper_than_200_levels_is_refused()
  local ok = toml.load("a = " .. ("["):rep(200) .. ("]"):rep(200) .. "\n")
  lu.assertIsTable(ok)
  local value, err = toml.load("a = " .. ("[{x="):rep(100) .. "[1]" .. ("}]"):rep(100), "d.toml")
  lu.assertNil(value)
  lu.assertEquals(err, "d.toml:1:405: arrays and inline tables nest deeper than 200 levels")
end

function TestToml:test_marks_are_where_values_and_table_names_are()
  local doc, marks = toml.load(table.concat({
    "[cijoe.transport.t1]  # a header",
    'hostname = "h"',
    '"é" = "ü"',
    "list = [1,",
    "  2]",
    "[[arr]]",
    "x = {a = 1, b.c = 2}",
    "[[arr]]",
    "  d.e = 'f'",
  }, "\n"), "m.toml")
  lu.assertEquals(marks[doc].cijoe, "1:2")
  lu.assertEquals(marks[doc.cijoe].transport, "1:8")
  lu.assertEquals(marks[doc.cijoe.transport].t1, "1:18")
  local t1 = doc.cijoe.transport.t1
  lu.assertEquals(marks[t1], { hostname = "2:12", ["é"] = "3:7", list = "4:8" })
  lu.assertEquals(marks[t1.list], { "4:9", "5:3" })
  lu.assertEquals(marks[doc].arr, "6:3")
  lu.assertEquals(marks[doc.arr], { "6:3", "8:3" })
  lu.assertEquals(marks[doc.arr[1]], { x = "7:5" })
  lu.assertEquals(marks[doc.arr[1].x], { a = "7:10", b = "7:13" })
  lu.assertEquals(marks[doc.arr[1].x.b], { c = "7:19" })
  lu.assertEquals(marks[doc.arr[2]], { d = "9:3" })
  lu.assertEquals(marks[doc.arr[2].d], { e = "9:9" })
end

function TestToml:test_the_name_defaults_and_misuse_raises()
  lu.assertEquals(select(2, toml.load("a")), "<string>:1:2: expected '=' after the key a, " ..
    "found the end of the document")
  lu.assertErrorMsgContains("bad argument #1 to 'load' (string expected, got nil)", toml.load)
end
