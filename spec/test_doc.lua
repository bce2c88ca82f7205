-- The API reference: every exported function of cijoe and the built-in packages has a doc
-- comment (make check fails otherwise), and make doc writes a page with them.
local lu = require("luaunit")
local h = require("helper")

TestDoc = {}

-- Run spec/apidoc.lua with env (a prefix of VAR=value words) over the tree at root
-- (default: this one); returns status and output.
local function apidoc(env, root)
  local dir = h.tmpdir()
  root = h.q(root or h.root)
  local out, status = h.sh(string.format("cd %s && %s JOE_ROOT=%s %s -q -o %s/run %s",
    root, env, root, h.q(h.joe), dir, h.q(h.root .. "/spec/apidoc.lua")))
  return status, out
end

-- A rendered page as the reader sees its text: no tags, entities decoded, spaces folded.
local function page_text(path)
  local html = assert(h.read(path), "missing " .. path)
  local text = html:gsub("<[^>]*>", ""):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&quot;", '"')
  return (text:gsub("&#39;", "'"):gsub("&amp;", "&"):gsub("%s+", " "))
end

-- A copy of the tree's file rel in dir with the doc comment above the line that starts
-- with decl taken out; returns the copy's path and the line decl is then on.
local function without_doc(dir, rel, decl)
  local lines = {}
  for line in io.lines(h.root .. "/" .. rel) do lines[#lines + 1] = line end
  local at
  for i, line in ipairs(lines) do
    if line:sub(1, #decl) == decl then at = i end
  end
  assert(at, decl .. " is not in " .. rel)
  while lines[at - 1]:find("^%-%-") do
    table.remove(lines, at - 1)
    at = at - 1
  end
  local path = dir .. "/" .. rel:gsub("/", "_")
  h.write(path, table.concat(lines, "\n") .. "\n")
  return path, at
end

function TestDoc:test_every_exported_function_is_documented()
  local status, out = apidoc("JOE_APIDOC_CHECK=1")
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, "")
end

function TestDoc:test_a_missing_doc_comment_is_found()
  local dir = h.tmpdir()
  h.write(dir .. "/m.lua", "local m = {}\n--- Documented.\nfunction m.good() end\n\n" ..
    "function m.bad() end\nlocal function hidden() end\nreturn m\n")
  local status, out = apidoc("JOE_APIDOC_CHECK=1 JOE_APIDOC_FILES=" .. dir .. "/m.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, dir .. "/m.lua:5: m.bad has no doc comment\n")
  lu.assertStrContains(out, "    1 exported functions have no doc comment\n")
end

-- The packages' real files: a copy passes as it is, and fails with one doc comment (of a
-- function, and of a Guest method) taken out.
function TestDoc:test_a_package_function_losing_its_doc_comment_fails_the_check()
  local dir = h.tmpdir()
  local whole = h.write(dir .. "/fio.lua", h.read(h.root .. "/packages/fio/init.lua"))
  local status, out = apidoc("JOE_APIDOC_CHECK=1 JOE_APIDOC_FILES=" .. whole)
  lu.assertEquals(status, 0, out)
  local fio, fio_line = without_doc(dir, "packages/fio/init.lua", "function fio.run(")
  local qemu, qemu_line = without_doc(dir, "packages/qemu/init.lua", "function Guest:wait_up(")
  status, out = apidoc("JOE_APIDOC_CHECK=1 JOE_APIDOC_FILES='" .. fio .. " " .. qemu .. "'")
  lu.assertEquals(status, 1, out)
  lu.assertStrContains(out, fio .. ":" .. fio_line .. ": fio.run has no doc comment\n")
  lu.assertStrContains(out, qemu .. ":" .. qemu_line .. ": Guest:wait_up has no doc comment\n")
  lu.assertStrContains(out, "    2 exported functions have no doc comment\n")
end

-- What each module's page shows, as its reader sees the text.
local SHOWN = {
  cijoe = { "run(cmd[, opts])", "Run a shell command on the default transport",
    "the exit status, 128+N when signal N killed it", "state:output()" },
  fio = { "run(opts[, run_opts])", "run_jobfile(path[, run_opts])",
    "fio's nonzero exit status (its message is in the command's log)",
    "as fio-<name>.json and removed there" },
  qemu = { "Class Guest", "guest:wait_up([timeout=60]) Wait until the guest answers",
    "guest:start([opts])", "${JOE_GUEST_CACHE:-~/.cache/joe-guest}" },
  nvme = { "report_zones(dev[, opts])", "zone_reset(dev[, slba[, opts]])" },
  linux = { "null_blk_insert([params[, run_opts]])" },
}

function TestDoc:test_reference_page_lists_the_api()
  local status, out = apidoc("")
  lu.assertEquals(status, 0, out)
  for module, texts in pairs(SHOWN) do
    local text = page_text(h.root .. "/build/doc/modules/" .. module .. ".html")
    for _, want in ipairs(texts) do lu.assertStrContains(text, want) end
  end
  local worklets = h.read(h.root .. "/build/doc/topics/worklets.md.html")
  lu.assertStrContains(worklets, "<code>qemu.guest_start</code>")
  lu.assertStrContains(worklets, "<code>core.wait_for_transport</code>")
  lu.assertStrContains(h.read(h.root .. "/build/doc/topics/dsl.md.html"), "What a run leaves")
end

-- LDoc's warnings are in its log only: make doc shows them and fails. A copy of the
-- documented files, one with a tag LDoc does not know.
function TestDoc:test_an_ldoc_warning_fails_the_page()
  local root = h.tmpdir()
  h.sh(string.format("cd %s && cp -r --parents docs lua/cijoe.lua packages/*/init.lua %s",
    h.q(h.root), h.q(root)))
  local path = root .. "/packages/nvme/init.lua"
  h.write(path, (h.read(path):gsub("\nfunction nvme.list%(", "\n-- @returnz nothing%0")))
  local n = 0 -- LDoc names the line of the function
  for line in io.lines(path) do
    n = n + 1
    if line:find("^function nvme.list%(") then break end
  end
  local status, out = apidoc("", root)
  lu.assertEquals(status, 1, out)
  lu.assertStrContains(out, path .. ":" .. n .. ": ?: unknown tag: 'returnz'")
  lu.assertStrContains(out, "LDoc warned")
end
