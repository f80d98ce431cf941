package bulwarkprom_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	bulwarkprom "github.com/bulwark-go/bulwark/prom"
	"github.com/bulwark-go/bulwark/retry"
	"github.com/prometheus/client_golang/prometheus/testutil"
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
// attempts, retry a local rejection, and run out of budget, and compares
// the complete exposition with testdata/retry.txt.
func TestRetryMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Retry()
		r, err := retry.New(retry.Config{Name: "fetch", MaxAttempts: 3,
			Backoff: retry.Constant(250 * time.Millisecond), Observer: m.Observe})
		require.NoError(t, err)
		budget, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 4, TokenRatio: 1})
		require.NoError(t, err)
		budgeted, err := retry.New(retry.Config{Name: "budgeted", MaxAttempts: 5,
			Backoff: retry.Constant(time.Second), Budget: budget, Observer: m.Observe})
		require.NoError(t, err)
		stop := m.WatchBudget("budgeted", budget)
		ctx := context.Background()

		require.NoError(t, r.Do(ctx, failing(1, errDown)))                                  // 2 attempts, 1 retry
		require.ErrorIs(t, r.Do(ctx, failing(5, errDown)), retry.ErrExhausted)              // 3 attempts, 2 retries
		require.NoError(t, r.Do(ctx, failing(1, fmt.Errorf("guard: %w", breaker.ErrOpen)))) // a local rejection, retried at once
		require.ErrorIs(t, budgeted.Do(ctx, failing(5, errDown)), retry.ErrBudget)          // 4 → 3 tokens: retry; 3 → 2: refused

		compareGolden(t, m, "retry.txt")
		// The golden text agrees with the retriers' own counters.
		require.Equal(t, int64(7), r.Stats().Attempts)
		require.Equal(t, int64(4), r.Stats().Retries)
		require.Equal(t, int64(1), budgeted.Stats().BudgetSkipped)
		require.InDelta(t, 2.0, budget.Tokens(), 1e-9)

		stop()
		require.Zero(t, testutil.CollectAndCount(m, "bulwark_retry_budget_tokens"), "budget collected after stop")
	})
}

// TestHedgeMetrics scripts a hedged call whose hedge wins and compares the
// complete exposition with testdata/hedge.txt: a Hedge reports no retry,
// so it shows no delay histogram.
func TestHedgeMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := bulwarkprom.Retry()
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
		compareGolden(t, m, "hedge.txt")
	})
}
