package restore

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pgpull/pgpull/internal/manifest"
	"github.com/pgpull/pgpull/sinks"
)

// heldLimit bounds the files an extraction keeps in memory: pg_control is 8 KiB, a label or a
// tablespace_map a few hundred bytes.
const heldLimit = 1 << 20

// extraction is the Checker's Copier (backupcheck.Copier): it writes the backup into the data
// directory and the tablespaces' targets as the Checker reads it. global/pg_control is held back
// for the end, and tablespace_map is not written: the links it would make are made here, where
// -T says.
type extraction struct {
	source     string
	data       *place
	spaces     *tablespaces
	delta      bool
	onManifest func(*manifest.Parsed) error // checks that need the manifest, such as a recovery target's

	mu       sync.Mutex
	manifest []byte
	parsed   *manifest.Parsed
	held     map[string][]byte // global/pg_control, backup_label and tablespace_map, once read whole

	tally tally
}

// tally counts what an extraction wrote; a delta restore's files are rewritten or unchanged.
type tally struct {
	files, bytes, rewritten, unchanged atomic.Int64
}

func (x *extraction) Manifest(raw []byte, m *manifest.Parsed) error {
	x.mu.Lock()
	x.manifest, x.parsed = raw, m
	x.mu.Unlock()
	if x.onManifest != nil {
		return x.onManifest(m)
	}
	return nil
}

func (x *extraction) Dir(p string) error {
	if p == "." {
		return nil
	}
	if err := checkName(x.source, p); err != nil {
		return err
	}
	pl, name, err := x.locate(p)
	if err != nil || pl == nil {
		return err
	}
	return pl.mkdirAll(name)
}

func (x *extraction) Link(p, target string) error {
	if err := checkName(x.source, p); err != nil {
		return err
	}
	oid, inside, ok := tablespaceOf(p)
	if !ok || inside != "" {
		return fmt.Errorf("%s holds a symbolic link %s -> %s: a backup holds tablespace links only (pg_tblspc/<oid>)", x.source, p, target)
	}
	x.spaces.learn(oid, target)
	_, err := x.spaces.place(oid)
	return err
}

func (x *extraction) File(p string, size int64) (io.WriteCloser, error) {
	if err := checkName(x.source, p); err != nil {
		return nil, err
	}
	switch p {
	case sinks.IncompleteMarker, postmasterPID, "postmaster.opts":
		return nil, fmt.Errorf("%s holds %s, which no finished backup holds: restore a finished backup", x.source, p)
	case controlName, tablespaceMapName:
		return &heldFile{x: x, name: p}, nil
	}
	pl, name, err := x.locate(p)
	if err != nil {
		return nil, err
	}
	if pl == nil {
		return nil, fmt.Errorf("%s holds %s as a file, where a tablespace's link belongs", x.source, p)
	}
	var w io.WriteCloser
	if x.delta {
		w, err = pl.openDelta(name, &x.tally)
	} else {
		w, err = pl.createCounted(name, &x.tally)
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", pl.full(name), err)
	}
	if p == labelName {
		return &teeFile{WriteCloser: w, held: &heldFile{x: x, name: p}}, nil
	}
	return w, nil
}

// locate finds the place and the name in it of p, a path of the backup; a nil place for a
// tablespace's link, which it makes.
func (x *extraction) locate(p string) (*place, string, error) {
	oid, inside, ok := tablespaceOf(p)
	if !ok {
		return x.data, p, nil
	}
	pl, err := x.spaces.place(oid)
	if err != nil || inside == "" {
		return nil, "", err
	}
	return pl, inside, nil
}

// keptManifest is the backup_manifest the data directory keeps, as pg_basebackup -Fp keeps it: the
// backup's, less tablespace_map when that was held back (the links are made instead), with its
// checksum made again, so that it describes the directory and pgpull verify checks it.
func (x *extraction) keptManifest() []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.held[tablespaceMapName] == nil || x.parsed == nil {
		return x.manifest
	}
	m := *x.parsed
	m.Files = slices.DeleteFunc(slices.Clone(m.Files), func(f manifest.FileEntry) bool { return f.Path == tablespaceMapName })
	return m.Bytes()
}

// heldBytes returns a file held back, nil when the backup had none.
func (x *extraction) heldBytes(name string) []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.held[name]
}

// hold keeps a file read whole; tablespace_map tells where each tablespace lived.
func (x *extraction) hold(name string, b []byte) error {
	if name == tablespaceMapName {
		m, err := parseTablespaceMap(b)
		if err != nil {
			return fmt.Errorf("%s: %w", x.source, err)
		}
		for oid, dir := range m {
			x.spaces.learn(oid, dir)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.held == nil {
		x.held = map[string][]byte{}
	}
	x.held[name] = b
	return nil
}

// heldFile keeps a small file of the backup in memory.
type heldFile struct {
	x    *extraction
	name string
	buf  bytes.Buffer
}

func (h *heldFile) Write(p []byte) (int, error) {
	if h.buf.Len()+len(p) > heldLimit {
		return 0, fmt.Errorf("%s holds a %s of more than %d bytes, which no backup holds", h.x.source, h.name, heldLimit)
	}
	return h.buf.Write(p)
}

func (h *heldFile) Close() error { return h.x.hold(h.name, h.buf.Bytes()) }

// teeFile writes a file and keeps a copy of it.
type teeFile struct {
	io.WriteCloser
	held *heldFile
}

func (t *teeFile) Write(p []byte) (int, error) {
	if _, err := t.held.Write(p); err != nil {
		return 0, err
	}
	return t.WriteCloser.Write(p)
}

func (t *teeFile) Close() error {
	err := t.WriteCloser.Close()
	if herr := t.held.Close(); err == nil {
		err = herr
	}
	return err
}

// createCounted makes the file name and counts what is written to it.
func (pl *place) createCounted(name string, t *tally) (io.WriteCloser, error) {
	f, err := pl.create(name)
	if err != nil {
		return nil, err
	}
	return &countedFile{f: f, t: t}, nil
}

// countedFile is a file restore writes, counted in its tally.
type countedFile struct {
	f *os.File
	t *tally
}

func (c *countedFile) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.t.bytes.Add(int64(n))
	return n, err
}

func (c *countedFile) Close() error {
	c.t.files.Add(1)
	return c.f.Close()
}
