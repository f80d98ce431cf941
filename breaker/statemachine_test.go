package breaker_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

var errBoom = errors.New("boom")

// step is one row of a state-machine table: wait, act, then expect a state.
type step struct {
	wait time.Duration
	act  string // ok, fail, slow, ignore, slow-ignore, reject, hold, done-ok, done-fail, done-ignore, do-panic, call-panic, trip, reset
	want breaker.State
}

const slowCall = time.Second

func runSteps(t *testing.T, cfg breaker.Config, steps []step) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		b, err := breaker.New(cfg)
		require.NoError(t, err)
		var held []breaker.Permit
		for i, s := range steps {
			time.Sleep(s.wait)
			switch s.act {
			case "ok", "fail", "slow", "ignore", "slow-ignore":
				p, err := b.Allow()
				require.NoErrorf(t, err, "step %d (%s): Allow", i, s.act)
				finish(p, s.act)
			case "reject":
				_, err := b.Allow()
				require.ErrorIsf(t, err, breaker.ErrOpen, "step %d: Allow", i)
			case "hold":
				p, err := b.Allow()
				require.NoErrorf(t, err, "step %d: Allow", i)
				held = append(held, p)
			case "done-ok", "done-fail", "done-ignore":
				require.NotEmptyf(t, held, "step %d: no held permit", i)
				held[0].Done(map[string]error{"done-ok": nil, "done-fail": errBoom, "done-ignore": context.Canceled}[s.act])
				held = held[1:]
			case "do-panic", "call-panic":
				require.Equalf(t, "boom", panicThrough(b, s.act == "call-panic"), "step %d: the panic reaches the caller unchanged", i)
			case "trip":
				b.Trip()
			case "reset":
				b.Reset()
			default:
				t.Fatalf("step %d: unknown action %q", i, s.act)
			}
			require.Equalf(t, s.want, b.State(), "step %d (%s): state", i, s.act)
		}
	})
}

// panicThrough makes one call that panics through b (by Do, or by Call)
// and returns what the caller recovers.
func panicThrough(b *breaker.Breaker, viaCall bool) (recovered any) {
	defer func() { recovered = recover() }()
	ctx := context.Background()
	if viaCall {
		_, _ = breaker.Call(ctx, b, func(context.Context) (int, error) { panic("boom") })
	}
	_ = b.Do(ctx, func(context.Context) error { panic("boom") })
	return nil
}

func finish(p breaker.Permit, act string) {
	switch act {
	case "ok":
		p.Done(nil)
	case "fail":
		p.Done(errBoom)
	case "slow":
		time.Sleep(slowCall)
		p.Done(nil)
	case "ignore":
		p.Done(context.Canceled)
	case "slow-ignore":
		time.Sleep(slowCall)
		p.Done(context.Canceled)
	}
}

func TestStateMachineSteps(t *testing.T) {
	const (
		C = breaker.Closed
		O = breaker.Open
		H = breaker.HalfOpen
	)
	count4 := breaker.Config{WindowSize: 4, MinCalls: 4, OpenFor: time.Second}
	tests := []struct {
		name  string
		cfg   breaker.Config
		steps []step
	}{
		{"count window trips at rate once MinCalls reached", count4, []step{
			{0, "ok", C}, {0, "fail", C}, {0, "ok", C}, {0, "fail", O}, {0, "reject", O},
			{999 * time.Millisecond, "reject", O}, {time.Millisecond, "ok", C},
		}},
		{"count window forgets the oldest outcomes", breaker.Config{WindowSize: 4, MinCalls: 4, FailureRate: 0.75}, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "ok", C}, {0, "ok", C}, // 2/4
			{0, "ok", C}, {0, "fail", C}, {0, "fail", C}, // f o o o → o o o f → o o f f
			{0, "fail", O}, // o f f f: 3/4
		}},
		{"ignored outcomes count toward nothing", count4, []step{
			{0, "fail", C}, {0, "ignore", C}, {0, "ignore", C}, {0, "fail", C}, {0, "ok", C}, {0, "ok", O},
		}},
		{"a success can trip once MinCalls is reached", breaker.Config{WindowSize: 10, MinCalls: 5}, []step{
			{0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "fail", C}, {0, "ok", O},
		}},
		{"slow calls trip at SlowRate", breaker.Config{WindowSize: 4, MinCalls: 2, SlowCall: slowCall, SlowRate: 0.5}, []step{
			{0, "ok", C}, {0, "ok", C}, {0, "ok", C}, {0, "slow", C}, // 1/4
			{0, "slow", O}, // 2/4
		}},
		{"an ignored call counts once it was slow", breaker.Config{WindowSize: 4, MinCalls: 4, SlowCall: slowCall, SlowRate: 0.5}, []step{
			{0, "ignore", C}, {0, "ignore", C}, // fast ignored calls count toward nothing
			{0, "ok", C}, {0, "slow-ignore", C}, {0, "ok", C}, {0, "ok", C}, // 1/4 slow
			{0, "slow-ignore", O}, // S o o S: 2/4
		}},
		{"a slow ignored probe re-opens", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second, SlowCall: slowCall}, []step{
			{0, "fail", C}, {0, "fail", O},
			{time.Second, "slow-ignore", O}, {0, "reject", O},
			{time.Second, "ignore", H}, {0, "ok", C}, // a fast ignored probe frees its slot
		}},
		{"slow failures count twice but trip on either rate", breaker.Config{WindowSize: 2, MinCalls: 2, SlowCall: slowCall, FailureRate: 1, SlowRate: 1}, []step{
			{0, "slow", C}, {0, "slow", O},
		}},
		{"half-open failure re-opens with doubled time up to the cap, close resets", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second, MaxOpenFor: 3 * time.Second}, []step{
			{0, "fail", C}, {0, "fail", O},
			{time.Second, "fail", O},                             // probe fails: open 2 s
			{time.Second, "reject", O}, {time.Second, "fail", O}, // open 4 s capped to 3 s
			{2 * time.Second, "reject", O}, {time.Second, "ok", C},
			{0, "fail", C}, {0, "fail", O}, {time.Second, "ok", C}, // back to 1 s
		}},
		{"half-open needs every probe to succeed", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second, HalfOpenCalls: 2}, []step{
			{0, "fail", C}, {0, "fail", O},
			{time.Second, "hold", H}, {0, "hold", H}, {0, "reject", H},
			{0, "done-ok", H}, {0, "done-ok", C},
		}},
		{"any probe failure re-opens", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second, HalfOpenCalls: 2}, []step{
			{0, "trip", O}, {time.Second, "hold", H}, {0, "done-ok", H}, {0, "fail", O},
		}},
		{"a probe never completed is reclaimed after OpenFor", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second}, []step{
			{0, "trip", O}, {time.Second, "hold", H}, {0, "reject", H},
			{999 * time.Millisecond, "reject", H}, {time.Millisecond, "ok", C},
			{0, "done-fail", C}, // the lost probe's late answer is ignored
		}},
		{"an ignored probe frees its slot at once", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second}, []step{
			{0, "trip", O}, {time.Second, "hold", H}, {0, "reject", H},
			{0, "done-ignore", H}, {0, "hold", H}, {0, "reject", H}, {0, "done-ok", C},
		}},
		{"a stale probe's ignored answer frees no slot of a later half-open", breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second}, []step{
			{0, "trip", O}, {time.Second, "hold", H}, {0, "trip", O}, {time.Second, "hold", H},
			{0, "done-ignore", H}, {0, "reject", H}, {0, "done-ok", C},
		}},
		{"time window trips within WindowTime", breaker.Config{WindowTime: 10 * time.Second, MinCalls: 2}, []step{
			{0, "fail", C}, {5 * time.Second, "fail", O},
		}},
		{"time window forgets expired buckets", breaker.Config{WindowTime: 10 * time.Second, MinCalls: 3}, []step{
			{0, "fail", C}, {10 * time.Second, "ok", C}, {0, "ok", C}, {0, "fail", C}, // first failure gone: 1/3
		}},
		{"time window keeps the oldest bucket until it expires", breaker.Config{WindowTime: 10 * time.Second, MinCalls: 3}, []step{
			{0, "fail", C}, {9999 * time.Millisecond, "ok", C}, {0, "fail", O}, // 2/3
		}},
		{"time window slow calls trip at SlowRate", breaker.Config{WindowTime: 10 * time.Second, MinCalls: 3, SlowCall: slowCall, SlowRate: 0.5}, []step{
			{0, "ok", C}, {0, "slow", C}, {0, "ok", C}, // 1/3
			{0, "slow", O}, // 2/4
		}},
		{"time window half-open failure re-opens, success closes with a fresh window", breaker.Config{WindowTime: 10 * time.Second, MinCalls: 2, OpenFor: time.Second}, []step{
			{0, "fail", C}, {0, "fail", O}, {time.Second, "fail", O}, {time.Second, "ok", C},
			{0, "ok", C}, {0, "ok", C}, {0, "fail", C}, // 1/3: the old failures are gone
			{0, "fail", O}, // 2/4
		}},
		{"manual trip and reset", count4, []step{
			{0, "trip", O}, {0, "reject", O}, {0, "reset", C}, {0, "ok", C}, {0, "trip", O}, {0, "trip", O},
			{time.Second, "ok", C},
		}},
		{"shadow mode never rejects but still trips", breaker.Config{WindowSize: 2, MinCalls: 2, Shadow: true}, []step{
			{0, "fail", C}, {0, "fail", O}, {0, "ok", O}, {0, "fail", O},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.cfg, tc.steps) })
	}
}

func TestShadowCountsWouldBeRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []string
		b, err := breaker.New(breaker.Config{WindowSize: 2, MinCalls: 2, OpenFor: time.Second, Shadow: true,
			Observer: func(e breaker.Event) {
				if e.Kind == breaker.EventStateChange {
					changes = append(changes, e.From.String()+"→"+e.To.String())
				}
			}})
		require.NoError(t, err)
		record(b, 2, errBoom) // trips
		for range 3 {
			err := b.Do(context.Background(), func(context.Context) error { return nil })
			require.NoError(t, err, "Shadow never rejects")
		}
		s := b.Stats()
		require.Equal(t, breaker.Open, s.State)
		require.Equal(t, int64(3), s.Rejected, "calls an open breaker would have rejected")
		require.Equal(t, int64(3), s.Successes, "bystanders are still counted")
		require.Equal(t, int64(1), s.Trips)
		time.Sleep(time.Second)
		record(b, 1, nil) // the probe succeeds
		require.Equal(t, breaker.Closed, b.State())
		require.Equal(t, []string{"closed→open", "open→half-open", "half-open→closed"}, changes)
	})
}
