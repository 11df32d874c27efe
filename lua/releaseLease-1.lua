--[[
releaseLease: gives a feed's lease up at a graceful stop, so a standby process takes the feed
over at once instead of when the lease expires (src/feed-leases.ts).

Key count: 1.
  KEYS[1]        the feed's lease           string "<token>:<instance>"

ARGV:
  ARGV[1]        the lease value the caller holds (what lua/acquireLease-3.lua returned)

Deletes the lease only while it still holds that value: a caller whose lease expired, or
whose tenure a later one replaced, leaves the current holder's lease alone. The fencing
counter and the holder trace stay.

Returns: 1 when the lease was released, 0 when it held another value or none.
Errors:  "ERR releaseLease: ..." for an empty lease value.
--]]

local held = ARGV[1] or ''
if held == '' then
  return redis.error_reply('ERR releaseLease: ARGV[1] must be the lease value held')
end
if redis.call('GET', KEYS[1]) == held then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
