package chaos_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/chaos"
)

func TestDoFaults(t *testing.T) {
	tests := []struct {
		name     string
		fault    chaos.Fault
		wantErr  func(error) bool
		wantRan  bool
		wantTook time.Duration
	}{
		{"Error", chaos.Error(errBoom), func(err error) bool { return errors.Is(err, errBoom) && errors.Is(err, chaos.ErrInjected) }, false, 0},
		{"Status", chaos.Status(http.StatusServiceUnavailable, time.Second), func(err error) bool {
			var se *chaos.StatusError
			return errors.As(err, &se) && se.Code == 503 && se.RetryAfter == time.Second && errors.Is(err, chaos.ErrInjected)
		}, false, 0},
		{"Reset", chaos.Reset(), func(err error) bool { return errors.Is(err, syscall.ECONNRESET) && errors.Is(err, chaos.ErrInjected) }, false, 0},
		{"Truncate loses the result", chaos.Truncate(0), func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) && errors.Is(err, chaos.ErrInjected) }, true, 0},
		{"Latency", chaos.Latency(chaos.Fixed(40 * time.Millisecond)), func(err error) bool { return err == nil }, true, 40 * time.Millisecond},
		{"Latency past the deadline", chaos.Latency(chaos.Fixed(time.Minute)), func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded) && errors.Is(err, chaos.ErrInjected)
		}, false, time.Second},
		{"Hang", chaos.Hang(), func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }, false, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				in := mustNew(t, chaos.Config{Fault: tt.fault})
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				ran := false
				start := time.Now()
				err := in.Do(ctx, func(context.Context) error { ran = true; return nil })
				if took := time.Since(start); took != tt.wantTook {
					t.Errorf("took %v, want %v", took, tt.wantTook)
				}
				if !tt.wantErr(err) {
					t.Errorf("Do = %v, not the expected error", err)
				}
				if ran != tt.wantRan {
					t.Errorf("fn ran = %v, want %v", ran, tt.wantRan)
				}
			})
		})
	}
}

func TestDoPassesFnErrorThrough(t *testing.T) {
	for _, f := range []chaos.Fault{chaos.Truncate(0), chaos.Latency(chaos.Fixed(0))} {
		in := mustNew(t, chaos.Config{Fault: f})
		if err := in.Do(t.Context(), func(context.Context) error { return errBoom }); err != errBoom {
			t.Errorf("%v: Do = %v, want fn's own error", f, err)
		}
	}
}

func TestCall(t *testing.T) {
	fn := func(context.Context) (int, error) { return 42, nil }
	tests := []struct {
		name    string
		cfg     chaos.Config
		want    int
		wantErr bool
	}{
		{"switched off", chaos.Config{Fault: chaos.Error(errBoom), Disabled: true}, 42, false},
		{"not struck", chaos.Config{Fault: chaos.Error(errBoom), When: func(context.Context) bool { return false }}, 42, false},
		{"Error", chaos.Config{Fault: chaos.Error(errBoom)}, 0, true},
		{"Truncate zeroes the result", chaos.Config{Fault: chaos.Truncate(0)}, 0, true},
		{"Latency keeps the result", chaos.Config{Fault: chaos.Latency(chaos.Fixed(0))}, 42, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chaos.Call(t.Context(), mustNew(t, tt.cfg), fn)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Call = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	// A failing fn keeps its own result under Truncate.
	in := mustNew(t, chaos.Config{Fault: chaos.Truncate(0)})
	got, err := chaos.Call(t.Context(), in, func(context.Context) (int, error) { return 7, errBoom })
	if got != 7 || err != errBoom {
		t.Errorf("Call with a failing fn = %d, %v; want 7, errBoom", got, err)
	}
}

// TestLatencySequence asserts the exact delays of a seeded Uniform latency
// against the reference model: the n-th strike waits the n-th draw's delay.
func TestLatencySequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const seed, rate = 11, 0.5
		lo, hi := 10*time.Millisecond, 50*time.Millisecond
		in := mustNew(t, chaos.Config{Fault: chaos.Latency(chaos.Uniform(lo, hi)), Rate: rate, Seed: seed})
		ref := newReference(seed, rate)
		var total time.Duration
		for i := range 200 {
			start := time.Now()
			if err := in.Do(t.Context(), func(context.Context) error { return nil }); err != nil {
				t.Fatal(err)
			}
			got := time.Since(start)
			u, struck := ref.next()
			want := time.Duration(0)
			if struck {
				want = lo + time.Duration(uniform01(u)*float64(hi-lo))
			}
			if got != want {
				t.Fatalf("call %d waited %v, want %v", i, got, want)
			}
			total += got
		}
		if st := in.Stats(); st.Delayed != total {
			t.Errorf("Stats.Delayed = %v, want %v", st.Delayed, total)
		}
	})
}
