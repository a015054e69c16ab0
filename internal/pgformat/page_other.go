//go:build !amd64

package pgformat

// mixRows folds the rows into the lanes.
func mixRows(sums *[checksumLanes]uint32, rows []byte) { mixRowsGeneric(sums, rows) }
