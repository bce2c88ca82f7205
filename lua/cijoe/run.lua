-- The run: one per invocation of joe (a workflow, joe test, the REPL, each target of
-- --each). It owns the output directory, the merged config, the transports it opened,
-- and the journal: an event per line, appended as things happen (journal.yml, a YAML list
-- whose lines each parse alone, so a crash leaves it valid up to its last whole line).
-- workflow.state and the reports are derived from the journal (cijoe.record).
local fs = require("cijoe.fs")
local proc = require("cijoe.proc")
local yaml = require("cijoe.yaml")
local config = require("cijoe.config")

local run = {}
local Run = {}
Run.__index = Run
local current -- the run of this process
local real_exit = os.exit

-- os.exit from a script ends the run's records first (its step failed, the rest did not
-- run), so that they tell what happened; a run cut short never exits 0.
function os.exit(code, close)
  local r = current
  if r and not r.finished then code = r:cut_short(code) end
  return real_exit(code, close)
end

--- A name that is safe as one path component.
function run.safe_name(name)
  return (tostring(name):gsub("[^%w._-]", "_"))
end

--- The run of this process, or nil before the CLI made one.
function run.current()
  return current
end

-- Claim cijoe-output/<timestamp>-<name>[-N]: mkdir of a fresh folder fails when another
-- run has it, so two runs never share one.
local function claim_default(name)
  local ok, msg = fs.mkdir("cijoe-output", true)
  if not ok then return nil, msg end
  local base = os.date("%Y%m%d-%H%M%S-") .. run.safe_name(name)
  for i = 1, 10000 do
    local leaf = i == 1 and base or base .. "-" .. i
    local made, err, code = fs.mkdir("cijoe-output/" .. leaf)
    if made then
      fs.symlink(leaf, "cijoe-output/latest", true)
      return "cijoe-output/" .. leaf
    elseif code ~= 17 then
      return nil, err
    end
  end
  return nil, "cijoe-output: no free directory name for " .. base
end

-- The journal of a new run in dir: created exclusively, which is the claim on a folder
-- given with -o (a second run into it is refused, also while the first still runs).
local function claim_journal(dir)
  if fs.stat(dir .. "/workflow.state") then
    return nil, dir .. ": holds an earlier run; refusing to overwrite it"
  end
  local journal, err, code = fs.create(dir .. "/journal.yml")
  if code == 17 then
    return nil, dir .. ": holds an earlier run, or another joe is writing there; " ..
      "refusing to overwrite it (give another -o)"
  end
  if journal then journal:setvbuf("full", 1 << 16) end
  return journal, err
end

--- Start a run: claim its output directory (opts.dir, made with parents, or a fresh
--- cijoe-output/<time>-<name>), write config.orig and open the journal. opts: name,
--- kind (workflow|test|selftest|repl|each), config, script, quiet, monitor, verbose.
--- Returns the run, which becomes the current one, or nil and a message.
function run.open(opts)
  local dir, err = opts.dir, nil
  if dir then
    local ok, merr = fs.mkdir(dir, true)
    if not ok then return nil, merr end
  else
    dir, err = claim_default(opts.name)
    if not dir then return nil, err end
  end
  local journal, jerr = claim_journal(dir)
  if not journal then return nil, jerr end
  local r = setmetatable({ dir = dir, name = opts.name, kind = opts.kind or "workflow",
    config = opts.config or {}, quiet = opts.quiet, monitor = opts.monitor,
    verbose = opts.verbose, journal = journal, transports = {}, begin = proc.now(),
    failed_commands = 0, probing = 0 }, Run)
  local ok, werr = r:write_file("config.orig", yaml.dump(config.masked(r.config)))
  if not ok then return nil, werr end
  r:event({ ev = "run", name = r.name, kind = r.kind, script = opts.script, begin = r.begin })
  current = r
  return r
end

--- Write a whole file into the output directory (rel is its path there).
function Run:write_file(rel, text)
  local path = self.dir .. "/" .. rel
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if ok and closed then return true end
  return nil, path .. ": " .. tostring(werr or cerr)
end

--- Stop the run at once because it can no longer be recorded (its output directory is
--- full or gone read-only): say why, exit 1. What was written before stays.
function Run:stop(why)
  io.stdout:flush()
  io.stderr:write("joe: ", why, "; the run stops\n")
  io.stderr:flush()
  real_exit(1, true)
end

--- A script called os.exit(code) before the run was done: its step fails saying so, the
--- run ends failed; returns the exit status to use (1 for a code that says success).
function Run:cut_short(code)
  local what = "os.exit(" .. tostring(code) .. ") ended the run here"
  if self.step then
    local res = { status = "failed", error = what, failure = { kind = "message", message = what } }
    local step = self.step
    self:begun(step)
    self:end_step(res)
    local console = require("cijoe.console")
    console.step(self.quiet, { number = step.number, name = step.name, status = "failed",
      elapsed = res.elapsed })
    console.failure(what)
  end
  self:finish("failed", self.kind ~= "repl")
  if code == nil or code == true or code == 0 then
    io.stderr:write("joe: ", what, " before it was done; exit status 1\n")
    return 1
  end
  return code
end

--- Append an event to the journal; a journal that cannot be written stops the run.
function Run:event(e)
  local f = self.journal
  local ok, err = f:write("- ", yaml.line(e), "\n")
  if ok then ok, err = f:flush() end
  if not ok then self:stop(self.dir .. "/journal.yml: " .. tostring(err)) end
end

--- Declare the steps that will run, in order, so that a crash shows those not begun.
function Run:declare(steps)
  for _, s in ipairs(steps) do
    self:event({ ev = "step", n = s.number, name = s.name, description = s.description,
      uses = s.uses, status = "pending" })
  end
end

--- Begin step number n called name; with lazy, its begin is journaled only once it
--- logs something (the top level of a script that declares steps). Returns the step.
function Run:begin_step(name, n, lazy)
  local step = { number = n, name = name, begin = proc.now(), cmd = 0,
    dir = string.format("%s/%03d_%s", self.dir, n, run.safe_name(name)) }
  self.step = step
  if not lazy then self:begun(step) end
  return step
end

--- Journal a step's begin (once).
function Run:begun(step)
  if step.journaled then return end
  step.journaled = true
  self:event({ ev = "begin", n = step.number, name = step.name, begin = step.begin })
end

--- End the current step with its result {status, reason, error, failure}; returns it.
function Run:end_step(result)
  local step = self.step
  result.ev, result.n, result.elapsed = "end", step.number, proc.now() - step.begin
  if step.journaled or result.status ~= "passed" then
    self:begun(step)
    self:event(result)
  end
  self.step = nil
  return result
end

--- The current step's folder, made on first use; with sub, a folder inside it.
function Run:step_path(sub)
  local step = assert(self.step, "no step is running")
  if not step.made then
    local ok, msg = fs.mkdir(step.dir, true)
    if not ok then return nil, msg end
    step.made = true
    self:begun(step)
  end
  if not sub then return step.dir end
  local path = step.dir .. "/" .. sub
  local ok, msg = fs.mkdir(path, true)
  if not ok then return nil, msg end
  return path
end

--- The base path (no extension) of the next command's files in the current step.
function Run:next_command()
  local dir, msg = self:step_path()
  if not dir then return nil, msg end
  self.step.cmd = self.step.cmd + 1
  return string.format("%s/cmd_%02d", dir, self.step.cmd)
end

--- Journal a finished command (its state table) and remember, for the step, the last
--- command that failed and the last that could not run (probes do not count).
function Run:command_done(st)
  local step = self.step
  self:event({ ev = "cmd", n = step and step.number, log = st.output_fpath:sub(#self.dir + 2),
    cmd = st.cmd, transport = st.transport, err = st.err, elapsed = st.elapsed,
    timed_out = st.timed_out, interrupted = st.interrupted, error = st.error, lost = st.lost,
    log_error = st.log_error, probe = st.probe, target = step and step.target })
  if st.log_error then self:stop(st.log_error) end -- the record of the run is incomplete
  if st.probe then return end
  if st.err == nil or st.err ~= 0 or st.log_error then
    self.failed_commands = self.failed_commands + 1
  end
  if not step then return end
  if st.err == nil or st.lost then step.unrun = st -- lost: how it ended is unknown
  elseif st.err ~= 0 or st.log_error then step.last_failed = st end
end

--- Journal a finished put or get ({op, src, dst, transport, stats, error, elapsed,
--- probe}); one that failed (its transport down, or the copy itself) fails the step as a
--- command that could not run does, unless it was a probe: the files it should have
--- moved are not there, whatever the step's function makes of its nil.
function Run:copy_done(c)
  local step, stats = self.step, c.stats or {}
  self:event({ ev = "copy", n = step and step.number, op = c.op, src = c.src, dst = c.dst,
    transport = c.transport, ok = c.stats ~= nil, error = c.error, files = stats.files,
    bytes = stats.bytes, links = stats.links, elapsed = c.elapsed, probe = c.probe,
    target = step and step.target })
  if step and not c.stats and not c.probe then
    step.unrun = { cmd = c.op .. " " .. c.src .. " " .. c.dst, transport = c.transport,
      error = c.error, copy = true }
  end
end

--- The secret values of the config (see cijoe.secrets), with those of env pairs whose
--- names say they are secret: what is masked in the command lines the run logs.
function Run:secret_values(env)
  if self.secrets_of ~= self.config then
    local _, values = require("cijoe.secrets").masked(self.config)
    self.secrets_of, self.secrets = self.config, values
  end
  local values = self.secrets
  for _, pair in ipairs(env or {}) do
    if pair[3] and #pair[2] >= 3 then
      if values == self.secrets then values = { table.unpack(self.secrets) } end
      values[#values + 1] = pair[2]
    end
  end
  return values
end

--- The transport called name (its config entry under cijoe.transport), opened on first
--- use; nil and a message when the config has none.
function Run:transport(name)
  local t = self.transports[name]
  if t then return t end
  local transport = require("cijoe.transport")
  local err
  t, err = transport.open(name, self.config)
  self.transports[name] = t
  return t, err
end

--- The name of the default transport: the one set for this run (the REPL's :transport,
--- a target of --each), else the config's first, else "local".
function Run:default_transport()
  return self.default or config.transport_names(self.config)[1] or "local"
end

--- Make name the default transport of the run.
function Run:set_default(name)
  self.default = name
end

--- Close the transport called name if it is open; its next use opens it again from the
--- config.
function Run:close_transport(name)
  local t = self.transports[name]
  self.transports[name] = nil
  if t then t:close() end
end

--- Close every open transport (the end of a run).
function Run:close_transports()
  for name, t in pairs(self.transports) do
    t:close()
    self.transports[name] = nil
  end
end

--- For a forked child (cijoe.each): forget the parent's open transports without closing
--- them, and log into dir, as the current step, from now on.
function Run:fork_into(dir, target)
  self.transports, self.default = {}, target
  self.step = { number = self.step.number, name = self.step.name, begin = proc.now(),
    cmd = 0, dir = dir, journaled = true, target = target }
end

--- End the run: its last event, workflow.state derived from the journal, the reports.
--- Returns the record (workflow.state's table).
function Run:finish(status, write_state)
  self.finished = true
  self:close_transports()
  self:event({ ev = "finish", status = status, elapsed = proc.now() - self.begin })
  self.journal:close()
  if write_state == false then return end
  local state, err = require("cijoe.record").write_state(self.dir)
  if not state then io.stderr:write("joe: ", tostring(err), "\n") end
  require("cijoe.report").run(self.dir, self.quiet, state)
  return state
end

return run
