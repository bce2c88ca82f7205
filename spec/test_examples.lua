-- Every example in examples/ run as its README says, against real parts: the C project
-- and the many-hosts inventory on real sshds, the fio sweep, the kernel module and the
-- LuaUnit suite on the qemu package's test guest (skipped, with the reason, only when the
-- guest cannot be built). Each run goes to a folder of the test's; nothing is written
-- into examples/.
local lu = require("luaunit")
local h = require("helper")
local sshd = require("sshd")
local fixture = require("qemu_fixture")
local metrics_fixture = require("metrics_fixture")
local packages = require("cijoe.packages")

local EXAMPLES = h.root .. "/examples"

TestExamples = {}

function TestExamples:setUp()
  self.dir = h.tmpdir()
end

-- Run joe with args (shell words) in the folder of example name, with env (VAR=value
-- words) in front; returns the status, stdout and stderr.
function TestExamples:joe(name, args, env)
  local _, status = h.sh(string.format("cd %s && %s %s %s </dev/null >%s/.out 2>%s/.err",
    h.q(EXAMPLES .. "/" .. name), env or "", h.q(h.joe), args, self.dir, self.dir))
  return status, h.read(self.dir .. "/.out"), h.read(self.dir .. "/.err")
end

-- The -c options for the qemu package's default.config with the test guest living in
-- this test's folder, and more YAML after it; skips the test when the guest cannot be
-- built.
function TestExamples:guest_config(more)
  local files, why = fixture.files()
  if not files then lu.skip(why) end
  self.files = files
  h.write(self.dir .. "/default.config", (packages.read("qemu/default.config")))
  h.write(self.dir .. "/over.yaml", fixture.override(self.dir) .. (more or ""))
  return "-c " .. self.dir .. "/default.config -c " .. self.dir .. "/over.yaml"
end

function TestExamples:tearDown()
  if self.files then fixture.reap(self.dir .. "/") end
end

-- The step folder of run whose name ends with _<step>.
local function step_dir(run, step)
  return (h.sh("ls -d " .. h.q(run) .. "/[0-9][0-9][0-9]_" .. step):gsub("\n$", ""))
end

function TestExamples:test_every_example_has_a_readme_and_is_run_here()
  local here = h.read(h.root .. "/spec/test_examples.lua")
  lu.assertNotNil(h.read(EXAMPLES .. "/README.md"))
  for name in h.sh("cd " .. h.q(EXAMPLES) .. " && ls -d */"):gmatch("([^\n]+)/\n") do
    lu.assertNotNil(h.read(EXAMPLES .. "/" .. name .. "/README.md"), name .. " has no README")
    if name ~= "ci" then
      lu.assertStrContains(here, 'self:joe("' .. name .. '"')
    end
  end
end

function TestExamples:test_build_c_project_on_a_remote_host()
  local target = sshd.start()
  local remote = "/tmp/joe-spec-build-c-" .. target.port
  local env = string.format("TARGET_HOST=%s TARGET_PORT=%d TARGET_USER=%s TARGET_KEY=%s " ..
    "TARGET_KNOWN_HOSTS=%s BUILD_REMOTE_DIR=%s", target.address, target.port, sshd.user,
    target.dir .. "/id_ed25519", target.dir .. "/known_hosts", remote)
  local run = self.dir .. "/run"
  local status, out, err = self:joe("build-c-project", "-c target.yaml -o " .. run ..
    " build.workflow", env)
  lu.assertEquals(status, 0, out .. err)
  lu.assertStrMatches(out,
    ".*put +passed.*build +passed.*test +passed.*run +passed.*clean +passed.*")
  local tests = h.yaml(step_dir(run, "test") .. "/tests.yaml")
  lu.assertEquals(#tests, 4)
  lu.assertEquals({ tests[1].name, tests[1].status }, { "greets by name", "passed" })
  lu.assertStrContains(h.read(step_dir(run, "test") .. "/artifacts/results.tap"), "1..4\n")
  lu.assertEquals(h.read(step_dir(run, "run") .. "/cmd_01.output"), "Hello, joe!\n")
  lu.assertEquals(h.yaml(step_dir(run, "build") .. "/cmd_01.state").transport, "target")
  lu.assertStrContains(h.read(run .. "/junit.xml"), "never writes past the buffer")
  lu.assertEquals(select(2, h.sh("test -e " .. remote)), 1, "the clean step left " .. remote)
  -- as the CI example's lab jobs run it: from the repository's root
  local _, root_status = h.sh(string.format("cd %s && %s %s -q -c %s -o %s/run2 %s </dev/null",
    h.q(h.root), env, h.q(h.joe), "examples/build-c-project/target.yaml", self.dir,
    "examples/build-c-project/build.workflow"))
  lu.assertEquals(root_status, 0)
  lu.assertEquals(h.read(step_dir(self.dir .. "/run2", "run") .. "/cmd_01.output"), "Hello, joe!\n")
end

function TestExamples:test_many_hosts_at_once()
  local a, b = sshd.start(), sshd.start()
  h.write(self.dir .. "/a.yaml", a:config({ "web1", "db1" }))
  h.write(self.dir .. "/b.yaml", b:config({ "web2" }))
  local run = self.dir .. "/run"
  local status, out, err = self:joe("many-hosts", "--each all -j 3 -c hosts.yaml -c " ..
    self.dir .. "/a.yaml -c " .. self.dir .. "/b.yaml -o " .. run .. " inventory.workflow")
  lu.assertEquals(status, 0, out .. err)
  for _, host in ipairs({ "web1", "web2", "db1" }) do
    lu.assertEquals(h.yaml(run .. "/" .. host .. "/workflow.state").status, "passed", host)
    local facts = h.yaml(step_dir(run .. "/" .. host, "facts") .. "/artifacts/facts.yml")
    lu.assertTrue(facts.cpus >= 1, host)
    lu.assertStrMatches(facts.kernel, "Linux .*")
    lu.assertStrContains(out, "[" .. host .. "] ")
  end
  local _, suites = h.read(run .. "/junit.xml"):gsub("<testsuite ", "")
  lu.assertEquals(suites, 3)
end

function TestExamples:test_nvme_fio_sweep_with_requirements()
  local config = self:guest_config("sweep: {runtime: 1, block_sizes: [4k, 1M]}\n")
  local run = self.dir .. "/run"
  local status, out, err = self:joe("nvme-fio-sweep", config .. " -o " .. run .. " sweep.workflow")
  lu.assertEquals(status, 0, out .. err)
  lu.assertStrMatches(out, ".*randread_4k +passed.*randread_1M +passed.*requirements +passed.*")
  local analysis = h.yaml(run .. "/analysis.yml")
  lu.assertEquals({ analysis.status, analysis.failed }, { "pass", 0 })
  lu.assertEquals(analysis.passed, 5) -- iops and clat_p99 of each job, 4k's iops, 1M's bw
  lu.assertEquals(h.yaml(step_dir(run, "randread_4k") .. "/analysis.yml").status, "pass")
  lu.assertStrContains(h.read(step_dir(run, "requirements") .. "/cmd_02.output"),
    "5 passed, 0 failed")
  self:sweep_against(config, run)
end

-- The sweep again with the first run as its baseline, as the README says: the comparison
-- is made and passes (a threshold TCG's noise stays under: IOPS cannot fall 400%, latency
-- does not grow fivefold); then that run against a baseline a thousand times faster
-- fails (ten times was not enough: two runs here differed threefold).
function TestExamples:sweep_against(config, base)
  local run = self.dir .. "/run2"
  h.write(self.dir .. "/against.yaml", "sweep: {baseline: " .. base .. ", threshold: 400%}\n")
  local status, out, err = self:joe("nvme-fio-sweep", config .. " -c " .. self.dir ..
    "/against.yaml -o " .. run .. " sweep.workflow")
  lu.assertEquals(status, 0, out .. err)
  local c = h.yaml(run .. "/compare.yml")
  lu.assertEquals({ c.status, c.regressions, c.base }, { "pass", 0, base })
  lu.assertTrue(c.compared >= 4, "compared " .. tostring(c.compared))
  lu.assertStrContains(h.read(step_dir(run, "requirements") .. "/cmd_02.output"),
    " compared, 0 regressions, ")
  local faster = self.dir .. "/faster"
  h.sh("cp -r " .. h.q(base) .. " " .. h.q(faster))
  for _, s in ipairs({ "randread_4k", "randread_1M" }) do
    metrics_fixture.change_metrics(faster, step_dir(faster, s):match("[^/]+$"), function(doc)
      for _, job in ipairs(doc.jobs) do
        job.read.clat_p99, job.read.iops = job.read.clat_p99 / 1000, job.read.iops * 1000
      end
    end)
  end
  local against_faster
  status, against_faster = h.joe_in(self.dir, "analyse " .. run .. " -r " .. EXAMPLES ..
    "/nvme-fio-sweep/requirements.yml --baseline " .. faster .. " -t 400%")
  lu.assertEquals(status, 1, against_faster)
  lu.assertStrMatches(against_faster, ".*\nrandread_4k +randread_4k +read +clat_p99 .* regression\n.*")
  lu.assertEquals(h.yaml(run .. "/compare.yml").status, "fail")
end

function TestExamples:test_kernel_module_built_here_loaded_in_the_guest()
  local config = self:guest_config()
  local versions = h.read(self.files.kernel:gsub("[^/]+$", "") .. "versions") or ""
  local release = versions:match("linux%-image%-([%w.-]+):")
  if not h.read("/usr/src/linux-headers-" .. tostring(release) .. "/Makefile") then
    lu.skip("linux-headers-" .. tostring(release) ..
      " is not installed (make test-deps installs it)")
  end
  local run = self.dir .. "/run"
  local status, out, err = self:joe("kernel-module", config .. " -o " .. run .. " module.workflow")
  lu.assertEquals(status, 0, out .. err)
  lu.assertEquals(h.read(step_dir(run, "kernel") .. "/cmd_01.output"), release .. "\n")
  lu.assertNotNil(h.read(step_dir(run, "build") .. "/hello_joe/hello_joe.ko"))
  lu.assertStrMatches(h.read(step_dir(run, "insmod") .. "/cmd_03.output"),
    "%[ *[%d.]+%] hello_joe: hi from joe\n")
  lu.assertStrMatches(h.read(step_dir(run, "rmmod") .. "/cmd_03.output"),
    "%[ *[%d.]+%] hello_joe: goodbye\n")
end

function TestExamples:test_luaunit_suite_with_fixtures_and_parameters()
  local config = self:guest_config()
  local run = self.dir .. "/run"
  local status, out, err = self:joe("luaunit-suite", config .. " -o " .. run .. " test tests/")
  lu.assertEquals(status, 0, out .. err)
  lu.assertStrContains(out, "    test_random_reads[bs=64k] ... Ok\n")
  lu.assertStrContains(out, "    test_queue_attribute[zoned namespace] ... Ok\n")
  lu.assertStrContains(out, "7 passed, 0 failed, 0 skipped\n")
  local state = h.yaml(run .. "/workflow.state")
  lu.assertEquals(state.steps[1].name, "fixture guest")
  lu.assertEquals(state.steps[#state.steps].name, "fixture guest (teardown)")
  lu.assertNotNil(h.read(step_dir(run, "test_random_reads_bs_4k_") ..
    "/artifacts/fio-randread-4k.json"))
  lu.assertStrContains(h.read(run .. "/junit.xml"), 'name="test_random_reads[bs=1M]"')
  lu.assertEquals(fixture.processes(self.dir .. "/default/"), "", "the guest was left running")
end
