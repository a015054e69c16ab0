package restore

import (
	"fmt"
	"strings"
	"time"
)

// Layouts --target-time takes: ISO 8601 with a T or a space, fractions of a second, and a zone
// as an offset (+02, +02:00, +0200) or Z. A time without a zone is in loc.
var (
	zonedLayouts = []string{
		"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z0700",
		"2006-01-02T15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999Z07",
	}
	localLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}
)

// ParseTargetTime reads --target-time. The time is written to recovery_target_time with its
// offset, so that the server stops at the instant checked here, whatever its own timezone.
func ParseTargetTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range zonedLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--target-time %q: write a time as 2026-05-01 14:30:00+02 (or with T, fractions of a second, Z; without a zone it is this host's local time)", s)
}

// formatTargetTime writes t as PostgreSQL reads a timestamp with time zone, to the microsecond
// it keeps.
func formatTargetTime(t time.Time) string {
	return t.Round(time.Microsecond).Format("2006-01-02 15:04:05.999999-07:00")
}
