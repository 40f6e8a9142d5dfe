//! rekor_meta: Rekor transparency-log evidence verified inside PostgreSQL.
//!
//! This crate is the thin shell: `#[pg_extern]` wrappers that map SQL values to the plain-Rust
//! core (`rekor_meta_core`) and map core errors to PostgreSQL errors with chosen SQLSTATEs.
//! Schema objects (tables, triggers, grants) live in `sql/` and are loaded in order below.
::pgrx::pg_module_magic!(name, version);

mod error;
mod args;
mod merkle;
mod checkpoint;
mod entry;
mod queue;
mod timestamp;
mod bundle;
mod trigger;

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}

// The current schema (sql/schema/, one file per concept), loaded in this order after the Rust
// functions each file uses. Every change to the schema edits these files and adds its statements
// to the upgrade script sql/upgrade/rekor_meta--<previous>--<version>.sql; the released versions'
// full install scripts are frozen in sql/released/ (scripts/release-snapshot.sh). README "Making a
// release"; tests/client/tests/upgrade.rs proves a fresh install equals every upgraded one.
pgrx::extension_sql_file!("../sql/schema/000_common.sql", name = "common");
pgrx::extension_sql_file!(
    "../sql/schema/010_logs.sql",
    name = "logs",
    requires = ["common", checkpoint::rekor_parse_log_key, timestamp::rekor_trusted_root_tsas]
);
pgrx::extension_sql_file!(
    "../sql/schema/020_checkpoints.sql",
    name = "checkpoints",
    requires = [
        "logs",
        checkpoint::rekor_checkpoint_fields,
        checkpoint::rekor_checkpoint_signed_by,
        merkle::rekor_verify_consistency
    ]
);
pgrx::extension_sql_file!(
    "../sql/schema/030_witness.sql",
    name = "witness",
    requires = ["checkpoints", checkpoint::rekor_checkpoint_signed_by]
);
pgrx::extension_sql_file!(
    "../sql/schema/040_entries.sql",
    name = "entries",
    requires = [
        "witness",
        entry::rekor_parse_rest_response,
        entry::rekor_parse_bundle,
        entry::rekor_inclusion_proof_error,
        entry::rekor_checkpoint_check,
        entry::rekor_entry_evidence,
        entry::rekor_verify_set,
        entry::rekor_body_info,
        entry::rekor_digest_key,
        checkpoint::rekor_note_tree_id,
        merkle::rekor_leaf_hash,
        timestamp::rekor_timestamp_check,
        bundle::rekor_bundle_material,
        bundle::rekor_entry_verifier_mismatch,
        bundle::rekor_bundle_export,
        queue::rekor_entry_envelope_mismatch,
        trigger::rekor_entries_verify
    ]
);
pgrx::extension_sql_file!(
    "../sql/schema/050_queue.sql",
    name = "queue",
    requires = [
        "entries",
        entry::rekor_parse_rest_response,
        entry::rekor_parse_bundle,
        queue::rekor_dsse_info,
        queue::rekor_dsse_info_batch,
        queue::rekor_entry_envelope_mismatch,
        queue::rekor_verifier_check,
        queue::rekor_array_shape
    ]
);
pgrx::extension_sql_file!(
    "../sql/schema/060_vex.sql",
    name = "vex",
    requires = ["queue", entry::rekor_body_digests, entry::rekor_digest_key]
);
// Last (finalize: after every generated function): roles, privileges, and the search_path of the
// C functions pgrx generates.
pgrx::extension_sql_file!("../sql/schema/090_roles.sql", name = "roles", finalize);
