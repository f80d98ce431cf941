// Package bulkheadbench compares bulwark's bulkhead fast path (TryAcquire +
// Permit.Done, uncontended slots) with golang.org/x/sync/semaphore, a buffered
// channel semaphore and failsafe-go's bulkhead.
package bulkheadbench

import (
	"testing"

	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"golang.org/x/sync/semaphore"

	"github.com/bulwark-go/bulwark/bulkhead"
)

// slots is large enough that no benchmark goroutine ever finds the limiter
// full: this measures the admission fast path, not queueing.
const slots = 1 << 16

// Each contender's loop is written out in full, not called through an
// interface or a func value, so every library is measured as a caller uses it
// (direct calls the compiler may inline) and no harness cost dilutes the
// ratios.

func newBulwark(b *testing.B) *bulkhead.Bulkhead {
	bw, err := bulkhead.New(bulkhead.Config{MaxConcurrent: slots})
	if err != nil {
		b.Fatal(err)
	}
	return bw
}

// BenchmarkBulkhead is TryAcquire+Done (for the peers, their
// acquire/release pair) from every P at once (RunParallel);
// run with -cpu=1,2. At -cpu=1 it is the single-goroutine cost.
func BenchmarkBulkhead(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		bw := newBulwark(b)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if p, ok := bw.TryAcquire(); ok {
					p.Done(nil)
				}
			}
		})
	})
	b.Run("xsync-semaphore", func(b *testing.B) {
		xs := semaphore.NewWeighted(slots)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if xs.TryAcquire(1) {
					xs.Release(1)
				}
			}
		})
	})
	b.Run("channel", func(b *testing.B) {
		ch := make(chan struct{}, slots)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				select {
				case ch <- struct{}{}:
					<-ch
				default:
				}
			}
		})
	})
	b.Run("failsafe-go", func(b *testing.B) {
		fs := fsbulkhead.New[any](slots)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if fs.TryAcquirePermit() {
					fs.ReleasePermit()
				}
			}
		})
	})
}

// BenchmarkBulkheadSingle is the same pair on one goroutine, without the
// RunParallel harness.
func BenchmarkBulkheadSingle(b *testing.B) {
	b.Run("bulwark", func(b *testing.B) {
		bw := newBulwark(b)
		b.ReportAllocs()
		for b.Loop() {
			if p, ok := bw.TryAcquire(); ok {
				p.Done(nil)
			}
		}
	})
	b.Run("bulwark-observed", func(b *testing.B) {
		// With an observer: an admission is not an event, so this measures
		// that setting one costs the admitted path nothing.
		bw, err := bulkhead.New(bulkhead.Config{MaxConcurrent: slots,
			Observer: func(bulkhead.Event) {}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if p, ok := bw.TryAcquire(); ok {
				p.Done(nil)
			}
		}
	})
	b.Run("xsync-semaphore", func(b *testing.B) {
		xs := semaphore.NewWeighted(slots)
		b.ReportAllocs()
		for b.Loop() {
			if xs.TryAcquire(1) {
				xs.Release(1)
			}
		}
	})
	b.Run("channel", func(b *testing.B) {
		ch := make(chan struct{}, slots)
		b.ReportAllocs()
		for b.Loop() {
			select {
			case ch <- struct{}{}:
				<-ch
			default:
			}
		}
	})
	b.Run("failsafe-go", func(b *testing.B) {
		fs := fsbulkhead.New[any](slots)
		b.ReportAllocs()
		for b.Loop() {
			if fs.TryAcquirePermit() {
				fs.ReleasePermit()
			}
		}
	})
}
