// Package observe delivers a building block's events to its optional
// observer under the delivery rule documented on bulwark.Event: never under
// a lock, in order per object for the events queued under the object's
// lock, and a panicking observer recovered and counted.
//
// An object embeds an Observer[E] for its event type E. A call's own events
// go straight to Emit on the call's goroutine. Events that change what the
// object does for every caller (a transition, a limit change, an ejection)
// are made under the object's mutex: the code that makes them calls
// PushLocked there and then releases the mutex with UnlockAndDeliver
// instead of Unlock.
package observe

import (
	"sync"
	"sync/atomic"
)

// Observer holds an observer func, the count of its recovered panics and
// the queue of events made under the owner's mutex. The zero Observer has
// no func: Enabled reports false and the owner skips building events.
//
// The queue: events appended by PushLocked under the owner's mutex are
// delivered after it is released by the goroutine that made them, unless
// another goroutine is already delivering. That deliverer takes the whole
// batch, calls the func for each outside the mutex and loops until the
// queue is empty. One deliverer at a time and batches in queue order: the
// func sees queued events serially, in the order they took effect, and may
// call the owner back (even to make more queued events) without deadlock;
// what it causes is delivered after it returns.
type Observer[E any] struct {
	fn     func(E)
	panics atomic.Int64

	pending, spare []E  // guarded by the owner's mutex
	delivering     bool // guarded by the owner's mutex
}

// New returns an Observer for fn (nil for none). It is meant to be stored
// by value in the owner at construction, before the owner is shared.
func New[E any](fn func(E)) Observer[E] { return Observer[E]{fn: fn} }

// NewTagged returns an Observer for fn (nil for none) that applies tag to
// each event before fn sees it, e.g. to set the owner's name on events built
// without it.
func NewTagged[E any](fn func(E), tag func(*E)) Observer[E] {
	if fn == nil || tag == nil {
		return Observer[E]{fn: fn}
	}
	return Observer[E]{fn: func(e E) {
		tag(&e)
		fn(e)
	}}
}

// Enabled reports whether there is a func to deliver to. Owners test it
// before building an event, so that no observer costs one branch.
func (o *Observer[E]) Enabled() bool { return o.fn != nil }

// Panics returns how many times the func panicked.
func (o *Observer[E]) Panics() int64 { return o.panics.Load() }

// Emit delivers e at once, on the calling goroutine; the caller holds no
// lock of the owner. A panic of the func is recovered and counted. Emit
// with no func does nothing.
func (o *Observer[E]) Emit(e E) {
	if o.fn == nil {
		return
	}
	defer o.recoverPanic()
	o.fn(e)
}

func (o *Observer[E]) recoverPanic() {
	if recover() != nil {
		o.panics.Add(1)
	}
}

// PushLocked queues e for delivery by UnlockAndDeliver. The caller holds
// the owner's mutex. With no func it does nothing.
func (o *Observer[E]) PushLocked(e E) {
	if o.fn != nil {
		o.pending = append(o.pending, e)
	}
}

// UnlockAndDeliver releases mu, the owner's mutex (held by the caller), and
// then delivers outside it: before (the event of the call that took the
// lock, if not nil), the queued events (unless another goroutine is
// delivering them), and after (if not nil). A call's own events are passed
// as before and after rather than queued, so a deliverer's extra work is
// bounded by the rate of queued events, not by other callers' traffic.
func (o *Observer[E]) UnlockAndDeliver(mu sync.Locker, before, after *E) {
	if o.delivering || len(o.pending) == 0 {
		mu.Unlock()
		if before != nil {
			o.Emit(*before)
		}
		if after != nil {
			o.Emit(*after)
		}
		return
	}
	o.delivering = true
	mu.Unlock()
	o.drain(mu, before)
	if after != nil {
		o.Emit(*after)
	}
}

// drain emits before (if not nil) and then the queue until it is empty. The
// caller set the delivering flag and does not hold mu.
func (o *Observer[E]) drain(mu sync.Locker, before *E) {
	locked := false
	// Deferred so that a func that does not return normally (runtime.Goexit,
	// which t.FailNow calls) does not leave the flag set and later events
	// queued for ever. Its panics are recovered by Emit and never reach here.
	defer func() {
		if !locked {
			mu.Lock()
		}
		o.delivering = false
		mu.Unlock()
	}()
	if before != nil {
		o.Emit(*before)
	}
	mu.Lock()
	locked = true
	for len(o.pending) > 0 {
		batch := o.pending
		o.pending = o.spare[:0]
		locked = false
		mu.Unlock()
		for i := range batch {
			o.Emit(batch[i])
		}
		mu.Lock()
		locked = true
		clear(batch) // drop references the events hold
		o.spare = batch[:0]
	}
}
