-- The command line: options, subcommands, and the exit statuses of the design: 0 for
-- success, 1 for a failing run or a script error, 2 for bad input, 128+N on signal N.
local cijoe = require("cijoe")
local config = require("cijoe.config")
local fs = require("cijoe.fs")
local packages = require("cijoe.packages")
local run = require("cijoe.run")

local cli = { VERSION = "0.1.0" }

local USAGE = [[
usage: joe [options] script.lua [step ...]  run a Lua workflow (or a CIJOE task, *.yaml)
       joe run [file_or_dir ...]            the same; default: the *.workflow files here
       joe repl                             a Lua shell with cijoe and the config
       joe test [-k pat] [file_or_dir ...]  LuaUnit tests (test_*.lua)
       joe selftest [pkg ...]               the built-in packages' own tests
       joe -s [pkg]                         write pkg's default.config and example.workflow
       joe report [outdir]                  rebuild report.html and junit.xml of a run
       joe extract | analyse [outdir]       fio metrics of a run; check them (-r FILE)
       joe lint FILE ...                    check workflows without running them
       joe resources                        packages, worklets, configs, examples
options:
  -c, --config PATH   a YAML config; repeat to merge several in order
  -o, --output DIR    write the run into DIR (default: cijoe-output/<time>-<name>)
  -m, --monitor       stream command output to the terminal
  -v, --verbose       print each command as it starts
  -q, --quiet         no per-step lines
  --each T1,T2|all    run the workflow once per transport, concurrently (-j N at most)
  --version, -h/--help]]

local FLAGS = { ["-m"] = "monitor", ["--monitor"] = "monitor", ["-v"] = "verbose",
  ["--verbose"] = "verbose", ["-q"] = "quiet", ["--quiet"] = "quiet", ["--version"] = "version",
  ["-h"] = "help", ["--help"] = "help" }
local VALUED = { ["-c"] = "config", ["--config"] = "config", ["-o"] = "output",
  ["--output"] = "output", ["--each"] = "each", ["-j"] = "jobs", ["-k"] = "pattern",
  ["-r"] = "requirements", ["-t"] = "threshold", ["--threshold"] = "threshold",
  ["--baseline"] = "baseline", ["--label"] = "label", ["--metrics"] = "metrics" }

--- Print "joe: msg" on stderr and return the exit status for it.
function cli.die(msg, status)
  io.stderr:write("joe: ", tostring(msg), "\n")
  return status
end

-- -s takes an optional package name.
local function setup_arg(argv, i)
  local next_arg = argv[i + 1]
  if next_arg and not next_arg:find("^%-") then return next_arg, i + 1 end
  return "core", i
end

-- Options may come anywhere; returns opts, positional args or nil, message.
local function parse(argv)
  local opts, args, i = { config = {} }, {}, 1
  while argv[i] do
    local a = argv[i]
    local name, value = a:match("^(%-%-[%w-]+)=(.*)$")
    name = name or a
    if a == "--" then
      table.move(argv, i + 1, #argv, #args + 1, args)
      break
    elseif FLAGS[name] and not value then
      opts[FLAGS[name]] = true
    elseif VALUED[name] then
      if not value then i, value = i + 1, argv[i + 1] end
      if value == nil then return nil, a .. " needs a value" end
      if VALUED[name] == "config" then table.insert(opts.config, value) else opts[VALUED[name]] = value end
    elseif a == "-s" or a == "--setup" then
      opts.setup, i = setup_arg(argv, i)
    elseif a:find("^%-.") then
      return nil, "unknown option " .. a
    else
      args[#args + 1] = a
    end
    i = i + 1
  end
  return opts, args
end

-- The config sources: every -c, else ./default.config, else the built-in core default.
local function config_sources(opts)
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
  local conf, err = config.load(config_sources(opts))
  if not conf then return nil, cli.die(err, 2) end
  local r, msg = run.open({ dir = dir or opts.output, name = name, kind = kind, script = script,
    config = conf, quiet = opts.quiet, monitor = opts.monitor, verbose = opts.verbose })
  if not r then return nil, cli.die("cannot create the output directory: " .. msg, 2) end
  return r
end

-- Run one workflow file as a run of its own.
local function run_file(opts, path, steps, dir)
  if not fs.stat(path) then return cli.die(path .. ": no such file", 2) end
  local wf, err = require("cijoe.workflow").load(path)
  if not wf then return cli.die(err, 1) end
  local r, status = cli.start(opts, wf.name, dir, "workflow", path)
  if not r then return status end
  if opts.each then return require("cijoe.each").workflow(opts, wf, steps, r) end
  local code, msg = require("cijoe.runner").workflow(r, wf, steps)
  if not code then return cli.die(msg, 2) end
  return code
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

local commands = {}

-- joe run [file_or_dir ...]: each workflow is a run of its own; the worst status wins.
function commands.run(opts, args)
  local files = {}
  for _, arg in ipairs(#args > 0 and args or { "." }) do
    for _, f in ipairs(workflow_files(arg)) do files[#files + 1] = f:gsub("^%./", "") end
  end
  if #files == 0 then return cli.die("no *.workflow files to run", 2) end
  local worst = 0
  for _, f in ipairs(files) do
    local dir = opts.output and #files > 1 and opts.output .. "/" .. run.safe_name(f) or nil
    worst = math.max(worst, run_file(opts, f, {}, dir))
  end
  return worst
end

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
  if (fs.stat(dir) or {}).type ~= "directory" then return cli.die(dir .. ": no such directory", 2) end
  local _, err = require("cijoe.record").write_state(dir) -- after a crash, from the journal
  if err then cli.die(err, 1) end
  local ok, status = require("cijoe.report").run(dir, opts.quiet)
  return (ok and not err and status == "passed") and 0 or 1
end

function commands.repl(opts, args)
  return require("cijoe.repl").main(opts, args)
end

-- joe -s [pkg]: copy a package's default.config and example.workflow into cwd.
local function setup(pkg)
  local files = { "default.config", "example.workflow" }
  local texts = {}
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
  local opts, args = parse(argv)
  if not opts then return cli.die(args .. " (see joe --help)", 2) end
  if opts.version then
    print("joe " .. cli.VERSION .. " (" .. _VERSION .. ")")
    return 0
  end
  if opts.help then
    print(USAGE)
    return 0
  end
  packages.extend_path()
  _G.cijoe = cijoe
  if opts.setup then return setup(opts.setup) end
  if #args == 0 then return cli.die("no script given (see joe --help)", 2) end
  local command = commands[args[1]]
  if command then return command(opts, { table.unpack(args, 2) }) end
  return run_file(opts, args[1], { table.unpack(args, 2) })
end

return cli
