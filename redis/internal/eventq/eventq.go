// Package eventq delivers a type's events to its observer outside every
// lock, serially, in the order they were pushed.
package eventq

import "sync"

// Queue delivers values of E to fn. The goroutine that pushes to an idle
// queue becomes its deliverer: it calls fn for every pending value, with no
// lock held, until the queue is empty; a push while another goroutine
// delivers only appends. So fn is never called concurrently, values leave in
// push order, and fn may push (its value is delivered after it returns). A
// nil fn makes Push free.
type Queue[E any] struct {
	fn func(E)

	mu         sync.Mutex // guards pending and delivering
	pending    []E
	delivering bool
}

// New returns a queue delivering to fn, which may be nil.
func New[E any](fn func(E)) *Queue[E] { return &Queue[E]{fn: fn} }

// Push queues e and, unless another goroutine is delivering, delivers.
func (q *Queue[E]) Push(e E) {
	if q.fn == nil {
		return
	}
	q.mu.Lock()
	q.pending = append(q.pending, e)
	if q.delivering {
		q.mu.Unlock()
		return
	}
	q.delivering = true
	defer q.end()
	for len(q.pending) > 0 {
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, e := range batch {
			q.fn(e)
		}
		q.mu.Lock()
	}
}

// end clears delivering, also when fn panics, so that later values are
// still delivered; it releases the lock taken at the end of Push's loop.
func (q *Queue[E]) end() {
	if r := recover(); r != nil {
		q.mu.Lock()
		q.delivering = false
		q.mu.Unlock()
		panic(r)
	}
	q.delivering = false
	q.mu.Unlock()
}
