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
--- its output, at most CAP bytes in all (the last of them), with a note where bytes were
--- left out.
function junit.system_out(dir, commands)
  local parts, left = {}, junit.CAP
  for i = #(commands or {}), 1, -1 do
    local c = commands[i]
    if left <= 0 then
      table.insert(parts, 1, "[" .. (i) .. " earlier commands are in the output directory]\n")
      break
    end
    local text, before = tail(dir .. "/" .. tostring(c.log), left)
    left = left - #text
    local note = before > 0 and ("[%d bytes before this are in %s]\n"):format(before, c.log) or ""
    table.insert(parts, 1, "$ " .. tostring(c.cmd) .. "\n" .. note .. text)
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

--- The testsuite of a run: state is its record, commands its commands per step number,
--- dir its output directory (for the outputs), name the suite's name.
function junit.suite(dir, state, commands, name)
  local out, counts = {}, { tests = 0, failure = 0, error = 0, skipped = 0 }
  local function add(tag)
    counts.tests = counts.tests + 1
    if tag then counts[tag] = counts[tag] + 1 end
  end
  for _, s in ipairs(state.steps) do
    add(case(out, state.name, s.name, s, junit.system_out(dir, commands[s.number])))
    for _, t in ipairs(require("cijoe.record").tests(dir, s)) do
      add(case(out, s.name, t.name, t))
    end
  end
  local stamp = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(tonumber(state.begin) or 0))
  local f = io.open("/proc/sys/kernel/hostname")
  local hostname = f and f:read("l") or ""
  if f then f:close() end
  table.insert(out, 1, ('  <testsuite name="%s" tests="%d" failures="%d" errors="%d" ' ..
    'skipped="%d" time="%.3f" timestamp="%s" hostname="%s">'):format(junit.text(name),
    counts.tests, counts.failure, counts.error, counts.skipped, tonumber(state.elapsed) or 0,
    stamp, junit.text(hostname)))
  out[#out + 1] = "  </testsuite>"
  return table.concat(out, "\n"), counts
end

--- The whole junit.xml of one or more suites (texts from junit.suite).
function junit.document(suites)
  return '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n' ..
    table.concat(suites, "\n") .. "\n</testsuites>\n"
end

return junit
