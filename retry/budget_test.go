package retry_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/retry"
)

func TestBudgetTokenRule(t *testing.T) {
	// gRFC A6 with maxTokens 10, ratio 0.1: five failures from full reach 5
	// (retries off), one success reaches 5.1 (retries on).
	b, err := retry.NewBudget(retry.BudgetConfig{})
	require.NoError(t, err)
	steps := []struct {
		op         string
		wantTokens float64
		wantAllow  bool
	}{
		{"start", 10, true},
		{"fail", 9, true}, {"fail", 8, true}, {"fail", 7, true}, {"fail", 6, true},
		{"fail", 5, false},
		{"success", 5.1, true},
		{"fail", 4.1, false}, {"fail", 3.1, false}, {"fail", 2.1, false}, {"fail", 1.1, false},
		{"fail", 0.1, false}, {"fail", 0, false}, {"fail", 0, false},
		{"success", 0.1, false},
	}
	for i, s := range steps {
		switch s.op {
		case "fail":
			b.Failure()
		case "success":
			b.Success()
		}
		assert.InDelta(t, s.wantTokens, b.Tokens(), 1e-9, "step %d %s", i, s.op)
		assert.Equal(t, s.wantAllow, b.AllowRetry(), "step %d %s", i, s.op)
	}
	for range 1000 {
		b.Success()
	}
	assert.InDelta(t, 10, b.Tokens(), 1e-9, "capped at MaxTokens")
}

func TestBudgetConcurrent(t *testing.T) {
	b, err := retry.NewBudget(retry.BudgetConfig{MaxTokens: 1000, TokenRatio: 0.5})
	require.NoError(t, err)
	var wg sync.WaitGroup
	const workers, each = 4, 100
	for range workers {
		wg.Go(func() {
			for range each {
				b.Failure()
				b.Success()
				b.Success()
			}
		})
	}
	wg.Wait()
	// Every failure −1 and two successes +1: net 0 from full, never below
	// 0 nor above the cap, so no update may be lost.
	assert.InDelta(t, 1000, b.Tokens(), 1e-9)
	for range workers {
		wg.Go(func() {
			for range each {
				b.Failure()
			}
		})
	}
	wg.Wait()
	assert.InDelta(t, 1000-workers*each, b.Tokens(), 1e-9)
}
