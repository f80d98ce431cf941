package eventq

import (
	"sync"
	"testing"
)

// Values pushed from many goroutines, and from inside fn, are delivered
// one at a time, each exactly once, and a push from fn after the value
// that caused it.
func TestQueueSerialOrdered(t *testing.T) {
	var mu sync.Mutex
	inFn := false
	got := map[int]int{}
	var order []int
	var q *Queue[int]
	q = New(func(v int) {
		mu.Lock()
		if inFn {
			t.Error("fn called concurrently")
		}
		inFn = true
		got[v]++
		order = append(order, v)
		mu.Unlock()
		if v >= 0 && v < 100 {
			q.Push(-v - 1) // delivered after v returns
		}
		mu.Lock()
		inFn = false
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				q.Push(g*25 + i)
			}
		})
	}
	wg.Wait()
	for v := -100; v < 100; v++ {
		if got[v] != 1 {
			t.Fatalf("value %d delivered %d times, want once", v, got[v])
		}
	}
	pos := map[int]int{}
	for i, v := range order {
		pos[v] = i
	}
	for v := range 100 {
		if pos[-v-1] < pos[v] {
			t.Fatalf("value %d pushed by fn delivered before %d", -v-1, v)
		}
	}
}

func TestQueuePanicKeepsDelivering(t *testing.T) {
	n := 0
	q := New(func(v int) {
		n++
		if v == 1 {
			panic("boom")
		}
	})
	func() {
		defer func() { _ = recover() }()
		q.Push(1)
	}()
	q.Push(2)
	if n != 2 {
		t.Fatalf("fn called %d times, want 2: the queue must deliver after a panic", n)
	}
	New[int](nil).Push(1) // a nil fn is free
}
