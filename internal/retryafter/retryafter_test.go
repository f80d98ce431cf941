package retryafter

import (
	"math"
	"net/http"
	"testing"
	"time"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestParse(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"seconds", "120", 120 * time.Second, true},
		{"zero", "0", 0, true},
		{"leading space", " 5", 5 * time.Second, true},
		{"tabs", "\t5\t", 5 * time.Second, true},
		{"plus sign", "+5", 0, false},
		{"negative", "-5", 0, false},
		{"fraction", "5.5", 0, false},
		{"unit", "5s", 0, false},
		{"empty", "", 0, false},
		{"spaces only", "  ", 0, false},
		{"inner space", "1 2", 0, false},
		{"20 digits saturate", "99999999999999999999", math.MaxInt64, true},
		{"just under the limit", "9223372036", 9223372036 * time.Second, true},
		{"just over the limit", "9223372037", math.MaxInt64, true},
		{"IMF-fixdate", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"RFC 850", now.Add(time.Hour).Format(time.RFC850), time.Hour, true},
		{"asctime", now.Add(time.Minute).Format(time.ANSIC), time.Minute, true},
		{"past date", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"garbage", "soon", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Parse(c.in, now)
			if got != c.want || ok != c.ok {
				t.Errorf("Parse(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"5", " 5", "+5", "99999999999999999999", now.Format(http.TimeFormat), "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := Parse(v, now)
		if d < 0 {
			t.Fatalf("Parse(%q) = %v: negative wait", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("Parse(%q) = %v, false: a malformed value must give 0", v, d)
		}
		if ok && isDigits(trimOWS(v)) {
			// Digits: the result is monotonic in the value and never wraps.
			if d2, _ := Parse(trimOWS(v)+"0", now); d2 < d {
				t.Fatalf("Parse(%q0) = %v < Parse(%q) = %v: overflow wrapped", v, d2, v, d)
			}
		}
	})
}

func TestHeld(t *testing.T) {
	out, err := http.NewRequest(http.MethodGet, "http://node:80/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, withRequest := range []bool{true, false} {
		resp := &http.Response{StatusCode: 503}
		if withRequest {
			resp.Request = out
		}
		if Held(resp) {
			t.Fatal("unmarked response reported held")
		}
		MarkHeld(resp, out)
		if !Held(resp) {
			t.Fatalf("marked response (Request set: %v) not held", withRequest)
		}
		if resp.Request == out || resp.Request.URL != out.URL {
			t.Fatal("MarkHeld must replace Request by a shallow copy of it")
		}
	}
	if Held(&http.Response{}) {
		t.Fatal("response without Request reported held")
	}
}
