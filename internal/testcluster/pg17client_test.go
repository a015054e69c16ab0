package testcluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPG17ClientBin: the environment variable wins, and one naming a directory without the
// programs is an error saying how to get them, never a fallback to another copy.
func TestPG17ClientBin(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(PG17ClientEnv, dir)
	if _, err := PG17ClientBin(); err == nil || !strings.Contains(err.Error(), ".ci/pg17-client") {
		t.Fatalf("err = %v, want one naming .ci/pg17-client", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pg_combinebackup"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := PG17ClientBin(); err != nil || got != dir {
		t.Fatalf("= %q, %v; want %q", got, err, dir)
	}
}
