-- The SSH transport: one session per named transport, opened on first use and opened
-- again, once, when it is found dead before a command starts. Commands run in the login
-- shell as `ssh host cmd` would, wrapped so that they can be signalled, and get cwd and env.
local ssh = require("cijoe.ssh")
local fs = require("cijoe.fs")

local remote = {}
remote.__index = remote

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function expand_home(path)
  return path and (path:gsub("^~", os.getenv("HOME") or "~"))
end

--- The transport called name, from its config entry; it connects on first use.
function remote.new(name, conf)
  return setmetatable({ name = name, conf = conf }, remote)
end

-- The open session, connecting when there is none; nil and a message on failure.
function remote:session()
  if self.sess then return self.sess end
  local c = self.conf
  local policy = c.host_key_check == false and "no" or c.host_key_check == "accept-new"
    and "accept-new" or "yes"
  local sess, err = ssh.connect({ key = expand_home(c.key_filename), passphrase = c.passphrase,
    password = c.password, known_hosts = expand_home(c.known_hosts or "~/.ssh/known_hosts"),
    host_key_check = policy, timeout = c.connect_timeout, keepalive = c.keepalive },
    tostring(c.hostname or self.name), c.port or 22, tostring(c.username or os.getenv("USER") or "root"))
  self.sess = sess
  return sess, err and "transport " .. self.name .. ": " .. err
end

-- Forget a broken session; the next command connects again.
function remote:close()
  if self.sess then self.sess:close() end
  self.sess = nil
end

-- Print the shell's pid first: its process group is what a timeout or Ctrl-C signals.
local function wrap(cmd)
  return "printf 'joe-pid:%d\\n' $$ && eval " .. quote(cmd)
end

--- Run cmd: status, why, log error; or nil and a message when it could not run.
function remote:run(cmd, opts)
  local full = wrap(cmd)
  for attempt = 1, 2 do
    local sess, cerr = self:session()
    if not sess then return nil, cerr end
    local status, why, extra = sess:exec(full, { log = opts.log, timeout = opts.timeout,
      monitor = opts.monitor, started = opts.started, start_timeout = self.conf.connect_timeout })
    if status then return status, why, extra end
    if why ~= "interrupted" then self:close() end
    if extra ~= "start" or attempt == 2 or why == "interrupted" then
      return nil, why == "interrupted" and why or "transport " .. self.name .. ": " .. why
    end
  end
end

-- The name a copy of src gets under dst: dst itself, or dst/<basename> when dst is a
-- directory (as cp and scp do).
local function target(src, dst, dst_stat)
  if dst_stat and dst_stat.type == "directory" then return dst .. "/" .. src:match("([^/]+)/*$") end
  return dst
end

-- Copy a local file or tree to the remote, modes kept.
local function put_tree(sess, src, dst)
  local st, err = fs.stat(src)
  if not st then return nil, err end
  if st.type ~= "directory" then return sess:put(src, dst, st.mode) end
  local ok, merr = sess:mkdir(dst, st.mode)
  if not ok and (sess:stat(dst) or {}).type ~= "directory" then return nil, merr end
  for _, name in ipairs(fs.dir(src) or {}) do
    ok, err = put_tree(sess, src .. "/" .. name, dst .. "/" .. name)
    if not ok then return nil, err end
  end
  return true
end

-- Copy a remote file or tree to this machine, modes kept.
local function get_tree(sess, src, dst)
  local st, err = sess:stat(src)
  if not st then return nil, err end
  if st.type ~= "directory" then return sess:get(src, dst, st.mode) end
  local ok, merr = fs.mkdir(dst, true)
  if not ok then return nil, merr end
  local names, derr = sess:dir(src)
  if not names then return nil, derr end
  for _, name in ipairs(names) do
    ok, err = get_tree(sess, src .. "/" .. name, dst .. "/" .. name)
    if not ok then return nil, err end
  end
  return true
end

--- Copy src (file or directory) from this machine to dst on the target.
function remote:put(src, dst)
  local sess, err = self:session()
  if not sess then return nil, err end
  return put_tree(sess, src, target(src, dst, sess:stat(dst)))
end

--- Copy src (file or directory) from the target to dst on this machine.
function remote:get(src, dst)
  local sess, err = self:session()
  if not sess then return nil, err end
  return get_tree(sess, src, target(src, dst, fs.stat(dst)))
end

return remote
