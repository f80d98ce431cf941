package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis"
)

// Against a three-node Redis Cluster: every script (acquire, fenced write,
// release, set, delete) runs on keys spread over all nodes, so a CROSSSLOT
// error anywhere fails the test; tracking runs on every node, so an
// invalidation is seen whichever node holds the key.
func TestCluster(t *testing.T) {
	addrs := strings.Split(env(t, "BULWARK_REDIS_CLUSTER_ADDRS"), ",")
	ctx := context.Background()
	ins := fleet(t, 3, addrs, redis.Config[string]{LockTTL: time.Minute, L1: l1Hour})
	a, b := ins[0], ins[1]

	// Keys on every node: 3 nodes share 16384 slots, so 30 keys cover them
	// all with overwhelming probability; the check below makes sure.
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = "key-" + itoa(i) + "}:with braces{"
	}
	// redis-cli --cluster create gives each of the three nodes a third of
	// the slots.
	thirds := map[int64]bool{}
	for _, k := range keys {
		slot, err := a.client.Do(ctx, a.client.B().ClusterKeyslot().Key(a.ValueKey(k)).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		thirds[slot*3/16384] = true
	}
	if len(thirds) != 3 {
		t.Fatalf("keys cover %d of the 3 nodes", len(thirds))
	}

	for _, k := range keys[:3] {
		k = "stampede-" + k
		if got := stampede(t, ins, 20, k); got != 1 {
			t.Errorf("key %q: loader ran %d times across 3 instances, want 1", k, got)
		}
	}
	boom := errors.New("origin down")
	for _, k := range keys {
		// A failing load releases its lock (release script).
		if _, err := a.GetOrLoad(ctx, "fail-"+k, func(context.Context, string) (string, error) { return "", boom }); !errors.Is(err, boom) {
			t.Fatalf("GetOrLoad(fail-%q) = %v, want %v", k, err, boom)
		}
		if exists(t, a.client, a.LockKey("fail-"+k)) {
			t.Fatalf("lock of fail-%q left behind", k)
		}
		// A load (acquire and fenced write), then B caches it in L1.
		if v, err := a.GetOrLoad(ctx, k, func(_ context.Context, k string) (string, error) { return "loaded " + k, nil }); err != nil || v != "loaded "+k {
			t.Fatalf("A.GetOrLoad(%q) = %q, %v", k, v, err)
		}
		if v, err := b.GetOrLoad(ctx, k, nil2); err != nil || v != "loaded "+k {
			t.Fatalf("B.GetOrLoad(%q) = %q, %v", k, v, err)
		}
		drain(b.events)
		if err := a.Set(ctx, k, "set "+k); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
		untilInvalidated(t, b, k, func() bool {
			v, err := b.GetOrLoad(ctx, k, nil2)
			if err != nil {
				t.Fatalf("B.GetOrLoad(%q) after A's Set: %v", k, err)
			}
			return v == "set "+k
		})
		if err := a.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%q): %v", k, err)
		}
		untilInvalidated(t, b, k, func() bool {
			_, ok, err := b.Get(ctx, k)
			if err != nil {
				t.Fatalf("B.Get(%q) after A's Delete: %v", k, err)
			}
			return !ok
		})
	}
	for _, in := range ins {
		if s := in.Stats(); s.RedisErrors != 0 || s.LocalLoads != 0 {
			t.Errorf("stats %+v: want no Redis errors (CROSSSLOT would be one) and no local loads", s)
		}
	}
}

// untilInvalidated returns once done reports that b serves a write of k,
// checking at once and after each invalidation of k that b reports: the
// first may stand for an earlier write of k (invalidations reach b on the
// tracking connection of the node holding k, not with the reply to the
// write, so one may come after the writer has moved on). It fails t if b
// reports no further invalidation of k within 5 s while done is still
// false: b kept serving a value that Redis no longer holds.
func untilInvalidated(t *testing.T, b *instance, k string, done func() bool) {
	t.Helper()
	for !done() {
		b.events.wait(t, redis.EventInvalidate, k, 5*time.Second)
	}
}

func drain(e events) {
	for {
		select {
		case <-e:
		default:
			return
		}
	}
}
