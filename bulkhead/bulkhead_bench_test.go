package bulkhead

import (
	"context"
	"testing"
)

func BenchmarkTryAcquireRelease(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		for b.Loop() {
			if bh.TryAcquire() {
				bh.Release()
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if bh.TryAcquire() {
					bh.Release()
				}
			}
		})
	})
}

func BenchmarkAcquireRelease(b *testing.B) {
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		for b.Loop() {
			if bh.Acquire(ctx) == nil {
				bh.Release()
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bh := mustNewB(b, Config{MaxConcurrent: 1 << 20})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if bh.Acquire(ctx) == nil {
					bh.Release()
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
				if bh.Acquire(ctx) == nil {
					bh.Release()
				}
			}
		})
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
	for _, alg := range []Algorithm{AIMD, Vegas, Gradient2} {
		b.Run(alg.String(), func(b *testing.B) {
			a, err := NewAdaptive(AdaptiveConfig{Algorithm: alg, InitialLimit: 1000, MaxLimit: 1000})
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
}

func mustNewB(b *testing.B, cfg Config) *Bulkhead {
	b.Helper()
	bh, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return bh
}
