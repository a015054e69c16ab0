package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/pgpull/pgpull/backup"
	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupAutoJobs runs -j auto where each connection is capped at 3 MB/s, so that every added
// connection raises the throughput, on a server with max_connections 17 whose other sessions hold
// four slots. pgpull must grow from 2 jobs, stop when adding one more would leave fewer than
// backup.DefaultTuning().AutoJobs.Spare connections free, never hold more than that, keep the bytes in flight
// within the budget of the jobs it runs, and produce a backup that verifies.
func TestBackupAutoJobs(t *testing.T) {
	const maxConnections, reserved, others = 17, 3, 4
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true, Conf: []string{
		fmt.Sprintf("max_connections = %d", maxConnections), fmt.Sprintf("superuser_reserved_connections = %d", reserved)}})
	ctx := context.Background()
	if err := src.Exec(ctx, `CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 150000) AS g`); err != nil {
		t.Fatal(err)
	}
	// The other sessions: three idle ones and the sampler, which counts the server's client
	// backends every 10 ms for as long as the backup runs.
	var conns []*pgx.Conn
	for range others {
		c, err := pgx.Connect(ctx, src.DSN())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		defer c.Close(ctx)
	}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var most, samples int
	var sampled sync.WaitGroup
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		for sampleCtx.Err() == nil {
			var n int
			if err := conns[0].QueryRow(sampleCtx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'`).Scan(&n); err == nil {
				most, samples = max(most, n), samples+1
			}
			time.Sleep(10 * time.Millisecond) // the sampling period, not a wait on a condition
		}
	}()

	shaper := startShaper(t, fmt.Sprintf("127.0.0.1:%d", src.Port), 3000)
	host, port, _ := strings.Cut(shaper, ":")
	dsn := fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable", host, port)
	dest, summaryFile := filepath.Join(t.TempDir(), "copy"), filepath.Join(t.TempDir(), "summary.json")
	code, stderr := runCLI(t, nil, "backup", "-j", "auto", "-v", "-c", "fast", "--range-size", "1MB", "--summary", summaryFile, dsn, dest)
	stopSampling()
	sampled.Wait()
	if code != 0 {
		t.Fatalf("backup -j auto: exit %d: %s", code, stderr)
	}

	sum := readJobsSummary(t, summaryFile)
	// 17 - 3 reserved - 4 others - control, lister, WAL scanner and a WAL re-read = 6 free for
	// jobs; 3 stay free.
	wantJobs := int(maxConnections - reserved - others - 4 - backup.DefaultTuning().AutoJobs.Spare)
	if sum.Jobs != wantJobs || !strings.Contains(sum.JobsReason, "free connections") {
		t.Errorf("summary: -j auto settled at %d jobs (%q); want %d, stopped by the free connections", sum.Jobs, sum.JobsReason, wantJobs)
	}
	if !regexp.MustCompile(`(?m)^pgpull: -j auto: 2 jobs fetched [0-9.]+ MB/s; trying 3$`).MatchString(stderr) {
		t.Errorf("-v does not show the step from 2 jobs to 3:\n%s", stderr)
	}
	if limit := maxConnections - reserved - backup.DefaultTuning().AutoJobs.Spare; most > limit || samples == 0 {
		t.Errorf("the server had up to %d client backends in %d samples; -j auto may take it to %d", most, samples, limit)
	}
	peak, granted, bound := budgetOf(t, stderr)
	if granted != 2*int64(wantJobs)<<20 || bound != 2*int64(backup.DefaultTuning().AutoJobs.Max)<<20 {
		t.Errorf("memory budget: peak %d, granted %d, bound %d; want granted = %d (2 ranges of 1 MB a job), bound %d",
			peak, granted, bound, 2*wantJobs<<20, 2*backup.DefaultTuning().AutoJobs.Max<<20)
	}
	if v := pgpullVerify(t, nil, dest); v.code != 0 {
		t.Errorf("pgpull verify: exit %d: %s", v.code, v.stderr)
	}
	checkServerClean(t, src)
}

// startShaper puts a proxy in front of upstream that caps each connection at kBps kB/s from the
// server to the client, and returns its address.
func startShaper(t *testing.T, upstream string, kBps int) string {
	t.Helper()
	zerolog.SetGlobalLevel(zerolog.ErrorLevel)
	listen, err := testcluster.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p := toxiproxy.NewProxy(toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()), "autojobs", listen, upstream)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	toxic := fmt.Sprintf(`{"name":"cap","type":"bandwidth","stream":"downstream","attributes":{"rate":%d}}`, kBps)
	if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
		t.Fatal(err)
	}
	return p.Listen
}

// TestBackupAutoJobsDropsBack runs -j auto where each connection is capped at 3 MB/s and all of
// them together at 7.5 MB/s (-r), so that the throughput stops rising after 3 jobs: pgpull must
// settle by going back from the count that did not raise it by 10% to the one before, say so in
// -v, in the summary and in the progress events, stay within its memory budget and bound, and
// produce a backup that verifies.
func TestBackupAutoJobsDropsBack(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	ctx := context.Background()
	if err := src.Exec(ctx, `CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 300000) AS g`); err != nil {
		t.Fatal(err)
	}
	shaper := startShaper(t, fmt.Sprintf("127.0.0.1:%d", src.Port), 3000)
	host, port, _ := strings.Cut(shaper, ":")
	dsn := fmt.Sprintf("host=%s port=%s user=postgres dbname=postgres sslmode=disable", host, port)
	base := t.TempDir()
	dest, summaryFile, events := filepath.Join(base, "copy"), filepath.Join(base, "summary.json"), filepath.Join(base, "events.jsonl")
	code, stderr := runCLI(t, nil, "backup", "-j", "auto", "-v", "-c", "fast", "--range-size", "1MB", "-r", "7500k",
		"--events", events, "--summary", summaryFile, dsn, dest)
	if code != 0 {
		t.Fatalf("backup -j auto: exit %d: %s", code, stderr)
	}

	// The last count tried, and the one it went back to.
	tried := regexp.MustCompile(`(?m)^pgpull: -j auto: .*; trying (\d+)$`).FindAllStringSubmatch(stderr, -1)
	settled := regexp.MustCompile(`(?m)^pgpull: -j auto: settled at (\d+) jobs fetched .*, (\d+) fetched .*: no more than 10% more, so back to (\d+)$`).FindStringSubmatch(stderr)
	if len(tried) == 0 || settled == nil {
		t.Fatalf("-v shows no step up followed by a drop back:\n%s", stderr)
	}
	last, _ := strconv.Atoi(tried[len(tried)-1][1])
	back, _ := strconv.Atoi(settled[3])
	if settled[1] != strconv.Itoa(last) || settled[2] != strconv.Itoa(back) || back >= last {
		t.Errorf("-v: tried %d last, then settled %q; want it to go from %d back to the count before", last, settled[0], last)
	}

	var sum struct {
		Jobs       int    `json:"jobs"`
		JobsReason string `json:"jobs_reason"`
	}
	raw, err := os.ReadFile(summaryFile)
	if err != nil || json.Unmarshal(raw, &sum) != nil {
		t.Fatalf("summary: %v\n%s", err, raw)
	}
	if sum.Jobs != back || !strings.HasSuffix(sum.JobsReason, fmt.Sprintf("so back to %d", back)) {
		t.Errorf("summary: jobs %d (%q); want %d and the drop back as the reason", sum.Jobs, sum.JobsReason, back)
	}
	// The progress events carry each decision as it is taken: the start, every count tried, the drop back.
	seen := map[float64]bool{}
	for _, l := range readEvents(t, events) {
		if l.fields["type"] == "progress" {
			if j, ok := l.fields["jobs"].(float64); ok && l.fields["jobs_reason"] != "" {
				seen[j] = true
			}
		}
	}
	if !seen[float64(last)] || !seen[float64(back)] {
		t.Errorf("progress events show -j auto at %v; want %d (tried) and %d (settled) among them", seen, last, back)
	}

	if _, granted, _ := budgetOf(t, stderr); granted != 2*int64(last)<<20 {
		t.Errorf("memory budget granted %d; want %d (2 ranges of 1 MB for each of the %d jobs it ran at most)", granted, 2*last<<20, last)
	}
	if v := pgpullVerify(t, nil, dest); v.code != 0 {
		t.Errorf("pgpull verify: exit %d: %s", v.code, v.stderr)
	}
	checkServerClean(t, src)
}

// budgetOf reads -v's memory budget line and holds it to what a user relies on: the peak of bytes
// in flight never above what was granted, nor that above the bound.
func budgetOf(t *testing.T, stderr string) (peak, granted, bound int64) {
	t.Helper()
	m := regexp.MustCompile(`memory budget peak (\d+) of (\d+) bytes granted, bound (\d+)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("-v does not show the memory budget:\n%s", stderr)
	}
	peak, _ = strconv.ParseInt(m[1], 10, 64)
	granted, _ = strconv.ParseInt(m[2], 10, 64)
	bound, _ = strconv.ParseInt(m[3], 10, 64)
	if peak <= 0 || peak > granted || granted > bound {
		t.Errorf("memory budget: peak %d, granted %d, bound %d; want 0 < peak <= granted <= bound", peak, granted, bound)
	}
	return peak, granted, bound
}

// jobsSummary is what --summary says of -j auto.
type jobsSummary struct {
	Jobs       int    `json:"jobs"`
	JobsReason string `json:"jobs_reason"`
}

func readJobsSummary(t *testing.T, path string) jobsSummary {
	t.Helper()
	var sum jobsSummary
	raw, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(raw, &sum) != nil {
		t.Fatalf("summary: %v\n%s", err, raw)
	}
	return sum
}
