package combine

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pgpull/pgpull/internal/pgformat"
)

// entryKind is what Combine makes for one entry of the newest backup.
type entryKind int

const (
	dirEntry        entryKind = iota // a directory
	copyEntry                        // a file copied whole from the newest backup
	rebuildEntry                     // a file rebuilt from its INCREMENTAL file and the backups before
	linkEntry                        // a symbolic link, made again with the same target
	tablespaceEntry                  // pg_tblspc/<oid>, linked to the tablespace's output directory
)

// entry is one thing the output holds, in the order Combine makes them.
type entry struct {
	kind entryKind
	rel  string // slash-separated path in the data directory, as the manifest names it
	src  string // copyEntry: the file in the newest backup; linkEntry: the link's target
	file *rebuiltFile
}

// plan is everything Combine will write, worked out and checked before it writes anything.
type plan struct {
	entries []entry
	// linked maps the OID of each tablespace the newest backup links to its output directory.
	linked map[string]string
}

// planner walks the newest backup.
type planner struct {
	chain []*backup
	opts  Options
	plan  plan
}

// planOutput lists what the output will hold: the newest backup's entries, each INCREMENTAL file
// with the sources its blocks come from, read and checked in every backup it needs.
func planOutput(chain []*backup, opts Options) (*plan, error) {
	p := &planner{chain: chain, opts: opts, plan: plan{linked: map[string]string{}}}
	if err := p.walk(chain[len(chain)-1].dir, ""); err != nil {
		return nil, err
	}
	for oid := range opts.Tablespaces {
		if _, ok := p.plan.linked[oid]; !ok {
			return nil, p.newestError("has no tablespace %s linked from pg_tblspc, for which Options.Tablespaces names a directory", oid)
		}
	}
	return &p.plan, nil
}

// walk lists the directory abs, which is rel in the data directory ("" for the root).
func (p *planner) walk(abs, rel string) error {
	des, err := os.ReadDir(abs)
	if err != nil {
		return p.newestError("%v", err)
	}
	for _, de := range des {
		name := de.Name()
		childRel, childAbs := path.Join(rel, name), filepath.Join(abs, name)
		if rel == "" && (name == labelName || name == manifestName) {
			continue // written anew
		}
		if rel == "pg_tblspc" && isOID(name) && (de.IsDir() || de.Type()&fs.ModeSymlink != 0) {
			if err := p.tablespace(name, childAbs); err != nil {
				return err
			}
			continue
		}
		if err := p.add(de, childAbs, childRel); err != nil {
			return err
		}
	}
	return nil
}

// add lists one entry other than a tablespace.
func (p *planner) add(de fs.DirEntry, abs, rel string) error {
	switch {
	case de.Type()&fs.ModeSymlink != 0 && rel == "pg_wal":
		// pg_basebackup --waldir: the output gets the WAL itself, in a directory.
		fi, err := os.Stat(abs)
		if err != nil || !fi.IsDir() {
			return p.newestError("pg_wal is a link to something that is not a directory (%v)", err)
		}
		return p.dir(abs, rel)
	case de.Type()&fs.ModeSymlink != 0:
		target, err := os.Readlink(abs)
		if err != nil {
			return p.newestError("%v", err)
		}
		p.plan.entries = append(p.plan.entries, entry{kind: linkEntry, rel: rel, src: target})
	case de.IsDir():
		return p.dir(abs, rel)
	case de.Type().IsRegular():
		return p.file(abs, rel)
	default:
		return p.newestError("%s is not a regular file, directory or link (%v)", rel, de.Type())
	}
	return nil
}

func (p *planner) dir(abs, rel string) error {
	p.plan.entries = append(p.plan.entries, entry{kind: dirEntry, rel: rel})
	return p.walk(abs, rel)
}

// file lists a regular file: an INCREMENTAL file where relation files live is rebuilt under its
// relation file's name, anything else is copied. Elsewhere an INCREMENTAL. name is just a name.
func (p *planner) file(abs, rel string) error {
	dir, name := path.Split(rel)
	relName, incremental := strings.CutPrefix(name, pgformat.IncrementalPrefix)
	if !incremental || !holdsRelations(strings.TrimSuffix(dir, "/")) {
		p.plan.entries = append(p.plan.entries, entry{kind: copyEntry, rel: rel, src: abs})
		return nil
	}
	target := dir + relName
	if _, err := os.Lstat(filepath.Join(filepath.Dir(abs), relName)); err == nil {
		return p.newestError("holds both %s and %s", target, rel)
	}
	f, err := resolveSources(p.chain, target)
	if err != nil {
		return err
	}
	p.plan.entries = append(p.plan.entries, entry{kind: rebuildEntry, rel: target, file: f})
	return nil
}

// holdsRelations reports the directories where PostgreSQL 17 writes INCREMENTAL files: base and
// its database directories, global, and tablespaces.
func holdsRelations(dir string) bool {
	return strings.HasPrefix(dir, "base/") || dir == "global" || strings.HasPrefix(dir, "pg_tblspc/")
}

// tablespace lists pg_tblspc/<oid> and what it holds. A link must lead to a directory and have an
// output directory in Options.Tablespaces; a directory (an in-place tablespace) stays inside the
// output's pg_tblspc.
func (p *planner) tablespace(oid, abs string) error {
	rel := "pg_tblspc/" + oid
	fi, err := os.Lstat(abs)
	if err != nil {
		return p.newestError("%v", err)
	}
	if fi.IsDir() {
		return p.dir(abs, rel)
	}
	linkTarget, _ := os.Readlink(abs)
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return p.newestError("%s links to %s, which is not a directory (%v)", rel, linkTarget, err)
	}
	out, ok := p.opts.Tablespaces[oid]
	if !ok || out == "" {
		return p.newestError("tablespace %s (linked to %s) has no output directory; name one in Options.Tablespaces", oid, linkTarget)
	}
	p.plan.linked[oid] = out
	p.plan.entries = append(p.plan.entries, entry{kind: tablespaceEntry, rel: rel})
	return p.walk(abs, rel)
}

func (p *planner) newestError(format string, args ...any) error {
	return chainError(p.chain[len(p.chain)-1].dir, format, args...)
}

// isOID reports a tablespace directory name: a decimal OID without leading zeros.
func isOID(name string) bool {
	if name == "" || name[0] == '0' || len(name) > 10 {
		return false
	}
	for _, c := range []byte(name) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(name) < 10 || name <= "4294967295"
}

// underPgWAL reports paths the manifest leaves out, as the server's does: the WAL.
func underPgWAL(rel string) bool {
	return rel == "pg_wal" || strings.HasPrefix(rel, "pg_wal/")
}
