package changes

import (
	"bytes"
	"testing"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/pipeline"
)

// TestKeeper: in a refresh, a file is Patched, read only in its changed blocks, only when the
// server's size, the copy's manifest's and the copy's agree, and the copy's checksum is of the new
// manifest's algorithm and one the changed blocks can patch (CRC-32C) or no block changed.
func TestKeeper(t *testing.T) {
	sum := []byte{0xde, 0xad, 0xbe, 0xef}
	sha := make([]byte, manifest.SHA256.Size())
	size := blocks(4)
	crc := func(size int64) *PriorFile { return &PriorFile{Size: size, Algorithm: manifest.CRC32C, Checksum: sum} }
	tests := []struct {
		name     string
		prior    *PriorFile // nil: not in the copy's manifest
		alg      manifest.Algorithm
		copySize int64
		changed  []uint32
		want     bool
		wantSum  []byte
	}{
		{"unchanged", crc(size), manifest.CRC32C, size, nil, true, sum},
		{"a block changed", crc(size), manifest.CRC32C, size, []uint32{2}, true, sum},
		{"unchanged, SHA256", &PriorFile{Size: size, Algorithm: manifest.SHA256, Checksum: sha}, manifest.SHA256, size, nil, true, sha},
		{"a block changed, SHA256", &PriorFile{Size: size, Algorithm: manifest.SHA256, Checksum: sha}, manifest.SHA256, size, []uint32{2}, false, nil},
		{"not in the manifest", nil, manifest.CRC32C, size, nil, false, nil},
		{"the server's file is shorter", crc(blocks(5)), manifest.CRC32C, blocks(5), nil, false, nil},
		{"the server's file is longer", crc(blocks(3)), manifest.CRC32C, blocks(3), []uint32{3}, true, sum},
		{"the server's file is longer, SHA256", &PriorFile{Size: blocks(3), Algorithm: manifest.SHA256, Checksum: sha}, manifest.SHA256, blocks(3), nil, false, nil},
		{"the copy's file is shorter", crc(size), manifest.CRC32C, blocks(3), nil, false, nil},
		{"the copy has no file", crc(size), manifest.CRC32C, -1, nil, false, nil},
		{"another algorithm", &PriorFile{Size: size, Algorithm: manifest.SHA256, Checksum: sha}, manifest.CRC32C, size, nil, false, nil},
		{"no checksum in the copy's manifest", &PriorFile{Size: size, Algorithm: manifest.NONE}, manifest.CRC32C, size, nil, false, nil},
		{"INCREMENTAL in the copy", &PriorFile{Size: size, Incremental: true, Algorithm: manifest.NONE}, manifest.NONE, size, nil, false, nil},
		{"no checksums wanted", &PriorFile{Size: size, Algorithm: manifest.NONE}, manifest.NONE, size, []uint32{1}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prior := Prior{Files: map[string]PriorFile{}}
			if tt.prior != nil {
				prior.Files["base/5/16384"] = *tt.prior
			}
			k := &Keeper{Prior: prior, Algorithm: tt.alg, CopySize: func(*pipeline.File) int64 { return tt.copySize }}
			s := &Stage{Refresh: true, Keeper: k, Tally: &Tally{}, Log: t.Logf}
			f := &pipeline.File{Path: "base/5/16384", Source: "base/5/16384", Size: size, Segment: 0}
			s.apply(f, File{Path: f.Source, Blocks: tt.changed, TruncateBlocks: 4})
			wantSize := int64(0)
			if tt.want {
				wantSize = tt.prior.Size
			}
			if f.Patched != tt.want || f.PriorSize != wantSize || !bytes.Equal(f.PriorChecksum, tt.wantSum) || f.Changed == nil {
				t.Errorf("Patched %v at %d with checksum %x, Changed %v; want Patched %v at %d with %x, Changed not nil",
					f.Patched, f.PriorSize, f.PriorChecksum, f.Changed, tt.want, wantSize, tt.wantSum)
			}
		})
	}
}
