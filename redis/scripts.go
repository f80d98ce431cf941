package redis

import "strings"

// The scripts below touch only the keys of one cache key — p{k}, p{k}:lock
// and p{k}:ver, one hash slot — so Redis Cluster runs them on one node. They
// return arrays of bulk strings only (Lua numbers are formatted in Lua), so
// a Store adapter needs a single reply shape.
//
// The fencing counter p{k}:ver is bumped by every write of k (Set, Delete)
// and by every acquisition of the lock; a loader's write goes through only
// if the counter still holds the value its acquisition got, i.e. nothing
// wrote k and nobody took the lock after it. A counter that does not exist
// starts from the server's clock in milliseconds, so one that expired and
// was recreated starts above every fence it handed out before (unless a
// key took more than one write per millisecond over its whole life).

// bumpLua is the shared prologue: bump(key) returns the next fence.
const bumpLua = `
local function bump(k)
  if redis.call('EXISTS', k) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', k, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
  end
  return redis.call('INCR', k)
end
local function expire(k, ms)
  if ms ~= '0' then redis.call('PEXPIRE', k, ms) end
end
`

// acquireScript: KEYS value, lock, ver; ARGV token, lockTTLms, skipValue,
// verTTLms. Returns {"v", value} when the value exists (unless skipValue
// is "1": the caller found it undecodable), {"l", fence} when the lock was
// taken, {"w", pttl} when another holder has it.
var acquireScript = newScript(bumpLua + `
if ARGV[3] ~= '1' then
  local v = redis.call('GET', KEYS[1])
  if v then return {'v', v} end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local n = bump(KEYS[3])
  expire(KEYS[3], ARGV[4])
  return {'l', tostring(n)}
end
return {'w', tostring(redis.call('PTTL', KEYS[2]))}
`)

// writeScript: KEYS value, lock, ver; ARGV token, fence, value, ttlMs,
// verTTLms, channel, key. Stores value if the fence is current, releases
// the lock if the token still holds it, publishes key. Returns {"ok"} or
// {"stale"}.
var writeScript = newScript(bumpLua + `
local ok = redis.call('GET', KEYS[3]) == ARGV[2]
if ok then
  if ARGV[4] ~= '0' then
    redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  else
    redis.call('SET', KEYS[1], ARGV[3])
  end
  expire(KEYS[3], ARGV[5])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
if ok then return {'ok'} end
return {'stale'}
`)

// releaseScript: KEYS lock; ARGV token, channel, key. Compare-and-delete:
// deletes the lock only if token still holds it. Returns {"1"} or {"0"}.
var releaseScript = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return {'1'}
end
return {'0'}
`)

// setScript: KEYS value, ver; ARGV value, ttlMs, verTTLms, channel, key.
var setScript = newScript(bumpLua + `
bump(KEYS[2])
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
expire(KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {'ok'}
`)

// deleteScript: KEYS value, ver; ARGV verTTLms, channel, key. Bumps the
// fence (so a load in flight cannot resurrect the value) and deletes.
var deleteScript = newScript(bumpLua + `
bump(KEYS[2])
local n = redis.call('DEL', KEYS[1])
expire(KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {tostring(n)}
`)

// keySpace maps cache keys to their Redis keys under one prefix and back.
type keySpace struct {
	prefix  string // Config.Prefix
	channel string // pub/sub channel of invalidations
}

const (
	lockSuffix = "}:lock"
	verSuffix  = "}:ver"
)

func newKeySpace(prefix string) keySpace {
	return keySpace{prefix: prefix, channel: prefix + "invalidate"}
}

// tracked is the prefix given to CLIENT TRACKING BCAST.
func (ks keySpace) tracked() string { return ks.prefix + "{" }

func (ks keySpace) value(k string) string { return ks.prefix + "{" + k + "}" }
func (ks keySpace) lock(k string) string  { return ks.prefix + "{" + k + lockSuffix }
func (ks keySpace) ver(k string) string   { return ks.prefix + "{" + k + verSuffix }

// parse returns the cache key a Redis key belongs to and whether it is the
// value key (else the lock or version key). A value key always ends in '}'
// and the others never do, so a cache key containing "}:lock" is still
// parsed right.
func (ks keySpace) parse(redisKey string) (k string, isValue, ok bool) {
	rest, found := strings.CutPrefix(redisKey, ks.tracked())
	if !found || rest == "" {
		return "", false, false
	}
	switch {
	case rest[len(rest)-1] == '}':
		return rest[:len(rest)-1], true, true
	case strings.HasSuffix(rest, lockSuffix):
		return strings.TrimSuffix(rest, lockSuffix), false, true
	case strings.HasSuffix(rest, verSuffix):
		return strings.TrimSuffix(rest, verSuffix), false, true
	}
	return "", false, false
}

// checkKey rejects keys that cannot be stored: the empty key, and a key
// starting with '}', which would leave the hash tag empty, so that Redis
// Cluster would hash the three keys of k to different slots.
func checkKey(op, k string) error {
	if k == "" {
		return argumentErrorf("%s key empty", op)
	}
	if k[0] == '}' {
		return argumentErrorf("%s key %q starts with '}', which would leave its Redis Cluster hash tag empty", op, k)
	}
	return nil
}
