// Package sinks writes the backup stream somewhere: one tar stream (Tar), a plain data
// directory (Dir), or pg_basebackup -Ft's files, base.tar and one <oid>.tar per tablespace (TarFiles).
package sinks

import (
	"context"

	"github.com/pgpull/pgpull/pipeline"
)

// Sink receives the stream's Pieces in stream order, one goroutine calling it: for each File its
// Pieces arrive by increasing offset, the first one opening the File. The sink owns each Piece
// given to Put: it calls Done on it, written, dropped or failed, and no one else does. The ctx of
// Put and Close bounds what a sink waits on beyond the local disk (an S3 store's requests).
type Sink interface {
	// Put writes one Piece. A Piece marked Missing on a File's first Piece means the file was
	// removed on the server: the File is left out, and its later Pieces are dropped.
	Put(ctx context.Context, p *pipeline.Piece) error
	// Close completes the output; manifest, when not nil, is written last, as backup_manifest.
	Close(ctx context.Context, manifest []byte) error
	// Abort removes or marks what the sink created, after a failure. It never touches anything
	// the sink did not create.
	Abort() error
}
