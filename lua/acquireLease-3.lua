--[[
acquireLease: takes or keeps one feed's lease, so that one process at a time ingests the feed
(src/feed-leases.ts). Acquiring and renewing are the same call: a standby process calls it
every half second, the holder every second.

Key count: 3.
  KEYS[1]        the feed's lease           string "<token>:<instance>", expires (PX)
  KEYS[2]        the feed's fencing counter integer, never expires: the last token given
  KEYS[3]        the feed's holder trace    string "<instance>", expires (PX); it outlives the
                                             lease so the leftover sweep leaves the feed's
                                             markets alone between two tenures

ARGV:
  ARGV[1]        the calling instance (`Keys.instance`)
  ARGV[2]        the lease's time to live, milliseconds
  ARGV[3]        the trace's time to live, milliseconds

- No lease: a new tenure. The counter is incremented and the new token, with the caller,
  becomes the lease; the caller's writes carry it and lua/upsertMarkets-n.lua writes nothing
  for the feed under any other lease value, so a process that lost the lease can never write
  again.
- The caller's lease (whatever its token): its time to live starts again; the token stays.
- Another instance's lease: nothing changes.
The trace is set to the caller whenever the lease is the caller's.

Returns: { 1, lease } when the caller holds the lease now: its value, which has a new token
         when the call began a tenure; { 0, lease } when another instance holds it.
Errors:  "ERR acquireLease: ..." for an empty instance or a time to live that is not a
         positive whole number.
--]]

local instance = ARGV[1] or ''
local ttl = tonumber(ARGV[2] or '')
local traceTtl = tonumber(ARGV[3] or '')
if instance == '' then
  return redis.error_reply('ERR acquireLease: ARGV[1] must name the calling instance')
end
if ttl == nil or ttl < 1 or ttl ~= math.floor(ttl) or traceTtl == nil or traceTtl < 1 or traceTtl ~= math.floor(traceTtl) then
  return redis.error_reply('ERR acquireLease: the times to live must be positive whole numbers of milliseconds')
end

local lease = redis.call('GET', KEYS[1])
if lease then
  -- "<token>:<instance>": the owner is everything after the first colon.
  local owner = string.match(lease, '^%d+:(.*)$')
  if owner ~= instance then
    return { 0, lease }
  end
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  lease = redis.call('INCR', KEYS[2]) .. ':' .. instance
  redis.call('SET', KEYS[1], lease, 'PX', ttl)
end
redis.call('SET', KEYS[3], instance, 'PX', traceTtl)
return { 1, lease }
