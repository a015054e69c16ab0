package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/pgpull/pgpull/backup"
	"github.com/pgpull/pgpull/internal/session"
)

// reportSchema versions the JSON objects of --summary and --events; docs/events.md describes
// them. A new field does not change it; a field renamed, removed or given another meaning does.
const reportSchema = 1

// summary is --summary's object and --events' last line.
type summary struct {
	Type          string `json:"type"` // "summary"
	Schema        int    `json:"schema_version"`
	Status        string `json:"status"` // "ok", "failed" or "interrupted"
	Error         string `json:"error,omitempty"`
	PgpullVersion string `json:"pgpull_version"`
	ServerVersion string `json:"server_version,omitempty"`

	StartLSN string `json:"start_lsn,omitempty"`
	StopLSN  string `json:"stop_lsn,omitempty"`
	Timeline uint32 `json:"timeline,omitempty"`

	Files       int64  `json:"files"`
	Bytes       int64  `json:"bytes"`
	WALSegments int64  `json:"wal_segments"`
	WALBytes    int64  `json:"wal_bytes"`
	Format      string `json:"format"`
	Compression string `json:"compression"`
	// ServerCompress is the codec --server-compress's helper used on the server; absent without it.
	ServerCompress string `json:"server_compress,omitempty"`
	// OutputBytes is what reached DEST: compressed, with tar headers and backup_manifest.
	OutputBytes      int64   `json:"output_bytes"`
	CompressionRatio float64 `json:"compression_ratio,omitempty"`

	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	CopySeconds     float64   `json:"copy_seconds"`
	BytesPerSecond  float64   `json:"bytes_per_second"`

	// Jobs and JobsReason are the fetch connections -j auto settled on and why; absent for a fixed -j.
	Jobs       int    `json:"jobs,omitempty"`
	JobsReason string `json:"jobs_reason,omitempty"`

	ChecksumFailures int    `json:"checksum_failures"`
	ManifestChecksum string `json:"manifest_checksum,omitempty"`

	Refresh     *refreshSummary     `json:"refresh,omitempty"`
	Incremental *incrementalSummary `json:"incremental,omitempty"`
}

// incrementalSummary is what --incremental-from adds to the summary: how the changed blocks were
// found, the relation blocks looked at and sent (a file sent whole sends all its blocks), and the
// files sent whole and as INCREMENTAL files.
type incrementalSummary struct {
	Method           string `json:"method"`
	BlocksExamined   int64  `json:"blocks_examined"`
	BlocksSent       int64  `json:"blocks_sent"`
	FilesWhole       int64  `json:"files_whole"`
	FilesIncremental int64  `json:"files_incremental"`
}

// refreshSummary is what --refresh adds to the summary.
type refreshSummary struct {
	ComparedBytes int64 `json:"compared_bytes"`
	MovedBytes    int64 `json:"moved_bytes"`
	RemovedFiles  int64 `json:"removed_files"`
}

// machineOutput writes --summary and --events.
type machineOutput struct {
	summaryTo, eventsTo io.Writer
	closers             []io.Closer
	mu                  sync.Mutex // events come from the run's reporter and from close
	sum                 summary
	lastPhase           backup.Phase
}

// openMachineOutput opens what --summary and --events name: "-" is stderr, a number an open file
// descriptor (for --events), anything else a file created afresh.
func openMachineOutput(summaryArg, eventsArg string, stderr io.Writer, format, compression string) (*machineOutput, error) {
	m := &machineOutput{sum: summary{Type: "summary", Schema: reportSchema, PgpullVersion: versionLine(buildInfo()),
		Format: format, Compression: compression, StartedAt: time.Now()}}
	open := func(flag, arg string, fdOK bool) (io.Writer, error) {
		switch {
		case arg == "":
			return nil, nil
		case arg == "-":
			return stderr, nil
		}
		if fd, err := strconv.Atoi(arg); err == nil && fdOK {
			f := os.NewFile(uintptr(fd), "fd "+arg)
			if _, err := f.Stat(); err != nil {
				return nil, fmt.Errorf("%s %s: no such open file descriptor: open it in the shell, as %s 3 3>events.jsonl", flag, arg, flag)
			}
			return f, nil
		}
		f, err := os.OpenFile(arg, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		m.closers = append(m.closers, f)
		return f, nil
	}
	var err error
	if m.summaryTo, err = open("--summary", summaryArg, false); err != nil {
		return nil, err
	}
	if m.eventsTo, err = open("--events", eventsArg, true); err != nil {
		m.closeFiles()
		return nil, err
	}
	return m, nil
}

func (m *machineOutput) server(s session.Server, serverCodec string) {
	m.sum.ServerVersion = fmt.Sprintf("%d.%d", s.Major(), s.VersionNum%10000)
	m.sum.ServerCompress = serverCodec
}

// result records a finished run; outputBytes is what reached DEST.
func (m *machineOutput) result(res backup.Result, outputBytes int64) {
	s := &m.sum
	s.StartLSN, s.StopLSN, s.Timeline = res.Start.String(), res.Stop.String(), res.Timeline
	s.Files, s.Bytes, s.WALSegments, s.WALBytes = res.Files, res.Bytes, res.WALSegments, res.WALBytes
	s.OutputBytes = outputBytes
	if outputBytes > 0 {
		s.CompressionRatio = round(float64(res.Bytes+res.WALBytes)/float64(outputBytes), 3)
	}
	s.CopySeconds = round(res.Copying.Seconds(), 3)
	if res.Copying > 0 {
		s.BytesPerSecond = round(float64(res.Bytes+res.WALBytes)/res.Copying.Seconds(), 0)
	}
	s.Jobs, s.JobsReason = res.Jobs, res.JobsWhy
	s.ChecksumFailures = len(res.PageFailures)
	s.ManifestChecksum = res.ManifestChecksum
	if c := res.Changes; c.Method != "" {
		s.Incremental = &incrementalSummary{Method: c.Method, BlocksExamined: c.BlocksExamined, BlocksSent: c.BlocksSent,
			FilesWhole: c.FilesWhole, FilesIncremental: c.FilesIncremental}
	}
}

// refresh records what a refresh compared, moved and removed.
func (m *machineOutput) refresh(res backup.Result, removed int64) {
	m.sum.Refresh = &refreshSummary{ComparedBytes: res.Compared, MovedBytes: res.Received, RemovedFiles: removed}
}

// close writes the summary, to --summary and as the last event, for a run that ended with err.
func (m *machineOutput) close(err error, interrupted bool) {
	defer m.closeFiles()
	s := &m.sum
	s.Status = "ok"
	switch {
	case interrupted:
		s.Status, s.Error = "interrupted", "interrupted"
	case err != nil:
		s.Status, s.Error = "failed", oneLine(err.Error())
	}
	s.FinishedAt = time.Now()
	s.DurationSeconds = round(s.FinishedAt.Sub(s.StartedAt).Seconds(), 3)
	line, _ := json.Marshal(s)
	line = append(line, '\n')
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.summaryTo != nil {
		_, _ = m.summaryTo.Write(line)
	}
	if m.eventsTo != nil {
		_, _ = m.eventsTo.Write(line)
	}
}

func (m *machineOutput) closeFiles() {
	for _, c := range m.closers {
		_ = c.Close()
	}
	m.closers = nil
}

func round(v float64, digits int) float64 {
	p, err := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	if err != nil {
		return v
	}
	return p
}

// treeSize is the bytes of the regular files under dir: what a directory DEST received.
func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// countingWriter counts what passes to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
