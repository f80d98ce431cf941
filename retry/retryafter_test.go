package retry

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

var now = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"seconds", "120", 2 * time.Minute, true},
		{"zero", "0", 0, true},
		{"spaces", "  7 ", 7 * time.Second, true},
		{"huge saturates", "99999999999999999999999", 1<<63 - 1, true},
		{"just over int64 ns", "9223372037", 1<<63 - 1, true},
		{"IMF-fixdate", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"RFC 850", "Thursday, 26-Nov-26 18:01:00 GMT", time.Minute, true},
		{"asctime", "Thu Nov 26 18:00:30 2026", 30 * time.Second, true},
		{"past date", "Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"negative", "-5", 0, false},
		{"fraction", "1.5", 0, false},
		{"empty", "", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.in, now)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "-1", "1e9", "99999999999999999999", "Thu, 01 Jan 1970 00:00:00 GMT",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 02 Jan 2006 15:04:05 GMT", "\x00", " 3 "} {
		f.Add(s)
	}
	backoff := Exponential{Base: 100 * time.Millisecond, Max: 10 * time.Second}
	r, err := New(Config{Backoff: backoff})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v < 0", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v with ok=false", v, d)
		}
		if !ok {
			return
		}
		// Whatever the header says, the Retrier never waits longer than Max.
		err := After(&StatusError{Code: 503}, d)
		w, stop := r.next(t.Context(), 1, err, 0, time.Time{})
		if stop != nil {
			t.Fatalf("unexpected stop: %v", stop)
		}
		if w.total > backoff.Max || w.total < 0 {
			t.Fatalf("Retry-After %q: wait %v outside [0, %v]", v, w.total, backoff.Max)
		}
	})
}
