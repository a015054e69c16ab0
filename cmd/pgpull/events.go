package main

import (
	"encoding/json"
	"time"

	"github.com/pgpull/pgpull/backup"
)

// event is one line of --events before the summary: at each phase change ("phase") and about
// every second in between ("progress").
type event struct {
	Type        string    `json:"type"`
	Schema      int       `json:"schema_version"`
	Time        time.Time `json:"time"`
	Phase       string    `json:"phase"`
	BytesDone   int64     `json:"bytes_done"`
	BytesTotal  int64     `json:"bytes_total"`
	Files       int64     `json:"files"`
	WALSegments int64     `json:"wal_segments"`
	// BytesPerSecond counts from the first byte copied; ETASeconds is left out while unknown.
	BytesPerSecond float64  `json:"bytes_per_second"`
	ETASeconds     *float64 `json:"eta_seconds,omitempty"`
	// ComparedBytes and MovedBytes, for --refresh only, count as the summary's do.
	ComparedBytes int64 `json:"compared_bytes,omitempty"`
	MovedBytes    int64 `json:"moved_bytes,omitempty"`
	// Jobs and JobsReason, for -j auto only, are its last decision: the fetch connections from
	// then on and why.
	Jobs       int    `json:"jobs,omitempty"`
	JobsReason string `json:"jobs_reason,omitempty"`
	// BlocksExamined and BlocksSent, for --incremental-from only, count as the summary's do.
	BlocksExamined int64 `json:"blocks_examined,omitempty"`
	BlocksSent     int64 `json:"blocks_sent,omitempty"`
}

// observe writes an event for p; the run calls it from one goroutine.
func (m *machineOutput) observe(p backup.Progress) {
	if m.eventsTo == nil {
		return
	}
	e := progressEvent(p, time.Now())
	if p.Phase != m.lastPhase {
		e.Type, m.lastPhase = "phase", p.Phase
	}
	line, _ := json.Marshal(e)
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.eventsTo.Write(append(line, '\n'))
}

// progressEvent is p as an event at now, with the rate and the time left derived.
func progressEvent(p backup.Progress, now time.Time) event {
	e := event{Type: "progress", Schema: reportSchema, Time: now.UTC(), Phase: string(p.Phase), BytesDone: p.Done(),
		BytesTotal: p.Total, Files: p.Files, WALSegments: p.WALSegments, Jobs: p.Jobs, JobsReason: p.JobsWhy,
		BlocksExamined: p.BlocksExamined, BlocksSent: p.BlocksSent}
	if p.Compared > 0 {
		e.ComparedBytes, e.MovedBytes = p.Compared, p.Received
	}
	if !p.Copying.IsZero() {
		if s := now.Sub(p.Copying).Seconds(); s > 0 && p.Done() > 0 {
			e.BytesPerSecond = round(float64(p.Done())/s, 0)
			eta := round(float64(p.Total-p.Done())/e.BytesPerSecond, 1)
			e.ETASeconds = &eta
		}
	}
	return e
}
