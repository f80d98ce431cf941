package ratelimit

import (
	"strconv"

	"github.com/bulwark-go/bulwark/redis/script"
)

// gcraScript is the Generic Cell Rate Algorithm (ITU-T I.371; the Lua form of
// Brandur Leach's "Rate limiting, cells, and GCRA", 2015, which redis_rate
// also follows) on one key holding the theoretical arrival time (TAT), in
// microseconds of the server's clock (TIME), so every instance of a fleet
// decides on the same clock whatever its own says.
//
// KEYS[1] the limit's key. ARGV: emission interval T in µs (a decimal),
// burst, n, mode, maximum delay in µs for mode "r" (-1: none).
//
// Modes: "n" takes n tokens or none (redis_rate's AllowN), "m" takes up to n
// (redis_rate's AllowAtMost: the lease of a Bucket), "r" reserves n tokens
// that may lie in the future, if the wait is at most the maximum delay.
//
// Reply: allowed, remaining, retry-after µs (rejected: until n tokens; "r":
// the wait before acting; else 0), reset-after µs (until the key is back to
// a full burst). Integers, formatted with %d so that Lua never prints them
// in exponent form.
var gcraScript = script.New(`
local T = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local mode = ARGV[4]
local maxDelay = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 'x')
if not tat or tat < now then tat = now end
local offset = T * burst
local function f(x) return string.format('%d', x) end
local function reject(retry)
  return {'0', '0', f(math.ceil(retry)), f(math.ceil(tat - now))}
end
if mode == 'm' then
  local avail = math.floor((now - tat + offset) / T)
  if avail < 1 then return reject(T - (now - tat + offset)) end
  if avail < n then n = avail end
end
local newTat = tat + n * T
local diff = now - (newTat - offset)
local delay = 0
if diff < 0 then
  if mode ~= 'r' or n > burst or (maxDelay >= 0 and -diff > maxDelay) then
    return reject(-diff)
  end
  delay = -diff
end
local reset = newTat - now
if reset > 0 then
  redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', f(math.ceil(reset / 1000)))
end
local remaining = 0
if diff > 0 then remaining = math.floor(diff / T) end
return {f(n), f(remaining), f(math.ceil(delay)), f(math.ceil(reset))}
`)

const (
	modeAll     = "n"
	modeAtMost  = "m"
	modeReserve = "r"
)

// gcraReply parses the script's reply, which is untrusted input: anything
// but four integers in range is an error.
func gcraReply(r []string) (allowed, remaining int, retryUs, resetUs int64, err error) {
	if len(r) != 4 {
		return 0, 0, 0, 0, replyError(r)
	}
	var v [4]int64
	for i, s := range r {
		x, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || x < 0 {
			return 0, 0, 0, 0, replyError(r)
		}
		v[i] = x
	}
	if v[0] > 1<<31 || v[1] > 1<<31 {
		return 0, 0, 0, 0, replyError(r)
	}
	return int(v[0]), int(v[1]), v[2], v[3], nil
}
