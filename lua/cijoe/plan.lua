-- Seeing a workflow before running it: `joe list` (its steps, their worklets and
-- descriptions) and `--dry-run` (the config, the transports, and which steps would run
-- where). Nothing runs and no output directory is made: the top level of a Lua workflow
-- runs to declare its steps with every command refused, as joe lint does, and with the
-- config of the command line, so steps that depend on the config come out as they would.
local config = require("cijoe.config")
local yaml = require("cijoe.yaml")

local plan = {}
local REFUSAL = "runs nothing before the run"
local REFUSED = { run = true, run_local = true, put = true, get = true, each = true,
  step_path = true, probe = true, close_transport = true, close_transports = true }

-- cijoe as the declaring top level sees it: the config of the command line, commands
-- refused (with the position of the refused call).
local function stand_in(conf)
  local cijoe = require("cijoe")
  return setmetatable({
    config = conf,
    getconf = function(key, default) return config.get(conf, key, default) end,
    default_transport = function() return config.transport_names(conf)[1] or "local" end,
  }, { __index = function(_, key)
    if REFUSED[key] then return function() error(REFUSAL, 2) end end
    return cijoe[key]
  end })
end

--- Load the workflow at path and declare its steps under config conf. Returns the
--- workflow and, when its top level stopped at a command (it is then a step of its
--- own, and steps after that are not declared), where; or nil and a message.
function plan.declare(path, conf)
  local wf, err = require("cijoe.workflow").load(path)
  if not wf then return nil, err end
  if not wf.env then return wf end
  wf.env.cijoe = stand_in(conf)
  local ok, msg = pcall(wf.chunk)
  if ok then return wf end
  local where = tostring(msg):match("^(.-): " .. REFUSAL .. "$")
  if where then return wf, where end
  return nil, tostring(msg)
end

-- What a step runs: its worklet, its CIJOE run: block, or a function and where it is.
local function what(s)
  if s.uses then return s.uses end
  if s.run then return "run: " .. tostring(s.run):match("^%s*([^\n]*)") end
  return "function " .. (s.where or "")
end

-- A description's first sentence, cut to n columns (none when there is no room).
local function brief(text, n)
  if not text or n < 20 then return "" end
  local first = text:match("^(.-[%.:;])%s") or text
  return "  " .. (#first > n - 2 and first:sub(1, n - 5) .. "..." or first)
end

-- The lines of a workflow's steps, numbered as a run numbers them; with selected (a
-- set of names), the others are marked skipped.
local function step_lines(wf, first, selected, with_args)
  local rows, wide = {}, { 4, 4 }
  for _, s in ipairs(wf.steps) do
    wide = { math.max(wide[1], #s.name), math.max(wide[2], #what(s)) }
  end
  local form = "%3d %-" .. wide[1] .. "s  %-" .. wide[2] .. "s"
  for i, s in ipairs(wf.steps) do
    local mark = selected and not selected[s.name] and "  (skipped: not selected)" or ""
    local line = string.format(form, first + i - 1, s.name, what(s))
    line = line .. brief(s.description, 100 - #line - #mark) .. mark
    rows[#rows + 1] = line:gsub("%s+$", "")
    if with_args and s.with and next(s.with) then
      rows[#rows + 1] = string.rep(" ", 6) .. "with: " .. yaml.line(s.with)
    end
  end
  return rows
end

-- The config's part of a dry run: where it came from, the transports, the default one.
local function config_lines(sources, conf, opts)
  local files = {}
  for _, src in ipairs(sources) do files[#files + 1] = src.file end
  local names = config.transport_names(conf)
  local lines = { "config: " .. table.concat(files, ", "),
    "transports: " .. table.concat(names, ", ") .. (#names > 0 and ", " or "") .. "local" ..
      "; commands run on " .. (names[1] or "local") .. " unless a step says otherwise" }
  if opts.each then
    lines[#lines + 1] = "--each " .. opts.each .. ": the workflow once per target, each in " ..
      "OUTPUT/<target>/" .. (opts.jobs and ", at most " .. opts.jobs .. " at once" or "")
  end
  return lines
end

--- joe list WORKFLOW, and --list or --dry-run of a run (steps: the names asked for).
--- Prints the plan; returns the exit status (2 for a bad config, workflow or step name).
function plan.show(opts, path, steps)
  local cli = require("cijoe.cli")
  local sources = cli.config_sources(opts)
  local conf, cerr = config.load(sources)
  if not conf then return cli.die(cerr, 2) end
  local wf, where = plan.declare(path, conf)
  if not wf then return cli.die(where, 2) end
  local selected, serr = require("cijoe.runner").selection(wf, steps)
  if serr then return cli.die(serr, 2) end
  if #wf.steps == 0 and #steps > 0 then return cli.die(path .. " declares no steps", 2) end
  local lines = opts.dry_run and config_lines(sources, conf, opts) or {}
  lines[#lines + 1] = path .. ": " .. #wf.steps .. " step" .. (#wf.steps == 1 and "" or "s") ..
    (wf.description and " (" .. tostring(wf.description):gsub("%s+$", "") .. ")" or "")
  if #wf.steps == 0 and not where then
    lines[#lines + 1] = "  1 " .. wf.name .. "  (the whole script)"
  end
  if where then
    lines[#lines + 1] = "  1 " .. wf.name .. "  (its top level runs commands, from " .. where ..
      "; steps it declares after that are not shown)"
  end
  for _, line in ipairs(step_lines(wf, where and 2 or 1, selected, opts.dry_run)) do
    lines[#lines + 1] = line
  end
  if opts.dry_run then lines[#lines + 1] = "dry run: nothing was run" end
  print(table.concat(lines, "\n"))
  return 0
end

return plan
