-- What a run says on the terminal: a line per finished step, and under a failed one
-- what failed (on stderr); at the end the totals of steps and tests. -q drops the step
-- lines and totals, never a failure. On a terminal the statuses and errors are in
-- colour, and while the live display runs (cijoe.live) the run also tells it, in
-- notices on stdout that it takes out, which step and command run where. Without a
-- terminal none of that happens: the output is the plain lines.
local fs = require("cijoe.fs")

local console = {
  colour = false,     -- colour on stdout
  colour_err = false, -- colour on stderr
  terminal = nil,     -- the terminal that stdout and stderr both are, if they are one
  live = false,       -- notices for the live display go out (set by cijoe.live)
  token = nil,        -- what marks them, so no command's output can pass for one
}

local SGR = { passed = "32", failed = "1;31", error = "1;31", interrupted = "1;31",
  skipped = "33", pending = "33", dim = "2", bold = "1" }

-- The terminal a descriptor is, or nil: Linux names it in /proc.
local function terminal_of(fd)
  local path = fs.readlink("/proc/self/fd/" .. fd)
  if not path then return nil end
  if path:match("^/dev/pts/%d+$") or path:match("^/dev/tty") or path == "/dev/console" then
    return path
  end
end

-- Whether a terminal can show escapes at all: TERM names one and not "dumb".
local function capable()
  local term = os.getenv("TERM")
  return term ~= nil and term ~= "" and term ~= "dumb"
end
console.capable = capable

-- Colour for descriptor fd under --color=when: never and always are that; auto follows
-- NO_COLOR (any value but empty turns it off), then CLICOLOR_FORCE (on unless "0"),
-- CLICOLOR=0 (off), then whether fd is a terminal that can show it.
local function colour_for(when, fd)
  if when == "always" or when == "never" then return when == "always" end
  if (os.getenv("NO_COLOR") or "") ~= "" then return false end
  local force = os.getenv("CLICOLOR_FORCE")
  if force and force ~= "" and force ~= "0" then return true end
  if os.getenv("CLICOLOR") == "0" then return false end
  return terminal_of(fd) ~= nil and capable()
end

--- Decide colour and whether stdout and stderr are one terminal, from the options
--- (--color) and the environment; opts may be nil (the command line was bad).
function console.setup(opts)
  local when = opts and opts.color or "auto"
  console.colour, console.colour_err = colour_for(when, 1), colour_for(when, 2)
  local out = terminal_of(1)
  console.terminal = out and out == terminal_of(2) and out or nil
end

--- text in the colour of kind (a status, "error", "dim", "bold") when stdout has colour.
function console.paint(text, kind)
  if not console.colour or not SGR[kind] then return text end
  return "\27[" .. SGR[kind] .. "m" .. text .. "\27[0m"
end

--- The same for stderr.
function console.paint_err(text, kind)
  if not console.colour_err or not SGR[kind] then return text end
  return "\27[" .. SGR[kind] .. "m" .. text .. "\27[0m"
end

-- Send a notice to the live display: one line, written and flushed at once.
local function notice(kind, ...)
  local fields = table.pack(...)
  for i = 1, fields.n do fields[i] = tostring(fields[i] or ""):sub(1, 300):gsub("%c", " ") end
  io.stdout:write("\27_joe:", console.token, ";", kind, ";", table.concat(fields, "\31"),
    "\27\\\n")
  io.stdout:flush()
end

--- A step began (number, name): the live display shows it from now on.
function console.step_started(number, name)
  if console.live then notice("s", number, name) end
end

--- The command cmd starts on transport `where`; with no cmd, the command ended.
function console.command(where, cmd)
  if not console.live then return end
  if cmd then notice("c", where, cmd) else notice("e") end
end

--- The run (the live display's worker) ends with this exit status.
function console.exit(status)
  if console.live then notice("x", status) end
end

--- The line of a finished step (its live line, if any, goes).
function console.step(quiet, rec)
  if console.live then notice("d", rec.number) end
  if quiet then return end
  local status = console.paint(string.format("%-7s", rec.status), rec.status)
  io.stdout:write(string.format("%3d %-40s %s %8.2fs%s\n", rec.number, rec.name, status,
    rec.elapsed or 0, rec.reason and "  (" .. rec.reason .. ")" or ""))
  io.stdout:flush()
end

--- What failed in a step, indented under its line, and where its whole story is.
function console.failure(text, log)
  io.stdout:flush()
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = "    " .. line end
  lines[1] = console.paint_err(lines[1], "error")
  if log then lines[#lines + 1] = console.paint_err("    (" .. log .. ")", "dim") end
  io.stderr:write(table.concat(lines, "\n"), "\n")
  io.stderr:flush()
end

-- "2 passed, 1 failed" of the counts that are not 0 (passed always).
local function counted(c, prefix)
  local parts = { (c[prefix .. "passed"] or 0) .. " passed" }
  if (c[prefix .. "passed"] or 0) > 0 then parts[1] = console.paint(parts[1], "passed") end
  for _, k in ipairs({ "failed", "skipped" }) do
    local n = c[prefix .. k] or 0
    if n > 0 then parts[#parts + 1] = console.paint(n .. " " .. k, k) end
  end
  return table.concat(parts, ", ")
end

--- The totals of a run: steps, and the tests they ran when there were any.
function console.totals(quiet, state)
  if quiet or not state or not state.counts then return end
  local c = state.counts
  local line = "steps: " .. counted(c, "")
  if c.tests_passed + c.tests_failed + c.tests_skipped > 0 then
    line = line .. "; tests: " .. counted(c, "tests_")
  end
  io.stdout:write(line, "\n")
  io.stdout:flush()
end

return console
