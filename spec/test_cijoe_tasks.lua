-- CIJOE task files as CIJOE users bring them: CIJOE 0.9.60's own examples (those that need
-- only what joe has run unchanged, the rest name the worklet joe lacks), Jinja in run: and
-- with:, `transport: initiator`, cijoe.task.fail_fast, CIJOE's with names, Python scripts.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")

local FIXTURES = h.root .. "/spec/fixtures/cijoe/"

TestCijoeTasks = {}

function TestCijoeTasks:setUp()
  self.dir = h.tmpdir()
end

function TestCijoeTasks:test_cijoes_default_example_runs_unchanged()
  local status, out, err = h.joe_in(self.dir, "-c " .. FIXTURES .. "example_config_default.toml "
    .. FIXTURES .. "example_task_default.yaml")
  lu.assertEquals(status, 0, out .. err)
  lu.assertStrMatches(out, ".*inline_commands +passed.*script_with_args +passed.*" ..
    "example_script +passed.*")
  local run = h.latest(self.dir)
  lu.assertEquals(h.read(run .. "/003_example_script/cmd_01.output"), "Hello, world!\n")
  lu.assertEquals(h.read(run .. "/003_example_script/cmd_02.output"), "Hello, world!\n")
  lu.assertNil(h.read(run .. "/003_example_script/cmd_03.output"))
  lu.assertStrContains(h.read(run .. "/001_inline_commands/cmd_01.output"), "processor")
end

-- What joe lint says of each of CIJOE's example tasks: ok, or the one worklet it lacks.
local LINT = {
  example_task_default = "ok",
  example_task_build = "example_task_build.yaml:17:9: step 'build': unknown worklet " ..
    "'qemu.build': CIJOE has it (a Python script), joe has no Lua worklet of that name; " ..
    "write one in worklets/ or a package (joe resources lists joe's)",
  example_task_build_kdebs = "example_task_build_kdebs.yaml:15:9: step 'build': unknown " ..
    "worklet 'linux.build_kdebs': CIJOE has it (a Python script), joe has no Lua worklet " ..
    "of that name; write one in worklets/ or a package (joe resources lists joe's)",
  example_task_debian = "example_task_debian.yaml:37:9: step 'dockerimage_from_diskimage': " ..
    "unknown worklet 'system_imaging.dockerimage_from_diskimage': CIJOE has it (a Python " ..
    "script), joe has no Lua worklet of that name; write one in worklets/ or a package (joe " ..
    "resources lists joe's)",
  example_task_get_put = "ok", example_task_guest_aarch64 = "ok",
  example_task_guest_x86_64 = "ok", example_task_null_blk = "ok", example_task_testrunner = "ok",
}

function TestCijoeTasks:test_cijoes_example_tasks_lint_or_name_the_missing_worklet()
  h.sh("cp " .. FIXTURES .. "example_task_*.yaml " .. h.q(self.dir)) -- fixtures stay as they are
  for name, expected in pairs(LINT) do
    local status, out = h.joe_in(self.dir, "lint " .. name .. ".yaml")
    if expected == "ok" then
      lu.assertEquals({ status, out }, { 0, name .. ".yaml: ok\n" })
    else
      lu.assertEquals({ status, out }, { 1, expected .. "\n" })
    end
  end
end

function TestCijoeTasks:test_templates_render_with_the_config_and_initiator_is_local()
  local target = sshd.start()
  h.write(self.dir .. "/c.toml", string.format('[cijoe.transport.target]\nhostname = "%s"\n' ..
    'port = %d\nusername = "%s"\nkey_filename = "%s/id_ed25519"\n' ..
    'known_hosts = "%s/known_hosts"\n' ..
    'host_key_check = "yes"\n[example]\nmessage = "Hello from {{ local.env.JOE_SPEC_WHO }}"\n',
    target.address, target.port, sshd.user, target.dir, target.dir))
  h.write(self.dir .. "/t.yaml", [[
steps:
- name: there
  run: |
    echo "{{ config.example.message }}: $USER"
- name: here
  run: 'echo "{{ config[''example''].message }}: ${SSH_CONNECTION:-here}"'
  with:
    transport: initiator
- name: wait
  uses: core.wait_for_transport
  with:
    transport_name: target
    timeout: 10
- name: copy
  uses: core.put
  with:
    src: "{{ local.env.PWD }}/t.yaml"
    dst: "/tmp/joe-spec-{{ config.cijoe.transport.target.port }}.yaml"
- name: check
  run: cmp "{{ local.env.PWD }}/t.yaml" /tmp/joe-spec-{{ config.cijoe.transport.target.port }}.yaml
  with:
    transport: initiator
]])
  local status, out, err = h.joe_in(self.dir, "-c c.toml t.yaml", "JOE_SPEC_WHO=joe")
  lu.assertEquals(status, 0, out .. err)
  local run = h.latest(self.dir)
  lu.assertEquals(h.read(run .. "/001_there/cmd_01.output"), "Hello from joe: joetest\n")
  lu.assertEquals(h.read(run .. "/002_here/cmd_01.output"), "Hello from joe: here\n")
  lu.assertEquals(h.yaml(run .. "/002_here/cmd_01.state").transport, "local")
  lu.assertEquals(h.yaml(run .. "/005_check/cmd_01.state").err, 0)
  os.remove("/tmp/joe-spec-" .. target.port .. ".yaml")
end

-- CIJOE's transport_name picks the transport to wait for, not the default one: the first
-- transport (the default) has nothing listening, the second answers.
function TestCijoeTasks:test_transport_name_waits_for_the_named_transport_not_the_default()
  local target = sshd.start()
  h.write(self.dir .. "/c.toml", string.format('[cijoe.transport.dead]\nhostname = "%s"\n' ..
    'port = %d\nusername = "%s"\n[cijoe.transport.target]\nhostname = "%s"\nport = %d\n' ..
    'username = "%s"\nkey_filename = "%s/id_ed25519"\nknown_hosts = "%s/known_hosts"\n',
    target.address, h.free_port(), sshd.user, target.address, target.port, sshd.user,
    target.dir, target.dir))
  h.write(self.dir .. "/t.yaml", "steps:\n- name: up\n  uses: core.wait_for_transport\n" ..
    "  with:\n    transport_name: target\n    timeout: 3\n- name: down\n" ..
    "  uses: core.wait_for_transport\n  with:\n    transport_name: dead\n    state: down\n" ..
    "    timeout: 3\n- name: default\n  uses: core.wait_for_transport\n  with:\n" ..
    "    timeout: 2\n")
  local status, out, err = h.joe_in(self.dir, "-c c.toml t.yaml")
  lu.assertEquals(status, 1, out .. err)
  lu.assertStrMatches(out, ".*up +passed.*down +passed.*default +failed.*")
  lu.assertStrContains(out .. err, "transport dead is not up after 2 s")
end

function TestCijoeTasks:test_a_key_the_config_lacks_fails_its_step_and_runs_nothing()
  h.write(self.dir .. "/t.yaml", "steps:\n- name: a\n  run: |\n    echo one\n" ..
    "    echo {{ config.nosuch.key }}\n- name: b\n  uses: core.cmdrunner\n  with:\n" ..
    "    commands: ['echo {{ local.env.JOE_SPEC_UNSET_VAR }}']\n")
  local status, out, err = h.joe_in(self.dir, "t.yaml")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*a +failed.*b +failed.*")
  lu.assertStrContains(err, "t.yaml:2: run: line 2, column 16: config.nosuch is undefined " ..
    "(no key 'nosuch' in config)")
  lu.assertStrContains(err, "t.yaml:6: with.commands.1: column 19: local.env.JOE_SPEC_UNSET_VAR " ..
    "is undefined")
  lu.assertNil(h.read(h.latest(self.dir) .. "/001_a/cmd_01.state"))
end

function TestCijoeTasks:test_lint_names_the_line_of_each_unsupported_template()
  h.write(self.dir .. "/t.yaml", "steps:\n- name: a\n  run: |\n    true\n" ..
    "    echo {{ config.x | upper }}\n- name: b\n  uses: core.put\n  with:\n" ..
    "    src: \"{% if x %}a{% endif %}\"\n    dst: '{{ x }}'\n- name: c\n" ..
    "  run: echo ${#HOME}\n")
  local status, out = h.joe_in(self.dir, "lint t.yaml")
  lu.assertEquals(status, 1)
  lu.assertEquals(out, "t.yaml:5: step 'a': run: column 18: Jinja filters (|) are not " ..
    "supported\nt.yaml:9: step 'b': with.src: column 1: '{%' opens a Jinja statement, which " ..
    "joe does not support (for the text itself, write {{ '{%' }})\nt.yaml:12: step 'c': run: " ..
    "column 7: '{#' opens a Jinja comment, which joe does not support (for the text itself, " ..
    "write {{ '{#' }})\n")
  status = h.joe_in(self.dir, "t.yaml")
  lu.assertEquals(status, 1)
  lu.assertNil(h.read(h.latest(self.dir) .. "/workflow.state"))
end

function TestCijoeTasks:test_cijoe_task_fail_fast_stops_a_task()
  h.write(self.dir .. "/c.toml", "[cijoe.task]\nfail_fast = true\n")
  h.write(self.dir .. "/t.yaml", "steps:\n- name: a\n  run: 'false'\n- name: b\n  run: 'true'\n")
  local status, out = h.joe_in(self.dir, "-c c.toml t.yaml")
  lu.assertEquals(status, 1)
  lu.assertStrMatches(out, ".*a +failed.*b +skipped.*")
  h.write(self.dir .. "/c.yaml", "cijoe:\n  task:\n    fail_fast: true\n")
  status, out = h.joe_in(self.dir, "-c c.yaml t.yaml")
  lu.assertStrMatches(out, ".*a +failed.*b +skipped.*")
end

function TestCijoeTasks:test_a_python_script_is_refused_with_the_way_out()
  h.write(self.dir .. "/scripts/my_check.py", "def main(args, cijoe):\n    return 0\n")
  h.write(self.dir .. "/t.yaml", "steps:\n- name: mine\n  uses: my_check\n")
  local message = "t.yaml:3:9: step 'mine': uses: my_check: scripts/my_check.py is a CIJOE " ..
    "Python script, which joe does not run; write it as a Lua worklet, worklets/my_check.lua " ..
    "returning function(args, cijoe) ... end (see DESIGN.md, Workflows)"
  local status, out = h.joe_in(self.dir, "lint t.yaml")
  lu.assertEquals({ status, out }, { 1, message .. "\n" })
  local err
  status, _, err = h.joe_in(self.dir, "t.yaml")
  lu.assertEquals({ status, err }, { 1, "joe: " .. message .. "\n" })
  h.write(self.dir .. "/worklets/my_check.lua", "return function() end\n")
  status, out = h.joe_in(self.dir, "lint t.yaml")
  lu.assertEquals({ status, out }, { 0, "t.yaml: ok\n" })
end
