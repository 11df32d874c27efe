--[[
queryMarkets: one page of markets, filtered and sorted, plus the total matching count, in one
round trip. The plans and their costs are described in lua/README.md.

Key count: variable (`-n`): 7 fixed keys, then the filter keys ARGV announces.
  KEYS[1]     market hash          id -> market JSON
  KEYS[2]     ids zset             every id, score 0
  KEYS[3]     sort index           a numeric index zset (sortKind "score") or the symbol
                                   index (sortKind "lex", members "<symbol>\0<id>")
  KEYS[4..7]  scratch zsets        this call's own; deleted before it returns
  KEYS[8..]   filter keys, in this order: the exchange zsets (ARGV[6] of them), base zsets
              (ARGV[7]), quote zsets (ARGV[8]), then one numeric index per range (ARGV[9])

ARGV:
  [1] sortKind    "score" | "lex"
  [2] direction   "asc" | "desc"; ties are always broken by id ascending
  [3] offset      integer >= 0
  [4] limit       integer 1..500
  [5] search      "" for none, else upper-case text matched as a plain substring of the symbol
  [6] exchanges   number of exchange keys, -1 when the filter is absent (0 matches nothing)
  [7] bases       likewise
  [8] quotes      likewise
  [9] ranges      number of range conditions
  [10..] per range: min, max (inclusive; "-inf" / "+inf" for an open side)

Markets that lack the sort field come after all others (by id ascending) in either direction.

Returns: { total, json1, json2, ... }: total markets matching, then the page in order.
Errors:  "ERR queryMarkets: ..." for arguments outside the formats above.
--]]

local MAX_LIMIT = 500
local CHUNK = 1000 -- members read or written per command when scanning a set

local marketKey, idsKey, sortKey = KEYS[1], KEYS[2], KEYS[3]
local candKey, unionKey, sortedKey, tailKey = KEYS[4], KEYS[5], KEYS[6], KEYS[7]

local sortKind, direction = ARGV[1], ARGV[2]
local offset, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local search = ARGV[5]

local function fail(message)
  return redis.error_reply('ERR queryMarkets: ' .. message)
end

if sortKind ~= 'score' and sortKind ~= 'lex' then return fail('bad sort kind') end
if direction ~= 'asc' and direction ~= 'desc' then return fail('bad direction') end
if not offset or offset < 0 or offset ~= math.floor(offset) then return fail('bad offset') end
if not limit or limit < 1 or limit > MAX_LIMIT or limit ~= math.floor(limit) then return fail('bad limit') end

-- The symbol part of an id ("binance:BTC/USDT" -> "BTC/USDT"); exchange ids hold no ":".
local function symbolOf(id)
  return string.sub(id, (string.find(id, ':', 1, true) or 0) + 1)
end

-- Writes members into an empty zset with score 0, a chunk per command.
local function storeMembers(key, members)
  for i = 1, #members, CHUNK do
    local args = {}
    for j = i, math.min(i + CHUNK - 1, #members) do
      args[#args + 1] = 0
      args[#args + 1] = members[j]
    end
    redis.call('ZADD', key, unpack(args))
  end
end

-- Calls fn(member) for every member of a zset, in order, a chunk per command.
local function eachMember(key, fn)
  local size = redis.call('ZCARD', key)
  for i = 0, size - 1, CHUNK do
    local chunk = redis.call('ZRANGE', key, i, i + CHUNK - 1)
    for j = 1, #chunk do fn(chunk[j]) end
  end
end

--[[ Stage 1: the candidate set. `cand` is nil while no filter applies (every market), else
a key whose members (score 0) are the markets passing every filter so far. --]]
local function candidates()
  local cand = nil
  local nextKey = 8

  -- Narrows the candidates to those also in `key` (whose scores are ignored).
  local function narrow(key)
    if cand == nil then
      redis.call('ZINTERSTORE', candKey, 1, key, 'WEIGHTS', 0)
    else
      redis.call('ZINTERSTORE', candKey, 2, cand, key, 'WEIGHTS', 0, 0)
    end
    cand = candKey
  end

  for g = 6, 8 do
    local n = tonumber(ARGV[g])
    if n == nil or n < -1 then return nil, 'bad filter group size' end
    if n == 0 then return nil, nil, true end
    if n > 0 then
      local group = {}
      for i = 1, n do group[i] = KEYS[nextKey]; nextKey = nextKey + 1 end
      if n == 1 and cand == nil then
        cand = group[1] -- a filter zset already has score 0: use it as it is
      elseif n == 1 then
        narrow(group[1])
      else
        redis.call('ZUNIONSTORE', unionKey, n, unpack(group))
        narrow(unionKey)
      end
    end
  end

  local ranges = tonumber(ARGV[9])
  if ranges == nil or ranges < 0 or #ARGV ~= 9 + 2 * ranges then return nil, 'bad range count' end
  for r = 1, ranges do
    local index, min, max = KEYS[nextKey], ARGV[8 + 2 * r], ARGV[9 + 2 * r]
    nextKey = nextKey + 1
    redis.call('ZRANGESTORE', unionKey, index, min, max, 'BYSCORE')
    narrow(unionKey)
  end
  if nextKey ~= #KEYS + 1 then return nil, 'key count does not match the filter sizes' end

  if search ~= '' then
    local matches = {}
    eachMember(cand or idsKey, function(id)
      if string.find(symbolOf(id), search, 1, true) then matches[#matches + 1] = id end
    end)
    redis.call('DEL', candKey)
    if #matches == 0 then return nil, nil, true end
    storeMembers(candKey, matches)
    cand = candKey
  end
  return cand
end

--[[ Stage 2: the page. `sorted` holds the candidates that have the sort field, in index
order; the rest (nulls) follow by id. --]]

-- Descending with ties by id ascending: walk tie groups from the rank `offset` on.
local function descendingPage(sorted, from, count)
  local out = {}
  local pos = from
  while #out < count do
    local top = redis.call('ZRANGE', sorted, pos, pos, 'REV', 'WITHSCORES')
    if #top == 0 then break end
    local above, group
    if sortKind == 'score' then
      local score = top[2]
      above = redis.call('ZCOUNT', sorted, '(' .. score, '+inf')
      group = redis.call('ZRANGE', sorted, score, score, 'BYSCORE', 'LIMIT', pos - above, count - #out)
    else
      local member = top[1]
      local symbol = string.sub(member, 1, string.find(member, '\0', 1, true) - 1)
      above = redis.call('ZLEXCOUNT', sorted, '(' .. symbol .. '\1', '+')
      group = redis.call('ZRANGE', sorted, '[' .. symbol .. '\0', '(' .. symbol .. '\1', 'BYLEX', 'LIMIT', pos - above, count - #out)
    end
    for i = 1, #group do out[#out + 1] = group[i] end
    pos = pos + #group
  end
  return out
end

local function run()
  local cand, err, empty = candidates()
  if err then return fail(err) end
  if empty then return { 0 } end
  local all = cand or idsKey
  local total = redis.call('ZCARD', all)

  local sorted = sortKey
  if cand ~= nil and sortKind == 'score' then
    redis.call('ZINTERSTORE', sortedKey, 2, cand, sortKey, 'WEIGHTS', 0, 1)
    sorted = sortedKey
  elseif cand ~= nil then
    local members = {}
    eachMember(cand, function(id) members[#members + 1] = symbolOf(id) .. '\0' .. id end)
    storeMembers(sortedKey, members)
    sorted = sortedKey
  end
  local withField = redis.call('ZCARD', sorted)

  local page = {}
  if offset < withField then
    if direction == 'asc' then
      page = redis.call('ZRANGE', sorted, offset, offset + limit - 1)
    else
      page = descendingPage(sorted, offset, limit)
    end
  end
  if sortKind == 'lex' then
    for i = 1, #page do page[i] = string.sub(page[i], string.find(page[i], '\0', 1, true) + 1) end
  end

  if #page < limit and withField < total then
    redis.call('ZDIFFSTORE', tailKey, 2, all, sorted)
    local start = math.max(0, offset - withField)
    local tail = redis.call('ZRANGE', tailKey, start, start + (limit - #page) - 1)
    for i = 1, #tail do page[#page + 1] = tail[i] end
  end

  local result = { total }
  if #page > 0 then
    local values = redis.call('HMGET', marketKey, unpack(page))
    for i = 1, #values do
      if values[i] then result[#result + 1] = values[i] end
    end
  end
  return result
end

-- Scratch keys are deleted whatever happens, so a failed call leaves nothing behind.
local ok, result = pcall(run)
redis.call('DEL', candKey, unionKey, sortedKey, tailKey)
if not ok then error(result) end
return result
