package session

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPin(t *testing.T) {
	dns := map[string][]string{
		"db":   {"10.0.0.1"},
		"a":    {"10.0.0.1"},
		"b":    {"10.0.0.2"},
		"pair": {"10.0.0.3", "10.0.0.4"},
		"port": {"10.0.0.5:6000"},
	}
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	tests := []struct {
		name    string
		dsn     string
		reached net.Addr
		tls     bool
		// want: the pinned host, port and TLS; "" for cfg returned as it is
		host    string
		port    uint16
		wantTLS bool
		// resolves is what the pinned config's lookup gives for host, nil for no check
		resolves []string
	}{
		{"prefer, server without TLS", "host=db port=5432 sslmode=prefer", tcp("10.0.0.1", 5432), false, "db", 5432, false, []string{"10.0.0.1"}},
		{"prefer, server with TLS", "host=db port=5432 sslmode=prefer", tcp("10.0.0.1", 5432), true, "db", 5432, true, nil},
		{"require", "host=db port=5432 sslmode=require", tcp("10.0.0.1", 5432), true, "db", 5432, true, nil},
		{"disable", "host=db port=5432 sslmode=disable", tcp("10.0.0.1", 5432), false, "db", 5432, false, nil},
		{"second of two hosts", "host=a,b port=5432 sslmode=prefer", tcp("10.0.0.2", 5432), false, "b", 5432, false, []string{"10.0.0.2"}},
		{"first of two hosts", "host=a,b port=5432,5433 sslmode=disable", tcp("10.0.0.1", 5432), false, "a", 5432, false, nil},
		{"port tells hosts apart", "host=a,a port=5432,5433 sslmode=disable", tcp("10.0.0.1", 5433), false, "a", 5433, false, nil},
		{"a name with two addresses", "host=pair port=5432 sslmode=disable", tcp("10.0.0.4", 5432), false, "pair", 5432, false, []string{"10.0.0.4"}},
		{"lookup gives the port", "host=port port=5432 sslmode=disable", tcp("10.0.0.5", 6000), false, "port", 5432, false, []string{"10.0.0.5:6000"}},
		{"an address", "host=127.0.0.1 port=5432 sslmode=prefer", tcp("127.0.0.1", 5432), false, "127.0.0.1", 5432, false, nil},
		{"an IPv6 address", "host=::1 port=5432 sslmode=disable", tcp("::1", 5432), false, "::1", 5432, false, nil},
		{"a socket", "host=/tmp/s port=5499", &net.UnixAddr{Name: "/tmp/s/.s.PGSQL.5499", Net: "unix"}, false, "/tmp/s", 5499, false, nil},
		{"a socket among hosts", "host=db,/tmp/s port=5432,5499 sslmode=disable", &net.UnixAddr{Name: "/tmp/s/.s.PGSQL.5499", Net: "unix"}, false, "/tmp/s", 5499, false, nil},
		{"an address none resolves to", "host=db port=5432 sslmode=prefer", tcp("10.9.9.9", 5432), false, "", 0, false, nil},
		{"another port", "host=db port=5432 sslmode=prefer", tcp("10.0.0.1", 5433), false, "", 0, false, nil},
		{"TLS where none was asked", "host=db port=5432 sslmode=disable", tcp("10.0.0.1", 5432), true, "", 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := pgx.ParseConfig(tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) {
				if addrs, ok := dns[host]; ok {
					return addrs, nil
				}
				if net.ParseIP(host) != nil {
					return []string{host}, nil
				}
				return nil, fmt.Errorf("no such host %s", host)
			}
			host, fallbacks := cfg.Host, len(cfg.Fallbacks)
			got := pin(context.Background(), cfg, tt.reached, tt.tls)
			if cfg.Host != host || len(cfg.Fallbacks) != fallbacks {
				t.Errorf("pin changed the config it was given")
			}
			if tt.host == "" {
				if got != cfg {
					t.Errorf("pinned to %s:%d; want the config as it was", got.Host, got.Port)
				}
				return
			}
			if got == cfg {
				t.Fatalf("the config as it was; want it pinned to %s:%d", tt.host, tt.port)
			}
			if got.Host != tt.host || got.Port != tt.port || (got.TLSConfig != nil) != tt.wantTLS || len(got.Fallbacks) != 0 {
				t.Errorf("pinned to %s:%d TLS %v with %d fallbacks; want %s:%d TLS %v and none",
					got.Host, got.Port, got.TLSConfig != nil, len(got.Fallbacks), tt.host, tt.port, tt.wantTLS)
			}
			if tt.resolves != nil {
				addrs, err := got.LookupFunc(context.Background(), tt.host)
				if err != nil || !slices.Equal(addrs, tt.resolves) {
					t.Errorf("the pinned lookup of %s gives %v (%v); want %v", tt.host, addrs, err, tt.resolves)
				}
				if others, err := got.LookupFunc(context.Background(), "b"); err != nil || !slices.Equal(others, dns["b"]) {
					t.Errorf("the pinned lookup of another name gives %v (%v); want %v", others, err, dns["b"])
				}
			}
		})
	}
}
