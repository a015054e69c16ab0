package layout

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/pgpull/pgpull"

// floor is where a package of this module stands in the rule of doc.go, highest last, and the
// name of its room on that floor: the stages and the sinks each have their own.
func floor(pkg string) (int, string) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	top, _, _ := strings.Cut(rel, "/")
	switch top {
	case "internal":
		return 0, "internal"
	case "pipeline":
		return 1, "pipeline"
	case "stages", "sinks":
		return 2, rel
	case "backup", "walfeed", "restore":
		return 3, top
	}
	return 4, top // cmd, bench
}

// violation says why from may not import imp, or "".
func violation(from, imp string) string {
	fromFloor, fromRoom := floor(from)
	toFloor, toRoom := floor(imp)
	switch {
	case toFloor > fromFloor:
		return "a floor above it"
	case toFloor == 4 && fromRoom != toRoom:
		return "a command or the bench, which nothing else imports"
	case toFloor == fromFloor && toFloor > 0 && toFloor < 4 && toRoom != fromRoom:
		return "beside it on its own floor"
	}
	return ""
}

func TestViolation(t *testing.T) {
	tests := []struct {
		from, imp string
		bad       bool
	}{
		{"backup", "stages/fetch", false},
		{"backup", "sinks", false},
		{"stages/fetch", "pipeline", false},
		{"sinks", "internal/compress", false},
		{"internal/backupcheck", "internal/manifest", false},
		{"bench", "internal/testcluster", false},
		{"pipeline", "stages/fetch", true},
		{"internal/backupcheck", "stages/verify", true},
		{"internal/session", "pipeline", true},
		{"stages/fetch", "stages/wal", true},
		{"sinks", "stages/fetch", true},
		{"stages/list", "backup", true},
		{"backup", "walfeed", true},
		{"restore", "sinks", false},
		{"restore", "backup", true},
		{"backup", "cmd/pgpull", true},
		{"cmd/pgpull", "bench", true},
	}
	for _, tt := range tests {
		why := violation(module+"/"+tt.from, module+"/"+tt.imp)
		if (why != "") != tt.bad {
			t.Errorf("%s imports %s: violation %q, want one: %v", tt.from, tt.imp, why, tt.bad)
		}
	}
}

// TestImportsPointDown lists every package's imports (not its tests') with go list and fails on
// each that the rule of doc.go forbids.
func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			checked++
			if why := violation(fields[0], imp); why != "" {
				t.Errorf("%s imports %s, %s (internal/layout/doc.go)", fields[0], imp, why)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("only %d imports within the module were checked; go list found too little:\n%s", checked, out)
	}
}
