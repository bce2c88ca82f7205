-- CIJOE's TOML configs loaded by joe's config loader (cijoe.cijoe_toml): rendered, mapped,
-- a host_key_check chosen for each transport, the warnings with file:line:column; YAML
-- configs with CIJOE keys warned about too, their transport checks as before.
local lu = require("luaunit")
local h = require("helper")
local config = require("cijoe.config")
local packages = require("cijoe.packages")

local FIXTURES = h.root .. "/spec/fixtures/cijoe/"

-- config.load of sources ({file, text}), with the warnings it gave.
local function load(sources)
  local warnings, warn = {}, config.warn
  config.warn = function(text) warnings[#warnings + 1] = text end
  local conf, err = config.load(sources)
  config.warn = warn
  return conf, err, warnings
end

-- One text as a config called file.
local function load_text(file, text)
  return load({ { file = file, text = text } })
end

TestCijoeToml = {}

function TestCijoeToml:test_every_cijoe_example_loads_with_its_templates_rendered()
  local n = 0
  for path in h.sh("ls " .. FIXTURES .. "*.toml"):gmatch("[^\n]+") do
    local conf, err, warnings = load({ { file = path } })
    lu.assertNotNil(conf, err)
    for _, w in ipairs(warnings) do
      lu.assertStrMatches(w, h.q(path):sub(2, -2):gsub("%p", "%%%0") .. ":%d+:%d+: .*")
    end
    lu.assertNotStrContains(require("cijoe.yaml").dump(conf), "{{ local")
    n = n + 1
  end
  lu.assertEquals(n, 10)
  local conf = load({ { file = FIXTURES .. "example_config_build.toml" } })
  lu.assertEquals(conf.qemu.img, os.getenv("HOME") .. "/opt/qemu/bin/qemu-img")
  lu.assertEquals(conf.cijoe.workflow.fail_fast, true)
  conf = load({ { file = FIXTURES .. "example_config_default.toml" } })
  lu.assertEquals(conf.example.message, "Hello, world!")
  lu.assertEquals(conf.cijoe.workflow.fail_fast, false)
end

function TestCijoeToml:test_a_guest_transport_gets_no_and_any_other_accept_new()
  local file = FIXTURES .. "example_config_guest_x86_64.toml"
  local conf, _, warnings = load({ { file = file } })
  lu.assertEquals(conf.cijoe.transport.qemu_guest.host_key_check, "no")
  lu.assertEquals(warnings[1], file .. ":5:18: cijoe.transport.qemu_guest: host_key_check = " ..
    "no (it reaches qemu guest 'generic-bios-kvm-x86_64', whose host key is new at each boot)")
  file = FIXTURES .. "transport-ssh.toml"
  conf, _, warnings = load({ { file = file } })
  lu.assertEquals(conf.cijoe.transport.ssh.host_key_check, "accept-new")
  lu.assertEquals(warnings, { file .. ":2:18: cijoe.transport.ssh: host_key_check = " ..
    "accept-new (CIJOE's paramiko took any host key; joe keeps the first one in known_hosts " ..
    "and refuses a changed one; set host_key_check to choose)" })
  conf, _, warnings = load_text("mine.toml", '[cijoe.transport.box]\nhostname = "h"\n' ..
    'host_key_check = "yes"\n')
  lu.assertEquals(conf.cijoe.transport.box.host_key_check, "yes")
  lu.assertEquals(warnings, {})
end

function TestCijoeToml:test_system_imaging_keys_joe_ignores_are_said_once()
  local file = FIXTURES .. "example_config_debian.toml"
  local conf, _, warnings = load({ { file = file } })
  local image = conf["system-imaging"].images["debian-12-x86_64"]
  lu.assertEquals(image.disk.path,
    os.getenv("HOME") .. "/system_imaging/disk/debian-12-x86_64.qcow2")
  lu.assertEquals(image.cloud.metadata_path,
    "{{ resources.auxiliary['system_imaging.cloudinit-linux-common-metadata'] }}")
  local seed = "joe ignores this key (joe's guests get their cloud-init data from the seed " ..
    "qemu.guest_initialize makes)"
  lu.assertEquals({ table.unpack(warnings, 3) }, {
    file .. ":127:23: system-imaging.images.debian-12-x86_64.cloud.metadata_path (and in 4 " ..
      "more images): " .. seed,
    file .. ":128:23: system-imaging.images.debian-12-x86_64.cloud.userdata_path (and in 4 " ..
      "more images): " .. seed,
    file .. ":132:21: system-imaging.images.debian-12-x86_64.disk.url_checksum: joe ignores " ..
      "this key (joe checks an image with qemu.guests.NAME.image_sha256)",
    file .. ":134:1: system-imaging.images.debian-12-x86_64.docker (and in 3 more images): " ..
      "joe ignores this key (joe makes no docker images)",
  })
end

function TestCijoeToml:test_bad_templates_name_the_file_line_and_key()
  local _, err = load_text("a.toml", '[qemu]\nimg = "{{ local.env.HOME | upper }}"\n')
  lu.assertEquals(err, "a.toml:2:7: qemu.img: column 19 of the value: Jinja filters (|) " ..
    "are not supported")
  _, err = load_text("a.toml", '[x]\ny = "{% if a %}b{% endif %}"\n')
  lu.assertStrContains(err, "a.toml:2:5: x.y: column 1 of the value: '{%' opens a Jinja statement")
  _, err = load_text("a.toml", '[x]\ny = "{{ local.env.JOE_SPEC_NOT_SET_EVER }}"\n')
  lu.assertEquals(err, "a.toml:2:5: x.y: column 14 of the value: " ..
    "local.env.JOE_SPEC_NOT_SET_EVER " ..
    "is undefined (no key 'JOE_SPEC_NOT_SET_EVER' in local.env)")
  _, err = load_text("a.toml", "[x]\ny = \"{{ config.x }}\"\n")
  lu.assertEquals(err, "a.toml:2:5: x.y: column 11 of the value: config.x is undefined (no " ..
    "key 'x' in config); a config cannot name config values: CIJOE renders a config with " ..
    "an empty config, task files with the whole of it")
  _, err = load_text("a.toml", "[qemu.guests.g]\npath = \"{{ resources.auxiliary['a.b'] }}\"\n")
  lu.assertEquals(err, "a.toml:2:8: qemu.guests.g.path: {{ resources... }} names a file of " ..
    "CIJOE's Python packages, which joe does not have; write the file's path")
  _, err = load_text("a.toml", "[x\n")
  lu.assertStrMatches(err, "a%.toml:1:%d+: .*")
end

function TestCijoeToml:test_toml_values_take_env_variables_as_yaml_ones_do()
  local conf = load_text("a.toml",
    '[x]\ny = "${JOE_SPEC_UNSET_X:-fallback}/{{ local.env.HOME }}"\n')
  lu.assertEquals(conf.x.y, "fallback/" .. os.getenv("HOME"))
end

function TestCijoeToml:test_a_yaml_config_gets_warnings_for_cijoe_keys_and_keeps_its_checks()
  local conf, err, warnings = load_text("c.yaml", "cijoe:\n  task:\n    fail_fast: true\n" ..
    "  colour: blue\nqemu:\n  img_bin: /usr/bin/qemu-img\n  turbo: 1\n")
  lu.assertNotNil(conf, err)
  lu.assertEquals(conf.cijoe.workflow, { fail_fast = true })
  lu.assertEquals(conf.qemu.img, "/usr/bin/qemu-img")
  lu.assertEquals(warnings, {
    "c.yaml:4:11: cijoe.colour: joe ignores this key (joe has no such setting)",
    "c.yaml:7:10: qemu.turbo: joe ignores this key (joe's qemu package has no such setting)" })
  _, err = load_text("c.yaml",
    "cijoe:\n  transport:\n    t:\n      hostname: h\n      timeout: 3\n")
  lu.assertEquals(err, "c.yaml:5:16: unknown key 'timeout' in transport t")
  conf = load_text("c.yaml", "cijoe:\n  transport:\n    t: {hostname: h}\n")
  lu.assertEquals(conf.cijoe.transport.t, { hostname = "h" })
end

function TestCijoeToml:test_the_packages_configs_give_no_warning()
  for name, pkg in pairs(packages.list()) do
    for file in pairs(pkg.files) do
      if file:match("%.config$") then
        local text, origin = packages.read(name .. "/" .. file)
        local conf, err, warnings = load_text(origin, text)
        lu.assertNotNil(conf, err)
        lu.assertEquals(warnings, {}, origin)
      end
    end
  end
end

function TestCijoeToml:test_toml_in_a_yaml_file_is_named_as_toml()
  local _, err = load_text("cfg.yaml", '[cijoe.transport.ssh]\nhostname = "h"\n')
  lu.assertStrContains(err, "cfg.yaml:")
  lu.assertStrContains(err, "(the file is TOML, not YAML: name it *.toml, as CIJOE's configs " ..
    "are, and joe reads it as CIJOE does)")
  _, err = load_text("cfg.yaml", "a: [1\n")
  lu.assertNotStrContains(err, "TOML")
end

function TestCijoeToml:test_the_binary_prints_the_warnings_and_runs()
  local dir = h.tmpdir()
  h.write(dir .. "/c.toml",
    '[cijoe.task]\nfail_fast = true\nretries = 2\n[example]\nmessage = "hi"\n')
  h.write(dir .. "/wf.lua", 'print(cijoe.getconf("cijoe.workflow.fail_fast"), ' ..
    'cijoe.getconf("example.message"))\n')
  local status, out, err = h.joe_in(dir, "-q -c c.toml wf.lua")
  lu.assertEquals(status, 0, err)
  lu.assertEquals(out, "true\thi\n")
  lu.assertEquals(err, "joe: warning: c.toml:3:11: cijoe.task.retries: joe ignores this key " ..
    "(joe's workflows have no such setting)\n")
end

function TestCijoeToml:test_convert_writes_yaml_that_loads_as_the_toml_does()
  local dir = h.tmpdir()
  for path in h.sh("ls " .. FIXTURES .. "*.toml"):gmatch("[^\n]+") do
    local name = path:match("([^/]+)%.toml$")
    local status, _, err = h.joe_in(dir, "convert " .. h.q(path) .. " " .. name .. ".yaml")
    lu.assertEquals(status, 0, err)
    local text = h.read(dir .. "/" .. name .. ".yaml")
    lu.assertStrContains(text, "# " .. name .. ".toml (CIJOE) as joe's YAML config")
    if text:find("local.env.HOME", 1, true) == nil and h.read(path):find("local.env.HOME") then
      lu.assertStrContains(text, "${HOME}")
    end
    local from_toml = load({ { file = path } })
    local from_yaml, yerr, warnings = load({ { file = dir .. "/" .. name .. ".yaml" } })
    lu.assertEquals(from_yaml, from_toml, yerr)
    for _, w in ipairs(warnings) do lu.assertNotStrContains(w, "host_key_check") end
  end
  local status, out, err = h.joe_in(dir, "convert " .. FIXTURES .. "transport-ssh.toml")
  lu.assertEquals(status, 0)
  lu.assertStrContains(out, "cijoe:\n  transport:\n    ssh:\n      host_key_check: accept-new\n")
  lu.assertStrContains(err, "joe: warning: " .. FIXTURES .. "transport-ssh.toml:2:18: " ..
    "cijoe.transport.ssh: host_key_check = accept-new")
  status, _, err = h.joe_in(dir, "convert " .. FIXTURES .. "transport-ssh.toml transport-ssh.yaml")
  lu.assertEquals({ status, err }, { 2, "joe: transport-ssh.yaml: exists (joe convert writes " ..
    "a new file only)\n" })
  h.write(dir .. "/bad.toml", "[a]\nb = '{{ x | y }}'\n")
  status, _, err = h.joe_in(dir, "convert bad.toml")
  lu.assertEquals({ status, err }, { 2, "joe: bad.toml:2:5: a.b: column 6 of the value: Jinja " ..
    "filters (|) are not supported\n" })
  status, _, err = h.joe_in(dir, "convert c.yaml")
  lu.assertEquals({ status, err }, { 2, "joe: usage: joe convert CONFIG.toml [OUT.yaml]\n" })
end
