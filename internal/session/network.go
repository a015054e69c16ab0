package session

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Network is how every connection of a run meets a network that fails silently: how long a
// connection may take to be answered, and the TCP keepalives that find a peer gone while the
// connection waits. libpq's DSN settings set them (connect_timeout, keepalives,
// keepalives_idle, keepalives_interval, keepalives_count, tcp_user_timeout); DefaultNetwork
// fills what the DSN leaves out.
type Network struct {
	// ConnectTimeout bounds each connection's opening: TCP, TLS, authentication.
	ConnectTimeout time.Duration
	// KeepAlive turns the keepalive probes on; Idle is the silence before the first, Interval the
	// time between them, Count how many go unanswered before the connection is dropped.
	KeepAlive         bool
	KeepAliveIdle     time.Duration
	KeepAliveInterval time.Duration
	KeepAliveCount    int
	// UserTimeout drops a connection whose sent bytes stay unacknowledged this long (Linux's
	// TCP_USER_TIMEOUT); keepalives do not probe while data waits for its acknowledgement.
	UserTimeout time.Duration
}

// DefaultNetwork is what a connection gets where its DSN says nothing.
//
// ConnectTimeout, 30 s: a connection costs a few round trips (0.2 s through the 20 ms bench
// link, a second or two across the world); a server that has not answered in 30 s is not there,
// and pgpull says so instead of waiting forever, as libpq does without connect_timeout.
//
// Keepalives after 15 s of silence, every 5 s, 3 unanswered: a server or path that vanished
// (host down, cable cut, a NAT that forgot the connection) is found within 30 s of the last
// byte, where the kernel's own defaults take over two hours. A live server's kernel answers the
// probes even while its backend works for minutes on one statement (pg_backup_start's spread
// checkpoint), so they never end a slow statement. UserTimeout, 30 s, covers the case the probes
// do not: a statement sent into a path that died before acknowledging it.
func DefaultNetwork() Network {
	return Network{ConnectTimeout: 30 * time.Second, KeepAlive: true, KeepAliveIdle: 15 * time.Second,
		KeepAliveInterval: 5 * time.Second, KeepAliveCount: 3, UserTimeout: 30 * time.Second}
}

// networkSettings are libpq's DSN settings that Network takes; pgx does not know them and would
// send them to the server as run-time parameters, which it rejects.
func networkSettings() []string {
	return []string{"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout"}
}

// SetNetwork gives every connection made from cfg its Network: the DSN's settings where it has
// them, DefaultNetwork's where not. pgx leaves ConnectTimeout 0 both when connect_timeout is
// absent and when it is 0, so connect_timeout=0 cannot turn the limit off: a DSN wanting a long
// wait names it.
func SetNetwork(cfg *pgx.ConnConfig) error {
	n, err := networkOf(cfg.ConnectTimeout, cfg.RuntimeParams)
	if err != nil {
		return err
	}
	for _, k := range networkSettings() {
		delete(cfg.RuntimeParams, k)
	}
	cfg.ConnectTimeout = n.ConnectTimeout // the whole opening, as libpq's connect_timeout
	cfg.DialFunc = n.dialer().DialContext // the fallbacks (other hosts, TLS or not) share it
	return nil
}

// networkOf reads the DSN's settings over the defaults.
func networkOf(connectTimeout time.Duration, params map[string]string) (Network, error) {
	n := DefaultNetwork()
	if connectTimeout > 0 {
		n.ConnectTimeout = connectTimeout
	}
	// libpq's 0 leaves a setting to the system: -1 tells the dialer so.
	system := func(v int, unit time.Duration) time.Duration {
		if v == 0 {
			return -1
		}
		return time.Duration(v) * unit
	}
	for _, s := range []struct {
		key, unit string
		set       func(v int)
	}{
		{"keepalives", "0 or 1", func(v int) { n.KeepAlive = v != 0 }},
		{"keepalives_idle", "seconds", func(v int) { n.KeepAliveIdle = system(v, time.Second) }},
		{"keepalives_interval", "seconds", func(v int) { n.KeepAliveInterval = system(v, time.Second) }},
		{"keepalives_count", "probes", func(v int) { n.KeepAliveCount = int(system(v, 1)) }},
		{"tcp_user_timeout", "milliseconds", func(v int) { n.UserTimeout = time.Duration(v) * time.Millisecond }},
	} {
		text, ok := params[s.key]
		if !ok {
			continue
		}
		v, err := strconv.Atoi(text)
		if err != nil || v < 0 {
			return n, fmt.Errorf("invalid DSN: %s=%q is not a whole number (%s)", s.key, text, s.unit)
		}
		s.set(v)
	}
	return n, nil
}

// dialer makes the connections: keepalives as set (a negative field left to the system), and the
// user timeout where the system has one (0 leaves it to the system).
func (n Network) dialer() *net.Dialer {
	d := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: n.KeepAlive, Idle: n.KeepAliveIdle,
		Interval: n.KeepAliveInterval, Count: n.KeepAliveCount}}
	if !n.KeepAlive {
		d.KeepAlive = -1
	}
	if n.UserTimeout > 0 {
		d.Control = setUserTimeout(n.UserTimeout)
	}
	return d
}
