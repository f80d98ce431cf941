package breakershare

import "github.com/bulwark-go/bulwark/redis/script"

// The keys of a shared breaker Name under Prefix p share the hash tag
// {Name}, so every script below is single-slot on Redis Cluster:
//
//	p{Name}:states   hash: instance → "state|own|since|expires" (ms of the server's clock)
//	p{Name}:probeok  "ms|instance": the server time of the fleet's last successful probe, and who
//	p{Name}:probe    the probe lease: the holder's instance id, with a TTL
//
// Redis 7.0 has no expiry per hash field, so each report carries its own
// and every report script deletes the expired ones it meets.

// reportScript: KEYS states, probeok; ARGV instance, state, own, ttlMs,
// channel, transition ("1": publish it), probeOK ("1": this transition is
// a successful probe). Writes the instance's report (keeping its since on
// a heartbeat of an unchanged state), publishes a transition, and returns
// {now, probeok (or "0"), field1, value1, ...} for the live reports.
var reportScript = script.New(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function f(x) return string.format('%d', x) end
local ttl = tonumber(ARGV[4])
local since = now
if ARGV[6] ~= '1' then
  local cur = redis.call('HGET', KEYS[1], ARGV[1])
  if cur then
    local st, own, s = string.match(cur, '^(%a)|(%d)|(%d+)|')
    if st == ARGV[2] and own == ARGV[3] and s then since = tonumber(s) end
  end
end
local v = ARGV[2] .. '|' .. ARGV[3] .. '|' .. f(since) .. '|' .. f(now + ttl)
redis.call('HSET', KEYS[1], ARGV[1], v)
if ARGV[7] == '1' then redis.call('SET', KEYS[2], f(now) .. '|' .. ARGV[1], 'PX', f(ttl * 10)) end
if ARGV[6] == '1' then redis.call('PUBLISH', ARGV[5], ARGV[1] .. '|' .. v .. '|' .. ARGV[7] .. '|' .. f(now)) end
local out = {f(now), redis.call('GET', KEYS[2]) or '0'}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local e = tonumber(string.match(all[i + 1], '|(%d+)$') or '0')
  if e <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
redis.call('PEXPIRE', KEYS[1], f(ttl * 10))
return out
`)

// leaseScript: KEYS probe; ARGV instance, leaseMs. Takes the probe lease
// (SET NX PX) or reports its holder: {"1", leaseMs} when taken (or already
// held by instance), {"0", pttl} otherwise.
var leaseScript = script.New(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'1', ARGV[2]} end
if redis.call('GET', KEYS[1]) == ARGV[1] then return {'1', string.format('%d', redis.call('PTTL', KEYS[1]))} end
return {'0', string.format('%d', redis.call('PTTL', KEYS[1]))}
`)

// releaseScript: KEYS probe; ARGV instance. Compare-and-delete.
var releaseScript = script.New(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return {'1'} end
return {'0'}
`)
