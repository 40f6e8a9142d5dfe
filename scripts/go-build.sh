#!/usr/bin/env bash
# Builds the pinned Go programs the real-Rekor tests need (go install through the Go module proxy) into
# $REKOR_GO_CACHE/bin (default /var/cache/rekor_meta-go). Each binary is rebuilt only when missing or when
# its embedded module version (go version -m) differs from the pin, so a warm run takes seconds.
#   scripts/go-build.sh            build what is missing, print the versions
# Pins: the newest releases whose go.mod builds with the Go on this machine kind (1.26): Rekor v1.5.5+ and
# Trillian v1.8+ / cosign v3.1+ declare go 1.27 / 1.26 toolchains; v1.5.4 is the last Rekor on go 1.25
# and uses Trillian v1.7.3 itself. Rekor v2 is rekor-tiles v2.3.0 (go 1.25.8; v2.4+ needs go 1.27): its
# POSIX server (cmd/rekor-server/posix, Tessera on a local directory, no cloud emulator), installed as
# rekor-tiles-server (go install would name it "posix").
set -euo pipefail
REKOR_VERSION="${REKOR_VERSION:-v1.5.4}"
TRILLIAN_VERSION="${TRILLIAN_VERSION:-v1.7.3}"
COSIGN_VERSION="${COSIGN_VERSION:-v2.6.5}"
REKOR_TILES_VERSION="${REKOR_TILES_VERSION:-v2.3.0}"
CACHE="${REKOR_GO_CACHE:-/var/cache/rekor_meta-go}"
export GOBIN="$CACHE/bin" GOPATH="$CACHE/gopath" GOCACHE="$CACHE/build" GOFLAGS="-buildvcs=false -trimpath" CGO_ENABLED=0
export GOTOOLCHAIN=local
mkdir -p "$GOBIN"
GO="$(command -v go || echo /usr/local/go/bin/go)"
if [ ! -x "$GO" ]; then echo "[go-build] go is not installed (this needs a machine kind with Go)" >&2; exit 1; fi
log() { printf '[go-build] %s\n' "$*"; }

# name  package  module  version
want() {
  local bin="$1" pkg="$2" mod="$3" ver="$4" have
  have="$("$GO" version -m "$GOBIN/$bin" 2>/dev/null | awk -v m="$mod" '$1 == "mod" && $2 == m { print $3 }' || true)"
  if [ "$have" = "$ver" ]; then return 0; fi
  log "go install $pkg@$ver (have: ${have:-none})"
  local t0=$SECONDS
  if [ "$bin" = "${pkg##*/}" ]; then
    "$GO" install "$pkg@$ver"
  else
    # Installed under another name: go install into a staging directory, then renamed.
    local stage="$CACHE/stage-$bin"
    rm -rf "$stage"
    GOBIN="$stage" "$GO" install "$pkg@$ver"
    mv "$stage/${pkg##*/}" "$GOBIN/$bin"
    rm -rf "$stage"
  fi
  log "built $bin in $((SECONDS - t0)) s"
}

want trillian_log_server github.com/google/trillian/cmd/trillian_log_server github.com/google/trillian "$TRILLIAN_VERSION"
want trillian_log_signer github.com/google/trillian/cmd/trillian_log_signer github.com/google/trillian "$TRILLIAN_VERSION"
want createtree github.com/google/trillian/cmd/createtree github.com/google/trillian "$TRILLIAN_VERSION"
want rekor-server github.com/sigstore/rekor/cmd/rekor-server github.com/sigstore/rekor "$REKOR_VERSION"
want cosign github.com/sigstore/cosign/v2/cmd/cosign github.com/sigstore/cosign/v2 "$COSIGN_VERSION"
want rekor-tiles-server github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix github.com/sigstore/rekor-tiles/v2 "$REKOR_TILES_VERSION"
log "go $("$GO" env GOVERSION); rekor-server $REKOR_VERSION, trillian $TRILLIAN_VERSION, cosign $COSIGN_VERSION, rekor-tiles $REKOR_TILES_VERSION in $GOBIN"
