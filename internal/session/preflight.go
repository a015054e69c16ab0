package session

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Preflight is what a backup learns of the server before it starts anything there.
type Preflight struct {
	Server      Server
	Tablespaces []Tablespace
	// Free counts the client connections the server can still accept from a role that is not a
	// superuser (see freeConnectionsSQL).
	Free int
	// NoSlot says why no temporary replication slot can hold WAL for the backup, "" when one can.
	NoSlot string
	// HelperCodecs, when Inspect was asked to check the server-compress helper, are the codecs
	// it has (CheckHelper).
	HelperCodecs []string
	helper       *helperCheck
	// RoundTrip is how long the batch took less the server's time on it: the link's round trip.
	RoundTrip  time.Duration
	serverTime float64 // seconds
}

// Inspect learns through conn what a backup must know before it starts: the server's facts
// (Describe), whether the role may call every function the run will (a missing grant is refused
// here in one line, not halfway through the copy; superusers pass), the tablespaces, the free
// connections and whether a slot can hold WAL; and it readies conn as the control session (see
// NewControl). All in one round trip, where a statement at a time took seven, 0.3 s through a
// 20 ms link: what depends on the major version takes the one the server announced when conn
// opened, and is asked again should Describe read another. With helper, the same round trip
// checks the server-compress helper as CheckHelper does, and a helper not in order fails Inspect.
func Inspect(ctx context.Context, conn *pgx.Conn, helper bool) (Preflight, error) {
	p, err := inspect(ctx, conn, helper)
	var call helperCallError
	if helper && (err == nil || errors.As(err, &call)) {
		p.HelperCodecs, err = p.helper.settle(ctx, conn, err)
	}
	return p, err
}

func inspect(ctx context.Context, conn *pgx.Conn, helper bool) (Preflight, error) {
	var p Preflight
	if helper {
		p.helper = &helperCheck{}
	}
	major, ok := announcedMajor(conn)
	if !ok {
		if err := runSteps(ctx, conn, describeStep(&p.Server)); err != nil {
			return p, err
		}
		return p, p.run(ctx, conn, p.steps(p.Server.Major()))
	}
	otherMajor := errors.New("the server is not the major version it announced")
	describe := describeStep(&p.Server)
	read := describe.read
	describe.read = func(rows pgx.Rows) error {
		if err := read(rows); err != nil {
			return err
		}
		if p.Server.Major() != major {
			return otherMajor
		}
		return nil
	}
	err := p.run(ctx, conn, append([]step{describe}, p.steps(major)...))
	if errors.Is(err, otherMajor) {
		return p, p.run(ctx, conn, p.steps(p.Server.Major()))
	}
	return p, err
}

// run runs steps, among them serverTimeStep's, as one batch, and sets RoundTrip.
func (p *Preflight) run(ctx context.Context, conn *pgx.Conn, steps []step) error {
	began := time.Now()
	err := runSteps(ctx, conn, steps...)
	p.RoundTrip = max(time.Since(began)-time.Duration(p.serverTime*float64(time.Second)), 0)
	return err
}

// serverTimeSQL is how long the server has spent on the batch so far: it runs the batch as one
// implicit transaction, whose start transaction_timestamp() is. The server sends the batch's
// rows when it has run them all, so the batch's time less this is the link's round trip.
const serverTimeSQL = `SELECT extract(epoch FROM clock_timestamp() - transaction_timestamp())::float8`

func serverTimeStep(seconds *float64) step {
	return step{sql: serverTimeSQL, read: func(rows pgx.Rows) error { return scanOne(rows, seconds) }}
}

// steps are Inspect's statements after Describe's, for a server of the given major version.
func (p *Preflight) steps(major int) []step {
	var steps []step
	if major < 15 {
		steps = append(steps, statsTempStep(&p.Server))
	}
	steps = append(steps, privilegesStep(major), tablespacesStep(&p.Tablespaces), freeConnectionsStep(&p.Free),
		noSlotStep(&p.NoSlot, &p.Server.InRecovery))
	steps = append(steps, controlSettings(major)...)
	steps = append(steps, serverTimeStep(&p.serverTime))
	if p.helper != nil {
		// Last: its failure, which ends the batch, is told to the user as a refusal anyway.
		steps = append(steps, p.helper.step())
	}
	return steps
}

// controlSettings turn the control session's timeouts off, so that a long copy cannot end the
// backup by idling it out.
func controlSettings(major int) []step {
	sets := []string{"SET statement_timeout = 0", "SET idle_in_transaction_session_timeout = 0", "SET application_name = 'pgpull control'"}
	if major >= 14 {
		sets = append(sets, "SET idle_session_timeout = 0")
	}
	steps := make([]step, len(sets))
	for i, sql := range sets {
		steps[i] = setting("preparing the control session", sql)
	}
	return steps
}
