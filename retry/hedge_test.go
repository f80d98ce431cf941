package retry_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/retry"
)

// hedgeFn returns an fn whose attempt i (0-based, in start order) takes
// latency[i] and then returns errs[i] (or its index on nil); a cancelled
// attempt returns ctx.Err() at once. returned counts finished attempts.
func hedgeFn(latency []time.Duration, errs []error) (fn func(context.Context) (int, error), started, returned *atomic.Int32) {
	started, returned = new(atomic.Int32), new(atomic.Int32)
	fn = func(ctx context.Context) (int, error) {
		i := int(started.Add(1)) - 1
		defer returned.Add(1)
		select {
		case <-time.After(latency[i]):
			return i, errs[i]
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	return fn, started, returned
}

func TestHedge(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	tests := []struct {
		name        string
		cfg         retry.HedgeConfig
		latency     []time.Duration
		errs        []error
		want        int
		wantErr     error
		wantStarted int32
		wantElapsed time.Duration
	}{
		{"fast first attempt, no hedge", retry.HedgeConfig{Delay: time.Second}, []time.Duration{10 * time.Millisecond, 0}, []error{nil, nil}, 0, nil, 1, 10 * time.Millisecond},
		{"slow first, hedge wins", retry.HedgeConfig{Delay: time.Second}, []time.Duration{time.Hour, 100 * time.Millisecond}, []error{nil, nil}, 1, nil, 2, 1100 * time.Millisecond},
		{"two hedges, second wins", retry.HedgeConfig{Delay: time.Second, MaxHedges: 2}, []time.Duration{time.Hour, time.Hour, time.Millisecond}, []error{nil, nil, nil}, 2, nil, 3, 2001 * time.Millisecond},
		{"all fail: first-started error", retry.HedgeConfig{Delay: time.Second, MaxHedges: 1}, []time.Duration{3 * time.Second, time.Millisecond}, []error{errA, errB}, 0, errA, 2, 3 * time.Second},
		{"delay zero starts all at once", retry.HedgeConfig{MaxHedges: 2}, []time.Duration{time.Hour, time.Minute, time.Second}, []error{nil, nil, nil}, 2, nil, 3, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fn, started, returned := hedgeFn(tt.latency, tt.errs)
				start := time.Now()
				v, err := retry.Hedge(t.Context(), tt.cfg, fn)
				// No leak: every attempt has returned before Hedge does.
				assert.Equal(t, started.Load(), returned.Load(), "attempts still running after Hedge returned")
				assert.Equal(t, tt.wantStarted, started.Load())
				assert.Equal(t, tt.wantElapsed, time.Since(start))
				if tt.wantErr != nil {
					assert.ErrorIs(t, err, tt.wantErr)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tt.want, v)
			})
		})
	}
}

func TestHedgeCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		fn, started, returned := hedgeFn([]time.Duration{time.Hour, time.Hour, time.Hour}, []error{nil, nil, nil})
		_, err := retry.Hedge(ctx, retry.HedgeConfig{Delay: time.Second, MaxHedges: 2}, fn)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, int32(2), started.Load(), "no hedge after ctx ended")
		assert.Equal(t, started.Load(), returned.Load())
	})
}

func TestHedgeBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 2})
		require.NoError(t, err)
		b.Failure() // 1 token: not above half, hedges refused
		fn, started, _ := hedgeFn([]time.Duration{time.Hour, time.Millisecond}, []error{nil, nil})
		v, err := retry.Hedge(t.Context(), retry.HedgeConfig{Delay: time.Second, Budget: b}, fn)
		require.NoError(t, err)
		assert.Equal(t, 0, v)
		assert.Equal(t, int32(1), started.Load())
	})
}

func TestHedgeInvalidConfig(t *testing.T) {
	for _, cfg := range []retry.HedgeConfig{{Delay: -1}, {MaxHedges: -1}, {MaxHedges: 101}} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			called := false
			_, err := retry.Hedge(t.Context(), cfg, func(context.Context) (int, error) { called = true; return 0, nil })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "HedgeConfig.")
			assert.False(t, called)
		})
	}
}

func TestHedgeNoGoroutineLeak(t *testing.T) {
	// Outside a bubble, with real goroutines: after Hedge returns, the
	// cancelled losers must already be gone.
	block := make(chan struct{})
	var running atomic.Int32
	fn := func(ctx context.Context) (int, error) {
		running.Add(1)
		defer running.Add(-1)
		if running.Load() == 1 {
			select {
			case <-block:
			case <-ctx.Done():
			}
			return 0, ctx.Err()
		}
		return 1, nil
	}
	for range 50 {
		v, err := retry.Hedge(context.Background(), retry.HedgeConfig{MaxHedges: 3}, fn)
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		require.Zero(t, running.Load(), "an attempt outlived Hedge")
	}
	close(block)
}

func TestHedgeDiscard(t *testing.T) {
	// Every value that HedgeDiscard does not return reaches discard exactly
	// once; the returned one never does.
	tests := []struct {
		name        string
		latency     []time.Duration
		errs        []error
		ignoreCtx   []bool // the attempt finishes even when cancelled
		wantV       int
		wantErr     error
		wantDiscard []int
	}{
		{"loser finishes after the winner", []time.Duration{time.Hour, time.Millisecond}, []error{nil, nil},
			[]bool{false, false}, 1, nil, []int{-1}},
		{"loser ignores cancel and succeeds late", []time.Duration{3 * time.Second, time.Millisecond}, []error{nil, nil},
			[]bool{true, false}, 1, nil, []int{0}},
		{"first lost before the winner", []time.Duration{10 * time.Millisecond, 2 * time.Second}, []error{errFlaky, nil},
			[]bool{false, false}, 1, nil, []int{0}},
		{"all fail: every value discarded", []time.Duration{3 * time.Second, time.Millisecond}, []error{errFlaky, errFlaky},
			[]bool{false, false}, 0, errFlaky, []int{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var started atomic.Int32
				fn := func(ctx context.Context) (int, error) {
					i := int(started.Add(1)) - 1
					if tt.ignoreCtx[i] {
						time.Sleep(tt.latency[i])
						return i, tt.errs[i]
					}
					select {
					case <-time.After(tt.latency[i]):
						return i, tt.errs[i]
					case <-ctx.Done():
						return -1, ctx.Err()
					}
				}
				var discarded []int
				v, err := retry.HedgeDiscard(t.Context(), retry.HedgeConfig{Delay: time.Second}, fn,
					func(v int) { discarded = append(discarded, v) })
				assert.Equal(t, tt.wantDiscard, discarded)
				if tt.wantErr != nil {
					assert.ErrorIs(t, err, tt.wantErr)
					assert.Zero(t, v)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tt.wantV, v)
			})
		})
	}
}

func TestHedgeBudgetIgnoresLocalRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordingBudget{}
		var started atomic.Int32
		fn := func(ctx context.Context) (int, error) {
			if started.Add(1) == 1 {
				return 0, errLocal
			}
			return 1, nil
		}
		v, err := retry.Hedge(t.Context(), retry.HedgeConfig{Delay: time.Second, Budget: rec}, fn)
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		assert.Equal(t, []string{"allow", "success"}, rec.log())
	})
}
