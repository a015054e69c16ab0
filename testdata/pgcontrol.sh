#!/usr/bin/env bash
# testdata/pgcontrol.sh [MAJOR...]: regenerate testdata/pgcontrol/MAJOR/pg_control (13 to 18 by
# default): global/pg_control of a cluster freshly made by that major's initdb with data checksums,
# and beside it system_identifier, the identifier as the server itself reports it
# (pg_control_system() in single-user mode, whose shutdown checkpoint writes the file copied).
# Run as root from anywhere in the repository; initdb runs as the OS user postgres, and
# .ci/pg-majors supplies (and caches) each major's binaries.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(13 14 15 16 17 18)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
chown postgres "$scratch"

for major in "${majors[@]}"; do
  bin=$("$root/.ci/pg-majors" "$major")
  runuser -u postgres -- "$bin/initdb" -D "$scratch/$major" --data-checksums -U postgres -A trust >/dev/null
  mkdir -p "$root/testdata/pgcontrol/$major"
  echo 'SELECT system_identifier FROM pg_control_system();' |
    runuser -u postgres -- "$bin/postgres" --single -D "$scratch/$major" postgres 2>/dev/null |
    sed -n 's/.*system_identifier = "\([0-9]*\)".*/\1/p' >"$root/testdata/pgcontrol/$major/system_identifier"
  [ -s "$root/testdata/pgcontrol/$major/system_identifier" ] || { echo "$0: $major: no system identifier from the server" >&2; exit 1; }
  install -m 644 "$scratch/$major/global/pg_control" "$root/testdata/pgcontrol/$major/pg_control"
  echo "testdata/pgcontrol/$major/pg_control: $("$bin/postgres" --version)"
done
