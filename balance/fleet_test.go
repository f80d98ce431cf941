package balance

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simBreaker is a per-node circuit breaker in front of a simulated node,
// as the fleet's per-host breakers are: over the last 20 calls (at least
// 10), 25% failures open it for 2s; then one probe at a time, whose
// success closes it and whose failure reopens it. Open rejections name the
// reopening moment; half-open ones do not.
type simBreaker struct {
	mu      sync.Mutex
	window  []bool // true: failure
	until   time.Time
	probing bool
}

func (b *simBreaker) allow() (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.until.IsZero():
		return false, nil
	case time.Now().Before(b.until):
		return false, &guardError{name: "breaker", until: b.until}
	case b.probing:
		return false, fmt.Errorf("breaker: half-open: %w", bulwark.ErrNotAttempted)
	}
	b.probing = true
	return true, nil
}

func (b *simBreaker) record(probe, failed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
		if failed {
			b.until = time.Now().Add(2 * time.Second)
		} else {
			b.until, b.window = time.Time{}, nil
		}
		return
	}
	b.window = append(b.window, failed)
	if len(b.window) > 20 {
		b.window = b.window[1:]
	}
	fails := 0
	for _, f := range b.window {
		if f {
			fails++
		}
	}
	if len(b.window) >= 10 && fails*4 >= len(b.window) {
		b.until, b.window = time.Now().Add(2*time.Second), nil
	}
}

// The harder fleet, simulated under synctest: one healthy node, one with
// 300 ms latency spikes (past the 150 ms attempt timeout), one failing half
// its calls, two refusing connections; per-node breakers below PeakEWMA,
// three attempts per request, local rejections retried at once. With the
// defaults and with the fleet example's settings, at least 99.9% of
// requests succeed, and once Done has reported a breaker's open period the
// node gets no attempt until that period ends.
func TestHarderFleet(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
		{"example settings", Config{EjectAfter: 3, EjectFor: 10 * time.Second, MaxEjectedPercent: 60}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				ok, total, openPicks := runHarderFleet(t, tc.cfg, seed)
				rate := float64(ok) / float64(total)
				t.Logf("seed %d: %d/%d succeeded (%.3f%%)", seed, ok, total, 100*rate)
				assert.GreaterOrEqual(t, rate, 0.999, "seed %d success rate", seed)
				assert.Zero(t, openPicks, "seed %d: attempts on a node in an open period already reported", seed)
			}
		})
	}
}

func runHarderFleet(t *testing.T, cfg Config, seed uint64) (ok, total, openPicks int) {
	synctest.Test(t, func(t *testing.T) {
		nodes := []string{"healthy", "slow", "flaky", "dead1", "dead2"}
		p, err := NewPeakEWMA(nodes, cfg)
		require.NoError(t, err)
		breakers := map[string]*simBreaker{}
		for _, n := range nodes {
			breakers[n] = &simBreaker{}
		}
		var mu, res sync.Mutex
		rnd := rand.New(rand.NewPCG(seed, 42))
		float := func() float64 { mu.Lock(); defer mu.Unlock(); return rnd.Float64() }
		errRefused := errors.New("connection refused")
		errTimeout := errors.New("attempt timeout")
		call := func(node string) error {
			switch node {
			case "slow":
				if float() < 0.1 {
					time.Sleep(150 * time.Millisecond)
					return errTimeout
				}
			case "flaky":
				if float() < 0.5 {
					time.Sleep(time.Millisecond)
					return errors.New("503")
				}
			case "dead1", "dead2":
				return errRefused
			}
			time.Sleep(time.Duration(1+2*float()) * time.Millisecond)
			return nil
		}
		// seq orders Picks and reports: an attempt that meets an open
		// period is a violation only if its Pick started after Done had
		// reported that period (concurrent Picks before it are legitimate).
		seq := 0
		reported := map[string]int{} // node+deadline → seq when first reported
		attempt := func() (open bool, err error) {
			res.Lock()
			start := seq
			seq++
			res.Unlock()
			permit, err := p.Pick()
			if err != nil {
				return false, err
			}
			node := permit.Node
			br := breakers[node]
			probe, err := br.allow()
			if err != nil {
				permit.Done(err)
				if at, ok := bulwark.RetryAt(err); ok {
					key := node + at.String()
					res.Lock()
					if r, ok := reported[key]; ok {
						open = start >= r
					} else {
						reported[key] = seq
					}
					res.Unlock()
				}
				return open, err
			}
			err = call(node)
			br.record(probe, err != nil)
			permit.Done(err)
			return false, err
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 400 {
					var err error
					for range 3 {
						var open bool
						open, err = attempt()
						if open {
							res.Lock()
							openPicks++
							res.Unlock()
						}
						if err == nil {
							break
						}
						if at, ok := bulwark.RetryAt(err); ok && errors.Is(err, ErrNoNodes) {
							time.Sleep(time.Until(at)) // every node unavailable: wait, do not spin
						} else if !errors.Is(err, bulwark.ErrNotAttempted) {
							time.Sleep(time.Duration(5+45*float()) * time.Millisecond)
						}
					}
					res.Lock()
					total++
					if err == nil {
						ok++
					}
					res.Unlock()
				}
			})
		}
		wg.Wait()
	})
	return ok, total, openPicks
}
