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

// Hand-written schema, loaded in this order after the functions each file uses.
pgrx::extension_sql_file!("../sql/000_common.sql", name = "common");
pgrx::extension_sql_file!(
    "../sql/010_logs.sql",
    name = "logs",
    requires = ["common", checkpoint::rekor_parse_log_key]
);
pgrx::extension_sql_file!(
    "../sql/020_checkpoints.sql",
    name = "checkpoints",
    requires = [
        "logs",
        checkpoint::rekor_checkpoint_fields,
        checkpoint::rekor_checkpoint_signed_by,
        merkle::rekor_verify_consistency
    ]
);
pgrx::extension_sql_file!(
    "../sql/030_entries.sql",
    name = "entries",
    requires = [
        "checkpoints",
        entry::rekor_parse_rest_response,
        entry::rekor_parse_bundle,
        entry::rekor_inclusion_proof_error,
        entry::rekor_checkpoint_check,
        entry::rekor_entry_evidence_check,
        entry::rekor_verify_set,
        entry::rekor_body_info,
        entry::rekor_digest_key,
        merkle::rekor_leaf_hash
    ]
);
pgrx::extension_sql_file!(
    "../sql/040_queue.sql",
    name = "queue",
    requires = ["entries", queue::rekor_dsse_info, queue::rekor_entry_envelope_mismatch]
);
pgrx::extension_sql_file!("../sql/090_roles.sql", name = "roles", requires = ["queue"]);
// 0.2.0: the upgrade script is also the last part of the full install script, so a fresh 0.2.0 and
// an upgraded 0.1.0 run the same statements (see README "Upgrading"). Released full scripts are
// frozen in sql/rekor_meta--<version>.sql by scripts/release-snapshot.sh.
pgrx::extension_sql_file!("../sql/rekor_meta--0.1.0--0.2.0.sql", name = "vex_0_2_0", requires = ["roles", queue::rekor_array_shape]);
// 0.3.0 (the security release): appended the same way; the C functions it names are created first.
pgrx::extension_sql_file!(
    "../sql/rekor_meta--0.2.0--0.3.0.sql",
    name = "security_0_3_0",
    requires = [
        "vex_0_2_0",
        entry::rekor_entry_evidence,
        checkpoint::rekor_note_tree_id,
        checkpoint::rekor_verify_checkpoint_named,
        checkpoint::rekor_verify_checkpoint_named_text,
        queue::rekor_verifier_check
    ]
);
