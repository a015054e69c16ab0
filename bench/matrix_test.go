package main

import (
	"slices"
	"strings"
	"testing"
)

func TestInterleaveIsRoundRobin(t *testing.T) {
	got := interleave(3, 2)
	want := []trial{{0, 1}, {1, 1}, {2, 1}, {0, 2}, {1, 2}, {2, 2}}
	if !slices.Equal(got, want) {
		t.Errorf("interleave(3, 2) = %v, want %v", got, want)
	}
	if len(interleave(0, 3)) != 0 {
		t.Error("no configs should mean no trials")
	}
}

func TestMatrixConfigs(t *testing.T) {
	m := matrixSpec{
		pgpull: true, jobs: []int{1, 4}, rangeSizes: []string{"8MB"}, walChecks: []bool{true},
		comps:      []compression{{algo: "none"}, {algo: "gzip", level: 1}},
		basebackup: true, pgbackrest: true, pgbackrestJobs: []int{2}, tar: true,
	}
	var names []string
	for _, c := range m.configs() {
		names = append(names, c.name())
	}
	want := []string{
		"pgpull -j1 r=8MB none", "pgpull -j4 r=8MB none", "pg_basebackup none", "pgbackrest p=2 none",
		"pgpull -j1 r=8MB gzip:1", "pgpull -j4 r=8MB gzip:1", "pg_basebackup gzip:1", "pgbackrest p=2 gzip:1",
		"tar -c (ceiling)",
	}
	if !slices.Equal(names, want) {
		t.Errorf("configs:\n%q\nwant\n%q", names, want)
	}
}

// TestMatrixWALCheck: --wal-check on,off puts each pgpull cell in twice, the second without the
// check, so that its cost is measured in interleaved runs.
func TestMatrixWALCheck(t *testing.T) {
	m := matrixSpec{pgpull: true, jobs: []int{4}, rangeSizes: []string{"8MB"}, walChecks: []bool{true, false},
		comps: []compression{{algo: "none"}}}
	var got []string
	for _, c := range m.configs() {
		got = append(got, c.name()+": "+strings.Join(c.pgpullArgs(), " "))
	}
	want := []string{"pgpull -j4 r=8MB none: -Z none", "pgpull -j4 r=8MB none no-walcheck: -Z none --no-check-wal"}
	if !slices.Equal(got, want) {
		t.Errorf("configs %q, want %q", got, want)
	}
}

// TestMatrixServerCompression: pgpull's helper and pg_basebackup's server-side methods each run
// only where the tool has them, and nothing of the server's goes to pgBackRest.
func TestMatrixServerCompression(t *testing.T) {
	m := matrixSpec{
		pgpull: true, jobs: []int{8}, rangeSizes: []string{"8MB"}, walChecks: []bool{true},
		comps:      []compression{{algo: "none"}, {server: true}, {server: true, algo: "zstd", level: 1}},
		basebackup: true, pgbackrest: true, pgbackrestJobs: []int{2},
	}
	var names, args []string
	for _, c := range m.configs() {
		names = append(names, c.name())
		if c.tool == toolPgpull {
			args = append(args, strings.Join(c.comp.pgpullArgs(), " "))
		} else if c.tool == toolBasebackup {
			args = append(args, strings.Join(c.comp.basebackupArgs(), " "))
		}
	}
	want := []string{"pgpull -j8 r=8MB none", "pg_basebackup none", "pgbackrest p=2 none",
		"pgpull -j8 r=8MB server", "pg_basebackup server-zstd:1"}
	if !slices.Equal(names, want) {
		t.Errorf("configs:\n%q\nwant\n%q", names, want)
	}
	wantArgs := []string{"-Z none", "", "--server-compress -Z none", "--compress=server-zstd:1 --no-manifest"}
	if !slices.Equal(args, wantArgs) {
		t.Errorf("tool args %q, want %q", args, wantArgs)
	}
	if !m.serverCompress() {
		t.Error("a pgpull server config should ask for the helper")
	}
	if m.jobs = nil; m.serverCompress() {
		t.Error("no pgpull runs should need no helper")
	}
}

// TestMatrixLibzstd: the -tags libzstd build runs beside the default one for the client zstd
// compressions only, the one thing its tag changes; nothing else of the matrix moves.
func TestMatrixLibzstd(t *testing.T) {
	m := matrixSpec{
		pgpull: true, pgpullLibzstd: true, jobs: []int{2}, rangeSizes: []string{"8MB"}, walChecks: []bool{true},
		comps:      []compression{{algo: "none"}, {algo: "zstd", level: 1}, {algo: "zstd", level: 1, workers: 2}, {server: true, algo: "zstd", level: 1}},
		basebackup: true,
	}
	var names []string
	for _, c := range m.configs() {
		names = append(names, c.name())
	}
	want := []string{"pgpull -j2 r=8MB none", "pg_basebackup none",
		"pgpull -j2 r=8MB zstd:1", "pgpull-libzstd -j2 r=8MB zstd:1", "pg_basebackup zstd:1",
		"pg_basebackup zstd:1:workers=2", "pg_basebackup server-zstd:1"}
	if !slices.Equal(names, want) {
		t.Errorf("configs:\n%q\nwant\n%q", names, want)
	}
	if m.pgpull = false; len(m.configs()) != 5 {
		t.Errorf("pgpull-libzstd alone: %d configs, want its zstd:1 row and pg_basebackup's 4", len(m.configs()))
	}
}

func TestParseCompression(t *testing.T) {
	for in, want := range map[string]string{"none": "none", "gzip": "gzip:1", "gzip:6": "gzip:6", "zstd:3": "zstd:3",
		"server": "server", "server=lz4": "server=lz4", "server-auto": "server-auto", "server-lz4": "server-lz4:1", "server-zstd:1": "server-zstd:1", "server-gzip:3": "server-gzip:3"} {
		c, err := parseCompression(in)
		if err != nil || c.String() != want {
			t.Errorf("parseCompression(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	if c, _ := parseCompression("server-auto"); strings.Join(c.pgpullArgs(), " ") != "--server-compress=auto -Z none" || c.forBasebackup() {
		t.Errorf("server-auto: pgpull %q, for pg_basebackup %v; want --server-compress=auto -Z none, pgpull's alone", c.pgpullArgs(), c.forBasebackup())
	}
	if c, _ := parseCompression("server=lz4"); strings.Join(c.pgpullArgs(), " ") != "--server-compress=lz4 -Z none" || c.forBasebackup() {
		t.Errorf("server=lz4: pgpull %q, for pg_basebackup %v; want --server-compress=lz4 -Z none, pgpull's alone", c.pgpullArgs(), c.forBasebackup())
	}
	for _, bad := range []string{"", "lz4", "gzip:0", "gzip:10", "zstd:x", "none:1", "server-none", "server-zstd:0", "server:1", "server=gzip"} {
		if _, err := parseCompression(bad); err == nil {
			t.Errorf("parseCompression(%q) accepted", bad)
		}
	}
	z := compression{algo: "zstd", level: 1}
	if got := z.basebackupArgs(); !slices.Equal(got, []string{"--compress=client-zstd:1"}) {
		t.Errorf("pg_basebackup args %q", got)
	}
	if got := z.pgbackrestArgs(); !slices.Equal(got, []string{"--compress-type=zst", "--compress-level=1"}) {
		t.Errorf("pgbackrest args %q", got)
	}
}

func TestParseIntList(t *testing.T) {
	got, err := parseIntList(" 1,2, 4,8 ")
	if err != nil || !slices.Equal(got, []int{1, 2, 4, 8}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"1,x", "0", "-2"} {
		if _, err := parseIntList(bad); err == nil {
			t.Errorf("parseIntList(%q) accepted", bad)
		}
	}
}

// TestMatrixAutoJobsAndZstdWorkers: --jobs auto runs pgpull -j auto and no pgBackRest cell, and
// zstd:1:workers=2 is a pg_basebackup row only, passed as client-zstd's workers option.
func TestMatrixAutoJobsAndZstdWorkers(t *testing.T) {
	if jobs, err := parseJobsList("2,auto,default"); err != nil || !slices.Equal(jobs, []int{2, jobsAuto, jobsDefault}) ||
		jobsFlag(jobsDefault) != nil || !slices.Equal(jobsFlag(jobsAuto), []string{"-j", "auto"}) {
		t.Fatalf("parseJobsList(2,auto,default) = %v, %v; flags %q %q", jobs, err, jobsFlag(jobsAuto), jobsFlag(jobsDefault))
	}
	jobs, err := parseJobsList("2,auto")
	if err != nil || !slices.Equal(jobs, []int{2, 0}) {
		t.Fatalf("parseJobsList(2,auto) = %v, %v", jobs, err)
	}
	workers, err := parseCompression("zstd:1:workers=2")
	if err != nil {
		t.Fatal(err)
	}
	m := matrixSpec{
		pgpull: true, jobs: jobs, rangeSizes: []string{"8MB"}, walChecks: []bool{true},
		comps:      []compression{{algo: "none"}, workers},
		basebackup: true, pgbackrest: true, pgbackrestJobs: jobs,
	}
	var names []string
	for _, c := range m.configs() {
		names = append(names, c.name())
	}
	want := []string{"pgpull -j2 r=8MB none", "pgpull -jauto r=8MB none", "pg_basebackup none", "pgbackrest p=2 none",
		"pg_basebackup zstd:1:workers=2"}
	if !slices.Equal(names, want) {
		t.Errorf("configs:\n%q\nwant\n%q", names, want)
	}
	if got := strings.Join(workers.basebackupArgs(), " "); got != "--compress=client-zstd:level=1,workers=2" {
		t.Errorf("pg_basebackup args %q", got)
	}
	if _, err := parseCompression("zstd:1:workers=0"); err == nil {
		t.Error("zstd:1:workers=0 accepted")
	}
}
