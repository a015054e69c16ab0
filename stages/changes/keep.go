package changes

import (
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/pipeline"
)

// Keeper decides, in a refresh, which files are Patched: read only in their changed blocks, their
// new checksum had from the one the copy's backup_manifest gives them. Those are the files the
// copy holds at the size that manifest lists, which the server's is not below, whose checksum is
// of the new manifest's algorithm and either a CRC-32C (which the changed blocks patch) or of a
// file that did not change. Any other file is read whole, so that its checksum is that of the
// bytes the refresh leaves; a CRC of a file cut short would need the bytes cut off.
type Keeper struct {
	Prior Prior
	// Algorithm is that of the new manifest's checksums; NONE when it has none.
	Algorithm manifest.Algorithm
	// CopySize is the size of the copy's regular file for f, -1 when it has none.
	CopySize func(f *pipeline.File) int64
}

// keep marks f Patched when it may be, once pass 1 has set its Changed blocks.
func (k *Keeper) keep(f *pipeline.File) {
	p, ok := k.Prior.Files[f.Path]
	if !ok || p.Incremental || f.Size < p.Size {
		return
	}
	switch {
	case k.Algorithm == manifest.NONE:
	case p.Algorithm != k.Algorithm || len(p.Checksum) != k.Algorithm.Size():
		return // a checksum of another algorithm cannot stand for this one
	case (len(f.Changed) > 0 || f.Size != p.Size) && k.Algorithm != manifest.CRC32C:
		return // a cryptographic hash is computed again over every byte
	}
	if k.CopySize(f) != p.Size {
		return
	}
	f.Patched, f.PriorSize = true, p.Size
	if k.Algorithm != manifest.NONE {
		f.PriorChecksum = p.Checksum
	}
}
