--[[
queryMarkets: one page of markets, filtered and sorted, plus the total matching count, in one
round trip. The plans and their costs are described in lua/README.md.

Key count: variable (`-n`): 11 fixed keys, then the keys ARGV announces.
  KEYS[1]     market hash          id -> market JSON
  KEYS[2]     ids zset             every id, score 0
  KEYS[3]     sort index           a numeric index zset (sortKind "score") or the symbol
                                   index (sortKind "lex", members "<symbol>\0<id>")
  KEYS[4..7]  scratch zsets        this call's own; deleted before it returns
  KEYS[8]     search index zset    "<run>\0<id>" per 3-byte and 2-byte run of each symbol, and
                                   "\1\0<id>" marking a market whose 2-byte runs are there; score 0
  KEYS[9]     filter counts hash   "<key> <key> ..." -> markets in all those filter sets; the walk
                                   plan's totals, kept here until a market joins or leaves a
                                   filter set (upsertMarkets and removeMarkets delete the hash)
  KEYS[10]    price index          the numeric indexes of the two fields with a USD value,
  KEYS[11]    quoteVolume24h index   in quote units (the USD sorts and filters read them)
  KEYS[12..]  filter keys, in this order: the exchange zsets (ARGV[6] of them), base zsets
              (ARGV[7]), quote zsets (ARGV[8]), then one numeric index per range (ARGV[9]);
              then per quote asset (ARGV[12] of them): its quote zset, its price index and
              its quoteVolume24h index (values in its units); then one scratch zset per quote
              asset (deleted before the call returns)

ARGV:
  [1] sortKind    "score" | "lex" | "usd" (a USD field: the value in quote units times the
                  rate of the market's quote asset; ARGV[14] says which)
  [2] direction   "asc" | "desc"; ties are always broken by id ascending
  [3] offset      integer >= 0
  [4] limit       integer 1..500
  [5] search      "" for none, else upper-case text matched as a plain substring of the symbol
  [6] exchanges   number of exchange keys, -1 when the filter is absent (0 matches nothing)
  [7] bases       likewise
  [8] quotes      likewise
  [9] ranges      number of range conditions
  [10] plan       "auto" (choose, see lua/README.md) or "materialize" (never walk the index
                  nor read the search index; the tests use it to check that the plans agree)
  [11] ids        number of market ids at the end of ARGV, -1 when the filter is absent (0
                  matches nothing); matched exactly; distinct (the wrapper drops repeats)
  [12] quotes      number of quote assets passed with their rates: every quote asset with
                  markets when the query converts to USD, else 0
  [13] usdRanges  number of USD range conditions
  [14] usdSort    the field a "usd" sort converts: 1 price, 2 quoteVolume24h; 0 otherwise
  [15..] per range: min, max (inclusive; "-inf" / "+inf" for an open side); then per USD
                  range: field (1 price, 2 quoteVolume24h), min, max, bounds on the USD value;
                  then per quote asset: its code and its USD rate ("" when it has none: its
                  markets have no USD value); then the ids

USD values: a market's USD value is its value in quote units times its quote's rate, one
floating-point multiplication (Redis multiplies by a WEIGHTS factor the same way), so the
order and the bounds are exact for the rates passed; the caller converts the answer's fields
with the same rates (src/quote-rates.ts). A market whose quote has no rate, or that lacks the
field, has no USD value: it sorts with the nulls and fails USD bounds.

Markets that lack the sort field come after all others (by id ascending) in either direction.

Returns: { total, plan, json1, json2, ... }: total markets matching, the plan that ran
         ("walk", "merge" for a USD sort read off the per-quote indexes, "index" when no
         filter applied, "search" when the search index gave the candidates, "ids" when the
         ids did, "materialize", or "none" when a filter or the search index matched
         nothing), then the page in order.
Errors:  "ERR queryMarkets: ..." for arguments outside the formats above.
--]]

local MAX_LIMIT = 500
local CHUNK = 1000 -- members read or written per command when scanning a set
local WALK_CHUNK = 100 -- index entries read per command while walking
local WALK_BUDGET = 3000 -- longest expected walk worth preferring to a materialized plan
-- With a search, the matches are already in hand and materializing costs about their number:
-- walk only when that reads fewer index entries than this many per match.
local SEARCH_WALK_PER_MATCH = 4
local MAX_COMBINATIONS = 64 -- filter combinations counted one ZINTERCARD each
local MAX_FILTER_COUNTS = 4096 -- cached counts kept before the cache starts over
local RANK_LIMIT = 10000 -- most search matches ordered in Lua rather than by walking or materializing

local marketKey, idsKey, sortKey = KEYS[1], KEYS[2], KEYS[3]
local candKey, unionKey, sortedKey, tailKey = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local searchIndexKey, filterCountsKey = KEYS[8], KEYS[9]
local UNIT_KEYS = { KEYS[10], KEYS[11] } -- price, quoteVolume24h: the fields with a USD value
local FIXED_KEYS = 11
local FIXED_ARGS = 14

local sortKind, direction = ARGV[1], ARGV[2]
local offset, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local search = ARGV[5]

local function fail(message)
  return redis.error_reply('ERR queryMarkets: ' .. message)
end

local plan = ARGV[10]
if sortKind ~= 'score' and sortKind ~= 'lex' and sortKind ~= 'usd' then return fail('bad sort kind') end
local usdSort = tonumber(ARGV[14])
if (sortKind == 'usd') ~= (usdSort == 1 or usdSort == 2) or (sortKind ~= 'usd' and usdSort ~= 0) then return fail('bad usd sort field') end
if plan ~= 'auto' and plan ~= 'materialize' then return fail('bad plan') end
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

-- A range bound as a number: "-inf" and "+inf" leave that side open.
local function boundValue(text)
  if text == '-inf' then return -math.huge end
  if text == '+inf' then return math.huge end
  return tonumber(text)
end

--[[ The filters, parsed once: `groups` holds one key list per given exchange/base/quote
condition (any of its keys matches; `quoteGroup` is the quote condition's, or nil),
`rangeSpecs` the numeric ranges, `usdRanges` the USD ones, `idList` the ids (nil when that
filter is absent), `quoteList` the quote assets passed with their rates and keys, and
`rateOf` quote code -> rate for those that have one. --]]
local groups, rangeSpecs, usdRanges, emptyGroup, idList, quoteGroup = {}, {}, {}, false, nil, nil
local quoteList, rateOf = {}, {}
local function parseFilters()
  local nextKey = FIXED_KEYS + 1
  for g = 6, 8 do
    local n = tonumber(ARGV[g])
    if n == nil or n < -1 then return 'bad filter group size' end
    if n == 0 then emptyGroup = true end
    if n > 0 then
      local group = {}
      for i = 1, n do group[i] = KEYS[nextKey]; nextKey = nextKey + 1 end
      groups[#groups + 1] = group
      if g == 8 then quoteGroup = group end
    end
  end
  local ranges, ids, quotes, usd = tonumber(ARGV[9]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
  if ids == nil or ids < -1 then return 'bad id count' end
  if quotes == nil or quotes < 0 or usd == nil or usd < 0 then return 'bad quote or USD range count' end
  if ranges == nil or ranges < 0 or #ARGV ~= FIXED_ARGS + 2 * ranges + 3 * usd + 2 * quotes + math.max(ids, 0) then return 'bad range or id count' end
  local a = FIXED_ARGS + 1
  for r = 1, ranges do
    rangeSpecs[r] = { KEYS[nextKey], ARGV[a], ARGV[a + 1] }
    nextKey, a = nextKey + 1, a + 2
  end
  for r = 1, usd do
    local unit, low, high = tonumber(ARGV[a]), boundValue(ARGV[a + 1]), boundValue(ARGV[a + 2])
    if (unit ~= 1 and unit ~= 2) or low == nil or high == nil then return 'bad USD range' end
    usdRanges[r] = { unit = unit, low = low, high = high, lowText = ARGV[a + 1], highText = ARGV[a + 2] }
    a = a + 3
  end
  for q = 1, quotes do
    local code, rateText = ARGV[a], ARGV[a + 1]
    local rate = rateText ~= '' and tonumber(rateText) or nil
    if rateText ~= '' and (rate == nil or not (rate > 0)) then return 'bad rate for ' .. code end
    quoteList[q] = { code = code, rate = rate, rateText = rateText, setKey = KEYS[nextKey], unitKeys = { KEYS[nextKey + 1], KEYS[nextKey + 2] } }
    if rate then rateOf[code] = rate end
    nextKey, a = nextKey + 3, a + 2
  end
  for q = 1, quotes do
    quoteList[q].part = KEYS[nextKey]
    nextKey = nextKey + 1
  end
  if ids == 0 then emptyGroup = true end
  if ids > 0 then
    idList = {}
    for i = 1, ids do idList[i] = ARGV[a + i - 1] end
  end
  if nextKey ~= #KEYS + 1 then return 'key count does not match the filter sizes' end
  return nil
end

-- The quote asset of a market id: ids end with "/<QUOTE>" (src/market.ts).
local function quoteOf(id)
  return string.match(id, '/([^/]*)$')
end

-- A value of `id` in quote units as USD; nil when its quote has no rate.
local function usdOf(id, value)
  local rate = rateOf[quoteOf(id)]
  return rate and value * rate
end

--[[ Whether the per-quote index of a USD field (unit 1 price, 2 quoteVolume24h) is complete:
every market of the field's index is in its quote's index (upsertMarkets files it there at
each write; a market last written by a version without them is not) and every quote asset
was passed. Per-quote indexes only ever hold members of the field's index, so the sizes
decide it: one ZCARD per quote asset. Memoized. --]]
local completeUnits = {}
local function complete(unit)
  if completeUnits[unit] == nil then
    local sum = 0
    for _, q in ipairs(quoteList) do sum = sum + redis.call('ZCARD', q.unitKeys[unit]) end
    completeUnits[unit] = sum == redis.call('ZCARD', UNIT_KEYS[unit])
  end
  return completeUnits[unit]
end

-- A number as a score bound for Redis.
local function scoreText(x)
  if x == -math.huge then return '-inf' end
  if x == math.huge then return '+inf' end
  return string.format('%.17g', x)
end

-- Bounds in quote units around the USD bounds [low, high] at `rate`: the division is inexact,
-- so `lo`, `hi` are widened a little (every value whose USD value is in bounds lies within
-- them) and `loIn`, `hiIn` narrowed (every value strictly between them is in bounds); the
-- values between the two are checked exactly by the caller. The margin is relative (1e-9),
-- plus an absolute 1e-290 for bounds at or near 0, where a tiny value's product underflows
-- to 0 (any rate above 1e-30). Infinite bounds stay infinite.
local MARGIN, FLOOR_MARGIN = 1e-9, 1e-290
local function looseBounds(low, high, rate)
  local function moved(x, by)
    if x == math.huge or x == -math.huge then return x end
    return x + (math.abs(x) * MARGIN + FLOOR_MARGIN) * by
  end
  local lo, hi = low / rate, high / rate
  return moved(lo, -1), moved(hi, 1), moved(lo, 1), moved(hi, -1)
end

-- Deletes the per-quote scratch zsets.
local function dropParts()
  local parts = {}
  for _, q in ipairs(quoteList) do parts[#parts + 1] = q.part end
  if #parts > 0 then redis.call('DEL', unpack(parts)) end
end

-- ZUNIONSTORE of `parts` into `dest`, each weighted by its rate: the scores become USD values.
local function unionAtRates(dest, parts, rates)
  if #parts == 0 then
    redis.call('DEL', dest)
    return
  end
  local args = { dest, #parts }
  for _, part in ipairs(parts) do args[#args + 1] = part end
  args[#args + 1] = 'WEIGHTS'
  for _, rate in ipairs(rates) do args[#args + 1] = rate end
  redis.call('ZUNIONSTORE', unpack(args))
end

--[[ Writes to `dest` the markets whose USD value of `range.unit` lies within the range, scored
by that value: per quote asset with a rate, its values in the widened bounds (ZRANGESTORE on
its per-quote index, or the quote set intersected with the field's index while those are
incomplete), united at the rates, then trimmed at the exact bounds (the scores are now the
USD values themselves). O(matches + log N) per quote asset. --]]
local function storeUsdRange(dest, range)
  local parts, rates = {}, {}
  for _, q in ipairs(quoteList) do
    if q.rate then
      if complete(range.unit) then
        local lo, hi = looseBounds(range.low, range.high, q.rate)
        redis.call('ZRANGESTORE', q.part, q.unitKeys[range.unit], scoreText(lo), scoreText(hi), 'BYSCORE')
      else
        redis.call('ZINTERSTORE', q.part, 2, q.setKey, UNIT_KEYS[range.unit], 'WEIGHTS', 0, 1)
      end
      parts[#parts + 1], rates[#rates + 1] = q.part, q.rateText
    end
  end
  unionAtRates(dest, parts, rates)
  dropParts()
  if range.low > -math.huge then redis.call('ZREMRANGEBYSCORE', dest, '-inf', '(' .. range.lowText) end
  if range.high < math.huge then redis.call('ZREMRANGEBYSCORE', dest, '(' .. range.highText, '+inf') end
end

--[[ Writes to `dest` the markets of `cand` (every market when nil) that have a USD value of
`unit`, scored by it: the per-quote indexes united at the rates (one ZUNIONSTORE, O(N log N)
without candidates), or each quote's markets among the candidates first (ZINTERSTORE,
O(candidates) per quote asset). --]]
local function storeUsdValues(dest, unit, cand)
  local parts, rates = {}, {}
  for _, q in ipairs(quoteList) do
    if q.rate then
      local part
      if cand == nil and complete(unit) then
        part = q.unitKeys[unit]
      elseif complete(unit) then
        redis.call('ZINTERSTORE', q.part, 2, cand, q.unitKeys[unit], 'WEIGHTS', 0, 1)
        part = q.part
      elseif cand == nil then
        redis.call('ZINTERSTORE', q.part, 2, q.setKey, UNIT_KEYS[unit], 'WEIGHTS', 0, 1)
        part = q.part
      else
        redis.call('ZINTERSTORE', q.part, 3, cand, q.setKey, UNIT_KEYS[unit], 'WEIGHTS', 0, 0, 1)
        part = q.part
      end
      parts[#parts + 1], rates[#rates + 1] = part, q.rateText
    end
  end
  unionAtRates(dest, parts, rates)
  dropParts()
end

-- Whether a market's symbol holds the search text; the id ends with the symbol, so no key is read.
local function hasText(id)
  return string.find(symbolOf(id), search, 1, true) ~= nil
end

--[[ The search text's rarest run in the search index and the number of markets filed under
it: every symbol holding the text holds each of its 3-byte runs, and a text of exactly three
bytes IS its run, so for it the count is the number of matches. A text of two bytes is its own
2-byte run, once every market has its 2-byte runs in the index (upsertMarkets marks each
market that has them; markets written by an older version get them at their next write). Nil
when the index cannot answer: a text of one byte, two bytes while some market lacks its 2-byte
runs, or the plan forced to "materialize" (the candidates are then scanned). One ZLEXCOUNT per
run of the text (the API caps it at 64 characters). --]]
local SHORT_RUNS_MARK = '\1'
local function findRarestRun()
  if plan ~= 'auto' or #search < 2 then return nil end
  if #search == 2 then
    local marked = redis.call('ZLEXCOUNT', searchIndexKey, '[' .. SHORT_RUNS_MARK .. '\0', '(' .. SHORT_RUNS_MARK .. '\1')
    if marked < redis.call('ZCARD', idsKey) then return nil end
    return search, redis.call('ZLEXCOUNT', searchIndexKey, '[' .. search .. '\0', '(' .. search .. '\1')
  end
  local rarest, rarestCount = nil, nil
  for from = 1, #search - 2 do
    local run = string.sub(search, from, from + 2)
    local count = redis.call('ZLEXCOUNT', searchIndexKey, '[' .. run .. '\0', '(' .. run .. '\1')
    if rarestCount == nil or count < rarestCount then rarest, rarestCount = run, count end
    if count == 0 then break end
  end
  return rarest, rarestCount
end

-- findRarestRun, looked up once per call (the ranked, walk and materialized plans all ask).
local rarestRunFound, rarestRunValue, rarestRunCount = false, nil, nil
local function rarestRun()
  if not rarestRunFound then
    rarestRunValue, rarestRunCount = findRarestRun()
    rarestRunFound = true
  end
  return rarestRunValue, rarestRunCount
end

--[[ The markets whose symbol holds the search text, read off the search index: the ids filed
under its rarest run, each checked with a plain find. Nil when the index cannot answer (see
rarestRun). Computed once per call. --]]
local searchMatches = nil
local function indexedSearchMatches()
  if searchMatches then return searchMatches end
  local rarest, count = rarestRun()
  if rarest == nil then return nil end
  searchMatches = {}
  if count > 0 then
    local members = redis.call('ZRANGE', searchIndexKey, '[' .. rarest .. '\0', '(' .. rarest .. '\1', 'BYLEX')
    local exact = #search == #rarest -- the text is the run: every entry holds it
    for i = 1, #members do
      local id = string.sub(members[i], #rarest + 2)
      if exact or hasText(id) then searchMatches[#searchMatches + 1] = id end
    end
  end
  return searchMatches
end

--[[ The given ids that are markets passing every other filter, found by looking the ids up
instead of reading any set whole: one ZMSCORE over the ids still in the running per key (the
ids zset, each key of each exchange/base/quote group, each range's index), and the search
text tested on the id itself. Its cost follows the number of ids (the API caps it at 500),
not the number of markets. --]]

-- The score of each of `list` in `key` (false when absent), a chunk per command.
local function scoresOf(key, list)
  local scores = {}
  for i = 1, #list, CHUNK do
    local chunk = redis.call('ZMSCORE', key, unpack(list, i, math.min(i + CHUNK - 1, #list)))
    for j = 1, #chunk do scores[#scores + 1] = chunk[j] end
  end
  return scores
end

-- The members of `list` for which keep(i) holds, in order.
local function keepIf(list, keep)
  local out = {}
  for i = 1, #list do
    if keep(i) then out[#out + 1] = list[i] end
  end
  return out
end

-- The members of `list` found in some key of every group of `among` (default: every
-- exchange/base/quote group), in order: one ZMSCORE per key over the members still in the
-- running, rather than a ZSCORE per member.
local function inEveryGroup(list, among)
  for _, group in ipairs(among or groups) do
    local found = {}
    for _, key in ipairs(group) do
      if #list > 0 then
        local scores = scoresOf(key, list)
        for i = 1, #list do
          if scores[i] then found[i] = true end
        end
      end
    end
    list = keepIf(list, function(i) return found[i] == true end)
  end
  return list
end

-- The members of `list` (market ids) that pass every exchange/base/quote group, every range
-- and USD range and, unless `textChecked`, the search text.
local function passingAmong(list, textChecked)
  local alive = inEveryGroup(list)
  for _, range in ipairs(rangeSpecs) do
    if #alive > 0 then
      local low, high = boundValue(range[2]), boundValue(range[3])
      local scores = scoresOf(range[1], alive)
      alive = keepIf(alive, function(i)
        if not scores[i] then return false end -- the market lacks the field
        local value = tonumber(scores[i])
        return value >= low and value <= high
      end)
    end
  end
  for _, range in ipairs(usdRanges) do
    if #alive > 0 then
      local scores = scoresOf(UNIT_KEYS[range.unit], alive)
      alive = keepIf(alive, function(i)
        local value = scores[i] and usdOf(alive[i], tonumber(scores[i]))
        return value and value >= range.low and value <= range.high or false
      end)
    end
  end
  if search ~= '' and not textChecked then alive = keepIf(alive, function(i) return hasText(alive[i]) end) end
  return alive
end

-- The watchlist's ids that are markets passing every other filter.
local function idMatches()
  local present = scoresOf(idsKey, idList)
  return passingAmong(keepIf(idList, function(i) return present[i] ~= false end))
end

--[[ Stage 1: the candidate set. `cand` is nil while no filter applies (every market), else
a key whose members (score 0) are the markets passing every filter so far. --]]
local usedSearchIndex, usedIds = false, false
local function candidates()
  if idList then
    usedIds = true
    local matches = idMatches()
    if #matches == 0 then return nil, true end
    storeMembers(candKey, matches)
    return candKey
  end

  local cand = nil

  -- Narrows the candidates to those also in `key` (whose scores are ignored).
  local function narrow(key)
    if cand == nil then
      redis.call('ZINTERSTORE', candKey, 1, key, 'WEIGHTS', 0)
    else
      redis.call('ZINTERSTORE', candKey, 2, cand, key, 'WEIGHTS', 0, 0)
    end
    cand = candKey
  end

  for _, group in ipairs(groups) do
    if #group == 1 and cand == nil then
      cand = group[1] -- a filter zset already has score 0: use it as it is
    elseif #group == 1 then
      narrow(group[1])
    else
      redis.call('ZUNIONSTORE', unionKey, #group, unpack(group))
      narrow(unionKey)
    end
  end
  for _, range in ipairs(rangeSpecs) do
    redis.call('ZRANGESTORE', unionKey, range[1], range[2], range[3], 'BYSCORE')
    narrow(unionKey)
  end
  for _, range in ipairs(usdRanges) do
    storeUsdRange(unionKey, range)
    narrow(unionKey)
  end

  if search ~= '' then
    local matches = indexedSearchMatches()
    if matches ~= nil then
      usedSearchIndex = true
      if #matches == 0 then return nil, true end
      if cand == nil then
        storeMembers(candKey, matches)
        cand = candKey
      else
        redis.call('DEL', unionKey)
        storeMembers(unionKey, matches)
        narrow(unionKey)
      end
    else
      matches = {}
      eachMember(cand or idsKey, function(id)
        if hasText(id) then matches[#matches + 1] = id end
      end)
      redis.call('DEL', candKey)
      if #matches == 0 then return nil, true end
      storeMembers(candKey, matches)
      cand = candKey
    end
  end
  return cand
end

--[[ Stage 2: the page. `sorted` holds the candidates that have the sort field, in index
order; the rest (nulls) follow by id. --]]

-- Descending by score with ties by id ascending, for a numeric sort: the page's ranks read in
-- one ZRANGE ... REV, whose runs of equal scores come in descending id order. A run inside
-- the page is a whole tie group: reversed, it is in id order. A run at either edge of the
-- page may continue beyond it: the ids at its ranks are read from its whole group, in id
-- order. With distinct scores (prices, volumes) that is one to three commands, not three per
-- market.
local function descendingScorePage(sorted, from, count)
  local chunk = redis.call('ZRANGE', sorted, from, from + count - 1, 'REV', 'WITHSCORES')
  local out = {}
  local i = 1 -- chunk[i] is a member, chunk[i + 1] its score
  while i <= #chunk do
    local score, j = chunk[i + 1], i
    while j + 2 <= #chunk and chunk[j + 3] == score do j = j + 2 end
    if i == 1 or j + 2 > #chunk then
      local above = redis.call('ZCOUNT', sorted, '(' .. score, '+inf')
      local rank = from + (i - 1) / 2
      local group = redis.call('ZRANGE', sorted, score, score, 'BYSCORE', 'LIMIT', rank - above, (j - i) / 2 + 1)
      for k = 1, #group do out[#out + 1] = group[k] end
    else
      for k = j, i, -2 do out[#out + 1] = chunk[k] end
    end
    i = j + 2
  end
  return out
end

-- Descending with ties by id ascending: for the symbol sort, walk tie groups (markets of one
-- symbol, members "<symbol>\0<id>") from the rank `from` on.
local function descendingPage(sorted, from, count)
  if sortKind ~= 'lex' then return descendingScorePage(sorted, from, count) end
  local out = {}
  local pos = from
  while #out < count do
    local top = redis.call('ZRANGE', sorted, pos, pos, 'REV')
    if #top == 0 then break end
    local member = top[1]
    local symbol = string.sub(member, 1, string.find(member, '\0', 1, true) - 1)
    local above = redis.call('ZLEXCOUNT', sorted, '(' .. symbol .. '\1', '+')
    local group = redis.call('ZRANGE', sorted, '[' .. symbol .. '\0', '(' .. symbol .. '\1', 'BYLEX', 'LIMIT', pos - above, count - #out)
    for i = 1, #group do out[#out + 1] = group[i] end
    pos = pos + #group
  end
  return out
end

--[[ Plan "materialize": the candidates as a scratch set, intersected with the sort index. --]]
local function materializedPage()
  local cand, empty = candidates()
  if empty then return nil end
  local used = 'materialize'
  if cand == nil then used = 'index' elseif usedIds then used = 'ids' elseif usedSearchIndex then used = 'search' end
  local all = cand or idsKey
  local total = redis.call('ZCARD', all)

  local sorted = sortKey
  if sortKind == 'usd' then
    storeUsdValues(sortedKey, usdSort, cand)
    sorted = sortedKey
  elseif cand ~= nil and sortKind == 'score' then
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
  return page, total, used
end

--[[ Plans "ids" and "search" for a numeric sort, when the candidates are in hand as a list:
a watchlist's ids, or the search index's matches when there are at most RANK_LIMIT of them.
The list is narrowed by lookups (passingAmong), then ordered in Lua instead of being written to
a scratch set and intersected with the sort index: one ZMSCORE per 1000 candidates against the
index, the values compared as plain numbers, runs of equal values put in id order byte by
byte, and markets without the field, when the page reaches them, put in id order by Redis (a
scratch set). --]]

-- Whether id a comes before id b in byte order (Lua's own `<` on strings follows the server's
-- collation locale, which need not be byte order).
local function bytesBefore(a, b)
  for k = 1, math.min(#a, #b) do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function rankedPage(list)
  local scores = scoresOf(sortKind == 'usd' and UNIT_KEYS[usdSort] or sortKey, list)
  local values, ids, missing = {}, {}, {} -- missing: ids without the field (or its USD value)
  for i = 1, #list do
    local value = scores[i] and tonumber(scores[i])
    if value and sortKind == 'usd' then value = usdOf(list[i], value) end
    if value then
      values[#values + 1] = value
      ids[#ids + 1] = list[i]
    else
      missing[#missing + 1] = list[i]
    end
  end
  local withField = #values
  local asc = direction == 'asc'

  -- Only the best offset + limit values (and every tie of the last of them) can reach the
  -- page: find that value on a sorted copy of plain numbers, then order only those entries.
  local wanted = offset + limit
  local cut = nil
  if withField > wanted then
    local sorted = {}
    for i = 1, withField do sorted[i] = values[i] end
    table.sort(sorted)
    cut = asc and sorted[wanted] or sorted[withField - wanted + 1]
  end
  local entries = {} -- { value, id }
  for i = 1, withField do
    local v = values[i]
    if cut == nil or (asc and v <= cut) or (not asc and v >= cut) then entries[#entries + 1] = { v, ids[i] } end
  end
  if asc then
    table.sort(entries, function(a, b) return a[1] < b[1] end)
  else
    table.sort(entries, function(a, b) return a[1] > b[1] end)
  end
  -- Ties by id ascending: each run of equal values sorted by id.
  local i = 1
  while i <= #entries and i <= wanted do
    local j = i
    while j < #entries and entries[j + 1][1] == entries[i][1] do j = j + 1 end
    if j > i then
      local run = {}
      for k = i, j do run[#run + 1] = entries[k] end
      table.sort(run, function(a, b) return bytesBefore(a[2], b[2]) end)
      for k = i, j do entries[k] = run[k - i + 1] end
    end
    i = j + 1
  end

  local page = {}
  for k = offset + 1, math.min(wanted, #entries) do page[#page + 1] = entries[k][2] end
  if #page < limit and #missing > 0 then
    storeMembers(tailKey, missing)
    local start = math.max(0, offset - withField)
    local tail = redis.call('ZRANGE', tailKey, start, start + (limit - #page) - 1)
    for k = 1, #tail do page[#page + 1] = tail[k] end
  end
  return page
end

local function listedPage()
  if plan ~= 'auto' or sortKind == 'lex' then return nil end
  local list, used
  if idList then
    list, used = idMatches(), 'ids'
    if #list == 0 then return {}, 0, 'none' end
  elseif search ~= '' then
    local matches = indexedSearchMatches()
    if matches == nil or #matches > RANK_LIMIT then return nil end
    if #matches == 0 then return {}, 0, 'none' end
    list, used = passingAmong(matches, true), 'search'
  else
    return nil
  end
  if #list == 0 then return {}, 0, used end
  return rankedPage(list), #list, used
end

--[[ Plan "walk": for a numeric sort whose filters are exchange/base/quote sets and a search
(no numeric range, no ids: those start from the ids), count the matches and read the page by walking the sort index in order,
testing the ids of each chunk read, instead of materializing the intersection. Without a
search the count is ZINTERCARD's and the test one ZMSCORE per filter key and chunk; with one,
the search index's matches (narrowed by the filters the same way) are counted and kept as a
Lua set, so the walk reads no key but the index.
Returns nil when the plan does not apply or would walk too far (the materialized plan then
runs). --]]

-- Markets in every group: the sum over one key per group, since a market has exactly one
-- exchange, one base and one quote, so the keys of a group are disjoint.
local function countMatches()
  local combinations = 1
  for _, group in ipairs(groups) do combinations = combinations * #group end
  if combinations > MAX_COMBINATIONS then return nil end
  local total, pick = 0, {}
  local function count(g)
    if g > #groups then
      -- Memberships change only when a market is new or removed, and those scripts delete
      -- the cache, so a cached count is exact; ZINTERCARD costs O(smallest set) otherwise.
      local field = table.concat(pick, ' ')
      local cached = redis.call('HGET', filterCountsKey, field)
      if cached then
        total = total + tonumber(cached)
      else
        local n = redis.call('ZINTERCARD', #pick, unpack(pick))
        if redis.call('HLEN', filterCountsKey) >= MAX_FILTER_COUNTS then redis.call('DEL', filterCountsKey) end
        redis.call('HSET', filterCountsKey, field, n)
        total = total + n
      end
      return
    end
    for _, key in ipairs(groups[g]) do
      pick[g] = key
      count(g + 1)
    end
  end
  count(1)
  return total
end

-- Markets of quote `q` whose USD value of `unit` lies in [low, high]: ZCOUNT within the widened
-- bounds, less the entries near each bound that fail the exact test.
local function usdCount(q, unit, low, high)
  if low > high then return 0 end
  local key = q.unitKeys[unit]
  local lo, hi, loIn, hiIn = looseBounds(low, high, q.rate)
  -- The entries in [from, to] whose USD value is out of bounds.
  local function failing(from, to)
    local edge, n = redis.call('ZRANGE', key, scoreText(from), scoreText(to), 'BYSCORE', 'WITHSCORES'), 0
    for i = 2, #edge, 2 do
      local value = tonumber(edge[i]) * q.rate
      if value < low or value > high then n = n + 1 end
    end
    return n
  end
  local n = redis.call('ZCOUNT', key, scoreText(lo), scoreText(hi))
  if hiIn <= loIn then return n - failing(lo, hi) end -- the two edges meet: check them all once
  if low > -math.huge then n = n - failing(lo, loIn) end
  if high < math.huge then n = n - failing(hiIn, hi) end
  return n
end

-- The quote assets with a rate that the quote filter lets through (all of them without one).
local function ratedInQuoteFilter()
  local inQuoteFilter = {}
  for _, key in ipairs(quoteGroup or {}) do inQuoteFilter[key] = true end
  local rated = {}
  for _, q in ipairs(quoteList) do
    if q.rate and (quoteGroup == nil or inQuoteFilter[q.setKey]) then rated[#rated + 1] = q end
  end
  return rated
end

-- The USD bounds as one interval on one field: unit, low, high; nil when they bound two fields.
local function usdInterval()
  local unit, low, high = usdRanges[1].unit, -math.huge, math.huge
  for _, range in ipairs(usdRanges) do
    if range.unit ~= unit then return nil end
    low, high = math.max(low, range.low), math.min(high, range.high)
  end
  return unit, low, high
end

-- The number of markets within the USD bounds, counted off the per-quote indexes (usdCount per
-- quote asset); nil when it cannot be: bounds on two fields, an exchange or base filter, or
-- incomplete per-quote indexes.
local function usdRangeTotal()
  local unit, low, high = usdInterval()
  if unit == nil or not complete(unit) then return nil end
  for _, group in ipairs(groups) do
    if group ~= quoteGroup then return nil end
  end
  local total = 0
  for _, q in ipairs(ratedInQuoteFilter()) do total = total + usdCount(q, unit, low, high) end
  return total
end

-- The members of a list whose symbol holds the search text, in order.
local function withText(list)
  return keepIf(list, function(i) return hasText(list[i]) end)
end

-- The total and the test the walk applies to each list of index entries it reads (returning
-- the members that match, in order); nil when the plan does not fit.
local function walkFilter()
  if #usdRanges > 0 then
    -- USD bounds (with at most a quote filter): counted per quote asset, tested per chunk.
    if search ~= '' then return nil end
    local total = usdRangeTotal()
    if total == nil then return nil end
    return total, function(list) return passingAmong(list, true) end
  end
  if search == '' then
    local total = countMatches()
    return total, inEveryGroup
  end
  if #groups == 0 then
    -- A text that is its own run: its entries in the search index are the matches, counted natively.
    local run, count = rarestRun()
    if run ~= nil and #run == #search then return count, withText end
  end
  local matches = indexedSearchMatches()
  if matches == nil then return nil end
  if #groups == 0 then return #matches, withText end
  local wanted = {}
  local narrowed = inEveryGroup(matches)
  for _, id in ipairs(narrowed) do wanted[id] = true end
  return #narrowed, function(list) return keepIf(list, function(i) return wanted[list[i]] == true end) end
end

--[[ Reads about `n` entries of the zset `key` (of `size` entries) from rank `pos` on, in page
order with ties by id ascending; returns their ids, their scores (strings) and the rank after
them. Ascending index order already breaks ties by id. Descending: runs of equal scores come
in descending id order, so each run is reversed, and a run that reaches the end of the chunk
is read whole (ZRANGE ... BYSCORE), as it may continue beyond it. Invariant: `pos` is the
first element of a tie group. --]]
local function readInOrder(key, pos, n, size)
  local ids, scores = {}, {}
  if direction == 'asc' then
    local chunk = redis.call('ZRANGE', key, pos, pos + n - 1, 'WITHSCORES')
    for i = 1, #chunk, 2 do ids[#ids + 1], scores[#scores + 1] = chunk[i], chunk[i + 1] end
    return ids, scores, pos + #ids
  end
  local chunk = redis.call('ZRANGE', key, pos, pos + n - 1, 'REV', 'WITHSCORES')
  local i = 1 -- chunk[i] is a member, chunk[i + 1] its score
  while i <= #chunk do
    local score, j = chunk[i + 1], i
    while j + 2 <= #chunk and chunk[j + 3] == score do j = j + 2 end
    local runLength = (j - i) / 2 + 1
    if j + 2 > #chunk and pos + runLength < size then
      local group = redis.call('ZRANGE', key, score, score, 'BYSCORE')
      for _, id in ipairs(group) do ids[#ids + 1], scores[#scores + 1] = id, score end
      pos = pos + #group
      break -- the next chunk starts after this whole tie group
    end
    for k = j, i, -2 do ids[#ids + 1], scores[#scores + 1] = chunk[k], score end
    pos = pos + runLength
    i = j + 2
  end
  return ids, scores, pos
end

local function walkPage()
  if plan ~= 'auto' or sortKind ~= 'score' or #rangeSpecs > 0 or idList or (#groups == 0 and search == '' and #usdRanges == 0) then return nil end
  local total, matching = walkFilter()
  if total == nil then return nil end
  if total == 0 then return {}, 0, 'walk' end
  local expectedWalk = (offset + limit) * redis.call('ZCARD', idsKey) / total
  if expectedWalk > WALK_BUDGET then return nil end
  if search ~= '' and expectedWalk > SEARCH_WALK_PER_MATCH * total then return nil end
  -- The estimate takes the matches to be spread evenly over the index; they may cluster at its
  -- far end (BTC-quoted markets sort last by quote volume). A walk that reads past twice the
  -- estimate gives up for the materialized plan, so a wrong guess costs at most that much.
  local walkLimit = math.max(2 * expectedWalk, WALK_CHUNK)

  local page, matched = {}, 0
  -- Offers index entries in order (whole tie groups, each in id order), tested WALK_CHUNK at a
  -- time so that a large tie group is read no further than the page needs; true once the page
  -- is full.
  local function offer(members)
    for from = 1, #members, WALK_CHUNK do
      local slice = { unpack(members, from, math.min(from + WALK_CHUNK - 1, #members)) }
      for _, id in ipairs(matching(slice)) do
        matched = matched + 1
        if matched > offset then
          page[#page + 1] = id
          if #page == limit or matched == total then return true end
        end
      end
    end
    return matched == total
  end

  local pos, size = 0, redis.call('ZCARD', sortKey)
  while pos < size do
    if pos >= walkLimit then return nil end
    local ordered, _, nextPos = readInOrder(sortKey, pos, WALK_CHUNK, size)
    pos = nextPos
    if offer(ordered) then return page, total, 'walk' end
  end
  -- The index ran out first: some matches lack the sort field. Those come last by id,
  -- which the materialized plan handles.
  return nil
end

--[[ Plan "merge": a USD sort whose filters are exchange/base/quote sets, or USD bounds on the
sorted field with at most a quote filter. Each quote asset with a rate has its own index of
the field in its own units, whose order is its USD order too (one rate per quote asset), so
the page is a k-way merge of those indexes, each read in page order a few entries at a time
(8, doubling up to 256), the next entry always the best head by USD value, then id. Exchange
and base filters are tested on each chunk read (ZMSCORE per key); USD bounds start each index
at the widened bound (ZCOUNT) and are checked exactly on every entry. O(quotes x log N + P)
reads when the filters are dense. Like the walk, it gives up for the materialized plan when
its expected length is over WALK_BUDGET or it reads twice that, and when the page reaches the
markets without a USD value (they follow by id, which the materialized plan handles).
Returns nil when the plan does not apply. --]]
local MERGE_FIRST_CHUNK, MERGE_MAX_CHUNK = 8, 256

local function mergePage()
  if plan ~= 'auto' or sortKind ~= 'usd' or search ~= '' or idList or #rangeSpecs > 0 then return nil end
  local others = {} -- the exchange and base groups
  for _, group in ipairs(groups) do
    if group ~= quoteGroup then others[#others + 1] = group end
  end
  if not complete(usdSort) then return nil end
  local merged = ratedInQuoteFilter()
  local low, high = -math.huge, math.huge
  local total
  if #usdRanges > 0 then
    local unit
    unit, low, high = usdInterval()
    if unit ~= usdSort then return nil end
    total = usdRangeTotal()
    if total == nil then return nil end
  elseif #groups == 0 then
    total = redis.call('ZCARD', idsKey)
  else
    total = countMatches()
    if total == nil then return nil end
  end
  if total == 0 then return {}, 0, 'merge' end
  local budget = math.huge
  if #others > 0 then
    local expected = (offset + limit) * redis.call('ZCARD', idsKey) / total
    if expected > WALK_BUDGET then return nil end
    budget = math.max(2 * expected, WALK_CHUNK)
  end

  local asc = direction == 'asc'
  local cursors = {}
  for _, q in ipairs(merged) do
    local key = q.unitKeys[usdSort]
    local c = { q = q, key = key, size = redis.call('ZCARD', key), pos = 0, chunk = MERGE_FIRST_CHUNK, buf = {}, at = 1, sortedTo = 0, done = false }
    if low > -math.huge or high < math.huge then
      local lo, hi = looseBounds(low, high, q.rate)
      if asc and low > -math.huge then c.pos = redis.call('ZCOUNT', key, '-inf', '(' .. scoreText(lo)) end
      if not asc and high < math.huge then c.pos = redis.call('ZCOUNT', key, '(' .. scoreText(hi), '+inf') end
    end
    cursors[#cursors + 1] = c
  end

  local read = 0
  -- Reads the cursor's next entries onto its buffer ({ usd value, id }, in page order by USD
  -- value); false when the merge went over its budget.
  local function readMore(c)
    if c.done or c.pos >= c.size then
      c.done = true
      return true
    end
    if read >= budget then return false end
    local ids, scores, nextPos = readInOrder(c.key, c.pos, c.chunk, c.size)
    read = read + #ids
    c.pos, c.chunk = nextPos, math.min(2 * c.chunk, MERGE_MAX_CHUNK)
    local scoreOf = {}
    for i = 1, #ids do scoreOf[ids[i]] = scores[i] end
    for _, id in ipairs(#others > 0 and inEveryGroup(ids, others) or ids) do
      local value = tonumber(scoreOf[id]) * c.q.rate
      if (asc and value > high) or (not asc and value < low) then
        c.done = true -- every later entry is further out
        break
      end
      if value >= low and value <= high then c.buf[#c.buf + 1] = { value, id } end
    end
    return true
  end

  -- The cursor's next entry; nil when it has no more, false when the merge went over its
  -- budget. Different values of one quote asset can round to the same USD value (values a
  -- few units apart in their last digits): such a run is read whole and put in id order, as
  -- equal values are everywhere else.
  local function head(c)
    if c.at > #c.buf then c.buf, c.at, c.sortedTo = {}, 1, 0 end
    while c.at > #c.buf and not c.done do
      if not readMore(c) then return false end
    end
    local entry = c.buf[c.at]
    if entry == nil then return nil end
    if c.at > c.sortedTo then
      while not c.done and c.buf[#c.buf][1] == entry[1] do
        if not readMore(c) then return false end
      end
      local last = c.at
      while last < #c.buf and c.buf[last + 1][1] == entry[1] do last = last + 1 end
      if last > c.at then
        local run = { unpack(c.buf, c.at, last) }
        table.sort(run, function(a, b) return bytesBefore(a[2], b[2]) end)
        for k = 1, #run do c.buf[c.at + k - 1] = run[k] end
      end
      c.sortedTo = last
    end
    return c.buf[c.at]
  end

  local page, matched = {}, 0
  while #page < limit and matched < total do
    local best, bestCursor = nil, nil
    for _, c in ipairs(cursors) do
      local entry = head(c)
      if entry == false then return nil end
      if entry and (best == nil or (asc and entry[1] < best[1]) or (not asc and entry[1] > best[1])
          or (entry[1] == best[1] and bytesBefore(entry[2], best[2]))) then
        best, bestCursor = entry, c
      end
    end
    if best == nil then
      -- Every market with a USD value is placed; the rest (without one) follow by id.
      if #usdRanges > 0 then break end
      return nil
    end
    bestCursor.at = bestCursor.at + 1
    matched = matched + 1
    if matched > offset then page[#page + 1] = best[2] end
  end
  return page, total, 'merge'
end

local function run()
  local err = parseFilters()
  if err then return fail(err) end
  if emptyGroup then return { 0, 'none' } end

  local page, total, used = listedPage()
  if page == nil then page, total, used = mergePage() end
  if page == nil then page, total, used = walkPage() end
  if page == nil then
    page, total, used = materializedPage()
    if page == nil then return { 0, 'none' } end
  end

  local result = { total, used }
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
dropParts()
if not ok then error(result) end
return result
