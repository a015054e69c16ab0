package changes

import (
	"bytes"
	"testing"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/pipeline"
)

// TestKeeper: in a refresh, a file keeps the copy's manifest's checksum, unread, only when no
// block of it changed, the server's size, the manifest's and the copy's agree, and the checksum
// is of the new manifest's algorithm.
func TestKeeper(t *testing.T) {
	sum := []byte{0xde, 0xad, 0xbe, 0xef}
	size := blocks(4)
	tests := []struct {
		name     string
		prior    *PriorFile // nil: not in the copy's manifest
		alg      manifest.Algorithm
		copySize int64
		changed  []uint32
		want     bool
		wantSum  []byte
	}{
		{"unchanged", &PriorFile{Size: size, Algorithm: manifest.CRC32C, Checksum: sum}, manifest.CRC32C, size, nil, true, sum},
		{"a block changed", &PriorFile{Size: size, Algorithm: manifest.CRC32C, Checksum: sum}, manifest.CRC32C, size, []uint32{2}, false, nil},
		{"not in the manifest", nil, manifest.CRC32C, size, nil, false, nil},
		{"the server's file is shorter", &PriorFile{Size: blocks(5), Algorithm: manifest.CRC32C, Checksum: sum}, manifest.CRC32C, size, nil, false, nil},
		{"the copy's file is shorter", &PriorFile{Size: size, Algorithm: manifest.CRC32C, Checksum: sum}, manifest.CRC32C, blocks(3), nil, false, nil},
		{"the copy has no file", &PriorFile{Size: size, Algorithm: manifest.CRC32C, Checksum: sum}, manifest.CRC32C, -1, nil, false, nil},
		{"another algorithm", &PriorFile{Size: size, Algorithm: manifest.SHA256, Checksum: sum}, manifest.CRC32C, size, nil, false, nil},
		{"no checksum in the copy's manifest", &PriorFile{Size: size, Algorithm: manifest.NONE}, manifest.CRC32C, size, nil, false, nil},
		{"INCREMENTAL in the copy", &PriorFile{Size: size, Incremental: true, Algorithm: manifest.NONE}, manifest.NONE, size, nil, false, nil},
		{"no checksums wanted", &PriorFile{Size: size, Algorithm: manifest.NONE}, manifest.NONE, size, nil, true, nil},
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
			if f.Kept != tt.want || !bytes.Equal(f.KeptChecksum, tt.wantSum) || f.Changed == nil {
				t.Errorf("Kept %v with checksum %x, Changed %v; want Kept %v with %x, Changed not nil", f.Kept, f.KeptChecksum, f.Changed, tt.want, tt.wantSum)
			}
		})
	}
}
