//go:build !linux

package pipeline

// newBuffer makes a zeroed buffer of n bytes; only Linux is asked for huge pages.
func newBuffer(n int) []byte { return make([]byte, n) }
