package redis

import (
	"encoding/json"
	"fmt"
)

// Codec turns values into the bytes stored in Redis and back. Decode gets
// bytes from the network, written by any client with access to the key:
// it must return an error, never panic, on input it cannot read (a panic
// in Decode is recovered and treated as an error all the same).
type Codec[V any] interface {
	Encode(v V) ([]byte, error)
	Decode(b []byte) (V, error)
}

// JSON is the default Codec: encoding/json.
type JSON[V any] struct{}

// Encode returns json.Marshal(v).
func (JSON[V]) Encode(v V) ([]byte, error) { return json.Marshal(v) }

// Decode returns the value json.Unmarshal reads from b.
func (JSON[V]) Decode(b []byte) (V, error) {
	var v V
	err := json.Unmarshal(b, &v)
	return v, err
}

// String stores a string as its bytes.
type String struct{}

// Encode returns []byte(v).
func (String) Encode(v string) ([]byte, error) { return []byte(v), nil }

// Decode returns string(b).
func (String) Decode(b []byte) (string, error) { return string(b), nil }

// decode runs codec.Decode, turning a panic into an error.
func decode[V any](codec Codec[V], b []byte) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero V
			v, err = zero, fmt.Errorf("redis: codec panicked decoding %d bytes: %v", len(b), r)
		}
	}()
	return codec.Decode(b)
}
