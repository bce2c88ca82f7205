-- What joe says about itself: --help, each command's help (and that it names every
-- option the parser takes for that command, and no other), the man page as man renders
-- it, and the shell completion run in bash, zsh (through tmux) and fish.
local lu = require("luaunit")
local h = require("helper")
local help = require("cijoe.help")

TestHelp = {}

function TestHelp:setUp()
  self.dir = h.tmpdir()
  h.write(self.dir .. "/wf.lua", 'step("info", function() end)\nstep("build", function() end)\n')
end

-- The words to put on a command line to use command cmd (its name, or -s for setup).
local function invoke(cmd)
  return cmd.name == "setup" and "-s" or cmd.name
end

function TestHelp:test_global_help_lists_every_command_in_one_line()
  local status, out = h.joe_in(self.dir, "--help")
  lu.assertEquals(status, 0)
  for _, cmd in ipairs(help.COMMANDS) do
    local name = cmd.name == "setup" and "-s [PKG]" or cmd.name
    lu.assertStrMatches(out, ".*\n  " .. name:gsub("%p", "%%%0") .. " +" ..
      cmd.summary:sub(1, 20):gsub("%p", "%%%0") .. ".*")
  end
  lu.assertEquals(select(2, h.joe_in(self.dir, "help")), out)
end

function TestHelp:test_command_help_the_same_both_ways_with_usage_and_example()
  for _, cmd in ipairs(help.COMMANDS) do
    local status, out = h.joe_in(self.dir, invoke(cmd) .. " --help")
    lu.assertEquals(status, 0, cmd.name)
    lu.assertEquals(select(2, h.joe_in(self.dir, "help " .. cmd.name)), out, cmd.name)
    lu.assertStrContains(out, "usage: " .. cmd.usage[1])
    lu.assertStrContains(out, "examples:\n  " .. cmd.examples[1][1])
  end
  local _, out = h.joe_in(self.dir, "extract -h")
  lu.assertStrContains(out, "NNN_<step>/metrics.yml")
  _, out = h.joe_in(self.dir, "help analyse")
  lu.assertStrContains(out, "-r, --requirements FILE")
  lu.assertStrContains(out, "\"[200; 999] k\"")
end

-- Whether the parser takes option key (spelling s) for cmd: its help is printed then.
local function accepted(dir, cmd, key, s)
  local value = help.OPTIONS[key].arg and (help.OPTIONS[key].values or { "x" })[1] or nil
  local status, _, err = h.joe_in(dir, invoke(cmd) .. " " .. s .. (value and " " .. value or "") ..
    " --help")
  return status == 0, err
end

function TestHelp:test_every_help_names_exactly_the_options_the_parser_takes()
  for _, cmd in ipairs(help.COMMANDS) do
    local _, text = h.joe_in(self.dir, invoke(cmd) .. " --help")
    local named = {}
    for _, key in ipairs(help.options_of(cmd)) do named[key] = true end
    for key, o in pairs(help.OPTIONS) do
      for _, s in ipairs(o) do
        local ok, err = accepted(self.dir, cmd, key, s)
        lu.assertEquals(ok, named[key] == true, cmd.name .. " " .. s .. ": " .. tostring(err))
        local listed = text:find("\n  [^\n]*" .. s:gsub("%p", "%%%0") .. "[ ,\n]") ~= nil
        lu.assertEquals(listed, named[key] == true, cmd.name .. " --help and " .. s)
      end
    end
  end
end

function TestHelp:test_help_of_an_unknown_command_suggests_one()
  local status, _, err = h.joe_in(self.dir, "help analyze")
  lu.assertEquals(status, 2)
  lu.assertStrContains(err, "joe: no command 'analyze' (did you mean 'analyse'?)")
end

function TestHelp:test_man_page_renders_and_holds_every_command_and_option()
  lu.assertEquals(h.joe_in(self.dir, "help --man"), 0)
  h.sh("mv " .. h.q(self.dir .. "/.stdout") .. " " .. h.q(self.dir .. "/joe.1"))
  local page, status = h.sh("cd " .. h.q(self.dir) .. " && MANWIDTH=100 man -l joe.1 2>man.err")
  lu.assertEquals(status, 0)
  lu.assertEquals(h.read(self.dir .. "/man.err"), "")
  lu.assertStrMatches(page, "^JOE%(1%) +User Commands +JOE%(1%)\n.*")
  for _, cmd in ipairs(help.COMMANDS) do lu.assertStrContains(page, cmd.usage[1]) end
  for _, o in pairs(help.OPTIONS) do lu.assertStrContains(page, o[#o]) end
  local warnings = h.sh("groff -man -ww -z " .. h.q(self.dir .. "/joe.1"))
  lu.assertEquals(warnings, "")
end

-- What bash's completion of joe offers for the words (the last one is completed), with
-- the script of `joe completion bash` loaded and joe found as "joe" on PATH.
function TestHelp:bash_complete(...)
  local words = {}
  for i, w in ipairs({ ... }) do words[i] = h.q(w) end
  local script = "source <(joe completion bash) && complete -p joe && COMP_WORDS=(joe " ..
    table.concat(words, " ") .. ") && COMP_CWORD=" .. select("#", ...) ..
    " && _joe && printf '%s\\n' \"${COMPREPLY[@]}\""
  h.sh("mkdir -p " .. h.q(self.dir .. "/bin") .. " && ln -sf " .. h.q(h.joe) .. " " ..
    h.q(self.dir .. "/bin/joe"))
  return (h.sh("cd " .. h.q(self.dir) .. " && PATH=" .. h.q(self.dir .. "/bin") ..
    ":$PATH bash -c " .. h.q(script)))
end

function TestHelp:test_bash_completion()
  local out = self:bash_complete("li")
  lu.assertEquals(out, "complete -F _joe joe\nlint\nlist\n")
  lu.assertStrContains(self:bash_complete(""), "\nanalyse\n")
  lu.assertStrContains(self:bash_complete(""), "\nwf.lua\n") -- and the files here
  lu.assertEquals(self:bash_complete("wf.lua", ""), "complete -F _joe joe\nbuild\ninfo\n")
  lu.assertEquals(self:bash_complete("wf.lua", "info", ""), "complete -F _joe joe\nbuild\n")
  lu.assertEquals(self:bash_complete("--col"), "complete -F _joe joe\n--color\n")
  lu.assertEquals(self:bash_complete("--color", "a"), "complete -F _joe joe\nalways\nauto\n")
  lu.assertEquals(self:bash_complete("-s", "q"), "complete -F _joe joe\nqemu\n")
  lu.assertEquals(self:bash_complete("selftest", "li"), "complete -F _joe joe\nlinux\n")
  lu.assertEquals(self:bash_complete("-c", "w"), "complete -F _joe joe\nwf.lua\n")
  lu.assertEquals(self:bash_complete("analyse", "-"),
    "complete -F _joe joe\n--baseline\n--color\n--help\n--metrics\n--requirements\n" ..
    "--threshold\n--version\n-h\n-r\n-t\n")
end

function TestHelp:test_zsh_completion_through_tab()
  if h.sh("command -v zsh") == "" then lu.skip("no zsh here") end
  local pane = require("tmux").new()
  pane:run("cd " .. h.q(self.dir) .. " && PATH=" .. h.q(h.joe:match("^(.*)/")) ..
    ":$PATH PS1='zsh$ ' zsh -f", 120, 20)
  pane:type("autoload -U compinit && compinit -u && source <(joe completion zsh)", "Enter")
  pane:type("joe wf.lua ", "Tab")
  local ok, screen = pcall(pane.expect, pane, "build  info")
  pane:kill()
  if not ok then error(screen, 0) end
end

function TestHelp:test_fish_completion()
  if h.sh("command -v fish") == "" then lu.skip("no fish here") end
  local out = h.sh("cd " .. h.q(self.dir) .. " && PATH=" .. h.q(h.joe:match("^(.*)/")) ..
    ":$PATH fish -c " .. h.q("source (joe completion fish | psub); complete -C 'joe wf.lua '"))
  lu.assertEquals(out, "build\ninfo\n")
end
