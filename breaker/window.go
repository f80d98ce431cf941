package breaker

// window holds what the trip decision needs: the number of outcomes, of
// failures and of slow calls in the last WindowSize outcomes (count window)
// or the last WindowTime (time window). It is guarded by Breaker.mu.
//
// Successes are not stored one by one: they only bump the breaker's striped
// counter, so the closed-state hot path stays lock-free. The window instead
// works on the running total T of recorded outcomes (successes plus window
// failures):
//   - count window: outcomes are numbered by T; failures and slow calls keep
//     their number in a queue, and the window is the numbers in
//     (max(T-WindowSize, base), T], base being T when the window was reset;
//   - time window: each bucket remembers T at its start plus its own failure
//     and slow counts; the window's outcomes are T minus the start of its
//     oldest bucket, and a long idle gap resets every bucket it skips.
type window struct {
	timeBased bool
	failTotal int64  // failures ever added; part of T
	gen       uint64 // bumped by every reset

	// The run of consecutive failures: a failure numbered lastFail+1
	// extends it; any outcome numbered in between (a success) ends it.
	run      int64
	lastFail int64

	// count window
	size  int64
	base  int64
	fails stampQueue
	slows stampQueue

	// time window
	width      int64 // bucket width in ns
	bucketNum  int64 // absolute number of the current bucket
	starts     []int64
	bucketFail []int64
	bucketSlow []int64
}

func (w *window) init(c Config) {
	if c.WindowTime == 0 {
		w.size = int64(c.WindowSize)
		w.width = 1 << 62 // one bucket for ever: bucketNum stays 0
		return
	}
	w.timeBased = true
	w.width = int64(c.WindowTime) / int64(c.Buckets)
	w.starts = make([]int64, c.Buckets)
	w.bucketFail = make([]int64, c.Buckets)
	w.bucketSlow = make([]int64, c.Buckets)
}

// reset empties the window; total is the current T.
func (w *window) reset(total, now int64) {
	w.gen++
	w.run = 0
	w.base = total
	w.fails.clear()
	w.slows.clear()
	w.bucketNum = now / w.width
	for i := range w.starts {
		w.starts[i] = total
		w.bucketFail[i] = 0
		w.bucketSlow[i] = 0
	}
}

// add records one outcome. successes is the success count already
// including this outcome if it is one; a failure is counted here.
func (w *window) add(failed, slow bool, successes int64) {
	if failed {
		w.failTotal++
	}
	stamp := successes + w.failTotal // this outcome's number
	if failed {
		if w.run > 0 && stamp == w.lastFail+1 {
			w.run++
		} else {
			w.run = 1
		}
		w.lastFail = stamp
	}
	if !w.timeBased {
		if failed {
			w.fails.push(stamp)
		}
		if slow {
			w.slows.push(stamp)
		}
		return
	}
	i := w.bucketNum % int64(len(w.starts))
	if failed {
		w.bucketFail[i]++
	}
	if slow {
		w.bucketSlow[i]++
	}
}

// rotate advances a time window to the bucket of now, starting every bucket
// it passes (at most all of them after an idle gap) at total, which must not
// yet include the outcome being recorded.
func (w *window) rotate(now, total int64) {
	cur := now / w.width
	n := int64(len(w.starts))
	for k := max(w.bucketNum+1, cur-n+1); k <= cur; k++ {
		i := k % n
		w.starts[i] = total
		w.bucketFail[i] = 0
		w.bucketSlow[i] = 0
	}
	w.bucketNum = max(w.bucketNum, cur)
}

// counts returns the outcomes, failures and slow calls in the window and
// the run of consecutive failures, given the current total T.
func (w *window) counts(total, now int64) Counts {
	var c Counts
	if w.run > 0 && w.lastFail == total {
		c.ConsecutiveFailures = w.run // no outcome since the last failure
	}
	if !w.timeBased {
		lo := max(total-w.size, w.base)
		w.fails.dropThrough(lo)
		w.slows.dropThrough(lo)
		c.Calls, c.Failures, c.SlowCalls = total-lo, int64(w.fails.len()), int64(w.slows.len())
		return c
	}
	w.rotate(now, total)
	n := int64(len(w.starts))
	oldest := (w.bucketNum + 1) % n
	for i := range w.starts {
		c.Failures += w.bucketFail[i]
		c.SlowCalls += w.bucketSlow[i]
	}
	c.Calls = total - w.starts[oldest]
	return c
}

// stampQueue is a FIFO of increasing outcome numbers.
type stampQueue struct {
	items []int64
	head  int
}

func (q *stampQueue) push(v int64) { q.items = append(q.items, v) }
func (q *stampQueue) len() int     { return len(q.items) - q.head }
func (q *stampQueue) clear()       { q.items, q.head = q.items[:0], 0 }

// dropThrough removes the numbers ≤ lo, compacting when half the slice is
// dead so that memory stays proportional to the window.
func (q *stampQueue) dropThrough(lo int64) {
	for q.head < len(q.items) && q.items[q.head] <= lo {
		q.head++
	}
	if q.head > len(q.items)/2 {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
}
