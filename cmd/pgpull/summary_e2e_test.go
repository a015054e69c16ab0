package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestBackupSummaryAndEvents takes a rate-capped backup with --events and --summary and holds the
// JSON to what the backup holds: every event line parses, bytes only rise, the phases come in
// order, the last line is the summary, and the summary's LSNs, counts and checksum match
// backup_label, backup_manifest and the bytes written.
func TestBackupSummaryAndEvents(t *testing.T) {
	src := clusterWith46MB(t)
	base := t.TempDir()

	t.Run("plain", func(t *testing.T) {
		dest, events, summaryFile := filepath.Join(base, "copy"), filepath.Join(base, "events.jsonl"), filepath.Join(base, "summary.json")
		// About 4 s at 10 MB/s: several progress events during the copy.
		code, stderr := runCLI(t, nil, "backup", "-c", "fast", "-r", "10M", "--events", events, "--summary", summaryFile, src.DSN(), dest)
		if code != 0 {
			t.Fatalf("backup: exit %d: %s", code, stderr)
		}
		lines := readEvents(t, events)
		sumBytes, err := os.ReadFile(summaryFile)
		if err != nil {
			t.Fatal(err)
		}
		if last := lines[len(lines)-1]; last.raw != strings.TrimSuffix(string(sumBytes), "\n") {
			t.Errorf("last event\n%s\nis not the summary\n%s", last.raw, sumBytes)
		}
		sum := lines[len(lines)-1].fields
		checkSummaryAgainstBackup(t, sum, dest)
		total, err := treeSize(dest)
		mf, merr := os.Stat(filepath.Join(dest, "backup_manifest"))
		if err != nil || merr != nil {
			t.Fatal(err, merr)
		}
		if got := num(sum, "bytes") + num(sum, "wal_bytes"); got != total-mf.Size() {
			t.Errorf("summary: bytes + wal_bytes = %d; the files written besides backup_manifest hold %d", got, total-mf.Size())
		}
		if num(sum, "output_bytes") != total {
			t.Errorf("summary: output_bytes %d; DEST holds %d", num(sum, "output_bytes"), total)
		}
		checkServerClean(t, src)
	})

	t.Run("stream, events to a descriptor", func(t *testing.T) {
		var stdout bytes.Buffer
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		// -r as above: an unhurried copy on an idle machine ends before the first progress event.
		cmd := exec.Command(buildPgpull(t), "backup", "-c", "fast", "-r", "10M", "-Z", "gzip:1", src.DSN(), "-", "--events", "3", "--summary", "-")
		cmd.Stdout, cmd.ExtraFiles = &stdout, []*os.File{w}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		var events bytes.Buffer
		_, _ = events.ReadFrom(r)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("backup: %v\n%s", err, stderr.String())
		}
		path := filepath.Join(base, "stream-events.jsonl")
		if err := os.WriteFile(path, events.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		lines := readEvents(t, path)
		sum := lines[len(lines)-1].fields
		if !strings.Contains(stderr.String(), lines[len(lines)-1].raw) {
			t.Errorf("--summary - did not put the summary on stderr:\n%s", stderr.String())
		}
		if got := num(sum, "output_bytes"); got != int64(stdout.Len()) {
			t.Errorf("summary: output_bytes %d; stdout got %d", got, stdout.Len())
		}
		if sum["compression"] != "gzip:1" || sum["compression_ratio"].(float64) <= 1 {
			t.Errorf("summary: compression %v, ratio %v; want gzip:1 and more than 1", sum["compression"], sum["compression_ratio"])
		}
		restored := filepath.Join(base, "stream-restored")
		zr, err := gzip.NewReader(bytes.NewReader(stdout.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := testcluster.ExtractTar(zr, restored); err != nil {
			t.Fatal(err)
		}
		checkSummaryAgainstBackup(t, sum, restored)
	})
}

type eventLine struct {
	raw    string
	fields map[string]any
}

// readEvents parses the events file line by line and checks what holds for every stream:
// a schema version on each line, bytes that never fall, phases in order, a summary last.
func readEvents(t *testing.T, path string) []eventLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []eventLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("event line %d does not parse: %v\n%s", len(lines)+1, err, sc.Text())
		}
		lines = append(lines, eventLine{sc.Text(), m})
	}
	if len(lines) < 3 {
		t.Fatalf("%d event lines; want phase changes, progress and the summary", len(lines))
	}
	order := []string{"checkpoint", "copy", "stop", "wal", "done"}
	var phases []string
	var prev int64
	progressMidCopy := false
	for i, l := range lines {
		if l.fields["schema_version"] != 1.0 {
			t.Errorf("line %d: schema_version %v, want 1", i+1, l.fields["schema_version"])
		}
		if i == len(lines)-1 {
			if l.fields["type"] != "summary" || l.fields["status"] != "ok" {
				t.Errorf("last line is not an ok summary: %s", l.raw)
			}
			break
		}
		done := num(l.fields, "bytes_done")
		if done < prev {
			t.Errorf("line %d: bytes_done %d fell from %d", i+1, done, prev)
		}
		prev = done
		if total := num(l.fields, "bytes_total"); done > total {
			t.Errorf("line %d: bytes_done %d above bytes_total %d", i+1, done, total)
		}
		switch l.fields["type"] {
		case "phase":
			phases = append(phases, l.fields["phase"].(string))
		case "progress":
			progressMidCopy = progressMidCopy || l.fields["phase"] == "copy" && done > 0 && l.fields["eta_seconds"] != nil
		default:
			t.Errorf("line %d: type %v", i+1, l.fields["type"])
		}
	}
	if strings.Join(phases, ",") != strings.Join(order, ",") {
		t.Errorf("phases %v; want %v", phases, order)
	}
	if !progressMidCopy {
		t.Errorf("no progress event with bytes and an ETA during the copy")
	}
	sum := lines[len(lines)-1].fields
	if last := lines[len(lines)-2].fields; num(last, "bytes_done") != num(sum, "bytes")+num(sum, "wal_bytes") {
		t.Errorf("the done event's bytes_done %d is not the summary's bytes + wal_bytes", num(last, "bytes_done"))
	}
	return lines
}

// checkSummaryAgainstBackup holds the summary to the backup extracted or written in dir.
func checkSummaryAgainstBackup(t *testing.T, sum map[string]any, dir string) {
	t.Helper()
	label, err := os.ReadFile(filepath.Join(dir, "backup_label"))
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile(`START WAL LOCATION: (\S+)`).FindSubmatch(label)
	if start == nil || sum["start_lsn"] != string(start[1]) {
		t.Errorf("summary start_lsn %v; backup_label says %q", sum["start_lsn"], start)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "backup_manifest"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Files     []struct{ Size int64 }
		WALRanges []struct {
			Timeline float64
			StartLSN string `json:"Start-LSN"`
			EndLSN   string `json:"End-LSN"`
		} `json:"WAL-Ranges"`
		Checksum string `json:"Manifest-Checksum"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.WALRanges) != 1 || sum["stop_lsn"] != m.WALRanges[0].EndLSN || sum["start_lsn"] != m.WALRanges[0].StartLSN ||
		sum["timeline"] != m.WALRanges[0].Timeline {
		t.Errorf("summary LSNs %v to %v on timeline %v; manifest WAL ranges %+v", sum["start_lsn"], sum["stop_lsn"], sum["timeline"], m.WALRanges)
	}
	if num(sum, "files") != int64(len(m.Files)) || sum["manifest_checksum"] != m.Checksum {
		t.Errorf("summary: %d files, manifest checksum %v; the manifest lists %d, checksum %s", num(sum, "files"), sum["manifest_checksum"], len(m.Files), m.Checksum)
	}
	var listed int64
	for _, f := range m.Files {
		listed += f.Size
	}
	if num(sum, "bytes") != listed {
		t.Errorf("summary: bytes %d; the manifest's files hold %d", num(sum, "bytes"), listed)
	}
	for _, k := range []string{"pgpull_version", "server_version", "started_at", "finished_at"} {
		if s, _ := sum[k].(string); s == "" {
			t.Errorf("summary lacks %s", k)
		}
	}
	if num(sum, "wal_segments") < 1 || sum["bytes_per_second"].(float64) <= 0 || sum["checksum_failures"] != 0.0 {
		t.Errorf("summary: %v WAL segments, %v bytes/s, %v checksum failures", sum["wal_segments"], sum["bytes_per_second"], sum["checksum_failures"])
	}
}

func num(m map[string]any, k string) int64 {
	v, _ := m[k].(float64)
	return int64(v)
}
