package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/pgpull/pgpull/backup"
	"github.com/pgpull/pgpull/internal/s3store"
	"github.com/pgpull/pgpull/pipeline"
	"github.com/pgpull/pgpull/stages/rangeread"
)

// s3Reads are how restore reads an s3:// SOURCE: -j ranged GETs of --range-size at once, put
// back in order, within the byte budget a backup of the same -j and --range-size holds.
type s3Reads struct {
	jobs      int
	rangeSize string

	set rangeread.Settings // once checked
}

func (r *s3Reads) add(fs *pflag.FlagSet) {
	fs.IntVarP(&r.jobs, "jobs", "j", defaultJobs, "`N` ranged reads at once from an s3:// SOURCE")
	fs.StringVar(&r.rangeSize, "range-size", "8MB", "`SIZE` of each ranged read from an s3:// SOURCE")
}

// check reads the flags into the settings, and sets the soft memory limit as a backup does.
func (r *s3Reads) check() error {
	size, err := parseSize(r.rangeSize, 1)
	if err != nil {
		return fmt.Errorf("--range-size: %w", err)
	}
	if size < 64<<10 || size > 1<<30 {
		return fmt.Errorf("--range-size %s is out of range: use 64kB to 1GB", r.rangeSize)
	}
	if r.jobs < 1 {
		return fmt.Errorf("-j/--jobs must be at least 1, got %d", r.jobs)
	}
	tu := backup.DefaultTuning()
	r.set = rangeread.Settings{Jobs: r.jobs, RangeSize: size, Held: &rangeread.Held{},
		Budget: pipeline.NewBudget(tu.InFlightBytes(r.jobs, size), int(size))}
	return nil
}

// objects reads store by ranges.
func (r *s3Reads) objects(store *s3store.Store) *rangeread.Objects {
	if os.Getenv("GOMEMLIMIT") == "" {
		// As for a backup: the reads are bounded by the budget, and a soft limit just above it
		// keeps the collector from letting the heap grow to twice that.
		debug.SetMemoryLimit(backup.DefaultTuning().MemoryLimit(r.jobs, r.set.RangeSize))
	}
	return &rangeread.Objects{Store: store, Settings: r.set}
}

// report says (-v) how much the reads held at most, against the budget.
func (r *s3Reads) report(log func(string, ...any)) {
	if r.set.Held != nil && r.set.Held.Peak() > 0 {
		log("S3 reads: peak %d of %d bytes held (-j %d, ranges of %s)", r.set.Held.Peak(), r.set.Budget.Total(),
			r.jobs, humanSize(r.set.RangeSize))
	}
}

// walGetLine is restore_command for an S3 WAL archive: this program's wal-get, with the store's
// endpoint and addressing as this restore resolved them (the server runs it with its own
// environment, which may lack AWS_ENDPOINT_URL). Credentials are not written: the server's user
// finds its own, as `aws s3` would. The store is reached first, so that a missing bucket or a
// refused key costs one line before anything starts.
func walGetLine(ctx context.Context, s3 s3Flags, location string) (string, error) {
	if _, err := s3.open(ctx, location); err != nil {
		return "", fmt.Errorf("--wal-archive: %w", err)
	}
	set, err := s3store.Resolve(s3.config(), os.Getenv)
	if err != nil {
		return "", err
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("--wal-archive %s: finding this program for restore_command: %w", location, err)
	}
	words := []string{self, "wal-get", "--s3-endpoint", set.Endpoint}
	if set.PathStyle {
		words = append(words, "--s3-path-style")
	}
	line := ""
	for _, w := range append(words, location) {
		line += shellWord(w) + " "
	}
	return strings.ReplaceAll(line, "%", "%%") + "%f %p", nil
}

// shellWord quotes w for sh when it holds anything but plain path characters.
func shellWord(w string) string {
	if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-:=") == "" {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
