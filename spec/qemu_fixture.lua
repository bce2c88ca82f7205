-- The test guest of the qemu tests: the files packages/qemu/guest/build.sh makes (built once per
-- test run), the guest's config for a test's own folder and port, and the qemu processes
-- of a guest folder, which is how the tests see that nothing was left behind.
local h = require("helper")
local config = require("cijoe.config")
local packages = require("cijoe.packages")

local fixture = {}

-- build.sh's paths ({kernel, initrd, tools, key}), or false and why; built once.
local built, why_not

-- A guest that could not be built skips the tests that need it on a developer's machine
-- (no network for Debian's mirror, say); in CI, where `make check` installed everything
-- it needs, it is a failure: a green run must not hide that no guest was booted.
local function unbuilt(why)
  if os.getenv("CI") == "true" then error(why .. "\n(in CI a guest that cannot be built fails"
    .. " the tests that need it)", 0) end
  return false, why
end

--- The guest's files ({kernel, initrd, tools, key}), built or found in the cache; or
--- false and why the guest could not be built.
function fixture.files()
  if built == nil then
    local out, status = h.sh(h.q(h.root .. "/packages/qemu/guest/build.sh") .. " 2>&1")
    built = {}
    for key, path in out:gmatch("\n?(%a+): (/[^\n]+)") do built[key] = path end
    if status ~= 0 or not built.kernel then
      built, why_not = false, "the test guest could not be built: " .. out:sub(-600)
    end
  end
  if not built then return unbuilt(why_not) end
  return built
end

--- The processes whose command line holds text (pgrep -f), as "pid cmdline" lines.
function fixture.processes(text)
  return (h.sh("pgrep -a -f -- " .. h.q(text) .. " | grep -v pgrep || true"))
end

--- YAML to put over the package's default.config: the guest "default" lives in dir/default
--- and gets a free SSH port at start, or port, for the guest and its transport "guest".
function fixture.override(dir, port)
  if not port then return string.format("qemu: {guests: {default: {path: %s/default}}}\n", dir) end
  return string.format("cijoe: {transport: {guest: {port: %d}}}\n" ..
    "qemu: {guests: {default: {path: %s/default, ssh_port: %d}}}\n", port, dir, port)
end

-- debian.sh's paths ({image, kernel, initrd, append}), or false and why; built once.
local debian, debian_why

--- The Debian disk image of the cloud-init tests ({image, kernel, initrd, append}), built
--- with mmdebstrap or found in the cache; or false and why it could not be built.
function fixture.debian_image()
  -- Its boots take minutes and run no C path the busybox guest's tests do not: under
  -- check-asan (JOE_SPEC_SANITIZED) they are left to the plain run that follows.
  if os.getenv("JOE_SPEC_SANITIZED") then
    return false, "not under check-asan: the Debian guest's tests run in the plain run"
  end
  if debian == nil then
    local out, status = h.sh(h.q(h.root .. "/packages/qemu/guest/debian.sh") .. " 2>&1")
    debian = {}
    for key, value in out:gmatch("\n?(%a+): ([^\n]+)") do debian[key] = value end
    if status ~= 0 or not debian.image then
      debian, debian_why = false, "the Debian image could not be built: " .. out:sub(-600)
    end
  end
  if not debian then return unbuilt(debian_why) end
  return debian
end

--- The package's default.config with the YAML texts of `more` over it, as cijoe.config.
function fixture.config(more)
  local default, origin = packages.read("qemu/default.config")
  local sources = { { file = origin, text = default } }
  for i, text in ipairs(more) do sources[#sources + 1] = { file = "more" .. i .. ".yaml", text = text } end
  return assert(config.load(sources))
end

--- Kill every process whose command line holds text (what a test that failed midway left
--- of a guest) and return what there was, as fixture.processes does.
function fixture.reap(text)
  local left = fixture.processes(text)
  for pid in left:gmatch("(%d+) [^\n]*") do h.sh("kill -KILL " .. pid) end
  if left ~= "" then h.sh("sleep 0.2") end
  return left
end

return fixture
