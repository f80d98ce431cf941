module github.com/bulwark-go/bulwark/grpc/bench

go 1.26.0

require (
	github.com/bulwark-go/bulwark v0.0.0
	github.com/bulwark-go/bulwark/grpc v0.0.0
	github.com/failsafe-go/failsafe-go v0.9.8
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/bits-and-blooms/bitset v1.24.4 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/time v0.15.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
)

replace (
	github.com/bulwark-go/bulwark => ../../
	github.com/bulwark-go/bulwark/grpc => ../
)
