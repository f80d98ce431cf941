package main

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStampedeOriginCalls(t *testing.T) {
	tests := []struct {
		name      string
		useCache  bool
		wantCalls int64
	}{
		{"without cache every request reaches the origin", false, 1000},
		{"GetOrLoad sends one", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, err := runStampede(t.Context(), 1000, 50*time.Millisecond, tt.useCache)
				require.NoError(t, err)
				assert.Equal(t, tt.wantCalls, r.originCalls)
				assert.Equal(t, 50*time.Millisecond, r.wall, "everyone waits one origin call")
			})
		})
	}
}

func TestExpiryLatency(t *testing.T) {
	plan := expiryPlan{delay: 50 * time.Millisecond, ttl: 500 * time.Millisecond,
		period: 5 * time.Millisecond, length: 600 * time.Millisecond}
	tests := []struct {
		name     string
		staleFor time.Duration
		wantMax  time.Duration
		// 600ms / 5ms reads; the 50ms wait makes the ticker drop 9 ticks.
		wantRequests int
	}{
		{"TTL only: one reader waits for the reload", 0, 50 * time.Millisecond, 111},
		{"StaleFor: nobody waits", time.Minute, 0, 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := plan
				p.staleFor = tt.staleFor
				r, err := runExpiry(t.Context(), p)
				require.NoError(t, err)
				assert.Equal(t, tt.wantMax, r.max)
				assert.Equal(t, time.Duration(0), r.p50)
				assert.Equal(t, int64(2), r.originCalls)
				assert.Equal(t, int64(2), r.foreground+r.refreshes)
				assert.Equal(t, tt.wantRequests, r.requests)
			})
		})
	}
}

func TestRunPassesItsChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), config{requests: 1000, delay: 50 * time.Millisecond}, &out))
		assert.Contains(t, out.String(), "without cache          origin calls  1000")
		assert.Contains(t, out.String(), "with cache.GetOrLoad   origin calls     1")
	})
}

func TestCheckRejects(t *testing.T) {
	cfg := config{requests: 10, delay: 50 * time.Millisecond}
	good := func() (stampedeResult, stampedeResult, expiryResult, expiryResult) {
		return stampedeResult{originCalls: 10}, stampedeResult{originCalls: 1},
			expiryResult{max: 50 * time.Millisecond, originCalls: 2, foreground: 2},
			expiryResult{originCalls: 2, foreground: 1, refreshes: 1}
	}
	plain, cached, ttlOnly, swr := good()
	require.NoError(t, check(cfg, plain, cached, ttlOnly, swr))
	tests := []struct {
		name   string
		mutate func(p, c *stampedeResult, t, s *expiryResult)
	}{
		{"plain calls", func(p, c *stampedeResult, t, s *expiryResult) { p.originCalls = 9 }},
		{"cached calls", func(p, c *stampedeResult, t, s *expiryResult) { c.originCalls = 2 }},
		{"expiry calls", func(p, c *stampedeResult, t, s *expiryResult) { s.originCalls = 3 }},
		{"ttl only without spike", func(p, c *stampedeResult, t, s *expiryResult) { t.max = time.Millisecond }},
		{"ttl only refreshed in background", func(p, c *stampedeResult, t, s *expiryResult) { t.foreground, t.refreshes = 1, 1 }},
		{"stale reader waited for the reload", func(p, c *stampedeResult, t, s *expiryResult) { s.foreground, s.refreshes = 2, 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, c, tl, s := good()
			tt.mutate(&p, &c, &tl, &s)
			assert.Error(t, check(cfg, p, c, tl, s))
		})
	}
	assert.Error(t, run(t.Context(), config{requests: 0, delay: time.Second}, &bytes.Buffer{}))
}
