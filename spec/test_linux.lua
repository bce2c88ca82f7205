-- The linux package on this machine: sysinfo's commands, one logged per item, missing tools
-- noted rather than failing, and null_blk (most likely absent from this kernel: skipped).
local lu = require("luaunit")
local h = require("helper")
local linux = require("linux")

TestLinux = {}

function TestLinux:setUp()
  self.dir = h.tmpdir()
end

function TestLinux:tearDown()
  h.sh("rm -rf " .. h.q(self.dir))
end

-- A folder of commands for PATH: links to the real `have`, scripts for `scripts`.
local function bin(dir, have, scripts)
  local path = dir .. "/bin"
  h.sh("mkdir -p " .. h.q(path))
  for _, tool in ipairs(have) do h.sh("ln -s \"$(command -v " .. tool .. ")\" " .. h.q(path)) end
  for name, text in pairs(scripts or {}) do
    h.write(path .. "/" .. name, "#!/bin/sh\n" .. text .. "\n")
    h.sh("chmod +x " .. h.q(path .. "/" .. name))
  end
  return path
end

-- A config whose commands see only the tools of `path`.
local function config_with_path(dir, path, extra)
  return h.write(dir .. "/only.config", "cijoe:\n  run:\n    env:\n      PATH: " .. path
    .. "\n" .. (extra or ""))
end

-- A step the worklet skipped (`return "skip", reason`): "skipped", with its reason.
local function assert_skipped(rec, reason)
  lu.assertEquals(rec.status, "skipped")
  lu.assertStrContains(rec.reason, reason)
end

-- What sysinfo.yml should say of an item on this machine.
local function expected_status(tool_present)
  return tool_present and "ok" or "missing"
end

function TestLinux:test_sysinfo_logs_one_command_per_item()
  h.write(self.dir .. "/wf.lua", 'step("sysinfo", "linux.sysinfo")\n')
  local status, out = h.joe_in(self.dir, "wf.lua")
  lu.assertEquals(status, 0, out)
  local step = h.latest(self.dir) .. "/001_sysinfo"
  for i, item in ipairs(linux.SYSINFO) do
    lu.assertEquals(h.yaml(string.format("%s/cmd_%02d.state", step, i)).cmd, item[2])
  end
  lu.assertNil(h.read(string.format("%s/cmd_%02d.state", step, #linux.SYSINFO + 1)))
  lu.assertEquals(h.read(step .. "/cmd_01.output"), h.sh("uname -a"))
  lu.assertStrContains(h.read(step .. "/cmd_02.output"), "PRETTY_NAME=")
  local items = h.yaml(step .. "/artifacts/sysinfo.yml").items
  lu.assertEquals(items[1], { name = "uname", cmd = "uname -a", status = "ok", err = 0,
    log = "cmd_01.output" })
  lu.assertEquals(items[3].status, "ok") -- lsblk, from util-linux
  local has_lspci = h.sh("command -v lspci >/dev/null; echo $?") == "0\n"
  lu.assertEquals(items[5].status, expected_status(has_lspci))
  if not has_lspci then
    lu.assertStrContains(out, "linux.sysinfo: lspci is missing on the target (noted, see cmd_05.output)")
    lu.assertStrContains(h.read(step .. "/cmd_05.output"), "lspci: not found")
  end
  local has_config = h.sh("test -r /proc/config.gz || test -r /boot/config-$(uname -r); echo $?")
  lu.assertEquals(items[7].status, expected_status(has_config == "0\n"))
  if has_config == "0\n" then lu.assertStrContains(h.read(step .. "/cmd_07.output"), "CONFIG_") end
end

function TestLinux:test_missing_tools_are_noted_not_failures()
  local path = bin(self.dir, { "uname", "cat" })
  config_with_path(self.dir, path)
  h.write(self.dir .. "/wf.lua", 'step("sysinfo", "linux.sysinfo")\n')
  local status, out = h.joe_in(self.dir, "-c only.config wf.lua")
  lu.assertEquals(status, 0, out)
  for _, name in ipairs({ "lsblk", "lscpu", "lspci", "modules", "kernel-config" }) do
    lu.assertStrContains(out, "linux.sysinfo: " .. name .. " is missing on the target")
  end
  local step = h.latest(self.dir) .. "/001_sysinfo"
  local statuses = {}
  for _, item in ipairs(h.yaml(step .. "/artifacts/sysinfo.yml").items) do
    statuses[#statuses + 1] = item.status
  end
  lu.assertEquals(statuses, { "ok", "ok", "missing", "missing", "missing", "missing", "missing" })
  lu.assertStrContains(h.read(step .. "/cmd_03.output"), "lsblk: not found")
end

function TestLinux:test_a_failing_item_fails_the_step_after_all_ran()
  local path = bin(self.dir, { "uname", "cat", "lsblk" }, { lscpu = "echo 'lscpu: broken' >&2; exit 3" })
  config_with_path(self.dir, path)
  h.write(self.dir .. "/wf.lua", 'step("sysinfo", "linux.sysinfo")\n')
  local status = h.joe_in(self.dir, "-c only.config wf.lua")
  lu.assertEquals(status, 1)
  local run = h.latest(self.dir)
  local rec = h.yaml(run .. "/workflow.state").steps[1]
  lu.assertEquals(rec.status, "failed")
  lu.assertEquals(rec.failure.message, "failed: lscpu (cmd_04.output)")
  lu.assertEquals(h.read(run .. "/001_sysinfo/cmd_04.output"), "lscpu: broken\n")
  lu.assertNotNil(h.read(run .. "/001_sysinfo/cmd_07.state"))
end

function TestLinux:test_null_blk_on_this_machine()
  h.write(self.dir .. "/wf.lua", [[
step("insert", "linux.null_blk", { ["do"] = "insert", nr_devices = 2 })
step("remove", "linux.null_blk", { ["do"] = "remove" })
]])
  local present = h.sh("modinfo null_blk >/dev/null 2>&1; echo $?") == "0\n"
  local status, out = h.joe_in(self.dir, "wf.lua")
  local run = h.latest(self.dir)
  local steps = h.yaml(run .. "/workflow.state").steps
  lu.assertEquals(h.yaml(run .. "/001_insert/cmd_01.state").cmd, "modinfo 'null_blk'")
  if present then
    lu.assertEquals(status, 0, out)
    lu.assertEquals(h.yaml(run .. "/001_insert/cmd_02.state").cmd,
      "modprobe null_blk nr_devices='2'")
    return
  end
  local said = h.read(run .. "/001_insert/cmd_01.output"):match("([^\n]*)\n$")
  local reason = "the null_blk kernel module cannot be found on the target (modinfo null_blk: "
    .. said .. ")"
  assert_skipped(steps[1], reason)
  assert_skipped(steps[2], reason)
  lu.assertNil(h.read(run .. "/001_insert/cmd_02.state"), "no modprobe was tried")
end

function TestLinux:test_null_blk_parameters_from_config_and_with()
  local path = bin(self.dir, {}, { modinfo = "echo 'filename: null_blk.ko'",
    modprobe = "echo \"modprobe $*\"" })
  config_with_path(self.dir, path, "linux:\n  null_blk:\n    nr_devices: 1\n    gb: 4\n"
    .. "    memory_backed: yes\n")
  h.write(self.dir .. "/wf.lua", [[
step("insert", "linux.null_blk", { nr_devices = 2, queue_mode = "2; touch pwned" })
step("remove", "linux.null_blk", { ["do"] = "remove" })
step("typo", "linux.null_blk", { ["do"] = "insret" })
]])
  local status = h.joe_in(self.dir, "-c only.config wf.lua")
  lu.assertEquals(status, 1)
  local run = h.latest(self.dir)
  lu.assertEquals(h.yaml(run .. "/001_insert/cmd_02.state").cmd,
    "modprobe null_blk gb='4' memory_backed='1' nr_devices='2' queue_mode='2; touch pwned'")
  lu.assertEquals(h.read(run .. "/001_insert/cmd_02.output"),
    "modprobe null_blk gb=4 memory_backed=1 nr_devices=2 queue_mode=2; touch pwned\n")
  lu.assertEquals(h.yaml(run .. "/002_remove/cmd_02.state").cmd, "modprobe -r null_blk")
  local steps = h.yaml(run .. "/workflow.state").steps
  lu.assertEquals({ steps[1].status, steps[2].status, steps[3].status }, { "passed", "passed", "failed" })
  lu.assertStrContains(steps[3].error, 'linux.null_blk: with.do must be "insert" or "remove", not insret')
end

function TestLinux:test_has_module()
  local has, why = linux.has_module("joe_no_such_module")
  lu.assertFalse(has)
  lu.assertStrContains(why, "modinfo joe_no_such_module: ")
  lu.assertNil(linux.has_module("x", { transport = "nowhere", probe = true }))
end

function TestLinux:test_example_workflow()
  lu.assertEquals(h.joe_in(self.dir, "-s linux"), 0)
  lu.assertStrContains(h.read(self.dir .. "/default.config"), "nr_devices: 1")
  local _, out = h.joe_in(self.dir, "run")
  lu.assertStrMatches(out, ".*  1 sysinfo +passed.*")
  local steps = h.yaml(h.latest(self.dir) .. "/workflow.state").steps
  lu.assertEquals(#steps, 3)
  if h.sh("modinfo null_blk >/dev/null 2>&1; echo $?") ~= "0\n" then
    assert_skipped(steps[2], "the null_blk kernel module cannot be found on the target")
  end
end

function TestLinux:test_package_selftest_passes()
  local status, out = h.joe_in(self.dir, "test " .. h.q(h.root .. "/packages/linux/selftest"))
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, ".*\n%d passed, 0 failed, %d skipped\n$")
end
