--- Prepare the git repositories of the config: for every top-level section with a
--- `repository` (remote, path, and branch or tag; run_local to do it on this machine),
--- clone it when missing, fetch, check out the branch or tag, pull a branch, show status.
local function dirname(path) return path:match("^(.*)/[^/]*$") or "." end

-- The commands for one repository, each with the folder it runs in.
local function commands(r, q)
  local cmds = {
    { "mkdir -p " .. q(dirname(r.path)) },
    { "[ -d " .. q(r.path) .. "/.git ] || git clone --recursive " .. q(r.remote) .. " " ..
      q(r.path) },
    { "git fetch --all", r.path },
  }
  if r.branch or r.tag then
    cmds[#cmds + 1] = { "git checkout " .. q(r.branch or r.tag), r.path }
  end
  if r.branch then cmds[#cmds + 1] = { "git pull --rebase", r.path } end
  cmds[#cmds + 1] = { "git status", r.path }
  return cmds
end

return function(_, cijoe)
  local names = {}
  for name, section in pairs(cijoe.config) do
    if type(section) == "table" and type(section.repository) == "table" then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local r = cijoe.config[name].repository
    if type(r.path) ~= "string" or type(r.remote) ~= "string" then
      return false, name .. ".repository needs remote and path"
    end
    local run = r.run_local and cijoe.run_local or cijoe.run
    for _, c in ipairs(commands(r, cijoe.quote)) do
      local err, msg = run(c[1], { cwd = c[2] })
      if err ~= 0 then return err or false, err == nil and msg or nil end
    end
  end
end
