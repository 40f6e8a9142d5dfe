#!/usr/bin/env bash
# The main job: build and install rekor_meta, start (or reuse) a private PostgreSQL 15 cluster,
# create the extension in database rekor_demo, and show it verifying real Rekor data.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
bash scripts/install.sh --release
bash scripts/cluster.sh start
eval "$(bash scripts/cluster.sh env)"
DB=rekor_demo
# The cluster is reused; the demo database is made afresh so every run shows the same thing.
psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
psql -q -X -d "$DB" -c "CREATE EXTENSION rekor_meta"
F=tests/fixtures
psql -X -d "$DB" -v bodies="$(cat $F/demo_bodies.json)" -v keys="$(cat $F/keys.json)" \
  -v rest1="$(cat $F/upstream/rest-entry.json)" -v rest2="$(cat $F/upstream/rest-entry-2.json)" \
  -v bundle_dsse="$(cat $F/upstream/bundle-dsse.sigstore.json)" -v bundle_hr="$(cat $F/upstream/bundle-v0.3-hashedrekord.sigstore.json)" \
  -v bundle_v2="$(cat $F/upstream/bundle-rekor-v2.sigstore.json)" \
  -v root_production="$(cat $F/trusted_root/production.trusted_root.json)" -v root_staging="$(cat $F/trusted_root/staging.trusted_root.json)" \
  -v shards="$(cat $F/rekor_v1_shards.json)" -f scripts/demo.sql
# The whole pipeline on this machine: local Rekor, cosign, the submitter (scripts/demo-pipeline.sh).
bash scripts/demo-pipeline.sh "$DB"
echo
echo "rekor_meta is installed in database $DB. Connect with:"
echo "  psql -h $PGHOST -p $PGPORT -U postgres $DB"
