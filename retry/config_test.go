package retry_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/retry"
)

func TestInvalidConfig(t *testing.T) {
	ok := mustNew(t, retry.Config{})
	tests := []struct {
		name    string
		build   func() error
		wantMsg string
	}{
		{"MaxAttempts", func() error { _, err := retry.New(retry.Config{MaxAttempts: -1}); return err },
			"retry: Config.MaxAttempts -1 negative"},
		{"MaxElapsed", func() error { _, err := retry.New(retry.Config{MaxElapsed: -time.Second}); return err },
			"retry: Config.MaxElapsed -1s negative"},
		{"AttemptTimeout", func() error { _, err := retry.New(retry.Config{AttemptTimeout: -time.Second}); return err },
			"retry: Config.AttemptTimeout -1s negative"},
		{"Base zero", func() error { _, err := retry.New(retry.Config{Backoff: retry.Exponential{}}); return err },
			"retry: Config.Backoff Exponential.Base 0s must be > 0"},
		{"Max below Base", func() error {
			_, err := retry.New(retry.Config{Backoff: retry.Exponential{Base: 2 * time.Second, Max: time.Second}})
			return err
		}, "retry: Config.Backoff Exponential.Max 1s below Base 2s"},
		{"Multiplier", func() error {
			_, err := retry.New(retry.Config{Backoff: retry.Exponential{Base: time.Second, Multiplier: 0.9}})
			return err
		}, "retry: Config.Backoff Exponential.Multiplier 0.9 must be >= 1"},
		{"Constant", func() error { _, err := retry.New(retry.Config{Backoff: retry.Constant(-time.Second)}); return err },
			"retry: Config.Backoff Constant(-1s) negative"},
		{"Exponential.Validate", func() error { return retry.Exponential{Base: time.Second, Jitter: 9}.Validate() },
			"retry: Exponential.Jitter Jitter(9) unknown"},
		{"TokenRatio above 1", func() error { _, err := retry.NewTokenBudget(retry.TokenBudgetConfig{TokenRatio: 1.5}); return err },
			"retry: TokenBudgetConfig.TokenRatio 1.5 outside (0, 1]"},
		{"TokenRatio negative", func() error { _, err := retry.NewTokenBudget(retry.TokenBudgetConfig{TokenRatio: -0.1}); return err },
			"retry: TokenBudgetConfig.TokenRatio -0.1 outside (0, 1]"},
		{"MaxTokens negative", func() error { _, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: -1}); return err },
			"retry: TokenBudgetConfig.MaxTokens -1 outside [1, 1000000]"},
		{"MaxTokens huge", func() error {
			_, err := retry.NewTokenBudget(retry.TokenBudgetConfig{MaxTokens: 2_000_000})
			return err
		},
			"retry: TokenBudgetConfig.MaxTokens 2000000 outside [1, 1000000]"},
		{"NewTransport nil Retrier", func() error { _, err := retry.NewTransport(nil, nil); return err },
			"retry: NewTransport with a nil *Retrier"},
		{"WithAttemptTimeout", func() error {
			_, err := retry.NewTransport(nil, ok, retry.WithAttemptTimeout(-time.Second))
			return err
		}, "retry: WithAttemptTimeout(-1s) negative"},
		{"WithRetryStatuses", func() error {
			_, err := retry.NewTransport(nil, ok, retry.WithRetryStatuses(503, 42))
			return err
		}, "retry: WithRetryStatuses(42) outside [100, 599]"},
		{"NewHedgeTransport Delay", func() error {
			_, err := retry.NewHedgeTransport(nil, retry.HedgeConfig{Delay: -time.Second})
			return err
		}, "retry: HedgeConfig.Delay -1s negative"},
		{"NewHedgeTransport MaxHedges", func() error {
			_, err := retry.NewHedgeTransport(nil, retry.HedgeConfig{MaxHedges: 101})
			return err
		}, "retry: HedgeConfig.MaxHedges 101 outside [0, 100]"},
		{"NewHedgeTransport option", func() error {
			_, err := retry.NewHedgeTransport(nil, retry.HedgeConfig{}, retry.WithAttemptTimeout(-time.Millisecond))
			return err
		}, "retry: WithAttemptTimeout(-1ms) negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			require.Error(t, err)
			assert.True(t, errors.Is(err, retry.ErrInvalidConfig), "errors.Is(%v, ErrInvalidConfig)", err)
			assert.EqualError(t, err, tt.wantMsg)
		})
	}
}

func TestNilNextIsDefaultTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	rt := mustTransport(t, nil, mustNew(t, retry.Config{}))
	ht, err := retry.NewHedgeTransport(nil, retry.HedgeConfig{Delay: time.Hour})
	require.NoError(t, err)
	for name, tr := range map[string]http.RoundTripper{"Transport": rt, "HedgeTransport": ht} {
		t.Run(name, func(t *testing.T) {
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, "ok", string(body))
		})
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}
