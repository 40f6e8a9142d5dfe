//! In-database tests (`cargo pgrx test`): every SQL function, and the SQLSTATE of each error class.
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// Runs `query` in a PL/pgSQL exception block and returns the SQLSTATE it raised (None if none).
    pub fn sqlstate_of(query: &str) -> Option<String> {
        Spi::run(
            "CREATE OR REPLACE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
             BEGIN EXECUTE q; RETURN NULL; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$",
        )
        .expect("create helper");
        Spi::get_one_with_args::<String>("SELECT pg_temp.sqlstate_of($1)", &[query.into()]).expect("spi")
    }

    /// The error message `query` raised.
    pub fn message_of(query: &str) -> Option<String> {
        Spi::run(
            "CREATE OR REPLACE FUNCTION pg_temp.message_of(q text) RETURNS text LANGUAGE plpgsql AS $$
             DECLARE m text; d text;
             BEGIN EXECUTE q; RETURN NULL;
             EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL;
               RETURN m || ' | ' || coalesce(d, ''); END $$",
        )
        .expect("create helper");
        Spi::get_one_with_args::<String>("SELECT pg_temp.message_of($1)", &[query.into()]).expect("spi")
    }

    fn bool_of(q: &str) -> Option<bool> {
        Spi::get_one::<bool>(q).expect("spi")
    }

    fn hex_of(q: &str) -> String {
        hex::encode(Spi::get_one::<Vec<u8>>(q).expect("spi").expect("not null"))
    }

    const ROOT8: &str = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";
    const LEAVES8: &str = "ARRAY['\\x'::bytea, '\\x00', '\\x10', '\\x2021', '\\x3031', '\\x40414243', \
                           '\\x5051525354555657', '\\x606162636465666768696a6b6c6d6e6f']::bytea[]";

    #[pg_test]
    fn leaf_and_node_hash_match_rfc6962() {
        assert_eq!(hex_of("SELECT rekor_leaf_hash(''::bytea)"), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
        assert_eq!(
            hex_of("SELECT rekor_node_hash(rekor_leaf_hash(''::bytea), rekor_leaf_hash('\\x00'::bytea))"),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
        assert_eq!(sqlstate_of("SELECT rekor_node_hash('\\x01'::bytea, '\\x02'::bytea)").as_deref(), Some("22023"));
        assert!(message_of("SELECT rekor_node_hash('\\x01'::bytea, rekor_leaf_hash(''))").unwrap().starts_with("left hash is not a 32-byte"));
        assert_eq!(Spi::get_one::<Vec<u8>>("SELECT rekor_leaf_hash(NULL)").unwrap(), None);
    }

    #[pg_test]
    fn merkle_root_of_reference_tree() {
        assert_eq!(hex_of(&format!("SELECT rekor_merkle_root({LEAVES8})")), ROOT8);
        assert_eq!(hex_of("SELECT rekor_merkle_root('{}'::bytea[])"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sqlstate_of("SELECT rekor_merkle_root(ARRAY['\\x00'::bytea, NULL])").as_deref(), Some("22023"));
    }

    #[pg_test]
    fn inclusion_proofs_round_trip_for_every_leaf() {
        for i in 0..8 {
            let q = format!(
                "SELECT rekor_verify_inclusion_proof(rekor_leaf_hash(({LEAVES8})[{}]), {i}, 8, \
                 rekor_merkle_inclusion_proof({LEAVES8}, {i}), rekor_merkle_root({LEAVES8}))",
                i + 1
            );
            assert_eq!(bool_of(&q), Some(true), "leaf {i}");
            let root = hex_of(&format!(
                "SELECT rekor_inclusion_root(rekor_leaf_hash(({LEAVES8})[{}]), {i}, 8, rekor_merkle_inclusion_proof({LEAVES8}, {i}))",
                i + 1
            ));
            assert_eq!(root, ROOT8);
        }
    }

    #[pg_test]
    fn a_wrong_root_or_tampered_proof_returns_false() {
        let q = format!(
            "SELECT rekor_verify_inclusion_proof(rekor_leaf_hash('\\x00'::bytea), 1, 8, \
             rekor_merkle_inclusion_proof({LEAVES8}, 1), rekor_leaf_hash('x'))"
        );
        assert_eq!(bool_of(&q), Some(false));
        let q = format!(
            "SELECT rekor_verify_inclusion_proof(rekor_leaf_hash('\\x00'::bytea), 1, 8, \
             (SELECT array_agg(CASE WHEN o = 2 THEN set_byte(p, 0, get_byte(p, 0) # 1) ELSE p END ORDER BY o) \
              FROM unnest(rekor_merkle_inclusion_proof({LEAVES8}, 1)) WITH ORDINALITY AS t(p, o)), \
             rekor_merkle_root({LEAVES8}))"
        );
        assert_eq!(bool_of(&q), Some(false));
    }

    #[pg_test]
    fn malformed_inclusion_input_raises_22023_naming_the_check() {
        let leaf = "rekor_leaf_hash('\\x00'::bytea)";
        let root = format!("rekor_merkle_root({LEAVES8})");
        let proof = format!("rekor_merkle_inclusion_proof({LEAVES8}, 1)");
        let cases = [
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, 8, 8, {proof}, {root})"), "leaf index is not less than tree size"),
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, 0, 0, '{{}}', {root})"), "tree size must be positive"),
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, -1, 8, {proof}, {root})"), "log_index must not be negative"),
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, 1, -8, {proof}, {root})"), "tree_size must not be negative"),
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, 1, 8, ({proof})[1:2], {root})"), "proof has the wrong number of hashes"),
            (format!("SELECT rekor_verify_inclusion_proof('\\x00'::bytea, 1, 8, {proof}, {root})"), "leaf hash is not a 32-byte"),
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, 1, 8, {proof}, '\\x00'::bytea)"), "root hash is not a 32-byte"),
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, 1, 8, {proof} || '\\x00'::bytea, {root})"), "proof hash [4] is not a 32-byte"),
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, 1, 8, {proof} || NULL::bytea, {root})"), "proof contains a NULL hash"),
            (format!("SELECT rekor_verify_inclusion_proof({leaf}, 1, 8, array_fill({leaf}, ARRAY[65]), {root})"), "proof is too long"),
            (format!("SELECT rekor_inclusion_root({leaf}, 9, 8, {proof})"), "leaf index is not less than tree size"),
            (format!("SELECT rekor_merkle_inclusion_proof({LEAVES8}, 8)"), "leaf index is not less than tree size"),
        ];
        for (q, want) in cases {
            assert_eq!(sqlstate_of(&q).as_deref(), Some("22023"), "{q}");
            let m = message_of(&q).unwrap();
            assert!(m.starts_with(want), "{q}: got {m}");
        }
    }

    #[pg_test]
    fn consistency_proofs_verify_and_errors_are_distinct() {
        for m in 1..8 {
            let q = format!(
                "SELECT rekor_verify_consistency({m}, 8, rekor_merkle_root(({LEAVES8})[1:{m}]), rekor_merkle_root({LEAVES8}), \
                 rekor_merkle_consistency_proof({LEAVES8}, {m}))"
            );
            assert_eq!(bool_of(&q), Some(true), "size1 {m}");
        }
        let r3 = format!("rekor_merkle_root(({LEAVES8})[1:3])");
        let r8 = format!("rekor_merkle_root({LEAVES8})");
        let p = format!("rekor_merkle_consistency_proof({LEAVES8}, 3)");
        assert_eq!(bool_of(&format!("SELECT rekor_verify_consistency(3, 8, {r8}, {r8}, {p})")), Some(false));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_consistency(8, 8, {r8}, {r8}, '{{}}')")), Some(true));
        let cases = [
            (format!("SELECT rekor_verify_consistency(8, 3, {r3}, {r8}, {p})"), "size1 is greater than size2"),
            (format!("SELECT rekor_verify_consistency(0, 8, {r3}, {r8}, {p})"), "consistency proof from an empty tree"),
            (format!("SELECT rekor_verify_consistency(8, 8, {r8}, {r8}, {p})"), "consistency proof must be empty"),
            (format!("SELECT rekor_verify_consistency(3, 8, {r3}, {r8}, '{{}}')"), "consistency proof is empty"),
            (format!("SELECT rekor_verify_consistency(3, 8, {r3}, {r8}, ({p})[1:2])"), "proof has the wrong number of hashes"),
            (format!("SELECT rekor_verify_consistency(3, 8, '\\x01'::bytea, {r8}, {p})"), "root1 is not a 32-byte"),
            (format!("SELECT rekor_verify_consistency(-3, 8, {r3}, {r8}, {p})"), "size1 must not be negative"),
            (format!("SELECT rekor_merkle_consistency_proof({LEAVES8}, 0)"), "consistency proof from an empty tree"),
        ];
        for (q, want) in cases {
            assert_eq!(sqlstate_of(&q).as_deref(), Some("22023"), "{q}");
            let m = message_of(&q).unwrap();
            assert!(m.starts_with(want), "{q}: got {m}");
        }
    }
}
