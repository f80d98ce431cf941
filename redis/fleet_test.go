package redis_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis"
)

// stampede runs clients×perClient concurrent GetOrLoad calls of one cold
// key over the fleet and returns how often the loader ran. The loader holds
// the lock until every other instance has reported waiting for it, so the
// misses are truly concurrent, not served one after the other.
func stampede(t *testing.T, ins []*instance, perClient int, key string) int64 {
	t.Helper()
	var loads atomic.Int64
	othersWaiting := make(chan struct{})
	go func() {
		// Each instance runs one fleet load per key (its L1 singleflight
		// holds the rest), so len(ins)-1 instances wait.
		seen := map[*instance]bool{}
		deadline := time.After(20 * time.Second)
		for len(seen) < len(ins)-1 {
			for _, in := range ins {
				select {
				case ev := <-in.events:
					if ev.Kind == redis.EventWaiting && ev.Key == key {
						seen[in] = true
					}
				case <-deadline:
					return // the loader goes on; the count below fails
				default:
				}
			}
			time.Sleep(time.Millisecond)
		}
		close(othersWaiting)
	}()
	load := func(ctx context.Context, k string) (string, error) {
		loads.Add(1)
		select {
		case <-othersWaiting:
		case <-time.After(20 * time.Second):
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return "value of " + k, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(ins)*perClient)
	for _, in := range ins {
		for range perClient {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				v, err := in.GetOrLoad(ctx, key, load)
				if err == nil && v != "value of "+key {
					err = errors.New("got " + v)
				}
				if err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("GetOrLoad(%q): %v", key, err)
	}
	return loads.Load()
}

func TestFleetStampedeLoadsOnce(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	ins := fleet(t, 8, []string{addr}, redis.Config[string]{LockTTL: time.Minute})
	if got := stampede(t, ins, 100, "cold"); got != 1 {
		t.Fatalf("loader ran %d times across 8 instances × 100 callers, want 1", got)
	}
	var fleetLoads, waits uint64
	for _, in := range ins {
		s := in.Stats()
		fleetLoads += s.FleetLoads
		waits += s.Waits
		if s.LocalLoads != 0 || s.RedisErrors != 0 {
			t.Errorf("stats %+v: want no local loads and no Redis errors", s)
		}
	}
	if fleetLoads != 1 || waits != 7 {
		t.Errorf("fleet loads %d, waits %d: want 1 and 7", fleetLoads, waits)
	}
	if exists(t, ins[0].client, ins[0].LockKey("cold")) {
		t.Errorf("lock key left behind")
	}
}

// A loader that hangs past its lock's TTL is replaced by another instance
// after the TTL; when it finally returns, the fence refuses its write.
func TestStuckLoaderReplacedAfterLockTTL(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	ins := fleet(t, 2, []string{addr}, redis.Config[string]{LockTTL: 300 * time.Millisecond})
	a, b := ins[0], ins[1]

	stuck, unstick := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	start := time.Now() // before A takes the lock, so B's wait is at least the TTL
	go func() {
		_, err := a.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
			close(stuck)
			<-unstick // ignores its ctx, like a loader stuck in a call
			return "old", nil
		})
		aDone <- err
	}()
	<-stuck
	v, err := b.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) {
		return "new", nil
	})
	if err != nil || v != "new" {
		t.Fatalf("B.GetOrLoad = %q, %v; want new", v, err)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("B loaded after %v, before A's lock TTL of 300ms ran out", waited)
	}
	close(unstick)
	if err := <-aDone; err != nil {
		t.Fatalf("A.GetOrLoad: %v", err)
	}
	a.events.wait(t, redis.EventStaleWrite, "k", 5*time.Second)
	got, ok, err := a.Get(context.Background(), "k")
	if err != nil || !ok || got != "new" {
		t.Fatalf("after the stale write, Get = %q, %v, %v; want new", got, ok, err)
	}
	if exists(t, a.client, a.LockKey("k")) {
		t.Errorf("lock key left behind")
	}
}

// An instance whose callers all leave cancels its loader; the lock is
// released at once, so a waiting instance loads without waiting the TTL.
func TestCancelledLoaderReleasesLock(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	ins := fleet(t, 2, []string{addr}, redis.Config[string]{LockTTL: time.Minute})
	a, b := ins[0], ins[1]

	started := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() {
		_, err := a.GetOrLoad(ctx, "k", func(ctx context.Context, _ string) (string, error) {
			close(started)
			<-ctx.Done()
			return "", ctx.Err()
		})
		aDone <- err
	}()
	<-started
	bDone := make(chan error, 1)
	go func() {
		bctx, bcancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer bcancel()
		v, err := b.GetOrLoad(bctx, "k", func(context.Context, string) (string, error) { return "b", nil })
		if err == nil && v != "b" {
			err = errors.New("got " + v)
		}
		bDone <- err
	}()
	b.events.wait(t, redis.EventWaiting, "k", 10*time.Second)
	cancel()
	if err := <-aDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("A.GetOrLoad: %v, want context.Canceled", err)
	}
	if err := <-bDone; err != nil {
		t.Fatalf("B.GetOrLoad (lock TTL 1 minute, 20s budget): %v", err)
	}
	if exists(t, a.client, a.LockKey("k")) {
		t.Errorf("lock key left behind")
	}
}

// A loader error releases the lock, reaches every caller, and is not
// stored in Redis.
func TestLoaderErrorReleasesLock(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	a := fleet(t, 1, []string{addr}, redis.Config[string]{})[0]
	boom := errors.New("origin down")
	_, err := a.GetOrLoad(context.Background(), "k", func(context.Context, string) (string, error) { return "", boom })
	if !errors.Is(err, boom) {
		t.Fatalf("GetOrLoad error %v, want %v", err, boom)
	}
	if exists(t, a.client, a.LockKey("k")) || exists(t, a.client, a.ValueKey("k")) {
		t.Errorf("lock or value key left behind after a failed load")
	}
}

// What Redis holds is untrusted: an undecodable value is a miss, reported,
// and the loader's value replaces it.
func TestUndecodableValueIsAMiss(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	ctx := context.Background()
	pfx := prefix(t)
	in := newInstance(t, []string{addr}, pfx, redis.Config[string]{Codec: evenCodec{}})
	c := in.client
	if err := c.Do(ctx, c.B().Set().Key(in.ValueKey("k")).Value("odd").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := in.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get of an undecodable value = ok %v, err %v; want a miss", ok, err)
	}
	v, err := in.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "even", nil })
	if err != nil || v != "even" {
		t.Fatalf("GetOrLoad = %q, %v; want even", v, err)
	}
	raw, err := c.Do(ctx, c.B().Get().Key(in.ValueKey("k")).Build()).ToString()
	if err != nil || raw != "even" {
		t.Fatalf("Redis holds %q, %v; want the loaded value", raw, err)
	}
	if s := in.Stats(); s.DecodeErrors != 2 || s.FleetLoads != 1 {
		t.Errorf("DecodeErrors %d, FleetLoads %d; want 2 and 1", s.DecodeErrors, s.FleetLoads)
	}
}

// evenCodec accepts only even-length strings, and panics on "panic".
type evenCodec struct{}

func (evenCodec) Encode(v string) ([]byte, error) { return []byte(v), nil }
func (evenCodec) Decode(b []byte) (string, error) {
	if string(b) == "panic" {
		panic("codec bug")
	}
	if len(b)%2 != 0 {
		return "", errors.New("odd length")
	}
	return string(b), nil
}

func TestSetGetDelete(t *testing.T) {
	addr := env(t, "BULWARK_REDIS_ADDR")
	ctx := context.Background()
	ins := fleet(t, 2, []string{addr}, redis.Config[string]{})
	a, b := ins[0], ins[1]
	if err := a.Set(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := b.Get(ctx, "k"); err != nil || !ok || v != "v1" {
		t.Fatalf("B.Get = %q, %v, %v; want v1", v, ok, err)
	}
	if err := a.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.Get(ctx, "k"); err != nil || ok {
		t.Fatalf("B.Get after Delete = ok %v, err %v; want a miss", ok, err)
	}
	// A Delete while a load is in flight keeps its older value out of Redis.
	started, finish := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = a.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) {
			close(started)
			<-finish
			return "loaded before the delete", nil
		})
	}()
	<-started
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	close(finish)
	<-done
	if exists(t, a.client, a.ValueKey("k")) {
		t.Errorf("a load that began before Delete stored its value")
	}
}
