#!/bin/bash
# Side-by-side timing of two or more pgpull builds against one running cluster, as issue 8's
# before/after check was run: build each commit to a binary first (git archive COMMIT | tar -x;
# go build ./cmd/pgpull). Each round runs every binary once per compression, in turn, so load on
# a shared machine falls on all of them alike.
# usage: PGPULL_BENCH_DSN='host=... dbname=...' bench/sidebyside.sh ROUNDS BIN...
set -u
dsn=${PGPULL_BENCH_DSN:?set PGPULL_BENCH_DSN to the cluster to back up}
rounds=$1
shift
for r in $(seq 1 "$rounds"); do
	for z in none gzip:1; do
		for bin in "$@"; do
			s=$(date +%s.%N)
			bytes=$("$bin" backup -j 4 -c fast -Z "$z" "$dsn" - | wc -c)
			rc=${PIPESTATUS[0]}
			e=$(date +%s.%N)
			echo "$(basename "$bin") z=$z round=$r rc=$rc bytes=$bytes secs=$(echo "$e - $s" | bc)"
		done
	done
done
