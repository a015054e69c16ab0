package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// Parsed is a backup_manifest read back by Parse.
type Parsed struct {
	Version   int
	SystemID  uint64 // only in version 2
	Files     []FileEntry
	WALRanges []WALRange
}

// Bytes renders the manifest in the server's layout, with a fresh Manifest-Checksum.
func (m *Parsed) Bytes() []byte {
	return encodeManifest(m.Version, m.SystemID, m.Files, m.WALRanges)
}

// Top-level, file and WAL-range keys of the manifest format.
const (
	keyVersion          = "PostgreSQL-Backup-Manifest-Version"
	keySystemIdentifier = "System-Identifier"
	keyFiles            = "Files"
	keyWALRanges        = "WAL-Ranges"
	keyManifestChecksum = "Manifest-Checksum"

	keyPath              = "Path"
	keyEncodedPath       = "Encoded-Path"
	keySize              = "Size"
	keyLastModified      = "Last-Modified"
	keyChecksumAlgorithm = "Checksum-Algorithm"
	keyChecksum          = "Checksum"

	keyTimeline = "Timeline"
	keyStartLSN = "Start-LSN"
	keyEndLSN   = "End-LSN"
)

// Parse reads a backup_manifest as strictly as PostgreSQL's verifier, and a little more:
// the version (1 or 2) must be the first key, a version 2 manifest must name its
// System-Identifier next, Files, WAL-Ranges and Manifest-Checksum must each appear once, the
// checksum last and matching the SHA-256 of every line before it; unknown or repeated keys,
// duplicate paths, a file without a path or size, a Checksum without its Checksum-Algorithm (or of
// the wrong length), and WAL ranges missing a key are errors.
func Parse(b []byte) (*Parsed, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("manifest is not valid UTF-8")
	}
	want, err := manifestChecksum(b)
	if err != nil {
		return nil, err
	}
	p := manifestParser{dec: json.NewDecoder(bytes.NewReader(b))}
	p.dec.UseNumber()
	m, got, err := p.manifest()
	if err != nil {
		return nil, fmt.Errorf("manifest at byte %d: %w", p.dec.InputOffset(), err)
	}
	if !bytes.Equal(got, want[:]) {
		return nil, fmt.Errorf("manifest checksum mismatch: actual %x, expected %x", want, got)
	}
	return m, nil
}

// manifestChecksum is the SHA-256 of everything up to and including the newline that ends the
// second-to-last line, which is what the server's Manifest-Checksum covers.
func manifestChecksum(b []byte) ([32]byte, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return [32]byte{}, errors.New("manifest has no newline at the end")
	}
	i := bytes.LastIndexByte(b[:len(b)-1], '\n')
	if i < 0 {
		return [32]byte{}, errors.New("manifest has fewer than 2 lines")
	}
	return sha256.Sum256(b[:i+1]), nil
}

type manifestParser struct {
	dec *json.Decoder
}

// manifest parses the top-level object and returns it with the Manifest-Checksum it states.
func (p *manifestParser) manifest() (*Parsed, []byte, error) {
	if err := p.delim('{'); err != nil {
		return nil, nil, err
	}
	key, err := p.key()
	if err != nil {
		return nil, nil, err
	}
	if key != keyVersion {
		return nil, nil, fmt.Errorf("expected %s first, found %q", keyVersion, key)
	}
	version, err := p.uint(32)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyVersion, err)
	}
	if version != 1 && version != 2 {
		return nil, nil, fmt.Errorf("unsupported manifest version %d", version)
	}
	m := &Parsed{Version: int(version)}
	if version >= 2 {
		if key, err = p.key(); err != nil {
			return nil, nil, err
		}
		if key != keySystemIdentifier {
			return nil, nil, fmt.Errorf("expected %s after the version, found %q", keySystemIdentifier, key)
		}
		if m.SystemID, err = p.uint(64); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", keySystemIdentifier, err)
		}
	}
	var sawFiles, sawRanges bool
	for {
		key, err := p.key()
		if err != nil {
			return nil, nil, err
		}
		switch key {
		case keyFiles:
			if sawFiles {
				return nil, nil, fmt.Errorf("duplicate key %q", key)
			}
			sawFiles = true
			if m.Files, err = p.files(); err != nil {
				return nil, nil, err
			}
		case keyWALRanges:
			if sawRanges {
				return nil, nil, fmt.Errorf("duplicate key %q", key)
			}
			sawRanges = true
			if m.WALRanges, err = p.walRanges(); err != nil {
				return nil, nil, err
			}
		case keyManifestChecksum:
			sum, err := p.hexString(sha256.Size)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", keyManifestChecksum, err)
			}
			if err := p.delim('}'); err != nil {
				return nil, nil, fmt.Errorf("%s must be the last key: %w", keyManifestChecksum, err)
			}
			if _, err := p.dec.Token(); err != io.EOF {
				return nil, nil, errors.New("data after the manifest object")
			}
			if !sawFiles || !sawRanges {
				return nil, nil, fmt.Errorf("manifest lacks %s or %s", keyFiles, keyWALRanges)
			}
			return m, sum, nil
		default:
			return nil, nil, fmt.Errorf("unrecognized top-level key %q", key)
		}
	}
}

func (p *manifestParser) files() ([]FileEntry, error) {
	if err := p.delim('['); err != nil {
		return nil, err
	}
	var files []FileEntry
	seen := make(map[string]struct{})
	for p.dec.More() {
		e, err := p.file()
		if err != nil {
			return nil, err
		}
		if _, dup := seen[e.Path]; dup {
			return nil, fmt.Errorf("duplicate path %q", e.Path)
		}
		seen[e.Path] = struct{}{}
		files = append(files, e)
	}
	return files, p.delim(']')
}

func (p *manifestParser) file() (FileEntry, error) {
	var e FileEntry
	if err := p.delim('{'); err != nil {
		return e, err
	}
	seen := make(map[string]bool, 6)
	var alg, checksum string
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return e, err
		}
		if seen[key] {
			return e, fmt.Errorf("duplicate key %q in file entry", key)
		}
		seen[key] = true
		switch key {
		case keyPath:
			e.Path, err = p.string()
		case keyEncodedPath:
			var raw []byte
			raw, err = p.hexString(-1)
			e.Path = string(raw)
		case keySize:
			var size uint64
			size, err = p.uint(63)
			e.Size = int64(size)
		case keyLastModified:
			e.LastModified, err = p.string()
		case keyChecksumAlgorithm:
			alg, err = p.string()
		case keyChecksum:
			checksum, err = p.string()
		default:
			err = fmt.Errorf("unrecognized key %q in file entry", key)
		}
		if err != nil {
			return e, fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := p.delim('}'); err != nil {
		return e, err
	}
	switch {
	case seen[keyPath] && seen[keyEncodedPath]:
		return e, errors.New("file entry has both Path and Encoded-Path")
	case !seen[keyPath] && !seen[keyEncodedPath]:
		return e, errors.New("file entry has no path")
	case !seen[keySize]:
		return e, fmt.Errorf("file %q has no size", e.Path)
	case e.Path == "" || strings.IndexByte(e.Path, 0) >= 0:
		return e, fmt.Errorf("invalid path %q", e.Path)
	case seen[keyChecksum] && !seen[keyChecksumAlgorithm]:
		return e, fmt.Errorf("file %q has a checksum without an algorithm", e.Path)
	}
	e.Algorithm = NONE
	if seen[keyChecksumAlgorithm] {
		a, err := ParseAlgorithm(alg)
		if err != nil {
			return e, fmt.Errorf("file %q: %w", e.Path, err)
		}
		e.Algorithm = a
	}
	if e.Algorithm == NONE {
		if checksum != "" {
			return e, fmt.Errorf("file %q has a checksum but algorithm NONE", e.Path)
		}
		return e, nil
	}
	if !seen[keyChecksum] {
		return e, fmt.Errorf("file %q has a checksum algorithm but no checksum", e.Path)
	}
	sum, err := decodeHex(checksum, e.Algorithm.Size())
	if err != nil {
		return e, fmt.Errorf("file %q: checksum: %w", e.Path, err)
	}
	e.Checksum = sum
	return e, nil
}

func (p *manifestParser) walRanges() ([]WALRange, error) {
	if err := p.delim('['); err != nil {
		return nil, err
	}
	var ranges []WALRange
	for p.dec.More() {
		r, err := p.walRange()
		if err != nil {
			return nil, err
		}
		ranges = append(ranges, r)
	}
	return ranges, p.delim(']')
}

func (p *manifestParser) walRange() (WALRange, error) {
	var r WALRange
	if err := p.delim('{'); err != nil {
		return r, err
	}
	seen := make(map[string]bool, 3)
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return r, err
		}
		if seen[key] {
			return r, fmt.Errorf("duplicate key %q in WAL range", key)
		}
		seen[key] = true
		switch key {
		case keyTimeline:
			var tli uint64
			tli, err = p.uint(32)
			r.Timeline = uint32(tli)
		case keyStartLSN:
			r.Start, err = p.lsn()
		case keyEndLSN:
			r.End, err = p.lsn()
		default:
			err = fmt.Errorf("unrecognized key %q in WAL range", key)
		}
		if err != nil {
			return r, fmt.Errorf("%s: %w", key, err)
		}
	}
	if !seen[keyTimeline] || !seen[keyStartLSN] || !seen[keyEndLSN] {
		return r, errors.New("WAL range needs Timeline, Start-LSN and End-LSN")
	}
	return r, p.delim('}')
}

func (p *manifestParser) delim(want json.Delim) error {
	tok, err := p.dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

// key reads an object key; Decoder.Token returns keys as strings, and '}' ends the object early.
func (p *manifestParser) key() (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("expected a key, found %v", tok)
	}
	return s, nil
}

func (p *manifestParser) string() (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("expected a string, found %v", tok)
	}
	return s, nil
}

// uint reads a JSON number that must be a plain unsigned integer of at most bits bits.
func (p *manifestParser) uint(bits int) (uint64, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return 0, err
	}
	n, ok := tok.(json.Number)
	if !ok {
		return 0, fmt.Errorf("expected a number, found %v", tok)
	}
	v, err := strconv.ParseUint(string(n), 10, bits)
	if err != nil {
		return 0, fmt.Errorf("not an unsigned integer: %s", n)
	}
	return v, nil
}

// hexString reads a string of hex digits; size is the decoded length required, or -1 for any.
func (p *manifestParser) hexString(size int) ([]byte, error) {
	s, err := p.string()
	if err != nil {
		return nil, err
	}
	return decodeHex(s, size)
}

func decodeHex(s string, size int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid hex %q", s)
	}
	if size >= 0 && len(b) != size {
		return nil, fmt.Errorf("%q is %d bytes, want %d", s, len(b), size)
	}
	return b, nil
}

// lsn reads "%X/%X": two groups of 1 to 8 hex digits.
func (p *manifestParser) lsn() (uint64, error) {
	s, err := p.string()
	if err != nil {
		return 0, err
	}
	lsn, err := pgformat.ParseLSN(s)
	return uint64(lsn), err
}
