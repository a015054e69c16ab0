package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/pgpull/pgpull/internal/catalog"
)

func listCommand(stdout io.Writer) *command {
	var asJSON, readStreams bool
	var s3 s3Flags
	fs := newFlags("pgpull list")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object")
	fs.BoolVar(&readStreams, "read-streams", false, "read compressed archives and S3 objects whole when what is listed is inside them (slow for large backups)")
	s3.add(fs)
	return &command{
		name:  "list",
		usage: "list [flags] DIR|FILE|s3://BUCKET/PREFIX",
		short: "list the backups and WAL archives in a place",
		long: "Lists the backups pgpull wrote in DIR (DIR itself, and the directories and stream files directly\n" +
			"in it), or under s3://BUCKET/PREFIX: each one's WAL span (start and stop LSN, timeline), stop\n" +
			"time, size, form, and whether it is incremental and on which backup listed; and the WAL each\n" +
			"directory `pgpull wal` keeps holds, per timeline, with any gap. What a compressed archive holds\n" +
			"inside (a stream's backup_manifest, a -F tar backup's backup_label) is read only with --read-streams.",
		flags: fs,
		run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return exitError{exitUsage, fmt.Errorf("list needs one place, a directory, a file or s3://BUCKET/PREFIX, got %d arguments", len(args))}
			}
			l, err := listLocation(ctx, args[0], s3, catalog.Options{ReadStreams: readStreams})
			if err != nil {
				return err
			}
			if asJSON {
				return writeListJSON(stdout, l)
			}
			writeListText(stdout, l)
			return nil
		},
	}
}

func listLocation(ctx context.Context, loc string, s3 s3Flags, opts catalog.Options) (*catalog.Listing, error) {
	switch scheme := schemeOf(loc); scheme {
	case "":
		return catalog.ListDir(ctx, loc, opts)
	case "s3":
		store, err := s3.open(ctx, loc)
		if err != nil {
			return nil, err
		}
		return catalog.ListObjects(ctx, store, loc, opts)
	default:
		return nil, unsupportedURL("the place to list", loc, scheme)
	}
}

// writeListText prints a table of the backups, then a line per WAL archive's timeline.
func writeListText(w io.Writer, l *catalog.Listing) {
	if len(l.Backups) == 0 && len(l.Archives) == 0 {
		fmt.Fprintln(w, "no backup and no WAL archive found")
		return
	}
	if len(l.Backups) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "BACKUP\tFORM\tSTART\tSTOP\tTL\tSTOPPED (UTC)\tSIZE\tKIND\tNOTE")
		for _, b := range l.Backups {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", b.Location, b.Form, lsnOrDash(b.StartLSN.String(), b.StopLSN != 0),
				lsnOrDash(b.StopLSN.String(), b.StopLSN != 0), b.Timeline, stopTime(b.StopTime), humanSize(b.Bytes), kind(b), b.Note)
		}
		tw.Flush()
	}
	for _, a := range l.Archives {
		for _, s := range a.Spans {
			fmt.Fprintf(w, "WAL archive %s: %s\n", a.Location, spanWords(s))
		}
	}
}

func lsnOrDash(s string, ok bool) string {
	if !ok {
		return "-"
	}
	return s
}

func stopTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// kind says full or incremental, and on what.
func kind(b catalog.Backup) string {
	switch {
	case !b.Incremental:
		return "full"
	case b.DependsOn != "":
		return "incremental on " + b.DependsOn
	case b.From != 0:
		return "incremental from " + b.From.String()
	}
	return "incremental"
}

// spanWords describes one timeline of a WAL archive.
func spanWords(s catalog.WALSpan) string {
	if s.Segments == 0 {
		return fmt.Sprintf("timeline %d, only %s", s.Timeline, s.Partial)
	}
	words := fmt.Sprintf("timeline %d, %s to %s (%s to %s), %d segments", s.Timeline, s.First, s.Last, s.Start, s.End, s.Segments)
	if len(s.Missing) > 0 {
		words += fmt.Sprintf("; %d missing, first %s: recovery stops there", len(s.Missing), s.Missing[0])
	}
	if s.Partial != "" {
		words += "; then " + s.Partial
	}
	return words
}

// listJSON is --json's object.
type listJSON struct {
	Backups  []backupJSON  `json:"backups"`
	Archives []archiveJSON `json:"wal_archives"`
}

type backupJSON struct {
	Location     string     `json:"location"`
	Form         string     `json:"form"`
	StartLSN     string     `json:"start_lsn,omitempty"`
	StopLSN      string     `json:"stop_lsn,omitempty"`
	Timeline     uint32     `json:"timeline,omitempty"`
	StartTime    string     `json:"start_time,omitempty"`
	StopTime     *time.Time `json:"stop_time,omitempty"`
	Files        int        `json:"files"`
	Bytes        int64      `json:"bytes"`
	Incremental  bool       `json:"incremental"`
	FromLSN      string     `json:"incremental_from_lsn,omitempty"`
	FromTimeline uint32     `json:"incremental_from_timeline,omitempty"`
	DependsOn    string     `json:"depends_on,omitempty"`
	Note         string     `json:"note,omitempty"`
}

type archiveJSON struct {
	Location string     `json:"location"`
	Spans    []spanJSON `json:"timelines"`
}

type spanJSON struct {
	Timeline uint32   `json:"timeline"`
	First    string   `json:"first_segment,omitempty"`
	Last     string   `json:"last_segment,omitempty"`
	Start    string   `json:"start_lsn,omitempty"`
	End      string   `json:"end_lsn,omitempty"`
	Segments int      `json:"segments"`
	Missing  []string `json:"missing_segments,omitempty"`
	Partial  string   `json:"partial,omitempty"`
}

func writeListJSON(w io.Writer, l *catalog.Listing) error {
	out := listJSON{Backups: []backupJSON{}, Archives: []archiveJSON{}}
	for _, b := range l.Backups {
		j := backupJSON{Location: b.Location, Form: b.Form, Timeline: b.Timeline, StartTime: b.StartTime, Files: b.Files, Bytes: b.Bytes,
			Incremental: b.Incremental, FromTimeline: b.FromTimeline, DependsOn: b.DependsOn, Note: b.Note}
		if b.StopLSN != 0 {
			j.StartLSN, j.StopLSN = b.StartLSN.String(), b.StopLSN.String()
		}
		if !b.StopTime.IsZero() {
			j.StopTime = &b.StopTime
		}
		if b.From != 0 {
			j.FromLSN = b.From.String()
		}
		out.Backups = append(out.Backups, j)
	}
	for _, a := range l.Archives {
		aj := archiveJSON{Location: a.Location}
		for _, s := range a.Spans {
			sj := spanJSON{Timeline: s.Timeline, First: s.First, Last: s.Last, Segments: s.Segments, Missing: s.Missing, Partial: s.Partial}
			if s.Segments > 0 {
				sj.Start, sj.End = s.Start.String(), s.End.String()
			}
			aj.Spans = append(aj.Spans, sj)
		}
		out.Archives = append(out.Archives, aj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
