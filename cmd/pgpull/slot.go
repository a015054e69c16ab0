package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/pflag"

	"github.com/pgpull/pgpull/internal/session"
)

// slotFlags are pg_basebackup's -S and -C: a permanent physical replication slot for the standby
// made from the backup. -C creates it before the backup starts, reserving WAL from then on, so
// that the standby finds every segment after the backup's end; -R names it in primary_slot_name.
// The backup's own WAL is held as always, by a temporary slot when the role has REPLICATION.
type slotFlags struct {
	name   string
	create bool
}

func (s *slotFlags) add(fs *pflag.FlagSet) {
	fs.StringVarP(&s.name, "slot", "S", "", "permanent physical replication slot `SLOTNAME` that keeps WAL for the standby made from the backup; -R names it in primary_slot_name")
	fs.BoolVarP(&s.create, "create-slot", "C", false, "create the -S slot before the backup starts (needs REPLICATION); a failed backup drops it again")
}

// slotName is what PostgreSQL takes as a replication slot name.
var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// check holds -S and -C to what the server would take, before it is touched.
func (s slotFlags) check() error {
	switch {
	case s.create && s.name == "":
		return fmt.Errorf("-C/--create-slot needs the slot's name: add -S NAME")
	case s.name != "" && !slotName.MatchString(s.name):
		return fmt.Errorf("-S %q is no replication slot name: use up to 63 lowercase letters, digits and underscores", s.name)
	}
	return nil
}

// heldSlot is the -S slot once prepared; release drops it when the backup that created it failed.
type heldSlot struct {
	name string
	cfg  *pgx.ConnConfig // to drop a slot this run created, nil otherwise
}

// prepare creates the -S slot with -C, or checks that it exists and holds WAL, on a connection of
// its own; log says what it did.
func (s slotFlags) prepare(ctx context.Context, cfg *pgx.ConnConfig, log func(string, ...any)) (heldSlot, error) {
	if s.name == "" {
		return heldSlot{}, nil
	}
	conn, err := slotConn(ctx, cfg)
	if err != nil {
		return heldSlot{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if s.create {
		_, err := conn.Exec(ctx, `SELECT pg_create_physical_replication_slot($1, true, false)`, s.name)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "42710":
			return heldSlot{}, fmt.Errorf("replication slot %q already exists: drop -C to use it, or name another with -S", s.name)
		case errors.As(err, &pgErr) && pgErr.Code == "42501":
			return heldSlot{}, fmt.Errorf("creating replication slot %q: %s; give the role REPLICATION (the optional line of pgpull grants)", s.name, pgErr.Message)
		case err != nil:
			return heldSlot{}, fmt.Errorf("creating replication slot %q: %w", s.name, err)
		}
		log("replication slot %s created; it keeps WAL for the standby made from this backup", s.name)
		return heldSlot{name: s.name, cfg: cfg}, nil
	}
	return heldSlot{name: s.name}, checkSlot(ctx, conn, s.name)
}

// checkSlot refuses a -S slot that cannot serve a standby made from the backup.
func checkSlot(ctx context.Context, conn *pgx.Conn, name string) error {
	var kind string
	var reserved, active bool
	err := conn.QueryRow(ctx, `SELECT slot_type::text, restart_lsn IS NOT NULL, active FROM pg_replication_slots WHERE slot_name = $1`,
		name).Scan(&kind, &reserved, &active)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("replication slot %q does not exist: add -C to create it", name)
	case err != nil:
		return fmt.Errorf("reading replication slot %q: %w", name, err)
	case kind != "physical":
		return fmt.Errorf("replication slot %q is a %s slot: -S takes a physical one", name, kind)
	case !reserved:
		return fmt.Errorf("replication slot %q holds no WAL yet (it was made without reserving any): drop it and let -C make it", name)
	case active:
		return fmt.Errorf("replication slot %q is in use by another connection: a standby made from this backup could not use it", name)
	}
	return nil
}

// release drops a slot this run created when the backup failed: nothing of a failed run stays on
// the server.
func (h heldSlot) release(err error) {
	if err == nil || h.cfg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, cerr := slotConn(ctx, h.cfg)
	if cerr != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, h.name)
}

// slotConn is a short connection for the slot's statements.
func slotConn(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	c := cfg.Copy()
	c.RuntimeParams["application_name"] = "pgpull slot"
	conn, err := pgx.ConnectConfig(ctx, c)
	if err != nil {
		return nil, session.ConnectError(err)
	}
	return conn, nil
}
