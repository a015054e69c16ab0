package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpdateResultsReplacesOnlyItsSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	rep := func(scenario, dataset string) benchReport {
		return benchReport{Scenario: scenario, Dataset: dataset, DataBytes: 1e9, Server: "PostgreSQL 17.10",
			Summaries: []summary{{Config: "pgpull -j4 r=8MB none", Tool: toolPgpull, Jobs: 4, RangeSize: "8MB", Compress: "none", Runs: 1, WallSec: 2, MBPerSec: 500}}}
	}
	other := rep("local", "server-compress run")
	other.Section = "server-compress"
	for _, r := range []benchReport{rep("local", "first"), rep("latency 20ms each way", "wan"), other, rep("local", "second")} {
		if err := updateResults(path, r, evaluateGoals(r)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if strings.Contains(doc, "data set: first") || !strings.Contains(doc, "data set: second") || !strings.Contains(doc, "data set: wan") {
		t.Errorf("sections not replaced in place:\n%s", doc)
	}
	if !strings.Contains(doc, "<!-- bench section: local, server-compress -->\n## Scenario: local, server-compress\n") ||
		!strings.Contains(doc, "data set: server-compress run") {
		t.Errorf("--section did not get a section of its own:\n%s", doc)
	}
	if strings.Count(doc, "- server: PostgreSQL 17.10\n") != 3 {
		t.Errorf("each section should name the server backed up:\n%s", doc)
	}
	if strings.Count(doc, "# pgpull benchmark results") != 1 || strings.Count(doc, "## Scenario: local\n") != 1 {
		t.Errorf("header or section duplicated:\n%s", doc)
	}
	if i, j := strings.Index(doc, "Scenario: local"), strings.Index(doc, "Scenario: latency"); i > j {
		t.Error("regenerating a section moved it")
	}
}

func TestScenarioSlug(t *testing.T) {
	if got := scenarioSlug("latency 20ms each way, bandwidth 200Mbit per connection"); got != "latency-20ms-each-way-bandwidth-200mbit-per-connection" {
		t.Errorf("slug %q", got)
	}
}

func TestShellJoin(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dataset", "mixed:256MB", "--latency", "20ms"}, "--dataset mixed:256MB --latency 20ms"},
		{[]string{"--section", "server-compress, mixed data"}, "--section 'server-compress, mixed data'"},
		{[]string{"--section", "it's"}, `--section 'it'\''s'`},
		{[]string{"--dsn", ""}, "--dsn ''"},
	} {
		if got := shellJoin(tc.args); got != tc.want {
			t.Errorf("shellJoin(%q) = %s; want %s", tc.args, got, tc.want)
		}
	}
}
