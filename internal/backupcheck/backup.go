// Package backupcheck is the offline verification behind `pgpull verify`: it checks a finished
// backup (a plain directory, -F tar files, or a tar stream) against its backup_manifest, as
// pg_verifybackup does, and reports every way the two differ.
package backupcheck

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
)

// A stream carries its manifest as the last member, so the algorithm of the file checksums is
// known only at the end. Each member is therefore hashed with CRC32C and SHA-256 while it passes
// (CRC32C is the default, SHA-256 the common strong choice; both are cheap beside
// decompression). A manifest using another algorithm (SHA224, SHA384, SHA512) needs a second pass
// with the right one: a stream that can seek (a file, or stdin redirected from a file) is read
// again; one that cannot (a pipe) has its sizes checked and is reported as unchecked.

// manifestName is the manifest's name in a directory and as a stream member.
const manifestName = "backup_manifest"

// ignoredPath reports whether p is left out of the comparison in both directions, as
// pg_verifybackup leaves it out: the manifest itself, WAL (checked against WAL-Ranges instead),
// and files that setting up a restore is expected to add or change.
func ignoredPath(p string) bool {
	switch p {
	case manifestName, "pg_wal", "postgresql.auto.conf", "recovery.signal", "standby.signal":
		return true
	}
	return strings.HasPrefix(p, "pg_wal/")
}

// streamAlgorithms are computed for every member of a stream whose manifest is not known yet.
func streamAlgorithms() []manifest.Algorithm {
	return []manifest.Algorithm{manifest.CRC32C, manifest.SHA256}
}

// entry is what the backup holds of one file.
type entry struct {
	size int64
	sums [manifest.NONE][]byte // digests by algorithm; nil where not computed
	head head                  // the first bytes: pg_control's system identifier
}

// head keeps the first bytes written to it.
type head struct {
	b [8]byte
	n int
}

func (h *head) Write(p []byte) (int, error) {
	h.n += copy(h.b[h.n:], p)
	return len(p), nil
}

// Checker checks finished backups. Its fields bound how much it reads at once; NewChecker gives
// what `pgpull verify` runs with.
type Checker struct {
	// Readers is how many files of a plain backup are read at once; at least one.
	Readers int
	// Buffer is the size of each reader's copy buffer; io.Copy's when zero.
	Buffer int
	// Copy, when set, receives every file, directory and link as it is read (see Copier). A
	// stream is then read once: a manifest whose checksums a single pass does not compute
	// leaves those files unchecked instead of reading the stream again.
	Copy Copier
}

// NewChecker is the Checker `pgpull verify` runs with: min(GOMAXPROCS, 8) readers, since a few
// reads in flight keep an SSD or a RAID busy and the hashing spreads over the cores; and 256 KiB
// buffers (chosen, not measured: large enough that a read is not dominated by its system call).
func NewChecker() Checker {
	return Checker{Readers: min(runtime.GOMAXPROCS(0), 8), Buffer: 256 << 10}
}

// buffer is a copy buffer of the Checker's size, nil for io.Copy's own.
func (c Checker) buffer() []byte {
	if c.Buffer <= 0 {
		return nil
	}
	return make([]byte, c.Buffer)
}

// VerifyPath checks the backup at p: a plain backup directory, a directory of -F tar output, or
// a file holding a tar stream (plain, gzip or zstd, told apart by content).
func (c Checker) VerifyPath(ctx context.Context, p string) (*Report, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Mode().IsRegular():
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return c.VerifyStream(ctx, f, p)
	case st.IsDir():
		archives, others, err := listArchives(p)
		if err != nil {
			return nil, err
		}
		if _, ok := archives[""]; ok {
			return c.verifyTarFiles(ctx, p, archives, others)
		}
		return c.verifyPlain(ctx, p)
	}
	return nil, &NotBackupError{Path: p, Reason: "neither a directory nor a regular file"}
}

// VerifyStream checks a tar stream, plain, gzip or zstd by content; name says where it comes
// from in messages. If r can seek, it is read a second time when the manifest's checksum
// algorithm was not computed on the first pass.
func (c Checker) VerifyStream(ctx context.Context, r io.Reader, name string) (*Report, error) {
	rewind := func() error { return errors.ErrUnsupported }
	if s, ok := r.(io.Seeker); ok {
		if start, err := s.Seek(0, io.SeekCurrent); err == nil {
			rewind = func() error { _, err := s.Seek(start, io.SeekStart); return err }
		}
	}
	rep := &Report{}
	files := map[string]entry{}
	walk := newWALWalk(nil)
	scan, err := c.scanArchive(ctx, r, name, "", func(string) []manifest.Algorithm { return streamAlgorithms() }, true, files, walk, rep)
	if err != nil {
		return nil, err
	}
	rep.Form = "tar stream"
	if scan.alg != compress.None {
		rep.Form += " (" + scan.alg.String() + ")"
	}
	if scan.manifest == nil {
		if scan.members == 0 && scan.notTar != nil {
			return nil, &NotBackupError{Path: name, Reason: "not a tar stream (" + scan.notTar.Error() + ")"}
		}
		if len(rep.Problems) > 0 {
			// Cut before its last member: nothing can be checked without the manifest.
			return rep, nil
		}
		return nil, &NotBackupError{Path: name, Reason: "no " + manifestName + " found", noManifest: true}
	}
	m, err := manifest.Parse(scan.manifest)
	if err != nil {
		rep.add(BadManifest, manifestName, "%v", err)
		return rep, nil
	}
	if err := c.copyManifest(scan.manifest, m); err != nil {
		return nil, err
	}
	needed := manifestAlgorithms(m)
	if !containsAll(streamAlgorithms(), needed) && c.Copy == nil {
		if err := rewind(); err == nil {
			// Second pass with the manifest's algorithms; problems with the stream itself were
			// reported by the first.
			files = map[string]entry{}
			if _, err := c.scanArchive(ctx, r, name, "", fileAlgorithms(m), false, files, nil, &Report{}); err != nil {
				return nil, err
			}
		}
	}
	compare(m, files, walk, rep)
	return rep, nil
}
