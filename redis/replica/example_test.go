package replica_test

import (
	"context"
	"fmt"

	"github.com/bulwark-go/bulwark/redis/replica"
)

// A probe reads one node's INFO replication; here a canned reply stands in
// for replica.Rueidis(client).
func ExampleReplica() {
	node := staticInfo{text: "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n" +
		"master_sync_in_progress:0\r\nslave_repl_offset:4242\r\n"}
	pos, err := replica.Replica(node)(context.Background())
	fmt.Println(pos, err)

	_, err = replica.Primary(node)(context.Background())
	fmt.Println(err)
	// Output:
	// 4242 <nil>
	// replica: node in the wrong role: role slave, want master
}
