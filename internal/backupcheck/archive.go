package backupcheck

import (
	"archive/tar"
	"context"
	"errors"
	"hash"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
)

// archivePrefix says where the members of a -F tar archive go in the backup, from the
// archive's name: base.tar at the root, <oid>.tar under pg_tblspc/<oid>/, and pg_wal.tar (as
// pg_basebackup -X stream writes it) under pg_wal/, each maybe compressed. The compression itself
// is told by content.
func archivePrefix(name string) (string, bool) {
	var stem string
	ok := false
	for _, suffix := range []string{".tar", ".tar.gz", ".tar.zst", ".tar.lz4"} {
		if stem, ok = strings.CutSuffix(name, suffix); ok {
			break
		}
	}
	switch {
	case !ok:
		return "", false
	case stem == "base":
		return "", true
	case stem == "pg_wal":
		return "pg_wal/", true
	case stem != "" && strings.Trim(stem, "0123456789") == "":
		return "pg_tblspc/" + stem + "/", true
	}
	return "", false
}

// listArchives finds the -F tar archives in dir, keyed by the prefix their members go under
// ("" for base.tar), and the other entries apart from backup_manifest.
func listArchives(dir string) (map[string]string, []string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	archives := map[string]string{}
	var others []string
	for _, de := range des {
		if de.Name() == manifestName {
			continue
		}
		prefix, ok := archivePrefix(de.Name())
		if !ok || !de.Type().IsRegular() {
			others = append(others, de.Name())
			continue
		}
		archives[prefix] = de.Name()
	}
	return archives, others, nil
}

// readManifest reads and parses dir's backup_manifest. A manifest that does not parse is a
// problem of the backup, reported in rep with a nil manifest; one that is absent means dir is no
// backup. Once it parses, the Checker's Copier gets it.
func (c Checker) readManifest(dir string, rep *Report) (*manifest.Parsed, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NotBackupError{Path: dir, Reason: "no " + manifestName + " found"}
	}
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse(b)
	if err != nil {
		rep.add(BadManifest, manifestName, "%v", err)
		return nil, nil
	}
	return m, c.copyManifest(b, m)
}

// verifyTarFiles checks -F tar output: the manifest beside the archives is read first, so each
// archive is read once with the right algorithms.
func (c Checker) verifyTarFiles(ctx context.Context, dir string, archives map[string]string, others []string) (*Report, error) {
	rep := &Report{Form: "tar files"}
	m, err := c.readManifest(dir, rep)
	var nb *NotBackupError
	if errors.As(err, &nb) {
		return nil, unfinishedArchives(dir, "pgpull backup -f -F tar DSN "+dir)
	}
	if err != nil {
		return nil, err
	} else if m == nil {
		return rep, nil
	}
	files := map[string]entry{}
	walk := newWALWalk(m.WALRanges)
	for _, prefix := range slices.Sorted(maps.Keys(archives)) {
		name := archives[prefix]
		if err := c.scanArchiveFile(ctx, filepath.Join(dir, name), name, prefix, fileAlgorithms(m), files, walk, rep); err != nil {
			return nil, err
		}
	}
	for _, o := range others {
		rep.add(Extra, o, "not an archive of a -F tar backup")
	}
	compare(m, files, walk, rep)
	return rep, nil
}

func (c Checker) scanArchiveFile(ctx context.Context, p, name, prefix string, algsFor func(string) []manifest.Algorithm, files map[string]entry,
	walk *walWalk, rep *Report) error {
	f, err := os.Open(p)
	if err != nil {
		rep.add(Unreadable, name, "%v", err)
		return nil
	}
	defer f.Close()
	scan, err := c.scanArchive(ctx, f, name, prefix, algsFor, false, files, walk, rep)
	if err == nil && scan.members == 0 && scan.notTar != nil {
		rep.add(Unreadable, name, "not a tar archive: %v", scan.notTar)
	}
	return err
}

// archiveScan is what reading one tar archive found.
type archiveScan struct {
	alg      compress.Algorithm
	manifest []byte // the top-level backup_manifest member, when asked for and present
	members  int    // regular members read whole
	notTar   error  // the first header did not read as tar
}

// tarBlockSize is the tar record unit; the end-of-archive marker is made of zero blocks.
const tarBlockSize = 512

// scanArchive reads a tar archive from r (plain, gzip or zstd) and records each regular member
// in files under prefix, hashed with algsFor(its path). With wantManifest, a top-level
// backup_manifest member is kept in scan.manifest instead. An archive that ends early or cannot
// be decoded is a problem of the backup, added to rep; the error is for ctx and the caller's I/O.
// WAL segments and PG_VERSION also go through walk, unless it is nil.
func (c Checker) scanArchive(ctx context.Context, r io.Reader, name, prefix string, algsFor func(string) []manifest.Algorithm,
	wantManifest bool, files map[string]entry, walk *walWalk, rep *Report) (archiveScan, error) {
	var scan archiveScan
	zr, alg, err := compress.NewReader(r)
	scan.alg = alg
	if err != nil {
		rep.add(Unreadable, name, "%v", err)
		return scan, nil
	}
	defer zr.Close()
	counted := &countingReader{r: zr}
	tr := tar.NewReader(&ctxReader{ctx: ctx, r: counted})
	buf := c.buffer()
	last := "" // the last member read whole, for messages
	for {
		before := counted.n
		hdr, err := tr.Next()
		switch {
		case ctx.Err() != nil:
			return scan, ctx.Err()
		case err == io.EOF && counted.n-before < tarBlockSize:
			// archive/tar takes a stream that stops between members for a complete one; only
			// a zero block read here says the archive was ended on purpose.
			if scan.members == 0 && last == "" {
				scan.notTar = errors.New("empty")
				return scan, nil
			}
			rep.add(Truncated, name, "%s ends after %s without the end-of-archive marker", name, describeMember(last))
			return scan, nil
		case err == io.EOF:
			return scan, nil
		case err != nil:
			if scan.members == 0 && last == "" && !errors.Is(err, io.ErrUnexpectedEOF) {
				scan.notTar = err
				return scan, nil
			}
			rep.add(Truncated, name, "%s ends after %s: %v", name, describeMember(last), err)
			return scan, nil
		}
		rel := strings.TrimPrefix(path.Clean(hdr.Name), "./")
		p := memberPath(prefix, rel)
		if rel == "." || hdr.Typeflag != tar.TypeReg {
			if err := c.copyMember(p, hdr); err != nil {
				return scan, err
			}
			last = rel
			continue // directories and links have no contents to check
		}
		if wantManifest && prefix == "" && rel == manifestName {
			b, err := io.ReadAll(tr)
			if err != nil {
				rep.add(Truncated, name, "%s ends inside %s: %v", name, manifestName, err)
				return scan, nil
			}
			scan.manifest = b
			last = rel
			continue
		}
		to, err := c.copyTarget(p, hdr.Size)
		if err != nil {
			return scan, err
		}
		e, err := digest(walk.wrap(p, hdr.Size, tr), algsFor(p), buf, to)
		if err != nil {
			var failed copyFailed
			if ctx.Err() != nil {
				return scan, ctx.Err()
			} else if errors.As(err, &failed) {
				return scan, failed
			}
			rep.add(Truncated, name, "%s ends inside %s, %d of %d bytes read: %v", name, displayPath(p), e.size, hdr.Size, err)
			return scan, nil
		}
		if _, dup := files[p]; dup {
			rep.add(Duplicate, p, "appears more than once in %s", name)
		}
		files[p] = e
		scan.members++
		last = p
	}
}

func describeMember(p string) string {
	if p == "" {
		return "the start"
	}
	return displayPath(p)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops a long read when ctx is done (Ctrl-C during a large backup).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// digest reads r to its end, counting and hashing with algs, and copying to to unless it is nil,
// which it closes; buf is the copy buffer. An error of to's is a copyFailed.
func digest(r io.Reader, algs []manifest.Algorithm, buf []byte, to io.WriteCloser) (e entry, err error) {
	var copied *copyWriter
	if to != nil {
		copied = &copyWriter{w: to}
		defer func() {
			if cerr := to.Close(); copied.err == nil {
				copied.err = cerr
			}
			if copied.err != nil {
				err = copyFailed{copied.err}
			}
		}()
	}
	used := make([]manifest.Algorithm, 0, len(algs))
	hashes := make([]hash.Hash, 0, len(algs))
	writers := make([]io.Writer, 0, len(algs))
	for _, a := range algs {
		if h := a.New(); h != nil {
			used, hashes, writers = append(used, a), append(hashes, h), append(writers, h)
		}
	}
	writers = append(writers, &e.head)
	if copied != nil {
		writers = append(writers, copied)
	}
	w := io.MultiWriter(writers...)
	n, err := io.CopyBuffer(w, r, buf)
	e.size = n
	if err != nil {
		return e, err
	}
	for i, h := range hashes {
		e.sums[used[i]] = h.Sum(nil)
	}
	return e, nil
}
