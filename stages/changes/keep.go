package changes

import (
	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/pipeline"
)

// Keeper decides, in a refresh, which files the new backup_manifest lists with the checksum the
// copy's manifest gives them, so that nobody reads them: those none of whose blocks changed, at
// the size the copy's manifest lists, which the copy's file has. A file the copy holds at another
// size is read, so that its checksum is that of the bytes the refresh leaves.
type Keeper struct {
	Prior Prior
	// Algorithm is that of the new manifest's checksums; NONE when it has none.
	Algorithm manifest.Algorithm
	// CopySize is the size of the copy's regular file for f, -1 when it has none.
	CopySize func(f *pipeline.File) int64
}

// keep marks f Kept when it may be: pass 1 found none of its blocks changed.
func (k *Keeper) keep(f *pipeline.File) {
	p, ok := k.Prior.Files[f.Path]
	switch {
	case !ok || p.Incremental || p.Size != f.Size:
		return
	case k.Algorithm != manifest.NONE && (p.Algorithm != k.Algorithm || len(p.Checksum) == 0):
		return // a checksum of another algorithm cannot stand for this one
	case k.CopySize(f) != f.Size:
		return
	}
	f.Kept = true
	if k.Algorithm != manifest.NONE {
		f.KeptChecksum = p.Checksum
	}
}
