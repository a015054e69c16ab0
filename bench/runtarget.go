package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// prepareTarget readies what bench run measures against: it builds pgpull (and the libzstd
// build when that is measured) into work while it starts the scratch cluster and loads its data
// set, or learns --dsn's socket and port; with server compressions it installs pgpull's helper.
// It records the data set in rep.
func prepareTarget(ctx context.Context, s runSettings, p benchPlan, work *workDir, bins testcluster.Binaries,
	rep *benchReport, logf func(string, ...any)) (*target, error) {
	t := &target{bindir: bins.Client, work: work, dsn: s.dsn, dataDir: s.pgdata}
	t.pgbackrest, _ = exec.LookPath("pgbackrest")
	// The builds run while the data set loads, so the start waits for the slower, not both.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		t.pgpull, err = buildPgpull(gctx, work.path, "")
		return err
	})
	if p.matrix.pgpullLibzstd {
		g.Go(func() error {
			var err error
			t.pgpullLibzstd, err = buildPgpull(gctx, work.path, "libzstd")
			return err
		})
	}
	if s.dsn == "" {
		rep.Dataset = p.dataset.String()
		logf("scratch cluster with data checksums, loading %s", p.dataset)
		src, err := work.startCluster(ctx, "source", testcluster.Options{Checksums: true,
			Conf: []string{"max_wal_size = 4GB", "checkpoint_timeout = 30min"}})
		if err != nil {
			return nil, err
		}
		t.dsn, t.dataDir, t.socketDir, t.port = src.DSN(), src.DataDir, src.SocketDir, src.Port
		g.Go(func() error { return p.dataset.load(gctx, src) })
	} else {
		rep.Dataset = "existing cluster at --dsn"
		if err := t.fillFromDSN(); err != nil {
			return nil, err
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if p.matrix.serverCompress() {
		logf("installing pgpull's server-compress helper")
		if err := t.installHelper(ctx); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// fillFromDSN learns the socket directory and port of an existing cluster,
// which pgBackRest needs.
func (t *target) fillFromDSN() error {
	cfg, err := pgx.ParseConfig(t.dsn)
	if err != nil {
		return fmt.Errorf("--dsn: %w", err)
	}
	t.port = int(cfg.Port)
	if strings.HasPrefix(cfg.Host, "/") {
		t.socketDir = cfg.Host
	} else {
		t.socketDir = "/var/run/postgresql"
	}
	return nil
}

// shapeLink puts the net shaper between the clients and t's server for --latency and
// --bandwidth, and points t.dsn at it; the caller closes the shaper.
func (t *target) shapeLink(p benchPlan, logf func(string, ...any)) (*netShaper, error) {
	cfg, err := pgx.ParseConfig(t.dsn)
	if err != nil {
		return nil, err
	}
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		host = "127.0.0.1" // the scratch cluster listens there too
	}
	shaper, err := startNetShaper(net.JoinHostPort(host, strconv.Itoa(int(cfg.Port))), p.latency, p.bandwidth)
	if err != nil {
		return nil, err
	}
	h, port, _ := net.SplitHostPort(shaper.Addr)
	t.dsn = fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", h, port, cfg.User, cfg.Database)
	logf("clients go through a proxy at %s: %s", shaper.Addr, p.scenario())
	return shaper, nil
}
