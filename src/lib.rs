//! rekor_meta: Rekor transparency-log evidence verified inside PostgreSQL.
//!
//! This crate is the thin shell: `#[pg_extern]` wrappers that map SQL values to the plain-Rust
//! core (`rekor_meta_core`) and map core errors to PostgreSQL errors with chosen SQLSTATEs.
//! Schema objects (tables, triggers, grants) live in `sql/` and are loaded in order below.
::pgrx::pg_module_magic!(name, version);

mod error;
mod merkle;
mod checkpoint;

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
