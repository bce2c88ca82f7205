-- A run as users see it on a terminal (a real pseudo-terminal: a private tmux server):
-- the live line of the running step, colour, TERM=dumb and NO_COLOR, Ctrl-C, a resize,
-- --each's line per target, and --repl-on-failure.
local lu = require("luaunit")
local h = require("helper")
local tmux = require("tmux")

TestTerminal = {}

function TestTerminal:setUp()
  self.dir = h.tmpdir()
  self.pane = tmux.new()
  h.write(self.dir .. "/wf.lua", [[
step("quick", function() return cijoe.run("echo quick") end)
step("slow", function() return cijoe.run("sleep 3 && echo slept") end)
step("after", function() return cijoe.run("true") end)
]])
end

function TestTerminal:tearDown()
  self.pane:kill()
end

-- Run joe with args in the pane, in the test's folder, with env before it (TERM=xterm
-- unless env says otherwise); the shell shows the exit status and ignores Ctrl-C.
function TestTerminal:joe(args, env, width)
  local script = string.format("trap '' INT; cd %s && env TERM=xterm %s %s %s; echo exit=$?",
    h.q(self.dir), env or "", h.q(h.joe), args)
  self.pane:run(script, width or 150, 40)
end

-- The pane once joe has ended.
function TestTerminal:ended(seconds)
  return self.pane:expect("exit=", seconds or 15)
end

function TestTerminal:test_live_line_shows_the_running_command_and_is_replaced()
  self:joe("wf.lua")
  local during = self.pane:expect("[local] $ sleep 3 && echo slept")
  lu.assertStrMatches(during, ".*  1 quick +passed +[%d.]+s\n  2 slow +[^ ]+ +%d+%.%ds  %[local%] %$ sleep 3.*")
  local screen = self:ended()
  lu.assertStrMatches(screen, ".*  2 slow +passed +3%.%d%ds\n  3 after +passed.*exit=0\n.*")
  lu.assertNotStrContains(screen, "$ sleep") -- replaced, nothing left of it
end

-- A step of commands that follow each other fast keeps the display's input busy; the
-- live line was never drawn then (the ticker's turn never came), only the final line.
function TestTerminal:test_live_line_of_a_step_of_many_quick_commands()
  h.write(self.dir .. "/busy.lua", [[
local now = require("cijoe.proc").now
step("busy", function()
  local t0 = now()
  while now() - t0 < 4 do cijoe.run("true") end
end)
]])
  self:joe("busy.lua")
  local during = self.pane:expect("[local] $ true", 3.5)
  lu.assertStrMatches(during, ".*  1 busy +[^ ]+ +%d+%.%ds  %[local%] %$ true.*")
  lu.assertStrMatches(self:ended(), ".*  1 busy +passed +4%.%d%ds\n.*exit=0\n.*")
end

function TestTerminal:test_colour_on_a_terminal_and_no_colour_with_no_color()
  self:joe("wf.lua after")
  local screen = self.pane:expect("exit=0", 15, true)
  lu.assertStrContains(screen, "\27[32mpassed") -- tmux gives the colour back as SGR 32
  self:joe("wf.lua after", "NO_COLOR=1")
  self.pane:expect("exit=0\n", 15)
  screen = self.pane:screen(true)
  lu.assertNotStrContains(screen, "\27[32m")
  lu.assertStrMatches(screen, ".*  3 after +passed.*")
end

function TestTerminal:test_term_dumb_gives_the_plain_lines()
  self:joe("wf.lua", "TERM=dumb")
  self.pane:expect("  1 quick")
  h.sh("sleep 1.5") -- the slow step is running now
  lu.assertNotStrContains(self.pane:screen(), "sleep 3")
  local screen = self:ended()
  lu.assertNotStrContains(screen, "$ sleep")
  lu.assertNotStrContains(self.pane:screen(true), "\27[")
end

function TestTerminal:test_ctrl_c_during_the_live_line_leaves_a_clean_terminal()
  self:joe("wf.lua")
  self.pane:expect("$ sleep 3")
  self.pane:type("", "C-c")
  local screen = self:ended()
  lu.assertStrContains(screen, "exit=130")
  lu.assertNotStrContains(screen, "$ sleep")
  lu.assertStrMatches(screen, ".*  2 slow +interrupted.*  3 after +skipped.*")
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertEquals(state.status, "interrupted")
end

-- (A terminal that rewraps lines when it shrinks, as tmux does, may keep a piece of the
-- live line drawn before the resize: joe cannot know where the terminal put it.)
function TestTerminal:test_a_resize_mid_run_changes_nothing_but_the_width()
  h.write(self.dir .. "/long.lua", [[
step("quick", function() return cijoe.run("echo quick") end)
step("slow", function() return cijoe.run("sleep 3 && echo slept, and this command is long") end)
]])
  self:joe("long.lua")
  self.pane:expect("$ sleep 3")
  h.sh(self.pane.cmd .. " resize-window -x 60")
  h.sh("sleep 1.5")
  local screen, live = self.pane:screen(), nil
  for line in screen:gmatch("[^\n]+") do live = line:match("^  2 slow.*") or live end
  lu.assertNotNil(live, screen) -- the newest live line, drawn after the resize:
  lu.assertTrue(live:sub(-3) == "…" or live:sub(-1) == "~", live) -- cut, so it never wraps
  lu.assertTrue(utf8.len(live) <= 59, live)
  screen = self:ended()
  lu.assertStrContains(screen, "exit=0")
  lu.assertEquals(h.yaml(h.latest(self.dir) .. "/workflow.state").status, "passed")
end

function TestTerminal:test_each_has_a_live_line_per_target()
  local server = require("sshd").start()
  local conf = server:config():gsub("target:", "t1:", 1)
  h.write(self.dir .. "/two.yaml", conf .. conf:match("\n(    t1:.*)$"):gsub("t1:", "t2:", 1))
  self:joe("-c two.yaml --each t1,t2 wf.lua slow")
  local during = self.pane:expect("[t2]   2 slow")
  lu.assertStrContains(during, "[t1]   2 slow")
  lu.assertStrContains(during, "[t1] $ sleep 3")
  local screen = self:ended(30)
  lu.assertStrMatches(screen, ".*%[t1%]   2 slow +passed.*")
  lu.assertStrMatches(screen, ".*%[t2%]   2 slow +passed.*exit=0\n.*")
  lu.assertNotStrContains(screen, "$ sleep")
end

function TestTerminal:test_repl_on_failure_continue_and_abort()
  h.write(self.dir .. "/fails.lua", [[
step("bad", function() return cijoe.run("echo broken; exit 3") end)
step("next", function() return cijoe.run("echo next-ran") end)
]])
  self:joe("--repl-on-failure fails.lua", "JOE_HISTORY=" .. h.q(self.dir .. "/history"))
  self.pane:expect("step 1 'bad' failed:")
  self.pane:expect("joe[local]>")
  self.pane:type("failed.err", "Enter")
  self.pane:expect("\n3\n")
  self.pane:type('run "echo typed-here"', "Enter")
  self.pane:expect("typed-here\n0\n")
  self.pane:type(":continue", "Enter")
  local screen = self:ended()
  lu.assertStrMatches(screen, ".*  1 bad +failed.*  2 next +passed.*exit=1\n.*")
  lu.assertEquals(h.read(h.latest(self.dir) .. "/001_bad/cmd_02.output"), "typed-here\n")
  self:joe("--repl-on-failure fails.lua", "JOE_HISTORY=" .. h.q(self.dir .. "/history"))
  self.pane:expect("joe[local]>")
  self.pane:type(":abort", "Enter")
  screen = self:ended()
  lu.assertStrMatches(screen, ".*  2 next +skipped.*exit=1\n.*")
end

function TestTerminal:test_sigterm_to_joe_reaches_the_run_behind_the_display()
  self:joe("wf.lua")
  self.pane:expect("$ sleep 3")
  local joe = h.sh("pgrep -P " .. self.pane:shell_pid() .. " -x joe"):gsub("\n", "")
  lu.assertStrMatches(joe, "%d+")
  h.sh("kill -TERM " .. joe)
  local screen = self:ended()
  lu.assertStrContains(screen, "exit=143")
  lu.assertNotStrContains(screen, "$ sleep")
  lu.assertEquals(h.yaml(h.latest(self.dir) .. "/workflow.state").status, "interrupted")
end

function TestTerminal:test_cijoe_each_and_monitor_output_under_the_live_line()
  h.write(self.dir .. "/fan.lua", [[
step("fan", function()
  return cijoe.each({ "local" }, function(t) return t.run("sleep 2") end)["local"].err
end)
step("mon", function() return cijoe.run("echo one; sleep 1; printf part; sleep 1; echo ial") end)
]])
  self:joe("-m fan.lua")
  local during = self.pane:expect("    [local] ")
  lu.assertStrMatches(during, ".*  1 fan +[^ ]+ +%d+%.%ds\n    %[local%] [^ ]+ +%d+%.%ds  %$ sleep 2\n.*")
  during = self.pane:expect("$ echo one")
  lu.assertStrMatches(during, ".*\none\n  2 mon +[^ ]+ +%d+%.%ds  %[local%] %$ echo one.*")
  local screen = self:ended()
  lu.assertStrMatches(screen, ".*\none\npartial\n  2 mon +passed +2%.%d%ds\n.*exit=0\n.*")
end

-- A closed terminal (the window killed: SIGHUP to the pane's processes) ends the run as
-- SIGTERM would: the running command is stopped, the records say interrupted, and no
-- joe or command of the run is left behind.
function TestTerminal:test_a_closed_terminal_ends_the_run_with_its_records()
  local sleep = string.format("sleep 7.%06d", math.random(0, 999999)) -- this test's own
  h.write(self.dir .. "/hup.lua", string.format([[
step("slow", function() return cijoe.run("%s && echo slept") end)
step("after", function() return cijoe.run("touch after") end)
]], sleep))
  self.pane:run(string.format("cd %s && env TERM=xterm %s hup.lua", h.q(self.dir),
    h.q(h.joe)), 150, 40)
  self.pane:expect("$ " .. sleep)
  local joe = h.sh("pgrep -P " .. self.pane:shell_pid() .. " -x joe"):gsub("\n", "")
  lu.assertStrMatches(joe, "%d+")
  h.sh(self.pane.cmd .. " kill-window")
  for _ = 1, 100 do
    if h.sh("kill -0 " .. joe .. " 2>/dev/null && echo alive") == "" then break end
    h.sh("sleep 0.1")
  end
  lu.assertEquals(h.sh("kill -0 " .. joe .. " 2>/dev/null && echo alive"), "")
  lu.assertEquals(h.sh("pgrep -f '" .. sleep:gsub("%.", "[.]") .. "'"), "")
  local state = h.yaml(h.latest(self.dir) .. "/workflow.state")
  lu.assertEquals({ state.status, state.steps[1].status, state.steps[2].status },
    { "interrupted", "interrupted", "skipped" })
  lu.assertNil(io.open(self.dir .. "/after"))
end
