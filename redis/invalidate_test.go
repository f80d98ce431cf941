package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis"
)

// The staleness bound: once B has received the invalidation of a write
// (one one-way trip after Redis executed it), B never returns the value
// that write replaced — for every write, in both stream modes.
func TestSetInvalidatesOtherInstances(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	for _, mode := range []redis.Invalidation{redis.InvalidateTracking, redis.InvalidatePubSub} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			ins := fleet(t, 2, []string{addr}, redis.Config[string]{Invalidation: mode, L1: l1Hour})
			a, b := ins[0], ins[1]
			// Every write below is A's, so each brings B exactly one
			// invalidation of k (B's own loads would bring it more).
			load := func(context.Context, string) (string, error) { return "", errors.New("loader called") }
			if err := a.Set(ctx, "k", "0"); err != nil {
				t.Fatal(err)
			}
			b.events.wait(t, redis.EventInvalidate, "k", 5*time.Second)
			for i := 1; i <= 20; i++ {
				if _, err := b.GetOrLoad(ctx, "k", load); err != nil { // B's L1 holds the current value
					t.Fatal(err)
				}
				if err := a.Set(ctx, "k", itoa(i)); err != nil {
					t.Fatal(err)
				}
				b.events.wait(t, redis.EventInvalidate, "k", 5*time.Second)
				if v, err := b.GetOrLoad(ctx, "k", load); err != nil || v != itoa(i) {
					t.Fatalf("after the invalidation of write %d, B.GetOrLoad = %q, %v", i, v, err)
				}
			}
			if s := b.Stats(); s.L1.Hits == 0 || s.Invalidations < 20 {
				t.Errorf("B stats %+v: want L1 hits between the writes and ≥20 invalidations", s)
			}
		})
	}
}

var l1Hour = cacheConfig(time.Hour)

// Client tracking sees writes made by any Redis client, not only by this
// package.
func TestTrackingSeesForeignWrites(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	ctx := context.Background()
	b := fleet(t, 1, []string{addr}, redis.Config[string]{Invalidation: redis.InvalidateTracking, L1: l1Hour})[0]
	if _, err := b.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "old", nil }); err != nil {
		t.Fatal(err)
	}
	other := newClient(t, addr)
	if err := other.Do(ctx, other.B().Set().Key(b.ValueKey("k")).Value("foreign").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	b.events.wait(t, redis.EventInvalidate, "k", 5*time.Second)
	if v, ok, err := b.Get(ctx, "k"); err != nil || !ok || v != "foreign" {
		t.Fatalf("Get after a foreign SET = %q, %v, %v; want foreign", v, ok, err)
	}
}

// When the tracking connection is killed, the instance empties L1, opens a
// new stream, empties L1 again, and serves the current value, not the one
// it held when the stream broke.
func TestStreamLossFlushesL1(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	ctx := context.Background()
	b := fleet(t, 1, []string{addr}, redis.Config[string]{Invalidation: redis.InvalidateTracking, L1: l1Hour})[0]
	if _, err := b.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "old", nil }); err != nil {
		t.Fatal(err)
	}
	admin := newClient(t, addr)
	list, err := admin.Do(ctx, admin.B().ClientList().Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.Lines(list) {
		// Broadcast tracking connections carry the flags t and B.
		if f := field(line, "flags"); strings.Contains(f, "t") && strings.Contains(f, "B") {
			id := field(line, "id")
			if err := admin.Do(ctx, admin.B().ClientKill().Id(mustInt(t, id)).Build()).Error(); err == nil {
				killed++
			}
		}
	}
	if killed == 0 {
		t.Fatalf("found no tracking connection in CLIENT LIST:\n%s", list)
	}
	// The write lands while no stream is open: its invalidation is lost.
	if err := admin.Do(ctx, admin.B().Set().Key(b.ValueKey("k")).Value("new").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	b.events.wait(t, redis.EventStreamDown, "", 10*time.Second)
	b.events.wait(t, redis.EventStreamUp, "", 10*time.Second)
	if v, err := b.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "loaded", nil }); err != nil || v != "new" {
		t.Fatalf("after the stream came back, GetOrLoad = %q, %v; want new", v, err)
	}
}

func field(line, name string) string {
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

// Tracking on a replica reports the writes it replicates from the primary,
// so instances that read from replicas are invalidated too.
func TestTrackingOnReplica(t *testing.T) {
	primary, replica := newClient(t, env(t, "BULWARK_REDIS_ADDR")), newClient(t, env(t, "BULWARK_REDIS_REPLICA_ADDR"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pfx := prefix(t)
	got := make(chan []string, 16)
	w, err := redis.Rueidis(replica).Track(ctx, pfx, func(keys []string) { got <- keys })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := primary.Do(ctx, primary.B().Set().Key(pfx+"{k}").Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case keys := <-got:
			if len(keys) == 1 && keys[0] == pfx+"{k}" {
				return
			}
		case <-ctx.Done():
			t.Fatal("the replica sent no invalidation for a write on the primary within 5s")
		}
	}
}
