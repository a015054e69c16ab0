package combine

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/internal/pgformat"
)

// synth describes a small plain backup made by hand: enough for the chain checks and for
// rebuilding a few relation files, without a server.
type synth struct {
	systemID      uint64
	start         pgformat.LSN
	timeline      uint32
	fromLSN       pgformat.LSN // with fromTimeline, the INCREMENTAL FROM lines; none when 0
	fromTimeline  uint32
	version       string            // PG_VERSION; "17" when empty
	files         map[string][]byte // path in the backup -> contents
	links         map[string]string // path in the backup -> link target
	manifestVer   int               // 2 when 0
	noManifest    bool
	manifestSysID uint64 // the manifest's System-Identifier when not 0
}

// controlFile is a global/pg_control of systemID whose CRC sits where PostgreSQL 17 puts it.
func controlFile(systemID uint64) []byte {
	data := make([]byte, pgformat.ControlFileSize)
	binary.LittleEndian.PutUint64(data, systemID)
	for i := 8; i < 288; i++ {
		data[i] = byte(i)
	}
	binary.LittleEndian.PutUint32(data[288:], crc32.Checksum(data[:288], crc32.MakeTable(crc32.Castagnoli)))
	return data
}

// label is the backup_label the server would write for s.
func (s synth) label() []byte {
	l := fmt.Appendf(nil, "START WAL LOCATION: %s (file 000000%02X0000000000000002)\nCHECKPOINT LOCATION: %s\n"+
		"BACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-07 12:00:00 UTC\nLABEL: synth\nSTART TIMELINE: %d\n",
		s.start, s.timeline, s.start+0x58, s.timeline)
	if s.fromTimeline != 0 {
		l = fmt.Appendf(l, "INCREMENTAL FROM LSN: %s\nINCREMENTAL FROM TLI: %d\n", s.fromLSN, s.fromTimeline)
	}
	return l
}

// write makes the backup in dir: its files and links, PG_VERSION, backup_label, pg_control and
// a manifest listing them all.
func (s synth) write(t *testing.T, dir string) string {
	t.Helper()
	files := maps.Clone(s.files)
	if files == nil {
		files = map[string][]byte{}
	}
	files[versionName] = []byte(cmp.Or(s.version, "17") + "\n")
	files[labelName] = s.label()
	if _, ok := files[controlPath]; !ok {
		files[controlPath] = controlFile(s.systemID)
	}
	ver := s.manifestVer
	if ver == 0 {
		ver = 2
	}
	sysID := s.manifestSysID
	if sysID == 0 {
		sysID = s.systemID
	}
	for rel, target := range s.links {
		// A link to a directory that does not exist yet is a tablespace's: make it.
		if filepath.IsAbs(target) {
			if err := os.MkdirAll(target, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, rel)); err != nil {
			t.Fatal(err)
		}
	}
	m := manifest.New(ver, sysID, manifest.CRC32C)
	for _, rel := range slices.Sorted(maps.Keys(files)) {
		writeFile(t, filepath.Join(dir, rel), files[rel])
		h := manifest.CRC32C.New()
		h.Write(files[rel])
		m.AddFile(rel, int64(len(files[rel])), time.Now(), h.Sum(nil))
	}
	m.AddWALRange(s.timeline, uint64(s.start), uint64(s.start)+0x1000)
	if !s.noManifest {
		writeFile(t, filepath.Join(dir, manifestName), m.Bytes())
	}
	return dir
}

func writeFile(t *testing.T, name string, body []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, body, 0o600); err != nil {
		t.Fatal(err)
	}
}

// pages is n blocks, block b filled with the byte tag+b.
func pages(tag byte, n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, bytes.Repeat([]byte{tag + byte(i)}, pgformat.BlockSize)...)
	}
	return b
}

// incrementalFile is an INCREMENTAL file holding blocks, each page filled with tag+block.
func incrementalFile(t *testing.T, tag byte, trunc uint32, blocks ...uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pgformat.NewIncrementalWriter(&buf, pgformat.IncrementalHeader{Blocks: blocks, TruncationBlockLength: trunc})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.WritePage(bytes.Repeat([]byte{tag + byte(b)}, pgformat.BlockSize)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
