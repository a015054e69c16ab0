//go:build !linux

package session

import (
	"syscall"
	"time"
)

// setUserTimeout does nothing where there is no TCP_USER_TIMEOUT: the keepalives still work.
func setUserTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
