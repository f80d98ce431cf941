package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/redis/ratelimit"
	"github.com/bulwark-go/bulwark/redis/script"
)

// fakeStore answers every script with reply (or err), and records the
// arguments.
type fakeStore struct {
	mu    sync.Mutex
	reply []string
	err   error
	calls [][]string
}

func (f *fakeStore) Eval(_ context.Context, _ *script.Script, keys []string, args ...string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, append(append([]string{}, keys...), args...))
	return f.reply, f.err
}

func TestConfigErrors(t *testing.T) {
	store := &fakeStore{}
	for _, tt := range []struct {
		name string
		cfg  ratelimit.Config
		want string
	}{
		{"zero rate", ratelimit.Config{}, "ratelimit: Config.Rate 0 not positive"},
		{"negative rate", ratelimit.Config{Rate: -1}, "ratelimit: Config.Rate -1 not positive"},
		{"negative period", ratelimit.Config{Rate: 1, Period: -time.Second}, "ratelimit: Config.Period -1s negative"},
		{"interval below 1µs", ratelimit.Config{Rate: 2_000_000}, "ratelimit: Config.Rate 2000000 per Config.Period 1s is an interval below 1µs"},
		{"negative burst", ratelimit.Config{Rate: 1, Burst: -2}, "ratelimit: Config.Burst -2 negative"},
		{"negative timeout", ratelimit.Config{Rate: 1, Timeout: -time.Millisecond}, "ratelimit: Config.Timeout -1ms negative"},
		{"unknown policy", ratelimit.Config{Rate: 1, Unavailable: 7}, "ratelimit: Config.Unavailable 7 unknown"},
		{"negative batch", ratelimit.Config{Rate: 10, Batch: -1}, "ratelimit: Config.Batch -1 outside [0, Burst 10]"},
		{"batch above burst", ratelimit.Config{Rate: 10, Burst: 4, Batch: 5}, "ratelimit: Config.Batch 5 outside [0, Burst 4]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ratelimit.New(store, tt.cfg)
			if !errors.Is(err, ratelimit.ErrInvalidConfig) || err.Error() != tt.want {
				t.Fatalf("New(%+v) = %v, want %q matching ErrInvalidConfig", tt.cfg, err, tt.want)
			}
		})
	}
	if _, err := ratelimit.New(nil, ratelimit.Config{Rate: 1}); !errors.Is(err, ratelimit.ErrInvalidConfig) {
		t.Fatalf("New(nil store) = %v, want ErrInvalidConfig", err)
	}
}

func TestArgumentErrors(t *testing.T) {
	l := mustNew(t, &fakeStore{}, ratelimit.Config{Rate: 1})
	ctx := context.Background()
	if _, err := l.AllowN(ctx, "", 1); !errors.Is(err, ratelimit.ErrInvalidArgument) {
		t.Errorf("AllowN(empty key) = %v, want ErrInvalidArgument", err)
	}
	if _, err := l.AllowN(ctx, "k", -1); !errors.Is(err, ratelimit.ErrInvalidArgument) || !strings.Contains(err.Error(), "n -1 negative") {
		t.Errorf("AllowN(n -1) = %v, want ErrInvalidArgument naming n", err)
	}
	if _, err := l.Bucket(""); !errors.Is(err, ratelimit.ErrInvalidArgument) {
		t.Errorf("Bucket(empty) = %v, want ErrInvalidArgument", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.AllowN(cctx, "k", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("AllowN(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestHandlerConfigErrors(t *testing.T) {
	l := mustNew(t, &fakeStore{}, ratelimit.Config{Rate: 1})
	next := http.NotFoundHandler()
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"nil next", handlerErr(ratelimit.NewHandler(nil, l)), "ratelimit: NewHandler next is nil"},
		{"nil limiter", handlerErr(ratelimit.NewHandler(next, nil)), "ratelimit: NewHandler limiter is nil"},
		{"nil key", handlerErr(ratelimit.NewHandler(next, l, ratelimit.WithKey(nil))), "ratelimit: WithKey(nil)"},
	} {
		if !errors.Is(tt.err, ratelimit.ErrInvalidConfig) || tt.err.Error() != tt.want {
			t.Errorf("%s: %v, want %q matching ErrInvalidConfig", tt.name, tt.err, tt.want)
		}
	}
}

func handlerErr(_ *ratelimit.Handler, err error) error { return err }

// A reply that is not what the script returns is a Redis failure: decided
// by the policy, reported, never a panic.
func TestMalformedReply(t *testing.T) {
	for _, reply := range [][]string{nil, {"1"}, {"1", "2", "3", "x"}, {"1", "-2", "0", "0"}, {"99999999999", "0", "0", "0"}} {
		var evs []ratelimit.Event
		store := &fakeStore{reply: reply}
		l := mustNew(t, store, ratelimit.Config{Rate: 1, Unavailable: ratelimit.FailClosed, OnEvent: func(e ratelimit.Event) { evs = append(evs, e) }})
		res, err := l.Allow(context.Background(), "k")
		if err != nil || res.Allowed != 0 || !res.Local {
			t.Errorf("reply %q: Allow = %+v, %v; want a local refusal", reply, res, err)
		}
		if len(evs) != 1 || evs[0].Kind != ratelimit.EventUnavailable || !strings.Contains(evs[0].Err.Error(), "malformed reply") {
			t.Errorf("reply %q: events %+v, want one EventUnavailable for a malformed reply", reply, evs)
		}
	}
}

func mustNew(t testing.TB, store script.Evaler, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}
