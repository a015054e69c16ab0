#!/usr/bin/env bash
# testdata/manifest.sh [MAJOR...]: regenerate testdata/manifest/MAJOR/backup_manifest (13, 14 and
# 15 by default): the manifest Debian's pg_basebackup 15 receives from a fresh server of that
# major (pg_basebackup 15 refuses newer servers). Beside it, files lists each file of the backup
# with its size as on disk (pg_wal too), for the tests to hold the manifest to. Run as root; the server runs as
# the OS user postgres, binaries from .ci/pg-majors.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
client=/usr/lib/postgresql/15/bin
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(13 14 15)

scratch=$(mktemp -d)
chown postgres "$scratch"
stop() { for d in "$scratch"/*/data; do [ -f "$d/postmaster.pid" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$d" -m immediate stop >/dev/null || true; done; rm -rf "$scratch"; }
trap stop EXIT

for major in "${majors[@]}"; do
  bin=$("$root/.ci/pg-majors" "$major")
  mkdir "$scratch/$major" && chown postgres "$scratch/$major"
  runuser -u postgres -- "$bin/initdb" -D "$scratch/$major/data" --data-checksums -U postgres -A trust >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$scratch/$major/data" -w -l "$scratch/$major/log" \
    -o "-c listen_addresses='' -k $scratch/$major -p 5432" start >/dev/null
  "$client/pg_basebackup" -h "$scratch/$major" -p 5432 -U postgres -D "$scratch/$major/backup" -X fetch -c fast
  runuser -u postgres -- "$bin/pg_ctl" -D "$scratch/$major/data" -m fast stop >/dev/null
  out="$root/testdata/manifest/$major"
  mkdir -p "$out"
  install -m 644 "$scratch/$major/backup/backup_manifest" "$out/backup_manifest"
  (cd "$scratch/$major/backup" && find . -type f ! -name backup_manifest -printf '%P %s\n' | LC_ALL=C sort) >"$out/files"
  echo "testdata/manifest/$major/backup_manifest: server $("$bin/postgres" --version), client $("$client/pg_basebackup" --version)"
done
