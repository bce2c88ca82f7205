--- fio: run fio on the target from a table of options or from a job file, keep its JSON
-- output as an artifact of the step, and hand it back as a Lua table.
-- @module fio
local cijoe = require("cijoe")
local fs = require("cijoe.fs")
local yaml = require("cijoe.yaml")

local fio = {}

-- The options fio.run knows by name, in the order they go on the command line; any other
-- option of the table follows them, sorted by name, then the raw arguments of `extra`.
local ORDER = { "name", "filename", "rw", "bs", "iodepth", "size", "runtime", "time_based",
  "numjobs", "ioengine", "direct", "verify" }
local KNOWN = { extra = true }
for _, key in ipairs(ORDER) do KNOWN[key] = true end

-- One `--key='value'` argument. Booleans are 1 and 0, which every fio flag takes (a bare
-- `--direct` would swallow the next argument as its value).
local function option(key, value)
  if type(key) ~= "string" or not key:match("^[%w_]+$") then
    error("fio: bad option name " .. string.format("%q", tostring(key)), 4)
  end
  local kind = type(value)
  if kind == "boolean" then value = value and 1 or 0 end
  if kind == "number" then value = math.tointeger(value) or value end
  if kind ~= "boolean" and kind ~= "number" and kind ~= "string" then
    error("fio: option '" .. key .. "' must be a string, number or boolean, not " .. kind, 4)
  end
  return "--" .. key .. "=" .. cijoe.quote(value)
end

--- The fio command line for the options table `opts` (see fio.run), writing JSON to the
-- file out_path when given. Every value is quoted for sh; nothing runs.
-- @tparam table opts fio's options by name, and `extra` (a list of raw arguments)
-- @tparam[opt] string out_path where fio writes its JSON (default: its stdout)
-- @treturn string the command line, with `--output-format=json` (and `--output=out_path`)
-- @raise for an option name that is not a word, a value that is no string, number or
--   boolean, or an `extra` that is no list
-- @usage fio.command({ rw = "randread", bs = "4k", filename = "/dev/nvme0n1" })
function fio.command(opts, out_path)
  local args = { cijoe.quote(cijoe.getconf("fio.bin", "fio")) }
  for _, key in ipairs(ORDER) do
    if opts[key] ~= nil then args[#args + 1] = option(key, opts[key]) end
  end
  local others = {}
  for key in pairs(opts) do
    if not KNOWN[key] then others[#others + 1] = key end
  end
  table.sort(others, function(a, b) return tostring(a) < tostring(b) end)
  for _, key in ipairs(others) do args[#args + 1] = option(key, opts[key]) end
  if opts.extra ~= nil and type(opts.extra) ~= "table" then
    error("fio: extra must be a list of arguments, not " .. type(opts.extra), 2)
  end
  for _, arg in ipairs(opts.extra or {}) do args[#args + 1] = cijoe.quote(arg) end
  args[#args + 1] = "--output-format=json"
  if out_path then args[#args + 1] = "--output=" .. cijoe.quote(out_path) end
  return table.concat(args, " ")
end

-- Where the last JSON document of fio's output starts (a "{" at a line's start): with
-- --status-interval fio writes one per interval and the totals last.
local function last_document(text)
  local first = text:sub(1, 1) == "{" and 1 or nil
  for at in text:gmatch("\n(){") do first = at end
  return first
end

--- Parse fio's JSON output as a Lua table (name is the file, for error messages).
-- fio writes its error messages into the --output file as well, before and after the JSON
-- object, so only the lines from the last "{" that starts a line (the totals, when
-- --status-interval wrote a document per interval) to the "}" line that closes it are
-- parsed; what comes before is kept as blank lines, so an error's line number is the
-- file's.
-- @tparam string text what fio wrote
-- @tparam[opt] string name the file it came from (default `"<fio output>"`)
-- @treturn[1] table fio's JSON document
-- @treturn[2] nil
-- @treturn[2] string "name:line:column: problem", or "name: no JSON object in fio's output"
function fio.decode(text, name)
  name = name or "<fio output>"
  local first = last_document(text)
  if not first then return nil, name .. ": no JSON object in fio's output" end
  -- the object ends at the first "}" line after it (fio indents what is inside), so a
  -- message after it that ends in "}" is not taken for JSON; cut short: the parser says where
  local close = text:find("\n}\n", first, true) or text:find("\n}$", first)
  local last = close and close + 1 or #text
  local head = text:sub(1, first - 1):gsub("[^\n]", "")
  local doc, err = yaml.load(head .. text:sub(first, last), name)
  if type(doc) ~= "table" then -- err is the marks table when nothing was parsed
    return nil, type(err) == "string" and err or name .. ": not a JSON object"
  end
  return doc
end

-- A fresh path on the target in fio.remote_dir (default /tmp), named after the job and
-- random enough that runs of the same job never share it.
local function remote_path(name, ext)
  return string.format("%s/joe-fio-%s-%08x%s", cijoe.getconf("fio.remote_dir", "/tmp"),
    require("cijoe.run").safe_name(name), math.random(0, 0x7fffffff), ext)
end

-- The name of the artifact for job `name`: fio-<name>.json, or fio-<name>-N.json when the
-- step already fetched one, so no result is overwritten. Returns the name and its folder.
local function artifact(name)
  local dir, msg = cijoe.step_path("artifacts")
  if not dir then return nil, msg end
  local base = "fio-" .. require("cijoe.run").safe_name(name)
  local file, n = base .. ".json", 1
  while fs.stat(dir .. "/" .. file) do
    n = n + 1
    file = base .. "-" .. n .. ".json"
  end
  return file, dir
end

-- fio's log options: each names the prefix of the log files fio writes (in its cwd).
local LOG_OPTIONS = { "write_bw_log", "write_iops_log", "write_lat_log" }

-- Move the logs a job asks for next to its JSON on the target: each log option's prefix
-- becomes <base>-<n>, so its files can be found, fetched and removed. True when any.
local function move_logs(job, base)
  local any = false
  for i, key in ipairs(LOG_OPTIONS) do
    local v = job[key]
    if v ~= nil and v ~= false and v ~= 0 and v ~= "0" then
      job[key], any = base .. "-" .. i, true
    end
  end
  return any
end

-- Fetch fio's logs (<base>-<n>_<kind>.<job>.log) into the artifacts as <file>_<kind>.<job>.log,
-- file being the JSON artifact's name without .json. Returns true, or nil and a message.
local function fetch_logs(base, file, transport)
  local err, state = cijoe.run("ls -d -- " .. cijoe.quote(base)
    .. "-[0-9]_*.log 2>/dev/null || true", { transport = transport })
  if err ~= 0 then return nil, err == nil and state or "could not list fio's logs" end
  for remote in state:output():gmatch("[^\n]+") do
    local suffix = remote:sub(#base + 1):match("^%-%d(_%a+%.?%d*%.log)$")
    if suffix then
      local name = file:gsub("%.json$", "") .. suffix
      local ok, msg = cijoe.get(remote, name, { transport = transport })
      if not ok then return nil, msg end
    end
  end
  return true
end

-- Fetch the JSON output (and the logs, when base is given) into the step's artifacts and
-- parse it.
local function fetch(remote, name, transport, base)
  local file, dir = artifact(name)
  if not file then return nil, dir end
  local ok, msg = cijoe.get(remote, file, { transport = transport })
  if ok and base then ok, msg = fetch_logs(base, file, transport) end
  if not ok then return nil, msg end
  local f, err = io.open(dir .. "/" .. file, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return fio.decode(text, dir .. "/" .. file)
end

-- Run a fio command that writes JSON to `remote`, fetch and parse that (and its logs,
-- when logs_base is given), and remove the files the run left on the target (`remote`,
-- the others listed, the logs).
local function execute(cmd, remote, name, run_opts, others, logs_base)
  local err, state = cijoe.run(cmd, run_opts)
  if err == nil then return nil, state end
  local result, msg
  if err == 0 then result, msg = fetch(remote, name, run_opts.transport, logs_base) end
  local files = { cijoe.quote(remote) }
  for _, path in ipairs(others or {}) do files[#files + 1] = cijoe.quote(path) end
  if logs_base then files[#files + 1] = cijoe.quote(logs_base) .. "-[0-9]_*.log" end
  cijoe.run("rm -f " .. table.concat(files, " "), { transport = run_opts.transport })
  if err ~= 0 then return err, nil, state end
  if not result then return nil, msg end
  return 0, result, state
end

-- Raise the error luaL_checktype would for a bad argument of fio.run or fio.run_jobfile.
local function check(fname, n, value, expected, optional)
  if type(value) == expected or (optional and value == nil) then return end
  error(string.format("bad argument #%d to '%s' (%s expected, got %s)", n, fname, expected,
    type(value)), 3)
end

--- Run fio on the target with the options of `opts`: name (default "job"), filename, rw,
-- bs, iodepth, size, runtime, `time_based`, numjobs, ioengine, direct, verify, any other
-- fio option by its name, and extra (a list of raw arguments). `run_opts` go to cijoe.run
-- (transport, timeout, cwd, env, monitor). fio writes JSON to a file on the target, which
-- is fetched into the step's artifacts as `fio-<name>.json` and removed there; so are the
-- logs of `write_bw_log`, `write_iops_log` and `write_lat_log` (whatever prefix they
-- name), as `fio-<name>_<kind>.<job>.log` (`fio-<name>_iops.1.log`).
-- @tparam table opts fio's options (as fio.command takes them)
-- @tparam[opt] table run_opts for cijoe.run: `transport`, `timeout`, `cwd`, `env`, `monitor`
-- @treturn[1] int 0
-- @treturn[1] table the parsed JSON (`jobs[i].read.iops`, ...)
-- @treturn[1] State the command's state
-- @treturn[2] int fio's nonzero exit status (its message is in the command's log)
-- @treturn[2] nil
-- @treturn[2] State the command's state
-- @treturn[3] nil when fio could not run, or its JSON could not be fetched or parsed
-- @treturn[3] string why
-- @raise for bad options, as fio.command
-- @usage local err, res = fio.run({ filename = "/dev/nvme0n1", rw = "randread", bs = "4k",
--   runtime = 10, time_based = true, direct = true }, { timeout = 60 })
-- if err ~= 0 then return err, res end
-- print(res.jobs[1].read.iops)
function fio.run(opts, run_opts)
  check("run", 1, opts, "table")
  check("run", 2, run_opts, "table", true)
  local job = {}
  for k, v in pairs(opts) do job[k] = v end
  job.name = job.name or "job"
  local base = remote_path(job.name, "")
  local logs = move_logs(job, base)
  return execute(fio.command(job, base .. ".json"), base .. ".json", job.name, run_opts or {},
    nil, logs and base or nil)
end

--- Run the local fio job file at `path` on the target: it is put there, run with JSON
-- output, and the JSON is fetched into the step's artifacts as `fio-<name>.json`, name
-- being the file's name without its extension. The job file and the JSON are removed
-- from the target.
-- @tparam string path a fio job file on this machine
-- @tparam[opt] table run_opts as for fio.run
-- @return as fio.run (nil and why also when the job file could not be put there)
-- @usage local err, res = fio.run_jobfile("jobs/seqread.fio", { transport = "guest" })
function fio.run_jobfile(path, run_opts)
  check("run_jobfile", 1, path, "string")
  check("run_jobfile", 2, run_opts, "table", true)
  run_opts = run_opts or {}
  local name = path:match("([^/]*)$"):gsub("%.[^.]*$", "")
  local job, remote = remote_path(name, ".fio"), remote_path(name, ".json")
  local ok, msg = cijoe.put(path, job, { transport = run_opts.transport })
  if not ok then return nil, msg end
  local cmd = table.concat({ cijoe.quote(cijoe.getconf("fio.bin", "fio")),
    "--output-format=json", "--output=" .. cijoe.quote(remote), cijoe.quote(job) }, " ")
  return execute(cmd, remote, name, run_opts, { job })
end

return fio
