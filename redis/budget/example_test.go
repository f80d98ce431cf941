package budget_test

import (
	"github.com/redis/rueidis"

	"github.com/bulwark-go/bulwark/redis/budget"
	"github.com/bulwark-go/bulwark/redis/script"
	"github.com/bulwark-go/bulwark/retry"
)

// Every instance's Retrier draws on one fleet budget: retries at most 10%
// of the fleet's requests over 10 s, plus 10 per second. (Not run: it needs
// a server.)
func ExampleNew() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		return
	}
	defer client.Close()
	b, err := budget.New(script.Rueidis(client), budget.Config{Prefix: "svc:", Name: "payments", Ratio: 0.1})
	if err != nil {
		return
	}
	defer b.Close()
	r, err := retry.New(retry.Config{Budget: b})
	if err != nil {
		return
	}
	_ = r
}
