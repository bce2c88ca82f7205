--- qemu: boot the QEMU guests of the config (`qemu.guests.NAME`): the test guest from a
-- kernel and initramfs, or a distro disk image through an overlay of its own with a
-- cloud-init seed; wait until their SSH transport answers, power them off, reset or kill
-- them; make disk images; build the test guest and a Debian image. Every action on the
-- host is a logged shell command on the transport `qemu.host_transport` (default "local"),
-- so a guest can run on a lab machine as well as here; QMP goes through socat there.
-- @module qemu
local cijoe = require("cijoe")
local build = require("qemu.build")
local cloud = require("qemu.cloud")
local control = require("qemu.control")
local host = require("qemu.host")
local launch = require("qemu.launch")
local ports = require("qemu.ports")
local wait = require("qemu.wait")

local qemu = {}

local Guest = {}
Guest.__index = Guest

local q, fail, check, last_line = cijoe.quote, host.fail, host.check, host.last_line

--- Create a disk image with qemu-img on the host.
-- @tparam string path the image's path on the qemu host
-- @tparam string fmt its format, such as "qcow2" or "raw"
-- @tparam string|number size its virtual size, in qemu-img's words ("8G") or in bytes
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string qemu-img's message (or why it could not run)
-- @usage assert(qemu.img_create("/tmp/a.qcow2", "qcow2", "8G"))
function qemu.img_create(path, fmt, size)
  check(path, "string", 1, "img_create")
  check(fmt, "string", 2, "img_create")
  if type(size) ~= "number" then check(size, "string", 3, "img_create") end
  local img = cijoe.getconf("qemu.img", "qemu-img")
  local err, st = host.run(string.format("%s create -q -f %s %s %s", q(img), q(fmt), q(path),
    q(size)))
  if err == nil then return nil, st end
  if err ~= 0 then return nil, "qemu-img create " .. path .. ": " .. last_line(st) end
  return true
end

--- Build the test guest (kernel, initramfs with busybox and dropbear, a disk with fio and
-- nvme-cli) from Debian packages on the qemu host, or find it in its cache
-- `${JOE_GUEST_CACHE:-~/.cache/joe-guest}`.
-- @treturn[1] table `{kernel =, initrd =, tools =, key =}`, the paths on the host
-- @treturn[2] nil
-- @treturn[2] string why (the builder's exit status and last output)
-- @usage local built = assert(qemu.build_test_guest())
function qemu.build_test_guest()
  return build.test_guest()
end

--- Build a Debian 12 disk image for cloud-init guests (systemd, openssh-server,
-- cloud-init, nvme-cli, fio, a cloud kernel) with mmdebstrap on the qemu host, or find
-- it in its cache `${JOE_IMAGE_CACHE:-~/.cache/joe-images}`.
-- @treturn[1] table `{image =, kernel =, initrd =, append =}`, the paths (and kernel
--   command line) on the host
-- @treturn[2] nil
-- @treturn[2] string why (the builder's exit status and last output)
function qemu.build_debian_image()
  return build.debian_image()
end

--- The guest called name, from `qemu.guests.NAME` of the config. Its folder (key `path`)
-- holds guest.pid, qmp.sock, console.log, ssh_port and its disks; by default it is
-- `RUN_DIR/NAME-KEY`, KEY naming the folder joe runs in and RUN_DIR being `qemu.run_dir`,
-- `~/.cache/joe-qemu` of the host's user.
-- @tparam string name a key of `qemu.guests`
-- @treturn[1] Guest the guest
-- @treturn[2] nil when the config has no such guest
-- @treturn[2] string why, with the nearest name of `qemu.guests`
-- @usage local guest = assert(qemu.guest("default"))
function qemu.guest(name)
  check(name, "string", 1, "guest")
  if type(cijoe.getconf("qemu.guests." .. name)) ~= "table" then
    local guests = cijoe.getconf("qemu.guests")
    return nil, "no guest '" .. name .. "' in the config (qemu.guests." .. name .. ")" ..
      require("cijoe.suggest").hint(name, type(guests) == "table" and guests or {})
  end
  local g = setmetatable({ name = name }, Guest)
  local default = cijoe.getconf("qemu.run_dir", "~/.cache/joe-qemu") .. "/" .. name .. "-" ..
    host.folder_key()
  g.path = g:expand(g:get("path", default))
  g.pidfile, g.qmp_socket = g.path .. "/guest.pid", g.path .. "/qmp.sock"
  g.console = g.path .. "/console.log"
  return g
end

--- A guest of the config, as `qemu.guest(name)` makes it. Its fields: `name`, and on the
-- qemu host `path` (its folder), `pidfile`, `qmp_socket` and `console` (the serial log).
-- Its methods act on its qemu through logged commands on `qemu.host_transport`; those
-- that can fail return nil and a message naming the guest.
-- @type Guest

--- A key of this guest's config (`qemu.guests.NAME.KEY`; the environment variable
-- `QEMU_GUESTS_NAME_KEY` wins), or default.
-- @tparam string key such as "memory" or "transport"
-- @param[opt] default when neither has it
-- @return the value (a string when it came from the environment)
-- @usage local mem = guest:get("memory", "1G")
function Guest:get(key, default)
  return cijoe.getconf("qemu.guests." .. self.name .. "." .. key, default)
end

--- A config path made absolute: one starting with `~/` is in the home folder on the host
-- (asked once, when the host is not this machine); others are returned as they are.
-- @param path a path of the config (anything else is returned as it is)
-- @return the path, with `~/` replaced by the host's home folder; unchanged when the
--   host could not be asked its `$HOME` (that command failed its step) or has none
function Guest:expand(path)
  if type(path) ~= "string" or path:sub(1, 2) ~= "~/" then return path end
  if not self.home and host.transport() == "local" then self.home = os.getenv("HOME") end
  if not self.home then
    local err, st = host.run('printf %s "$HOME"')
    if err ~= 0 or st:output() == "" then return path end -- the failed command fails the step
    self.home = st:output()
  end
  return self.home .. path:sub(2)
end

--- Whether the guest's qemu runs: its pidfile names a live process whose command line
-- holds that pidfile.
-- @treturn[1] boolean true while it runs, else false
-- @treturn[2] nil when the host cannot be asked
-- @treturn[2] string why
function Guest:is_running()
  local err, st = host.run(host.running_test(self))
  if err == nil then return nil, st end
  return err == 0
end

--- The pid of the guest's qemu on the host.
-- @treturn int|nil the pid, or nil when it does not run (or the host cannot be asked)
function Guest:pid()
  local err, st = host.run(host.running_test(self) .. ' && echo "$pid"')
  if err ~= 0 then return nil end
  return math.tointeger(tonumber(st:output():match("%d+")))
end

--- The SSH port forwarded to the guest: its config's `ssh_port`, or the one picked when it
-- started (read from its folder).
-- @treturn[1] int the port on the qemu host's 127.0.0.1
-- @treturn[2] nil
-- @treturn[2] string why: not running, no SSH port (`ssh_port: none`), a bad `ssh_port`
function Guest:ssh_port()
  local port, msg = ports.parse(self:get("ssh_port"))
  if not port then return fail(self, msg) end
  if port == "none" then return fail(self, "no SSH port (ssh_port: none)") end
  if port ~= "auto" then return port end
  local err, st = host.run(host.running_test(self) .. " && cat " .. q(self.path .. "/ssh_port"))
  if err == nil then return fail(self, tostring(st)) end
  local n = err == 0 and math.tointeger(tonumber(st:output():match("%d+")))
  if not n then
    return fail(self, "not running, so it has no SSH port (one is picked free at each " ..
      "start: qemu.guest_start)")
  end
  return n
end

--- The guest's serial console as logged since its last start; with n, its last n lines.
-- @tparam[opt] int n how many lines from the end (default: all)
-- @treturn[1] string the text
-- @treturn[2] nil
-- @treturn[2] string why (no console log yet)
-- @usage print(guest:console_log(20))
function Guest:console_log(n)
  local cmd = n and string.format("tail -n %d %s", n, q(self.console)) or "cat " .. q(self.console)
  local err, st = host.run(cmd)
  if err == nil then return nil, st end
  if err ~= 0 then return fail(self, "no console log: " .. last_line(st)) end
  return st:output()
end

--- Make an image guest ready to boot (what CIJOE's `qemu.guest_initialize` does): the base
-- image checked (fetched from `image_url` into the cache when missing, its `image_sha256`
-- checked), the guest's folder, a fresh copy-on-write overlay over it (boot.qcow2; nothing
-- is copied) and the cloud-init seed (seed.img; unless `cloud_init` is false). A guest
-- that runs is refused.
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string why, naming the guest and the file
function Guest:initialize()
  if not cloud.is_image_guest(self) then
    return fail(self, "no image to initialize (set qemu.guests." .. self.name ..
      ".image or image_url)")
  end
  local base = cloud.base_path(self)
  local fmt, ferr = cloud.check_base(self, base)
  if not fmt then return nil, ferr end
  local seed, why = cloud.wanted(self)
  if seed == nil then return nil, why end
  local ok, err = host.refuse_running(self)
  if ok then ok, err = host.make_folder(self) end
  if ok then ok, err = cloud.make_overlay(self, base, fmt, self.path .. "/boot.qcow2") end
  if ok and seed then ok, err = cloud.make_seed(self) end
  return ok, err
end

--- Start the guest's qemu on the host; an image guest is initialized first when it has
-- no overlay yet. Its SSH port is `ssh_port` of its config, or (without one, or `auto`) a
-- free one picked now, written to its folder, where its transport finds it.
-- @tparam[opt] table opts `daemonize` (default true: return once qemu runs in the
--   background; false: run it until the guest stops), `extra_args` (more qemu arguments,
--   a list of words or a string of shell words, after the config's `extra_args`)
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string why: already running, qemu not found, the SSH port taken, a bad
--   config or image, qemu's own error
-- @usage assert(guest:start())
function Guest:start(opts)
  opts = opts or {}
  check(opts, "table", 1, "start")
  local ok, err = host.refuse_running(self)
  if ok then ok, err = host.make_folder(self) end
  if not ok then return nil, err end
  return launch.start(self, opts)
end

--- Send one QMP command to the guest's qemu through its unix socket (with socat on the
-- host).
-- @tparam string command such as "system_powerdown"
-- @tparam[opt] string arguments a JSON object's text
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string QMP's error, or why it could not be asked
-- @usage assert(guest:qmp("human-monitor-command", '{"command-line": "info block"}'))
function Guest:qmp(command, arguments)
  check(command, "string", 1, "qmp")
  return control.qmp(self, command, arguments)
end

--- Press the guest's power button (ACPI, through QMP); see wait_down.
-- @treturn[1] boolean true once QMP took the press (the guest may still run: wait_down)
-- @treturn[2] nil
-- @treturn[2] string why
-- @usage assert(guest:poweroff()); assert(guest:wait_down(60))
function Guest:poweroff()
  return self:qmp("system_powerdown")
end

--- Reset the guest, as the reset button does (through QMP).
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string why
function Guest:reset()
  return self:qmp("system_reset")
end

--- Wait until the guest's qemu has exited; one command on the host polls ten times a
-- second.
-- @tparam[opt=60] number timeout seconds
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string why ("still running after N s")
function Guest:wait_down(timeout)
  timeout = timeout or 60
  check(timeout, "number", 1, "wait_down")
  return control.wait_down(self, timeout)
end

--- Stop the guest's qemu now: QMP quit, then SIGTERM, then SIGKILL, each given three
-- seconds. A guest that does not run is no failure.
-- @treturn[1] boolean true once no qemu of this guest runs
-- @treturn[2] nil
-- @treturn[2] string why (the host cannot be asked, qemu survived SIGKILL)
function Guest:kill()
  return control.kill(self)
end

--- Wait until the guest answers: `true` runs through its transport (the guest config's
-- `transport`, a name under `cijoe.transport`) with exit status 0, tried twice a second
-- (once its forwarded SSH port sends an SSH banner) for at most timeout seconds. The
-- tries are probes: a guest still booting fails no step. Ctrl-C stops the wait at once.
-- @tparam[opt=60] number timeout seconds
-- @treturn[1] boolean true
-- @treturn[2] nil
-- @treturn[2] string why: the last error and the tail of the serial console (or a
--   transport that is not under `cijoe.transport`)
-- @usage assert(guest:wait_up(120))
function Guest:wait_up(timeout)
  timeout = timeout or 60
  check(timeout, "number", 1, "wait_up")
  return wait.up(self, timeout)
end

-- A guest's transport gets the port the guest was given at start, as it is opened.
cijoe.on_transport_open(function(name, conf) return ports.on_open(qemu, name, conf) end)

return qemu
