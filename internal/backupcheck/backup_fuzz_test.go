package backupcheck

import (
	"bytes"
	"context"
	"testing"

	"github.com/pgpull/pgpull/internal/compress"
	"github.com/pgpull/pgpull/internal/manifest"
)

// FuzzVerifyStream feeds verify's tar reading arbitrary bytes: a backup stream cut, spliced or
// garbled anywhere must give a report or an error, never a panic or a hang, and the stream it
// started from must still verify whole.
func FuzzVerifyStream(f *testing.F) {
	b := newTestBackup(f, manifest.CRC32C)
	whole := tarBytes(f, b.files, b.manifest, compress.Spec{})
	report, err := testChecker.VerifyStream(context.Background(), bytes.NewReader(whole), "seed")
	if err != nil || !report.Whole() {
		f.Fatalf("the seed stream does not verify: %v %+v", err, report)
	}
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add(tarBytes(f, b.files, b.manifest, compress.Spec{Algorithm: compress.Gzip, Level: 1}))
	f.Add(tarBytes(f, b.files, b.manifest, compress.Spec{Algorithm: compress.Zstd, Level: 1}))
	f.Add([]byte("not a tar at all"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		report, err := testChecker.VerifyStream(context.Background(), bytes.NewReader(stream), "fuzz")
		if err == nil && report == nil {
			t.Fatal("no report and no error")
		}
	})
}
