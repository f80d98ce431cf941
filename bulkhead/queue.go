package bulkhead

import "sync"

// waiter is one caller queued for a slot. Its fields other than ready are
// guarded by Bulkhead.mu.
type waiter struct {
	// ready receives exactly one value when a hand-off gives this waiter a slot.
	// It has capacity 1 so the hand-off never blocks under the lock.
	ready      chan struct{}
	granted    bool
	prev, next *waiter
}

// fifo is an intrusive doubly linked list of waiters, oldest first. Removal of
// a cancelled waiter from the middle is O(1). Its pool recycles waiters and
// their channels: a full bulkhead under steady load queues and wakes callers
// all the time, and each waiter would otherwise cost two allocations. The pool
// is per bulkhead, not global, so that a channel is only ever used by the
// goroutines of one bulkhead (a testing/synctest bubble treats a channel made
// outside the bubble as not durably blocking).
type fifo struct {
	head, tail *waiter
	pool       sync.Pool // of *waiter with an empty ready channel
}

func (q *fifo) pushBack() *waiter {
	w, _ := q.pool.Get().(*waiter)
	if w == nil {
		w = &waiter{ready: make(chan struct{}, 1)}
	}
	w.granted = false
	w.prev, w.next = q.tail, nil
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	return w
}

func (q *fifo) popFront() *waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

func (q *fifo) remove(w *waiter) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
}

// recycle returns w to the pool. The caller must have drained w.ready. It
// needs no lock: w is out of the list and sync.Pool is safe for concurrent use.
func (q *fifo) recycle(w *waiter) { q.pool.Put(w) }
