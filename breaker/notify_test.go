package breaker_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/breaker"
)

// transitionLog records OnStateChange calls and checks them as they come.
type transitionLog struct {
	mu     sync.Mutex
	events []string
	last   breaker.State
	bad    []string
}

func (l *transitionLog) record(name string, from, to breaker.State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev := fmt.Sprintf("%s→%s", from, to)
	if from != l.last || from == to || (from == breaker.Closed && to == breaker.HalfOpen) {
		l.bad = append(l.bad, fmt.Sprintf("event %d %s after state %s", len(l.events), ev, l.last))
	}
	l.events = append(l.events, ev)
	l.last = to
}

func TestOnStateChangeOrderedUnderRaces(t *testing.T) {
	log := &transitionLog{}
	var b *breaker.Breaker
	b, err := breaker.New(breaker.Config{Name: "x", OnStateChange: func(name string, from, to breaker.State) {
		_ = b.State() // callbacks run outside the lock: this must not deadlock
		log.record(name, from, to)
	}})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if (i+g)%2 == 0 {
					b.Trip()
				} else {
					b.Reset()
				}
			}
		})
	}
	wg.Wait()
	log.mu.Lock()
	defer log.mu.Unlock()
	require.Empty(t, log.bad)
	opens := 0
	for _, e := range log.events {
		if e == "closed→open" {
			opens++
		}
	}
	require.Equal(t, b.Stats().Trips, uint64(opens), "one callback per trip")
	require.NotZero(t, opens)
}

func TestOnStateChangeReentrant(t *testing.T) {
	var got []string
	var b *breaker.Breaker
	b, err := breaker.New(breaker.Config{OnStateChange: func(_ string, from, to breaker.State) {
		got = append(got, from.String()+"→"+to.String())
		if to == breaker.Open {
			b.Reset() // a callback may drive the breaker; its event comes next
		}
	}})
	require.NoError(t, err)
	b.Trip()
	require.Equal(t, []string{"closed→open", "open→closed"}, got)
	require.Equal(t, breaker.Closed, b.State())
}
