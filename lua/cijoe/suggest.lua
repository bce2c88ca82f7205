-- "Did you mean ...?": the known name nearest to a mistyped one, by edit distance, for
-- the messages about unknown steps, worklets, packages, guests, transports, config keys,
-- commands and options. A swap of two neighbouring letters counts as one edit, as in the
-- typos people make ("infoo", "sysnifo").
local suggest = {}

-- The optimal string alignment distance of a and b (insertions, deletions, substitutions
-- and transpositions of neighbours), on bytes, ignoring case; stops counting past limit.
local function distance(a, b, limit)
  a, b = a:lower(), b:lower()
  if math.abs(#a - #b) > limit then return limit + 1 end
  local before, prev, row = {}, {}, {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    row = { [0] = i }
    local best = i
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local d = math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        d = math.min(d, before[j - 2] + 1)
      end
      row[j], best = d, math.min(best, d)
    end
    if best > limit then return limit + 1 end
    before, prev = prev, row
  end
  return prev[#b]
end
suggest.distance = distance

-- How many edits a word of n bytes may be away from a name to be worth suggesting.
local function allowed(n)
  if n <= 3 then return 1 end
  return math.max(2, n // 3)
end

--- The name of candidates (a list of strings, or a table whose keys are the names)
--- nearest to word, or nil when none is within a few edits (a third of its length). A
--- name that word is the start of counts too ("--res" for "--resources"). Ties go to the
--- first in sorted order.
function suggest.closest(word, candidates)
  word = tostring(word)
  local names = {}
  for k, v in pairs(candidates or {}) do
    names[#names + 1] = type(k) == "number" and tostring(v) or tostring(k)
  end
  table.sort(names)
  local best, best_d, limit = nil, math.huge, allowed(#word)
  for _, name in ipairs(names) do
    local d = distance(word, name, limit)
    if d == 0 and name ~= word then d = 0.5 end -- differs in case only
    if d > limit and #word >= 3 and name:sub(1, #word) == word then d = limit end
    if d > 0 and d <= limit and d < best_d then best, best_d = name, d end
  end
  return best
end

--- " (did you mean 'x'?)" for the nearest candidate, or "" when none is near.
function suggest.hint(word, candidates)
  local name = suggest.closest(word, candidates)
  return name and " (did you mean '" .. name .. "'?)" or ""
end

return suggest
