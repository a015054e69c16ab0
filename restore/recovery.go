package restore

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// Recovery is what the restored server is to do at its first start, as PostgreSQL's recovery
// settings say it; the zero value leaves the backup's own settings as they are.
type Recovery struct {
	// WALArchive is a directory `pgpull wal` keeps: restore_command copies from it.
	WALArchive string
	// At most one target: where recovery stops (recovery_target_time, _lsn, _name).
	TargetTime *time.Time
	TargetLSN  *pgformat.LSN
	TargetName string
	// TargetAction is recovery_target_action: pause (PostgreSQL's default), promote or shutdown.
	TargetAction string
	// Standby writes standby.signal instead of recovery.signal; PrimaryConninfo is then the
	// primary it streams from.
	Standby         bool
	PrimaryConninfo string
}

// targetActions are the values of recovery_target_action.
var targetActions = []string{"pause", "promote", "shutdown"}

// Check refuses settings that do not go together, before anything is read or written.
func (r Recovery) Check() error {
	targets := 0
	for _, set := range []bool{r.TargetTime != nil, r.TargetLSN != nil, r.TargetName != ""} {
		if set {
			targets++
		}
	}
	switch {
	case targets > 1:
		return fmt.Errorf("give one recovery target: --target-time, --target-lsn or --target-name")
	case targets == 1 && r.WALArchive == "":
		return fmt.Errorf("a recovery target needs --wal-archive DIR: the backup's own WAL ends at its stop point, before any target")
	case r.TargetAction != "" && targets == 0:
		return fmt.Errorf("--target-action says what to do at a recovery target: give one (--target-time, --target-lsn or --target-name)")
	case r.TargetAction != "" && !slices.Contains(targetActions, r.TargetAction):
		return fmt.Errorf("--target-action %q: use pause, promote or shutdown", r.TargetAction)
	case r.PrimaryConninfo != "" && !r.Standby:
		return fmt.Errorf("--primary-conninfo is the primary a standby streams from: add --standby")
	case strings.HasPrefix(r.WALArchive, "s3://"):
		return fmt.Errorf("--wal-archive %s: recovery from an S3 archive needs a command for restore_command, which this pgpull lacks; "+
			"give a directory `pgpull wal` keeps, or set restore_command in postgresql.auto.conf yourself", r.WALArchive)
	}
	return nil
}

// target reports whether a recovery target is set.
func (r Recovery) target() bool {
	return r.TargetTime != nil || r.TargetLSN != nil || r.TargetName != ""
}

// active reports whether the restore writes recovery settings at all.
func (r Recovery) active() bool {
	return r.WALArchive != "" || r.target() || r.Standby
}

// signal is the file that makes the server recover, and the one it removes.
func (r Recovery) signal() (write, remove string) {
	if r.Standby {
		return "standby.signal", "recovery.signal"
	}
	return "recovery.signal", "standby.signal"
}

// settings are the lines appended to postgresql.auto.conf, where, read last, they win over
// the backup's own.
func (r Recovery) settings(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# added by pgpull restore, %s\n", now.UTC().Format(time.RFC3339))
	set := func(name, value string) { fmt.Fprintf(&b, "%s = %s\n", name, confQuote(value)) }
	if r.WALArchive != "" {
		set("restore_command", archiveCommand(r.WALArchive))
	}
	switch {
	case r.TargetTime != nil:
		set("recovery_target_time", formatTargetTime(*r.TargetTime))
	case r.TargetLSN != nil:
		set("recovery_target_lsn", r.TargetLSN.String())
	case r.TargetName != "":
		set("recovery_target_name", r.TargetName)
	}
	if r.TargetAction != "" {
		set("recovery_target_action", r.TargetAction)
	}
	if r.PrimaryConninfo != "" {
		set("primary_conninfo", r.PrimaryConninfo)
	}
	return b.String()
}

// archiveCommand is the restore_command that reads the archive `pgpull wal` keeps in dir: the
// segment under its final name, else the copy of it the feed was still writing (NAME.partial),
// which holds the newest WAL the archive has.
func archiveCommand(dir string) string {
	d := strings.ReplaceAll(shellQuote(strings.TrimSuffix(dir, "/")), "%", "%%")
	return fmt.Sprintf("cp %s/%%f %%p 2>/dev/null || cp %s/%%f.partial %%p", d, d)
}

// shellQuote quotes s for sh: single quotes, each inner one closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// confQuote quotes a string setting as ALTER SYSTEM writes it: single quotes, with each quote
// and backslash doubled.
func confQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}
