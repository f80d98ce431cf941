package breaker

// notifier delivers a breaker's transitions outside every lock, one at a
// time, in the order they were made.
//
// Transitions happen under Breaker.mu, which appends their events to
// pending. After unlocking, the goroutine that made them becomes the
// deliverer unless one is already at work: it takes the whole pending
// batch, calls the observer for each outside the lock, and loops until
// pending is empty. Only one deliverer runs at a time (the delivering flag),
// and batches leave the queue in the order they entered it, so transitions
// reach the observer serially and in order even when many goroutines race
// to make them. An observer may call the breaker, even Trip or Reset: its
// own transitions are queued and delivered by the loop after it returns.
// The price: a goroutine that made a transition may return before its event
// has been delivered, when another goroutine is the deliverer.
//
// Only transitions are queued. A call's own events (its outcome, its
// rejection, its probe admission) are delivered by its goroutine, around
// the transitions it caused: a failure before the trip it caused, a probe
// after the transition that admitted it. Transitions are rare (a breaker
// opens at most once per OpenFor), so a deliverer's extra work is bounded;
// queueing every outcome would let one caller be kept delivering other
// callers' events for as long as they keep failing.
type notifier struct {
	pending    []Event
	spare      []Event
	delivering bool
}

// pushLocked queues e; the caller holds b.mu and has checked that b has an
// observer.
func (b *Breaker) pushLocked(e Event) {
	b.notes.pending = append(b.notes.pending, e)
}

// unlockAndNotify releases b.mu and delivers queued transitions. Call it
// instead of b.mu.Unlock wherever a transition may have been queued.
func (b *Breaker) unlockAndNotify() { b.unlockAndNotifyAround(nil, nil) }

// unlockAndNotifyAround releases b.mu and delivers, outside it, before (the
// event of the call that took the lock, if not nil), then the queued
// transitions (unless another goroutine is delivering them), then after.
func (b *Breaker) unlockAndNotifyAround(before, after *Event) {
	if b.notes.delivering || len(b.notes.pending) == 0 {
		b.mu.Unlock()
		if before != nil {
			b.obs.emit(*before)
		}
		if after != nil {
			b.obs.emit(*after)
		}
		return
	}
	b.notes.delivering = true
	b.mu.Unlock()
	b.deliver(before)
	if after != nil {
		b.obs.emit(*after)
	}
}

// deliver emits before (if not nil) and then the queue until it is empty.
// The caller set the delivering flag and holds no lock.
func (b *Breaker) deliver(before *Event) {
	locked := false
	// Deferred so that an observer that does not return normally
	// (runtime.Goexit, as t.FailNow calls) does not leave the flag set and
	// later transitions queued for ever. Its panics are recovered by emit
	// and never reach here.
	defer func() {
		if !locked {
			b.mu.Lock()
		}
		b.notes.delivering = false
		b.mu.Unlock()
	}()
	if before != nil {
		b.obs.emit(*before)
	}
	b.mu.Lock()
	locked = true
	for len(b.notes.pending) > 0 {
		batch := b.notes.pending
		b.notes.pending = b.notes.spare[:0]
		locked = false
		b.mu.Unlock()
		for i := range batch {
			b.obs.emit(batch[i]) // recovers the observer's panics
		}
		b.mu.Lock()
		locked = true
		b.notes.spare = batch[:0]
	}
}
