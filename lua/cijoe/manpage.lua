-- joe(1), the man page, made from the tables of cijoe.help that --help prints, so the
-- two never disagree: `joe help --man` writes it as roff (man(7) macros), which
-- `make install` puts in share/man/man1 and `man -l` reads.
local help = require("cijoe.help")

local manpage = {}

-- Text safe for roff: backslashes doubled as \e, dashes as \-, a leading dot or quote
-- kept from being read as a request.
local function roff(text)
  text = tostring(text):gsub("\\", "\\e"):gsub("%-", "\\-")
  return (text:gsub("^([.'])", "\\&%1"):gsub("\n([.'])", "\n\\&%1"))
end

-- An option as a tagged paragraph: its spellings in bold, its value in italics.
local function option(lines, key)
  local o = help.OPTIONS[key]
  local names = {}
  for i, s in ipairs(o) do names[i] = "\\fB" .. roff(s) .. "\\fR" end
  lines[#lines + 1] = ".TP"
  local value = o.arg and " \\fI" .. roff(o.arg) .. "\\fR" or ""
  lines[#lines + 1] = table.concat(names, ", ") .. value
  lines[#lines + 1] = roff(o.text)
end

-- A command's section: its usage lines, what it does, its own options, its examples.
local function command(lines, cmd)
  lines[#lines + 1] = ".SS " .. roff(cmd.name == "setup" and "\\-s" or cmd.name)
  for i, usage in ipairs(cmd.usage) do
    lines[#lines + 1] = (i == 1 and "" or ".br\n") .. "\\fB" .. roff(usage) .. "\\fR"
  end
  lines[#lines + 1] = ".PP"
  lines[#lines + 1] = roff(cmd.text)
  for _, key in ipairs(cmd.options) do option(lines, key) end
  for _, e in ipairs(cmd.examples) do
    lines[#lines + 1] = ".TP\n.B " .. roff(e[1]) .. "\n" .. roff(e[2])
  end
end

local ENVIRONMENT = {
  { "NO_COLOR", "when set and not empty, no colour (unless --color=always)" },
  { "CLICOLOR_FORCE", "when set and not 0, colour even where output is no terminal" },
  { "TERM", "dumb (or unset): plain lines, no colour, no live progress" },
  { "JOE_PATH", "more folders of packages, separated by colons" },
  { "JOE_HISTORY", "the REPL's history file (default ~/.joe_history)" },
  { "JOE_LUA_PATH", "run the Lua sources of this tree instead of the built-in ones" },
}

--- The man page of joe version `version`, as roff.
function manpage.render(version)
  local lines = { ".TH JOE 1 \"\" \"joe " .. roff(version) .. "\" \"User Commands\"", ".SH NAME",
    "joe \\- run the shell commands of systems testing from Lua workflows, logged, with reports",
    ".SH SYNOPSIS" }
  for _, cmd in ipairs(help.COMMANDS) do
    lines[#lines + 1] = ".br\n\\fB" .. roff(cmd.usage[1]) .. "\\fR"
  end
  lines[#lines + 1] = ".SH DESCRIPTION"
  lines[#lines + 1] = roff(help.ABOUT)
  lines[#lines + 1] = ".SH COMMANDS"
  for _, cmd in ipairs(help.COMMANDS) do command(lines, cmd) end
  lines[#lines + 1] = ".SH COMMON OPTIONS"
  for _, key in ipairs(help.GLOBAL) do option(lines, key) end
  lines[#lines + 1] = ".SH ENVIRONMENT"
  for _, e in ipairs(ENVIRONMENT) do
    lines[#lines + 1] = ".TP\n.B " .. e[1] .. "\n" .. roff(e[2])
  end
  lines[#lines + 1] = ".SH EXIT STATUS\n0 when everything passed; 1 when a step or test " ..
    "failed or " ..
    "a script raised; 2 for bad input (options, configs, missing files); 128+N when stopped " ..
    "by signal N."
  lines[#lines + 1] = ".SH SEE ALSO\n\\fBlua\\fR(1), \\fBssh_config\\fR(5); " ..
    "\\fBjoe completion bash\\fR for the shell's completion"
  return table.concat(lines, "\n") .. "\n"
end

return manpage
