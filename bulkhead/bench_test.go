package bulkhead

import (
	"context"
	"testing"
)

// BenchmarkTryAcquireDone is the fast path: TryAcquire and Permit.Done on a
// bulkhead that is never full.
func BenchmarkTryAcquireDone(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		for b.Loop() {
			if p, ok := bh.TryAcquire(); ok {
				p.Done(nil)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if p, ok := bh.TryAcquire(); ok {
					p.Done(nil)
				}
			}
		})
	})
	// Through the Limiter interface, as Call, NewHandler and NewTransport
	// use it.
	b.Run("interface", func(b *testing.B) {
		var l Limiter = mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		for b.Loop() {
			if p, ok := l.TryAcquire(); ok {
				p.Done(nil)
			}
		}
	})
}

func BenchmarkAcquireDone(b *testing.B) {
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		for b.Loop() {
			if p, err := bh.Acquire(ctx); err == nil {
				p.Done(nil)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if p, err := bh.Acquire(ctx); err == nil {
					p.Done(nil)
				}
			}
		})
	})
	// Contended: one slot, everybody queues; measures the hand-off path.
	b.Run("queued", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1, MaxWaiting: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if p, err := bh.Acquire(ctx); err == nil {
					p.Done(nil)
				}
			}
		})
	})
}

// BenchmarkTryAcquireRejected is the shedding path: every call is refused,
// by a full bulkhead or by the admission rate. Neither allocates.
func BenchmarkTryAcquireRejected(b *testing.B) {
	b.Run("full", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1})
		bh.TryAcquire()
		b.ReportAllocs()
		for b.Loop() {
			if p, ok := bh.TryAcquire(); ok {
				p.Done(nil)
			}
		}
	})
	b.Run("full/observed", func(b *testing.B) {
		// An EventRejected per call, to an observer that does nothing.
		bh := mustNewB(b, Config{MaxConcurrent: 1, Observer: func(Event) {}})
		bh.TryAcquire()
		b.ReportAllocs()
		for b.Loop() {
			if p, ok := bh.TryAcquire(); ok {
				p.Done(nil)
			}
		}
	})
	b.Run("rate", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1, Rate: 1e-9, Burst: 1})
		bh.TryAcquire()
		b.ReportAllocs()
		for b.Loop() {
			if p, ok := bh.TryAcquire(); ok {
				p.Done(nil)
			}
		}
	})
}

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
	fn := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = bh.Do(ctx, fn)
		}
	})
}

func BenchmarkAdaptiveAcquireDone(b *testing.B) {
	ctx := context.Background()
	run := func(name string, cfg AdaptiveConfig) {
		b.Run(name, func(b *testing.B) {
			a, err := NewAdaptive(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if p, err := a.Acquire(ctx); err == nil {
						p.Done(nil)
					}
				}
			})
		})
	}
	for _, alg := range []Algorithm{AIMD, Vegas, Gradient2} {
		run(alg.String(), AdaptiveConfig{Algorithm: alg, InitialLimit: 1000, MaxLimit: 1000})
	}
	// An EventSuccess per call (and an EventLimitChanged per moved window),
	// to an observer that does nothing.
	run("Vegas/observed", AdaptiveConfig{Algorithm: Vegas, InitialLimit: 1000, MaxLimit: 1000, Observer: func(Event) {}})
}

func mustNewB(b *testing.B, cfg Config) *Bulkhead {
	b.Helper()
	bh, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return bh
}
