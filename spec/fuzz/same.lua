-- Deep equality of loaded values for the fuzz checks: tables by content (aliases may
-- share a table on one side and not on the other), NaN equal to NaN, 1 equal to 1.0.
local function same(a, b, depth)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then return a == b or (a ~= a and b ~= b) end
  if type(a) ~= "table" then return a == b end
  if depth > 300 then return true end
  for k, v in pairs(a) do
    if not same(v, b[k], depth + 1) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

return function(a, b) return same(a, b, 0) end
