// Package restore is one run of `pgpull restore`: a backup in any form pgpull writes (a plain
// directory, a tar stream, -F tar archives, S3 objects, or a chain of a full backup and
// incremental ones) turned into a data directory that starts, checked against its
// backup_manifest while it is written.
//
// The reading and the checking are internal/backupcheck's: restore is the Checker's Copier
// (extract.go), which puts each file where it belongs, tablespaces in their target
// directories. The data directory holds sinks.IncompleteMarker and no global/pg_control until
// the whole backup has been read and found as its manifest says, so that a restore cut short
// or refused can never start; a refused restore removes what it wrote. Then come the recovery
// settings (recovery.go), the owner and modes, pg_control, and the marker goes.
package restore
