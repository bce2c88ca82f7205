-- The live display's reading of the run's output (cijoe.live_screen), in this process:
-- however the stream is cut into reads, the output comes through byte for byte without
-- the notices (and the relay prefixes of their lines), and the lanes are those the
-- notices made; the live lines are drawn only at the start of a line and fit the width.
local lu = require("luaunit")
local screen = require("cijoe.live_screen")

TestLiveScreen = {}

local TOKEN = "t0k3n"

-- A file stand-in that keeps what is written.
local function sink()
  local parts = {}
  return { parts = parts, write = function(self, s) parts[#parts + 1] = s return self end,
    flush = function(self) return self end, text = function() return table.concat(parts) end }
end

-- A notice line as cijoe.console writes it, with relay prefixes before it.
local function notice(prefix, kind, ...)
  return prefix .. "\27_joe:" .. TOKEN .. ";" .. kind .. ";" .. table.concat({ ... }, "\31") ..
    "\27\\\n"
end

-- Random output that looks like what commands print: brackets, escapes, partial lines.
local function noise(rng)
  local pieces = { "[t1] ", "[", "]", "\27[32m", "\27", "_", "joe", "\n", "x", "progress 50%\r",
    "line\n", "[t9] partial", " " }
  local out = {}
  for i = 1, rng(0, 6) do out[i] = pieces[rng(1, #pieces)] end
  return table.concat(out)
end

function TestLiveScreen:test_output_survives_any_cutting_and_notices_vanish()
  local rng = math.random
  math.randomseed(19)
  for _ = 1, 300 do
    local stream, want, lanes = {}, {}, {}
    for _ = 1, rng(1, 12) do
      if rng() < 0.5 then
        local text = noise(rng)
        stream[#stream + 1], want[#want + 1] = text, text
      else -- a notice always starts a line, as relay and console write it
        local prefix = ({ "", "[t1] ", "[t1] [t2] " })[rng(1, 3)]
        local lead = (#want > 0 and not table.concat(want):match("\n$")) and "\n" or ""
        stream[#stream + 1], want[#want + 1] = lead, lead
        stream[#stream + 1] = notice(prefix, "s", rng(1, 9), "step")
        lanes[prefix] = true
      end
    end
    local data, out = table.concat(stream), sink()
    local view = screen.new(TOKEN, out, false)
    local pos = 1
    while pos <= #data do
      local n = rng(1, 9)
      view:feed(data:sub(pos, pos + n - 1))
      pos = pos + n
    end
    view:close()
    lu.assertEquals(out:text(), table.concat(want), string.format("%q", data))
    for prefix in pairs(lanes) do lu.assertNotNil(view.lanes[prefix], prefix) end
  end
end

function TestLiveScreen:test_live_lines_wait_for_the_start_of_a_line_and_fit()
  local out = sink()
  local view = screen.new(TOKEN, out, false)
  view.sized, view.width, view.rows = math.huge, 40, 10 -- no stty: a 40 column terminal
  view:feed(notice("", "s", 2, "a_step_with_a_long_name") ..
    notice("", "c", "target", "make -j8 all && make check"))
  view:feed("half a line")
  view:tick()
  lu.assertEquals(out:text(), "half a line") -- nothing drawn over it
  view:feed(" ends\n")
  view:tick()
  local drawn = out:text():sub(#"half a line ends\n" + 1)
  lu.assertStrMatches(drawn, "  2 a_step_with_a_long_name .*")
  lu.assertTrue(utf8.len(drawn) <= 39, drawn)
  view:feed("next\n")
  lu.assertStrContains(out:text(), drawn .. "\r\27[Jnext\n") -- erased before the output
  view:feed(notice("", "d", 2))
  lu.assertEquals(#view.order, 0)
end

-- At 80 columns the name padded to the final lines' column would leave the command 5
-- characters: the line gives up the alignment for the command; at 150 it keeps it.
function TestLiveScreen:test_a_narrow_terminal_shows_the_command_not_the_alignment()
  local cmd = "  %[target%] %$ make %-j8 all && make check$"
  for width, want in pairs({ [80] = "^  1 build [^ ]+ %d+%.%ds" .. cmd,
    [150] = "^  1 build" .. (" "):rep(36) .. "[^ ]+ +%d+%.%ds" .. cmd }) do
    local out = sink()
    local view = screen.new(TOKEN, out, false)
    view.sized, view.width, view.rows = math.huge, width, 10
    view:feed(notice("", "s", 1, "build") .. notice("", "c", "target", "make -j8 all && make check"))
    view:tick()
    lu.assertStrMatches(out:text(), want)
  end
end

function TestLiveScreen:test_more_lanes_than_rows_are_counted()
  local out = sink()
  local view = screen.new(TOKEN, out, false)
  view.sized, view.width, view.rows = math.huge, 80, 5
  for i = 1, 7 do view:feed(notice("[t" .. i .. "] ", "s", 1, "s")) end
  view:tick()
  local lines = {}
  for line in (out:text() .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
  lu.assertEquals(#lines, 3)
  lu.assertEquals(lines[3], "... and 5 more running")
end

function TestLiveScreen:test_a_notice_after_half_a_line_of_output_keeps_the_line()
  local out = sink()
  local view = screen.new(TOKEN, out, false)
  view:feed("[t1] 50% done")
  view:feed(notice("", "e") .. " and the rest\n")
  view:close()
  lu.assertEquals(out:text(), "[t1] 50% done and the rest\n")
end
