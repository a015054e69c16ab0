package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pgpull/pgpull/restore"
)

// restoreOutput is what a restore says on stderr (-v, -P) and in --summary.
type restoreOutput struct {
	w        io.Writer
	verbose  bool
	progress bool
	summary  io.Writer
	closer   io.Closer
	began    time.Time
	last     time.Time
}

// progressEvery spaces -P's lines.
const progressEvery = 3 * time.Second

func openRestoreOutput(f restoreFlags, stderr io.Writer) (*restoreOutput, error) {
	o := &restoreOutput{w: stderr, verbose: f.verbose, progress: f.progress, began: time.Now()}
	switch f.summary {
	case "":
	case "-":
		o.summary = stderr
	default:
		file, err := os.OpenFile(f.summary, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--summary: %w", err)
		}
		o.summary, o.closer = file, file
	}
	return o, nil
}

func (o *restoreOutput) log(format string, args ...any) {
	if o.verbose {
		fmt.Fprintf(o.w, "pgpull: "+format+"\n", args...)
	}
}

func (o *restoreOutput) observe(p restore.Progress) {
	if !o.progress || time.Since(o.last) < progressEvery {
		return
	}
	o.last = time.Now()
	of := ""
	if p.Total > 0 {
		of = fmt.Sprintf(" of %s (%d%%)", humanSize(p.Total), 100*p.Bytes/p.Total)
	}
	fmt.Fprintf(o.w, "pgpull: restoring %s: %d files, %s written%s; %s\n", p.Source, p.Files, humanSize(p.Bytes), of, rate(p.Bytes, p.Elapsed))
}

// restoreSummary is --summary's object for a restore.
type restoreSummary struct {
	Type            string            `json:"type"` // "restore"
	Schema          int               `json:"schema_version"`
	Status          string            `json:"status"` // "ok" or "failed"
	Error           string            `json:"error,omitempty"`
	PgpullVersion   string            `json:"pgpull_version"`
	Dir             string            `json:"dir"`
	Sources         []string          `json:"sources"`
	Form            string            `json:"form,omitempty"`
	Files           int64             `json:"files"`
	Bytes           int64             `json:"bytes"`
	WALSegments     int               `json:"wal_segments"`
	Tablespaces     map[string]string `json:"tablespaces,omitempty"`
	Signal          string            `json:"signal,omitempty"`
	Chain           int               `json:"chain,omitempty"`
	Delta           *deltaSummary     `json:"delta,omitempty"`
	DurationSeconds float64           `json:"duration_seconds"`
}

// deltaSummary is what --delta adds: the files compared, split by whether they were written.
type deltaSummary struct {
	Rewritten int64 `json:"rewritten_files"`
	Unchanged int64 `json:"unchanged_files"`
	Removed   int64 `json:"removed_files"`
}

// finish says how the restore ended: -v's closing lines, the summary, and, when root kept the
// files, that the server cannot run so.
func (o *restoreOutput) finish(opts restore.Options, res *restore.Result, err error) {
	sum := restoreSummary{Type: "restore", Schema: reportSchema, Status: "ok", PgpullVersion: versionLine(buildInfo()), Dir: opts.Dir,
		DurationSeconds: round(time.Since(o.began).Seconds(), 3)}
	for _, s := range opts.Sources {
		sum.Sources = append(sum.Sources, s.Name)
	}
	if err != nil {
		sum.Status, sum.Error = "failed", oneLine(err.Error())
	} else {
		sum.Form, sum.Files, sum.Bytes, sum.WALSegments = res.Form, res.Files, res.Bytes, res.WALSegments
		sum.Tablespaces, sum.Signal, sum.Chain = res.Tablespaces, res.Signal, res.Chain
		if opts.Delta {
			sum.Delta = &deltaSummary{Rewritten: res.Rewritten, Unchanged: res.Unchanged, Removed: res.Removed}
		}
		o.closing(opts, res)
	}
	if o.summary != nil {
		b, _ := json.Marshal(sum)
		fmt.Fprintf(o.summary, "%s\n", b)
	}
	if o.closer != nil {
		o.closer.Close()
	}
}

// closing is -v's account of a restore that succeeded, and the warning about root.
func (o *restoreOutput) closing(opts restore.Options, res *restore.Result) {
	if opts.Owner == nil && os.Geteuid() == 0 {
		fmt.Fprintf(o.w, "pgpull: %s belongs to root, and PostgreSQL does not run as root: chown -R it to the server's user, or restore with --owner USER\n", opts.Dir)
	}
	if !o.verbose {
		return
	}
	if res.Chain > 0 {
		o.log("restored into %s a chain of %d backups, each checked against its backup_manifest, then combined: %d files (%s)",
			opts.Dir, res.Chain, res.Files, humanSize(res.Bytes))
	} else {
		o.log("restored into %s (%s): %s written, checked against backup_manifest", opts.Dir, res.Form,
			amount(res.Files, res.Bytes, int64(res.WALSegments)))
	}
	if opts.Delta {
		o.log("--delta: %d files rewritten, %d unchanged, %d removed", res.Rewritten, res.Unchanged, res.Removed)
	}
	for _, oid := range slices.Sorted(maps.Keys(res.Tablespaces)) {
		o.log("tablespace %s in %s", oid, res.Tablespaces[oid])
	}
	switch {
	case res.Signal != "":
		o.log("%s and the recovery settings are in place (postgresql.auto.conf): %s", res.Signal, strings.TrimSpace(recoveryWords(opts.Recovery)))
	default:
		o.log("it starts as the backup left it: pg_ctl -D %s start", opts.Dir)
	}
}

// recoveryWords says in a few words what the restored server will do.
func recoveryWords(r restore.Recovery) string {
	var parts []string
	if r.WALArchive != "" {
		parts = append(parts, "WAL from "+r.WALArchive)
	}
	switch {
	case r.TargetTime != nil:
		parts = append(parts, "until "+r.TargetTime.Format(time.RFC3339Nano))
	case r.TargetLSN != nil:
		parts = append(parts, "until "+r.TargetLSN.String())
	case r.TargetName != "":
		parts = append(parts, "until restore point "+r.TargetName)
	}
	if r.Standby {
		parts = append(parts, "as a standby")
	}
	return strings.Join(parts, ", ")
}
