--[[
upsertMarkets: writes a batch of full market states, keeps every index in step and publishes
each applied state on the market's channel. One call per ingest batch.

Key count: variable (`-n`): 11 fixed keys, then 3 per market.
  KEYS[1]        market hash            id -> market JSON
  KEYS[2]        ids zset               every id, score 0
  KEYS[3..8]     numeric index zsets    price, changePercent24h, volume24h, quoteVolume24h,
                                         spreadPercent, updatedAt (this order)
  KEYS[9]        symbol index zset      "<symbol>\0<id>", score 0
  KEYS[10]       exchanges set          exchange ids with markets
  KEYS[11]       search index zset      "<trigram>\0<id>" per 3-byte run of the symbol, score 0
  KEYS[9+3i..]   for market i (1-based): its exchange zset, base zset, quote zset

ARGV: 11 per market, in the order of the markets' keys:
  id, exchange id, symbol-index member, channel, market JSON,
  then the 6 numeric index values in KEYS[3..8] order, each a decimal string
  or "" for null (the market then leaves that index). The updatedAt value is never "".

A market whose stored updatedAt is newer than the incoming one is left as it is (another
process, or a replayed frame, already wrote a later state): event time only moves forward.
A market named twice in one call is compared with its earlier state in the call.

Cost: the commands are issued per index, not per market (one ZMSCORE, one HSET, one ZADD and
at most one ZREM per index), plus one PUBLISH per applied market and the membership and
search-index writes of markets new to Redis: each redis.call from Lua costs far more than one more member of a
variadic one. At most 1,000 markets per call, so every variadic command stays far below the
stack limit of Lua's unpack().

Returns: { applied, skipped } (integers).
Errors:  "ERR upsertMarkets: ..." when KEYS and ARGV do not describe the same markets, or
         describe more than 1,000.
--]]

local FIXED_KEYS = 11
local INDEXES = 6
local STRIDE = 5 + INDEXES
local UPDATED_AT = 6 -- position of updatedAt among the index values
local MAX_MARKETS = 1000
local CHUNK = 1000 -- members per variadic command where a market may add many

local count = #ARGV / STRIDE
if count ~= math.floor(count) or #KEYS ~= FIXED_KEYS + 3 * count then
  return redis.error_reply('ERR upsertMarkets: ' .. #KEYS .. ' keys and ' .. #ARGV .. ' args do not describe whole markets')
end
if count > MAX_MARKETS then
  return redis.error_reply('ERR upsertMarkets: ' .. count .. ' markets in one call; at most ' .. MAX_MARKETS)
end
if count == 0 then
  return { 0, 0 }
end

local marketKey, idsKey, symbolIndexKey, exchangesKey, searchIndexKey = KEYS[1], KEYS[2], KEYS[9], KEYS[10], KEYS[11]
local updatedAtKey = KEYS[2 + UPDATED_AT]
local applied, skipped = 0, 0
-- id -> event time applied earlier in this call
local taken = {}

local ids = {}
for i = 0, count - 1 do
  ids[#ids + 1] = ARGV[i * STRIDE + 1]
end
local storedTimes = redis.call('ZMSCORE', updatedAtKey, unpack(ids))

-- Decide each market; the last applied state of an id is the one its indexes get.
local hset, publish, newMarkets, chosen, order = {}, {}, {}, {}, {}
for i = 0, count - 1 do
  local a = i * STRIDE
  local id = ARGV[a + 1]
  local incoming = tonumber(ARGV[a + 5 + UPDATED_AT])
  local stored = taken[id]
  local isNew = false
  if stored == nil then
    local s = storedTimes[i + 1]
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
    local value = ARGV[i * STRIDE + 5 + j]
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

-- ZADD of score-0 members, CHUNK at a time (a market adds one member per symbol byte).
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
  local idMembers, symbolMembers, exchanges, trigrams = {}, {}, {}, {}
  for n = 1, #newMarkets do
    local i = newMarkets[n]
    local a = i * STRIDE
    local id = ARGV[a + 1]
    local k = FIXED_KEYS + 3 * i
    idMembers[#idMembers + 1] = 0
    idMembers[#idMembers + 1] = id
    symbolMembers[#symbolMembers + 1] = 0
    symbolMembers[#symbolMembers + 1] = ARGV[a + 3]
    exchanges[#exchanges + 1] = ARGV[a + 2]
    -- The symbol is the symbol-index member up to its "\0" separator.
    local member = ARGV[a + 3]
    local symbol = string.sub(member, 1, (string.find(member, '\0', 1, true) or (#member + 1)) - 1)
    for from = 1, #symbol - 2 do
      trigrams[#trigrams + 1] = string.sub(symbol, from, from + 2) .. '\0' .. id
    end
    redis.call('ZADD', KEYS[k + 1], 0, id)
    redis.call('ZADD', KEYS[k + 2], 0, id)
    redis.call('ZADD', KEYS[k + 3], 0, id)
  end
  redis.call('ZADD', idsKey, unpack(idMembers))
  redis.call('ZADD', symbolIndexKey, unpack(symbolMembers))
  redis.call('SADD', exchangesKey, unpack(exchanges))
  addMembers(searchIndexKey, trigrams)
end

for n = 1, #publish do
  local a = publish[n] * STRIDE
  redis.call('PUBLISH', ARGV[a + 4], ARGV[a + 5])
end

return { applied, skipped }
