-- A real terminal for tests: a private tmux server (its own socket) running a shell
-- command in a pane, with what the pane shows, keys typed into it, and a wait for text.
local lu = require("luaunit")
local h = require("helper")
local now = require("cijoe.proc").now

local tmux = {}
local Pane = {}
Pane.__index = Pane

--- A new private tmux server (nothing runs in it yet); stop it with :kill().
function tmux.new()
  local socket = "joe-spec-" .. h.tmpdir():match("[^.]+$")
  return setmetatable({ socket = socket, cmd = "tmux -L " .. socket, started = false }, Pane)
end

--- Run script (sh) in a pane of width x height (a new window when the server runs);
--- the pane stays when it ends, so its last screen can be read.
function Pane:run(script, width, height)
  local new = self.started and " new-window " or
    string.format(" new-session -d -x %d -y %d ", width or 200, height or 50)
  h.sh(self.cmd .. new .. "sh -c " .. h.q(script) .. " \\; set-option remain-on-exit on")
  self.started = true
end

--- What still runs under the panes' shells gets SIGTERM, and the server goes when it has
--- ended (5 s at most), with its socket file, which tmux leaves behind. Not the hangup of
--- kill-server alone: it also ends the shell, whose exit orphans the process group, and
--- the kernel then sends SIGCONT to its members; a joe built with ASan, stopped at exit by
--- the leak checker's tracer, is woken by it, and the tracer and joe wait for each other
--- for ever, spinning (two such starved the guests of the tests after them).
function Pane:kill()
  local children = h.sh(self.cmd .. " list-panes -a -F '#{pane_pid}' 2>/dev/null | " ..
    "xargs -r -n1 pgrep -P || true"):gsub("%s+", " ")
  if children:find("%d") then
    h.sh("kill -TERM " .. children .. " 2>/dev/null; i=0; for p in " .. children .. "; do " ..
      "while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done; done")
  end
  h.sh(self.cmd .. ' kill-server; rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/' .. self.socket .. '"')
end

--- What the pane has shown (its scrollback too), without trailing blank lines; with
--- escapes, the colours and attributes as escape sequences.
function Pane:screen(escapes)
  return (h.sh(self.cmd .. " capture-pane -p -S -" .. (escapes and " -e" or "")):gsub("\n+$", "\n"))
end

--- Wait until the pane shows text (plain, may span lines); fail showing the pane if it
--- does not within a few seconds. Returns the screen.
function Pane:expect(text, seconds, escapes)
  local deadline, screen = now() + (seconds or 5), nil
  repeat
    screen = self:screen(escapes)
    if screen:find(text, 1, true) then return screen end
    h.sh("sleep 0.05")
  until now() > deadline
  lu.fail("the screen does not show " .. string.format("%q", text) .. ":\n" .. screen)
end

--- Type text literally, then press the named keys (tmux key names: Enter, Tab, C-c).
function Pane:type(text, ...)
  if text ~= "" then h.sh(self.cmd .. " send-keys -l " .. h.q(text)) end
  if select("#", ...) > 0 then h.sh(self.cmd .. " send-keys " .. table.concat({ ... }, " ")) end
end

--- The pid of the pane's shell.
function Pane:shell_pid()
  return (h.sh(self.cmd .. " display -p '#{pane_pid}'"):gsub("\n", ""))
end

return tmux
