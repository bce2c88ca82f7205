-- config.load of two documents cut from the input at the first "\n#8<\n" never raises;
-- it fails with "file:line:column: problem" naming the file at fault, a merged config is
-- a mapping whose transport names are its transports, and each warning about a CIJOE key
-- names a file, line and column.
local config = require("cijoe.config")

config.warn = function(text)
  assert(type(text) == "string" and text:match("^[ab]%.yaml:%d+:%d+: %S"),
    "warning without file:line:column: " .. tostring(text))
end

-- The error's file must be a.yaml or b.yaml, with a line and column.
local function check_error(err, file)
  assert(type(err) == "string", "error is not a string")
  local where = err:match("^([ab]%.yaml):%d+:%d+: %S")
  assert(where, "error without file:line:column: " .. err)
  assert(not file or where == file, "error names " .. where .. ", not " .. tostring(file) .. ": " .. err)
end

return function(data)
  local cut = data:find("\n#8<\n", 1, true)
  local a = cut and data:sub(1, cut) or data
  local b = cut and data:sub(cut + 5) or ""
  local conf, err = config.load({ { file = "a.yaml", text = a }, { file = "b.yaml", text = b } })
  if not conf then
    local alone = config.load({ { file = "a.yaml", text = a } })
    check_error(err, alone and "b.yaml" or "a.yaml")
    return
  end
  assert(type(conf) == "table", "config is not a table")
  for _, name in ipairs(config.transport_names(conf)) do
    assert(type(conf.cijoe.transport[name]) == "table", "transport " .. tostring(name) .. " is not a mapping")
  end
  assert(config.get(conf, "cijoe.no.such.key", "dflt") == "dflt")
  config.masked(conf)
end
