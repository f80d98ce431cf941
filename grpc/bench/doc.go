// Package bench measures bulwarkgrpc against its peers in one run, on the
// same loopback servers: the overhead of its client interceptors next to
// failsafe-go's failsafegrpc, and its balancers next to grpc-go's
// round_robin and least_request on a fleet with one slow server. It is a
// module of its own so that the peers stay out of bulwarkgrpc's go.mod.
//
//	go test -run '^$' -bench . -benchmem -count 10 . | tee new.txt
//	benchstat new.txt
package bench
