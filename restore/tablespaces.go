package restore

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// tablespaces decides where each tablespace of the backup goes, makes that directory and the
// data directory's pg_tblspc/<oid> link to it, the first time the backup names the tablespace.
type tablespaces struct {
	data    *place
	owner   *Owner
	mapping map[string]string // -T: OLD (where the server kept it, or its OID) -> NEW
	sources []string          // the backup's own directories, which no target may overlap
	delta   bool
	source  string // the backup, for messages
	// root, when set, puts every tablespace in root/<oid>, whatever else says: a chain's
	// backups extracted to be combined.
	root string

	mu     sync.Mutex
	known  map[string]string // OID -> where the server kept it (tablespace_map, a link member, a plain backup's link)
	linked map[string]string // OID -> where the data directory's own link leads (delta)
	used   map[string]bool   // mapping keys taken
	open   map[string]*place
}

func newTablespaces(data *place, owner *Owner, mapping map[string]string, sources []string, delta bool, source string) *tablespaces {
	t := &tablespaces{data: data, owner: owner, mapping: map[string]string{}, sources: sources, delta: delta, source: source,
		known: map[string]string{}, linked: map[string]string{}, used: map[string]bool{}, open: map[string]*place{}}
	for old, dir := range mapping {
		t.mapping[cleanOld(old)] = filepath.Clean(dir)
	}
	return t
}

// cleanOld is an OLD of -T as the mapping keys it: an OID as it is, a path cleaned.
func cleanOld(old string) string {
	if isOID(old) {
		return old
	}
	return filepath.Clean(old)
}

// isOID reports whether s is a tablespace OID: digits only.
func isOID(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

// learn records where the server kept tablespace oid, unless already known.
func (t *tablespaces) learn(oid, location string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.known[oid]; !ok && location != "" {
		t.known[oid] = filepath.Clean(location)
	}
}

// place returns where tablespace oid's files go, made and linked on first use.
func (t *tablespaces) place(oid string) (*place, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pl := t.open[oid]; pl != nil {
		return pl, nil
	}
	pl, err := t.prepareLocked(oid)
	if err != nil {
		return nil, err
	}
	if err := t.data.link("pg_tblspc/"+oid, pl.path); err != nil {
		return nil, fmt.Errorf("tablespace %s: %w", oid, err)
	}
	return pl, nil
}

// prepare makes tablespace oid's target, checked, without linking it: for combine, which makes
// the link itself.
func (t *tablespaces) prepare(oid string) (*place, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.prepareLocked(oid)
}

func (t *tablespaces) prepareLocked(oid string) (*place, error) {
	if !isOID(oid) {
		return nil, fmt.Errorf("%s holds pg_tblspc/%s, which is no tablespace OID", t.source, oid)
	}
	target, err := t.target(oid)
	if err != nil {
		return nil, err
	}
	if err := t.check(oid, target); err != nil {
		return nil, err
	}
	pl, err := openPlace(target, t.owner)
	if err != nil {
		return nil, fmt.Errorf("tablespace %s: %w", oid, err)
	}
	t.open[oid] = pl
	return pl, nil
}

// target is where tablespace oid goes: its -T mapping (by OID, or by where the server kept it),
// else, in a delta restore, where the data directory's link leads, else where the server kept it.
func (t *tablespaces) target(oid string) (string, error) {
	if t.root != "" {
		return filepath.Join(t.root, oid), nil
	}
	for _, key := range []string{oid, t.known[oid]} {
		if dir, ok := t.mapping[key]; ok && key != "" {
			t.used[key] = true
			return dir, nil
		}
	}
	if dir := t.linked[oid]; t.delta && dir != "" {
		return dir, nil
	}
	if dir := t.known[oid]; dir != "" {
		return dir, nil
	}
	return "", fmt.Errorf("tablespace %s: %s does not say where it lived (a tar stream carries no tablespace_map): give -T %s=NEWDIR",
		oid, t.source, oid)
}

// check refuses a target that overlaps the data directory, the backup or another tablespace,
// or that holds anything, unless it is where a delta restore's link already leads.
func (t *tablespaces) check(oid, target string) error {
	old := t.known[oid]
	if old == "" {
		old = oid
	}
	way := fmt.Sprintf("map it elsewhere with -T %s=NEWDIR", old)
	if !filepath.IsAbs(target) {
		return fmt.Errorf("tablespace %s: %s is not an absolute path; %s", oid, target, way)
	}
	if overlap(target, t.data.path) {
		return fmt.Errorf("tablespace %s would go to %s, which overlaps the data directory %s: %s", oid, target, t.data.path, way)
	}
	for _, src := range t.sources {
		if overlap(target, src) {
			return fmt.Errorf("tablespace %s would go to %s, which overlaps the backup's own %s: %s", oid, target, src, way)
		}
	}
	for other, pl := range t.open {
		if overlap(target, pl.path) {
			return fmt.Errorf("tablespace %s would go to %s, which overlaps tablespace %s's %s: %s", oid, target, other, pl.path, way)
		}
	}
	if t.delta && t.linked[oid] == target {
		return nil
	}
	if empty, err := isEmpty(target); err == nil && !empty {
		return fmt.Errorf("tablespace %s would go to %s, which is not empty: %s", oid, target, way)
	} else if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("tablespace %s: %w", oid, err)
	}
	return nil
}

// unused lists the -T OLDs no tablespace of the backup took.
func (t *tablespaces) unused() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, old := range slices.Sorted(maps.Keys(t.mapping)) {
		if !t.used[old] {
			out = append(out, old)
		}
	}
	return out
}

// knownPaths is where the server kept each tablespace, as the backup says, by OID.
func (t *tablespaces) knownPaths() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.known)
}

// places are the tablespace targets opened, by OID.
func (t *tablespaces) places() map[string]*place {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.open)
}

// describeKnown lists the tablespaces the backup named, for a message.
func (t *tablespaces) describeKnown() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.known) == 0 && len(t.open) == 0 {
		return "it has no tablespace"
	}
	var parts []string
	for _, oid := range slices.Sorted(maps.Keys(t.open)) {
		if old := t.known[oid]; old != "" {
			parts = append(parts, oid+" at "+old)
		} else {
			parts = append(parts, oid)
		}
	}
	return "its tablespaces: " + strings.Join(parts, ", ")
}

// link makes name (slash path) a symbolic link to target, keeping one that already leads there.
func (pl *place) link(name, target string) error {
	if err := pl.mkdirAll(path.Dir(name)); err != nil {
		return err
	}
	pl.mark(name)
	local := filepath.FromSlash(name)
	if fi, err := pl.root.Lstat(local); err == nil {
		if fi.Mode()&os.ModeSymlink != 0 {
			if cur, err := pl.root.Readlink(local); err == nil && filepath.Clean(cur) == target {
				return nil
			}
		}
		if err := pl.root.RemoveAll(local); err != nil {
			return err
		}
	}
	if err := pl.root.Symlink(target, local); err != nil {
		return err
	}
	return pl.owner.chownIn(pl.root, local)
}
