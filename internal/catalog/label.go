package catalog

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strings"
)

// labelLimit bounds the backup_label read from an archive: a few hundred bytes.
const labelLimit = 64 << 10

// labelStartTime is backup_label's START TIME line, as the server wrote it.
func labelStartTime(label []byte) string {
	for line := range strings.SplitSeq(string(label), "\n") {
		if v, ok := strings.CutPrefix(line, "START TIME: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// errNoLabel says an archive holds no backup_label.
var errNoLabel = errors.New("no backup_label in the archive")

// tarLabel reads backup_label out of a tar archive (uncompressed: a reader that can seek skips
// the members before it without reading them), and the manifest when the archive ends with one.
func tarLabel(r io.Reader) (label, manifest []byte, err error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			if label == nil {
				return nil, manifest, errNoLabel
			}
			return label, manifest, nil
		}
		if err != nil {
			return label, manifest, err
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "backup_label":
			if label, err = readSmall(tr); err != nil {
				return nil, nil, err
			}
		case "backup_manifest":
			if manifest, err = io.ReadAll(tr); err != nil {
				return label, nil, err
			}
		}
	}
}

// readSmall reads r whole, refusing more than labelLimit bytes.
func readSmall(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, labelLimit+1))
	if err == nil && len(b) > labelLimit {
		return nil, errors.New("backup_label is too large to be one")
	}
	return bytes.Clone(b), err
}
