-- Issue 14 on this machine: secrets masked wherever joe writes the config or a command
-- line (item 4), runs sharing an output directory (5), the fan-out's relay of long lines
-- and its signals (6), -j and jobs checked (7), and the bad inputs, each refused with a
-- message before anything runs. Every joe runs under the watchdog (h.joe_watched).
local lu = require("luaunit")
local h = require("helper")

TestHostileRuns = {}

function TestHostileRuns:setUp()
  self.dir = h.tmpdir()
end

-- Run joe with args in the scratch folder under the watchdog; status, out, err.
function TestHostileRuns:joe(args, bound, env)
  return h.joe_watched(self.dir, args, bound or 30, env)
end

-- A workflow that marks, when any of it runs, the file `ran` in the scratch folder.
function TestHostileRuns:marking_workflow()
  return h.write(self.dir .. "/wf.lua", string.format(
    'step("mark", function() return cijoe.run_local("touch %s/ran") end)\n', self.dir))
end

-- The config error of joe with config text (or the -c argument given) and env: exit 2,
-- the message on stderr, nothing run. Returns stderr.
function TestHostileRuns:refused(config, env, message)
  self:marking_workflow()
  local arg = config
  if config:find("\n") then
    h.write(self.dir .. "/c.yaml", config)
    arg = "c.yaml"
  end
  local status, _, err = self:joe("-q -c " .. arg .. " wf.lua", 30, env)
  lu.assertEquals(status, 2, err)
  lu.assertStrContains(err, message)
  lu.assertNil(h.read(self.dir .. "/ran"), "a refused config ran the workflow")
  return err
end

local SECRETS = { "S1-github-secret", "S2-token-in-a-list", "S3-api-key", "S4-db-pwd",
  "S5-credentials-pw", "S6-listed-name", "S7-auth-header", "S8-passphrase" }

local SECRET_CONFIG = [[
cijoe:
  secrets: [myname]
  transport:
    target: {hostname: 127.0.0.1, port: 1, passphrase: S8-passphrase}
secrets: {github: S1-github-secret}
tokens: [S2-token-in-a-list]
API_KEY: S3-api-key
DB_PWD: S4-db-pwd
credentials: {pw: S5-credentials-pw}
myname: S6-listed-name
service: {authorization: S7-auth-header}
key_filename: /visible/path/id_ed25519
plain: visible-value
]]

function TestHostileRuns:test_secrets_are_masked_in_every_file_and_message()
  h.write(self.dir .. "/c.yaml", SECRET_CONFIG)
  h.write(self.dir .. "/wf.lua", [[
step("use", function()
  return cijoe.run_local("true " .. cijoe.getconf("secrets.github") .. " " ..
    cijoe.getconf("tokens")[1] .. " S3-api-key S4-db-pwd S5-credentials-pw S6-listed-name " ..
    "S7-auth-header S8-passphrase E9-env-token", { env = { API_TOKEN = "E9-env-token" } })
end)
step("fail", function() return cijoe.run_local("false S1-github-secret") end)]])
  local status, out, err = self:joe("-v -c c.yaml -o run wf.lua")
  lu.assertEquals(status, 1, err) -- the second step fails, so its command line is reported
  local everything = out .. err .. h.sh("cd " .. self.dir .. "/run && cat $(find . -type f)")
  for _, secret in ipairs({ table.unpack(SECRETS), "E9-env-token" }) do
    lu.assertNotStrContains(everything, secret)
  end
  lu.assertStrContains(err, "$ true ******** ******** ******** ******** ******** ******** " ..
    "******** ******** ********")
  local orig = h.read(self.dir .. "/run/config.orig")
  lu.assertStrContains(orig, "visible-value")
  lu.assertStrContains(orig, "/visible/path/id_ed25519")
  lu.assertStrContains(h.read(self.dir .. "/run/report.html"), "false ********")
  -- the REPL's :config
  local rout = h.sh_watched(string.format("cd %s && printf ':config\\n' | %s repl -c c.yaml " ..
    "-o repl", h.q(self.dir), h.q(h.joe)), 30)
  for _, secret in ipairs(SECRETS) do lu.assertNotStrContains(rout, secret) end
  lu.assertStrContains(rout, "visible-value")
  lu.assertStrContains(rout, "********")
end

-- A numeric secret (YAML makes 918273645 a number) is masked in command lines too.
function TestHostileRuns:test_a_secret_that_is_a_number_is_masked_in_command_lines()
  h.write(self.dir .. "/c.yaml", "db_pwd: 918273645\n")
  h.write(self.dir .. "/wf.lua", [[
step("use", function() return cijoe.run_local("false " .. cijoe.getconf("db_pwd")) end)]])
  local status, out, err = self:joe("-v -c c.yaml -o run wf.lua")
  lu.assertEquals(status, 1, err)
  lu.assertStrContains(err, "$ false ********")
  local everything = out .. err .. h.sh("cd " .. self.dir .. "/run && cat $(find . -type f)")
  lu.assertNotStrContains(everything, "918273645")
end

function TestHostileRuns:test_twelve_runs_into_one_output_directory_one_runs()
  h.write(self.dir .. "/wf.lua", string.format([[
step("s", function()
  return cijoe.run_local("touch %s/ran-" .. os.getenv("I") .. "; sleep 0.5")
end)]],
    self.dir))
  local out = h.sh_watched(string.format([[cd %s && for i in $(seq 12); do
      (I=$i %s -q -o shared wf.lua > out-$i 2> err-$i; echo $? > status-$i) &
    done; wait; cat status-* | sort | uniq -c]], h.q(self.dir), h.q(h.joe)), 60)
  lu.assertEquals(out:gsub("^%s+", ""):gsub("\n%s+", "\n"), "1 0\n11 2\n")
  lu.assertEquals(h.sh("ls " .. self.dir .. " | grep -c '^ran-'"), "1\n")
  lu.assertEquals(h.sh("ls " .. self.dir .. "/shared/001_s"), "cmd_01.output\ncmd_01.state\n")
  for i = 1, 12 do
    if h.read(self.dir .. "/status-" .. i) == "2\n" then
      lu.assertStrContains(h.read(self.dir .. "/err-" .. i), "joe: cannot create the output " ..
        "directory: shared: holds an earlier run")
      lu.assertStrContains(h.read(self.dir .. "/err-" .. i), "refusing to overwrite it")
    end
  end
end

function TestHostileRuns:test_a_second_repl_into_one_output_directory_is_refused()
  local repl = "printf 'run(\"echo %s\")\\n' | " .. h.q(h.joe) .. " repl -o same"
  local first = h.sh_watched(string.format("cd %s && { %s; echo status=$?; }", h.q(self.dir),
    repl:format("one")), 30)
  lu.assertStrContains(first, "status=0")
  local second = h.sh_watched(string.format("cd %s && { %s; echo status=$?; }", h.q(self.dir),
    repl:format("two")), 30)
  lu.assertStrContains(second, "same: holds an earlier run, or another joe is writing there; " ..
    "refusing to overwrite it (give another -o)")
  lu.assertStrContains(second, "status=2")
  lu.assertEquals(h.read(self.dir .. "/same/001_repl/cmd_01.output"), "one\n")
  lu.assertNil(h.read(self.dir .. "/same/001_repl/cmd_02.output"))
end

function TestHostileRuns:test_transport_names_that_leave_the_output_directory_are_refused()
  h.write(self.dir .. "/c.yaml", [[
cijoe:
  transport:
    "../evil": {hostname: 127.0.0.1, port: 1, connect_timeout: 1}
    "a/b": {hostname: 127.0.0.1, port: 1, connect_timeout: 1}
]])
  self:marking_workflow()
  h.sh("mkdir -p " .. self.dir .. "/top")
  for i, spec in ipairs({ "../evil", "a/b", "all" }) do
    local status, _, err = h.joe_watched(self.dir .. "/top", "-q -c ../c.yaml --each " ..
      h.q(spec) .. " -o out" .. i .. " ../wf.lua", 30)
    lu.assertEquals(status, 2, spec .. ": " .. tostring(err))
    lu.assertStrContains(err, "--each: bad transport name '", false, spec)
    lu.assertNil(h.read(self.dir .. "/ran"), spec)
  end
  lu.assertEquals(h.sh("ls " .. self.dir), "c.yaml\ntop\nwf.lua\n")
  lu.assertEquals(h.sh("ls " .. self.dir .. "/top"), "out1\nout2\nout3\n")
  lu.assertEquals(h.sh("find " .. self.dir .. "/top/out3 -mindepth 1 -type d"), "")
  h.write(self.dir .. "/s.lua", [[
    print(pcall(cijoe.each, { "../x" }, function() end))
    print(pcall(cijoe.each, { "a/b" }, function() end))]])
  local _, out = self:joe("-q s.lua")
  lu.assertStrContains(out, 'false\ts.lua:1: cijoe.each: bad target name "../x"\n' ..
    'false\ts.lua:2: cijoe.each: bad target name "a/b"\n')
end

function TestHostileRuns:test_fan_out_relays_long_lines_in_linear_time()
  -- 4 MiB without a newline, then progress bars written with \r: each comes back whole,
  -- prefixed, in pieces below 128 KiB (a piece is written once the rest of a line held
  -- reaches 64 KiB: that and what came with it); the old relay took 66 s for 64 KiB
  h.write(self.dir .. "/s.lua", [[
    cijoe.each({ "local" }, function()
      io.write(string.rep("x", 4 << 20))
      for i = 1, 20000 do io.write("\r", i, "%") end
      io.write("\nend\n")
    end)]])
  local status, out, err = self:joe("-q s.lua", 60)
  lu.assertEquals(status, 0, err)
  local pieces, longest, body = 0, 0, {}
  for line in out:gmatch("([^\n]*)\n") do
    lu.assertEquals(line:sub(1, 8), "[local] ")
    pieces, longest = pieces + 1, math.max(longest, #line - 8)
    body[#body + 1] = line:sub(9)
  end
  local text = table.concat(body)
  lu.assertEquals(select(2, text:gsub("x", "")), 4 << 20)
  lu.assertStrContains(text, "\r19999%\r20000%end")
  lu.assertTrue(longest < 128 * 1024, "a piece of " .. longest .. " bytes")
  lu.assertTrue(pieces >= 32, pieces .. " pieces")
end

-- A copy of a program under a name of its own (below 16 bytes, so pgrep -x finds it).
function TestHostileRuns:own_copy(program, prefix)
  local name = prefix .. math.random(1e8)
  h.sh(string.format("cp %s %s/%s", program, self.dir, name))
  return self.dir .. "/" .. name, name
end

function TestHostileRuns:test_sigterm_stops_a_fan_out_that_floods_its_output()
  -- progress bars without newlines, and a flood of short lines (the parent then runs Lua
  -- code nearly all the time, where a signal raises "interrupted"); both by programs of
  -- their own names, so that what a regression leaves running is found and killed
  local sh, sh_name = self:own_copy("/bin/sh", "bars")
  local yes, yes_name = self:own_copy("/usr/bin/yes", "flood")
  for i, cmd in ipairs({ sh .. [[ -c 'while :; do printf \\r%d%% $$; done']], yes }) do
    h.write(self.dir .. "/wf.lua", "step('bars', function() return cijoe.run_local([[" ..
      cmd .. "]]) end)\n")
    local out = h.sh_watched(string.format([[cd %s && : > out.txt &&
      { %s -q -m --each local -o run%d wf.lua > out.txt 2>&1 & pid=$!; }
      while [ "$(wc -c < out.txt)" -lt 1000000 ]; do sleep 0.05; done
      kill -TERM $pid; wait $pid; echo "status=$?"]], h.q(self.dir), h.q(h.joe), i), 30)
    local left = h.sh(string.format("for n in %s %s; do pgrep -r R,S,D -x $n && " ..
      "pkill -KILL -x $n; done", sh_name, yes_name)) -- a zombie left to init runs nothing
    lu.assertEquals(left, "", cmd .. ": the command still ran after joe was done")
    lu.assertStrContains(out, "status=143", false, cmd)
    lu.assertEquals(h.yaml(self.dir .. "/run" .. i .. "/local/workflow.state").status,
      "interrupted", cmd)
    lu.assertEquals(h.yaml(self.dir .. "/run" .. i .. "/workflow.state").status, "interrupted",
      cmd)
  end
end

function TestHostileRuns:test_bad_jobs_are_refused_before_anything_runs()
  self:marking_workflow()
  for _, j in ipairs({ "0", "-5", "abc", "1.5", "''" }) do
    local out_dir = "run" .. #j .. j:gsub("%W", "_")
    local status, _, err = self:joe("-q --each local -j " .. j .. " -o " .. out_dir .. " wf.lua")
    lu.assertEquals(status, 2, j)
    lu.assertStrContains(err, "-j: jobs must be a whole number of 1 or more, not ", false, j)
    lu.assertNil(h.read(self.dir .. "/ran"), "-j " .. j .. " ran the workflow")
  end
  h.write(self.dir .. "/s.lua", [[
    for _, jobs in ipairs({ 0, -5, "abc", 1.5 }) do
      print(pcall(cijoe.each, { "local" }, function() os.execute("touch ran") end, { jobs = jobs }))
    end]])
  local _, out = self:joe("-q s.lua")
  local refusal = "false\ts.lua:2: cijoe.each: jobs must be a whole number of 1 or more, not "
  lu.assertEquals(out, refusal .. "0\n" .. refusal .. "-5\n" .. refusal .. "abc\n" ..
    refusal .. "1.5\n")
  lu.assertNil(h.read(self.dir .. "/ran"))
  -- the wait loop refuses to wait on no child at all, which would never end
  h.write(self.dir .. "/w.lua", 'print(pcall(require("cijoe.fanout").wait, {}))')
  _, out = self:joe("-q w.lua")
  lu.assertStrMatches(out, "false\tbad argument #1 to '[^']+' %(no children to wait for%)\n")
end

local TRANSPORT = "cijoe:\n  transport:\n    target:\n      hostname: 127.0.0.1\n"

function TestHostileRuns:test_config_values_out_of_bounds_name_line_and_column()
  local cases = {
    { "keepalive: 0.5", "c.yaml:5:18: transport target: keepalive must be a whole number of " ..
      "seconds from 0 (none) to 86400" },
    { "keepalive: 1e10", "c.yaml:5:18: transport target: keepalive must be a whole number" },
    { "connect_timeout: 1e400", "c.yaml:5:24: transport target: connect_timeout must be a " ..
      "number of seconds above 0 and at most 86400" },
    { "connect_timeout: 1e12", "c.yaml:5:24: transport target: connect_timeout must be" },
    { "transfer_timeout: -1", "c.yaml:5:25: transport target: transfer_timeout must be" },
    { "keepalive_count_max: 0", "c.yaml:5:28: transport target: keepalive_count_max must be " ..
      "a whole number from 1 to 1000" },
  }
  for _, case in ipairs(cases) do
    self:refused(TRANSPORT .. "      " .. case[1] .. "\n", nil, case[2])
  end
end

function TestHostileRuns:test_a_transport_with_no_settings_is_refused()
  self:refused("cijoe:\n  transport:\n    target:\n      # hostname: 10.0.0.5\n" ..
    "      # port: 22\n", nil, "c.yaml:3:12: transport target has no settings (give at least " ..
    "its hostname, or remove it)")
end

function TestHostileRuns:test_duplicate_keys_are_refused()
  self:refused("cijoe:\n  workflow: {fail_fast: true}\nqemu: {}\ncijoe: {}\n", nil,
    "joe: c.yaml:4:1: the key 'cijoe' is given twice (first at 2:3)\n")
  self:refused(TRANSPORT .. "      port: 22\n      port: 2222\n", nil,
    "joe: c.yaml:6:7: the key 'port' is given twice (first at 5:13)\n")
end

function TestHostileRuns:test_an_environment_variable_that_replaces_a_mapping_is_refused()
  self:refused("cijoe:\n  run:\n    env: {LC_ALL: C}\n", "CIJOE_RUN_ENV=1",
    "the environment variable CIJOE_RUN_ENV would replace the mapping cijoe.run.env of the " ..
    "config with a string; unset it, or set a key below it (CIJOE_RUN_ENV_<KEY>)")
end

function TestHostileRuns:test_a_config_that_is_a_folder_or_endless_is_refused()
  h.sh("mkdir " .. self.dir .. "/folder")
  self:refused("folder", nil, "joe: folder: Is a directory\n")
  local err = self:refused("/dev/zero", nil, "/dev/zero: larger than 64 MB; that is no config")
  lu.assertNotStrContains(err, "traceback")
end

-- Run a one-step workflow whose body is `body`; returns status, out, err.
function TestHostileRuns:step(body)
  h.write(self.dir .. "/wf.lua", 'step("one", function()\n' .. body .. '\nend)\n' ..
    'step("two", function() return cijoe.run_local("touch ' .. self.dir .. '/two") end)\n')
  return self:joe("-q -o run wf.lua")
end

function TestHostileRuns:test_a_nul_byte_or_a_table_env_value_is_refused_and_nothing_runs()
  local marker = self.dir .. "/ran"
  for i, body in ipairs({
    string.format('return cijoe.run_local("touch %s\\0; true")', marker),
    string.format('return cijoe.run_local("touch %s", { env = { X = { 1 } } })', marker),
  }) do
    h.sh("rm -rf " .. self.dir .. "/run")
    local status, _, err = self:step(body)
    lu.assertEquals(status, 1, body)
    lu.assertStrContains(err, ({ "bad argument #1 to 'run_local' (it holds a NUL byte, which " ..
      "no command or path can)", "env.X: a table is no environment value" })[i], false, body)
    lu.assertNil(h.read(marker), body)
    lu.assertEquals(h.yaml(self.dir .. "/run/workflow.state").steps[1].status, "failed")
  end
end

function TestHostileRuns:test_a_nul_byte_in_an_option_is_refused()
  local marker = self.dir .. "/ran"
  for _, opts in ipairs({ '{ cwd = "/tmp\\0x" }', '{ env = { X = "a\\0b" } }' }) do
    h.sh("rm -rf " .. self.dir .. "/run")
    local status, _, err = self:step(string.format('return cijoe.run_local("touch %s", %s)',
      marker, opts))
    lu.assertEquals(status, 1, opts)
    lu.assertStrContains(err, "NUL byte", false, opts)
    lu.assertNil(h.read(marker), opts)
  end
end

function TestHostileRuns:test_os_exit_in_a_step_ends_the_records()
  for _, code in ipairs({ "0", "", "true", "3" }) do
    h.sh("rm -rf " .. self.dir .. "/run " .. self.dir .. "/two")
    local status, _, err = self:step('cijoe.run_local("echo before")\nos.exit(' .. code .. ')')
    lu.assertEquals(status, code == "3" and 3 or 1, code)
    local state = h.yaml(self.dir .. "/run/workflow.state")
    lu.assertEquals(state.status, "failed")
    lu.assertEquals(state.steps[1].status, "failed")
    lu.assertStrContains(state.steps[1].error, "os.exit(" .. (code == "" and "nil" or code) ..
      ") ended the run here")
    lu.assertNotEquals(state.steps[2].status, "passed")
    lu.assertNil(h.read(self.dir .. "/two"))
    lu.assertNotNil(h.read(self.dir .. "/run/report.html"))
    if code ~= "3" then lu.assertStrContains(err, "before it was done; exit status 1") end
  end
end

function TestHostileRuns:test_report_of_a_hand_edited_state_names_the_field()
  h.write(self.dir .. "/old/workflow.state", "name: wf\nstatus: passed\nsteps:\n" ..
    "  - {number: one, name: build, status: passed}\n")
  local status, _, err = self:joe("report old")
  lu.assertEquals(status, 2, err)
  lu.assertStrContains(err, "joe: old/workflow.state:4:14: steps[1].number must be a " ..
    "number, not string")
  lu.assertNotStrContains(err, "traceback")
end

function TestHostileRuns:test_a_full_disk_under_each_stops_without_a_hang()
  local mnt = self.dir .. "/full"
  h.sh("mkdir " .. mnt)
  lu.assertEquals(select(2, h.sh("mount -t tmpfs -o size=1m tmpfs " .. mnt)), 0)
  h.write(self.dir .. "/wf.lua", [[
step("fill", function() return cijoe.run_local("head -c 2000000 /dev/zero") end)
step("after", function() return cijoe.run_local("echo after") end)]])
  local status, out, err = self:joe("-q --each local -o " .. mnt .. "/run wf.lua", 30)
  h.sh("umount -l " .. mnt)
  lu.assertEquals(status, 1, err)
  lu.assertStrContains(out, "[local] joe: " .. mnt .. "/run/local/001_fill/cmd_01.output: No " ..
    "space left on device; the run stops\n")
  lu.assertStrContains(err, "joe: " .. mnt .. "/run/workflow.state: No space left on device\n")
  lu.assertNotStrContains(out .. err, "traceback")
  lu.assertNotStrContains(err, "report: nil")
end
