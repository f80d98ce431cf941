package ratelimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/ratelimit"
	"github.com/bulwark-go/bulwark/redis/script"
)

// The same scripted sequence through redis_rate v10 and through this
// limiter, against the same server, one step of each in turn: the same
// events admitted, the same remaining, and the same waits up to the time
// that passed between the two calls. Time is made to pass without sleeping
// by moving both keys' stored arrival time back by the same amount.
func TestDecisionsMatchRedisRate(t *testing.T) {
	addr := redistest.Addr(t)
	ctx := context.Background()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	theirs := redis_rate.NewLimiter(rdb)
	client := redistest.Client(t, addr)

	// One event per 10 s, so that the microseconds between two calls never
	// move a decision; a burst of 5.
	const rate, burst = 6, 5
	limit := redis_rate.Limit{Rate: rate, Period: time.Minute, Burst: burst}
	pfx := redistest.Prefix(t)
	ours := mustNew(t, script.Rueidis(client), ratelimit.Config{Prefix: pfx, Rate: rate, Period: time.Minute, Burst: burst})
	theirKey, ourKey := pfx+"theirs", "ours"

	// age moves both keys back by d, as if d had passed.
	age := func(d time.Duration) {
		t.Helper()
		err := rdb.Eval(ctx, `
local a = redis.call('GET', KEYS[1]); if a then redis.call('SET', KEYS[1], tonumber(a) - tonumber(ARGV[1])) end
local b = redis.call('GET', KEYS[2]); if b then redis.call('SET', KEYS[2], string.format('%.3f', tonumber(b) - tonumber(ARGV[2]))) end
return 1`, []string{"rate:" + theirKey, ours.RedisKey(ourKey)},
			strconv.FormatFloat(d.Seconds(), 'f', -1, 64), strconv.FormatInt(d.Microseconds(), 10)).Err()
		if err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		n   int
		age time.Duration // before the step
	}{
		{1, 0}, {2, 0}, {1, 0}, {3, 0}, {1, 0}, {1, 0}, {0, 0},
		{1, 15 * time.Second}, {1, 0}, {2, 25 * time.Second}, {6, 0},
		{5, time.Minute}, {1, 0}, {4, 35 * time.Second}, {3, 0}, {1, 10 * time.Second},
	}
	// Both clients connect before the sequence starts.
	if _, err := theirs.AllowN(ctx, theirKey+"-warm", limit, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := ours.AllowN(ctx, ourKey+"-warm", 0); err != nil {
		t.Fatal(err)
	}
	sawRefusal, sawAdmit := false, false
	// Each key's stored arrival time was last set from its own call's
	// clock at some earlier step, at most maxBetween apart.
	var maxBetween time.Duration
	for i, s := range steps {
		if s.age > 0 {
			age(s.age)
		}
		t0 := time.Now()
		want, err := theirs.AllowN(ctx, theirKey, limit, s.n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ours.AllowN(ctx, ourKey, s.n)
		between := time.Since(t0)
		if err != nil {
			t.Fatal(err)
		}
		if got.Allowed != want.Allowed || got.Remaining != want.Remaining {
			t.Fatalf("step %d (n=%d): allowed %d remaining %d, redis_rate allowed %d remaining %d",
				i, s.n, got.Allowed, got.Remaining, want.Allowed, want.Remaining)
		}
		wantRetry := want.RetryAfter
		if wantRetry < 0 { // redis_rate's "allowed"
			wantRetry = 0
		}
		maxBetween = max(maxBetween, between)
		tol := maxBetween + between + time.Millisecond
		if d := (got.RetryAfter - wantRetry).Abs(); d > tol {
			t.Errorf("step %d: RetryAfter %v, redis_rate %v (apart %v > %v)", i, got.RetryAfter, wantRetry, d, tol)
		}
		if d := (got.ResetAfter - want.ResetAfter).Abs(); d > tol {
			t.Errorf("step %d: ResetAfter %v, redis_rate %v (apart %v > %v)", i, got.ResetAfter, want.ResetAfter, d, tol)
		}
		if s.n > 0 && got.Allowed == 0 {
			sawRefusal = true
		} else if got.Allowed > 0 {
			sawAdmit = true
		}
	}
	if !sawRefusal || !sawAdmit {
		t.Fatalf("the sequence must both admit and refuse (admit %v, refuse %v)", sawAdmit, sawRefusal)
	}
}
