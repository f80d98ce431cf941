// Package bulwarkgrpc puts bulwark's guards on gRPC: client interceptors that
// retry, break, bound and hedge calls, server interceptors that shed load and
// rate-limit, and load balancers built on package balance's pickers, with
// outlier ejection, registered with grpc-go for its service config.
//
// The three-line use, a client that retries and breaks per method:
//
//	retrier, _ := retry.New(retry.Config{Budget: budget}) // one per dependency
//	retryI, _ := bulwarkgrpc.RetryUnary(retrier)
//	breakI, _ := bulwarkgrpc.BreakerUnary(breakers)       // a *breaker.Group
//	conn, err := grpc.NewClient(target, creds,
//		grpc.WithChainUnaryInterceptor(retryI, breakI),
//		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"bulwark_peak_ewma": {}}]}`))
//
// Most clients want exactly that: RetryUnary outermost, then BreakerUnary
// (and BulkheadUnary, if the client must bound its own concurrency), and a
// bulwark balancer below them all. Most servers want ShedUnary with a
// *bulkhead.Adaptive:
//
//	limit, _ := bulkhead.NewAdaptive(bulkhead.AdaptiveConfig{Algorithm: bulkhead.Gradient2})
//	shed, _ := bulwarkgrpc.ShedUnary(limit)
//	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(shed))
//
// Every constructor takes the guard it applies (a *retry.Retrier, a
// *breaker.Group, a bulkhead.Limiter …) and options, and returns an error
// matching ErrInvalidConfig for a nil guard or an invalid option; the
// interceptors it returns are safe for concurrent use by every call of every
// connection they are given to, and start no goroutine of their own (a hedged
// call runs its attempts on goroutines that have all returned when the call
// returns).
//
// # Statuses
//
// A guard that refuses a call locally answers with a gRPC status whose code
// says what happened, whose message says which guard refused and why, and,
// when the guard knows when it will admit again, a google.rpc.RetryInfo
// detail (read it with RetryDelay):
//
//	open breaker            Unavailable        "bulwark: circuit breaker open: breaker "/svc/M": open until … (retry in 4.2s)"
//	full client bulkhead    ResourceExhausted  "bulwark: bulkhead rejected the call: bulkhead: full"
//	shed by a server        ResourceExhausted  "bulwark: server overloaded, call shed: …" + grpc-retry-pushback-ms trailer
//	rate-limited by server  ResourceExhausted  "bulwark: rate limit exceeded, call refused: …" + pushback trailer
//	retry budget refused    last attempt's     "bulwark: retry budget exhausted, retry not sent: <last message>"
//
// In the process that made it, such an error also unwraps to the guard's own
// error: errors.Is(err, breaker.ErrOpen), errors.Is(err, retry.ErrBudget) and
// errors.Is(err, bulwark.ErrNotAttempted) hold, and bulwark.RetryAt(err) says
// when the guard admits again. Over the wire only the status travels.
//
// Status codes map to outcomes one way everywhere: DefaultFailureCodes
// (Unknown, DeadlineExceeded, ResourceExhausted, Internal, Unavailable,
// DataLoss) are failures of the server or of the path to it; Canceled is the
// caller's own doing and counts toward nothing; every other code is an answer
// from a healthy server.
//
// # Balancers
//
// Importing the package registers three balancers with grpc-go, selected by
// name in the service config's loadBalancingConfig: bulwark_p2c,
// bulwark_peak_ewma and bulwark_consistent_hash (see P2CBalancer and the
// others). Each keeps one bulwark picker per ClientConn over the backends
// whose connections are ready, so loads, latency estimates and ejections
// survive reconnects of other backends. Every call's outcome comes back
// through PickResult.Done and is read with the mapping above, so a backend
// that keeps answering Unavailable is ejected (balance.Config.EjectAfter
// failures in a row, 5 by default) and its traffic moves to the others. The
// JSON object of each balancer takes the fields of balance.Config in camel
// case, durations as strings:
//
//	{"bulwark_peak_ewma": {"ejectAfter": 3, "ejectFor": "10s", "decayTime": "5s"}}
//	{"bulwark_consistent_hash": {"hashKey": "x-user-id", "loadFactor": 1.25}}
//
// The consistent-hash balancer routes a call by the first value of its
// outgoing metadata key hashKey (calls without it spread by load); with
// string addresses its ring is package shard's, so every client of a fleet
// sends a key to the same backend.
package bulwarkgrpc
