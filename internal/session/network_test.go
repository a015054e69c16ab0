package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestSetNetwork(t *testing.T) {
	def := DefaultNetwork()
	tests := []struct {
		name    string
		dsn     string
		want    Network
		wantErr string
	}{
		{name: "defaults where the DSN says nothing", dsn: "", want: def},
		{name: "the DSN's connect_timeout", dsn: "connect_timeout=7",
			want: Network{ConnectTimeout: 7 * time.Second, KeepAlive: true, KeepAliveIdle: def.KeepAliveIdle,
				KeepAliveInterval: def.KeepAliveInterval, KeepAliveCount: def.KeepAliveCount, UserTimeout: def.UserTimeout}},
		{name: "the DSN's keepalives", dsn: "keepalives_idle=60 keepalives_interval=10 keepalives_count=5 tcp_user_timeout=90000",
			want: Network{ConnectTimeout: def.ConnectTimeout, KeepAlive: true, KeepAliveIdle: time.Minute,
				KeepAliveInterval: 10 * time.Second, KeepAliveCount: 5, UserTimeout: 90 * time.Second}},
		{name: "0 leaves a keepalive setting to the system", dsn: "keepalives_idle=0 keepalives_count=0 tcp_user_timeout=0",
			want: Network{ConnectTimeout: def.ConnectTimeout, KeepAlive: true, KeepAliveIdle: -1,
				KeepAliveInterval: def.KeepAliveInterval, KeepAliveCount: -1}},
		{name: "keepalives off", dsn: "keepalives=0",
			want: Network{ConnectTimeout: def.ConnectTimeout, KeepAliveIdle: def.KeepAliveIdle,
				KeepAliveInterval: def.KeepAliveInterval, KeepAliveCount: def.KeepAliveCount, UserTimeout: def.UserTimeout}},
		{name: "not a number", dsn: "keepalives_idle=soon", wantErr: `invalid DSN: keepalives_idle="soon" is not a whole number (seconds)`},
		{name: "negative", dsn: "tcp_user_timeout=-5", wantErr: `invalid DSN: tcp_user_timeout="-5" is not a whole number (milliseconds)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := pgx.ParseConfig("host=127.0.0.1 user=u " + tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			got, err := networkOf(cfg.ConnectTimeout, cfg.RuntimeParams)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
			if err := SetNetwork(cfg); err != nil {
				t.Fatal(err)
			}
			for _, k := range networkSettings() {
				if v, ok := cfg.RuntimeParams[k]; ok {
					t.Errorf("%s=%s left among the parameters sent to the server, which rejects it", k, v)
				}
			}
			if cfg.ConnectTimeout != tt.want.ConnectTimeout {
				t.Errorf("ConnectTimeout %v; want %v", cfg.ConnectTimeout, tt.want.ConnectTimeout)
			}
		})
	}
}

// silentEndpoint accepts connections and never answers them, as a server behind a dead link or a
// hung proxy does.
func silentEndpoint(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestConnectNeverAnswered: a server that accepts and never answers ends the connection at
// connect_timeout, with a line naming the address, the wait and the way out; a connection the
// caller's context ends names the caller's cause, not the server.
func TestConnectNeverAnswered(t *testing.T) {
	host, port, _ := net.SplitHostPort(silentEndpoint(t))
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%s user=u dbname=d sslmode=disable connect_timeout=2", host, port))
	if err != nil {
		t.Fatal(err)
	}
	if err := SetNetwork(cfg); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err = Connect(context.Background(), cfg, "pgpull test")
	took := time.Since(began)
	want := "the server at " + host + ":" + port + " did not answer the connection within 2 s; check the DSN's host and port"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "connect_timeout") {
		t.Errorf("error %v; want one containing %q and naming connect_timeout", err, want)
	}
	if took < 2*time.Second || took > 20*time.Second {
		t.Errorf("gave up after %s; want about connect_timeout's 2 s", took)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	stalled := errors.New("no data from the server for 30 s")
	time.AfterFunc(100*time.Millisecond, func() { cancel(stalled) })
	_, err = ConnectRaw(ctx, cfg, "pgpull test")
	if !errors.Is(err, stalled) || strings.Contains(err.Error(), "check that the server runs there") {
		t.Errorf("error %v; want the caller's cause, and no advice about the server", err)
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "30 s"},
		{59873 * time.Millisecond, "60 s"},
		{1500 * time.Millisecond, "1.5 s"},
		{50 * time.Millisecond, "0.05 s"},
		{2 * time.Minute, "120 s"},
	}
	for _, tt := range tests {
		if got := Seconds(tt.d); got != tt.want {
			t.Errorf("Seconds(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
