package breakershare_test

import (
	"context"

	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/redis/breakershare"
	"github.com/bulwark-go/bulwark/redis/script"
)

// A breaker that decides locally, opens when two peers have opened on
// their own failures, and lets one instance of the fleet probe at a time.
// (Not run: it needs a server.)
func ExampleNew() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		return
	}
	defer client.Close()
	b, err := breakershare.New(script.Rueidis(client), breakershare.Config{
		Prefix: "svc:", Name: "payments", Quorum: 2,
		Breaker: breaker.Config{ConsecutiveFailures: 5},
	})
	if err != nil {
		return
	}
	defer b.Close()
	_ = b.Do(context.Background(), func(ctx context.Context) error { return nil })
}
