package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/testcluster"
)

// readmeMarker precedes each documentation block TestReadmeRestores runs; installMarker README's
// install commands, which TestInstallCommands runs.
const (
	readmeMarker  = "<!-- run: readme -->"
	installMarker = "<!-- run: install -->"
)

// runnableDocs are the files whose marked blocks TestReadmeRestores runs, in this order.
func runnableDocs() []string { return []string{"README.md", "docs/restore.md"} }

// docBlock is one marked shell block and the file it is in.
type docBlock struct {
	file, body string
}

// readmeBlocks are the shell blocks that follow a marker line in the documents, in order.
func readmeBlocks(t *testing.T, marker string, docs ...string) []docBlock {
	t.Helper()
	var blocks []docBlock
	for _, name := range docs {
		raw, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(raw), "\n")
		for i, line := range lines {
			if line != marker {
				continue
			}
			if i+1 >= len(lines) || lines[i+1] != "```sh" {
				t.Fatalf("%s:%d: a %q line must be followed by a ```sh block", name, i+1, marker)
			}
			var body strings.Builder
			for _, l := range lines[i+2:] {
				if l == "```" {
					break
				}
				body.WriteString(l + "\n")
			}
			blocks = append(blocks, docBlock{file: name, body: body.String()})
		}
	}
	return blocks
}

// blockRunner runs documentation blocks as a reader would: with the pages' variables set, pgpull
// and the stand-ins for ssh, aws and rclone first on PATH, and as a user who is not root and has
// no sudo (the server's OS user, postgres, when the test runs as root).
type blockRunner struct {
	t      *testing.T
	src    *testcluster.Cluster
	bin    string // pgpull and the stand-ins
	port   int    // the copies'
	asUser string // "" for the test's own user
}

// run runs block with RESTORE set to restore, failing t when it fails, and returns its output.
func (r blockRunner) run(i int, block docBlock, restore string) string {
	r.t.Helper()
	env := []string{"SRC=" + r.src.DSN(), "RESTORE=" + restore, "PORT=" + strconv.Itoa(r.port), "PGBIN=" + r.src.Bindir,
		"HOME=" + restore, "PATH=" + r.bin + ":" + r.src.ClientBin + ":" + os.Getenv("PATH")}
	args := append(append([]string{"env"}, env...), "bash", "-c", "set -euo pipefail\n"+block.body)
	if r.asUser != "" {
		args = append([]string{"runuser", "-u", r.asUser, "--"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err := cmd.Run()
	r.t.Logf("%s block %d in %s (%s):\n%s\noutput:\n%s", block.file, i+1, restore, time.Since(began).Round(time.Second), block.body, out.String())
	if err != nil {
		r.t.Fatalf("%s's block %d failed: %v", block.file, i+1, err)
	}
	return out.String()
}

// TestReadmeRestores runs README's first backup and docs/restore.md's recipes as written, as a user
// without root or sudo: every form must start. The -F tar recipe runs twice: on a cluster without
// tablespaces (no tablespace_map), then after a tablespace is added, which is where the run of every
// block in order adds it (a plain backup of it on the same host would need -T).
func TestReadmeRestores(t *testing.T) {
	src := testcluster.ForTest(t, testcluster.Options{Checksums: true})
	blocks := readmeBlocks(t, readmeMarker, runnableDocs()...)
	if len(blocks) < 6 {
		t.Fatalf("%d blocks marked %q; want README's first backup and docs/restore.md's plain, stream, compressed, -F tar and elsewhere",
			len(blocks), readmeMarker)
	}
	work, err := os.MkdirTemp(testcluster.Scratch(), "pgpull-readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	r := blockRunner{t: t, src: src, bin: filepath.Join(work, "bin")}
	if os.Geteuid() == 0 {
		r.asUser = "postgres" // pg_ctl refuses root; the recipes need no sudo
	}
	noTablespace, restore, remote := filepath.Join(work, "no-tablespace"), filepath.Join(work, "restore"), filepath.Join(work, "remote")
	for _, d := range []string{r.bin, noTablespace, restore, remote} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(work, 0o755); err != nil { // the recipes' user must reach its folders
		t.Fatal(err)
	}
	if r.asUser != "" {
		if out, err := exec.Command("chown", "-R", r.asUser+":", noTablespace, restore, remote).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v\n%s", err, out)
		}
	}
	if r.port, err = testcluster.FreePort(); err != nil {
		t.Fatal(err)
	}
	writeStandIns(t, r.bin, remote)
	t.Cleanup(func() { stopCopies(src, r.asUser, noTablespace, restore) })

	var tarBlock int
	for i, b := range blocks {
		if strings.Contains(b.body, "-F tar") {
			tarBlock = i
		}
	}
	bare := r.run(tarBlock, blocks[tarBlock], noTablespace)
	if strings.Contains(bare, "|") {
		t.Errorf("the copy of a cluster without tablespaces lists one: %q", bare)
	}
	var out strings.Builder
	var oid string
	for i, b := range blocks {
		if i == tarBlock {
			_, oid = addTablespace(t, src)
		}
		out.WriteString(r.run(i, b, restore))
	}
	checkRestoredOutputs(t, out.String(), restore, oid)
	checkServerClean(t, src)
}

// checkRestoredOutputs holds the recipes' output to what each promises.
func checkRestoredOutputs(t *testing.T, out, restore, oid string) {
	t.Helper()
	if !strings.Contains(out, "\nf\n") && !strings.HasPrefix(out, "f\n") {
		t.Errorf("the plain copy did not report pg_is_in_recovery() = f")
	}
	if !strings.Contains(out, filepath.Join(restore, "first")+" (plain directory) verified: ") {
		t.Errorf("README's first backup was not verified")
	}
	if want := "ts1|" + filepath.Join(restore, "ts-"+oid); !strings.Contains(out, want) {
		t.Errorf("the -F tar copy does not show its tablespace at the new place (%q)", want)
	}
	if !strings.Contains(out, "\n50000\n") {
		t.Errorf("the plain copy with its tablespace moved by -T did not read the 50000 rows kept there")
	}
	if n := strings.Count(out, "(tar stream (zstd)) verified: "); n != 2 {
		t.Errorf("%d streams verified; want the zstd file's and the one back through ssh", n)
	}
	for _, d := range []string{"froms3", "fromrclone"} {
		if _, err := os.Stat(filepath.Join(restore, d, "backup_label")); err != nil {
			t.Errorf("the stream back from %s holds no backup_label: %v", d, err)
		}
	}
}

// writeStandIns puts ssh, aws and rclone into bin: each keeps the files under remote, so that the
// test checks the commands and the pipes, not the services.
func writeStandIns(t *testing.T, bin, remote string) {
	t.Helper()
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "pgpull"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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
}

// stopCopies stops every copy a recipe left running in the folders.
func stopCopies(src *testcluster.Cluster, asUser string, folders ...string) {
	for _, folder := range folders {
		pids, _ := filepath.Glob(filepath.Join(folder, "*", "postmaster.pid"))
		for _, pid := range pids {
			args := []string{filepath.Join(src.Bindir, "pg_ctl"), "-D", filepath.Dir(pid), "-m", "immediate", "-w", "stop"}
			if asUser != "" {
				args = append([]string{"runuser", "-u", asUser, "--"}, args...)
			}
			_ = exec.Command(args[0], args[1:]...).Run()
		}
	}
}
