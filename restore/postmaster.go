package restore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// postmasterPID is the file a running server keeps in its data directory; its first line is the
// postmaster's process ID.
const postmasterPID = "postmaster.pid"

// checkNoServer refuses a directory a server runs from: its postmaster.pid names a process that
// is alive. A postmaster.pid of a process gone (a server that crashed) does not stop a restore.
func checkNoServer(dir string) error {
	body, err := os.ReadFile(filepath.Join(dir, postmasterPID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, postmasterPID), err)
	}
	pid, ok := parsePostmasterPID(body)
	switch {
	case !ok:
		return fmt.Errorf("%s holds %s that names no process; if no server runs from it, remove that file and restore again",
			dir, postmasterPID)
	case processAlive(pid):
		return fmt.Errorf("a server runs from %s (%s names process %d, which is alive): stop it before restoring into it, or restore elsewhere",
			dir, postmasterPID, pid)
	}
	return nil
}

// parsePostmasterPID reads the process ID on postmaster.pid's first line.
func parsePostmasterPID(body []byte) (int, bool) {
	line, _, _ := bytes.Cut(body, []byte("\n"))
	pid, err := strconv.Atoi(string(bytes.TrimSpace(line)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}
