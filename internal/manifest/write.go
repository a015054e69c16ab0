package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// FileEntry is one file of a backup_manifest.
type FileEntry struct {
	// Path is the raw path relative to the backup root; it need not be valid UTF-8 (it is then
	// written as Encoded-Path).
	Path string
	Size int64
	// LastModified is the text of Last-Modified, "YYYY-MM-DD HH:MM:SS GMT". It is informational:
	// PostgreSQL's verifier ignores it.
	LastModified string
	// Algorithm is NONE when the entry carries no checksum.
	Algorithm Algorithm
	// Checksum is the raw digest (for CRC32C, the little-endian uint32).
	Checksum []byte
}

// WALRange is one entry of WAL-Ranges: the WAL of one timeline that restoring the backup needs.
type WALRange struct {
	Timeline   uint32
	Start, End uint64 // LSNs
}

// Manifest builds the backup_manifest of one backup. It is safe for concurrent use.
type Manifest struct {
	version  int
	systemID uint64
	alg      Algorithm

	mu     sync.Mutex
	files  []FileEntry
	ranges []WALRange
}

// LastModifiedLayout is the time layout in which the server prints Last-Modified (pg_gmtime, zone literally GMT).
const LastModifiedLayout = "2006-01-02 15:04:05 GMT"

// New starts a manifest. Use version 1 for servers up to 16, whose verifiers accept
// nothing else, and version 2 for 17 and later; systemID (pg_control_system().system_identifier)
// is written only in version 2. alg is the algorithm of the checksums passed to AddFile.
func New(version int, systemID uint64, alg Algorithm) *Manifest {
	return &Manifest{version: version, systemID: systemID, alg: alg}
}

// AddFile lists a file. checksum is the raw digest from the Algorithm.New of the manifest's algorithm; it is ignored for
// NONE. Files appear in the order they are added, as the server lists them in sending order.
func (m *Manifest) AddFile(path string, size int64, mtime time.Time, checksum []byte) {
	e := FileEntry{
		Path:         path,
		Size:         size,
		LastModified: mtime.UTC().Format(LastModifiedLayout),
		Algorithm:    m.alg,
	}
	if m.alg != NONE {
		e.Checksum = bytes.Clone(checksum)
	}
	m.mu.Lock()
	m.files = append(m.files, e)
	m.mu.Unlock()
}

// AddWALRange lists the WAL from start to end on timeline tli. With several timelines, add the
// newest first, as the server does.
func (m *Manifest) AddWALRange(tli uint32, start, end uint64) {
	m.mu.Lock()
	m.ranges = append(m.ranges, WALRange{Timeline: tli, Start: start, End: end})
	m.mu.Unlock()
}

// Files returns a copy of the entries added so far.
func (m *Manifest) Files() []FileEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]FileEntry(nil), m.files...)
}

// Bytes renders the manifest byte for byte as the server would.
func (m *Manifest) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return encodeManifest(m.version, m.systemID, m.files, m.ranges)
}

// encodeManifest writes PostgreSQL's layout: a header line, one file object per line, the WAL
// ranges, and last the Manifest-Checksum line, a SHA-256 of every byte before it.
func encodeManifest(version int, systemID uint64, files []FileEntry, ranges []WALRange) []byte {
	b := make([]byte, 0, 128+len(files)*160+len(ranges)*80)
	b = append(b, `{ "PostgreSQL-Backup-Manifest-Version": `...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, ",\n"...)
	if version >= 2 {
		b = append(b, `"System-Identifier": `...)
		b = strconv.AppendUint(b, systemID, 10)
		b = append(b, ",\n"...)
	}
	b = append(b, `"Files": [`...)
	for i := range files {
		b = appendFileEntry(b, &files[i], i == 0)
	}
	b = append(b, "\n],\n"...)
	b = append(b, `"WAL-Ranges": [`...)
	for i, r := range ranges {
		if i == 0 {
			b = append(b, '\n')
		} else {
			b = append(b, ",\n"...)
		}
		b = append(b, `{ "Timeline": `...)
		b = strconv.AppendUint(b, uint64(r.Timeline), 10)
		b = append(b, `, "Start-LSN": "`...)
		b = pgformat.LSN(r.Start).Append(b)
		b = append(b, `", "End-LSN": "`...)
		b = pgformat.LSN(r.End).Append(b)
		b = append(b, `" }`...)
	}
	b = append(b, "\n],\n"...)
	sum := sha256.Sum256(b)
	b = append(b, `"Manifest-Checksum": "`...)
	b = hex.AppendEncode(b, sum[:])
	b = append(b, "\"}\n"...)
	return b
}

func appendFileEntry(b []byte, e *FileEntry, first bool) []byte {
	if first {
		b = append(b, '\n')
	} else {
		b = append(b, ",\n"...)
	}
	if utf8.ValidString(e.Path) {
		b = append(b, `{ "Path": `...)
		b = appendJSONString(b, e.Path)
		b = append(b, ", "...)
	} else {
		b = append(b, `{ "Encoded-Path": "`...)
		b = hex.AppendEncode(b, []byte(e.Path))
		b = append(b, `", `...)
	}
	b = append(b, `"Size": `...)
	b = strconv.AppendInt(b, e.Size, 10)
	b = append(b, `, "Last-Modified": `...)
	b = appendJSONString(b, e.LastModified)
	if e.Algorithm != NONE {
		b = append(b, `, "Checksum-Algorithm": "`...)
		b = append(b, e.Algorithm.String()...)
		b = append(b, `", "Checksum": "`...)
		b = hex.AppendEncode(b, e.Checksum)
		b = append(b, '"')
	}
	return append(b, " }"...)
}

// appendJSONString quotes s as the server's escape_json does: only the quote, the backslash and
// control characters are escaped, so "<", "&" and U+2028 stay as they are (unlike encoding/json).
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// ChecksumOf is the Manifest-Checksum a rendered manifest ends with, "" when b holds none.
func ChecksumOf(b []byte) string {
	const key = `"Manifest-Checksum": "`
	i := bytes.LastIndex(b, []byte(key))
	if i < 0 {
		return ""
	}
	rest := b[i+len(key):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		return string(rest[:j])
	}
	return ""
}
