//go:build !race

package bulwarkgrpc

const raceEnabled = false
