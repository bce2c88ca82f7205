-- joe repl: a Lua shell with cijoe loaded and the config applied. An expression prints
-- its values, a statement runs, an incomplete one continues on a ">>" line; the commands
-- it runs are logged in the session's output directory like those of a workflow. With
-- --repl-on-failure the same shell opens inside a run, where a step failed.
local cijoe = require("cijoe")
local config = require("cijoe.config")
local lineedit = require("cijoe.lineedit")
local proc = require("cijoe.proc")

local repl = {}
local MAX_DEPTH, MAX_ITEMS = 4, 40
local pending, failed, history -- an incomplete statement; a failure; nil without a terminal
local leave -- set by :continue or :abort in the REPL of a failed step

local HELP = [[
:help NAME (its signature and doc: :help cijoe.run, :help fio, :help guest:wait_up)
:config (the merged config, secrets masked)   :transport NAME (the default one)
run(cmd [, opts]) and run_local stream the output and give the err; put(src, dst),
get(src, dst), getconf(key [, default]), cijoe.run(cmd [, opts]) -> err, state (README)
Ctrl-C stops the running command or clears the line; Ctrl-D leaves.
Where a step failed (--repl-on-failure): `failed` is its failed command's state;
:continue goes on with the next step (as Ctrl-D does), :abort stops the run.]]

-- Say what went wrong on stderr; returns a false value, for the caller to pass on.
local function fail(msg) return io.stderr:write(tostring(msg), "\n") and false end

-- A value as Lua-like text: tables nested up to MAX_DEPTH with up to MAX_ITEMS entries
-- each (the sequence 1..#v first, then the other keys by name), on one line when that is
-- short, else one entry per line.
local function show(v, depth)
  if type(v) == "string" then return (string.format("%q", v):gsub("\\\n", "\\n")) end
  if type(v) ~= "table" or (getmetatable(v) or {}).__tostring then return tostring(v) end
  if depth >= MAX_DEPTH then return "{...}" end
  local keys, parts, n = {}, {}, #v
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for i = 1, n + #keys do
    if i > MAX_ITEMS then parts[i] = "... (" .. n + #keys .. " entries)" break end
    local k = i <= n and i or keys[i - n]
    local name = type(k) == "string" and k:match("^[%a_][%w_]*$")
    local label = i <= n and "" or name and k .. " = " or "[" .. show(k, MAX_DEPTH) .. "] = "
    parts[i] = label .. show(v[k], depth + 1)
  end
  local line, pad = "{" .. table.concat(parts, ", ") .. "}", string.rep("  ", depth + 1)
  if #line <= 72 and not line:find("\n") then return line end
  return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. "\n" .. pad:sub(3) .. "}"
end

local commands = {}
-- The REPL's shortcuts that are no function of the API: their help is that of the one
-- they call.
local SHORTCUTS = { run = "cijoe.run", run_local = "cijoe.run_local" }

-- :help alone says what the REPL has; :help NAME prints NAME's doc comment.
function commands.help(name)
  if not name then return print(HELP) end
  local doc = require("cijoe.doc")
  if SHORTCUTS[name] then
    print(name .. " is " .. SHORTCUTS[name] .. " giving the err only (or nil, message):")
  end
  local e, why = doc.find(SHORTCUTS[name] or name)
  if not e then error(why, 0) end
  print(doc.render(e))
end
function commands.config() io.write(require("cijoe.yaml").dump(config.masked(cijoe.config))) end
function commands.transport(name)
  local names = " local " .. table.concat(config.transport_names(cijoe.config), " ") .. " "
  if not names:find(" " .. tostring(name) .. " ", 1, true) then
    local list = {}
    for word in names:gmatch("%S+") do list[#list + 1] = word end
    error("no transport '" .. tostring(name) .. "'" .. require("cijoe.suggest").hint(
      tostring(name), list) .. "; the transports are:" .. names, 0)
  end
  require("cijoe.run").current():set_default(name)
end

-- The commands of the REPL of a failed step.
local at_failure = {}
function at_failure.continue() leave = "continue" end
function at_failure.abort() leave = "abort" end

-- ":name [arg]": one of the commands above; false when it failed.
local function command(line)
  local name, arg = line:match("^:(%a*)%s*(%S*)")
  local fn = commands[name] or leave == false and at_failure[name]
  if not fn then return fail("unknown command " .. line .. " (see :help)") end
  if at_failure[name] then return fn() or true end
  local ok, err = pcall(commands[name], arg ~= "" and arg or nil)
  return ok or fail(err)
end

-- Take one line: a command, or Lua compiled as lua.c does (`return <line>` first, then as
-- a statement) and kept for the next line when the error is at <eof>; run, and what it
-- returned printed (strings as print does). False when it failed: it raised, or a
-- command it ran failed or could not run.
local function feed(line)
  if not pending and line:match("^:") then return command(line) end
  local src = pending and pending .. "\n" .. line or line
  local chunk, err = load("return " .. src, "=repl", "t")
  if not chunk then chunk, err = load(src, "=repl", "t") end
  pending = not chunk and err:find("<eof>$") and src or nil
  if not chunk then return pending ~= nil or fail(err) end
  local session = require("cijoe.run").current()
  local failures = session.failed_commands
  local r = table.pack(pcall(chunk))
  if not r[1] then return fail(r[2]) end
  for i = 2, r.n do r[i] = type(r[i]) == "string" and r[i] or show(r[i], 0) end
  if r.n > 1 then print(table.concat(r, "\t", 2, r.n)) end
  return session.failed_commands == failures
end

--- Tab completion: the globals or fields that complete a word such as "cijoe.ru".
function repl.complete(word)
  local path, prefix = word:match("^(.-[.:]?)([%w_]*)$")
  local t, words = _G, {}
  for part in path:gmatch("[^.:]+") do t = type(t) == "table" and t[part] or nil end
  for k in pairs(type(t) == "table" and t or {}) do
    if type(k) == "string" and k:sub(1, #prefix) == prefix then words[#words + 1] = path .. k end
  end
  return words
end

-- Read a line and act on it; false at the end of input. A Ctrl-C at the prompt ends the
-- line: the read gives nil, "interrupted".
local function step()
  local prompt, line, err = pending and ">> " or "joe[" .. cijoe.default_transport() .. "]> "
  if history then
    line, err = lineedit.read(prompt, repl.complete, history)
  else
    line = io.read("l")
  end
  if err or (history and not line) then io.write("\n") end
  if line then failed = not feed(line) or failed end
  return line ~= nil or err ~= nil
end

-- Read, evaluate, print until the end of input. A Ctrl-C on a terminal ends the statement;
-- other signals, and any without a terminal, end the session with 128+N.
local function loop()
  repeat
    local ok, more = pcall(step)
    local sig = proc.signal()
    if sig and (sig ~= 2 or not history) then return 128 + sig end
    if sig then pending = nil proc.clear_signal() end
    if not ok then fail(more) end
  until (ok and not more) or leave
  if pending then failed = not fail(select(2, load(pending, "=repl"))) end
  return failed and not history and 1 or 0
end

-- run and run_local give only the err (the output streamed as it came), or nil, message.
local function err_only(err, msg)
  if err == nil then return nil, msg end
  return err
end

-- The shortcuts, and the packages that are there, as globals.
local function install_globals()
  for _, name in ipairs({ "put", "get", "getconf" }) do _G[name] = cijoe[name] end
  function _G.run(...) return err_only(cijoe.run(...)) end
  function _G.run_local(...) return err_only(cijoe.run_local(...)) end
  for _, name in ipairs({ "qemu", "fio", "linux" }) do
    local ok, pkg = pcall(require, name)
    if ok then _G[name] = pkg end
  end
end

-- The file of the REPL's history.
local function history_file()
  return os.getenv("JOE_HISTORY") or (os.getenv("HOME") or ".") .. "/.joe_history"
end

-- Where the REPL of a failed step starts: what failed, what is there, how to go on.
local function banner(r, res, log)
  io.stderr:write(require("cijoe.console").paint_err("step " .. r.step.number .. " '" ..
    r.step.name .. "' failed:", "error"), "\n")
  require("cijoe.console").failure(res.error, log)
  print("joe repl in the failed step (its commands go into " ..
    r.step.dir:match("[^/]+$") .. "/); `failed` is the command that failed; " ..
    ":continue goes on, :abort stops the run")
end

--- --repl-on-failure: the REPL in run r where a step failed (res: its result; log:
--- its step.log), with the run's config and open transports; the commands typed are
--- logged in that step. Returns "continue" (:continue, or the end of input) or
--- "abort" (:abort, or a signal that ends the session).
function repl.on_failure(r, res, log)
  banner(r, res, log)
  local step, monitor = r.step, cijoe.monitor
  _G.failed = step.last_failed or step.unrun or { error = res.error }
  install_globals()
  cijoe.monitor, leave, pending, failed = true, false, nil, false
  io.stdout:setvbuf("line")
  history = lineedit.isatty() and history_file() or nil
  local status = loop()
  cijoe.monitor = monitor
  local choice = leave or (status >= 128 and "abort" or "continue")
  leave = nil
  return choice
end

--- joe repl: returns 0, or 1 when a statement read from a pipe failed, or 128+N.
function repl.main(opts, args)
  local cli = require("cijoe.cli")
  if #args > 0 then return cli.die("repl takes no arguments", 2) end
  local session, status = cli.start(opts, "repl", nil, "repl")
  if not session then return status end
  local dir = session.dir
  session:begin_step("repl", 1)
  cijoe.monitor = true
  install_globals()
  io.stdout:setvbuf("line")
  if lineedit.isatty() then
    history = history_file()
    print("joe repl, Lua " .. _VERSION:sub(5) .. " with cijoe: logs in " .. dir ..
      ", :help for help")
  end
  status = loop()
  session:end_step({ status = status == 0 and "passed" or "failed" })
  session:finish(status == 0 and "passed" or "failed", false)
  return status
end

return repl
