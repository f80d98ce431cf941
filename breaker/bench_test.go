package breaker_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
)

var windows = []struct {
	name string
	cfg  breaker.Config
}{
	{"count", breaker.Config{}},
	{"time", breaker.Config{WindowTime: 10 * time.Second}},
	{"count+slowcall", breaker.Config{SlowCall: time.Second}},
	// The cost of Config.Observer: an EventSuccess per call, delivered to an
	// observer that does nothing (what an observer does is its own cost).
	{"count/observed", breaker.Config{Observer: func(breaker.Event) {}}},
	{"time/observed", breaker.Config{WindowTime: 10 * time.Second, Observer: func(breaker.Event) {}}},
}

func ok(context.Context) error { return nil }

// BenchmarkDo measures the closed-state wrap form.
func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	for _, w := range windows {
		br, _ := breaker.New(w.cfg)
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = br.Do(ctx, ok)
			}
		})
		b.Run(w.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = br.Do(ctx, ok)
				}
			})
		})
	}
}

// BenchmarkAllowDone measures the closed-state two-step form.
func BenchmarkAllowDone(b *testing.B) {
	for _, w := range windows {
		br, _ := breaker.New(w.cfg)
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, _ := br.Allow()
				p.Done(nil)
			}
		})
		b.Run(w.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, _ := br.Allow()
					p.Done(nil)
				}
			})
		})
	}
}

// BenchmarkRejectOpen measures a rejection by an open breaker.
func BenchmarkRejectOpen(b *testing.B) {
	br, _ := breaker.New(breaker.Config{OpenFor: time.Hour})
	br.Trip()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = br.Allow()
	}
}

// BenchmarkRejectOpenObserved is BenchmarkRejectOpen with an observer: an
// EventRejected per call.
func BenchmarkRejectOpenObserved(b *testing.B) {
	br, _ := breaker.New(breaker.Config{OpenFor: time.Hour, Observer: func(breaker.Event) {}})
	br.Trip()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = br.Allow()
	}
}

func BenchmarkStats(b *testing.B) {
	br, _ := breaker.New(breaker.Config{})
	for range 1000 {
		p, _ := br.Allow()
		p.Done(nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Stats()
	}
}

func BenchmarkThrottleAllow(b *testing.B) {
	th, _ := breaker.NewThrottle(breaker.ThrottleConfig{})
	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := th.Allow()
			p.Done(nil)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p, _ := th.Allow()
				p.Done(nil)
			}
		})
	})
}

func BenchmarkGroupGet(b *testing.B) {
	g, _ := breaker.NewGroup(breaker.Config{}, breaker.GroupConfig{})
	keys := []string{"a.example:443", "b.example:443", "c.example:443", "d.example:443"}
	for _, k := range keys {
		g.Get(k)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			g.Get(keys[i&3])
			i++
		}
	})
}

// BenchmarkMonotonicClock is the reference for the time window: the one
// clock read its Done makes (time.Since of a monotonic origin).
func BenchmarkMonotonicClock(b *testing.B) {
	epoch := time.Now()
	var sum time.Duration
	for b.Loop() {
		sum += time.Since(epoch)
	}
	_ = sum
}
