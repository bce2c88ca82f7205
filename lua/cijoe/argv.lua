-- The command line's words: which command they name and the options and arguments they
-- give it, checked against what help.lua says the command takes (so a command's help
-- always names every option it accepts). Options may come anywhere; `--` ends them.
local help = require("cijoe.help")

local argv = {}

-- Every spelling of an option -> its key in help.OPTIONS.
local SPELLINGS = {}
for key, o in pairs(help.OPTIONS) do
  for _, s in ipairs(o) do SPELLINGS[s] = key end
end

--- The key in help.OPTIONS of an option's spelling ("-c" -> "config"), or nil.
function argv.key(word)
  return word and SPELLINGS[word]
end

--- The command of a command line: its first word that is neither an option nor an
--- option's value, or an option that is a command (-s, CIJOE's --resources). Returns the
--- command's entry of help.COMMANDS (nil for a script to run) and the word's index (the
--- script's, for a script).
function argv.command(words)
  local i = 1
  while words[i] and words[i] ~= "--" do
    local a = words[i]
    local key = SPELLINGS[a]
    if a:sub(1, 1) == "-" and help.by_name[a] then return help.by_name[a], i end
    if not a:find("^%-.") then return help.by_name[a], i end
    if key and help.OPTIONS[key].arg then i = i + 1 end
    i = i + 1
  end
  return nil
end

-- What is wrong with an option the command does not take, with what to type instead.
local function bad_option(a, cmd, allowed)
  local name = a:match("^(%-%-?[^=]*)")
  if help.CIJOE_HINTS[name] then return name .. " is CIJOE's; " .. help.CIJOE_HINTS[name] end
  if SPELLINGS[name] then
    return name .. " is not an option of " .. (cmd and "joe " .. cmd.name or "a run"), "run"
  end
  local spellings = {}
  for _, key in ipairs(allowed) do
    for _, s in ipairs(help.OPTIONS[key]) do spellings[#spellings + 1] = s end
  end
  for name_ in pairs(help.by_name) do
    if name_:sub(1, 2) == "--" then spellings[#spellings + 1] = name_ end
  end
  return "unknown option " .. a .. require("cijoe.suggest").hint(name, spellings)
end

-- Set option key from its value (or true for a flag); nil and a message for a bad value.
local function set_option(opts, key, value)
  local o = help.OPTIONS[key]
  if o.values and value ~= nil then
    local ok = false
    for _, v in ipairs(o.values) do ok = ok or v == value end
    if not ok then
      return nil, o[#o] .. " takes " .. table.concat(o.values, ", ") .. ", not '" .. value ..
        "'" .. require("cijoe.suggest").hint(value, o.values)
    end
  end
  if o.many then table.insert(opts[key], value) else opts[key] = value == nil or value end
  return true
end

--- The options and positional arguments of words for command cmd (nil: a script run),
--- the word at index skip being the command itself. Returns opts (option key -> value,
--- true for a flag, a list for config), args; or nil, a message and the command whose
--- help tells more.
function argv.parse(words, cmd, skip)
  local allowed = help.options_of(cmd or help.by_name.run)
  local takes = {}
  for _, key in ipairs(allowed) do takes[key] = true end
  local opts, args, i = { config = {} }, {}, 1
  while words[i] do
    local a = words[i]
    local name, value = a:match("^(%-%-[%w-]+)=(.*)$")
    local key = SPELLINGS[name or a]
    if i == skip then -- the command
    elseif a == "--" then
      table.move(words, i + 1, #words, #args + 1, args)
      break
    elseif key and takes[key] and (help.OPTIONS[key].arg or not value) then
      if help.OPTIONS[key].arg and not value then i, value = i + 1, words[i + 1] end
      if help.OPTIONS[key].arg and value == nil then return nil, a .. " needs a value" end
      local ok, err = set_option(opts, key, value)
      if not ok then return nil, err end
    elseif a:find("^%-.") then
      local msg, topic = bad_option(a, cmd, allowed)
      return nil, msg, cmd and cmd.name or topic
    else
      args[#args + 1] = a
    end
    i = i + 1
  end
  return opts, args
end

return argv
