package main

import (
	"slices"
	"testing"
)

// TestFixedCostRows: the wall time of a tool that streams splits into the time to its first
// byte, from its last byte to the exit, and the stream between, whose rate is the databases' MB
// over it; tools that write no stream, and configurations with no successful run, get no row.
func TestFixedCostRows(t *testing.T) {
	sums := []summary{
		{Config: "pgpull -j4", Runs: 3, WallSec: 1.25, FirstByteSec: 0.2, TailSec: 0.05},
		{Config: "pgbackrest p=4", Runs: 3, WallSec: 2},
		{Config: "pgpull -j8", Failures: 3},
		{Config: "pg_basebackup", Runs: 3, WallSec: 0.3, FirstByteSec: 0.2, TailSec: 0.1},
	}
	got := fixedCostRows(sums, 1e9)
	want := [][]string{{"pgpull -j4", "0.200", "0.050", "1000"}, {"pg_basebackup", "0.200", "0.100", "-"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rows %q, want %q", got, want)
	}
}
