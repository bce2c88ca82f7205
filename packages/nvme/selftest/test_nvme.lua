-- The nvme package's own checks. What it makes of nvme-cli's output needs no NVMe; the
-- rest runs read-only commands (list, identify, SMART log, zone report) on the target of
-- the config, and is skipped when nvme-cli or an NVMe namespace is missing there.
local lu = require("luaunit")
local nvme = require("nvme")

TestNvmeOutput = {}

function TestNvmeOutput:test_json_after_a_warning_is_read()
  local doc = nvme.decode('warning: no hostnqn\n{\n  "nr_zones":2,\n  "zone_list":[\n' ..
    '    {"slba":0, "state":"EMPTY"}\n  ]\n}\n', "t")
  lu.assertEquals(doc.nr_zones, 2)
  lu.assertEquals(doc.zone_list[1].state, "EMPTY")
end

function TestNvmeOutput:test_no_json_names_the_command_and_nvme_clis_message()
  lu.assertEquals({ nvme.decode("/dev/nvme9n1: No such file or directory\n", "nvme id-ns") },
    { nil, "nvme id-ns: no JSON in nvme-cli's output: /dev/nvme9n1: No such file or directory" })
  local _, msg = nvme.decode('{"nr_zones": 2, "zone_list": [\n', "nvme report")
  lu.assertStrContains(msg, "nvme report:")
end

function TestNvmeOutput:test_message_is_the_first_line_without_escapes()
  lu.assertEquals(nvme.message("\n\27[1mUsage: nvme id-ns <device>\27[0m\nmore\n"),
    "Usage: nvme id-ns <device>")
  lu.assertEquals(nvme.message(""), "(no message)")
end

function TestNvmeOutput:test_misuse_raises()
  lu.assertErrorMsgContains("bad argument #1 to 'id_ctrl' (string expected, got nil)", nvme.id_ctrl)
  lu.assertErrorMsgContains("bad argument #2 to 'zone_open' (integer expected, got string)",
    nvme.zone_open, "/dev/nvme0n2", "0")
end

TestNvmeSelftest = {}

function TestNvmeSelftest:setUp()
  local err = cijoe.run(cijoe.quote(cijoe.getconf("nvme.bin", "nvme")) .. " version")
  if err ~= 0 then lu.skip("nvme-cli is not installed on the target") end
  local list, msg = nvme.list()
  if not list then lu.skip("nvme list failed on the target: " .. tostring(msg)) end
  if #list.Devices == 0 then lu.skip("the target has no NVMe namespace") end
  self.dev = list.Devices[1].DevicePath
end

function TestNvmeSelftest:test_controller_and_namespace_identify()
  local ctrl = assert(nvme.id_ctrl(self.dev))
  lu.assertEquals(math.type(ctrl.vid), "integer")
  lu.assertTrue(#ctrl.mn > 0 and #ctrl.sn > 0, "model and serial")
  local ns = assert(nvme.id_ns(self.dev))
  lu.assertTrue(ns.nsze > 0)
  lu.assertTrue(#ns.lbafs > 0)
end

function TestNvmeSelftest:test_smart_log()
  local log = assert(nvme.smart_log(self.dev))
  lu.assertTrue(log.temperature > 0, "temperature in kelvin")
  lu.assertEquals(math.type(log.critical_warning), "integer")
end

function TestNvmeSelftest:test_a_missing_device_gives_nvme_clis_message()
  local doc, msg = nvme.id_ns("/dev/nvme-joe-none")
  lu.assertNil(doc)
  lu.assertStrContains(msg, "/dev/nvme-joe-none")
  lu.assertStrContains(msg, "(exit status ")
end

function TestNvmeSelftest:test_zone_report_of_a_zoned_namespace()
  local _, st = cijoe.run("grep -l host-managed /sys/block/nvme*/queue/zoned; true")
  local name = st:output():match("/sys/block/([^/]+)/")
  if not name then lu.skip("the target has no zoned NVMe namespace") end
  local report = assert(nvme.report_zones("/dev/" .. name, { count = 1 }))
  lu.assertTrue(report.nr_zones >= 1)
  lu.assertEquals(#report.zone_list, 1)
  lu.assertStrMatches(report.zone_list[1].state, "%u[%u_]*")
end
