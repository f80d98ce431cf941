package balance_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/balance"
)

// exampleDB stands in for a replicated store: the primary counts its
// writes, and a replica has applied what replicate last gave it.
type exampleDB struct {
	mu      sync.Mutex
	written balance.Position
	applied map[string]balance.Position
}

func (db *exampleDB) write() {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.written++
}

func (db *exampleDB) replicate(replica string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.applied[replica] = db.written
}

// position is the probe of one member: Redis's INFO replication or
// PostgreSQL's pg_current_wal_lsn() in real life.
func (db *exampleDB) position(node string) func(context.Context) (balance.Position, error) {
	return func(context.Context) (balance.Position, error) {
		db.mu.Lock()
		defer db.mu.Unlock()
		if node == "primary" {
			return db.written, nil
		}
		return db.applied[node], nil
	}
}

// Read-your-writes: the Token of a write keeps the session's reads off the
// replicas that have not applied it.
func ExampleNewReplicaRouter() {
	db := &exampleDB{applied: map[string]balance.Position{}}
	member := func(node string) balance.Member[string] {
		return balance.Member[string]{Node: node, Position: db.position(node)}
	}
	router, err := balance.NewReplicaRouter(balance.Topology[string]{
		Primary:  member("primary"),
		Replicas: []balance.Member[string]{member("replica-1"), member("replica-2")},
	}, nil, balance.ReplicaConfig{MaxWait: 200 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer router.Close()
	ctx := context.Background()

	tok, err := router.Write(ctx, func(ctx context.Context, primary string) error {
		db.write() // your INSERT or SET, sent to primary
		return nil
	})
	if err != nil {
		panic(err)
	}
	read := func(tok balance.Token) {
		_ = router.Read(ctx, tok, func(ctx context.Context, node string) error {
			fmt.Println("read on", node)
			return nil
		})
	}

	read(tok) // no replica has the write yet: after MaxWait, the primary
	db.replicate("replica-2")
	read(tok) // replica-2 has it
	// Output:
	// read on primary
	// read on replica-2
}

// Session-window mode, for a store that reports no positions: a session's
// reads go to the primary for a while after its write.
func ExampleReplicaConfig_sessionWindow() {
	router, err := balance.NewReplicaRouter(balance.Topology[string]{
		Primary:  balance.Member[string]{Node: "primary"},
		Replicas: []balance.Member[string]{{Node: "replica-1"}},
	}, nil, balance.ReplicaConfig{SessionWindow: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	defer router.Close()
	ctx := context.Background()

	var session balance.Token // kept with the user's session
	tok, err := router.Write(ctx, func(context.Context, string) error { return nil })
	if err != nil {
		panic(err)
	}
	session = session.Merge(tok)

	p, _ := router.PickRead(ctx, session)
	fmt.Println("the writer reads on", p.Node)
	p.Done(nil)
	p, _ = router.PickRead(ctx, balance.Token{})
	fmt.Println("another session reads on", p.Node)
	p.Done(nil)
	// Output:
	// the writer reads on primary
	// another session reads on replica-1
}
