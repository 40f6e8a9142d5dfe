#!/usr/bin/env bash
# Freezes the full install script of a released version, generated from the commit that released it:
#   scripts/release-snapshot.sh <version> <git-commit>
# Makes a git worktree of <git-commit> under target/, runs `cargo pgrx schema` there (the same
# generator `cargo pgrx install` uses), writes sql/released/rekor_meta--<version>.sql and removes the
# worktree. The commit's Cargo version must be <version>. Released scripts are committed and never
# edited; scripts/install.sh and scripts/package.sh install them next to the current version's
# generated script and the upgrade scripts (sql/upgrade/), so that
# `CREATE EXTENSION rekor_meta VERSION '<version>'` and `ALTER EXTENSION rekor_meta UPDATE` work.
# Run it when a version is released (README "Making a release"); it refuses to overwrite a frozen
# script that differs unless REKOR_SNAPSHOT_OVERWRITE=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ $# -ne 2 ]; then
  echo "usage: $0 <version> <git-commit>" >&2
  exit 2
fi
VERSION="$1"
if ! [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "[release-snapshot] version must be X.Y.Z, got '$VERSION'" >&2
  exit 2
fi
COMMIT="$(git rev-parse --verify --quiet "$2^{commit}")" || { echo "[release-snapshot] not a commit: $2" >&2; exit 2; }
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
export CARGO_TARGET_DIR="$ROOT/target/release-snapshot"
WT="$ROOT/target/release-snapshot-worktree-$VERSION"
OUT="$ROOT/sql/released/rekor_meta--$VERSION.sql"

cleanup() {
  git -C "$ROOT" worktree remove --force "$WT" >/dev/null 2>&1 || rm -rf "$WT"
  git -C "$ROOT" worktree prune
}
trap cleanup EXIT
cleanup
echo "[release-snapshot] worktree of $COMMIT in $WT"
git -C "$ROOT" worktree add --detach --quiet "$WT" "$COMMIT"

COMMIT_VERSION="$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' "$WT/Cargo.toml" | head -n 1)"
if [ "$COMMIT_VERSION" != "$VERSION" ]; then
  echo "[release-snapshot] commit $COMMIT is version '$COMMIT_VERSION' (Cargo.toml), not $VERSION" >&2
  exit 1
fi

echo "[release-snapshot] cargo pgrx schema pg15 (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
(cd "$WT" && cargo pgrx schema pg15 --pg-config "$PG_CONFIG" --out "$WT/rekor_meta--$VERSION.sql" 2>&1 \
  | grep -vE '^\s+(Compiling|Checking)' | tail -n 5)
test -s "$WT/rekor_meta--$VERSION.sql"
if [ -e "$OUT" ] && ! cmp -s "$WT/rekor_meta--$VERSION.sql" "$OUT" && [ "${REKOR_SNAPSHOT_OVERWRITE:-0}" != 1 ]; then
  echo "[release-snapshot] ${OUT#$ROOT/} exists and differs from what $COMMIT generates; released scripts are" >&2
  echo "[release-snapshot] never edited (set REKOR_SNAPSHOT_OVERWRITE=1 only if $VERSION was never published)" >&2
  diff -u "$OUT" "$WT/rekor_meta--$VERSION.sql" | head -n 40 >&2 || true
  exit 1
fi
mkdir -p "$(dirname "$OUT")"
cp "$WT/rekor_meta--$VERSION.sql" "$OUT"
echo "[release-snapshot] wrote ${OUT#$ROOT/} ($(wc -l < "$OUT") lines) from $COMMIT"
