// Package retryafter parses the Retry-After response header, once for the
// whole module (retry and breaker both honour it).
package retryafter

import (
	"math"
	"net/http"
	"time"
)

// Parse reads a Retry-After value (RFC 9110 §10.2.3: "Retry-After =
// HTTP-date / delay-seconds", delay-seconds = 1*DIGIT) and returns the wait
// it asks for, measured from now for an HTTP-date.
//
// The rules, the same for every caller:
//   - surrounding spaces and tabs are ignored (they are not part of a field
//     value, RFC 9110 §5.5), so " 5" is 5 s;
//   - anything but digits or one of the three HTTP-date formats is
//     malformed (ok = false): "+5", "-5", "5.0", "5s", "";
//   - a delay too large for a time.Duration (a 20-digit value) saturates at
//     the largest Duration and is ok: the caller caps it with its own bound;
//   - a date in the past is a wait of 0.
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	v = trimOWS(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		return seconds(v), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now) // saturates on overflow
	return max(d, 0), true
}

// seconds converts a string of digits to a Duration, saturating.
func seconds(v string) time.Duration {
	const limit = math.MaxInt64 / int64(time.Second)
	var n int64
	for i := 0; i < len(v); i++ {
		n = n*10 + int64(v[i]-'0')
		if n > limit {
			return math.MaxInt64
		}
	}
	return time.Duration(n) * time.Second
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
