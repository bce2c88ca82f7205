-- cijoe.template: the Jinja forms CIJOE's configs and tasks use, rendered as CIJOE's Jinja
-- renders them, and every other Jinja form refused with its column.
local lu = require("luaunit")
local template = require("cijoe.template")

local CONTEXT = {
  config = {
    qemu = { guests = { ["generic-bios-kvm-x86_64"] = { path = "/g", smp = 4 } } },
    ["a-b"] = "dash",
    n = { int = 4200, neg = -17, float = 1.5, whole = 100.0, big = 1e16, small = 1e-05,
      inf = math.huge, nan = 0 / 0, yes = true, no = false },
    list = { 1, 2 },
    ["it's"] = "quoted",
  },
  ["local"] = { env = setmetatable({}, { __index = function(_, k)
    return ({ HOME = "/home/u", PWD = "/w" })[k]
  end }) },
  resources = { auxiliary = {} },
}

for _, name in ipairs({ "linux-common-metadata", "linux-common-userdata", "freebsd-metadata",
  "freebsd-userdata", "linux-alpine-userdata" }) do
  CONTEXT.resources.auxiliary["system_imaging.cloudinit-" .. name] = "/aux/" .. name
end

TestTemplate = {}

function TestTemplate:test_the_forms_cijoe_writes()
  local cases = {
    { "{{ local.env.HOME }}/guests/generic-bios-kvm-x86_64",
      "/home/u/guests/generic-bios-kvm-x86_64" },
    { "{{ local.env.PWD }}/cijoe-example-core.testrunner/", "/w/cijoe-example-core.testrunner/" },
    { "{{ resources.auxiliary['system_imaging.cloudinit-linux-common-metadata'] }}",
      "/aux/linux-common-metadata" },
    { "{{ config.qemu.guests['generic-bios-kvm-x86_64'].path }}/boot.img", "/g/boot.img" },
    { '{{ config["a-b"] }}', "dash" },
    { "{{ config[\"it's\"] }}", "quoted" },
    { "{{config.n.int}}", "4200" },
    { "{{   config . n . int   }}", "4200" },
    { "{{ config [ 'a-b' ] }}", "dash" },
    { "{{\tconfig.n.int\n}}", "4200" },
    { "a {{ config.n.int }} b {{ config.n.neg }} c", "a 4200 b -17 c" },
    { "no template here", "no template here" },
    { "}} and { and %} and #} stay", "}} and { and %} and #} stay" },
    { "{{ '{{' }} {{ \"{#\" }} {{ '{%' }}", "{{ {# {%" },
    { "{{ '}}' }}", "}}" },
    { "", "" },
  }
  for _, case in ipairs(cases) do
    lu.assertEquals(template.render(case[1], CONTEXT), case[2], case[1])
  end
end

function TestTemplate:test_values_render_as_python_str_renders_them()
  local cases = {
    { "int", "4200" }, { "neg", "-17" }, { "float", "1.5" }, { "whole", "100.0" },
    { "big", "1e+16" }, { "small", "1e-05" }, { "inf", "inf" }, { "nan", "nan" },
    { "yes", "True" }, { "no", "False" },
  }
  for _, case in ipairs(cases) do
    lu.assertEquals(template.render("{{ config.n." .. case[1] .. " }}", CONTEXT), case[2])
  end
  local floats = { { 0.1, "0.1" }, { 1e15, "1000000000000000.0" }, { 0.0001, "0.0001" },
    { 123456789012345680.0, "1.2345678901234568e+17" }, { -2.5, "-2.5" }, { 5e-324, "5e-324" },
    { 1 / 3, "0.3333333333333333" }, { 2.0 ^ 53, "9007199254740992.0" }, { -1 / 0, "-inf" },
    { 1.7976931348623157e308, "1.7976931348623157e+308" }, { 12345.678, "12345.678" } }
  for _, f in ipairs(floats) do lu.assertEquals(template.to_text(f[1]), f[2]) end
  lu.assertEquals(template.to_text(-0.0), "-0.0")
  lu.assertEquals(template.to_text(0.0), "0.0")
  lu.assertEquals({ template.to_text({}) }, { nil, "a table" })
end

-- Jinja's default lexer: CR LF and CR become LF, and one newline at the end goes.
function TestTemplate:test_newlines_as_jinja_leaves_them()
  lu.assertEquals(template.render("a\n", CONTEXT), "a")
  lu.assertEquals(template.render("a\n\n", CONTEXT), "a\n")
  lu.assertEquals(template.render("a\r\nb\rc\n", CONTEXT), "a\nb\nc")
  lu.assertEquals(template.render("cmd {{ config.n.int }}\n", CONTEXT), "cmd 4200")
end

function TestTemplate:test_what_is_missing_is_an_error_naming_it()
  local cases = {
    { "{{ config.qemu.nope }}",
      "column 16: config.qemu.nope is undefined (no key 'nope' in config.qemu)" },
    { "{{ config.nope.x }}", "column 11: config.nope is undefined (no key 'nope' in config)" },
    { "{{ nope }}", "column 4: 'nope' is undefined" },
    { "{{ local.env.JOE_SURELY_UNSET }}",
      "column 14: local.env.JOE_SURELY_UNSET is undefined (no key 'JOE_SURELY_UNSET' in " ..
      "local.env)" },
    { "{{ config['b-c'] }}", "column 11: config['b-c'] is undefined (no key 'b-c' in config)" },
    { "{{ config.n.int.x }}", "column 17: config.n.int is the value 4200, which has no key 'x'" },
    { "{{ config['a-b'].x }}", "column 18: config['a-b'] is a string, which has no key 'x'" },
    { "{{ config.qemu }}",
      "column 1: config.qemu is a table; a template writes values (name one of its keys)" },
    { "{{ config.list }}",
      "column 1: config.list is a table; a template writes values (name one of its keys)" },
    { "ok\nok {{ config.nope }}",
      "line 2, column 14: config.nope is undefined (no key 'nope' in config)" },
  }
  for _, case in ipairs(cases) do
    local line = tonumber(case[2]:match("^line (%d+)")) or 1
    local column = tonumber(case[2]:match("column (%d+)"))
    lu.assertEquals({ template.render(case[1], CONTEXT) }, { nil, case[2], line, column }, case[1])
  end
end

-- The Jinja that CIJOE's files do not use: each a syntax error, found by check() too.
local REFUSED = {
  { "{% if x %}a{% endif %}", "column 1: '{%' opens a Jinja statement, which joe does not " ..
    "support (for the text itself, write {{ '{%' }})" },
  { "x {# note #}", "column 3: '{#' opens a Jinja comment, which joe does not support " ..
    "(for the text itself, write {{ '{#' }})" },
  { "echo ${#list[@]}", "column 7: '{#' opens a Jinja comment, which joe does not support " ..
    "(for the text itself, write {{ '{#' }})" },
  { "{{ config.a | upper }}", "column 13: Jinja filters (|) are not supported" },
  { "{{ config.a() }}", "column 12: calls are not supported" },
  { "{{ config.a-b }}",
    "column 12: expressions are not supported (a key with '-' is written ['a-b'])" },
  { "{{- config.a }}", "column 1: '{{-' (Jinja's whitespace control) is not supported" },
  { "{{+ config.a }}", "column 1: '{{+' (Jinja's whitespace control) is not supported" },
  { "{{ config.a -}}", "column 13: '-}}' (Jinja's whitespace control) is not supported" },
  { "{{ config.a + 1 }}", "column 13: expected a name, '.name', \"['key']\" or '}}', found '+' " ..
    "(a template names a value: config.a.b, config['a-b'], local.env.HOME)" },
  { "{{ 1 }}", "column 4: expected a name, '.name', \"['key']\" or '}}', found '1' " ..
    "(a template names a value: config.a.b, config['a-b'], local.env.HOME)" },
  { "{{ config.a if x }}", "column 13: expected a name, '.name', \"['key']\" or '}}', found " ..
    "'if' (a template names a value: config.a.b, config['a-b'], local.env.HOME)" },
  { "{{ 'a' 'b' }}", "column 8: expected a name, '.name', \"['key']\" or '}}', found quoted " ..
    "text (a template names a value: config.a.b, config['a-b'], local.env.HOME)" },
  { "{{ config.a ] }}", "column 13: expected a name, '.name', \"['key']\" or '}}', found ']' " ..
    "(a template names a value: config.a.b, config['a-b'], local.env.HOME)" },
  { "{{ config.é }}", "column 11: expected a name after '.'" },
  { "{{ config.0 }}", "column 11: expected a name after '.'" },
  { "{{ config[0] }}", "column 11: only a quoted key goes between [ and ] (Jinja's [0] indexes " ..
    "a list, which joe does not support)" },
  { "{{ config['a' }}", "column 15: expected ']' after the quoted key" },
  { "{{ config['a }}", "column 11: the quoted text is not closed" },
  { "{{ 'a\\'b' }}", "column 4: escapes in quoted text are not supported" },
  { "{{ }}", "column 1: '{{ }}' names no value" },
  { "{{ config.a", "column 1: '{{' is not closed by '}}'" },
  { "{{ config.a }", "column 13: expected a name, '.name', \"['key']\" or '}}', found '}' " ..
    "(a template names a value: config.a.b, config['a-b'], local.env.HOME)" },
  { "ok\n  {{ config.a | x }}", "line 2, column 15: Jinja filters (|) are not supported" },
}

function TestTemplate:test_other_jinja_is_refused_with_its_column()
  for _, case in ipairs(REFUSED) do
    local line = tonumber(case[2]:match("^line (%d+)")) or 1
    local column = tonumber(case[2]:match("column (%d+)"))
    lu.assertEquals({ template.render(case[1], CONTEXT) }, { nil, case[2], line, column }, case[1])
    lu.assertEquals({ template.check(case[1]) }, { nil, case[2], line, column }, case[1])
  end
end

function TestTemplate:test_check_looks_nothing_up()
  lu.assertTrue(template.check("{{ config.anything['at-all'].x }} {{ local.env.NOPE }}"))
  lu.assertTrue(template.check("plain"))
end

function TestTemplate:test_misuse_raises()
  lu.assertErrorMsgContains("bad argument #2 to 'render' (table expected, got nil)",
    template.render, "x")
  lu.assertErrorMsgContains("bad argument #1 (string expected, got number)", template.check, 1)
end

-- Every template line of CIJOE's example configs and tasks (commented-out ones too)
-- renders with a context that has the names they use.
function TestTemplate:test_the_cijoe_examples_check()
  local h = require("helper")
  local n = 0
  for path in h.sh("ls " .. h.root .. "/spec/fixtures/cijoe/*"):gmatch("[^\n]+") do
    for line in h.read(path):gmatch("[^\n]*") do
      if line:find("{{", 1, true) then
        n = n + 1
        lu.assertTrue(template.check(line), line)
        local text = template.render(line, CONTEXT)
        lu.assertStrContains(text, "/", line)
        lu.assertNil(text:find("{{", 1, true), line)
      end
    end
  end
  lu.assertTrue(n > 50, n)
end
