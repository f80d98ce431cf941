package cache

import (
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/internal/observe"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventHit: Get or GetOrLoad (or GetOrLoadMany, per key) answered from
	// the cache. Stale is set when the value is past its TTL but within
	// StaleFor (a refresh is started); Err is set when the answer is a
	// cached load error (ErrorTTL). Peek, Contains and All report nothing:
	// like Stats, events count lookups only.
	EventHit EventKind = iota + 1
	// EventMiss: Get or GetOrLoad (or GetOrLoadMany, per key) found no
	// usable entry.
	EventMiss
	// EventLoad: a foreground load (GetOrLoad, GetOrLoadMany) ended after
	// Duration. Err is its error (ErrNotFound for a key a GetOrLoadMany
	// loader left out), nil when it returned a value. A GetOrLoadMany batch
	// reports one EventLoad per key, each with the batch's Duration. Every
	// loader call is reported, also one whose result was not stored because
	// every waiter left (abandoned, Err then usually the cancellation) or a
	// write to the key came first (superseded): EventLoad and EventRefresh
	// together count Stats.Loads, while Stats.LoadErrors leaves those out.
	EventLoad
	// EventRefresh: a background load (stale-while-revalidate, early
	// refresh, Refresh) ended after Duration. Err is its error; a failed
	// refresh leaves the entry as it was.
	EventRefresh
	// EventEvict: an entry left the cache for Reason (the same as OnEvict's;
	// cached load errors leaving are not reported).
	EventEvict
)

// String returns the kind's stable name: "hit", "miss", "load", "refresh"
// or "evict".
func (k EventKind) String() string {
	switch k {
	case EventHit:
		return "hit"
	case EventMiss:
		return "miss"
	case EventLoad:
		return "load"
	case EventRefresh:
		return "refresh"
	case EventEvict:
		return "evict"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is what a Cache reports to its Config.Observer, under the delivery
// rule of package bulwark: never under a lock, on the goroutine of the call
// (or of the load) it describes, a panicking observer recovered and counted
// in Stats.ObserverPanics. A lookup's hit or miss is delivered before the
// call returns; an eviction after the lock that made it is released, like
// OnEvict (which, if set, is called first and still receives the evicted
// value). A load's goroutine delivers its EventLoad and then the evictions
// storing its value caused before it wakes the load's waiters, so a
// GetOrLoad miss reports miss, load, evictions in that order before it
// returns; a stale hit is delivered before its refresh starts. Events of
// concurrent calls may arrive concurrently.
//
// The observer may call the cache back (Get, Set, Delete, GetOrLoad,
// Stats): no lock is held. It must not call Close, which waits for the
// load whose goroutine may be the one delivering.
//
// Fields that a Kind does not mention are zero. Kinds and fields may be
// added: switch on Kind with a default case.
type Event[K comparable] struct {
	Kind EventKind
	// Name is the cache's Config.Name.
	Name string
	// Key is the entry's key.
	Key K
	// Reason is why an EventEvict entry left.
	Reason EvictReason
	// Stale is set on an EventHit that served a stale value.
	Stale bool
	// Duration is how long an EventLoad or EventRefresh took.
	Duration time.Duration
	// Err is the load's error (EventLoad, EventRefresh) or the cached error
	// returned (EventHit).
	Err error
}

// Component returns "cache"; with Source and Type it makes Event a
// bulwark.Event.
func (e Event[K]) Component() string { return "cache" }

// Source returns Name.
func (e Event[K]) Source() string { return e.Name }

// Type returns Kind's name.
func (e Event[K]) Type() string { return e.Kind.String() }

// observer is Config.Observer delivered under the rule of package bulwark.
type observer[K comparable] = observe.Observer[Event[K]]

// newObserver returns the observer for fn (nil for none), which tags every
// event with the cache's name.
func newObserver[K comparable](fn func(Event[K]), name string) observer[K] {
	return observe.NewTagged(fn, func(e *Event[K]) { e.Name = name })
}
