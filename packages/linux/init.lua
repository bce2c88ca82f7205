--- linux: what a Linux target is made of (linux.sysinfo) and its kernel modules
-- (`linux.has_module`, `linux.null_blk_insert`/`remove`), through the default transport
-- or `run_opts.transport` (run_opts are cijoe.run's opts).
-- @module linux
local cijoe = require("cijoe")
local yaml = require("cijoe.yaml")

local linux = {}

-- sh that prints file `path` with `reader`, or says it is not there and exits 127, the
-- status sh gives a missing command: either way, the item is missing, not failing.
local function file_cmd(path, reader, what)
  return string.format('if [ -r %s ]; then %s %s; else echo "%s"; exit 127; fi', path,
    reader or "cat", path, what or path .. ": no such file")
end

--- What linux.sysinfo collects, in order: {name, command}. A command that exits 127 found
-- its tool or file missing (sh's status for a missing command).
-- @table SYSINFO
-- @field i `{name, command}`, name one of uname, os-release, lsblk, lscpu, lspci,
--   modules, kernel-config
linux.SYSINFO = {
  { "uname", "uname -a" },
  { "os-release", file_cmd("/etc/os-release") },
  { "lsblk", "lsblk" },
  { "lscpu", "lscpu" },
  { "lspci", "lspci" },
  { "modules", "if command -v lsmod >/dev/null; then lsmod; else "
    .. file_cmd("/proc/modules", nil, "no lsmod and no /proc/modules") .. "; fi" },
  { "kernel-config", "if [ -r /proc/config.gz ]; then zcat /proc/config.gz; else "
    .. file_cmd('"/boot/config-$(uname -r)"', nil,
      "no /proc/config.gz and no /boot/config-$(uname -r)") .. "; fi" },
}

-- One item of sysinfo: run it, and say whether it was ok, missing or failed.
local function sysinfo_item(item, run_opts)
  local err, state = cijoe.run(item[2], run_opts)
  if err == nil then return nil, state end
  local status = err == 0 and "ok" or err == 127 and "missing" or "failed"
  return { name = item[1], cmd = item[2], status = status, err = err,
    log = state.output_fpath:match("[^/]*$") }
end

--- Run each command of linux.SYSINFO on the target, each logged on its own, and write
-- what became of them to artifacts/sysinfo.yml of the step. A missing tool or file is
-- noted (on stdout and as "missing"), not a failure.
-- @tparam[opt] table run_opts for cijoe.run (`transport`, `timeout`, ...)
-- @treturn[1] int how many items failed (0: all ran, or were missing)
-- @treturn[1] table the items, `{name =, cmd =, status = "ok" | "missing" | "failed",
--   err =, log =}` (log: the command's log file in the step's folder)
-- @treturn[2] nil when a command could not run (the items after it are not tried), or
--   sysinfo.yml could not be written
-- @treturn[2] string why
-- @usage local failed = assert(linux.sysinfo({ transport = "guest" }))
function linux.sysinfo(run_opts)
  local items, failed = {}, 0
  for i, item in ipairs(linux.SYSINFO) do
    local rec, msg = sysinfo_item(item, run_opts)
    if not rec then return nil, msg end
    items[i] = rec
    if rec.status == "failed" then failed = failed + 1 end
    if rec.status == "missing" then
      io.stdout:write("linux.sysinfo: ", rec.name, " is missing on the target (noted, see ",
        rec.log, ")\n")
    end
  end
  local dir, msg = cijoe.step_path("artifacts")
  if not dir then return nil, msg end
  local ok, werr = yaml.write(dir .. "/sysinfo.yml", { items = items })
  if not ok then return nil, werr end
  return failed, items
end

--- Whether kernel module `name` exists on the target (modinfo knows it).
-- @tparam string name such as "null_blk"
-- @tparam[opt] table run_opts for cijoe.run
-- @treturn[1] boolean true when it exists
-- @treturn[2] boolean false when not
-- @treturn[2] string the reason: modinfo's last line, or its exit status
-- @treturn[3] nil when modinfo could not be run
-- @treturn[3] string why
-- @usage if not linux.has_module("null_blk") then return "skip", "no null_blk" end
function linux.has_module(name, run_opts)
  local err, state = cijoe.run("modinfo " .. cijoe.quote(name), run_opts)
  if err == nil then return nil, state end
  if err == 0 then return true end
  local said = state:output():match("([^\n]*)\n?$")
  return false, "modinfo " .. name .. ": " .. (said ~= "" and said or "exit status " .. err)
end

-- The module parameters: linux.null_blk of the config, then those of params, as
-- `key='value'` words sorted by key, so the logged command is the same from run to run.
local function null_blk_params(params)
  local merged = {}
  for k, v in pairs(cijoe.getconf("linux.null_blk", {})) do merged[k] = v end
  for k, v in pairs(params or {}) do merged[k] = v end
  local words = {}
  for k, v in pairs(merged) do
    if type(k) ~= "string" or not k:match("^[%w_]+$") then
      error("null_blk: bad module parameter name " .. string.format("%q", tostring(k)), 4)
    end
    if type(v) == "boolean" then v = v and 1 or 0 end
    words[#words + 1] = k .. "=" .. cijoe.quote(math.tointeger(v) or v)
  end
  table.sort(words)
  return table.concat(words, " ")
end

--- Load null_blk with the parameters of `linux.null_blk` in the config, overridden by
-- params (`nr_devices`, `gb`, `bs`, `queue_mode`, ...). The words are sorted, so the
-- logged command is the same from run to run; booleans are 1 and 0.
-- @tparam[opt] table params module parameters by name
-- @tparam[opt] table run_opts for cijoe.run
-- @return cijoe.run's err, state (or nil, why)
-- @raise for a parameter name that is not a word
-- @usage assert(linux.null_blk_insert({ nr_devices = 1, gb = 1 }) == 0)
function linux.null_blk_insert(params, run_opts)
  local words = null_blk_params(params)
  return cijoe.run("modprobe null_blk" .. (words ~= "" and " " .. words or ""), run_opts)
end

--- Unload null_blk (`modprobe -r`).
-- @tparam[opt] table run_opts for cijoe.run
-- @return cijoe.run's err, state (or nil, why)
function linux.null_blk_remove(run_opts)
  return cijoe.run("modprobe -r null_blk", run_opts)
end

return linux
