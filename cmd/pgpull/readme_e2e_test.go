package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// readmeMarker precedes each README block this test runs.
const readmeMarker = "<!-- run: readme -->"

// readmeBlocks are the shell blocks of README.md that follow readmeMarker, in order.
func readmeBlocks(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, part := range strings.Split(string(raw), readmeMarker)[1:] {
		body, ok := strings.CutPrefix(strings.TrimLeft(part, "\n"), "```sh\n")
		end := strings.Index(body, "```")
		if !ok || end < 0 {
			t.Fatalf("README: a %q line must be followed by a ```sh block", readmeMarker)
		}
		blocks = append(blocks, body[:end])
	}
	return blocks
}

// TestReadmeRestores runs README's restore blocks as written, as root with a sudo that becomes the
// server's OS user: every form must start. The source gets a tablespace before the -F tar block,
// and the plain block after it maps that with -T, as a plain backup on the same host must. ssh, aws and rclone are stand-ins that keep
// the files under one local directory.
func TestReadmeRestores(t *testing.T) {
	ctx := context.Background()
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	blocks := readmeBlocks(t)
	if len(blocks) < 6 {
		t.Fatalf("README has %d blocks marked %q; want the plain, stream, compressed, -F tar and plain -T restores", len(blocks), readmeMarker)
	}
	restore, err := os.MkdirTemp("", "pgpull-readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(restore) })
	if err := os.Chmod(restore, 0o755); err != nil { // the server's OS user must reach the copies
		t.Fatal(err)
	}
	port, err := testcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "pgpull"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// README says sudo, as a user who is not postgres would; the test runs as root, where
	// runuser does the same without a sudoers file.
	sudo := "#!/bin/sh\nif [ \"$1\" = -u ]; then u=$2; shift 2; exec runuser -u \"$u\" -- \"$@\"; fi\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(sudo), 0o755); err != nil {
		t.Fatal(err)
	}
	remote := t.TempDir()
	for name, body := range map[string]string{
		// ssh HOST COMMAND: COMMAND runs here, with the remote's /backups under remote.
		"ssh": `shift; exec bash -c "$(echo "$*" | sed "s|/backups|` + remote + `|g")"`,
		// aws s3 cp - s3://B/K ... | aws s3 cp s3://B/K -
		"aws": `if [ "$3" = - ]; then mkdir -p "$(dirname "` + remote + `/${4#s3://}")"; exec cat > "` + remote + `/${4#s3://}"; fi; exec cat "` + remote + `/${3#s3://}"`,
		// rclone rcat REMOTE:PATH | rclone cat REMOTE:PATH
		"rclone": `f="` + remote + `/${2#*:}"; if [ "$1" = rcat ]; then mkdir -p "$(dirname "$f")"; exec cat > "$f"; fi; exec cat "$f"`,
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, d := range []string{"plain", "fromtar", "fromzst", "fromtarfiles", "plaints"} {
			stop := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(src.Bindir, "pg_ctl"), "-D", filepath.Join(restore, d), "-m", "immediate", "stop")
			_ = stop.Run()
		}
	})
	var out bytes.Buffer
	var oid string
	for i, block := range blocks {
		if strings.Contains(block, "-F tar") {
			_, oid = addTablespace(t, src)
		}
		cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+block)
		cmd.Env = append(os.Environ(), "SRC="+src.DSN(), "RESTORE="+restore, "PORT="+strconv.Itoa(port), "PGBIN="+src.Bindir,
			"PATH="+bin+":"+src.ClientBin+":"+os.Getenv("PATH"))
		var blockOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &blockOut, &blockOut
		began := time.Now()
		err := cmd.Run()
		t.Logf("README block %d (%s):\n%s\noutput:\n%s", i+1, time.Since(began).Round(time.Second), block, blockOut.String())
		if err != nil {
			t.Fatalf("README's restore block %d failed: %v", i+1, err)
		}
		out.Write(blockOut.Bytes())
	}
	if !strings.Contains(out.String(), "\nf\n") && !strings.HasPrefix(out.String(), "f\n") {
		t.Errorf("the plain copy did not report pg_is_in_recovery() = f")
	}
	if want := "ts1|" + filepath.Join(restore, "ts-"+oid); !strings.Contains(out.String(), want) {
		t.Errorf("the -F tar copy does not show its tablespace at the new place (%q)", want)
	}
	// addTablespace put 50000 rows in ts1: the plain copy with ts1 mapped by -T reads them there.
	if !strings.Contains(out.String(), "\n50000\n") {
		t.Errorf("the plain copy with a mapped tablespace did not count the rows of its table there")
	}
	if n := strings.Count(out.String(), "(tar stream (zstd)) verified: "); n != 2 {
		t.Errorf("%d streams verified; want the zstd file's and the one back through ssh", n)
	}
	for _, d := range []string{"froms3", "fromrclone"} {
		if _, err := os.Stat(filepath.Join(restore, d, "backup_label")); err != nil {
			t.Errorf("the stream back from %s holds no backup_label: %v", d, err)
		}
	}
	checkServerClean(t, src)
}
