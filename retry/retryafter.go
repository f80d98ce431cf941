package retry

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// parseRetryAfter reads a Retry-After header value (RFC 9110 §10.2.3): either
// delta-seconds or an HTTP-date, the latter relative to now. It returns
// ok=false for an empty or malformed value. A date in the past gives 0; a
// huge value saturates at the largest Duration (the Retrier then caps it at
// the Backoff's Cap, so a "Retry-After: 3600" cannot stall a client whose Max
// is 10 s - cf. go-retryablehttp issues 247 and 295).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > math.MaxInt64/uint64(time.Second) {
			return math.MaxInt64, true // only overflow fails on digits
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now) // saturates on overflow
	if d < 0 {
		return 0, true
	}
	return d, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
