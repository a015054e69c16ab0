package restore

import (
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/pgformat"
)

func TestRecoveryCheck(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	lsn := pgformat.LSN(0x3000060)
	tests := []struct {
		name string
		r    Recovery
		want string // "" for accepted
	}{
		{"nothing", Recovery{}, ""},
		{"archive to its end", Recovery{WALArchive: "/a"}, ""},
		{"time", Recovery{WALArchive: "/a", TargetTime: &at, TargetAction: "promote"}, ""},
		{"standby streaming", Recovery{Standby: true, PrimaryConninfo: "host=p"}, ""},
		{"two targets", Recovery{WALArchive: "/a", TargetTime: &at, TargetLSN: &lsn}, "give one recovery target"},
		{"target without archive", Recovery{TargetName: "x"}, "needs --wal-archive"},
		{"action without target", Recovery{WALArchive: "/a", TargetAction: "promote"}, "give one"},
		{"unknown action", Recovery{WALArchive: "/a", TargetName: "x", TargetAction: "resume"}, "use pause, promote or shutdown"},
		{"conninfo without standby", Recovery{PrimaryConninfo: "host=p"}, "add --standby"},
		{"s3 archive", Recovery{WALArchive: "s3://b/wal"}, "S3 archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.r.Check()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRecoverySettings(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 500000000, time.FixedZone("", 7200))
	lsn := pgformat.LSN(0x3000060)
	tests := []struct {
		name   string
		r      Recovery
		want   []string
		signal string
	}{
		{"archive and time", Recovery{WALArchive: "/srv/wal/", TargetTime: &at, TargetAction: "promote"}, []string{
			`restore_command = 'cp ''/srv/wal''/%f %p 2>/dev/null || cp ''/srv/wal''/%f.partial %p'`,
			`recovery_target_time = '2026-05-01 12:00:00.5+02:00'`,
			`recovery_target_action = 'promote'`,
		}, "recovery.signal"},
		{"quotes, backslash and percent in the archive's path", Recovery{WALArchive: `/srv/it's\100%`, TargetLSN: &lsn}, []string{
			`restore_command = 'cp ''/srv/it''\\''''s\\100%%''/%f %p 2>/dev/null || cp ''/srv/it''\\''''s\\100%%''/%f.partial %p'`,
			`recovery_target_lsn = '0/3000060'`,
		}, "recovery.signal"},
		{"standby", Recovery{Standby: true, PrimaryConninfo: "host=db1 password='x'"}, []string{
			`primary_conninfo = 'host=db1 password=''x'''`,
		}, "standby.signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Split(strings.TrimSpace(tt.r.settings(at)), "\n")
			if !strings.HasPrefix(got[0], "# added by pgpull restore") {
				t.Errorf("first line %q, want the comment saying who added them", got[0])
			}
			if strings.Join(got[1:], "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("settings:\n%s\nwant:\n%s", strings.Join(got[1:], "\n"), strings.Join(tt.want, "\n"))
			}
			if write, _ := tt.r.signal(); write != tt.signal {
				t.Errorf("signal %s, want %s", write, tt.signal)
			}
		})
	}
}
