package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/cache"
	"github.com/bulwark-go/bulwark/redis"
)

// fakeStore answers without a server, with replies a test chooses — the
// way to feed the cache malformed input.
type fakeStore struct {
	get  func(key string) ([]byte, bool, error)
	eval func(script *redis.Script, keys, args []string) ([]string, error)
}

var errNoServer = errors.New("no server")

func (f *fakeStore) Get(_ context.Context, key string) ([]byte, bool, error) {
	if f.get == nil {
		return nil, false, errNoServer
	}
	return f.get(key)
}

func (f *fakeStore) Eval(_ context.Context, s *redis.Script, keys []string, args ...string) ([]string, error) {
	if f.eval == nil {
		return nil, errNoServer
	}
	return f.eval(s, keys, args)
}

func (f *fakeStore) Track(context.Context, string, func([]string)) (redis.Watch, error) {
	return nil, errNoServer
}

func (f *fakeStore) Subscribe(context.Context, string, func(string)) (redis.Watch, error) {
	return nil, errNoServer
}

func TestNewConfigErrors(t *testing.T) {
	l1 := cache.Config[string, string]{Capacity: 8}
	tests := []struct {
		name  string
		store redis.Store
		cfg   redis.Config[string]
		want  string
	}{
		{"nil store", nil, redis.Config[string]{Prefix: "p:", L1: l1}, "redis: New store nil"},
		{"no prefix", &fakeStore{}, redis.Config[string]{L1: l1}, "redis: Config.Prefix empty"},
		{"brace in prefix", &fakeStore{}, redis.Config[string]{Prefix: "a{b", L1: l1}, `redis: Config.Prefix "a{b" contains`},
		{"negative timeout", &fakeStore{}, redis.Config[string]{Prefix: "p:", L1: l1, Timeout: -time.Second}, "redis: Config.Timeout -1s negative"},
		{"negative lock TTL", &fakeStore{}, redis.Config[string]{Prefix: "p:", L1: l1, LockTTL: -1}, "redis: Config.LockTTL -1ns negative"},
		{"negative TTL", &fakeStore{}, redis.Config[string]{Prefix: "p:", L1: l1, TTL: -time.Minute}, "redis: Config.TTL -1m0s negative"},
		{"negative heartbeat", &fakeStore{}, redis.Config[string]{Prefix: "p:", L1: l1, Heartbeat: -time.Second}, "redis: Config.Heartbeat -1s negative"},
		{"negative L1 TTL", &fakeStore{}, redis.Config[string]{Prefix: "p:", L1: cache.Config[string, string]{Capacity: 8, TTL: -1}}, "redis: Config.L1.TTL -1ns negative"},
		{"sub-millisecond lock TTL", &fakeStore{}, redis.Config[string]{Prefix: "p:", L1: l1, LockTTL: time.Microsecond}, "redis: Config.LockTTL 1µs"},
		{"unknown mode", &fakeStore{}, redis.Config[string]{Prefix: "p:", L1: l1, Invalidation: 9}, "redis: Config.Invalidation 9 unknown"},
		{"no L1 capacity", &fakeStore{}, redis.Config[string]{Prefix: "p:"}, "redis: Config.L1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := redis.New(tt.store, tt.cfg)
			if err == nil {
				c.Close()
				t.Fatalf("New succeeded, want an error starting %q", tt.want)
			}
			if !errors.Is(err, redis.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("New error %q, want one starting %q wrapping ErrInvalidConfig", err, tt.want)
			}
		})
	}
}

func newFake(t *testing.T, f *fakeStore, ev events) *redis.Cache[string] {
	t.Helper()
	cfg := redis.Config[string]{Prefix: "p:", L1: cache.Config[string, string]{Capacity: 8}, Codec: evenCodec{}}
	if ev != nil {
		cfg.OnEvent = ev.record
	}
	c, err := redis.New(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestCallArgumentErrors(t *testing.T) {
	c := newFake(t, &fakeStore{}, nil)
	ctx := context.Background()
	load := func(context.Context, string) (string, error) { return "v", nil }
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"empty key", func() error { _, err := c.GetOrLoad(ctx, "", load); return err }(), "redis: GetOrLoad key empty"},
		{"nil loader", func() error { _, err := c.GetOrLoad(ctx, "k", nil); return err }(), "redis: GetOrLoad load nil"},
		{"empty tag", func() error { _, err := c.GetOrLoad(ctx, "}k", load); return err }(), `redis: GetOrLoad key "}k" starts with '}'`},
		{"Set empty key", c.Set(ctx, "", "v"), "redis: Set key empty"},
		{"Delete empty key", c.Delete(ctx, ""), "redis: Delete key empty"},
		{"Get empty key", func() error { _, _, err := c.Get(ctx, ""); return err }(), "redis: Get key empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, redis.ErrInvalidArgument) || !strings.HasPrefix(tt.err.Error(), tt.want) {
				t.Fatalf("error %v, want one starting %q wrapping ErrInvalidArgument", tt.err, tt.want)
			}
		})
	}
}

// Whatever Redis answers, GetOrLoad answers from the loader and never
// panics: malformed script replies, undecodable values, a panicking codec.
func TestUntrustedReplies(t *testing.T) {
	replies := map[string][]string{
		"empty":         {},
		"unknown tag":   {"x", "y"},
		"short":         {"l"},
		"bad lock TTL":  {"w", "soon"},
		"undecodable":   {"v", "odd"},
		"codec panics":  {"v", "panic"},
		"too many":      {"v", "ab", "cd"},
		"write garbage": {"l", "7"},
	}
	for name, reply := range replies {
		t.Run(name, func(t *testing.T) {
			f := &fakeStore{
				get: func(string) ([]byte, bool, error) { return nil, false, nil },
				eval: func(s *redis.Script, _, _ []string) ([]string, error) {
					if strings.Contains(s.Source(), "'NX'") {
						return reply, nil
					}
					return []string{"?"}, nil // the write script's reply, malformed too
				},
			}
			c := newFake(t, f, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			v, err := c.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { return "origin", nil })
			if err != nil || v != "origin" {
				t.Fatalf("GetOrLoad with acquire reply %q = %q, %v; want the loader's value", reply, v, err)
			}
		})
	}
}

// Redis failing outright: GetOrLoad loads locally, once per key within the
// instance, reports it, and Set and Delete return ErrUnavailable.
func TestRedisDownDegradesToLocal(t *testing.T) {
	ev := newEvents()
	c := newFake(t, &fakeStore{}, ev)
	ctx := context.Background()
	loads := 0
	for range 3 {
		v, err := c.GetOrLoad(ctx, "k", func(context.Context, string) (string, error) { loads++; return "origin", nil })
		if err != nil || v != "origin" {
			t.Fatalf("GetOrLoad = %q, %v", v, err)
		}
	}
	if loads != 1 {
		t.Errorf("loader ran %d times, want 1 (L1 holds the value)", loads)
	}
	if s := c.Stats(); s.LocalLoads != 1 {
		t.Errorf("LocalLoads %d, want 1", s.LocalLoads)
	}
	if err := c.Set(ctx, "k", "v2"); !errors.Is(err, redis.ErrUnavailable) || !errors.Is(err, errNoServer) {
		t.Errorf("Set error %v, want ErrUnavailable wrapping the cause", err)
	}
	if err := c.Delete(ctx, "k"); !errors.Is(err, redis.ErrUnavailable) {
		t.Errorf("Delete error %v, want ErrUnavailable", err)
	}
	ev.wait(t, redis.EventStreamDown, "", 5*time.Second)
}

func TestEventKindString(t *testing.T) {
	seen := map[string]bool{}
	for k := redis.EventRedisError; k <= redis.EventStreamDown; k++ {
		s := k.String()
		if strings.HasPrefix(s, "EventKind(") || seen[s] {
			t.Errorf("EventKind %d has name %q", k, s)
		}
		seen[s] = true
	}
	if got := redis.EventKind(0).String(); got != "EventKind(0)" {
		t.Errorf("EventKind(0).String() = %q", got)
	}
	if got := redis.InvalidatePubSub.String(); got != "pubsub" {
		t.Errorf("InvalidatePubSub.String() = %q", got)
	}
}
