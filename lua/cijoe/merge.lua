-- Runs put together into one record, for one report: the targets of `joe --each` (each
-- a run in a folder of its output directory) and the runs of `joe report DIR1 DIR2 -o
-- OUT`, which OUT links to (OUT/<label> -> DIRn, listed in OUT/runs.yml), so both are
-- the same code from there on. A merged step is a copy of its run's step named
-- "label: step" whose folder is "label/NNN_step"; the run's own record stays as it was.
local fs = require("cijoe.fs")
local yaml = require("cijoe.yaml")

local merge = {}

-- Each merged record's runs (label -> record) and each merged step's own step: owned
-- here, never written into workflow.state.
local children = setmetatable({}, { __mode = "k" })
local sources = setmetatable({}, { __mode = "k" })

--- Append the steps of run `child` (its record) to record `state` under `label`.
function merge.append(state, label, child)
  children[state] = children[state] or {}
  children[state][label] = child
  for _, s in ipairs(child.steps) do
    local m = {}
    for k, v in pairs(s) do m[k] = v end
    m.rel = label .. "/" .. require("cijoe.record").rel(s)
    m.target, m.target_number, m.plain_name = label, s.number, s.plain_name or s.name
    m.name, m.number = label .. ": " .. tostring(s.name), #state.steps + 1
    state.steps[m.number], sources[m] = m, s
  end
end

--- The record of run `label` of a merged record, and the run's own step of a merged one.
function merge.child(state, label) return (children[state] or {})[label] end
function merge.source(step) return sources[step] end

-- The status of runs together: passed when all passed, else failed when one failed, else
-- the first other status (running, interrupted, unknown).
local function worst(statuses)
  local other
  for _, st in ipairs(statuses) do
    if st == "failed" then return "failed" end
    if st ~= "passed" then other = other or st end
  end
  return other or "passed"
end
merge.worst = worst

--- The record of a folder `joe report DIR1 DIR2 -o OUT` made (it holds runs.yml), each run
--- read by load(dir); nil for any other folder. A run that cannot be read is a step of
--- status unknown saying why, so no run goes missing from the report.
function merge.load(dir, load)
  local f = io.open(dir .. "/runs.yml", "rb")
  if not f then return nil end
  local doc = yaml.load(f:read("a"), dir .. "/runs.yml")
  f:close()
  local state = { name = type(doc) == "table" and doc.name or "merged", kind = "merge",
    steps = {}, targets = {}, target_order = {} }
  local statuses = {}
  for _, run in ipairs(type(doc) == "table" and type(doc.runs) == "table" and doc.runs or {}) do
    local label = tostring(run.label)
    local ok, child = pcall(load, dir .. "/" .. label)
    if not ok then
      child = { name = label, status = "unknown", steps = { { number = 1, name = "(its record)",
        status = "unknown", error = tostring(child) } } }
    end
    merge.append(state, label, child)
    state.target_order[#state.target_order + 1], state.targets[label] = label, child.status
    statuses[#statuses + 1] = child.status or "unknown"
  end
  state.status = worst(statuses)
  return merge.span(state)
end

--- A merged record's name (its runs' one, when they share it), script (what it holds),
--- begin (the first run's) and elapsed (to the last run's end).
function merge.span(state)
  local first, last, names = math.huge, -math.huge, {}
  for _, label in ipairs(state.target_order) do
    local child = children[state][label]
    names[child.name or label] = true
    local b, e = tonumber(child.begin), tonumber(child.elapsed)
    if b then first, last = math.min(first, b), math.max(last, b + (e or 0)) end
  end
  local only = next(names)
  if only and not next(names, only) then state.name = only end
  state.script = ("%d runs: %s"):format(#state.target_order, table.concat(state.target_order, ", "))
  if first < math.huge then state.begin, state.elapsed = first, last - first end
  return state
end

-- The path of a file with every link on the way resolved, as realpath(3) does (and
-- `..` after a link taken from where the link points).
local function realpath(path)
  if path:sub(1, 1) ~= "/" then path = assert(fs.readlink("/proc/self/cwd")) .. "/" .. path end
  local todo, out, hops = {}, {}, 0
  for p in path:gmatch("[^/]+") do todo[#todo + 1] = p end
  local i = 1
  while todo[i] do
    local p = todo[i]
    if p == ".." then out[#out] = nil elseif p ~= "." then
      local here = "/" .. table.concat(out, "/") .. (#out > 0 and "/" or "") .. p
      local link = fs.readlink(here)
      hops = hops + (link and 1 or 0)
      if link and hops < 40 then
        local rest = { table.unpack(todo, i + 1) }
        todo, i = {}, 0
        if link:sub(1, 1) == "/" then out = {} end
        for q in link:gmatch("[^/]+") do todo[#todo + 1] = q end
        table.move(rest, 1, #rest, #todo + 1, todo)
      else
        out[#out + 1] = p
      end
    end
    i = i + 1
  end
  return "/" .. table.concat(out, "/")
end

-- The path of `to` relative to the folder `from` (both resolved).
local function relative(from, to)
  local a, b = {}, {}
  for p in from:gmatch("[^/]+") do a[#a + 1] = p end
  for p in to:gmatch("[^/]+") do b[#b + 1] = p end
  local same = 0
  while a[same + 1] and a[same + 1] == b[same + 1] do same = same + 1 end
  local up = string.rep("../", #a - same)
  return up .. table.concat(b, "/", same + 1), same
end

-- For runs that share a name, the part of their folders' paths that tells them apart:
-- the last component that is not the same in all (a/run, b/run: a, b).
local function telling(dirs)
  local parts, out = {}, {}
  for i, d in ipairs(dirs) do
    parts[i] = {}
    for p in realpath(d):gmatch("[^/]+") do table.insert(parts[i], 1, p) end
  end
  for k = 1, #parts[1] do
    local seen, differ = parts[1][k], false
    for i = 2, #parts do differ = differ or parts[i][k] ~= seen end
    if differ then
      for i = 1, #parts do out[i] = parts[i][k] or parts[i][1] end
      return out
    end
  end
  for i = 1, #parts do out[i] = parts[i][1] end
  return out
end

-- Labels for the runs: the given ones, else each run's name; runs that share a name get
-- the part of their paths that tells them apart; then -2, -3 for any left the same.
local function labels_of(dirs, given, names)
  local out, seen, groups = {}, {}, {}
  for i, name in ipairs(names) do
    groups[name] = groups[name] or {}
    table.insert(groups[name], i)
  end
  for _, members in pairs(groups) do
    local paths = {}
    for j, i in ipairs(members) do paths[j] = dirs[i] end
    local told = #members > 1 and telling(paths) or { names[members[1]] }
    for j, i in ipairs(members) do out[i] = told[j] end
  end
  for i in ipairs(dirs) do
    local label = tostring(given[i] or out[i]):gsub("[^%w._-]", "_")
    local base, n = label, 1
    while seen[label] do n = n + 1 label = base .. "-" .. n end
    out[i], seen[label] = label, true
  end
  return out
end

--- Make out the merged folder of the runs in dirs (labels: a list, or {} for the runs'
--- names): out/<label> links to each run, out/runs.yml lists them. Returns true, or nil
--- and what is wrong (out is a run itself, or holds files of its own).
function merge.write(out, dirs, labels, names)
  if fs.stat(out .. "/journal.yml") or fs.stat(out .. "/workflow.state") and not
      fs.stat(out .. "/runs.yml") then
    return nil, out .. " is a run's output directory; give -o a new folder"
  end
  local made, err = fs.mkdir(out, true)
  if not made then return nil, err end
  local real_out, runs = realpath(out), {}
  for i, label in ipairs(labels_of(dirs, labels, names)) do
    local target = realpath(dirs[i])
    if target == real_out then return nil, out .. " is one of the runs; give -o a new folder" end
    local link, path = relative(real_out, target), out .. "/" .. label
    local st = fs.lstat(path)
    if st and st.type ~= "link" then return nil, path .. " exists and is not a link joe made" end
    local ok, lerr = fs.symlink(link, path, true)
    if not ok then return nil, lerr end
    runs[i] = { label = label, dir = dirs[i] }
  end
  return yaml.write(out .. "/runs.yml", { name = "merged", runs = runs })
end

--- joe report DIR1 DIR2 ... -o OUT [--label a,b,...]: one report of the runs in dirs, in
--- the folder out (see merge.write). Returns the exit status: 0 when every run passed,
--- 1 when one did not (or the report could not be written), 2 for bad input.
function merge.main(dirs, out, label_text, quiet)
  local function die(msg) io.stderr:write("joe: ", msg, "\n") return 2 end
  if not out then return die("report: give -o OUT for a report of several runs") end
  local labels, names = {}, {}
  for label in tostring(label_text or ""):gmatch("[^,]+") do labels[#labels + 1] = label end
  if label_text and #labels ~= #dirs then
    return die(string.format("--label: %d labels for %d runs", #labels, #dirs))
  end
  for i, d in ipairs(dirs) do
    if (fs.stat(d) or {}).type ~= "directory" then return die(d .. ": no such directory") end
    local ok, state = pcall(require("cijoe.record").plain, d)
    names[i] = ok and state.name or d:match("([^/]+)/*$")
  end
  local ok, err = merge.write(out, dirs, labels, names)
  if not ok then return die(err) end
  local built, status = require("cijoe.report").run(out, quiet)
  return (built and status == "passed") and 0 or 1
end

return merge
