package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

// refusal is a flag of pg_basebackup or pg_receivewal that has no meaning for pgpull: given, it
// fails with one line saying why and what pgpull takes instead, rather than being unknown.
type refusal struct {
	long, short string
	value       bool   // the flag takes a value, as -t TARGET does
	why         string // why pgpull has no such flag and what it takes instead
}

// refusedError is a refused flag given on the command line, worded for the user.
type refusedError struct{ r refusal }

func (e refusedError) Error() string {
	return fmt.Sprintf("%s is not offered: %s", e.names(), e.r.why)
}

// names is the refused flag as PostgreSQL's tools spell it: -t/--target.
func (e refusedError) names() string {
	if e.r.short != "" {
		return "-" + e.r.short + "/--" + e.r.long
	}
	return "--" + e.r.long
}

// refusedValue is the flag value of a refusal: setting it fails.
type refusedValue struct{ r refusal }

func (v refusedValue) Set(string) error { return refusedError{v.r} }
func (v refusedValue) String() string   { return "" }

func (v refusedValue) Type() string {
	if v.r.value {
		return "string"
	}
	return "bool"
}

// refuse adds each refusal to fs as a hidden flag that the environment does not set.
func refuse(fs *pflag.FlagSet, refusals ...refusal) {
	for _, r := range refusals {
		f := fs.VarPF(refusedValue{r}, r.long, r.short, r.why)
		if !r.value {
			f.NoOptDefVal = "true"
		}
		f.Hidden = true
		skipEnv(fs, r.long)
	}
}

// refusalOf is the refusal behind flag f, if it is one.
func refusalOf(f *pflag.Flag) (refusal, bool) {
	v, ok := f.Value.(refusedValue)
	return v.r, ok
}

// basebackupRefusals are pg_basebackup's flags that pgpull backup does not take, and its own old
// --debug.
func basebackupRefusals() []refusal {
	return []refusal{
		{"target", "t", true, "pgpull writes the backup to DEST: a directory, - for stdout, or s3://BUCKET/PREFIX"},
		{"waldir", "", true, "pg_wal goes inside DEST; move it afterwards and leave a symlink in its place"},
		{"no-clean", "n", false, "a failed backup removes what it wrote; a plain backup that was killed is completed by --refresh"},
		{"no-slot", "", false, "pgpull makes a temporary slot only when the role has REPLICATION, and drops it at the end; it needs no --no-slot"},
		{"status-interval", "s", true, "pgpull streams no WAL over replication; --wal-interval sets how often it looks at pg_wal"},
		{"manifest-force-encode", "", false, "backup_manifest hex-encodes only names that are not UTF-8, as pg_basebackup does by default"},
		{"sync-method", "", true, "pgpull fsyncs each file it wrote; --no-sync turns that off"},
		{"version", "V", false, "pgpull --version prints it"},
		renamedDebug(),
	}
}

// renamedDebug is pgpull's own --debug of old, now --show-sql: -d became the connection string.
func renamedDebug() refusal {
	return refusal{"debug", "", false, "it is --show-sql now; -d is the connection string, as in pg_basebackup"}
}

// receivewalRefusals are pg_receivewal's flags that pgpull wal does not take, and its own old
// --debug.
func receivewalRefusals() []refusal {
	return []refusal{
		{"create-slot", "", false, "--slot NAME creates the slot when it is absent and goes on copying"},
		{"drop-slot", "", false, "drop a slot with SELECT pg_drop_replication_slot('NAME') once its feed is retired"},
		{"if-not-exists", "", false, "--slot NAME creates the slot only when it is absent"},
		{"endpos", "E", true, "pgpull wal copies until it is interrupted"},
		{"no-loop", "n", false, "pgpull wal stops at a lost connection; run it under a supervisor that restarts it"},
		{"no-sync", "", false, "pgpull wal flushes every segment before it counts as copied"},
		{"status-interval", "s", true, "pgpull wal streams nothing over replication; --interval sets how often it looks at pg_wal"},
		{"synchronous", "", false, "pgpull wal copies finished segments and the one being written; it is no synchronous standby"},
		{"version", "V", false, "pgpull --version prints it"},
		renamedDebug(),
	}
}
