-- What a run says on the terminal: a line per finished step, and under a failed one
-- what failed (on stderr); at the end the totals of steps and tests. -q drops the step
-- lines and totals, never a failure.
local console = {}

--- The line of a finished step.
function console.step(quiet, rec)
  if quiet then return end
  io.stdout:write(string.format("%3d %-40s %-7s %8.2fs%s\n", rec.number, rec.name, rec.status,
    rec.elapsed or 0, rec.reason and "  (" .. rec.reason .. ")" or ""))
  io.stdout:flush()
end

--- What failed in a step, indented under its line, and where its whole story is.
function console.failure(text, log)
  io.stdout:flush()
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = "    " .. line end
  if log then lines[#lines + 1] = "    (" .. log .. ")" end
  io.stderr:write(table.concat(lines, "\n"), "\n")
  io.stderr:flush()
end

-- "2 passed, 1 failed" of the counts that are not 0 (passed always).
local function counted(c, prefix)
  local parts = { (c[prefix .. "passed"] or 0) .. " passed" }
  for _, k in ipairs({ "failed", "skipped" }) do
    if (c[prefix .. k] or 0) > 0 then parts[#parts + 1] = c[prefix .. k] .. " " .. k end
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
