-- Reading a run's journal (journal.yml, which cijoe.run appends to: a YAML list, one
-- event per line, as flow mappings): the events one at a time, in constant memory,
-- whatever the run's size, and a torn or foreign line left out, not fatal.
local yaml = require("cijoe.yaml")

local journal = {}

-- Lines of a journal parsed together: one YAML document of BATCH lines costs a fraction
-- of BATCH documents (libyaml's set-up is most of a short line's time).
local BATCH = 256

-- The events of lines (each "- " and a flow mapping) in order: parsed as one sequence
-- when that gives exactly one item per line, else a line at a time, so that a line that
-- does not parse is the only one left out.
local function parse_lines(lines, path)
  local list = yaml.load(table.concat(lines, "\n"), path, false)
  if type(list) == "table" and #list == #lines then return list end
  list = {}
  for i, line in ipairs(lines) do
    list[i] = line:sub(1, 2) == "- " and yaml.load(line:sub(3), path, false) or false
  end
  return list
end

--- Each event of a journal file, in order, one at a time (an iterator), so a run of any
--- number of commands is read in constant memory; a line that does not parse (the torn
--- last line of a crashed run) is left out. nil when there is no journal.
function journal.each_event(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local lines, batch, at, n = f:lines(), nil, 1, 0
  local function refill()
    local chunk = {}
    for line in lines do
      chunk[#chunk + 1] = line
      if #chunk == BATCH then break end
    end
    batch, at, n = #chunk > 0 and parse_lines(chunk, path) or nil, 1, #chunk
  end
  refill()
  return function()
    while batch do
      if at > n then
        refill()
      else
        local e = batch[at]
        at = at + 1
        if type(e) == "table" and e.ev then return e end
      end
    end
    f:close()
  end
end

return journal
