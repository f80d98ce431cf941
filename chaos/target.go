package chaos

import (
	"net/http"
	"slices"
	"strings"
)

// Host returns a Config.Target that picks requests to one of hosts. A host
// given with a port ("10.0.0.7:8080") matches that address only; one without
// ("api.internal") matches it on any port. The request's host is its URL's
// on the client side and its Host header on the server side.
func Host(hosts ...string) func(*http.Request) bool {
	hosts = slices.Clone(hosts)
	return func(r *http.Request) bool {
		h := r.URL.Host
		if h == "" {
			h = r.Host
		}
		name := hostname(h)
		for _, want := range hosts {
			if want == h || want == name {
				return true
			}
		}
		return false
	}
}

// hostname strips the port from host:port (and the brackets from [v6]:port)
// without allocating.
func hostname(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		return h[:i]
	}
	return h // no port, or a bare IPv6 address
}

// Path returns a Config.Target that picks requests whose URL path starts
// with prefix ("/api/" picks "/api/items"; "/" picks every request).
func Path(prefix string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, prefix) }
}

// Header returns a Config.Target that picks requests carrying the header key
// with the given value, or with any value when value is "". It lets a test
// or a canary opt single requests into a fault ("X-Chaos: on").
func Header(key, value string) func(*http.Request) bool {
	key = http.CanonicalHeaderKey(key)
	return func(r *http.Request) bool {
		vs, ok := r.Header[key]
		if !ok {
			return false
		}
		return value == "" || slices.Contains(vs, value)
	}
}
