package retryafter

import (
	"context"
	"net/http"
)

// A balancer that learns from a response's Retry-After that its node wants
// a pause takes the node out of rotation (balance.Permit.Pushback). The
// pause then belongs to the node, not to the request: a retry layer above
// goes to another node and has no reason to wait for it. The balancer says
// so by marking the response, and the retry layer reads the mark before it
// honours the header. The mark rides on the response's Request, whose
// context every layer in between hands back unchanged.

type heldKey struct{}

// MarkHeld marks resp, a response to out, as one whose Retry-After the node
// has been held for. It replaces resp.Request by a shallow copy of it (of
// out when it is nil) whose context carries the mark; the copy shares
// everything else, URL and Header included.
func MarkHeld(resp *http.Response, out *http.Request) {
	r := resp.Request
	if r == nil {
		r = out
	}
	resp.Request = r.WithContext(context.WithValue(r.Context(), heldKey{}, true))
}

// Held reports whether a balancer below marked resp with MarkHeld.
func Held(resp *http.Response) bool {
	return resp.Request != nil && resp.Request.Context().Value(heldKey{}) != nil
}
