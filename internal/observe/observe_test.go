package observe

import (
	"runtime"
	"sync"
	"testing"
)

type owner struct {
	mu  sync.Mutex
	obs Observer[int]
	n   int
}

// change makes a queued event under the mutex, as an owner's state change does.
func (o *owner) change(before *int) {
	o.mu.Lock()
	o.n++
	o.obs.PushLocked(o.n)
	o.obs.UnlockAndDeliver(&o.mu, before, nil)
}

func TestZeroObserverDoesNothing(t *testing.T) {
	var o owner
	if o.obs.Enabled() {
		t.Fatal("zero Observer reports Enabled")
	}
	o.change(nil)
	o.obs.Emit(1)
	if len(o.obs.pending) != 0 || o.obs.Panics() != 0 {
		t.Fatalf("zero Observer queued %d events, counted %d panics", len(o.obs.pending), o.obs.Panics())
	}
}

func TestQueuedEventsArriveInOrderUnderConcurrency(t *testing.T) {
	var o owner
	var got []int
	var inCall sync.Mutex // fails the test with a race report if calls overlap
	o.obs = New(func(e int) {
		if !inCall.TryLock() {
			t.Error("observer called concurrently for queued events")
			return
		}
		got = append(got, e)
		inCall.Unlock()
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				o.change(nil)
			}
		})
	}
	wg.Wait()
	if len(got) != 1600 {
		t.Fatalf("delivered %d events, want 1600", len(got))
	}
	for i, e := range got {
		if e != i+1 {
			t.Fatalf("event %d is %d: queued events out of order", i, e)
		}
	}
}

func TestObserverMayCallOwnerBack(t *testing.T) {
	var o owner
	var got []int
	o.obs = New(func(e int) {
		got = append(got, e)
		if e < 3 {
			o.change(nil) // would deadlock if delivered under the mutex
		}
	})
	o.change(nil)
	want := []int{1, 2, 3}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestBeforeAndAfterAroundQueue(t *testing.T) {
	var o owner
	var got []int
	o.obs = New(func(e int) { got = append(got, e) })
	o.mu.Lock()
	o.obs.PushLocked(5)
	before, after := -1, -2
	o.obs.UnlockAndDeliver(&o.mu, &before, &after)
	if len(got) != 3 || got[0] != -1 || got[1] != 5 || got[2] != -2 {
		t.Fatalf("got %v, want [-1 5 -2]", got)
	}
}

func TestPanicIsRecoveredAndCounted(t *testing.T) {
	var o owner
	var got []int
	o.obs = New(func(e int) {
		if e == 1 {
			panic("observer bug")
		}
		got = append(got, e)
	})
	o.change(nil)
	o.change(nil)
	if o.obs.Panics() != 1 {
		t.Fatalf("Panics = %d, want 1", o.obs.Panics())
	}
	if len(got) != 1 || got[0] != 2 {
		t.Fatalf("after a panic got %v, want [2]", got)
	}
	if !o.mu.TryLock() {
		t.Fatal("mutex left locked after a panicking observer")
	}
	o.mu.Unlock()
}

func TestGoexitInObserverReleasesDelivery(t *testing.T) {
	var o owner
	calls := 0
	o.obs = New(func(e int) {
		calls++
		if e == 1 {
			runtime.Goexit()
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.change(nil)
	}()
	<-done
	o.change(nil) // delivered only if the delivering flag was cleared
	if calls != 2 {
		t.Fatalf("observer called %d times, want 2", calls)
	}
}

func TestNewTaggedTagsEveryEvent(t *testing.T) {
	var got []int
	o := NewTagged(func(e int) { got = append(got, e) }, func(e *int) { *e *= 10 })
	o.Emit(1)
	var mu sync.Mutex
	mu.Lock()
	o.PushLocked(2)
	before := 3
	o.UnlockAndDeliver(&mu, &before, nil)
	if len(got) != 3 || got[0] != 10 || got[1] != 30 || got[2] != 20 {
		t.Fatalf("got %v, want [10 30 20]", got)
	}
	if none := NewTagged[int](nil, func(*int) {}); none.Enabled() {
		t.Fatal("NewTagged(nil, tag) reports Enabled")
	}
}
