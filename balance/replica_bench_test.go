package balance_test

import (
	"context"
	"testing"

	"github.com/bulwark-go/bulwark/balance"
)

// BenchmarkReplicaPickRead is a read's routing cost: the picker's Pick,
// plus for a Token an index lookup of the picked replica's position.
func BenchmarkReplicaPickRead(b *testing.B) {
	nodes := names("r", 8)
	s := newReplStore("p", nodes...)
	tok := balance.Token{Position: s.write()}
	s.catchUp(nodes...)
	r, err := balance.NewReplicaRouter(s.topology(nodes...), nil, balance.ReplicaConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	for { // the first probe round
		if p, _ := r.PickRead(ctx, tok); p.Node != "p" {
			p.Done(nil)
			break
		} else {
			p.Done(nil)
		}
	}
	for _, bc := range []struct {
		name string
		tok  balance.Token
	}{{"token=none", balance.Token{}}, {"token=reached", tok}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, err := r.PickRead(ctx, bc.tok)
					if err != nil {
						b.Fatal(err)
					}
					p.Done(nil)
				}
			})
		})
	}
}
