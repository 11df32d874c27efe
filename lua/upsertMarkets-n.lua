--[[
upsertMarkets: writes a batch of full market states, keeps every index in step and publishes
each applied state on the market's channel. One call per ingest batch. Fenced: a market of a
feed whose lease the caller no longer holds is not written.

Key count: variable (`-n`): 13 fixed keys, then 1 per fenced feed, then 5 per market.
  KEYS[1]        market hash            id -> market JSON
  KEYS[2]        ids zset               every id, score 0
  KEYS[3..8]     numeric index zsets    price, changePercent24h, volume24h, quoteVolume24h,
                                         spreadPercent, updatedAt (this order)
  KEYS[9]        symbol index zset      "<symbol>\0<id>", score 0
  KEYS[10]       exchanges set          exchange ids with markets
  KEYS[11]       search index zset      "<run>\0<id>" per 3-byte and 2-byte run of the symbol,
                                         and "\1\0<id>" marking a market that has its 2-byte runs;
                                         score 0
  KEYS[12]       filter counts hash     queryMarkets' cached filter-set counts; deleted when a
                                         market new to Redis joins its filter sets
  KEYS[13]       quotes zset            every quote asset code with markets, score 0
  KEYS[13+j]     for fenced feed j (1-based, f of them): its lease (lua/acquireLease-3.lua)
  KEYS[14+f+5i..] for market i (0-based): its exchange zset, base zset, quote zset, then its
                 quote's price index and quoteVolume24h index (the USD sorts' per-quote indexes)

ARGV:
  ARGV[1]        f, the number of fenced feeds (0: nothing is fenced)
  ARGV[2j], ARGV[2j+1]  for fenced feed j: its exchange id and the lease value the caller
                 holds ("<token>:<instance>")
  then 11 per market, in the order of the markets' keys:
  id, exchange id, symbol-index member, channel, market JSON,
  then the 6 numeric index values in KEYS[3..8] order, each a decimal string
  or "" for null (the market then leaves that index). The updatedAt value is never "".

Fencing: a market of a fenced feed whose lease does not hold exactly the value the caller
holds (it expired, or another process took the feed over: a new token) is not written at
all, whatever it holds; a process that was paused or cut off past its lease writes nothing
once another has the feed. Markets of feeds not named are written unfenced. One MGET.

A market whose stored updatedAt is newer than the incoming one is left as it is (another
process, or a replayed frame, already wrote a later state): event time only moves forward.
A market named twice in one call is compared with its earlier state in the call.

Every applied market is also filed in its quote's price and quoteVolume24h indexes (left out
where the value is null), and its quote asset in the quotes zset: one ZADD per call for all
of them, so a state written by a version without that zset gets it at its next write.

Cost: the commands are issued per index, not per market (one ZMSCORE, one HSET, one ZADD and
at most one ZREM per index), plus one PUBLISH per applied market and the membership and
search-index writes of markets new to Redis: each redis.call from Lua costs far more than one more member of a
variadic one. At most 1,000 markets per call, so every variadic command stays far below the
stack limit of Lua's unpack().

Returns: { applied, skipped, fenced, exchange, ... }: markets written, markets left alone
         because Redis held a later state, markets not written because their feed's lease is
         not the caller's, then the exchange id of each such feed (integers, then strings).
Errors:  "ERR upsertMarkets: ..." when KEYS and ARGV do not describe fenced feeds and whole
         markets, or describe more than 1,000 markets.
--]]

local FIXED_KEYS = 13
local SET_KEYS = 5 -- per market
local INDEXES = 6
local STRIDE = 5 + INDEXES
local UPDATED_AT = 6 -- position of updatedAt among the index values
local MAX_MARKETS = 1000
local CHUNK = 1000 -- members per variadic command where a market may add many

local fencedFeeds = tonumber(ARGV[1] or '')
if fencedFeeds == nil or fencedFeeds < 0 or fencedFeeds ~= math.floor(fencedFeeds) then
  return redis.error_reply('ERR upsertMarkets: ARGV[1] must be the number of fenced feeds, got ' .. tostring(ARGV[1]))
end
local FIRST = 2 + 2 * fencedFeeds -- ARGV index of the first market's first argument
local MARKET_KEYS = FIXED_KEYS + fencedFeeds -- KEYS before the first market's
local count = (#ARGV - FIRST + 1) / STRIDE
if count < 0 or count ~= math.floor(count) or #KEYS ~= MARKET_KEYS + SET_KEYS * count then
  return redis.error_reply('ERR upsertMarkets: ' .. #KEYS .. ' keys and ' .. #ARGV .. ' args do not describe fenced feeds and whole markets')
end
if count > MAX_MARKETS then
  return redis.error_reply('ERR upsertMarkets: ' .. count .. ' markets in one call; at most ' .. MAX_MARKETS)
end
if count == 0 then
  return { 0, 0, 0 }
end

-- The fence: exchange id -> true for each named feed whose lease is not the caller's.
local fenced, fencedIds = {}, {}
if fencedFeeds > 0 then
  local leaseKeys = {}
  for j = 1, fencedFeeds do
    leaseKeys[j] = KEYS[FIXED_KEYS + j]
  end
  local leases = redis.call('MGET', unpack(leaseKeys))
  for j = 1, fencedFeeds do
    if leases[j] ~= ARGV[2 * j + 1] then
      fenced[ARGV[2 * j]] = true
      fencedIds[#fencedIds + 1] = ARGV[2 * j]
    end
  end
end

local marketKey, idsKey, symbolIndexKey, exchangesKey, searchIndexKey = KEYS[1], KEYS[2], KEYS[9], KEYS[10], KEYS[11]
local filterCountsKey, quotesKey = KEYS[12], KEYS[13]
local updatedAtKey = KEYS[2 + UPDATED_AT]
local applied, skipped, fencedMarkets = 0, 0, 0
-- id -> event time applied earlier in this call
local taken = {}

-- The markets to consider: every one outside a fenced feed, as its offset in ARGV less one.
local ids, offsets = {}, {}
for i = 0, count - 1 do
  local a = FIRST - 1 + i * STRIDE
  if fenced[ARGV[a + 2]] then
    fencedMarkets = fencedMarkets + 1
  else
    offsets[#offsets + 1] = i
    ids[#ids + 1] = ARGV[a + 1]
  end
end
if #ids == 0 then
  return { 0, 0, fencedMarkets, unpack(fencedIds) }
end
local storedTimes = redis.call('ZMSCORE', updatedAtKey, unpack(ids))

-- Decide each market; the last applied state of an id is the one its indexes get.
local hset, publish, newMarkets, chosen, order = {}, {}, {}, {}, {}
for n = 1, #offsets do
  local i = offsets[n]
  local a = FIRST - 1 + i * STRIDE
  local id = ARGV[a + 1]
  local incoming = tonumber(ARGV[a + 5 + UPDATED_AT])
  local stored = taken[id]
  local isNew = false
  if stored == nil then
    local s = storedTimes[n]
    if s then
      stored = tonumber(s)
    else
      isNew = true
    end
  end
  if stored and stored > incoming then
    skipped = skipped + 1
  else
    taken[id] = incoming
    hset[#hset + 1] = id
    hset[#hset + 1] = ARGV[a + 5]
    publish[#publish + 1] = i
    -- Membership never changes for an existing id (exchange, base and quote are part of its
    -- identity), so it is written once, when the id is new to Redis.
    if isNew then
      newMarkets[#newMarkets + 1] = i
    end
    if chosen[id] == nil then
      order[#order + 1] = id
    end
    chosen[id] = i
    applied = applied + 1
  end
end

if #hset > 0 then
  redis.call('HSET', marketKey, unpack(hset))
end

for j = 1, INDEXES do
  local add, remove = {}, {}
  for n = 1, #order do
    local i = chosen[order[n]]
    local value = ARGV[FIRST - 1 + i * STRIDE + 5 + j]
    if value == '' then
      remove[#remove + 1] = order[n]
    else
      add[#add + 1] = value
      add[#add + 1] = order[n]
    end
  end
  if #add > 0 then
    redis.call('ZADD', KEYS[2 + j], unpack(add))
  end
  if #remove > 0 then
    redis.call('ZREM', KEYS[2 + j], unpack(remove))
  end
end

-- The per-quote indexes of price and quoteVolume24h (index positions 1 and 4 among the six, the
-- 4th and 5th of a market's keys): one ZADD and at most one ZREM per quote asset of the call.
for field, index in pairs({ [4] = 1, [5] = 4 }) do
  local keyOrder, adds, removes = {}, {}, {}
  for n = 1, #order do
    local i = chosen[order[n]]
    local key = KEYS[MARKET_KEYS + SET_KEYS * i + field]
    local value = ARGV[FIRST - 1 + i * STRIDE + 5 + index]
    local add = adds[key]
    if add == nil then
      keyOrder[#keyOrder + 1] = key
      add = {}
      adds[key], removes[key] = add, {}
    end
    if value == '' then
      removes[key][#removes[key] + 1] = order[n]
    else
      add[#add + 1] = value
      add[#add + 1] = order[n]
    end
  end
  for _, key in ipairs(keyOrder) do
    if #adds[key] > 0 then redis.call('ZADD', key, unpack(adds[key])) end
    if #removes[key] > 0 then redis.call('ZREM', key, unpack(removes[key])) end
  end
end

-- The quote asset of every applied market (the id ends with "/<QUOTE>", src/market.ts).
if #order > 0 then
  local quotes, seen = {}, {}
  for n = 1, #order do
    local quote = string.match(order[n], '/([^/]*)$')
    if quote and not seen[quote] then
      seen[quote] = true
      quotes[#quotes + 1] = 0
      quotes[#quotes + 1] = quote
    end
  end
  if #quotes > 0 then redis.call('ZADD', quotesKey, unpack(quotes)) end
end

-- The search index's entries of one market (lua/README.md, "Search index"): every 3-byte and
-- 2-byte run of its symbol, and the mark that its 2-byte runs are there. removeMarkets derives
-- the same entries.
local SHORT_RUNS_MARK = '\1'
local function addSearchEntries(out, symbol, id)
  for from = 1, #symbol - 2 do out[#out + 1] = string.sub(symbol, from, from + 2) .. '\0' .. id end
  for from = 1, #symbol - 1 do out[#out + 1] = string.sub(symbol, from, from + 1) .. '\0' .. id end
  out[#out + 1] = SHORT_RUNS_MARK .. '\0' .. id
end

-- The symbol of the market whose arguments start at ARGV[a + 1]: its symbol-index member up to
-- the "\0" separator.
local function symbolAt(a)
  local member = ARGV[a + 3]
  return string.sub(member, 1, (string.find(member, '\0', 1, true) or (#member + 1)) - 1)
end

-- ZADD of score-0 members, CHUNK at a time (a market adds two members per symbol byte).
local function addMembers(key, members)
  for from = 1, #members, CHUNK do
    local args = {}
    for j = from, math.min(from + CHUNK - 1, #members) do
      args[#args + 1] = 0
      args[#args + 1] = members[j]
    end
    redis.call('ZADD', key, unpack(args))
  end
end

if #newMarkets > 0 then
  local idMembers, symbolMembers, exchanges, searchEntries = {}, {}, {}, {}
  for n = 1, #newMarkets do
    local i = newMarkets[n]
    local a = FIRST - 1 + i * STRIDE
    local id = ARGV[a + 1]
    local k = MARKET_KEYS + SET_KEYS * i
    idMembers[#idMembers + 1] = 0
    idMembers[#idMembers + 1] = id
    symbolMembers[#symbolMembers + 1] = 0
    symbolMembers[#symbolMembers + 1] = ARGV[a + 3]
    exchanges[#exchanges + 1] = ARGV[a + 2]
    addSearchEntries(searchEntries, symbolAt(a), id)
    redis.call('ZADD', KEYS[k + 1], 0, id)
    redis.call('ZADD', KEYS[k + 2], 0, id)
    redis.call('ZADD', KEYS[k + 3], 0, id)
  end
  redis.call('ZADD', idsKey, unpack(idMembers))
  redis.call('ZADD', symbolIndexKey, unpack(symbolMembers))
  redis.call('SADD', exchangesKey, unpack(exchanges))
  addMembers(searchIndexKey, searchEntries)
  redis.call('DEL', filterCountsKey) -- the filter sets' intersections changed
end

-- Markets written before the search index held 2-byte runs lack them (and the mark); each gets
-- them at its next write, while the marks count fewer markets than `ids` (queryMarkets scans
-- for 2-byte searches until they are equal).
if #order > 0 and redis.call('ZLEXCOUNT', searchIndexKey, '[' .. SHORT_RUNS_MARK .. '\0', '(' .. SHORT_RUNS_MARK .. '\1') < redis.call('ZCARD', idsKey) then
  local marks = {}
  for n = 1, #order do marks[n] = SHORT_RUNS_MARK .. '\0' .. order[n] end
  local present = redis.call('ZMSCORE', searchIndexKey, unpack(marks))
  local searchEntries = {}
  for n = 1, #order do
    if not present[n] then addSearchEntries(searchEntries, symbolAt(FIRST - 1 + chosen[order[n]] * STRIDE), order[n]) end
  end
  addMembers(searchIndexKey, searchEntries)
end

for n = 1, #publish do
  local a = FIRST - 1 + publish[n] * STRIDE
  redis.call('PUBLISH', ARGV[a + 4], ARGV[a + 5])
end

return { applied, skipped, fencedMarkets, unpack(fencedIds) }
