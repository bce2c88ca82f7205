-- Shell completion: `joe completion bash|zsh|fish` prints a small script for the shell,
-- and the script asks `joe __complete WORD ...` (the words of the line so far, the last
-- being the one to complete) for the candidates, so the rules live here once: commands,
-- each command's options (from cijoe.help), option values, package names, the step
-- names of the workflow on the line. A last line ":files" or ":dirs" asks the shell to
-- add its own file or folder names.
local argv = require("cijoe.argv")
local help = require("cijoe.help")

local completion = {}

local BASH = [==[
# joe's bash completion (joe completion bash): the words come from joe __complete.
_joe() {
  local cur=${COMP_WORDS[COMP_CWORD]} line files=
  COMPREPLY=()
  while IFS= read -r line; do
    case $line in
      :files) files=-f ;;
      :dirs) files=-d ;;
      *) COMPREPLY+=("$line") ;;
    esac
  done < <("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  if [[ -n $files ]]; then
    compopt -o filenames 2>/dev/null
    while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen $files -- "$cur")
  fi
}
complete -F _joe joe
]==]

local ZSH = [==[
#compdef joe
# joe's zsh completion (joe completion zsh): the words come from joe __complete.
_joe() {
  local -a found
  local line kind=
  for line in "${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}"; do
    case $line in
      :files) kind=files ;;
      :dirs) kind=dirs ;;
      ?*) found+=("$line") ;;
    esac
  done
  (( ${#found} )) && compadd -a found
  case $kind in
    files) _files ;;
    dirs) _files -/ ;;
  esac
}
if [[ $funcstack[1] == _joe ]]; then _joe "$@"; else compdef _joe joe; fi
]==]

local FISH = [==[
# joe's fish completion (joe completion fish): the words come from joe __complete.
function __joe_complete
    set -l words (commandline -opc) (commandline -ct)
    for line in ($words[1] __complete $words[2..-1] 2>/dev/null)
        switch $line
            case :files
                __fish_complete_path (commandline -ct)
            case :dirs
                __fish_complete_directories (commandline -ct)
            case '*'
                echo $line
        end
    end
end
complete -c joe -f -a '(__joe_complete)'
]==]

local SCRIPTS = { bash = BASH, zsh = ZSH, fish = FISH }

--- joe completion SHELL: print the script; returns the exit status.
function completion.script(shell)
  if not SCRIPTS[shell] then
    return require("cijoe.cli").die("completion: give bash, zsh or fish", 2)
  end
  io.write(SCRIPTS[shell])
  return 0
end

-- The names of the packages that are here.
local function package_names()
  local names = {}
  for name in pairs(require("cijoe.packages").list()) do names[#names + 1] = name end
  return names
end

-- The config the line names with -c (else the default), for step and transport names;
-- an empty one when it does not load.
local function line_config(words)
  local files = {}
  for i, w in ipairs(words) do
    if (w == "-c" or w == "--config") and words[i + 1] then files[#files + 1] = words[i + 1] end
  end
  local sources = require("cijoe.cli").config_sources({ config = files })
  return require("cijoe.config").load(sources) or {}
end

-- The step names of the workflow at path, those already on the line left out.
local function step_names(path, words)
  local wf = require("cijoe.plan").declare(path, line_config(words))
  local on_line, names = {}, {}
  for _, w in ipairs(words) do on_line[w] = true end
  for _, s in ipairs(wf and wf.steps or {}) do
    if not on_line[s.name] then names[#names + 1] = s.name end
  end
  return names
end

-- The candidates for the value of option key.
local function option_values(key, words)
  local o = help.OPTIONS[key]
  if o.values then return o.values end
  if key == "config" or key == "requirements" then return {}, ":files" end
  if key == "output" then return {}, ":dirs" end
  if key == "each" then
    local names = require("cijoe.config").transport_names(line_config(words))
    names[#names + 1], names[#names + 2] = "local", "all"
    return names
  end
  return {}
end

-- The options command cmd takes, every spelling (and the commands that are options).
local function option_words(cmd)
  local list = {}
  for _, key in ipairs(help.options_of(cmd or help.by_name.run)) do
    for _, s in ipairs(help.OPTIONS[key]) do list[#list + 1] = s end
  end
  if not cmd then
    for name in pairs(help.by_name) do
      if name:sub(1, 1) == "-" then list[#list + 1] = name end
    end
  end
  return list
end

-- The candidates for an argument of cmd (nil: before any command, or a script).
local function operands(cmd, script, words)
  if script then return step_names(script, words) end
  if not cmd then
    local names = {}
    for _, c in ipairs(help.COMMANDS) do
      if c.name ~= "setup" then names[#names + 1] = c.name end
    end
    return names, ":files"
  end
  local kind = cmd.operands
  if kind == "packages" then return package_names() end
  if kind == "commands" then return (operands(nil, nil, words)) end
  if kind == "shells" then return { "bash", "zsh", "fish" } end
  if kind == "files" or kind == "dirs" then return {}, ":" .. kind end
  return {}
end

--- joe __complete WORD ...: print the candidates for the last word, one a line, those
--- that start with it, and ":files" or ":dirs" when the shell should add its own.
function completion.complete(words)
  local cur = words[#words] or ""
  local before = { table.unpack(words, 1, math.max(0, #words - 1)) }
  local prev = before[#before]
  if prev == "=" then prev = before[#before - 1] end -- bash splits --color=x at "="
  local cmd, at = argv.command(before)
  local key = argv.key(prev)
  local list, extra
  if key and help.OPTIONS[key].arg then
    list, extra = option_values(key, before)
  elseif cur:sub(1, 1) == "-" then
    list = option_words(cmd)
  else
    list, extra = operands(cmd, not cmd and at and before[at], before)
  end
  table.sort(list)
  for _, word in ipairs(list) do
    if word:sub(1, #cur) == cur then print(word) end
  end
  if extra then print(extra) end
  return 0
end

return completion
