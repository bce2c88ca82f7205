-- The API reference: every exported function of cijoe and the built-in packages has a doc
-- comment (make check fails otherwise), and make doc writes a page with them.
local lu = require("luaunit")
local h = require("helper")

TestDoc = {}

-- Run spec/apidoc.lua with env (a prefix of VAR=value words); returns status and output.
local function apidoc(env)
  local dir = h.tmpdir()
  local out, status = h.sh(string.format("cd %s && %s JOE_ROOT=%s %s -q -o %s/run %s/spec/apidoc.lua",
    h.q(h.root), env, h.q(h.root), h.q(h.joe), dir, h.q(h.root)))
  return status, out
end

function TestDoc:test_every_exported_function_is_documented()
  local status, out = apidoc("JOE_APIDOC_CHECK=1")
  lu.assertEquals(status, 0, out)
  lu.assertEquals(out, "")
end

function TestDoc:test_a_missing_doc_comment_is_found()
  local dir = h.tmpdir()
  h.write(dir .. "/m.lua", "local m = {}\n--- Documented.\nfunction m.good() end\n\nfunction m.bad() end\nlocal function hidden() end\nreturn m\n")
  local status, out = apidoc("JOE_APIDOC_CHECK=1 JOE_APIDOC_FILES=" .. dir .. "/m.lua")
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, dir .. "/m.lua:5: m.bad has no doc comment\n")
  lu.assertStrContains(out, "    1 exported functions have no doc comment\n")
end

function TestDoc:test_reference_page_lists_the_api()
  local status, out = apidoc("")
  lu.assertEquals(status, 0, out)
  local api = h.read(h.root .. "/build/doc/modules/cijoe.html")
  lu.assertStrContains(api, "run(cmd[, opts])")
  lu.assertStrContains(api, "Run a shell command on the default transport")
  lu.assertStrContains(api, "the exit status, 128+N when signal N killed it")
  lu.assertStrContains(h.read(h.root .. "/build/doc/modules/fio.html"), "run(opts, run_opts)")
  local worklets = h.read(h.root .. "/build/doc/topics/worklets.md.html")
  lu.assertStrContains(worklets, "<code>qemu.guest_start</code>")
  lu.assertStrContains(worklets, "<code>core.wait_for_transport</code>")
  lu.assertStrContains(h.read(h.root .. "/build/doc/topics/dsl.md.html"), "What a run leaves")
end
