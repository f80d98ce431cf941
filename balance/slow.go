package balance

import "math"

// Latency outlier ejection (PeakEWMA with Config.SlowFactor).
//
// P2C on peak-EWMA load avoids a slow node whenever it is drawn beside a
// faster one, but it cannot avoid it when both candidates are slow: with k
// slow nodes of n, a share k(k-1)/(n(n-1)) of the picks (two of five: one
// in ten) still goes to a slow node, and a brownout's p99 is then the slow
// nodes' latency. Outlier ejection closes that gap the way Envoy's
// consecutive_5xx detector closes it for errors (Envoy, "Outlier
// detection", https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier):
// a successful response slower than SlowFactor × the fleet's median
// latency counts as a failure in the node's run, and EjectAfter of them in
// a row eject it for EjectFor, within MaxEjectedPercent, like failures do.
//
// The median is over the nodes' peak-EWMA estimates (not decayed: an idle
// node's estimate is its last knowledge), leaving out ejected nodes and
// nodes without a sample. A node recomputes it after its first success
// and every 64th Permit since, the moments it also publishes the failure
// penalty's reference, so a fleet of n nodes recomputes it about n times
// per 64 requests and a Done pays for it one time in 64/n on average. The
// recomputation copies the estimates into a scratch buffer and selects the
// lower median; if another Done is recomputing, it skips. Comparing each
// response (not the peak estimate, which one spike sets) with the median
// makes a single slow response count once; and a response counts only if
// some answer came back in time while it was already late (see slow).

// slow reports whether a successful response that started at start and
// ended at now, rtt ns later, is an outlier: above SlowFactor times the
// median, once a median is known, while some other answer came back within
// that bar after this one had already outlived it. The last condition
// tells a slow node from a stalled process: when the whole process pauses
// (a long GC, a descheduled VM, a starved CI machine), every answer it
// holds comes back late at once and none in time meanwhile, so none
// counts. A fast answer records its time at most every fastStep, which
// delays the evidence by that much at most.
func (cfg *settings) slow(start, now int64, rtt float64) bool {
	m := math.Float64frombits(cfg.median.Load())
	if m == 0 {
		return false
	}
	bar := cfg.slowFactor * m
	if rtt <= bar {
		if now-cfg.lastFast.Load() >= fastStep {
			cfg.lastFast.Store(now)
		}
		return false
	}
	return float64(cfg.lastFast.Load()-start) > bar
}

// fastStep is how often (ns) fast answers record their time: at most
// 10,000 writes a second to a word every fast Done reads.
const fastStep = 100_000

// updateMedian recomputes the median of the estimates of c's nodes unless
// another goroutine is doing it. c is nil for a node removed by Update.
func (cfg *settings) updateMedian(c *healthCounts) {
	if c == nil || !cfg.medMu.TryLock() {
		return
	}
	defer cfg.medMu.Unlock()
	buf := cfg.medBuf[:0]
	if cap(buf) < len(c.states) {
		buf = make([]float64, 0, len(c.states)) // only when the fleet grows
	}
	for _, st := range c.states {
		if st.gate.Load() > 0 {
			continue // ejected: the outliers must not set the bar
		}
		if v := math.Float64frombits(st.cost.Load()); v > 0 {
			buf = append(buf, v)
		}
	}
	cfg.medBuf = buf
	if len(buf) == 0 {
		return
	}
	cfg.median.Store(math.Float64bits(lowerMedian(buf)))
}

// lowerMedian returns the element of rank (len(v)-1)/2 of v (the lower of
// the two middle values for an even length), reordering v: Hoare's
// selection ("Algorithm 65: Find", CACM 1961) with the middle element as
// pivot, linear on average. v is not empty.
func lowerMedian(v []float64) float64 {
	k := (len(v) - 1) / 2
	lo, hi := 0, len(v)-1
	for lo < hi {
		pivot := v[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}
