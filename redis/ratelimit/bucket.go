package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/bulkhead"
)

// Bucket is one key of a Limiter, for code that asks "may one more event
// happen now?" with no context: Allow() bool, the method x/time/rate's
// Limiter and bulkhead.RateLimiter have. With Config.Batch set, a Bucket
// serves leased tokens from memory (local pre-admission; see the package
// doc for its bound). A Bucket is safe for concurrent use.
type Bucket struct {
	l   *Limiter
	key string

	// stock is the number of leased tokens not yet served.
	stock atomic.Int64
	// ahead is set while a background lease is in flight.
	ahead atomic.Bool
	// emptyUntil is the UnixNano before which Redis has no token: a
	// refusal's RetryAfter, measured from when the reply arrived, which is
	// no earlier than when Redis decided, so it is never early.
	emptyUntil atomic.Int64

	mu     sync.Mutex    // guards flight
	flight chan struct{} // closed when the synchronous lease in flight ends
}

var _ bulkhead.RateLimiter = (*Bucket)(nil)

// Bucket returns the Bucket of key, or an error matching
// ErrInvalidArgument for an empty key. Buckets of one key in one process
// should be one Bucket: each holds its own leased tokens.
func (l *Limiter) Bucket(key string) (*Bucket, error) {
	if key == "" {
		return nil, fmt.Errorf("ratelimit: Bucket key empty: %w", ErrInvalidArgument)
	}
	return &Bucket{l: l, key: key}, nil
}

// Key returns the bucket's key.
func (b *Bucket) Key() string { return b.key }

// Allow reports whether one event may happen now, and if so takes its
// token. It returns at once when a leased token is left or Redis refused
// recently; otherwise it makes (or waits for) one round trip, bounded by
// Config.Timeout, and when Redis does not answer decides by
// Config.Unavailable.
func (b *Bucket) Allow() bool {
	if b.take() {
		return true
	}
	return b.allowSlow()
}

// take serves one leased token, leasing the next batch in the background
// when a quarter of one is left.
func (b *Bucket) take() bool {
	for {
		s := b.stock.Load()
		if s <= 0 {
			return false
		}
		if b.stock.CompareAndSwap(s, s-1) {
			b.l.admitted.Add(1)
			if s-1 <= int64(b.l.batch/4) {
				b.leaseAhead()
			}
			return true
		}
	}
}

func (b *Bucket) allowSlow() bool {
	l := b.l
	if time.Now().UnixNano() < b.emptyUntil.Load() {
		l.rejected.Add(1)
		return false
	}
	if l.batch == 0 {
		return b.exact()
	}
	for {
		b.mu.Lock()
		if f := b.flight; f != nil {
			// Another caller is leasing: wait for its batch (its round trip
			// is bounded by Config.Timeout), then take from it.
			b.mu.Unlock()
			<-f
			if b.take() {
				return true
			}
			if time.Now().UnixNano() < b.emptyUntil.Load() || l.down.Load() {
				return b.refuseOrPolicy()
			}
			continue
		}
		if b.take() { // a background lease landed meanwhile
			b.mu.Unlock()
			return true
		}
		f := make(chan struct{})
		b.flight = f
		b.mu.Unlock()
		ok := b.leaseSync()
		b.mu.Lock()
		b.flight = nil
		b.mu.Unlock()
		close(f)
		return ok
	}
}

// refuseOrPolicy is the answer of a caller that waited for a lease that
// brought nothing for it.
func (b *Bucket) refuseOrPolicy() bool {
	if b.l.down.Load() {
		res := b.l.fallback(1)
		b.l.count(res, 1)
		return res.Allowed == 1
	}
	b.l.rejected.Add(1)
	return false
}

// exact asks Redis for one token.
func (b *Bucket) exact() bool {
	res, err := b.l.decide(context.Background(), b.key, 1, modeAll, -1)
	if err != nil {
		return false
	}
	b.noteRefusal(res)
	return res.Allowed == 1
}

// leaseSync leases a batch for the caller, which takes the first token.
func (b *Bucket) leaseSync() bool {
	l := b.l
	res, err := l.eval(context.Background(), b.key, l.batch, modeAtMost, -1)
	if err != nil {
		res = l.fallback(1)
		l.count(res, 1)
		return res.Allowed == 1
	}
	b.noteRefusal(res)
	if res.Allowed == 0 {
		l.rejected.Add(1)
		return false
	}
	l.admitted.Add(1)
	if res.Allowed > 1 {
		b.stock.Add(int64(res.Allowed - 1))
	}
	return true
}

// leaseAhead starts a background lease unless one is in flight.
func (b *Bucket) leaseAhead() {
	if !b.ahead.CompareAndSwap(false, true) {
		return
	}
	if b.l.down.Load() || time.Now().UnixNano() < b.emptyUntil.Load() ||
		!b.l.goLease(b.leaseBackground) {
		b.ahead.Store(false)
	}
}

func (b *Bucket) leaseBackground() {
	defer b.ahead.Store(false)
	res, err := b.l.eval(context.Background(), b.key, b.l.batch, modeAtMost, -1)
	if err != nil {
		return
	}
	b.noteRefusal(res)
	if res.Allowed > 0 {
		b.stock.Add(int64(res.Allowed))
	}
}

func (b *Bucket) noteRefusal(res Result) {
	if res.Allowed == 0 && res.RetryAfter > 0 && !res.Local {
		b.emptyUntil.Store(time.Now().Add(res.RetryAfter).UnixNano())
	}
}

// RetryAt returns when the last refusal expected a token, or the zero time
// when it does not know (Redis unavailable, or no refusal yet). It
// implements bulwark.RetryAter, which bulkhead reads right after a refusing
// Allow.
func (b *Bucket) RetryAt() time.Time {
	u := b.emptyUntil.Load()
	if u == 0 || b.l.down.Load() {
		return time.Time{}
	}
	return time.Unix(0, u)
}

// Stock returns the number of leased tokens not yet served.
func (b *Bucket) Stock() int { return int(b.stock.Load()) }
