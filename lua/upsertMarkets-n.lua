--[[
upsertMarkets: writes a batch of full market states, keeps every index in step and publishes
each applied state on the market's channel. One call per ingest batch.

Key count: variable (`-n`): 10 fixed keys, then 3 per market.
  KEYS[1]        market hash            id -> market JSON
  KEYS[2]        ids zset               every id, score 0
  KEYS[3..8]     numeric index zsets    price, changePercent24h, volume24h, quoteVolume24h,
                                         spreadPercent, updatedAt (this order)
  KEYS[9]        symbol index zset      "<symbol>\0<id>", score 0
  KEYS[10]       exchanges set          exchange ids with markets
  KEYS[8+3i..]   for market i (1-based): its exchange zset, base zset, quote zset

ARGV: 11 per market, in the order of the markets' keys:
  id, exchange id, symbol-index member, channel, market JSON,
  then the 6 numeric index values in KEYS[3..8] order, each a decimal string
  or "" for null (the market then leaves that index). The updatedAt value is never "".

A market whose stored updatedAt is newer than the incoming one is left as it is (another
process, or a replayed frame, already wrote a later state): event time only moves forward.

Returns: { applied, skipped } (integers).
Errors:  "ERR upsertMarkets: ..." when KEYS and ARGV do not describe the same markets.
--]]

local FIXED_KEYS = 10
local INDEXES = 6
local STRIDE = 5 + INDEXES
local UPDATED_AT = 6 -- position of updatedAt among the index values

local count = #ARGV / STRIDE
if count ~= math.floor(count) or #KEYS ~= FIXED_KEYS + 3 * count then
  return redis.error_reply('ERR upsertMarkets: ' .. #KEYS .. ' keys and ' .. #ARGV .. ' args do not describe whole markets')
end

local marketKey, idsKey, symbolIndexKey, exchangesKey = KEYS[1], KEYS[2], KEYS[9], KEYS[10]
local updatedAtKey = KEYS[2 + UPDATED_AT]
local applied, skipped = 0, 0

for i = 0, count - 1 do
  local a = i * STRIDE
  local id, exchange, symbolMember, channel, json = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local incoming = tonumber(ARGV[a + 5 + UPDATED_AT])
  local stored = redis.call('ZSCORE', updatedAtKey, id)

  if stored and tonumber(stored) > incoming then
    skipped = skipped + 1
  else
    -- HSET answers 1 only for a new field: membership never changes for an existing id
    -- (exchange, base and quote are part of its identity), so it is written once.
    if redis.call('HSET', marketKey, id, json) == 1 then
      local k = FIXED_KEYS + 3 * i
      redis.call('ZADD', idsKey, 0, id)
      redis.call('ZADD', symbolIndexKey, 0, symbolMember)
      redis.call('ZADD', KEYS[k + 1], 0, id)
      redis.call('ZADD', KEYS[k + 2], 0, id)
      redis.call('ZADD', KEYS[k + 3], 0, id)
      redis.call('SADD', exchangesKey, exchange)
    end
    for j = 1, INDEXES do
      local value = ARGV[a + 5 + j]
      if value == '' then
        redis.call('ZREM', KEYS[2 + j], id)
      else
        redis.call('ZADD', KEYS[2 + j], value, id)
      end
    end
    redis.call('PUBLISH', channel, json)
    applied = applied + 1
  end
end

return { applied, skipped }
