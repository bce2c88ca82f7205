-- The live display of a run on a terminal: the running step's line with a spinner, its
-- time, the running command and its target, redrawn in place ten times a second and
-- replaced by the step's final line; one such line per target of --each or cijoe.each.
--
-- While a command runs, joe waits in C, where no Lua timer can fire; so the run goes on
-- in a forked process (the worker) whose stdout and stderr are a pipe to this one (the
-- display), and a third process ticks. The display is the only writer of the terminal:
-- everything the run prints (step lines, failures, -m output, a step's print) passes
-- through it, with the live lines taken away first and drawn again once the output
-- stands at the start of a line, so nothing is ever drawn over. The worker says what
-- runs in notices (cijoe.console) that the display takes out of the stream. With stdout
-- not a terminal, TERM=dumb or -q, none of this happens.
local console = require("cijoe.console")
local fanout = require("cijoe.fanout")
local proc = require("cijoe.proc")

local live = { TICK = 0.1, BATCH = 0.02, EXIT_GRACE = 2 }

--- Whether opts and the terminal call for the live display. Not with -q, and not with
--- --repl-on-failure: the REPL's line editing needs stdout to be the terminal itself.
function live.wanted(opts)
  return console.terminal ~= nil and console.capable() and not opts.quiet and not opts.list
    and not opts.dry_run and not opts.repl_on_failure
end

-- The ticker: a newline every TICK seconds until the display is gone (its pipe breaks).
-- Signals are the worker's business: forget them and go on.
local function tick()
  while true do
    pcall(proc.sleep, live.TICK)
    if proc.signal() then proc.clear_signal() end
    local ok, wrote = pcall(function() return io.stdout:write("\n") and io.stdout:flush() end)
    if not (ok and wrote) then return 0 end
  end
end

-- Start the ticker in a process of its own; nil when it cannot be forked.
local function start_ticker()
  local pid, fd = fanout.fork()
  if not pid then return nil end
  if pid == 0 then
    local ok = pcall(tick)
    fanout.exit(ok and 0 or 1)
  end
  return { pid = pid, fd = fd }
end

-- One turn of the display: wait for the worker's output or a tick and take it. Returns
-- the worker's exit status once it ended. A signal that came is passed on by
-- fanout.wait; the display forgets it then (it ends when the worker does).
local function turn(view, children, worker)
  local ok, i, data, status = pcall(fanout.wait, children)
  if children.forwarded then
    proc.clear_signal()
    children.forwarded = nil
  end
  if not (ok and i) then return nil end
  if children[i] == worker then
    if not data then return status end
    pcall(view.feed, view, data)
    pcall(proc.sleep, live.BATCH) -- what comes meanwhile is one read: fewer wake-ups
  elseif data then
    pcall(view.tick, view)
    if view.exit_status and proc.now() - view.exit_at > live.EXIT_GRACE then
      return view.exit_status -- something the run started holds its stdout open
    end
  else
    table.remove(children, i) -- the ticker is gone: no more redraws
  end
end

-- The display's loop, until the worker ended; returns its exit status.
local function display(worker)
  local ticker = start_ticker()
  local children = { worker, ticker }
  local view = require("cijoe.live_screen").new(console.token, io.stdout, console.colour)
  local status
  repeat status = turn(view, children, worker) until status
  pcall(view.close, view)
  return status
end

--- Run fn() (a run: it returns the exit status) under the live display when it is
--- wanted, else as it is. Returns fn's exit status in either case; the forked worker
--- returns it from here too, and so ends as a plain run would.
function live.run(opts, fn)
  if not live.wanted(opts) then return fn() end
  console.token = string.format("%08x%08x", math.random(0, 0x7fffffff), proc.pid())
  local pid, fd = fanout.fork()
  if not pid then return fn() end -- cannot fork: plain lines
  if pid ~= 0 then return display({ pid = pid, fd = fd }) end
  console.live = true
  io.stdout:setvbuf("line")
  local status = fn()
  console.exit(status)
  return status
end

return live
