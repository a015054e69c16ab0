package walfeed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// TestNeedsOfBackup reads where a backup starts from each form --from-backup takes: a plain
// backup's directory or its backup_label, -F tar output's directory or its backup_manifest.
func TestNeedsOfBackup(t *testing.T) {
	label := "START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\nCHECKPOINT LOCATION: 0/5000060\n"
	m := manifest.New(2, 7, manifest.CRC32C)
	m.AddWALRange(1, 0x7000028, 0x7000100)
	plain, tars, empty := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(plain, "backup_label"), []byte(label))
	write(filepath.Join(tars, "backup_manifest"), m.Bytes())
	tests := []struct {
		path    string
		want    pgformat.LSN
		wantErr string
	}{
		{plain, 0x5000028, ""},
		{filepath.Join(plain, "backup_label"), 0x5000028, ""},
		{tars, 0x7000028, ""},
		{filepath.Join(tars, "backup_manifest"), 0x7000028, ""},
		{empty, 0, "holds neither backup_label nor backup_manifest"},
		{filepath.Join(empty, "absent"), 0, "no such file"},
	}
	for _, tt := range tests {
		needs, err := NeedsOfBackup(tt.path)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %v; want an error saying %q", tt.path, err, tt.wantErr)
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.path, err)
		case tt.wantErr == "" && (needs.From != tt.want || !strings.Contains(needs.What, tt.path)):
			t.Errorf("%s: %+v; want from %s, named by its path", tt.path, needs, tt.want)
		}
	}
}
