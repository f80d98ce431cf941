package balance

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/bulwark-go/bulwark"
)

// nodeState is the live, shared state of one node. It outlives snapshots:
// Update hands a surviving node's state to the new snapshot, and a removed
// node's state stays valid for its outstanding Permits. It is two cache
// lines (128 bytes, a size class whose objects are line-aligned), so that
// Pick/Done on one node never contend with another node's counters (false
// sharing). The first line holds what every Pick reads and almost nothing
// writes (the health check's gate and until, the settings); the second what
// every Pick or Done writes (the in-flight counter, PeakEWMA's estimate,
// the failure run). Were they one line, each Pick on another core would
// take the line away from the cores that only need to read the gate.
type nodeState struct {
	// gate is the node's ejection state in one word, so that the common
	// check is a single load and every transition a single CAS:
	// 0 healthy at full share; > 0 ejected until that now(); < 0 in slow
	// start since -gate.
	gate atomic.Int64
	// until is the now() until which the node is unavailable (a layer below
	// refuses work for it), 0 when available. See availability.go.
	until     atomic.Int64
	cfg       *settings
	counts    atomic.Pointer[healthCounts] // nil once removed by Update
	node      *any                         // the node, for events; set only with an observer
	backAt    atomic.Int64                 // now() when last reinstated
	ejections atomic.Int64
	streak    atomic.Int64 // ejections in a row, for the doubling

	// flight packs the in-flight count (low 32 bits) with the number of
	// Permits done modulo 2^32 (high 32 bits): Pick adds 1, Done adds
	// 2^32-1 (done+1, in flight-1), so a request costs two atomic adds and
	// the pickers' load reads are one load per node. wraps counts the done
	// field's wraparounds, for Stats.Picks. A node holds at most 2^32-1
	// Permits in flight.
	flight atomic.Uint64
	// PeakEWMA: cost is the latency estimate in ns (float64 bits), stamp
	// the now() of its last update.
	cost       atomic.Uint64
	stamp      atomic.Int64
	wraps      atomic.Int64
	consecFail atomic.Int64
	failures   atomic.Int64
	rejections atomic.Int64              // local rejections reported by Done
	reason     atomic.Pointer[rejection] // the latest local rejection
}

const (
	inFlightMask = 1<<32 - 1
	doneStep     = 1<<32 - 1 // added by Done: done+1, in flight-1
)

// healthCounts are the per-snapshot aggregates that ejection, availability
// and bounded loads need. Update builds a fresh one and recounts it from the
// surviving nodes. A Done racing with Update may leave a count off by one
// until that node's next transition; the counts are only used as bounds.
// total, written by every Consistent Pick and Done, has its own cache line.
type healthCounts struct {
	n           int64
	ejected     atomic.Int64
	unavailable atomic.Int64
	states      []*nodeState // the snapshot's nodes, for the latency median
	_           [16]byte
	total       atomic.Int64 // total in-flight, only when settings.trackTotal
	_           [56]byte
}

// inFlight is the number of Permits not yet Done.
func (s *nodeState) inFlight() int64 {
	return int64(s.flight.Load() & inFlightMask)
}

// picks is the number of Permits handed out (for Stats).
func (s *nodeState) picks() int64 {
	v := s.flight.Load()
	return s.wraps.Load()<<32 + int64(v>>32+v&inFlightMask)
}

func newNodeState(cfg *settings) *nodeState {
	return &nodeState{cfg: cfg}
}

// finish is Permit.Done: it releases the slot and records the outcome.
func (s *nodeState) finish(start int64, err error) {
	cfg := s.cfg
	v := s.flight.Add(doneStep)
	if v&inFlightMask == inFlightMask {
		s.flight.Add(^uint64(doneStep - 1)) // a Done through a copied Permit: keep the count sane
		return
	}
	if v>>32 == 0 {
		s.wraps.Add(1)
	}
	if cfg.trackTotal {
		if c := s.counts.Load(); c != nil {
			c.total.Add(-1)
		}
	}
	switch {
	case err == nil:
		if start != 0 && s.observeDone(start, false, v>>32) {
			s.strike() // slow enough to count as a failure (Config.SlowFactor)
		} else if s.consecFail.Load() != 0 {
			s.consecFail.Store(0)
		}
		if s.streak.Load() != 0 {
			s.forgive()
		}
		if s.until.Load() != 0 {
			s.admitted()
		}
	case errors.Is(err, context.Canceled):
		// The caller gave up: says nothing about the node, but the time
		// it was kept waiting is a latency sample.
		if start != 0 {
			s.observeDone(start, false, v>>32)
		}
	case errors.Is(err, bulwark.ErrNotAttempted):
		// Refused before the network: no failure, no latency sample.
		s.rejected(err)
	default:
		if start != 0 {
			s.observeDone(start, true, v>>32)
		}
		s.fail()
	}
}
