package verify

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pgpull/pgpull/stages/compress"
)

// This file checks a finished backup against its backup_manifest, as pg_verifybackup does, for
// every form pgpull writes: a plain directory, a -F tar directory, and a tar stream (a file, or
// stdin).
//
// A stream carries its manifest as the last member, so the algorithm of the file checksums is
// known only at the end. Each member is therefore hashed with CRC32C and SHA-256 while it passes
// (CRC32C is the default, SHA-256 the common strong choice; both are cheap beside
// decompression). A manifest using another algorithm (SHA224, SHA384, SHA512) needs a second pass
// with the right one: a stream that can seek (a file, or stdin redirected from a file) is read
// again; one that cannot (a pipe) has its sizes checked and is reported as unchecked.

// ProblemKind classifies a Problem.
type ProblemKind int

const (
	Missing          ProblemKind = iota + 1 // in the manifest, or needed WAL, but not in the backup
	Extra                                   // in the backup but not in the manifest
	SizeMismatch                            // present with the wrong size
	ChecksumMismatch                        // present with the right size and the wrong checksum
	Duplicate                               // a tar member that appears more than once
	Truncated                               // a tar archive or stream that ends early
	Unreadable                              // a file or archive that could not be read
	BadManifest                             // a backup_manifest that does not parse or whose own checksum fails
	Unchecked                               // checksums that could not be computed
)

// Problem is one way the backup differs from its manifest.
type Problem struct {
	Kind ProblemKind
	// Path is the file relative to the backup root (as the manifest names it), or the name of
	// an archive or of the backup itself.
	Path   string
	Detail string
}

// String is the report line: it starts with the file it is about, or with what went wrong.
func (p Problem) String() string {
	name := displayPath(p.Path)
	switch p.Kind {
	case Missing:
		if p.Detail != "" {
			return "missing: " + name + " (" + p.Detail + ")"
		}
		return "missing: " + name
	case Extra:
		if p.Detail != "" {
			return "extra: " + name + " (" + p.Detail + ")"
		}
		return "extra: " + name
	case Truncated:
		return "truncated stream: " + p.Detail
	case Unchecked:
		return "unchecked: " + p.Detail
	}
	return name + ": " + p.Detail
}

// displayPath quotes a path that would not print as itself (bad UTF-8, control characters).
func displayPath(p string) string {
	if utf8.ValidString(p) && strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return p
	}
	return strconv.Quote(p)
}

// Report is the outcome of checking a backup.
type Report struct {
	Form        string // what was checked: "plain directory", "tar files", "tar stream (gzip)"
	Problems    []Problem
	Files       int   // manifest files that matched
	Bytes       int64 // their total size
	WALRanges   []WALRange
	WALSegments int // WAL segments found for WALRanges
}

// Whole reports whether the backup matched its manifest in every respect checked.
func (r *Report) Whole() bool { return len(r.Problems) == 0 }

func (r *Report) add(kind ProblemKind, p, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Kind: kind, Path: p, Detail: fmt.Sprintf(format, args...)})
}

// NotBackupError says that what was given to check holds no backup at all.
type NotBackupError struct {
	Path   string
	Reason string
}

func (e *NotBackupError) Error() string {
	return fmt.Sprintf("%s is not a pgpull backup: %s", e.Path, e.Reason)
}

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
func streamAlgorithms() []Algorithm { return []Algorithm{CRC32C, SHA256} }

// entry is what the backup holds of one file.
type entry struct {
	size int64
	sums [NONE][]byte // digests by algorithm; nil where not computed
}

// VerifyPath checks the backup at p: a plain backup directory, a directory of -F tar output, or
// a file holding a tar stream (plain, gzip or zstd, told apart by content).
func VerifyPath(ctx context.Context, p string) (*Report, error) {
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
		return VerifyStream(ctx, f, p)
	case st.IsDir():
		archives, others, err := listArchives(p)
		if err != nil {
			return nil, err
		}
		if _, ok := archives[""]; ok {
			return verifyTarFiles(ctx, p, archives, others)
		}
		return verifyPlain(ctx, p)
	}
	return nil, &NotBackupError{Path: p, Reason: "neither a directory nor a regular file"}
}

// VerifyStream checks a tar stream, plain, gzip or zstd by content; name says where it comes
// from in messages. If r can seek, it is read a second time when the manifest's checksum
// algorithm was not computed on the first pass.
func VerifyStream(ctx context.Context, r io.Reader, name string) (*Report, error) {
	rewind := func() error { return errors.ErrUnsupported }
	if s, ok := r.(io.Seeker); ok {
		if start, err := s.Seek(0, io.SeekCurrent); err == nil {
			rewind = func() error { _, err := s.Seek(start, io.SeekStart); return err }
		}
	}
	rep := &Report{}
	files := map[string]entry{}
	scan, err := scanArchive(ctx, r, name, "", func(string) []Algorithm { return streamAlgorithms() }, true, files, rep)
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
		return nil, &NotBackupError{Path: name, Reason: "no " + manifestName + " found"}
	}
	m, err := ParseManifest(scan.manifest)
	if err != nil {
		rep.add(BadManifest, manifestName, "%v", err)
		return rep, nil
	}
	needed := manifestAlgorithms(m)
	if !containsAll(streamAlgorithms(), needed) {
		if err := rewind(); err == nil {
			// Second pass with the manifest's algorithms; problems with the stream itself were
			// reported by the first.
			files = map[string]entry{}
			if _, err := scanArchive(ctx, r, name, "", fileAlgorithms(m), false, files, &Report{}); err != nil {
				return nil, err
			}
		}
	}
	compare(m, files, rep)
	return rep, nil
}

// archivePrefix says where the members of a -F tar archive go in the backup, from the
// archive's name: base.tar at the root, <oid>.tar under pg_tblspc/<oid>/, and pg_wal.tar (as
// pg_basebackup -X stream writes it) under pg_wal/, each maybe compressed. The compression itself
// is told by content.
func archivePrefix(name string) (string, bool) {
	stem, ok := strings.CutSuffix(name, ".tar")
	if !ok {
		if stem, ok = strings.CutSuffix(name, ".tar.gz"); !ok {
			stem, ok = strings.CutSuffix(name, ".tar.zst")
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
// backup.
func readManifest(dir string, rep *Report) (*ParsedManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &NotBackupError{Path: dir, Reason: "no " + manifestName + " found"}
	}
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(b)
	if err != nil {
		rep.add(BadManifest, manifestName, "%v", err)
		return nil, nil
	}
	return m, nil
}

// verifyTarFiles checks -F tar output: the manifest beside the archives is read first, so each
// archive is read once with the right algorithms.
func verifyTarFiles(ctx context.Context, dir string, archives map[string]string, others []string) (*Report, error) {
	rep := &Report{Form: "tar files"}
	m, err := readManifest(dir, rep)
	if m == nil {
		return rep, err
	}
	files := map[string]entry{}
	for _, prefix := range slices.Sorted(maps.Keys(archives)) {
		name := archives[prefix]
		if err := scanArchiveFile(ctx, filepath.Join(dir, name), name, prefix, fileAlgorithms(m), files, rep); err != nil {
			return nil, err
		}
	}
	for _, o := range others {
		rep.add(Extra, o, "not an archive of a -F tar backup")
	}
	compare(m, files, rep)
	return rep, nil
}

func scanArchiveFile(ctx context.Context, p, name, prefix string, algsFor func(string) []Algorithm, files map[string]entry, rep *Report) error {
	f, err := os.Open(p)
	if err != nil {
		rep.add(Unreadable, name, "%v", err)
		return nil
	}
	defer f.Close()
	scan, err := scanArchive(ctx, f, name, prefix, algsFor, false, files, rep)
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
func scanArchive(ctx context.Context, r io.Reader, name, prefix string, algsFor func(string) []Algorithm,
	wantManifest bool, files map[string]entry, rep *Report) (archiveScan, error) {
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
	buf := make([]byte, 256<<10)
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
		if rel == "." || hdr.Typeflag != tar.TypeReg {
			last = rel
			continue // directories and links have no contents to check
		}
		p := prefix + rel
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
		e, err := digest(tr, algsFor(p), buf)
		if err != nil {
			if ctx.Err() != nil {
				return scan, ctx.Err()
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

// digest reads r to its end, counting and hashing with algs; buf is the copy buffer.
func digest(r io.Reader, algs []Algorithm, buf []byte) (entry, error) {
	var e entry
	used := make([]Algorithm, 0, len(algs))
	hashes := make([]hash.Hash, 0, len(algs))
	writers := make([]io.Writer, 0, len(algs))
	for _, a := range algs {
		if h := a.New(); h != nil {
			used, hashes, writers = append(used, a), append(hashes, h), append(writers, h)
		}
	}
	w := io.Discard
	if len(writers) > 0 {
		w = io.MultiWriter(writers...)
	}
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

// verifyPlain checks a plain backup directory, following the links a restored cluster follows:
// pg_tblspc/<oid> to each tablespace and pg_wal to a separate WAL directory.
func verifyPlain(ctx context.Context, dir string) (*Report, error) {
	rep := &Report{Form: "plain directory"}
	m, err := readManifest(dir, rep)
	if m == nil {
		return rep, err
	}
	var found []plainFile
	walkPlain(dir, "", &found, rep)
	files, err := readPlain(ctx, found, fileAlgorithms(m), rep)
	if err != nil {
		return nil, err
	}
	compare(m, files, rep)
	return rep, nil
}

// plainFile is a regular file found in a plain backup.
type plainFile struct {
	rel, abs string
	size     int64
}

// walkPlain lists the regular files under abs, which is rel in the backup ("" for the root).
func walkPlain(abs, rel string, out *[]plainFile, rep *Report) {
	des, err := os.ReadDir(abs)
	if err != nil {
		rep.add(Unreadable, cmp.Or(rel, abs), "%v", err)
		return
	}
	for _, de := range des {
		childRel, childAbs := path.Join(rel, de.Name()), filepath.Join(abs, de.Name())
		var info fs.FileInfo
		if de.Type()&fs.ModeSymlink != 0 && (childRel == "pg_wal" || path.Dir(childRel) == "pg_tblspc") {
			info, err = os.Stat(childAbs)
		} else {
			info, err = de.Info()
		}
		if err != nil {
			rep.add(Unreadable, childRel, "%v", err)
			continue
		}
		switch {
		case info.IsDir():
			walkPlain(childAbs, childRel, out, rep)
		case info.Mode().IsRegular():
			*out = append(*out, plainFile{rel: childRel, abs: childAbs, size: info.Size()})
		case !ignoredPath(childRel):
			rep.add(Unreadable, childRel, "not a regular file or directory (%v)", info.Mode().Type())
		}
	}
}

// plainReaders bounds the files read at once: a few reads in flight keep an SSD or a RAID busy,
// and the hashing spreads over the cores.
func plainReaders() int { return min(runtime.GOMAXPROCS(0), 8) }

// readPlain reads and hashes the files that have a checksum in the manifest; the others need
// only their size.
func readPlain(ctx context.Context, found []plainFile, algsFor func(string) []Algorithm, rep *Report) (map[string]entry, error) {
	entries := make([]entry, len(found))
	errs := make([]error, len(found))
	next := make(chan int)
	var wg sync.WaitGroup
	for range plainReaders() {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for i := range next {
				f := found[i]
				algs := algsFor(f.rel)
				if len(algs) == 0 || ignoredPath(f.rel) {
					entries[i] = entry{size: f.size}
					continue
				}
				entries[i], errs[i] = digestFile(ctx, f.abs, algs, buf)
			}
		})
	}
	for i := range found {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	files := make(map[string]entry, len(found))
	for i, f := range found {
		if errs[i] != nil {
			rep.add(Unreadable, f.rel, "%v", errs[i])
			continue
		}
		files[f.rel] = entries[i]
	}
	return files, nil
}

func digestFile(ctx context.Context, p string, algs []Algorithm, buf []byte) (entry, error) {
	f, err := os.Open(p)
	if err != nil {
		return entry{}, err
	}
	defer f.Close()
	return digest(&ctxReader{ctx: ctx, r: f}, algs, buf)
}

// fileAlgorithms returns the algorithm the manifest checksums each path with, as the list
// digest takes; empty for paths it does not list or lists without a checksum.
func fileAlgorithms(m *ParsedManifest) func(string) []Algorithm {
	byPath := make(map[string]Algorithm, len(m.Files))
	for _, f := range m.Files {
		byPath[f.Path] = f.Algorithm
	}
	return func(p string) []Algorithm {
		if a, ok := byPath[p]; ok && a != NONE {
			return []Algorithm{a}
		}
		return nil
	}
}

// compare checks what the backup holds against the manifest and the WAL its ranges need.
func compare(m *ParsedManifest, files map[string]entry, rep *Report) {
	listed := make(map[string]bool, len(m.Files))
	unchecked := map[Algorithm]int{}
	for _, f := range m.Files {
		listed[f.Path] = true
		if ignoredPath(f.Path) {
			continue
		}
		e, ok := files[f.Path]
		switch {
		case !ok:
			rep.add(Missing, f.Path, "")
		case e.size != f.Size:
			rep.add(SizeMismatch, f.Path, "size %d, manifest says %d", e.size, f.Size)
		case f.Algorithm != NONE && e.sums[f.Algorithm] == nil:
			unchecked[f.Algorithm]++
		case f.Algorithm != NONE && !bytes.Equal(e.sums[f.Algorithm], f.Checksum):
			rep.add(ChecksumMismatch, f.Path, "checksum mismatch: %s %x, manifest says %x", f.Algorithm, e.sums[f.Algorithm], f.Checksum)
		default:
			rep.Files++
			rep.Bytes += f.Size
		}
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if !listed[p] && !ignoredPath(p) {
			rep.add(Extra, p, "")
		}
	}
	for _, a := range slices.Sorted(maps.Keys(unchecked)) {
		rep.add(Unchecked, "", "%d files have %s checksums, which a stream read once is not hashed with "+
			"(it computes CRC32C and SHA256); their sizes match. Give the stream as a file to check them",
			unchecked[a], a)
	}
	rep.WALRanges = m.WALRanges
	checkWAL(m.WALRanges, files, rep)
}

// WAL segment sizes initdb accepts: powers of two from 1 MB to 1 GB.
const (
	minWALSegmentSize     = 1 << 20
	maxWALSegmentSize     = 1 << 30
	defaultWALSegmentSize = 16 << 20
)

// maxRangeSegments bounds the segments one WAL range may ask for, so that an absurd range in a
// manifest ends in a problem line rather than billions of them.
const maxRangeSegments = 1 << 20

// checkWAL checks that pg_wal holds every segment each WAL range needs, from the segment of its
// start to that of the byte before its end, each of the full segment size.
func checkWAL(ranges []WALRange, files map[string]entry, rep *Report) {
	segSize := walSegmentSize(files)
	for _, r := range ranges {
		first, last := r.Start/segSize, r.Start/segSize
		if r.End > r.Start {
			last = (r.End - 1) / segSize
		}
		span := fmt.Sprintf("WAL of timeline %d from %s to %s", r.Timeline, appendLSN(nil, r.Start), appendLSN(nil, r.End))
		if r.End < r.Start || last-first >= maxRangeSegments {
			rep.add(BadManifest, manifestName, "%s is not a range this tool can check", span)
			continue
		}
		for seg := first; seg <= last; seg++ {
			p := "pg_wal/" + walFileName(r.Timeline, seg, segSize)
			e, ok := files[p]
			switch {
			case !ok:
				rep.add(Missing, p, "needed for the %s", span)
			case e.size != int64(segSize):
				rep.add(SizeMismatch, p, "size %d, a WAL segment is %d", e.size, segSize)
			default:
				rep.WALSegments++
			}
		}
	}
}

// walSegmentSize infers the cluster's WAL segment size from the segments in pg_wal: the most
// common of their sizes that initdb allows, or the default when there are none.
func walSegmentSize(files map[string]entry) uint64 {
	counts := map[int64]int{}
	for p, e := range files {
		if isWALSegment(p) && e.size >= minWALSegmentSize && e.size <= maxWALSegmentSize && e.size&(e.size-1) == 0 {
			counts[e.size]++
		}
	}
	best, bestCount := int64(defaultWALSegmentSize), 0
	for size, n := range counts {
		if n > bestCount || n == bestCount && size > best {
			best, bestCount = size, n
		}
	}
	return uint64(best)
}

// walFileName is XLogFileName: timeline, then the segment number split at 4 GB of WAL.
func walFileName(tli uint32, seg, segSize uint64) string {
	perID := uint64(0x100000000) / segSize
	return fmt.Sprintf("%08X%08X%08X", tli, seg/perID, seg%perID)
}

// manifestAlgorithms lists the checksum algorithms the manifest's files use, NONE left out.
func manifestAlgorithms(m *ParsedManifest) []Algorithm {
	var algs []Algorithm
	for _, f := range m.Files {
		if f.Algorithm != NONE && !slices.Contains(algs, f.Algorithm) {
			algs = append(algs, f.Algorithm)
		}
	}
	return algs
}

func containsAll(have, want []Algorithm) bool {
	for _, a := range want {
		if !slices.Contains(have, a) {
			return false
		}
	}
	return true
}
