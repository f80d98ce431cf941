package ratelimit_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis/internal/redistest"
	"github.com/bulwark-go/bulwark/redis/ratelimit"
	"github.com/bulwark-go/bulwark/redis/script"
)

func TestReserveAndWait(t *testing.T) {
	addr := redistest.Addr(t)
	ctx := context.Background()
	// One token per 250 ms, burst 1. Redis's clock runs between the calls,
	// so every bound below allows for the time they took.
	const interval = 250 * time.Millisecond
	l := mustNew(t, script.Rueidis(redistest.Client(t, addr)),
		ratelimit.Config{Prefix: redistest.Prefix(t), Rate: 4, Burst: 1})
	start := time.Now()
	if res, err := l.Reserve(ctx, "k", 1); err != nil || res.Allowed != 1 || res.RetryAfter != 0 {
		t.Fatalf("first Reserve = %+v, %v; want a token now", res, err)
	}
	res, err := l.Reserve(ctx, "k", 1)
	elapsed := time.Since(start)
	if err != nil || res.Allowed != 1 || res.RetryAfter < interval-elapsed-time.Millisecond || res.RetryAfter > interval {
		t.Fatalf("second Reserve %v after the first = %+v, %v; want a token %v after the first, less the time taken", elapsed, res, err, interval)
	}
	if res, err := l.Reserve(ctx, "k", 2); err != nil || res.Allowed != 0 {
		t.Fatalf("Reserve above the burst = %+v, %v; want refused", res, err)
	}
	res, err = l.Wait(ctx, "k")
	if err != nil || res.Allowed != 1 || res.RetryAfter <= 0 {
		t.Fatalf("Wait = %+v, %v; want a token after a wait", res, err)
	}
	if _, err := l.WaitN(ctx, "k", 2); !errors.Is(err, ratelimit.ErrInvalidArgument) {
		t.Fatalf("WaitN above the burst = %v, want ErrInvalidArgument", err)
	}
}

// Wait refuses at once, without waiting, when the next token comes after
// the context's deadline. The token is an hour away and the deadline a
// minute, so no round trip to Redis, however slow, decides the outcome.
func TestWaitRefusesPastDeadline(t *testing.T) {
	addr := redistest.Addr(t)
	l := mustNew(t, script.Rueidis(redistest.Client(t, addr)),
		ratelimit.Config{Prefix: redistest.Prefix(t), Rate: 1, Period: time.Hour, Burst: 1})
	ctx := context.Background()
	if res, err := l.Reserve(ctx, "k", 1); err != nil || res.Allowed != 1 || res.RetryAfter != 0 {
		t.Fatalf("first Reserve = %+v, %v; want a token now", res, err)
	}
	short, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := l.Wait(short, "k"); !errors.Is(err, ratelimit.ErrWouldExceedDeadline) {
		t.Fatalf("Wait with the next token an hour away and a one-minute deadline = %v, want ErrWouldExceedDeadline", err)
	}
	if short.Err() != nil {
		t.Fatal("Wait returned only when its deadline passed")
	}
}

// Against a three-node Redis Cluster: keys on every node are decided by
// Redis (a CROSSSLOT or MOVED error would be a local decision).
func TestCluster(t *testing.T) {
	addrs := redistest.ClusterAddrs(t)
	client := redistest.Client(t, addrs...)
	l := mustNew(t, script.Rueidis(client), ratelimit.Config{Prefix: redistest.Prefix(t), Rate: 1, Period: time.Hour, Burst: 2})
	ctx := context.Background()
	nodes := map[int64]bool{}
	for i := range 30 {
		key := "key-" + strconv.Itoa(i) + "}{"
		slot, err := client.Do(ctx, client.B().ClusterKeyslot().Key(l.RedisKey(key)).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		nodes[slot*3/16384] = true
		for j, want := range []int{1, 1, 0} {
			res, err := l.Allow(ctx, key)
			if err != nil || res.Local || res.Allowed != want {
				t.Fatalf("key %q call %d: %+v, %v; want Allowed %d from Redis", key, j, res, err, want)
			}
		}
	}
	if len(nodes) != 3 {
		t.Fatalf("keys cover %d of the 3 nodes", len(nodes))
	}
}
