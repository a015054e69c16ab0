package session

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Pin returns cfg narrowed to the server conn reached and the way it reached it, for the run's
// other connections: the host and port conn went to, with TLS or without as conn has it, and no
// other address to fall back on.
//
// Two things follow. Every session of a backup reads the same server: with host=a,b each new
// connection would otherwise try a first, and read another cluster's files should a come back
// while conn went to b. And none of them asks again what conn's answer settled: with the default
// sslmode=prefer, pgx asks for TLS on a connection of its own and, refused, opens a second one
// without it (libpq goes on over the same socket), two round trips more for each of a backup's
// dozen connections to a server without TLS.
//
// A name that resolves to several addresses keeps its name (TLS checks the certificate against
// it, Kerberos asks for a ticket with it) and resolves to the one conn reached. When conn's
// address matches none of cfg's (a LookupFunc that rewrites them), cfg is returned as it is.
func Pin(ctx context.Context, cfg *pgx.ConnConfig, conn *pgconn.PgConn) *pgx.ConnConfig {
	nc := conn.Conn()
	_, isTLS := nc.(*tls.Conn)
	return pin(ctx, cfg, nc.RemoteAddr(), isTLS)
}

func pin(ctx context.Context, cfg *pgx.ConnConfig, reached net.Addr, isTLS bool) *pgx.ConnConfig {
	tries := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}}, cfg.Fallbacks...)
	for _, try := range tries {
		if (try.TLSConfig != nil) != isTLS {
			continue
		}
		addr, ok := reachedBy(ctx, cfg, try, reached)
		if !ok {
			continue
		}
		pinned := cfg.Copy()
		pinned.Host, pinned.Port, pinned.TLSConfig, pinned.Fallbacks = try.Host, try.Port, try.TLSConfig, nil
		if addr != "" && net.ParseIP(try.Host) == nil {
			name, lookup := try.Host, cfg.LookupFunc
			pinned.LookupFunc = func(ctx context.Context, host string) ([]string, error) {
				if host == name {
					return []string{addr}, nil
				}
				return lookup(ctx, host)
			}
		}
		return pinned
	}
	return cfg
}

// reachedBy reports whether connecting as try leads to the address reached, and for TCP the
// address, as try's lookup gives it, that it went to.
func reachedBy(ctx context.Context, cfg *pgx.ConnConfig, try *pgconn.FallbackConfig, reached net.Addr) (addr string, ok bool) {
	network, address := pgconn.NetworkAddress(try.Host, try.Port)
	if network == "unix" || reached.Network() == "unix" {
		return "", network == reached.Network() && address == reached.String()
	}
	host, port, err := net.SplitHostPort(reached.String())
	want := net.ParseIP(host)
	if err != nil || want == nil {
		return "", false
	}
	addrs := []string{try.Host}
	if net.ParseIP(try.Host) == nil {
		if addrs, err = cfg.LookupFunc(ctx, try.Host); err != nil {
			return "", false
		}
	}
	for _, a := range addrs {
		// A lookup may give a port of its own, which pgx then dials instead of try's.
		ip, p, err := net.SplitHostPort(a)
		if err != nil {
			ip, p = a, strconv.Itoa(int(try.Port))
		}
		if got := net.ParseIP(ip); got != nil && got.Equal(want) && p == port {
			return a, true
		}
	}
	return "", false
}
