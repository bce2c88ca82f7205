-- Ctrl-C and fan-out in one long-lived process: in the REPL, a Ctrl-C at the prompt, then
-- two fan-outs each stopped by SIGINT to joe; each must stop its children (a signal
-- passed on once is remembered per fan-out, not for the process).
local lu = require("luaunit")
local h = require("helper")
local now = require("cijoe.proc").now

TestFanoutSignals = {}

function TestFanoutSignals:setUp()
  self.dir = h.tmpdir()
  self.socket = "joe-spec-fs-" .. self.dir:match("[^.]+$")
  self.tmux = "tmux -L " .. self.socket
end

function TestFanoutSignals:tearDown()
  h.sh(self.tmux .. ' kill-server; rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/' .. self.socket .. '"')
end

-- Wait until the pane shows text; fail showing the pane when it does not.
function TestFanoutSignals:expect(text, seconds)
  local deadline, screen = now() + (seconds or 10), nil
  repeat
    screen = h.sh(self.tmux .. " capture-pane -p -S -")
    if screen:find(text, 1, true) then return screen end
    h.sh("sleep 0.05")
  until now() > deadline
  lu.fail("the pane never showed " .. text .. ":\n" .. screen)
end

function TestFanoutSignals:type(text, key)
  if text ~= "" then h.sh(self.tmux .. " send-keys -l " .. h.q(text)) end
  if key then h.sh(self.tmux .. " send-keys " .. key) end
end

function TestFanoutSignals:test_ctrl_c_stops_every_fan_out_after_one_at_the_prompt()
  h.write(self.dir .. "/c.yaml", "cijoe:\n  transport:\n    t1: {hostname: 127.0.0.1, port: 1}\n")
  local script = string.format("trap '' INT; cd %s && JOE_HISTORY=%s %s repl; echo exit=$?", h.q(self.dir),
    h.q(self.dir .. "/history"), h.q(h.joe))
  h.sh(self.tmux .. " new-session -d -x 200 -y 50 sh -c " .. h.q(script) .. " \\; set-option remain-on-exit on")
  self:expect("]>")
  self:type("this line goes", "C-c")
  local marker = 5000 + math.random(999)
  for round = 1, 2 do
    self:type(string.format('r = cijoe.each({"local"}, function(t) return t.run("echo begun%d; sleep %d") end)',
      round, marker + round), "Enter")
    self:expect("[local] begun" .. round)
    local t0 = now()
    -- SIGINT to joe alone (a Ctrl-C on the terminal would reach the children too): it is
    -- joe that must pass it on, each time
    local shell = h.sh(self.tmux .. " display -p '#{pane_pid}'"):match("%d+")
    local joe = h.sh("pgrep -P " .. shell .. " -x joe"):match("%d+")
    h.sh("kill -INT " .. joe)
    self:expect("joe[local]> ", 5)
    lu.assertTrue(now() - t0 < 4, "round " .. round .. " took " .. (now() - t0) .. " s")
    local left = h.wait_for(function()
      return h.sh("pgrep -f '[s]leep " .. (marker + round) .. "' || echo gone") == "gone\n"
    end, 3)
    lu.assertTrue(left, "round " .. round .. ": the child's command still runs")
  end
  self:type("", "C-d")
  self:expect("exit=0")
end
