package balance_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bulwark-go/bulwark/balance"
)

// Read-your-writes under scripted replication lag: thousands of sessions
// write and then read with their Token while replicas apply the stream
// late, in bursts, and now and then stall for seconds (longer than MaxLag,
// so ejection and the floor are in play). No read may ever see a position
// older than its session's latest write, whatever the picker.
func TestReplicaReadYourWritesRandomized(t *testing.T) {
	pickers := []struct {
		name     string
		sessions int
		make     func(nodes []string) (balance.ReplicaPicker[string], error)
	}{
		{"P2C", 2000, func(n []string) (balance.ReplicaPicker[string], error) { return balance.NewP2C(n, balance.Config{}) }},
		{"RoundRobin", 1000, func(n []string) (balance.ReplicaPicker[string], error) {
			return balance.NewRoundRobin(n, balance.Config{})
		}},
		{"Random", 1000, func(n []string) (balance.ReplicaPicker[string], error) { return balance.NewRandom(n, balance.Config{}) }},
		{"LeastLoaded", 1000, func(n []string) (balance.ReplicaPicker[string], error) {
			return balance.NewLeastLoaded(n, balance.Config{})
		}},
		{"PeakEWMA", 1000, func(n []string) (balance.ReplicaPicker[string], error) {
			return balance.NewPeakEWMA(n, balance.Config{})
		}},
		{"Consistent", 1000, func(n []string) (balance.ReplicaPicker[string], error) {
			return balance.NewConsistent(n, balance.Config{})
		}},
	}
	for seed, pc := range pickers {
		t.Run(pc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rywRun(t, uint64(seed+1), pc.sessions, pc.make)
			})
		})
	}
}

func rywRun(t *testing.T, seed uint64, sessions int, mk func([]string) (balance.ReplicaPicker[string], error)) {
	nodes := names("r", 5)
	s := newReplStore("p", nodes...)
	picker, err := mk(nodes)
	require.NoError(t, err)
	r := newRouter(t, s.topology(nodes...), picker, balance.ReplicaConfig{
		ProbeInterval: 50 * time.Millisecond,
		MaxLag:        time.Second,
		MaxWait:       20 * time.Millisecond,
	})

	stop := make(chan struct{})
	var replicators sync.WaitGroup
	for i, n := range nodes {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		replicators.Go(func() {
			for {
				pause := time.Duration(rng.IntN(30)+1) * time.Millisecond
				if rng.IntN(100) < 2 {
					pause = time.Duration(500+rng.IntN(2500)) * time.Millisecond // a stall
				}
				select {
				case <-stop:
					return
				case <-time.After(pause):
				}
				s.set(func(s *replStore) {
					behind := s.pos - s.applied[n]
					if behind > 0 {
						s.applied[n] += balance.Position(rng.Uint64N(uint64(behind) + 1))
					}
				})
			}
		})
	}

	var violations, replicaReads, primaryReads, plainReads atomic.Int64
	var wg sync.WaitGroup
	for i := range sessions {
		rng := rand.New(rand.NewPCG(seed, uint64(1000+i)))
		wg.Go(func() {
			ctx := context.Background()
			var tok balance.Token
			var mine balance.Position // the session's latest write
			for range 5 {
				time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
				if rng.IntN(4) == 0 && tok.Position != 0 {
					// a read without the Token: any serving replica
					p, err := r.PickRead(ctx, balance.Token{})
					if err != nil {
						t.Errorf("PickRead: %v", err)
						return
					}
					plainReads.Add(1)
					p.Done(nil)
					continue
				}
				w, err := r.Write(ctx, func(ctx context.Context, node string) error {
					if node != "p" {
						t.Errorf("write sent to %s", node)
					}
					mine = s.write()
					return nil
				})
				if err != nil {
					t.Errorf("Write: %v", err)
					return
				}
				tok = tok.Merge(w)
				time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
				p, err := r.PickRead(ctx, tok)
				if err != nil {
					t.Errorf("PickRead: %v", err)
					return
				}
				if seen := s.position(p.Node); seen < mine || seen < tok.Position {
					violations.Add(1)
					t.Errorf("read on %s saw position %d, the session wrote %d (token %d)", p.Node, seen, mine, tok.Position)
				}
				if p.Node == "p" {
					primaryReads.Add(1)
				} else {
					replicaReads.Add(1)
				}
				p.Done(nil)
			}
		})
	}
	wg.Wait()
	close(stop)
	replicators.Wait()

	st := r.Stats()
	t.Logf("token reads: %d on replicas, %d on the primary (%d behind, %d waits, %d passed over); %d plain reads",
		replicaReads.Load(), primaryReads.Load(), st.BehindReads, st.Waits, st.PassedOver, plainReads.Load())
	assert.Zero(t, violations.Load())
	// The test means something only if both paths ran.
	total := replicaReads.Load() + primaryReads.Load()
	assert.Greater(t, replicaReads.Load(), total/10, "replicas served token reads")
	assert.Positive(t, primaryReads.Load(), "lag sent some token reads to the primary")
	assert.Positive(t, st.Waits)
}
