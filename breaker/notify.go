package breaker

// notifier delivers OnStateChange calls outside every lock, once per
// transition, in transition order.
//
// Transitions happen under Breaker.mu, which appends them to pending. After
// unlocking, the goroutine that made a transition becomes the deliverer
// unless one is already at work: it takes the whole pending batch, calls the
// callback for each outside the lock, and loops until pending is empty. Only
// one deliverer runs at a time (the delivering flag), and batches leave the
// queue in the order they entered it, so callbacks are serial and ordered
// even when many goroutines race to transition. A callback may call the
// breaker, even Trip or Reset: its own transition is queued and delivered by
// the loop after it returns. The price: a goroutine that made a transition
// may return before its callback has run, when another goroutine is the
// deliverer.
type notifier struct {
	pending    []transition
	spare      []transition
	delivering bool
}

type transition struct{ from, to State }

func (n *notifier) push(from, to State) {
	n.pending = append(n.pending, transition{from, to})
}

// unlockAndNotify releases b.mu and delivers queued transitions. Call it
// instead of b.mu.Unlock wherever a transition may have been queued.
func (b *Breaker) unlockAndNotify() {
	if b.notes.delivering || len(b.notes.pending) == 0 {
		b.mu.Unlock()
		return
	}
	b.notes.delivering = true
	defer b.endDelivery()
	for len(b.notes.pending) > 0 {
		batch := b.notes.pending
		b.notes.pending = b.notes.spare[:0]
		b.mu.Unlock()
		for _, t := range batch {
			b.cfg.OnStateChange(b.cfg.Name, t.from, t.to)
		}
		b.mu.Lock()
		b.notes.spare = batch[:0]
	}
}

// endDelivery clears the delivering flag, also when a callback panics, so
// that later transitions are still delivered.
func (b *Breaker) endDelivery() {
	if r := recover(); r != nil {
		b.mu.Lock()
		b.notes.delivering = false
		b.mu.Unlock()
		panic(r)
	}
	b.notes.delivering = false
	b.mu.Unlock()
}
