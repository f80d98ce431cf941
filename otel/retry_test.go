package bulwarkotel_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	bulwarkotel "github.com/bulwark-go/bulwark/otel"
	"github.com/bulwark-go/bulwark/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failing returns a function that fails its first n calls with err.
func failing(n int, err error) func(context.Context) error {
	return func(context.Context) error {
		if n > 0 {
			n--
			return err
		}
		return nil
	}
}

// TestRetryMetrics scripts calls that succeed after a retry, exhaust their
// attempts, retry a local rejection, and run out of budget.
func TestRetryMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Retry(meter)
		require.NoError(t, err)
		r, err := retry.New(retry.Config{Name: "fetch", MaxAttempts: 3,
			Backoff: retry.Constant(100 * time.Millisecond), Observer: m.Observe})
		require.NoError(t, err)
		budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 4, TokenRatio: 1})
		require.NoError(t, err)
		budgeted, err := retry.New(retry.Config{Name: "budgeted", MaxAttempts: 5,
			Backoff: retry.Constant(time.Second), Budget: budget, Observer: m.Observe})
		require.NoError(t, err)
		reg, err := m.WatchBudget("budgeted", budget)
		require.NoError(t, err)
		defer func() { require.NoError(t, reg.Unregister()) }()
		ctx := context.Background()

		require.NoError(t, r.Do(ctx, failing(1, errDown)))                                  // 2 attempts, 1 retry
		require.ErrorIs(t, r.Do(ctx, failing(5, errDown)), retry.ErrExhausted)              // 3 attempts, 2 retries
		require.NoError(t, r.Do(ctx, failing(1, fmt.Errorf("guard: %w", breaker.ErrOpen)))) // a local rejection, retried at once
		require.ErrorIs(t, budgeted.Do(ctx, failing(5, errDown)), retry.ErrBudget)          // 4 → 3 tokens: retry; 3 → 2: refused

		c := collect(t, reader)
		assert.Equal(t, map[string]int64{
			"name=fetch,outcome=success":    2,
			"name=fetch,outcome=failure":    1,
			"name=budgeted,outcome=failure": 1,
		}, c.values(t, "bulwark.retry.calls"))
		assert.Equal(t, map[string]int64{
			"name=fetch,outcome=success":    4,
			"name=fetch,outcome=failure":    3,
			"name=budgeted,outcome=failure": 2,
		}, c.values(t, "bulwark.retry.attempts"))
		assert.Equal(t, map[string]int64{
			"name=fetch,reason=error":         3,
			"name=fetch,reason=not_attempted": 1,
			"name=budgeted,reason=error":      1,
		}, c.values(t, "bulwark.retry.retries"))
		assert.Equal(t, map[string]int64{"name=budgeted": 1}, c.values(t, "bulwark.retry.budget_refusals"))

		delays := c.histogram(t, "bulwark.retry.delay")
		require.Len(t, delays, 2)
		assert.Equal(t, uint64(3), delays["name=fetch"].Count)
		assert.InDelta(t, 0.3, delays["name=fetch"].Sum, 1e-9)
		assert.Equal(t, uint64(1), delays["name=budgeted"].Count)
		assert.InDelta(t, 1.0, delays["name=budgeted"].Sum, 1e-9)
		assert.Equal(t, "s", c.unit("bulwark.retry.delay"))

		assert.Equal(t, budget.Tokens(), floatGauge(t, c, "bulwark.retry.budget.tokens")["name=budgeted"])
		assert.InDelta(t, 2.0, budget.Tokens(), 1e-9)

		// The counters agree with the retriers' own.
		st := r.Stats()
		assert.Equal(t, st.Attempts, c.values(t, "bulwark.retry.attempts")["name=fetch,outcome=success"]+
			c.values(t, "bulwark.retry.attempts")["name=fetch,outcome=failure"])
		assert.Equal(t, st.Retries, int64(4))
		assert.Equal(t, budgeted.Stats().BudgetSkipped, int64(1))
	})
}

// TestHedgeMetrics scripts a hedged call whose hedge wins.
func TestHedgeMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meter, reader := newMeter(t)
		m, err := bulwarkotel.Retry(meter)
		require.NoError(t, err)
		var attempt atomic.Int32
		v, err := retry.Hedge(context.Background(), retry.HedgeConfig{Name: "lookup", Delay: 10 * time.Millisecond,
			MaxHedges: 2, Observer: m.Observe}, func(ctx context.Context) (int, error) {
			n := int(attempt.Add(1))
			if n == 1 {
				select { // the first attempt is slow
				case <-time.After(time.Second):
				case <-ctx.Done():
					return 0, ctx.Err()
				}
			}
			return n, nil
		})
		require.NoError(t, err)
		require.Equal(t, 2, v)

		c := collect(t, reader)
		assert.Equal(t, map[string]int64{"name=lookup": 1}, c.values(t, "bulwark.retry.hedges"))
		assert.Equal(t, map[string]int64{"name=lookup": 1}, c.values(t, "bulwark.retry.hedge_wins"))
		assert.Equal(t, map[string]int64{"name=lookup,outcome=success": 1}, c.values(t, "bulwark.retry.calls"))
	})
}
