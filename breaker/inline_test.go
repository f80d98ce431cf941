package breaker

import (
	"os/exec"
	"regexp"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/bulwark-go/bulwark/internal/mix"
	"github.com/bulwark-go/bulwark/internal/stripe"
)

// The closed-state success path is written once, in countSuccess, and is
// fast only while the compiler inlines it (and stripe.Counter.Add, and
// stripe.Index) into Done, Do and record. TestHotPathInlines asks the
// compiler; BenchmarkClosedSuccess shows the cost when it stops.

// TestHotPathInlines fails when a change pushes a hot-path helper over the
// inliner's budget, naming the helper.
func TestHotPathInlines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package with -gcflags=-m")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH")
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, want := range []string{
		`can inline \(\*Breaker\)\.countSuccess`,
		`can inline \(\*Breaker\)\.Allow`,
		`permit\.go:\d+:\d+: inlining call to \(\*Breaker\)\.countSuccess`,  // Done
		`do\.go:\d+:\d+: inlining call to \(\*Breaker\)\.countSuccess`,      // Do
		`breaker\.go:\d+:\d+: inlining call to \(\*Breaker\)\.countSuccess`, // record
		`permit\.go:\d+:\d+: inlining call to stripe\.\(\*Counter\)\.Add`,
		`do\.go:\d+:\d+: inlining call to stripe\.\(\*Counter\)\.Add`,
		`permit\.go:\d+:\d+: inlining call to stripe\.Index`,
		`do\.go:\d+:\d+: inlining call to stripe\.Index`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("the compiler no longer reports %q", want)
		}
	}
}

// BenchmarkClosedSuccess compares the package's closed-state success path
// with a reference that does the same work written out by hand: one load of
// the flags word and one atomic add on the caller's stripe. The two should
// take the same time; when "countSuccess" is slower by the cost of a call,
// an inlining has been lost (TestHotPathInlines says which).
func BenchmarkClosedSuccess(b *testing.B) {
	br, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("countSuccess", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !br.countSuccess() {
				b.Fatal("flags set on an idle count-window breaker")
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		var stripes [64]struct {
			n atomic.Uint64
			_ [56]byte
		}
		shift := stripe.Shift(len(stripes))
		for b.Loop() {
			if br.flags.Load() != 0 {
				b.Fatal("flags set on an idle count-window breaker")
			}
			var marker byte
			i := uint64(uintptr(unsafe.Pointer(&marker))>>11) * mix.Golden >> (shift & 63)
			stripes[i].n.Add(1)
		}
	})
	b.Run("Done", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := br.Allow()
			p.Done(nil)
		}
	})
}
