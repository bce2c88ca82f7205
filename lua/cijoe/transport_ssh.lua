-- An SSH target as a transport: one session per transport, opened on first use and
-- opened again, once, when it is found dead before a command starts. Commands run in
-- the login shell as `ssh host cmd` would, wrapped so that they can be stopped and so
-- that joe knows when the shell is done; files go through SFTP and the tree copy.
local copy = require("cijoe.copy")
local fs = require("cijoe.fs")
local login = require("cijoe.ssh_login")
local tar_put = require("cijoe.tar_put")
local transport = require("cijoe.transport")
local transport_local = require("cijoe.transport_local")

local T = {}
T.__index = T

--- The transport called name, from its config entry (transports: all of the config's,
--- for jumps named after transports); it connects on first use.
function T.new(name, conf, transports)
  return setmetatable({ name = name, conf = conf, transports = transports }, T)
end

--- The open session, connecting when there is none (what is left of a broken one is
--- closed first); nil and a message on failure.
function T:session()
  if self.sess and self.sess:is_open() then return self.sess end
  self:close()
  local sess, label, chain = login.connect(self.name, self.conf, self.transports)
  self.sess, self.label, self.chain = sess, label, chain
  if not sess then return nil, "transport " .. self.name .. ": " .. label end
  -- SFTP starts before any command: dropbear (2022.83) does not answer a subsystem
  -- request that comes while a command's channel is closing, and commands end at their
  -- end markers, before their channels have closed. A server with no SFTP keeps the
  -- session for commands; its transfers say why.
  sess:sftp_start(self.conf.connect_timeout or 10)
  return sess
end

--- Close the session and the jumps and proxy under it; the next use connects again.
function T:close()
  if self.chain then login.close(self.chain) end
  self.sess, self.chain = nil, nil
end

-- The remote script that stops a command: $p is its shell's pid, $s the signal. OpenSSH
-- makes the shell a process-group leader; dropbear and a login that runs the command
-- from a shell of its own (a ForceCommand) do not, so then the shell's children are
-- found in /proc and the signal goes to the shell first, then to them (a shell that saw
-- its child killed would print "Terminated" into the command's log); SIGKILL follows
-- two seconds later.
local STOP = [[kill -$s -$p 2>/dev/null || { c=; for d in /proc/[0-9]*; do ]] ..
  [[read -r _ _ _ pp _ <$d/stat && [ "$pp" = $p ] && c="$c ${d#/proc/}"; done; ]] ..
  [[kill -$s $p $c; } 2>/dev/null; (sleep 2; kill -KILL -$p || kill -KILL $p $c) ]] ..
  [[</dev/null >/dev/null 2>&1 &]]

-- What the wrapper reads from stdin first: the exports, one per line, by the shell's own
-- read and eval (`cat` would be a process more for every command: a run's cijoe.run.env
-- gives every command env), and last the go line. A value with a line break in it is read
-- whole with cat instead, and evaluated only when it ends in the go line. The command
-- runs only once the go line came whole: joe sends the input when the server has
-- confirmed the exec, and a channel that closes before (joe gave up waiting for that
-- answer, and sends the command again on a new session) gives the wrapper an end of
-- input without it, so it exits without running anything.
local GO = "joe_go=1\n"
local READ_EXPORTS = 'while IFS= read -r joe_l; do eval "$joe_l"; done; unset joe_l; '
local READ_WHOLE = 'joe_l=$(cat); case $joe_l in *joe_go=1) eval "$joe_l";; esac; unset joe_l; '
local GATE = '[ "$joe_go" = 1 ] || exit 125; unset joe_go; '

-- The command as the remote shell gets it: first the exports of env and the go line, read
-- from stdin (so no command line on the target shows the values, secret or not: every
-- user there sees command lines in ps); its pid after the pid marker; the command through
-- eval (with no access to the shell's copies of stdout and stderr on fds 8 and 9); then
-- the end marker with its status on each of those: once both came, all the command
-- printed came too (sshd reads the two pipes apart). The markers are unique to this
-- command, so they are found wherever they come, after any login output.
-- With opts.stdin (joe's own tar stream) the command reads that instead, and no exports
-- nor go line go first. Returns the command and its input.
local function wrap(cmd, opts, markers)
  local exports, multiline = {}, false
  for i, pair in ipairs(opts.env or {}) do
    exports[i] = "export " .. pair[1] .. "=" .. transport.quote(pair[2]) .. "\n"
    multiline = multiline or tostring(pair[2]):find("[\r\n]") ~= nil
  end
  exports[#exports + 1] = GO
  local function say(marker, value) -- the marker's \30 in printf's octal
    return "printf '\\036" .. marker:sub(2) .. "%d\\n' " .. value
  end
  local first = "joe_go=; " .. (multiline and READ_WHOLE or READ_EXPORTS) .. GATE
  local input = table.concat(exports)
  if opts.stdin then first, input = "", opts.stdin end
  local mark = say(markers.ending, "$s")
  return "exec 8>&1 9>&2; " .. first .. say(markers.pid, "$$") .. " && eval " ..
    transport.quote(transport.prefixed(cmd, opts.cwd)) .. " 8>&- 9>&-; s=$?; " ..
    mark .. " >&8; " .. mark .. " >&9", input
end
T._wrap = wrap -- for spec/test_ssh.lua: the wrapper through a real sh

-- The pid and end markers of a command: \30, a word and a random token.
local function markers_of_a_command()
  local token = string.format("%08x%08x:", math.random(0, 0x7fffffff),
    math.random(0, 0x7fffffff))
  return { pid = "\30joe-pid:" .. token, ending = "\30joe-end:" .. token }
end

--- Run cmd on the target; see cijoe.transport for the result.
-- The status of a command whose connection went while it ran, as ssh(1) gives it.
local LOST = 255

function T:run(cmd, opts)
  local markers = markers_of_a_command()
  local full, input = wrap(cmd, opts, markers)
  for attempt = 1, 2 do
    local sess, cerr = self:session()
    if not sess then return nil, cerr end
    local status, why, extra = sess:exec(full, { log = opts.log, timeout = opts.timeout,
      monitor = opts.monitor, start_timeout = self.conf.connect_timeout,
      pid_marker = markers.pid, end_marker = markers.ending, stop = STOP, input = input })
    if status then return transport.result(status, why, extra) end
    if extra == "run" and why ~= "interrupted" then -- it started: never "did not run"
      local result = transport.result(LOST)
      result.lost = "transport " .. self.name .. ": " .. why
      return result
    end
    if why == "interrupted" or extra ~= "start" or attempt == 2 then
      return nil, why == "interrupted" and why or "transport " .. self.name .. ": " .. why
    end
  end
end

-- SFTP's status codes, as OpenSSH's sftp words them.
local STATUS = { "end of file", "no such file", "permission denied", "failure",
  "bad message", "no connection", "connection lost", "operation unsupported" }

-- sess:method(...), or nil and why once the session was closed (a transfer that broke
-- it closed it: what the copy does after, such as removing its temporary file, fails
-- plainly instead of raising).
local function session_call(sess, method, ...)
  if not sess:is_open() then return nil, "the connection was lost" end
  return sess[method](sess, ...)
end

-- The target's files as a side of the tree copy: the session's SFTP calls, with
-- messages naming the session and path, and a broken session dropped (the next use
-- connects again).
-- The message of a failed SFTP call (why is "path: libssh2's words"): with the server's
-- status, in OpenSSH's words (libssh2's own are kept when they say more than that the
-- server refused); "local": the file here failed (why is its errno's message); without
-- one, the session broke, and it is closed.
local function sftp_failure(t, why, code, local_path)
  if code == "local" then return local_path .. ": " .. why end
  if code == nil then
    t:close()
    return t.label .. ": " .. why
  end
  local path, detail = why:match("^(.-): (.*)$")
  local status = STATUS[code] or "SFTP status " .. code
  if detail and detail ~= "" and detail ~= "SFTP Protocol Error" then
    status = detail .. " (" .. status .. ")"
  end
  return t.label .. ": " .. (path or why) .. ": " .. status
end

local function remote_side(t, sess)
  local side = {}
  local function call(method, ...)
    local r, why, code = session_call(sess, method, ...)
    if r ~= nil then return r end
    return nil, sftp_failure(t, why, code)
  end
  for _, m in ipairs({ "stat", "lstat", "list", "mkdir", "readlink", "setmode", "remove" }) do
    side[m] = function(_, ...) return call(m, ...) end
  end
  -- libssh2 1.10 reads the request's id where the status of a symlink's answer is, so a
  -- link made says "failed": the link itself is the answer.
  function side.symlink(_, path, target)
    if session_call(sess, "symlink", path, target) or
      session_call(sess, "readlink", path) == target then
      return true
    end
    return call("symlink", path, target)
  end
  -- SFTP v3's rename (OpenSSH's) will not replace a file, and libssh2 1.10 cannot ask
  -- for OpenSSH's posix-rename: the old file goes aside (from .. "-old", a temporary
  -- name too), the new one takes its name, then the old one is removed. When the second
  -- rename fails, the old file is put back; a connection lost between the two leaves it
  -- whole under the side name, never lost.
  function side.rename(_, from, to)
    local ok = session_call(sess, "rename", from, to)
    if ok then return true end
    local st = session_call(sess, "lstat", to)
    if not st or st.type == "directory" then return call("rename", from, to) end
    local aside, err = from .. "-old", nil
    ok, err = call("rename", to, aside)
    if ok then ok, err = call("rename", from, to) end
    if not ok then
      session_call(sess, "rename", aside, to)
      return nil, err
    end
    session_call(sess, "remove", aside)
    return true
  end
  return side
end

-- The file copiers of a transfer: put writes a new remote file from a local one, get a
-- new local file (0600 until whole) from a remote one.
-- The umask of the target's SFTP server, learnt once a session with a probe file beside
-- path: a file whose mode it leaves alone then needs no second round trip to set it.
local function umask_of(t, sess, path)
  if t.umask_of == sess then return t.umask end
  t.umask_of, t.umask = sess, 511 -- unknown: every mode set again
  local probe = (path:match("^(.*/)") or "") .. ".joe-umask-" .. require("cijoe.proc").pid()
  local empty = io.open("/dev/null", "rb")
  if empty and session_call(sess, "put", empty, probe, 511) then
    local st = session_call(sess, "lstat", probe)
    if st then t.umask = 511 & ~st.mode end
    session_call(sess, "remove", probe)
  end
  if empty then empty:close() end
  return t.umask
end

local function put_file(t, sess)
  return function(src, tmp, mode)
    local f, err = io.open(src, "rb")
    if not f then return nil, err end
    -- set again once written: bits the umask takes, and setuid/setgid, which the kernel
    -- clears when a user without CAP_FSETID writes the file
    local exact = mode & umask_of(t, sess, tmp) ~= 0 or mode & 0x0C00 ~= 0
    local ok, perr, code = session_call(sess, "put", f, tmp, mode, exact)
    f:close()
    if ok then return true end
    return nil, sftp_failure(t, perr, code, src)
  end
end

local function get_file(t, sess)
  return function(src, tmp, mode, size)
    local f, err = fs.create(tmp, 384)
    if not f then return nil, err end
    local ok, gerr, code = session_call(sess, "get", src, f, size)
    local closed, cerr = f:close()
    if ok and closed then return fs.chmod(tmp, mode) end
    return nil, ok and tmp .. ": " .. tostring(cerr) or sftp_failure(t, gerr, code, tmp)
  end
end

--- Copy a local file or folder to dst on the target.
function T:put(src, dst, opts)
  local sess, err = self:session()
  if not sess then return nil, err end
  local there, file = remote_side(self, sess), put_file(self, sess)
  local st, final, present = copy.destination(transport_local.disk, src, there, dst)
  if not st then return nil, final end
  if st.type == "directory" and not present then -- a new folder: as a tar stream if it can
    local stats, serr = tar_put.put(self, sess, there, file, src, st, final, opts)
    if stats ~= false then return stats, serr end
  end
  return copy.walk(transport_local.disk, src, st, final, copy.in_place(there, file), opts)
end

--- Copy a file or folder of the target to dst on this machine.
function T:get(src, dst, opts)
  local sess, err = self:session()
  if not sess then return nil, err end
  local there = remote_side(self, sess)
  return copy.tree(there, src, transport_local.disk, dst, get_file(self, sess), opts)
end

return T
