package bulkhead

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Done is idempotent: a second Done (or Dropped) on the same variable leaves
// every counter, slot and in-flight count as the first one left them.
func TestPermitDoneTwice(t *testing.T) {
	errBoom := errors.New("boom")
	for _, err := range []error{nil, errBoom, context.DeadlineExceeded} {
		t.Run("Bulkhead/"+errName(err), func(t *testing.T) {
			b := mustNew(t, Config{MaxConcurrent: 2})
			p, aerr := b.Acquire(context.Background())
			require.NoError(t, aerr)
			p.Done(err)
			after := b.Stats()
			assert.Equal(t, Permit{}, p, "Done zeroes the Permit")
			p.Done(err)
			p.Dropped()
			assert.Equal(t, after, b.Stats())
			assert.Equal(t, int64(2), after.Available)
			assert.Zero(t, after.InFlight)
			assert.Zero(t, after.Misuse)
		})
		t.Run("Adaptive/"+errName(err), func(t *testing.T) {
			a, aerr := NewAdaptive(AdaptiveConfig{InitialLimit: 2, MaxLimit: 2, WindowSize: 1})
			require.NoError(t, aerr)
			p, aerr := a.Acquire(context.Background())
			require.NoError(t, aerr)
			p.Done(err)
			after := a.Stats()
			assert.Equal(t, Permit{}, p, "Done zeroes the Permit")
			p.Done(err)
			p.Dropped()
			assert.Equal(t, after, a.Stats())
			assert.Zero(t, after.InFlight)
			assert.Zero(t, after.Misuse)
		})
	}
}

func errName(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// Dropped is idempotent too, and a Done after it does nothing.
func TestPermitDroppedThenDone(t *testing.T) {
	a, err := NewAdaptive(AdaptiveConfig{})
	require.NoError(t, err)
	p, ok := a.TryAcquire()
	require.True(t, ok)
	p.Dropped()
	p.Dropped()
	p.Done(nil)
	s := a.Stats()
	assert.Equal(t, int64(1), s.Dropped)
	assert.Zero(t, s.InFlight)
}

func TestZeroPermitIsInert(t *testing.T) {
	var p Permit
	p.Done(nil)
	p.Dropped()
	assert.Equal(t, Permit{}, p)
}

// A Done on a copy of an Adaptive Permit that finished is undone and
// counted, so the limiter cannot admit one call more for good.
func TestAdaptiveDoneOnCopyIsUndone(t *testing.T) {
	a, err := NewAdaptive(AdaptiveConfig{InitialLimit: 1, MaxLimit: 1})
	require.NoError(t, err)
	p, ok := a.TryAcquire()
	require.True(t, ok)
	dup := p
	p.Done(nil)
	dup.Done(nil)
	s := a.Stats()
	assert.Zero(t, s.InFlight)
	assert.Equal(t, int64(1), s.Misuse)
	q, ok := a.TryAcquire()
	require.True(t, ok)
	_, ok = a.TryAcquire()
	assert.False(t, ok, "the limit of 1 must hold")
	q.Done(nil)
}

// The fast path allocates nothing: TryAcquire and Done, Acquire and Done,
// Do, on both limiters, and a refused TryAcquire.
func TestPermitAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	b := mustNew(t, Config{MaxConcurrent: 4})
	a, err := NewAdaptive(AdaptiveConfig{})
	require.NoError(t, err)
	full := mustNew(t, Config{MaxConcurrent: 1})
	mustTry(t, full)
	limited := mustNew(t, Config{MaxConcurrent: 4, Rate: 1e-9, Burst: 1})
	mustTry(t, limited)
	fn := func(context.Context) error { return nil }
	cases := map[string]func(){
		"Bulkhead.TryAcquire": func() {
			if p, ok := b.TryAcquire(); ok {
				p.Done(nil)
			}
		},
		"Bulkhead.Acquire": func() {
			if p, err := b.Acquire(ctx); err == nil {
				p.Done(nil)
			}
		},
		"Bulkhead.Do": func() { _ = b.Do(ctx, fn) },
		"Limiter.TryAcquire": func() {
			var l Limiter = b
			if p, ok := l.TryAcquire(); ok {
				p.Done(nil)
			}
		},
		"Adaptive.Acquire": func() {
			if p, err := a.Acquire(ctx); err == nil {
				p.Done(nil)
			}
		},
		"Adaptive.Do":        func() { _ = a.Do(ctx, fn) },
		"TryAcquire full":    func() { full.TryAcquire() },
		"TryAcquire limited": func() { limited.TryAcquire() },
	}
	for name, f := range cases {
		assert.Zero(t, testing.AllocsPerRun(100, f), name)
	}
}
