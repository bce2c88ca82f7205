-- What joe's command line accepts, written once: every option (its spellings, its value,
-- one line of help) and every command (usage, the options it takes, what it does, an
-- example). The parser (cijoe.cli), `--help`, `joe help CMD`, the completion (cijoe.
-- completion) and the man page (cijoe.manpage) are all made from these tables, so they
-- never disagree. A new command is one entry of help.COMMANDS and its function in cli.
local help = {}

--- The options by key: spellings, arg (the value's name; nil for a flag), many (may be
--- repeated, kept as a list), values (the words it takes), text (one line).
help.OPTIONS = {
  config = { "-c", "--config", arg = "PATH", many = true,
    text = "a YAML config; repeat to merge several in order (default: ./default.config, " ..
      "else this machine)" },
  output = { "-o", "--output", arg = "DIR",
    text = "write the run into DIR (default: cijoe-output/<time>-<name>)" },
  monitor = { "-m", "--monitor", text = "stream command output to the terminal" },
  verbose = { "-v", "--verbose", text = "print each command as it starts" },
  quiet = { "-q", "--quiet", text = "no per-step lines, totals or live progress" },
  each = { "--each", arg = "T1,T2|all",
    text = "run the workflow once per transport, concurrently, each in OUT/<target>/" },
  jobs = { "-j", "--jobs", arg = "N", text = "with --each: at most N targets at once" },
  list = { "--list", text = "print the workflow's steps and exit, as joe list does" },
  dry_run = { "--dry-run",
    text = "resolve the config, steps and worklets, print what would run; run nothing" },
  rerun_failed = { "--rerun-failed",
    text = "run again the steps that failed or did not run in OUTDIR (default: the latest)" },
  repl_on_failure = { "--repl-on-failure",
    text = "open the REPL where a step fails (:continue goes on, :abort stops the run)" },
  pattern = { "-k", arg = "PATTERN", text = "only the tests whose names match PATTERN (Lua)" },
  requirements = { "-r", "--requirements", arg = "FILE",
    text = "the ranges to check (default: ./requirements.yml)" },
  threshold = { "-t", "--threshold", arg = "N%",
    text = "with compare and --baseline: a change worse than N% is a regression (default 5%)" },
  baseline = { "--baseline", arg = "DIR",
    text = "compare the run's metrics with those of the run in DIR too" },
  label = { "--label", arg = "A,B,...",
    text = "with report DIR1 DIR2 -o OUT: the runs' names, one per DIR, in order" },
  metrics = { "--metrics", arg = "A,B|all",
    text = "the metrics compared (default: each extractor's key metrics)" },
  man = { "--man", text = "print the man page, joe(1), as roff" },
  color = { "--color", arg = "WHEN", values = { "auto", "always", "never" },
    text = "colour: auto (a terminal, without NO_COLOR; CLICOLOR_FORCE forces), always, never" },
  help = { "-h", "--help", text = "this help" },
  version = { "--version", text = "print joe's version" },
}

--- What joe is, for the man page's DESCRIPTION.
help.ABOUT = "joe runs the shell commands of systems development and testing, on this " ..
  "machine or on targets over SSH, from Lua workflows and worklets: files moved, QEMU " ..
  "guests booted, fio run, every command logged in an output directory with a report. " ..
  "It is CIJOE rebuilt as one program that embeds Lua 5.4; CIJOE's task files and " ..
  "configs run too."

--- The options every command takes, after its own.
help.GLOBAL = { "color", "help", "version" }

local RUN = { "config", "output", "monitor", "verbose", "quiet", "each", "jobs", "list",
  "dry_run", "rerun_failed", "repl_on_failure" }
local TESTS = { "pattern", "config", "output", "monitor", "verbose", "quiet" }

--- The commands, in the order `joe --help` lists them: name, aliases (other spellings of
--- the command, CIJOE's among them), usage lines, options (keys of help.OPTIONS), summary
--- (one line), text (what it does), examples ({command, what it does}), operands (what
--- completion offers for its arguments: files, dirs, packages, commands, shells, steps).
help.COMMANDS = {
  { name = "run", usage = { "joe [options] SCRIPT [STEP ...]",
      "joe run [options] [FILE_OR_DIR ...]", "joe run --rerun-failed [OUTDIR]" },
    options = RUN, operands = "files",
    summary = "run a workflow (Lua, or a CIJOE task *.yaml); alone, the *.workflow files here",
    text = "Runs a workflow and writes every command's log, workflow.state and a report into " ..
      "one output directory. Naming steps after the script runs only those; the others are " ..
      "marked skipped. `joe run` runs each workflow given (or each *.workflow file of a " ..
      "folder) as a run of its own. On a terminal the running step shows live: a spinner, " ..
      "its time, the command and its target.",
    examples = { { "joe wf.lua", "run every step of wf.lua" },
      { "joe wf.lua build test", "run the steps build and test only" },
      { "joe --each all wf.lua -j 4", "run wf.lua on every transport, 4 at a time" },
      { "joe run --rerun-failed", "run again what failed in cijoe-output/latest" } } },
  { name = "list", usage = { "joe list [options] WORKFLOW" }, options = { "config" },
    operands = "files", summary = "print a workflow's steps with their worklets and descriptions",
    text = "Declares the workflow's steps without running anything (commands are refused) " ..
      "and prints each with its number, worklet and description.",
    examples = { { "joe list packages/core/example.workflow", "its three steps" } } },
  { name = "repl", usage = { "joe repl [options]" }, options = { "config", "output", "verbose" },
    summary = "a Lua shell with cijoe and the config",
    text = "An expression prints its value, a statement runs; run, put, get and getconf " ..
      "are globals. The commands it runs are logged like a workflow's. :help lists its " ..
      "commands; Ctrl-C stops a command, Ctrl-D leaves.",
    examples = { { "joe repl -c target.config", "a shell on the config's first transport" } } },
  { name = "test", usage = { "joe test [options] [FILE_OR_DIR ...]" }, options = TESTS,
    operands = "files", summary = "run LuaUnit tests (test_*.lua), each test a step",
    text = "Runs the test_*.lua files given (default: those here) with LuaUnit; each test " ..
      "is a step of one run, so its commands are logged. The last line is `N passed, N " ..
      "failed, N skipped`.",
    examples = { { "joe test spec", "every test of spec/" },
      { "joe test -k ssh spec", "the tests whose names match ssh" } } },
  { name = "selftest", usage = { "joe selftest [options] [PKG ...]" }, options = TESTS,
    operands = "packages", summary = "the packages' own tests",
    text = "Runs the selftest/test_*.lua files of the packages named (default: all).",
    examples = { { "joe selftest fio", "the fio package's tests" } } },
  { name = "setup", aliases = { "-s", "--setup", "--example" }, usage = { "joe -s [PKG]" },
    options = {}, operands = "packages",
    summary = "write PKG's default.config and example.workflow here (default: core)",
    text = "Copies a package's default.config and example.workflow into this folder, never " ..
      "over existing files. CIJOE's --example does the same.",
    examples = { { "joe -s qemu && joe run", "the qemu package's example, run" } } },
  { name = "report", aliases = { "--produce-report" },
    usage = { "joe report [options] [OUTDIR]", "joe report DIR1 DIR2 ... -o OUT [--label A,B]" },
    options = { "output", "label", "quiet" }, operands = "dirs",
    summary = "rebuild report.html and junit.xml of a run, or one report of several runs",
    text = "Builds the reports from the files of an output directory only (default: the " ..
      "latest), so it works on a run that crashed; with several DIRs and -o OUT, one " ..
      "report and one junit.xml of them all, side by side, in OUT (which links to the " ..
      "runs). Exits 1 when a run did not pass, its checks included. CIJOE's " ..
      "--produce-report does the same for one run.",
    examples = { { "joe report cijoe-output/latest", "the newest run's report again" },
      { "joe report runs/* -o merged", "the runs of a CI matrix in one report" } } },
  { name = "extract", usage = { "joe extract [OUTDIR]" }, options = {}, operands = "dirs",
    summary = "the metrics of a run's steps into metrics.yml per step",
    text = "Runs the packages' extractors (fio's reads its JSON results, logs and " ..
      "--status-interval output) over the steps' artifacts and writes NNN_<step>/" ..
      "metrics.yml (iops, bw in B/s, latencies in nsec per job and direction) and, for " ..
      "values over time, series.yml.",
    examples = { { "joe extract", "the metrics of cijoe-output/latest" } } },
  { name = "analyse", usage = { "joe analyse [options] [OUTDIR]" },
    options = { "requirements", "baseline", "threshold", "metrics" },
    operands = "dirs", summary = "check a run's metrics against ranges, or a baseline run",
    text = "Checks the metrics of joe extract against the ranges of a requirements file " ..
      "(joe's YAML or CIJOE's .perfreq): `workflow:` (every job) or `steps: <step>:`, " ..
      "then `jobs: <job>:`, then read, write or trim, then a metric and a range such as " ..
      "\"[200; 999] k\" or \"(0; 2] msec\" ([ ] inclusive, ( ) exclusive, inf allowed). " ..
      "The most specific range wins. With --baseline DIR, compares with that run too. " ..
      "A failed check fails the step and the run in the reports; exits 1 then.",
    examples = { { "joe analyse -r ranges.yml", "check cijoe-output/latest" },
      { "joe analyse --baseline runs/main", "regressions against main's run" } } },
  { name = "compare", usage = { "joe compare [options] BASE NEW" },
    options = { "threshold", "metrics" }, operands = "dirs",
    summary = "two runs' metrics side by side, regressions marked",
    text = "Prints BASE's and NEW's metrics and the change per step, job and metric; a " ..
      "change worse than the threshold in the metric's better direction (IOPS up, " ..
      "latency down) is a regression, written to NEW/compare.yml, so NEW's report says " ..
      "failed. Exits 1 on a regression.",
    examples = { { "joe compare runs/main runs/mine", "did my change slow anything down?" },
      { "joe compare -t 2% --metrics all a b", "every metric, 2% threshold" } } },
  { name = "lint", aliases = { "--integrity-check" }, usage = { "joe lint FILE ..." },
    options = {}, operands = "files", summary = "check workflows without running them",
    text = "Checks syntax, step names, worklets and the `with` keys of worklets that list " ..
      "theirs. CIJOE's --integrity-check does the same.",
    examples = { { "joe lint *.workflow", "check every workflow here" } } },
  { name = "convert", usage = { "joe convert CONFIG.toml [OUT.yaml]" }, options = {},
    operands = "files", summary = "a CIJOE TOML config as joe's YAML",
    text = "Reads a CIJOE config as `joe -c CONFIG.toml` does (its templates rendered, " ..
      "CIJOE's keys moved to joe's, a warning for each key joe ignores) and writes the " ..
      "same config as YAML to stdout, or to OUT.yaml, which must not exist yet.",
    examples = { { "joe convert cijoe-config.toml lab.yaml", "the lab's config as YAML" } } },
  { name = "resources", aliases = { "--resources" }, usage = { "joe resources" }, options = {},
    summary = "list packages, worklets, configs and examples",
    text = "Lists each package (built in, or where it was found) with its worklets and " ..
      "their descriptions, configs and example workflows.",
    examples = { { "joe resources", "everything joe can use here" } } },
  { name = "help", usage = { "joe help [COMMAND]", "joe help --man" }, options = { "man" },
    operands = "commands", summary = "this help, a command's, or the man page",
    text = "Prints the usage, options and examples of a command; `joe COMMAND --help` " ..
      "does the same.",
    examples = { { "joe help analyse", "the ranges analyse checks" },
      { "joe help --man | man -l -", "the man page" } } },
  { name = "completion", usage = { "joe completion bash|zsh|fish" }, options = {},
    operands = "shells", summary = "print a shell's completion script",
    text = "Prints the completion script of a shell; it asks joe for the words (commands, " ..
      "options, step names of the workflow on the line, package names).",
    examples = { { "source <(joe completion bash)", "completion in this bash" } } },
}

--- Where to find things: name or alias -> command entry.
help.by_name = {}
for _, cmd in ipairs(help.COMMANDS) do
  help.by_name[cmd.name] = cmd
  for _, alias in ipairs(cmd.aliases or {}) do help.by_name[alias] = cmd end
end

--- CIJOE's options that joe has no spelling for, and what to type instead.
help.CIJOE_HINTS = {
  ["--workflow"] = "joe takes the workflow as an argument: joe run FILE, or joe FILE",
  ["--log-level"] = "joe -v prints each command as it starts, -m streams its output",
}

--- The options a command takes (its own, then the global ones), as keys.
function help.options_of(cmd)
  local keys = { table.unpack(cmd.options) }
  for _, key in ipairs(help.GLOBAL) do keys[#keys + 1] = key end
  return keys
end

--- "-c, --config PATH" for an option key.
function help.spelling(key)
  local o = help.OPTIONS[key]
  local names = {}
  for _, s in ipairs(o) do names[#names + 1] = s end
  return table.concat(names, ", ") .. (o.arg and " " .. o.arg or "")
end

-- Text folded into lines of at most width columns.
local function wrap(text, width)
  local lines, line = {}, ""
  for word in text:gmatch("%S+") do
    if #line + #word + 1 > width and line ~= "" then lines[#lines + 1], line = line, "" end
    line = line .. (line == "" and "" or " ") .. word
  end
  lines[#lines + 1] = line
  return lines
end

-- Text folded at 88 columns, every line indented.
local function fold(text, indent)
  return indent .. table.concat(wrap(text, 88 - #indent), "\n" .. indent)
end
help.fold = fold

-- Two columns: the left padded to the widest, the right folded within 88 columns.
local function columns(rows, indent)
  local width = 0
  for _, row in ipairs(rows) do width = math.max(width, #row[1]) end
  local lines, pad = {}, indent .. string.rep(" ", width + 2)
  for i, row in ipairs(rows) do
    local right = wrap(row[2], math.max(30, 88 - #pad))
    lines[i] = indent .. row[1] .. string.rep(" ", width - #row[1] + 2) ..
      table.concat(right, "\n" .. pad)
  end
  return table.concat(lines, "\n")
end

--- The help of one command: usage, what it does, options, examples.
function help.command(cmd)
  local rows = {}
  for _, key in ipairs(help.options_of(cmd)) do
    rows[#rows + 1] = { help.spelling(key), help.OPTIONS[key].text }
  end
  local examples = {}
  for _, e in ipairs(cmd.examples) do examples[#examples + 1] = { e[1], e[2] } end
  local usage = "usage: " .. table.concat(cmd.usage, "\n       ")
  return table.concat({ usage, "", fold(cmd.text, ""), "", "options:", columns(rows, "  "), "",
    "examples:", columns(examples, "  ") }, "\n")
end

--- joe --help: the usage, each command in one line, the common options.
function help.global()
  local cmds, opts = {}, {}
  for _, cmd in ipairs(help.COMMANDS) do
    local name = cmd.name == "setup" and "-s [PKG]" or cmd.name
    cmds[#cmds + 1] = { name, cmd.summary }
  end
  for _, key in ipairs({ "config", "output", "monitor", "verbose", "quiet", "color", "help",
    "version" }) do
    opts[#opts + 1] = { help.spelling(key), help.OPTIONS[key].text }
  end
  return table.concat({
    "usage: joe [options] script.lua [step ...]  run a Lua workflow (or a CIJOE task, *.yaml)",
    "       joe COMMAND [options] [ARGS]", "", "commands:", columns(cmds, "  "), "",
    "common options:", columns(opts, "  "), "",
    "`joe help COMMAND` (or `joe COMMAND --help`) tells a command's options, with examples."
  }, "\n")
end

return help
