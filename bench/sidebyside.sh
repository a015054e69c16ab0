#!/bin/bash
# Side-by-side check of two or more pgpull builds against one running cluster (issue 8's
# before/after): build each commit to a binary first (git archive COMMIT | tar -x; go build
# ./cmd/pgpull), start a cluster, and set the DSN below.
# Interleaved runs: each round runs every binary once with each compression, in turn.
# usage: run.sh ROUNDS BIN...
rounds=$1; shift
dsn="host=/tmp/layout-bench/pg/sock port=45432 user=postgres dbname=postgres"
for r in $(seq 1 $rounds); do
  for z in none gzip:1; do
    for bin in "$@"; do
      s=$(date +%s.%N)
      bytes=$("$bin" backup -j 4 -c fast -z $z "$dsn" - | wc -c)
      rc=${PIPESTATUS[0]}
      e=$(date +%s.%N)
      echo "$(basename $bin) z=$z round=$r rc=$rc bytes=$bytes secs=$(echo "$e - $s" | bc)"
    done
  done
done
