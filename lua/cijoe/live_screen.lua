-- The terminal as the live display (cijoe.live) sees it: the run's output passed
-- through, the notices taken out of it, and the live lines (one per lane: the run
-- itself, and each "[target] " that --each or cijoe.each puts before its lines) drawn
-- under the output. The live lines are only ever drawn when the output stands at the
-- start of a line, are cut to the terminal's width (so none wraps), and are erased
-- before anything else is written.
local proc = require("cijoe.proc")

local screen = {}
local Screen = {}
Screen.__index = Screen

local SPIN_UTF8 = { "⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏" }
local SPIN_ASCII = { "|", "/", "-", "\\" }
local CHAR = "[%z\1-\127\194-\244][\128-\191]*"

-- Whether the locale writes UTF-8 (else the spinner is ASCII).
local function utf8_locale()
  local lang = os.getenv("LC_ALL") or os.getenv("LC_CTYPE") or os.getenv("LANG") or ""
  return lang:lower():find("utf%-?8") ~= nil
end

--- A screen for the notices marked with token, written to out (a file), in colour or not.
function screen.new(token, out, colour)
  return setmetatable({ marker = "\27_joe:" .. token .. ";", out = out, colour = colour,
    lanes = {}, order = {}, shown = 0, bol = true, buf = "", pos = 1, frame = 0,
    width = 80, rows = 24, sized = 0, spinner = utf8_locale() and SPIN_UTF8 or SPIN_ASCII },
    Screen)
end

-- Write to the terminal; a terminal that went away is no reason to stop.
function Screen:write(text)
  if text ~= "" then self.out:write(text) end
end

-- The escapes that take the live lines away (the cursor is at the end of the last one).
function Screen:erasing()
  if self.shown == 0 then return "" end
  local up = self.shown > 1 and "\27[" .. (self.shown - 1) .. "A" or ""
  self.shown = 0
  return "\r" .. up .. "\27[J"
end

-- Pass output through, after taking the live lines away.
function Screen:output(text)
  if text == "" then return end
  self:write(self:erasing() .. text)
  self.bol = text:sub(-1) == "\n"
end

-- The relay prefixes ("[t1] [t2] ") at the start of text, and the rest.
local function lane_of(text)
  local p = 1
  while true do
    local e = text:match("^%[[^%]\n]*%] ()", p)
    if not e then return text:sub(1, p - 1), text:sub(p) end
    p = e
  end
end

-- Whether text, the end of what came, may be the start of a notice's line (prefixes,
-- a prefix cut short, the marker cut short): kept back until the rest comes.
function Screen:maybe_notice(text)
  if text == "" or #text > 300 then return false end
  local prefixes, rest = lane_of(self.bol and text or "")
  if not self.bol then rest = text end
  if rest == "" then return prefixes ~= "" end
  if self.bol and rest:match("^%[[^%]\n]*%]?$") then return true end
  return self.marker:sub(1, #rest) == rest or rest:sub(1, #self.marker) == self.marker
end

-- The lane of key, made when first named.
function Screen:lane(key)
  local lane = self.lanes[key]
  if not lane then
    lane = { key = key }
    self.lanes[key] = lane
    self.order[#self.order + 1] = key
  end
  return lane
end

-- Forget the lane of key.
function Screen:drop(key)
  if not self.lanes[key] then return end
  self.lanes[key] = nil
  for i, k in ipairs(self.order) do
    if k == key then table.remove(self.order, i) break end
  end
end

local NOTICES = {}
function NOTICES.s(lane, n, name)
  lane.n, lane.name, lane.begin, lane.cmd = n, name, proc.now(), nil
end
function NOTICES.c(lane, where, cmd)
  lane.where, lane.cmd, lane.cmd_begin = where, cmd, proc.now()
end
function NOTICES.e(lane) lane.cmd = nil end
function NOTICES.x(_, status, _, self)
  self.exit_status, self.exit_at = tonumber(status), proc.now()
end

-- Act on a notice; before is what came before it on its line (relay prefixes, or the
-- rest of a line of output).
function Screen:notice(before, body)
  local key, text = "", before
  if self.bol then key, text = lane_of(before) end
  self:output(text)
  local kind, fields = body:match("^(%a);(.*)$")
  if kind == "d" then return self:drop(key) end
  if not NOTICES[kind] then return end
  local a, b = fields:match("^([^\31]*)\31?(.*)$")
  local lane = self:lane(key)
  NOTICES[kind](lane, a, b, self)
  if not lane.name and not lane.cmd then self:drop(key) end
end

-- Where the line that holds position stop - 1 begins, looking from pos.
local function line_start(buf, pos, stop)
  local at = pos
  while true do
    local nl = buf:find("\n", at, true)
    if not nl or nl >= stop then return at end
    at = nl + 1
  end
end

--- Take what the run wrote: output goes through, notices are acted on. What may be
--- the start of a notice stays in self.buf from self.pos until more comes; the position
--- moves on after each piece is done, so a Ctrl-C raised in here (cijoe.live catches
--- it) loses nothing: the next feed goes on from there.
function Screen:feed(data)
  self.buf, self.pos = self.buf:sub(self.pos) .. data, 1
  local buf = self.buf
  while self.pos <= #buf do
    local pos = self.pos
    local s, e = buf:find(self.marker, pos, true)
    local close = s and buf:find("\27\\\n", e + 1, true)
    if not close then -- the rest of a notice, or of its line's prefixes, may come yet
      local tail = line_start(buf, pos, s or #buf + 1)
      self:output(buf:sub(pos, tail - 1))
      self.pos = tail
      if not (s or self:maybe_notice(buf:sub(tail))) then
        self:output(buf:sub(tail))
        self.pos = #buf + 1
      end
      break
    end
    local head = line_start(buf, pos, s) -- the notice's line: what came before is output
    self:output(buf:sub(pos, head - 1))
    self.pos = head
    self:notice(buf:sub(head, s - 1), buf:sub(e + 1, close - 1))
    self.pos = close + 3
  end
  self.out:flush()
end

-- What is kept back: the text from self.pos on.
function Screen:held()
  return self.buf:sub(self.pos)
end

-- Text cut to n columns (a character a column), with "…" or "~" where it was cut.
function Screen:cut(text, n)
  local count, out = 0, {}
  for ch in text:gmatch(CHAR) do
    count = count + 1
    if count > n then
      out[#out] = self.spinner == SPIN_UTF8 and "…" or "~"
      break
    end
    out[count] = ch
  end
  return table.concat(out)
end

-- Fewer columns than this left for the command, and the live line is not lined up.
local NARROW = 30

-- The live line of a lane, as the step's final line will stand (number, name, status
-- column, time), then the command and where it runs: the text before the spinner, the
-- spinner, and the rest.
function Screen:line(lane, now)
  local spin = self.spinner[self.frame % #self.spinner + 1]
  if not lane.name then -- a target of cijoe.each: its prefix names it
    return "    " .. lane.key, spin, string.format(" %7.1fs", now - (lane.cmd_begin or now)) ..
      (lane.cmd and "  $ " .. lane.cmd or "")
  end
  local n, seconds = tonumber(lane.n) or 0, now - lane.begin
  local cmd = lane.cmd and "  [" .. lane.where .. "] $ " .. lane.cmd or ""
  local before = string.format("%s%3d %-40s ", lane.key, n, lane.name)
  local rest = string.format("       %8.1fs", seconds) .. cmd
  local room = lane.cmd and self.width - 2 - (utf8.len(before) or #before) - (#rest - #lane.cmd)
  if room and room < #lane.cmd and room < NARROW then
    -- the command matters more than lining up with the final lines: at 80 columns the
    -- padded name left it 5 characters
    before, rest = string.format("%s%3d %s ", lane.key, n, lane.name),
      string.format(" %.1fs", seconds) .. cmd
  end
  return before, spin, rest
end

-- The live lines, cut to the terminal; more lanes than fit are counted on a last line.
function Screen:lines()
  local now, lines = proc.now(), {}
  local room = math.max(1, self.rows - 2)
  for i, key in ipairs(self.order) do
    if i > room then
      lines[#lines] = string.format("... and %d more running", #self.order - room + 1)
      break
    end
    local before, spin, rest = self:line(self.lanes[key], now)
    local text = self:cut(before .. spin .. rest, self.width - 1)
    if self.colour and #text >= #before + #spin then -- the spinner in colour
      text = before .. "\27[1;36m" .. spin .. "\27[0m" .. text:sub(#before + #spin + 1)
    end
    lines[#lines + 1] = text
  end
  return lines
end

-- Ask the terminal's size now and then (a resize needs no signal then).
function Screen:resize()
  if proc.now() - self.sized < 1 then return end
  self.sized = proc.now()
  local pipe = io.popen("stty size <&2 2>/dev/null")
  local rows, cols = (pipe and pipe:read("a") or ""):match("^(%d+) (%d+)")
  if pipe then pipe:close() end
  if cols and tonumber(cols) > 0 then self.rows, self.width = tonumber(rows), tonumber(cols) end
end

--- A tick: what was kept back too long goes out, and the live lines are drawn again.
function Screen:tick()
  self.frame = self.frame + 1
  local held = self:held()
  if held ~= "" and not held:find(self.marker, 1, true) then
    self:output(held)
    self.buf, self.pos = "", 1
  end
  if not self.bol or #self.order == 0 then return self.out:flush() end
  self:resize()
  local lines = self:lines()
  self:write(self:erasing() .. table.concat(lines, "\n"))
  self.shown = #lines
  self.out:flush()
end

--- The run ended: what was kept back goes out, the live lines go.
function Screen:close()
  self:output(self:held())
  self.buf, self.pos = "", 1
  self:write(self:erasing())
  self.out:flush()
end

return screen
