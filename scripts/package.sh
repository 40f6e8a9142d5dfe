#!/usr/bin/env bash
# Builds the installable artifacts of rekor_meta for PostgreSQL 15 (run by scripts/test.sh before the
# client tests, and by deploy/docker/Dockerfile's builder stage: one build path for both):
#   scripts/package.sh
# writes into target/dist/:
#   rekor_meta-<version>-pg15-<arch>.tar.gz   payload at its Debian paths (usr/lib/postgresql/15/lib,
#                                             usr/share/postgresql/15/extension), SHA256SUMS and an
#                                             install.sh (deploy/package/install.sh) that installs it
#                                             into any PostgreSQL 15 (pg_config) and verifies the sums
#   postgresql-15-rekor-meta_<version>-<rev>_<arch>.deb   the same files, built with dpkg-deb
# Both carry the current version's generated install script (from sql/schema/), every upgrade script
# (sql/upgrade/) and every released install script (sql/released/rekor_meta--X.Y.Z.sql), as
# scripts/install.sh installs them, so that
# `CREATE EXTENSION rekor_meta VERSION '<released>'` and `ALTER EXTENSION rekor_meta UPDATE` work.
# The build is `cargo pgrx package` (release profile, the same cargo build as
# `scripts/install.sh --release`, so after that it only re-links nothing and regenerates the schema).
# Environment: PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config), REKOR_DEB_REVISION (default 1),
# REKOR_DEB_MAINTAINER.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PG_MAJOR=15
PG_CONFIG="${PG_CONFIG:-$(command -v /usr/lib/postgresql/${PG_MAJOR}/bin/pg_config || command -v pg_config)}"
log() { printf '[package] %s\n' "$*"; }

got_major="$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')"
[ "$got_major" = "$PG_MAJOR" ] || { echo "[package] $PG_CONFIG is PostgreSQL $got_major, not $PG_MAJOR" >&2; exit 1; }
VERSION="$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
ARCH="$(dpkg --print-architecture)"
DEB_REVISION="${REKOR_DEB_REVISION:-1}"
NAME="rekor_meta-${VERSION}-pg${PG_MAJOR}-${ARCH}"
DIST="$ROOT/target/dist"
PGRX_OUT="$DIST/pgrx"
STAGE="$DIST/$NAME"
DEBPKG="postgresql-${PG_MAJOR}-rekor-meta"
DEBNAME="${DEBPKG}_${VERSION}-${DEB_REVISION}_${ARCH}"
DEBROOT="$DIST/$DEBNAME"

rm -rf "$PGRX_OUT" "$STAGE" "$DEBROOT" "$DIST/$NAME.tar.gz" "$DIST/$DEBNAME.deb"
mkdir -p "$DIST"

log "cargo pgrx package (release, pg_config=$PG_CONFIG)"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$PGRX_OUT" 2>&1 \
  | grep -vE '^\s+(Compiling|Checking)' | tail -n 5

PKGLIBDIR="$("$PG_CONFIG" --pkglibdir)"
EXTDIR="$("$PG_CONFIG" --sharedir)/extension"
# pgrx writes the files under --out-dir at their absolute paths.
SO="$PGRX_OUT$PKGLIBDIR/rekor_meta.so"
[ -f "$SO" ] || { echo "[package] cargo pgrx package wrote no $SO" >&2; exit 1; }
[ -f "$PGRX_OUT$EXTDIR/rekor_meta--$VERSION.sql" ] || { echo "[package] no generated rekor_meta--$VERSION.sql" >&2; exit 1; }
grep -q "default_version = '$VERSION'" "$PGRX_OUT$EXTDIR/rekor_meta.control" \
  || { echo "[package] rekor_meta.control does not name default_version $VERSION" >&2; exit 1; }

# The payload, relative to /: every file of pgrx's package plus the released install scripts and the
# upgrade scripts. The layout is Debian's (pg_config's paths on Debian and in the PostgreSQL /
# CloudNativePG images).
mkdir -p "$STAGE"
(cd "$PGRX_OUT" && find . -type f | sort) | while read -r f; do
  install -D -m 0644 "$PGRX_OUT/$f" "$STAGE/payload/${f#./}"
done
for f in sql/released/rekor_meta--*.sql; do
  v="${f#sql/released/rekor_meta--}"
  v="${v%.sql}"
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "[package] $f: not a released install script (rekor_meta--X.Y.Z.sql)" >&2; exit 1; }
  [ "$v" = "$VERSION" ] && continue                      # the current version: pgrx's generated script
  install -D -m 0644 "$f" "$STAGE/payload${EXTDIR}/rekor_meta--$v.sql"
done
for f in sql/upgrade/rekor_meta--*--*.sql; do
  [ -e "$f" ] || continue
  install -D -m 0644 "$f" "$STAGE/payload${EXTDIR}/$(basename "$f")"
done
compgen -G "$STAGE/payload${EXTDIR}/rekor_meta--*--$VERSION.sql" >/dev/null \
  || { echo "[package] no upgrade script into $VERSION (sql/upgrade/rekor_meta--<released>--$VERSION.sql)" >&2; exit 1; }
chmod 0644 "$STAGE/payload${PKGLIBDIR}/rekor_meta.so"  # Debian policy: shared objects are not executable
install -m 0755 deploy/package/install.sh "$STAGE/install.sh"
COMMIT=unknown
if git rev-parse --verify --quiet HEAD >/dev/null 2>&1; then
  COMMIT="$(git rev-parse --short=12 HEAD)"
  git diff --quiet HEAD -- src sql core Cargo.toml Cargo.lock rekor_meta.control 2>/dev/null || COMMIT="$COMMIT+changes"
fi
cat > "$STAGE/VERSION" <<EOF
name=rekor_meta
version=$VERSION
pg_major=$PG_MAJOR
arch=$ARCH
pkglibdir=$PKGLIBDIR
extdir=$EXTDIR
commit=$COMMIT
EOF
(cd "$STAGE/payload" && find . -type f | sort | sed 's|^\./||' | xargs sha256sum) > "$STAGE/SHA256SUMS"
tar -C "$DIST" --owner=0 --group=0 --numeric-owner --sort=name -czf "$DIST/$NAME.tar.gz" "$NAME"
log "$DIST/$NAME.tar.gz"

# The Debian package: the tarball's own install.sh writes the tree (DESTDIR), so both artifacts
# hold the same files by construction.
DESTDIR="$DEBROOT" "$STAGE/install.sh" --pg-config "$PG_CONFIG" >/dev/null
# Shared-library dependencies: the package of each NEEDED library, with the highest GLIBC symbol
# version the library uses as libc6's minimum (what dpkg-shlibdeps would find for this .so).
deps="postgresql-${PG_MAJOR}"
glibc_min="$(objdump -T "$SO" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
for lib in $(readelf -d "$SO" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  path="$(ldconfig -p | awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }')"  # reads to the end: an early exit would SIGPIPE ldconfig (pipefail)
  [ -n "$path" ] || continue
  pkg="$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)" || true
  [ -n "$pkg" ] || pkg="$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)" || true
  [ -n "$pkg" ] || continue
  case "$pkg" in
    libc6) dep="libc6 (>= ${glibc_min:-2.34})" ;;
    *) dep="$pkg" ;;
  esac
  case ", $deps, " in *", $dep, "*) ;; *) deps="$deps, $dep" ;; esac
done
mkdir -p "$DEBROOT/DEBIAN"
cat > "$DEBROOT/DEBIAN/control" <<EOF
Package: $DEBPKG
Version: ${VERSION}-${DEB_REVISION}
Architecture: $ARCH
Maintainer: ${REKOR_DEB_MAINTAINER:-rekor_meta maintainers <rekor-meta@localhost>}
Installed-Size: $(du -sk --exclude=DEBIAN "$DEBROOT" | cut -f1)
Depends: $deps
Section: database
Priority: optional
Description: Rekor transparency-log evidence verified inside PostgreSQL ${PG_MAJOR}
 rekor_meta is a PostgreSQL extension that stores Sigstore Rekor entries,
 their Merkle inclusion proofs and the log's signed checkpoints, and verifies
 them inside the database. Install, then CREATE EXTENSION rekor_meta.
 Includes the released install scripts and every upgrade script, so
 ALTER EXTENSION rekor_meta UPDATE works from any released version.
EOF
(cd "$DEBROOT" && find . -path ./DEBIAN -prune -o -type f -print | sort | sed 's|^\./||' | xargs md5sum) > "$DEBROOT/DEBIAN/md5sums"
find "$DEBROOT" -type d -exec chmod 0755 {} +
dpkg-deb --root-owner-group -Zxz --build "$DEBROOT" "$DIST/$DEBNAME.deb" >/dev/null
log "$DIST/$DEBNAME.deb (Depends: $deps)"
rm -rf "$PGRX_OUT" "$DEBROOT"
# Stable names for the Dockerfile and the tests (the versioned files are what gets published).
ln -sfn "$NAME.tar.gz" "$DIST/rekor_meta-pg${PG_MAJOR}.tar.gz"
ln -sfn "$DEBNAME.deb" "$DIST/${DEBPKG}.deb"
