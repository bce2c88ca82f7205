-- The command line: options, subcommands, and the exit statuses of the design: 0 for
-- success, 1 for a failing run or a script error, 2 for bad input, 128+N on signal N.
local cijoe = require("cijoe")
local config = require("cijoe.config")
local fs = require("cijoe.fs")
local packages = require("cijoe.packages")
local run = require("cijoe.run")

local cli = { VERSION = "0.1.0" }

local argv_ = require("cijoe.argv")
local help = require("cijoe.help")

-- " (did you mean 'x'?)" (cijoe.suggest, loaded only when something is wrong).
local function hint(word, names) return require("cijoe.suggest").hint(word, names) end

--- Print "joe: msg" on stderr (red on a terminal with colour) and return the exit status
--- for it.
function cli.die(msg, status)
  local console = require("cijoe.console")
  io.stdout:flush()
  io.stderr:write(console.paint_err("joe: " .. tostring(msg), "error"), "\n")
  return status
end

--- The config sources of opts: every -c, else ./default.config, else the core default;
--- a list of {file = path} or {file = name, text = yaml}, as config.load takes.
function cli.config_sources(opts)
  local sources = {}
  for _, path in ipairs(opts.config) do sources[#sources + 1] = { file = path } end
  if #sources > 0 then return sources end
  if fs.stat("default.config") then return { { file = "default.config" } } end
  local text, origin = packages.read("core/default.config")
  return { { file = origin, text = text } }
end

--- Load the config and open the run called name (kind: workflow, test, selftest, repl;
--- script: the file it runs) in dir, or opts.output, or a fresh default directory.
--- Returns the run, or nil and the exit status after saying what is wrong.
function cli.start(opts, name, dir, kind, script)
  local conf, err = config.load(cli.config_sources(opts))
  if not conf then return nil, cli.die(err, 2) end
  local r, msg = run.open({ dir = dir or opts.output, name = name, kind = kind, script = script,
    config = conf, quiet = opts.quiet, monitor = opts.monitor, verbose = opts.verbose })
  if not r then return nil, cli.die("cannot create the output directory: " .. msg, 2) end
  return r
end

-- "no such file" for a script that is not there; for a bare word, which may be a
-- mistyped command, the nearest command too.
local function no_such(path)
  if path:find("[./]") then return path .. ": no such file" end
  local names = {}
  for _, c in ipairs(help.COMMANDS) do names[#names + 1] = c.name end
  return path .. ": no such file or command" .. hint(path, names)
end

-- Run one workflow file as a run of its own; with --list or --dry-run, show it instead.
local function run_file(opts, path, steps, dir)
  if not fs.stat(path) then return cli.die(no_such(path), 2) end
  if opts.list or opts.dry_run then return require("cijoe.plan").show(opts, path, steps) end
  if opts.repl_on_failure then
    if opts.each then return cli.die("--repl-on-failure cannot go with --each", 2) end
    require("cijoe.runner").on_failure = require("cijoe.repl").on_failure
  end
  local wf, err = require("cijoe.workflow").load(path)
  if not wf then return cli.die(err, 1) end
  local r, status = cli.start(opts, wf.name, dir, "workflow", path)
  if not r then return status end
  if opts.each then return require("cijoe.each").workflow(opts, wf, steps, r) end
  local code, msg = require("cijoe.runner").workflow(r, wf, steps)
  if not code then return cli.die(msg, 2) end
  return code
end

-- Run fn() with the live display when stdout is a terminal (see cijoe.live): the
-- display's process returns the run's exit status, the run's process runs fn.
local function live(opts, fn)
  if not require("cijoe.console").terminal then return fn() end -- nothing more to load
  return require("cijoe.live").run(opts, fn)
end

-- The workflow files a `joe run` argument stands for.
local function workflow_files(arg)
  local st = fs.stat(arg)
  if not st or st.type ~= "directory" then return { arg } end
  local files = {}
  for _, name in ipairs(fs.dir(arg)) do
    if name:match("%.workflow$") then files[#files + 1] = arg .. "/" .. name end
  end
  return files
end

-- joe run --rerun-failed [OUTDIR]: the steps of that run that failed or did not run.
local function rerun(opts, args)
  if #args > 1 then return cli.die("--rerun-failed takes one output directory", 2) end
  local dir = args[1] or "cijoe-output/latest"
  local script, steps, count = require("cijoe.runner").failed_steps(dir)
  if not script then return cli.die(steps, 2) end
  if not fs.stat(script) then
    return cli.die(dir .. " ran " .. script .. ", which is not here (run joe where it ran)", 2)
  end
  if count == 0 then
    print("nothing failed in " .. dir .. "; nothing to run again")
    return 0
  end
  return live(opts, function() return run_file(opts, script, steps) end)
end

local commands = {}

-- joe run [file_or_dir ...]: each workflow is a run of its own; the worst status wins.
function commands.run(opts, args)
  if opts.rerun_failed then return rerun(opts, args) end
  local files = {}
  for _, arg in ipairs(#args > 0 and args or { "." }) do
    for _, f in ipairs(workflow_files(arg)) do files[#files + 1] = f:gsub("^%./", "") end
  end
  if #files == 0 then return cli.die("no *.workflow files to run", 2) end
  return live(opts, function()
    local worst = 0
    for _, f in ipairs(files) do
      local dir = opts.output and #files > 1 and opts.output .. "/" .. run.safe_name(f) or nil
      worst = math.max(worst, run_file(opts, f, {}, dir))
    end
    return worst
  end)
end

-- joe SCRIPT [STEP ...]
function commands.script(opts, args)
  if opts.rerun_failed then return rerun(opts, args) end
  if #args == 0 then return cli.die("no script given (see joe --help)", 2) end
  return live(opts, function() return run_file(opts, args[1], { table.unpack(args, 2) }) end)
end

-- joe list WORKFLOW: its steps, nothing run.
function commands.list(opts, args)
  if #args ~= 1 then return cli.die("list: give one workflow file", 2) end
  opts.list = true
  return run_file(opts, args[1], {})
end

-- joe help [COMMAND] | --man
function commands.help(opts, args)
  if opts.man then
    io.write(require("cijoe.manpage").render(cli.VERSION))
    return 0
  end
  local cmd = args[1] and help.by_name[args[1]]
  if args[1] and not cmd then
    local names = {}
    for _, c in ipairs(help.COMMANDS) do names[#names + 1] = c.name end
    return cli.die("no command '" .. args[1] .. "'" .. hint(args[1], names) ..
      " (see joe --help)", 2)
  end
  print(cmd and help.command(cmd) or help.global())
  return 0
end

-- joe completion SHELL: the script; joe __complete WORDS...: the words for the last one.
function commands.completion(_, args)
  return require("cijoe.completion").script(args[1])
end
commands.__complete = function(_, args) return require("cijoe.completion").complete(args) end

-- joe lint FILE...: check workflows without running them.
function commands.lint(_, args)
  if #args == 0 then return cli.die("lint: give a workflow file", 2) end
  local worst = 0
  for _, path in ipairs(args) do
    if not fs.stat(path) then return cli.die(path .. ": no such file", 2) end
    local problems = require("cijoe.workflow").lint(path)
    for _, problem in ipairs(problems) do print(problem) end
    if #problems == 0 then print(path .. ": ok") else worst = 1 end
  end
  return worst
end

-- Sorted keys of a table.
local function sorted(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- joe resources: the packages, their worklets (with descriptions), configs and examples.
function commands.resources()
  local workflow, all = require("cijoe.workflow"), packages.list()
  for _, name in ipairs(sorted(all)) do
    print(name .. (all[name].builtin and " (built-in)" or " (" .. all[name].dir .. ")"))
    for _, file in ipairs(sorted(all[name].files)) do
      local worklet = file:match("^worklets/(.-)%.lua$")
      if worklet then
        local _, doc = workflow.worklet(name .. "." .. worklet)
        print(string.format("  worklet %-28s %s", name .. "." .. worklet, doc or ""))
      end
      if file:match("%.config$") then print("  config  " .. name .. "/" .. file) end
      if file:match("%.workflow$") then print("  example " .. name .. "/" .. file) end
    end
  end
  return 0
end

function commands.test(opts, args)
  return require("cijoe.test").main(opts, args)
end

function commands.selftest(opts, args)
  return require("cijoe.test").selftest(opts, args)
end

-- joe extract | analyse [outdir]: metrics by the packages' extractors, checked against
-- requirements (and a baseline).
function commands.extract(_, args) return require("cijoe.extract").main(args[1]) end
function commands.analyse(opts, args) return require("cijoe.analyse").main(args[1], opts) end

-- joe compare BASE NEW [-t 5%] [--metrics a,b|all]: two runs' metrics side by side.
function commands.compare(opts, args)
  if #args ~= 2 then return cli.die("compare: give two output directories, BASE and NEW", 2) end
  return require("cijoe.compare").main(args[1], args[2], opts)
end

-- joe report [outdir]: rebuild the reports from what a run left on disk, even a crashed one;
-- joe report DIR1 DIR2 ... -o OUT [--label a,b]: one report of several runs.
function commands.report(opts, args)
  if #args > 1 or opts.output then
    return require("cijoe.merge").main(#args > 0 and args or { "cijoe-output/latest" },
      opts.output, opts.label, opts.quiet)
  end
  local dir = args[1] or "cijoe-output/latest"
  if (fs.stat(dir) or {}).type ~= "directory" then
    return cli.die(dir .. ": no such directory", 2)
  end
  local bad = require("cijoe.record").bad_state(dir)
  if bad then return cli.die(bad, 2) end
  local state, err = require("cijoe.record").write_state(dir) -- after a crash, from the journal
  if err then cli.die(err, 1) end
  local ok, status = require("cijoe.report").run(dir, opts.quiet, state)
  return (ok and not err and status == "passed") and 0 or 1
end

function commands.repl(opts, args)
  return require("cijoe.repl").main(opts, args)
end

-- joe convert CONFIG.toml [OUT.yaml]: a CIJOE config as joe's YAML (cijoe.convert).
function commands.convert(opts, args)
  return require("cijoe.convert").main(opts, args)
end

-- joe -s [pkg]: copy a package's default.config and example.workflow into cwd.
function commands.setup(_, args)
  local pkg, files, texts = args[1] or "core", { "default.config", "example.workflow" }, {}
  if not packages.list()[pkg] then
    return cli.die("no package '" .. pkg .. "'" .. hint(pkg, packages.list()) ..
      " (joe resources lists them)", 2)
  end
  for i, file in ipairs(files) do
    texts[i] = packages.read(pkg .. "/" .. file)
    if not texts[i] then return cli.die("package '" .. pkg .. "' has no " .. file, 2) end
    if fs.stat(file) then return cli.die(file .. " exists; not overwriting it", 2) end
  end
  for i, file in ipairs(files) do
    local f, err = io.open(file, "wb")
    if not f then return cli.die(err, 2) end
    f:write(texts[i])
    f:close()
    print("wrote " .. file)
  end
  return 0
end

--- The entry point: run the command line argv and return the exit status.
function cli.main(argv)
  local cmd, at = argv_.command(argv)
  if not cmd and at and argv[at] == "__complete" then -- the words typed, as they are
    packages.extend_path()
    return commands.__complete(nil, { table.unpack(argv, at + 1) })
  end
  local opts, args, topic = argv_.parse(argv, cmd, cmd and at)
  require("cijoe.console").setup(opts)
  if not opts then
    topic = topic or cmd and cmd.name
    return cli.die(args .. " (see joe " .. (topic and "help " .. topic or "--help") .. ")", 2)
  end
  if opts.version then
    print("joe " .. cli.VERSION .. " (" .. _VERSION .. ")")
    return 0
  end
  if opts.help then return commands.help(opts, { cmd and cmd.name }) end
  packages.extend_path()
  _G.cijoe = cijoe
  return commands[cmd and cmd.name or "script"](opts, args)
end

return cli
