package session

import (
	"strings"
	"testing"
)

func TestCheckSupported(t *testing.T) {
	tests := []struct {
		name       string
		versionNum int
		walLevel   string
		want       string // "" for no error
	}{
		{"18", 180001, "replica", ""},
		{"15", 150018, "logical", ""},
		{"13.0", 130000, "replica", ""},
		{"12", 120022, "replica", "server version 12.22 is older than 13"},
		{"9.6", 90624, "replica", "server version 9.6.24 is older than 13"},
		{"wal_level minimal", 150018, "minimal", "wal_level is minimal"},
		{"old and minimal", 110000, "minimal", "older than 13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSupported(tt.versionNum, tt.walLevel)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckSupported(%d, %q) = %v, want nil", tt.versionNum, tt.walLevel, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("CheckSupported(%d, %q) = %v, want an error containing %q", tt.versionNum, tt.walLevel, err, tt.want)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestGrantsSQL(t *testing.T) {
	tests := []struct {
		major      int
		want, lack []string
	}{
		{15, []string{"pg_catalog.pg_backup_start(text, boolean) TO", "pg_catalog.pg_backup_stop(boolean) TO"}, []string{"pg_start_backup", "pg_read_all_settings"}},
		{18, []string{"pg_catalog.pg_backup_start(text, boolean) TO", "pg_catalog.pg_backup_stop(boolean) TO"}, []string{"pg_start_backup", "pg_read_all_settings"}},
		{13, []string{"pg_catalog.pg_start_backup(text, boolean, boolean) TO", "pg_catalog.pg_stop_backup(boolean, boolean) TO", "GRANT pg_read_all_settings TO"}, []string{"pg_backup_start"}},
		{14, []string{"pg_catalog.pg_start_backup(text, boolean, boolean) TO", "GRANT pg_read_all_settings TO"}, []string{"pg_backup_start"}},
	}
	for _, tt := range tests {
		sql := GrantsSQL(tt.major, "my db", `we"ird`)
		for _, w := range append(tt.want, `TO "we""ird";`, `ON DATABASE "my db"`, "\n\\connect \"my db\"\n", "\n-- ALTER ROLE \"we\"\"ird\" REPLICATION;\n",
			"pg_read_binary_file(text, bigint, bigint, boolean)", "pg_stat_file(text)", "pg_ls_dir(text, boolean, boolean)", "GRANT pg_read_all_stats TO") {
			if !strings.Contains(sql, w) {
				t.Errorf("%d: grants lack %q:\n%s", tt.major, w, sql)
			}
		}
		for _, l := range tt.lack {
			if strings.Contains(sql, l) {
				t.Errorf("%d: grants hold %q:\n%s", tt.major, l, sql)
			}
		}
	}
}
