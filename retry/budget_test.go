package retry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/retry"
)

func TestBudgetTokenRule(t *testing.T) {
	// gRFC A6 with maxTokens 10, ratio 0.1: five failures from full reach 5
	// (retries off), one success reaches 5.1 (retries on).
	b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{})
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
	b, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 1000, TokenRatio: 0.5})
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

// recordingBudget is a Budget that records the calls it receives, in order,
// and allows retries while allow is true.
type recordingBudget struct {
	mu    sync.Mutex
	calls []string
	deny  bool
}

func (b *recordingBudget) record(c string) {
	b.mu.Lock()
	b.calls = append(b.calls, c)
	b.mu.Unlock()
}

func (b *recordingBudget) AllowRetry() bool {
	b.record("allow")
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.deny
}
func (b *recordingBudget) Success() { b.record("success") }
func (b *recordingBudget) Failure() { b.record("failure") }

func (b *recordingBudget) log() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.calls...)
}

func TestBudgetContract(t *testing.T) {
	// What a Budget implementation is told, call by call: only attempts
	// that reached the dependency, and AllowRetry only when the retry will
	// be made.
	errFatal := errors.New("fatal")
	tests := []struct {
		name    string
		cfg     retry.Config
		deny    bool
		errs    []error // attempt i returns errs[i]; past the end, nil
		wantLog []string
		wantIs  []error
	}{
		{"first success", retry.Config{}, false, nil, []string{"success"}, nil},
		{"fail then success", retry.Config{}, false, []error{errFlaky},
			[]string{"failure", "allow", "success"}, nil},
		{"exhausted: the last failure is reported, no allow after it", retry.Config{MaxAttempts: 2}, false,
			[]error{errFlaky, errFlaky}, []string{"failure", "allow", "failure"}, []error{retry.ErrExhausted}},
		{"refused", retry.Config{}, true, []error{errFlaky},
			[]string{"failure", "allow"}, []error{retry.ErrBudget, errFlaky}},
		{"permanent: nothing", retry.Config{}, false, []error{retry.Permanent(errFatal)}, nil, []error{errFatal}},
		{"not retryable: nothing", retry.Config{Retryable: func(err error) bool { return !errors.Is(err, errFatal) }}, false,
			[]error{errFatal}, nil, []error{errFatal}},
		{"MaxElapsed stop: no allow", retry.Config{MaxElapsed: time.Second, Backoff: retry.Constant(time.Minute)}, false,
			[]error{errFlaky}, []string{"failure"}, []error{retry.ErrExhausted}},
		{"local rejection: nothing for it", retry.Config{}, false, []error{errLocal},
			[]string{"success"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := &recordingBudget{deny: tt.deny}
				cfg := tt.cfg
				cfg.Budget = b
				if cfg.Backoff == nil {
					cfg.Backoff = retry.Constant(time.Second)
				}
				r := mustNew(t, cfg)
				calls := 0
				err := r.Do(t.Context(), func(context.Context) error {
					calls++
					if calls <= len(tt.errs) {
						return tt.errs[calls-1]
					}
					return nil
				})
				assert.Equal(t, tt.wantLog, b.log())
				if tt.wantIs == nil {
					require.NoError(t, err)
				}
				for _, target := range tt.wantIs {
					assert.ErrorIs(t, err, target)
				}
			})
		})
	}
}

func TestNilTokenBudgetMeansNone(t *testing.T) {
	var b *retry.TokenBudget
	r := mustNew(t, retry.Config{Budget: b, Backoff: retry.Constant(0)})
	fn, calls := failing(1, errFlaky)
	require.NoError(t, r.Do(t.Context(), fn))
	assert.Equal(t, 2, *calls)
	_, err := retry.Hedge(t.Context(), retry.HedgeConfig{Budget: b}, func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
}

func TestBudgetSizingFigures(t *testing.T) {
	// The figures TokenBudgetConfig's doc gives: from full, MaxTokens/2 net
	// failures turn retries off; from empty, just over
	// MaxTokens/(2·TokenRatio) successes turn them on.
	tests := []struct {
		cfg              retry.TokenBudgetConfig
		offAfter, onFrom int
	}{
		{retry.TokenBudgetConfig{}, 5, 51},
		{retry.TokenBudgetConfig{MaxTokens: 100}, 50, 501},
		{retry.TokenBudgetConfig{MaxTokens: 4, TokenRatio: 1}, 2, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.cfg), func(t *testing.T) {
			b, err := retry.NewTokenBudget(tt.cfg)
			require.NoError(t, err)
			failures := 0
			for b.AllowRetry() {
				b.Failure()
				failures++
			}
			assert.Equal(t, tt.offAfter, failures)
			for b.Tokens() > 0 {
				b.Failure()
			}
			successes := 0
			for !b.AllowRetry() {
				b.Success()
				successes++
			}
			assert.Equal(t, tt.onFrom, successes)
		})
	}
}
