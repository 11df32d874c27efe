--[[
removeMarkets: removes markets from the live state: each one's JSON and every entry
upsertMarkets wrote for it (ids, the numeric indexes, the symbol index, the search index, its
exchange, base and quote sets, its quote's price and quoteVolume24h indexes), an exchange id
from the exchanges set with the last market of that exchange, and a quote asset from the
quotes zset with the last market quoted in it.

With a guard (the leftover sweep, src/redis/coverage.ts) it removes only the markets no live
ingesting process covers, and only while every process in the registry is one the caller
passed: a process that registered after the caller read the registry has its coverage set in
no KEYS, so the call is refused and the caller reads again. A passed process is live while its
marker key exists; a dead one is dropped from the registry and its coverage set deleted.

The guard also leaves alone every market of a feed in the middle of a takeover: a feed whose
lease (lua/acquireLease-3.lua) is held by a process that has not yet published its coverage
of this tenure (the member "\0<lease value>" of its coverage set), or a feed with no lease
whose holder trace has not expired yet (between two tenures: the last holder stopped, lost
the lease or died, and a standby has not taken it over yet). Such a feed's markets are
decided by its next holder's coverage. Markets of a feed with neither lease nor trace (no
process has ingested it for a while) are leftovers like any other.

Key count: variable (`-n`): 13 fixed keys, then with a guard 1 + 2 per process + 2 per
exchange, then 5 per market.
  KEYS[1]        market hash            id -> market JSON
  KEYS[2]        ids zset               every id, score 0
  KEYS[3..8]     numeric index zsets    in upsertMarkets' order
  KEYS[9]        symbol index zset      "<symbol>\0<id>", score 0
  KEYS[10]       exchanges set          exchange ids with markets or health reports
  KEYS[11]       search index zset      "<run>\0<id>" per 3-byte and 2-byte run of the symbol,
                                         and "\1\0<id>" (upsertMarkets writes them), score 0
  KEYS[12]       filter counts hash     queryMarkets' cached filter-set counts; deleted with any removal
  KEYS[13]       quotes zset            quote asset codes with markets
  with a guard of g processes:
  KEYS[14]       ingesters set          the registry of ingesting processes
  KEYS[13+2j], KEYS[14+2j]              for process j (1-based): its marker key, its coverage set
  and after them, for exchange x (1-based) of the guard: its lease, its holder trace
  then for market i (0-based), at KEYS[c+5i+1..c+5i+5] (c = the keys above): its exchange
  zset, base zset, quote zset, its quote's price index and quoteVolume24h index

ARGV:
  ARGV[1]        g, the number of processes in the guard, or -1 for no guard (remove every
                 named market)
  ARGV[2..1+g]   their instance ids, in the order of their keys
  with a guard, ARGV[2+g] = e, the number of exchanges in the guard, then their ids
  (ARGV[3+g..2+g+e]), in the order of their keys: every exchange of the markets named (a
  market of an exchange not named is left alone)
  then 3 per market, in the order of its keys: id, exchange id, symbol-index member
  ("<symbol>\0<id>", as upsertMarkets took it).

The caller derives each market's keys and members from its stored JSON before the call; they
still hold in the call because exchange, base, quote and symbol never change for an id. A
market not in the ids zset, or named a second time, is skipped.

Cost: one ZMSCORE, one SMISMEMBER per live process of the guard, two or three commands per
exchange of the guard, one command per index for all the markets, and five ZREMs per
removed market. At most 1,000 markets per call.

Returns: { 1, id, ... }: the ids removed; or { 0 } when the guard refused (nothing changed).
Errors:  "ERR removeMarkets: ..." when KEYS and ARGV do not describe a guard and whole markets,
         or describe more than 1,000 markets.
--]]

local FIXED_KEYS = 13
local SET_KEYS = 5 -- per market
local INDEXES = 6
local STRIDE = 3
local MAX_MARKETS = 1000
local CHUNK = 1000 -- members per variadic command where a market may add many

local processes = tonumber(ARGV[1] or '')
if processes == nil or processes ~= math.floor(processes) or processes < -1 then
  return redis.error_reply('ERR removeMarkets: ARGV[1] must be the number of guard processes or -1, got ' .. tostring(ARGV[1]))
end
local guarded = processes >= 0
local exchangeCount = 0
if guarded then
  exchangeCount = tonumber(ARGV[2 + processes] or '')
  if exchangeCount == nil or exchangeCount ~= math.floor(exchangeCount) or exchangeCount < 0 then
    return redis.error_reply('ERR removeMarkets: ' .. #KEYS .. ' keys and ' .. #ARGV .. ' args do not describe a guard and whole markets (no exchange count after the processes)')
  end
end
local guardKeys = guarded and 1 + 2 * processes + 2 * exchangeCount or 0
local firstArg = guarded and 3 + processes + exchangeCount or 2
local count = (#ARGV - firstArg + 1) / STRIDE
if count < 0 or count ~= math.floor(count) or #KEYS ~= FIXED_KEYS + guardKeys + SET_KEYS * count then
  return redis.error_reply('ERR removeMarkets: ' .. #KEYS .. ' keys and ' .. #ARGV .. ' args do not describe a guard and whole markets')
end
if count > MAX_MARKETS then
  return redis.error_reply('ERR removeMarkets: ' .. count .. ' markets in one call; at most ' .. MAX_MARKETS)
end

local marketKey, idsKey, symbolIndexKey, exchangesKey, searchIndexKey = KEYS[1], KEYS[2], KEYS[9], KEYS[10], KEYS[11]
local filterCountsKey, quotesKey = KEYS[12], KEYS[13]

-- The guard: refuse if the registry holds a process the caller did not pass; otherwise keep
-- the coverage sets of the live ones and drop the dead ones.
local coverageKeys = {}
-- exchange id -> true when its markets may go (outside a takeover); unnamed ones may not
local settled = {}
if guarded then
  local registryKey = KEYS[FIXED_KEYS + 1]
  local passed = {}
  for j = 1, processes do
    passed[ARGV[1 + j]] = true
  end
  local registered = redis.call('SMEMBERS', registryKey)
  for n = 1, #registered do
    if not passed[registered[n]] then
      return { 0 }
    end
  end
  -- instance -> coverage key, for the live ones
  local liveCoverage = {}
  for j = 1, processes do
    local markerKey, coverageKey = KEYS[FIXED_KEYS + 2 * j], KEYS[FIXED_KEYS + 2 * j + 1]
    if redis.call('EXISTS', markerKey) == 1 then
      coverageKeys[#coverageKeys + 1] = coverageKey
      liveCoverage[ARGV[1 + j]] = coverageKey
    else
      redis.call('SREM', registryKey, ARGV[1 + j])
      redis.call('DEL', coverageKey)
    end
  end
  for x = 1, exchangeCount do
    local leaseKey, traceKey = KEYS[FIXED_KEYS + 2 * processes + 2 * x], KEYS[FIXED_KEYS + 2 * processes + 2 * x + 1]
    local lease = redis.call('GET', leaseKey)
    local free
    if lease then
      -- Held: settled once the holder's coverage carries this tenure's lease value.
      local coverageKey = liveCoverage[string.match(lease, '^%d+:(.*)$') or '']
      free = coverageKey ~= nil and redis.call('SISMEMBER', coverageKey, '\0' .. lease) == 1
    else
      free = redis.call('EXISTS', traceKey) == 0
    end
    if free then
      settled[ARGV[2 + processes + x]] = true
    end
  end
end

if count == 0 then
  return { 1 }
end

local ids = {}
for i = 0, count - 1 do
  ids[#ids + 1] = ARGV[firstArg + i * STRIDE]
end
local present = redis.call('ZMSCORE', idsKey, unpack(ids))
local covered = {}
for n = 1, #coverageKeys do
  local members = redis.call('SMISMEMBER', coverageKeys[n], unpack(ids))
  for i = 1, count do
    if members[i] == 1 then
      covered[i] = true
    end
  end
end

-- The search index's entries of one market, as upsertMarkets writes them: every 3-byte and
-- 2-byte run of its symbol, and the mark that its 2-byte runs are there. Removing an entry a
-- market written by an older version never had is harmless.
local SHORT_RUNS_MARK = '\1'
local function addSearchEntries(out, symbol, id)
  for from = 1, #symbol - 2 do out[#out + 1] = string.sub(symbol, from, from + 2) .. '\0' .. id end
  for from = 1, #symbol - 1 do out[#out + 1] = string.sub(symbol, from, from + 1) .. '\0' .. id end
  out[#out + 1] = SHORT_RUNS_MARK .. '\0' .. id
end

local removed, symbolMembers, searchEntries, taken = {}, {}, {}, {}
-- Exchanges and quote assets that lost a market, each once, with its exchange / quote zset.
local exchanges, exchangeKeys, quotes, quoteKeys = {}, {}, {}, {}
for i = 0, count - 1 do
  local a = firstArg + i * STRIDE
  local id = ARGV[a]
  if present[i + 1] and not covered[i + 1] and not taken[id] and (not guarded or settled[ARGV[a + 1]]) then
    taken[id] = true
    removed[#removed + 1] = id
    local member = ARGV[a + 2]
    symbolMembers[#symbolMembers + 1] = member
    -- The symbol is the member up to "\0".
    addSearchEntries(searchEntries, string.sub(member, 1, (string.find(member, '\0', 1, true) or (#member + 1)) - 1), id)
    local k = FIXED_KEYS + guardKeys + SET_KEYS * i
    for s = 1, SET_KEYS do redis.call('ZREM', KEYS[k + s], id) end
    local exchange = ARGV[a + 1]
    if exchangeKeys[exchange] == nil then
      exchanges[#exchanges + 1] = exchange
      exchangeKeys[exchange] = KEYS[k + 1]
    end
    local quote = string.match(id, '/([^/]*)$') -- the id ends with "/<QUOTE>" (src/market.ts)
    if quote and quoteKeys[quote] == nil then
      quotes[#quotes + 1] = quote
      quoteKeys[quote] = KEYS[k + 3]
    end
  end
end

if #removed == 0 then
  return { 1 }
end

redis.call('HDEL', marketKey, unpack(removed))
redis.call('DEL', filterCountsKey) -- the filter sets' intersections changed
redis.call('ZREM', idsKey, unpack(removed))
for j = 1, INDEXES do
  redis.call('ZREM', KEYS[2 + j], unpack(removed))
end
redis.call('ZREM', symbolIndexKey, unpack(symbolMembers))
for from = 1, #searchEntries, CHUNK do
  redis.call('ZREM', searchIndexKey, unpack(searchEntries, from, math.min(from + CHUNK - 1, #searchEntries)))
end
for n = 1, #exchanges do
  if redis.call('ZCARD', exchangeKeys[exchanges[n]]) == 0 then
    redis.call('SREM', exchangesKey, exchanges[n])
  end
end
for n = 1, #quotes do
  if redis.call('ZCARD', quoteKeys[quotes[n]]) == 0 then
    redis.call('ZREM', quotesKey, quotes[n])
  end
end

return { 1, unpack(removed) }
