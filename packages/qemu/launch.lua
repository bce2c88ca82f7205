-- Starting a guest's qemu: the command line of its config (an image guest's overlay and
-- seed, made at its first start), qemu and the NVMe images checked on the host, and qemu
-- run there on the guest's SSH port, picked again when another process took it first.
local cijoe = require("cijoe")
local args = require("qemu.args")
local cloud = require("qemu.cloud")
local host = require("qemu.host")
local ports = require("qemu.ports")

local launch = {}
local q, fail, last_line = cijoe.quote, host.fail, host.last_line

-- The NVMe images (made when missing) exist, and so does qemu.
local function prepare(g, system, images)
  local err, st = host.run("command -v " .. q(system))
  if err == nil then return nil, st end
  if err ~= 0 then
    return fail(g, "qemu binary '" .. system .. "' not found on transport '" ..
      host.transport() .. "'")
  end
  local img = cijoe.getconf("qemu.img", "qemu-img")
  for _, i in ipairs(images) do
    err, st = host.run(string.format("[ -e %s ] || %s create -q -f %s %s %s", q(i.file), q(img),
      q(i.format), q(i.file), q(i.size)))
    if err ~= 0 then return fail(g, "cannot create " .. i.file .. ": " .. host.problem(err, st)) end
  end
  return true
end

-- An image guest boots its overlay (and seed), made by initialize on its first start.
local function image_disks(g, c)
  local overlay = g.path .. "/boot.qcow2"
  local err, st = host.run("[ -e " .. q(overlay) .. " ]")
  if err == nil then return fail(g, tostring(st)) end
  if err ~= 0 then
    local ok, msg = g:initialize()
    if not ok then return nil, msg end
  end
  c.boot_img, c.boot_img_format = overlay, "qcow2"
  local seed, msg = cloud.wanted(g)
  if seed == nil then return nil, msg end
  if seed then c.seed = g.path .. "/seed.img" end
  return true
end

-- The command line as one shell command; extra arguments are lists of words, or strings
-- of shell words taken as they are.
local function command_line(words, extras)
  local out = {}
  for i, w in ipairs(words) do out[i] = q(w) end
  for _, extra in ipairs(extras) do
    if type(extra) == "table" then
      for _, w in ipairs(extra) do out[#out + 1] = q(w) end
    elseif extra ~= false then
      out[#out + 1] = tostring(extra)
    end
  end
  return table.concat(out, " ")
end

-- Run qemu with the command line of c, its port first written to the guest folder.
-- Returns true, or nil, a message and whether the port was taken.
local function run_qemu(g, c, files, opts)
  local words = assert(args.build(c, files))
  local record = c.ssh_port and string.format("printf '%%d\\n' %d >%s && ", c.ssh_port,
    q(g.path .. "/ssh_port")) or ""
  local status, st = host.run(record .. command_line(words, { g:get("extra_args") or false,
    opts.extra_args or false }), opts.daemonize == false and 1e9 or 120)
  if status == nil then return nil, st end
  if status == 0 then return true end
  local line = last_line(st)
  if line:find("host forwarding") then
    local _, msg = fail(g, "port " .. c.ssh_port .. " on 127.0.0.1 is taken (" .. line .. ")")
    return nil, msg, true
  end
  return fail(g, "qemu did not start: " .. line)
end

-- The config keys of the guest's command line (an image guest's overlay and seed set, the
-- guest initialized when it has none), and how its port is had (ports.parse).
local function start_config(g)
  local c = {}
  for _, key in ipairs(args.KEYS) do c[key] = g:get(key) end
  local port, perr = ports.parse(c.ssh_port)
  if not port then return fail(g, perr) end
  c.ssh_port = nil
  if cloud.is_image_guest(g) then
    local ok, err = image_disks(g, c)
    if not ok then return nil, err end
  end
  return c, port
end

-- Launch qemu on the port: a fixed one, none, or ("auto") a free one, picked again when
-- another process took it first.
local function launch_on_port(g, c, files, opts, port)
  for _ = 1, 5 do
    if port == "auto" then
      local err
      c.ssh_port, err = ports.pick()
      if not c.ssh_port then return fail(g, err) end
    elseif port ~= "none" then
      c.ssh_port = port
    end
    local started, msg, taken = run_qemu(g, c, files, opts)
    if started or not taken or port ~= "auto" then return started, msg end
  end
  return fail(g, "no free port in 5 tries")
end

--- Start guest g's qemu (see Guest:start; its folder exists and it does not run). Returns
--- true, or nil and a message.
function launch.start(g, opts)
  local c, port = start_config(g)
  if not c then return nil, port end
  local files = { dir = g.path, name = g.name, pidfile = g.pidfile, qmp = g.qmp_socket,
    console = g.console, daemonize = opts.daemonize ~= false,
    expand = function(p) return g:expand(p) end }
  local words, images = args.build(c, files)
  if not words then return fail(g, images) end
  local ok, err = prepare(g, words[1], images)
  if ok then ok, err = launch_on_port(g, c, files, opts, port) end
  local transport = g:get("transport")
  if ok and type(transport) == "string" then cijoe.close_transport(transport) end
  return ok, err
end

return launch
