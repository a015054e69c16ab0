package main

import (
	"fmt"
	"strings"
)

// fixedCostHeader names the columns of the fixed-cost table; README.md explains them.
var fixedCostHeader = []string{"config", "first byte s", "last byte to exit s", "stream MB/s"}

// fixedCostRows splits each tool's wall time that streams to stdout into its fixed costs, the
// time to the first bytes (start, connections, checkpoint, the first reads) and from the last
// to the exit (the end of the backup on the server, closing), and the rate between, the
// databases' MB over the time from the first byte to the last. Tools that write elsewhere
// (pgBackRest's repository) have no row.
func fixedCostRows(sums []summary, dataBytes int64) [][]string {
	var rows [][]string
	for _, s := range sums {
		if s.Runs == 0 || s.FirstByteSec == 0 {
			continue
		}
		rate := "-"
		if stream := s.WallSec - s.FirstByteSec - s.TailSec; stream > 0 {
			rate = fmt.Sprintf("%.0f", float64(dataBytes)/1e6/stream)
		}
		rows = append(rows, []string{s.Config, fmt.Sprintf("%.3f", s.FirstByteSec), fmt.Sprintf("%.3f", s.TailSec), rate})
	}
	return rows
}

// renderFixedCosts writes the fixed-cost table as markdown, or nothing when no tool streamed.
func renderFixedCosts(b *strings.Builder, sums []summary, dataBytes int64) {
	rows := fixedCostRows(sums, dataBytes)
	if len(rows) == 0 {
		return
	}
	b.WriteString("\nFixed costs (medians; the stream rate from the median wall less both):\n\n")
	b.WriteString("| " + strings.Join(fixedCostHeader, " | ") + " |\n|" + strings.Repeat(" --- |", len(fixedCostHeader)) + "\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
}
