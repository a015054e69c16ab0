package backupcheck

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// fileAlgorithms returns the algorithm the manifest checksums each path with, as the list
// digest takes; empty for paths it does not list or lists without a checksum.
func fileAlgorithms(m *manifest.Parsed) func(string) []manifest.Algorithm {
	byPath := make(map[string]manifest.Algorithm, len(m.Files))
	for _, f := range m.Files {
		byPath[f.Path] = f.Algorithm
	}
	return func(p string) []manifest.Algorithm {
		if a, ok := byPath[p]; ok && a != manifest.NONE {
			return []manifest.Algorithm{a}
		}
		return nil
	}
}

// compare checks what the backup holds against the manifest and the WAL its ranges need; walk
// has read the WAL.
func compare(m *manifest.Parsed, files map[string]entry, walk *walWalk, rep *Report) {
	listed := make(map[string]bool, len(m.Files))
	unchecked := map[manifest.Algorithm]int{}
	for _, f := range m.Files {
		listed[f.Path] = true
		if ignoredPath(f.Path) {
			// Not checked, as pg_verifybackup does not check them, but counted as the backup
			// counted them when it wrote them.
			if e, ok := files[f.Path]; ok {
				rep.Files++
				rep.Bytes += e.size
			}
			continue
		}
		e, ok := files[f.Path]
		switch {
		case !ok:
			rep.add(Missing, f.Path, "")
		case e.size != f.Size:
			rep.add(SizeMismatch, f.Path, "size %d, manifest says %d", e.size, f.Size)
		case f.Algorithm != manifest.NONE && e.sums[f.Algorithm] == nil:
			unchecked[f.Algorithm]++
		case f.Algorithm != manifest.NONE && !bytes.Equal(e.sums[f.Algorithm], f.Checksum):
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
	rep.WALWhole = walk.finish(m.WALRanges, rep)
	checkSystemID(m, files, rep)
}

// controlFile is where the backup's pg_control is.
const controlFile = "global/pg_control"

// checkSystemID compares a version 2 manifest's System-Identifier with the one in the backup's
// pg_control (its first field, in the server's byte order: little-endian on the platforms pgpull
// builds for), as pg_verifybackup 17 does: a mismatch means the manifest belongs to another
// cluster's backup.
func checkSystemID(m *manifest.Parsed, files map[string]entry, rep *Report) {
	e, ok := files[controlFile]
	if m.Version < 2 || !ok {
		return // a missing pg_control is reported already
	}
	if e.head.n < len(e.head.b) {
		rep.add(SystemIDMismatch, controlFile, "too short to hold a system identifier (%d bytes)", e.size)
		return
	}
	if id := binary.LittleEndian.Uint64(e.head.b[:]); id != m.SystemID {
		rep.add(SystemIDMismatch, controlFile, "system identifier %d, manifest says %d: the manifest is another cluster's", id, m.SystemID)
	}
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
func checkWAL(ranges []manifest.WALRange, files map[string]entry, rep *Report) {
	segSize := walSegmentSize(files)
	for _, r := range ranges {
		first, last := r.Start/segSize, r.Start/segSize
		if r.End > r.Start {
			last = (r.End - 1) / segSize
		}
		span := fmt.Sprintf("WAL of timeline %d from %s to %s", r.Timeline, pgformat.LSN(r.Start), pgformat.LSN(r.End))
		if r.End < r.Start || last-first >= maxRangeSegments {
			rep.add(BadManifest, manifestName, "%s is not a range this tool can check", span)
			continue
		}
		for seg := first; seg <= last; seg++ {
			p := "pg_wal/" + pgformat.Segment(seg).Name(r.Timeline, int64(segSize))
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
		if pgformat.IsSegmentPath(p) && e.size >= minWALSegmentSize && e.size <= maxWALSegmentSize && e.size&(e.size-1) == 0 {
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

// manifestAlgorithms lists the checksum algorithms the manifest's files use, NONE left out.
func manifestAlgorithms(m *manifest.Parsed) []manifest.Algorithm {
	var algs []manifest.Algorithm
	for _, f := range m.Files {
		if f.Algorithm != manifest.NONE && !slices.Contains(algs, f.Algorithm) {
			algs = append(algs, f.Algorithm)
		}
	}
	return algs
}

func containsAll(have, want []manifest.Algorithm) bool {
	for _, a := range want {
		if !slices.Contains(have, a) {
			return false
		}
	}
	return true
}
