-- junit.xml as CI systems read it (Jenkins, GitLab, GitHub test reporters): a testsuite
-- per run (per target with --each), a testcase per step and per test of a tests.yaml,
-- with timestamp, hostname and time; <failure> for a failed command, check or test,
-- <error> for a Lua error or a command that could not run, <skipped> with the reason,
-- and <system-out> with the step's command output, capped and cut at a line boundary.
-- The XML is valid for any bytes the commands printed.
local junit = { CAP = 64 * 1024 }

-- The element a status becomes; passed is none.
local TAG = { failed = "failure", skipped = "skipped", pending = "skipped" }
local ERROR_KINDS = { error = true, unrun = true, interrupted = true }

-- s with every byte that is not part of valid UTF-8 (or not allowed in XML 1.0:
-- controls but tab, newline and return; U+FFFE, U+FFFF) replaced, then escaped.
function junit.text(s)
  s = tostring(s or "")
  local out, i = {}, 1
  while true do
    local _, bad = utf8.len(s, i)
    if not bad then break end
    out[#out + 1] = s:sub(i, bad - 1) .. "\239\191\189"
    i = bad + 1
  end
  out[#out + 1] = s:sub(i)
  return (table.concat(out):gsub("[%z\1-\8\11\12\14-\31\127]", "\239\191\189")
    :gsub("\239\191[\190\191]", "\239\191\189")
    :gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
      ["'"] = "&apos;" }))
end

-- The last `cap` bytes of a file, from a line's start, and how many came before.
local function tail(path, cap)
  local f = io.open(path, "rb")
  if not f then return "", 0 end
  local size = f:seek("end")
  local from = math.max(0, size - cap)
  f:seek("set", from)
  local text = f:read("a") or ""
  f:close()
  if from > 0 then
    local cut = text:find("\n", 1, true)
    text = cut and text:sub(cut + 1) or ""
    from = size - #text
  end
  return text, from
end

--- The output of a step's commands for <system-out>: each command line, then the end of
--- its output, at most CAP bytes in all (the last of them, command lines and notes
--- counted), with a note where bytes or
--- commands (those over CAP, and those the list omitted: record.SHOWN) were left out.
function junit.system_out(dir, commands)
  commands = commands or {}
  local parts, left, unshown = {}, junit.CAP, commands.omitted or 0
  for i = #commands, 1, -1 do
    local c = commands[i]
    local head = "$ " .. tostring(c.cmd) .. "\n"
    if left - #head <= 0 then -- command lines count toward the cap too
      unshown = unshown + i
      break
    end
    left = left - #head
    local path = dir .. "/" .. tostring(c.log)
    local text, before = tail(path, left)
    if before > 0 then -- cut: room for the note that says so
      text, before = tail(path, math.max(0, left - 40 - #tostring(c.log)))
    end
    left = left - #text
    local note = before > 0 and ("[%d bytes before this are in %s]\n"):format(before, c.log) or ""
    table.insert(parts, 1, head .. note .. text)
  end
  if unshown > 0 then
    table.insert(parts, 1, "[" .. unshown .. " more commands are in the output directory]\n")
  end
  return table.concat(parts)
end

-- One testcase element.
local function case(out, classname, name, r, system_out)
  local seconds = tonumber(r.elapsed) or 0
  out[#out + 1] = ('    <testcase classname="%s" name="%s" time="%.3f">'):format(
    junit.text(classname), junit.text(name), seconds)
  local tag = r.status ~= "passed" and (TAG[r.status] or "error") or nil
  if tag == "failure" and r.failure and ERROR_KINDS[r.failure.kind] then tag = "error" end
  if tag then
    local message = r.reason or (r.failure and r.failure.message) or r.message or r.status
    out[#out + 1] = ('      <%s message="%s" type="%s">%s</%s>'):format(tag,
      junit.text(tostring(message):match("[^\n]*")), junit.text(r.failure and r.failure.kind
      or r.status), junit.text(r.error or r.message or message), tag)
  end
  if system_out and system_out ~= "" then
    out[#out + 1] = "      <system-out>" .. junit.text(system_out) .. "</system-out>"
  end
  out[#out + 1] = "    </testcase>"
  return tag
end

-- The checks of a step (its analysis.yml, and its regressions from compare.yml) as
-- results like a tests.yaml's: a testcase each, so CI lists every check.
local function check_results(s)
  local out = {}
  for _, c in ipairs(s.analysis or {}) do
    if type(c) == "table" then
      out[#out + 1] = { name = ("check %s %s %s"):format(tostring(c.job), tostring(c.direction),
        tostring(c.metric)), status = c.status == "pass" and "passed" or "failed",
        message = ("%s in %s (%s)"):format(tostring(c.shown or c.value), tostring(c.range),
          tostring(c.requirement)) }
    end
  end
  for _, r in ipairs(s.regressions or {}) do
    out[#out + 1] = { name = ("compare %s %s %s"):format(tostring(r.job), tostring(r.direction),
      tostring(r.metric)), status = "failed", message = ("regressed %+.1f%%: %s -> %s"):format(
      (tonumber(r.change) or 0) * 100, tostring(r.base), tostring(r.new)) }
  end
  return out
end

local Suite = {}
Suite.__index = Suite

--- A testsuite built a step at a time (the report goes through a run's steps once), its
--- testcases written to the open file `cases` as they come, so a run of any size takes
--- no more memory: junit.suite(name, state, cases) gives it, suite:add(dir, s, cmds)
--- adds step s (its commands for <system-out>, its tests.yaml and its checks), and
--- junit.write puts the suites together.
function junit.suite(name, state, cases)
  return setmetatable({ name = name, state = state, cases = cases, from = cases:seek("cur"),
    counts = { tests = 0, failure = 0, error = 0, skipped = 0 } }, Suite)
end

--- Add step s of the run in dir (and cmds, its commands) to the suite.
function Suite:add(dir, s, cmds)
  local out = {}
  local function add(tag)
    self.counts.tests = self.counts.tests + 1
    if tag then self.counts[tag] = self.counts[tag] + 1 end
  end
  add(case(out, self.state.name, s.name, s, junit.system_out(dir, cmds)))
  for _, list in ipairs({ require("cijoe.record").tests(dir, s), check_results(s) }) do
    for _, r in ipairs(list) do add(case(out, s.name, r.name, r)) end
  end
  assert(self.cases:write(table.concat(out, "\n"), "\n"))
  self.to = self.cases:seek("cur")
end

-- The suite's <testsuite> start tag.
local function head(suite)
  local state, counts = suite.state, suite.counts
  local stamp = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(tonumber(state.begin) or 0))
  local f = io.open("/proc/sys/kernel/hostname")
  local hostname = f and f:read("l") or ""
  if f then f:close() end
  return ('  <testsuite name="%s" tests="%d" failures="%d" errors="%d" skipped="%d" time="%.3f" '
    .. 'timestamp="%s" hostname="%s">\n'):format(junit.text(suite.name), counts.tests,
    counts.failure, counts.error, counts.skipped, tonumber(state.elapsed) or 0, stamp,
    junit.text(hostname))
end

--- Write junit.xml at path: each suite's start tag, its testcases (copied from the
--- cases file, a block at a time) and its end. Returns true, or nil and a message.
function junit.write(path, suites, cases)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = pcall(function()
    assert(f:write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n'))
    for _, suite in ipairs(suites) do
      assert(f:write(head(suite)))
      cases:seek("set", suite.from)
      local left = (suite.to or suite.from) - suite.from
      while left > 0 do
        local block = assert(cases:read(math.min(left, 65536)))
        left = left - #block
        assert(f:write(block))
      end
      assert(f:write("  </testsuite>\n"))
    end
    assert(f:write("</testsuites>\n"))
  end)
  local closed, cerr = f:close()
  if not ok then return nil, werr end
  return closed, cerr
end

return junit
