package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// TestProgressDisplay runs backup -P with the tar stream on stdout: in a pseudo-terminal the bar
// shows a total, advances and ends at 100%; without a terminal it prints plain lines.
func TestProgressDisplay(t *testing.T) {
	src := clusterWith46MB(t)
	bin := buildPgpull(t)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	// About 8 s at 6 MB/s, so the display is drawn several times.
	args := []string{"backup", "-c", "fast", "-r", "6M", "-P", src.DSN(), "-"}

	t.Run("terminal", func(t *testing.T) {
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = devnull, tty
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		var screen bytes.Buffer
		_, _ = screen.ReadFrom(ptmx) // ends with EIO once the child has exited
		if err := cmd.Wait(); err != nil {
			t.Fatalf("backup -P: %v\n%s", err, screen.String())
		}
		t.Logf("terminal:\n%q", screen.String())
		var percents []int
		for _, m := range regexp.MustCompile(`(\d+)% \|`).FindAllStringSubmatch(screen.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			percents = append(percents, n)
		}
		if len(percents) < 3 || percents[len(percents)-1] != 100 {
			t.Fatalf("bar drawn at %v%%; want several draws ending at 100%%", percents)
		}
		advanced := false
		for i := 1; i < len(percents); i++ {
			advanced = advanced || percents[i] > percents[i-1] && percents[i] < 100
		}
		if !advanced || percents[0] >= 100 {
			t.Errorf("bar drawn at %v%%; want it to advance below 100%% before the end", percents)
		}
		if !regexp.MustCompile(`\([0-9.]+/[0-9.]+ MiB, [0-9.]+ [kM]iB/s\)`).MatchString(screen.String()) {
			t.Errorf("the bar shows no bytes done of a total")
		}
	})

	t.Run("no terminal", func(t *testing.T) {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = devnull, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("backup -P: %v\n%s", err, stderr.String())
		}
		t.Logf("stderr:\n%s", stderr.String())
		if strings.ContainsAny(stderr.String(), "\r\x1b") {
			t.Errorf("redraws or escape codes on a stderr that is no terminal")
		}
		plain := regexp.MustCompile(`(?m)^pgpull: (copy|done): [0-9.]+ [kMG]iB of [0-9.]+ [kMG]iB \((\d+)%\), \d+ MB/s`).FindAllStringSubmatch(stderr.String(), -1)
		if len(plain) < 2 || plain[len(plain)-1][2] != "100" {
			t.Errorf("plain progress lines %q; want the copy's lines ending at 100%%", plain)
		}
	})
	checkServerClean(t, src)
}

// clusterWith46MB is a cluster of about 46 MB: long enough to copy at a few MB/s for a display or
// an event stream to be seen advancing.
func clusterWith46MB(t *testing.T) *testcluster.Cluster {
	t.Helper()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	if err := src.Exec(context.Background(), `CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 4) AS pad FROM generate_series(1, 150000) AS g`); err != nil {
		t.Fatal(err)
	}
	return src
}
