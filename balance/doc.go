// Package balance provides client-side load-balancing pickers, from round
// robin to power-of-two-choices with peak EWMA and bounded-load consistent
// hashing, with passive health checking and an http.RoundTripper.
//
// The three-line use:
//
//	p, err := balance.NewP2C([]string{"10.0.0.1:80", "10.0.0.2:80"}, balance.Config{})
//	lease, err := p.Pick()
//	defer lease.Done(err)
//
// References: grpc-go balancers; Envoy load balancers and outlier detection;
// Finagle peak EWMA; Azar, Broder, Karlin, Upfal, "Balanced Allocations" (1999);
// Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads" (2018).
package balance
