package redis_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"

	"github.com/bulwark-go/bulwark/cache"
	"github.com/bulwark-go/bulwark/redis"
)

// TestMain fails the package if any goroutine outlives the tests: every
// Cache and client a test opens is closed by its cleanup. The one goroutine
// ignored is rueidis's own: a cluster client that replaced its seed
// connections closes them 5 s later, even after the client's Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"))
}

// env returns the variable ./test.sh exports for a server, skipping the
// test when it is unset — unless CI=true, where a missing server is a
// failure, so that a green run never hides one.
func env(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s unset under CI=true: run the tests through ./test.sh, which starts Redis", name)
		}
		t.Skipf("%s unset: ./test.sh starts the Redis servers these tests need", name)
	}
	return v
}

func newClient(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}

// prefix is unique per test and run, so runs with -count=3 never share keys.
func prefix(t testing.TB) string {
	name := strings.NewReplacer("/", ".", "{", "(", "}", ")").Replace(t.Name())
	return fmt.Sprintf("bulwarktest:%s:%x:", name, rand.Uint64())
}

// events collects a cache's events without ever blocking the goroutine
// that reports them.
type events chan redis.Event

func newEvents() events { return make(events, 1<<16) }

func (e events) record(ev redis.Event) {
	select {
	case e <- ev:
	default:
	}
}

// wait returns the first event of kind (for key, if key is not empty),
// failing the test after d: a bound that passing runs never approach.
func (e events) wait(t testing.TB, kind redis.EventKind, key string, d time.Duration) redis.Event {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev := <-e:
			if ev.Kind == kind && (key == "" || ev.Key == key) {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %v event for key %q within %v", kind, key, d)
			return redis.Event{}
		}
	}
}

type instance struct {
	*redis.Cache[string]
	client rueidis.Client
	events events
}

// newInstance is one member of a fleet: its own client and cache, with
// the given prefix. It waits until its invalidation stream is up.
func newInstance(t testing.TB, addrs []string, pfx string, cfg redis.Config[string]) *instance {
	t.Helper()
	in := &instance{client: newClient(t, addrs...), events: newEvents()}
	cfg.Prefix = pfx
	if cfg.L1.Capacity == 0 {
		cfg.L1 = cache.Config[string, string]{Capacity: 1024}
	}
	if cfg.Codec == nil {
		cfg.Codec = redis.String{}
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = in.events.record
	}
	c, err := redis.New(redis.Rueidis(in.client), cfg)
	if err != nil {
		t.Fatalf("redis.New: %v", err)
	}
	// Close before the client's cleanup, which was registered first.
	t.Cleanup(c.Close)
	in.Cache = c
	in.events.wait(t, redis.EventStreamUp, "", 10*time.Second)
	return in
}

func fleet(t testing.TB, n int, addrs []string, cfg redis.Config[string]) []*instance {
	t.Helper()
	pfx := prefix(t)
	out := make([]*instance, n)
	for i := range out {
		out[i] = newInstance(t, addrs, pfx, cfg)
	}
	return out
}

func exists(t testing.TB, c rueidis.Client, key string) bool {
	t.Helper()
	n, err := c.Do(context.Background(), c.B().Exists().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatalf("EXISTS %s: %v", key, err)
	}
	return n == 1
}

func itoa(i int) string { return strconv.Itoa(i) }

func (in *instance) ValueKey(k string) string { v, _, _ := in.RedisKeys(k); return v }
func (in *instance) LockKey(k string) string  { _, l, _ := in.RedisKeys(k); return l }

func cacheConfig(ttl time.Duration) cache.Config[string, string] {
	return cache.Config[string, string]{Capacity: 1024, TTL: ttl}
}

func mustInt(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

var errLoaderCalled = errors.New("loader called")
