package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestPercentile(t *testing.T) {
	cases := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one", []time.Duration{ms(5)}, 99, ms(5)},
		{"p50 of 1..10", []time.Duration{ms(10), ms(1), ms(2), ms(3), ms(4), ms(5), ms(6), ms(7), ms(8), ms(9)}, 50, ms(5)},
		{"p99 of 1..100 unsorted is 99", reversed(100), 99, ms(99)},
		{"p100 is max", reversed(100), 100, ms(100)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]time.Duration(nil), tc.ds...)
			assert.Equal(t, tc.want, percentile(tc.ds, tc.p))
			assert.Equal(t, before, tc.ds, "input must not be modified")
		})
	}
}

func reversed(n int) []time.Duration {
	ds := make([]time.Duration, n)
	for i := range ds {
		ds[i] = ms(n - i)
	}
	return ds
}

func TestRecord(t *testing.T) {
	var r result
	r.record(http.StatusOK, ms(3))
	r.record(http.StatusServiceUnavailable, ms(1))
	r.record(0, ms(1000))
	r.record(http.StatusInternalServerError, ms(2))
	assert.Equal(t, 1, r.ok)
	assert.Equal(t, 1, r.shed)
	assert.Equal(t, 2, r.failed)
	assert.Equal(t, 4, r.sent())
	assert.Equal(t, []time.Duration{ms(3)}, r.accepted)
	r.elapsed = 500 * time.Millisecond
	assert.InDelta(t, 2.0, r.goodput(), 1e-9)
	assert.Zero(t, result{ok: 3}.goodput(), "no elapsed time, no goodput")
}

func TestDueBy(t *testing.T) {
	assert.Equal(t, 0, dueBy(0, 400))
	assert.Equal(t, 4, dueBy(ms(10), 400))
	assert.Equal(t, 800, dueBy(2*time.Second, 400))
}

func runOf(ok, shed, failed int, latency time.Duration) result {
	r := result{ok: ok, shed: shed, failed: failed, elapsed: time.Second}
	for range ok {
		r.accepted = append(r.accepted, latency)
	}
	return r
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name    string
		plain   result
		shed    result
		wantErr string
	}{
		{"shedding wins", runOf(300, 0, 500, ms(900)), runOf(390, 410, 0, ms(100)), ""},
		{"nothing shed", runOf(300, 0, 500, ms(900)), runOf(390, 0, 0, ms(100)), "shed nothing"},
		{"p99 not lower", runOf(300, 0, 0, ms(100)), runOf(300, 10, 0, ms(100)), "p99"},
		{"goodput collapsed", runOf(300, 0, 0, ms(900)), runOf(100, 700, 0, ms(50)), "goodput"},
		{"no accepted requests", runOf(0, 0, 800, 0), runOf(0, 800, 0, 0), "accepted no request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.plain, tc.shed)
			if tc.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestReport(t *testing.T) {
	var b strings.Builder
	cfg := config{workers: 4, work: ms(20), rate: 400, duration: 2 * time.Second, timeout: time.Second}
	report(&b, cfg, runOf(300, 0, 500, ms(900)), runOf(390, 410, 0, ms(100)))
	out := b.String()
	for _, want := range []string{"capacity 200 req/s", "goodput (200/s)", "p99 accepted", "900ms", "100ms", "410"} {
		assert.Contains(t, out, want)
	}
}

func TestServiceRejectsNothingItself(t *testing.T) {
	// The unprotected service answers every request it is given; shedding is
	// the wrapper's job.
	h := service(1, 0)
	for range 3 {
		rec := newRecorder()
		h.ServeHTTP(rec, mustRequest(t))
		assert.Equal(t, http.StatusOK, rec.code)
	}
}

type recorder struct {
	header http.Header
	code   int
}

func newRecorder() *recorder                    { return &recorder{header: http.Header{}, code: http.StatusOK} }
func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *recorder) WriteHeader(code int)        { r.code = code }

func mustRequest(t *testing.T) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
