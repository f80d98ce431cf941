package budget

import "github.com/bulwark-go/bulwark/redis/script"

// budgetScript keeps the fleet's per-second counters as fields of one hash
// (one key, one slot): q<sec> requests and r<sec> retries, the second
// taken from the server's clock, so instances whose clocks disagree still
// count into the same seconds. Fields older than the window are deleted as
// they are met; the key expires a second after the window. The request
// sum can be briefly negative (an instance sends an admitted retry's -1
// before its attempt's +1) and counts as 0 then.
//
// KEYS[1] the budget's hash. ARGV: window seconds, ratio, floor per
// second, requests to add, leased retries to give back, retries wanted.
// Reply: granted, allowance left after the grant, requests in the window.
var budgetScript = script.New(`
local now = tonumber(redis.call('TIME')[1])
local W = tonumber(ARGV[1])
local add = tonumber(ARGV[4])
if add ~= 0 then redis.call('HINCRBY', KEYS[1], 'q' .. now, add) end
local back = tonumber(ARGV[5])
if back ~= 0 then redis.call('HINCRBY', KEYS[1], 'r' .. now, -back) end
local all = redis.call('HGETALL', KEYS[1])
local req, ret = 0, 0
for i = 1, #all, 2 do
  local f = all[i]
  local sec = tonumber(string.sub(f, 2))
  if not sec or sec <= now - W then
    redis.call('HDEL', KEYS[1], f)
  elseif string.sub(f, 1, 1) == 'q' then
    req = req + tonumber(all[i + 1])
  else
    ret = ret + tonumber(all[i + 1])
  end
end
if req < 0 then req = 0 end
local allowance = math.floor(tonumber(ARGV[2]) * req + tonumber(ARGV[3]) * W) - ret
local grant = math.max(0, math.min(tonumber(ARGV[6]), allowance))
if grant > 0 then redis.call('HINCRBY', KEYS[1], 'r' .. now, grant) end
redis.call('EXPIRE', KEYS[1], W + 1)
return {string.format('%d', grant), string.format('%d', allowance - grant), string.format('%d', req)}
`)
