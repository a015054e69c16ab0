package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// writeOutputs prints the table, goals and recommendation, and writes the
// CSV, JSON, PNG and (with --results) the results file section.
func writeOutputs(rep benchReport, p benchPlan, s runSettings, stdout io.Writer, logf func(string, ...any)) error {
	writeTable(stdout, rep)
	goals := evaluateGoals(rep)
	fmt.Fprintln(stdout)
	writeGoals(stdout, goals)
	for _, l := range bestLines(rep.Summaries) {
		fmt.Fprintln(stdout, "best:", strings.ReplaceAll(l, "`", ""))
	}
	fmt.Fprintln(stdout, recommendation(rep.Summaries))
	if advice := serverCompressAdvice(rep.Summaries); advice != "" {
		fmt.Fprintln(stdout, strings.ReplaceAll(advice, "`", ""))
	}

	dir, err := outDir(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	slug := scenarioSlug(rep.Scenario)
	files := map[string]func(io.Writer) error{
		slug + "-samples.csv": func(w io.Writer) error { return writeSamplesCSV(w, rep.Samples) },
		slug + "-summary.csv": func(w io.Writer) error { return writeSummaryCSV(w, rep.Summaries) },
		slug + ".json": func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(struct {
				benchReport
				Goals []goal `json:"goals"`
			}{rep, goals})
		},
	}
	for name, write := range files {
		if err := writeFile(filepath.Join(dir, name), write); err != nil {
			return err
		}
	}
	png := filepath.Join(dir, slug+"-throughput.png")
	if err := plotThroughput(rep, png); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	logf("wrote %s/%s-{samples.csv,summary.csv,.json,throughput.png}", dir, slug)
	if s.results != "" {
		if err := updateResults(s.results, rep, goals); err != nil {
			return err
		}
		logf("updated section %q of %s", rep.sectionName(), s.results)
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// scenarioSlug makes a file-name-safe word from a scenario name.
func scenarioSlug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// tableHeader names the columns of the summary table; README.md explains them.
var tableHeader = []string{"config", "runs", "wall s", "MB/s", "cpu s", "out MB", "out/data", "peak RSS MiB", "vs pg_basebackup"}

// tableRow formats one summary for the text and markdown tables.
func tableRow(s summary, dataBytes int64) []string {
	if s.Runs == 0 {
		return []string{s.Config, fmt.Sprintf("0/%d", s.Failures), "failed: " + firstLine(s.FirstError), "", "", "", "", "", ""}
	}
	vs := "-"
	if s.VsBaseline > 0 {
		vs = fmt.Sprintf("%.2fx", s.VsBaseline)
	}
	runs := strconv.Itoa(s.Runs)
	if s.Failures > 0 {
		runs += fmt.Sprintf(" (+%d failed)", s.Failures)
	}
	return []string{s.Config, runs, fmt.Sprintf("%.2f", s.WallSec), fmt.Sprintf("%.0f", s.MBPerSec),
		fmt.Sprintf("%.1f", s.CPUSec), fmt.Sprintf("%.0f", float64(s.BytesOut)/1e6),
		fmt.Sprintf("%.2f", float64(s.BytesOut)/float64(dataBytes)), fmt.Sprintf("%.0f", s.PeakRSSMiB), vs}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	return s
}

func writeTable(w io.Writer, rep benchReport) {
	fmt.Fprintf(w, "scenario: %s; data set %s, %.0f MB in databases; medians of %d-run groups\n",
		rep.Scenario, rep.Dataset, float64(rep.DataBytes)/1e6, maxRuns(rep.Summaries))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t")+"\t")
	for _, s := range rep.Summaries {
		fmt.Fprintln(tw, strings.Join(tableRow(s, rep.DataBytes), "\t")+"\t")
	}
	tw.Flush()
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func maxRuns(sums []summary) int {
	n := 0
	for _, s := range sums {
		n = max(n, s.Runs+s.Failures)
	}
	return n
}

func writeGoals(w io.Writer, goals []goal) {
	for _, g := range goals {
		fmt.Fprintln(w, goalLine(g))
	}
}

func goalLine(g goal) string {
	if g.Missing != "" {
		return fmt.Sprintf("goal  n/a   %s %s: not measured (%s)", g.Name, g.Target, g.Missing)
	}
	verdict := "MISSED"
	if g.Met {
		verdict = "met"
	}
	return fmt.Sprintf("goal  %-6s %s %s: %.2f%s", verdict, g.Name, g.Target, g.Measured, unitSuffix(g.Unit))
}

func unitSuffix(u string) string {
	if u == "x" {
		return "x"
	}
	return " " + u
}

// recommendation names the fastest pgpull settings for each compression.
func recommendation(sums []summary) string {
	var parts []string
	var order []string
	best := map[string]summary{}
	for _, s := range sums {
		if s.Tool != toolPgpull || s.Runs == 0 {
			continue
		}
		b, ok := best[s.Compress]
		if !ok {
			order = append(order, s.Compress)
		}
		if !ok || s.WallSec < b.WallSec {
			best[s.Compress] = s
		}
	}
	for _, c := range order {
		b := best[c]
		parts = append(parts, fmt.Sprintf("-Z %s: -j %s --range-size %s (%.0f MB/s)", c, jobsArg(b.Jobs), b.RangeSize, b.MBPerSec))
	}
	if len(parts) == 0 {
		return "recommend: no successful pgpull runs"
	}
	return "recommend: " + strings.Join(parts, "; ")
}

func writeSamplesCSV(w io.Writer, samples []sample) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"config", "tool", "jobs", "range_size", "compress", "run", "wall_s", "user_s", "sys_s", "cpu_s", "bytes_out", "peak_rss_kib", "error"})
	for _, s := range samples {
		cw.Write([]string{s.Config, s.Tool, strconv.Itoa(s.Jobs), s.RangeSize, s.Compress, strconv.Itoa(s.Run),
			ff(s.WallSec), ff(s.UserSec), ff(s.SysSec), ff(s.CPUSec()), strconv.FormatInt(s.BytesOut, 10),
			strconv.FormatInt(s.PeakRSSKiB, 10), s.Error})
	}
	cw.Flush()
	return cw.Error()
}

func writeSummaryCSV(w io.Writer, sums []summary) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"config", "tool", "jobs", "range_size", "compress", "runs", "failures", "wall_s", "cpu_s", "bytes_out", "peak_rss_mib", "mb_per_s", "speedup_vs_pg_basebackup"})
	for _, s := range sums {
		cw.Write([]string{s.Config, s.Tool, strconv.Itoa(s.Jobs), s.RangeSize, s.Compress, strconv.Itoa(s.Runs), strconv.Itoa(s.Failures),
			ff(s.WallSec), ff(s.CPUSec), strconv.FormatInt(s.BytesOut, 10), ff(s.PeakRSSMiB), ff(s.MBPerSec), ff(s.VsBaseline)})
	}
	cw.Flush()
	return cw.Error()
}

func ff(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
