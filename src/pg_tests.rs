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

    // ---------------------------------------------------------------------------------------------
    // Signed checkpoints, trusted logs, forks, consistency links and the witness.

    /// A SQL string literal.
    fn lit(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    fn text_of(q: &str) -> String {
        Spi::get_one::<String>(q).expect("spi").expect("not null")
    }

    fn int_of(q: &str) -> i64 {
        Spi::get_one::<i64>(q).expect("spi").expect("not null")
    }

    /// A test log over the 8-leaf reference tree: Ed25519 key from the seed SHA-256("rekor_meta pg_test
    /// log"), signer name and origin "pgtest.example"; notes signed outside (Ed25519 is deterministic).
    const PG_SPKI: &str = "MCowBQYDK2VwAyEAT0dSfjJ3P4womAkcoXjitCXrNJCARYwawOcQmSpaCv4=";
    const PG_LOG_ID: &str = "149273d67a940b626f28e2d02e5e31a41647aa5118783be97bea5891b714006d";
    const PG_N0: &str = "pgtest.example\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} pgtest.example FJJz1tF1myS3rDWDAaGVCRzsqFyHF0BXsyQCepui2wFtGPk/A+kAkN5MckoUFiRT9S5PI4WuwPCZ6qU6Rycomt4pqw8=\n";
    const PG_N3: &str = "pgtest.example\n3\nrra8/idLcKFPsGel5VeCZNsPqbUa9eC6FZFY8yngbnc=\n\n\u{2014} pgtest.example FJJz1gythyc7oDRzgsCH8WBtNSAXLAh/69+QaplUfPOZLDVcVWGzv20ATUDKHPm+voMRHMtPsCxW8lsy5/1DOuUYywg=\n";
    const PG_N8: &str = "pgtest.example\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\u{2014} pgtest.example FJJz1ilThDuwsCQns1cmYHM8idHN+GvHYljpSp+qBs+KxGYXWFN4YUCVR38lolY9+KGfd6NqLr6cVVX1Dd5tpN+rVAQ=\n";
    /// Size 8 of another history (the last leaf replaced): a fork of PG_N8.
    const PG_N8_FORK: &str = "pgtest.example\n8\nZwL0DF853p0hJvoYclTQdXnkSJ0/MLhxzmPwqnAlenQ=\n\n\u{2014} pgtest.example FJJz1r0YBDLGpE3aAp3bzlkb5OWec7lgsmJa2XcL4IgiJh9q8UYXCLqiUOrSN5u5mCUAKdXxFwg1MIxTeUMs91XiEAk=\n";
    /// PG_N8's text signed by another key under the same name.
    const PG_N8_OTHER_KEY: &str = "pgtest.example\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\u{2014} pgtest.example ljvnGfMvii0x2U2g8ny4qnjIj+LU9I1AY60+Deu9Osw8SOpiBL96x6YVMPYlg1qSBI4kT3CUM/mXLO9TJmdLIzFf/Q8=\n";
    /// Real checkpoints (tests/fixtures/checkpoints.json) and keys (keys.json).
    const V2_NOTE: &str = "log2025-1.rekor.sigstore.dev\n4855115\ngDfQHcPSkLDVUd/xeZWPsqSB7RTR0ho07k15jgzLOpw=\n\n\u{2014} log2025-1.rekor.sigstore.dev zxGZFXYHvtV6cW22YJx1dWx9IiuUHw4BuXZ3X81JAgK8sWX/HBQH2QdlDapqjMkp9GcrITop7jUG979FyKaY7C7VvQM=\n";
    const V2_SPKI: &str = "MCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244=";
    const V1_NOTE: &str = "rekor.sigstore.dev - 1193050959916656506\n1511664556\nRUgZIzsqWcdFQB/fbniVkUuw3Usx5BB6MF2UZTKD+qI=\n\n\u{2014} rekor.sigstore.dev wNI9ajBFAiBdzTyvKlf5WXgpVRdVlMVCeNUWQleCkNLg0UvtfSRf0AIhAPqrrk7wIrHB6ggjb9zgVdz0ZpNivlb2I/J/lu4A2DeD\n";
    const V1_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwr\nkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==\n-----END PUBLIC KEY-----\n";
    const P384_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEddWT4ZHzqllYPjP9RwEet/wHRzofWSmF\nyvWSW7exyMEfsgDXYKwqpL6KkSvVILZycFYvL9SvdItFRmt7jl+hxyI8NEYCvgPU\nwnhj4ASQUXnzANgF/VNdyOUviE7kvFBz\n-----END PUBLIC KEY-----\n";

    #[pg_test]
    fn parse_checkpoint_returns_the_fields() {
        let n8 = lit(PG_N8);
        assert_eq!(text_of(&format!("SELECT origin FROM rekor_parse_checkpoint({n8})")), "pgtest.example");
        assert_eq!(int_of(&format!("SELECT tree_size FROM rekor_parse_checkpoint({n8})")), 8);
        assert_eq!(hex_of(&format!("SELECT root_hash FROM rekor_parse_checkpoint({n8})")), ROOT8);
        assert_eq!(hex_of(&format!("SELECT (signatures[1]).key_hint FROM rekor_parse_checkpoint({n8})")), &PG_LOG_ID[..8]);
        assert_eq!(text_of(&format!("SELECT (signatures[1]).name FROM rekor_parse_checkpoint({n8})")), "pgtest.example");
        assert_eq!(int_of(&format!("SELECT length((signatures[1]).signature)::bigint FROM rekor_parse_checkpoint({n8})")), 64);
        assert_eq!(int_of(&format!("SELECT cardinality(extensions)::bigint FROM rekor_parse_checkpoint({n8})")), 0);
        // The raw fields behind it.
        assert_eq!(
            text_of(&format!("SELECT array_to_string(signature_names, ',') FROM rekor_checkpoint_fields({n8})")),
            "pgtest.example"
        );
        let ext = lit("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nTimestamp: 1\nx\n\n\u{2014} n AAAAAAA=\n");
        assert_eq!(text_of(&format!("SELECT array_to_string(extensions, '|') FROM rekor_parse_checkpoint({ext})")), "Timestamp: 1|x");
        assert_eq!(Spi::get_one::<String>("SELECT (rekor_parse_checkpoint(NULL)).origin").unwrap(), None);
    }

    #[pg_test]
    fn parse_checkpoint_errors_are_22p02_naming_the_line() {
        let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let sig = "\u{2014} n AAAAAAA=\n";
        let note = |body: &str| lit(&format!("{body}\n{sig}"));
        let big = format!(
            "'o\n5\n{root}\n' || repeat('x', 1048576) || {}",
            lit(&format!("\n\n{sig}"))
        );
        let cases = [
            (note(&format!("o\n+5\n{root}\n")), 2, "not a decimal number"),
            (note(&format!("o\n-5\n{root}\n")), 2, "not a decimal number"),
            (note(&format!("o\n007\n{root}\n")), 2, "leading zero"),
            (note(&format!("o\n9223372036854775808\n{root}\n")), 2, "larger than the maximum"),
            (note("o\n5\nAAAA\n"), 3, "decodes to 3 bytes"),
            (note("o\n5\n@@@@\n"), 3, "not canonical padded standard base64"),
            (note(&format!("o\r\n5\n{root}\n")), 1, "carriage return"),
            (lit(&format!("o\n5\n{root}\n{sig}")), 4, "no blank line"),
            (lit(&format!("o\n5\n{root}\n\n- n AAAAAAA=\n")), 5, "EM DASH"),
            (lit(&format!("o\n5\n{root}\n\n{}", sig.repeat(101))), 105, "more than 100 signature lines"),
            (big, 4, "over the limit"),
        ];
        for (arg, line, what) in cases {
            let q = format!("SELECT rekor_parse_checkpoint({arg})");
            assert_eq!(sqlstate_of(&q).as_deref(), Some("22P02"), "{q}");
            let m = message_of(&q).unwrap();
            assert!(m.starts_with("invalid checkpoint note: "), "{m}");
            assert!(m.contains(&format!("line {line}: ")) && m.contains(what), "want line {line} ({what}), got {m}");
        }
        // 100 signatures and 2^63 - 1 are accepted.
        assert_eq!(
            int_of(&format!("SELECT cardinality(signatures)::bigint FROM rekor_parse_checkpoint({})", lit(&format!("o\n5\n{root}\n\n{}", sig.repeat(100))))),
            100
        );
        assert_eq!(int_of(&format!("SELECT tree_size FROM rekor_parse_checkpoint({})", note(&format!("o\n9223372036854775807\n{root}\n")))), i64::MAX);
    }

    #[pg_test]
    fn verify_checkpoint_real_notes_and_key_errors() {
        let (v1, v2) = (lit(V1_NOTE), lit(V2_NOTE));
        let (v1k, v2k) = (lit(V1_PEM), lit(V2_SPKI));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint({v2}, {v2k}::text)")), Some(true));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint({v2}, decode({v2k}, 'base64'))")), Some(true));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint({v1}, {v1k}::text)")), Some(true));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint({v1}, convert_to({v1k}, 'UTF8'))")), Some(true));
        // Another log's key, a changed size, another signer's key: false.
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint({v1}, {v2k}::text)")), Some(false));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint({}, {v2k}::text)", lit(&V2_NOTE.replace("4855115", "4855116")))), Some(false));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint({}, {}::text)", lit(PG_N8_OTHER_KEY), lit(PG_SPKI))), Some(false));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint({}, {}::text)", lit(PG_N8), lit(PG_SPKI))), Some(true));
        // The signer-name-aware check.
        let pg = format!("decode({}, 'base64')", lit(PG_SPKI));
        assert_eq!(bool_of(&format!("SELECT rekor_checkpoint_signed_by({}, {pg}, 'pgtest.example')", lit(PG_N8))), Some(true));
        assert_eq!(bool_of(&format!("SELECT rekor_checkpoint_signed_by({}, {pg}, 'other.example')", lit(PG_N8))), Some(false));
        // Malformed keys: 22023; malformed notes: 22P02; NULL: NULL.
        for key in ["'garbage'::text", "''::text", "'\\x00'::bytea", "'\\x3000'::bytea"] {
            let q = format!("SELECT rekor_verify_checkpoint({v2}, {key})");
            assert_eq!(sqlstate_of(&q).as_deref(), Some("22023"), "{q}");
            assert!(message_of(&q).unwrap().starts_with("invalid public key"));
        }
        assert_eq!(sqlstate_of(&format!("SELECT rekor_verify_checkpoint({v2}, {}::text)", lit(P384_PEM))).as_deref(), Some("22023"));
        assert_eq!(sqlstate_of(&format!("SELECT rekor_checkpoint_signed_by({v2}, '\\x00'::bytea, 'x')")).as_deref(), Some("22023"));
        assert_eq!(sqlstate_of(&format!("SELECT rekor_verify_checkpoint('x', {v2k}::text)")).as_deref(), Some("22P02"));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint(NULL, {v2k}::text)")), None);
    }

    #[pg_test]
    fn add_log_returns_rekor_log_ids_and_rejects_bad_keys() {
        assert_eq!(
            hex_of(&format!("SELECT rekor_add_log({}, 'log2025-1.rekor.sigstore.dev')", lit(V2_SPKI))),
            "cf1199155bddd051268d1f16ac5c0c75c009f6fb5a63f4177f8e18d7051e3fa0"
        );
        let v1 = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d";
        assert_eq!(hex_of(&format!("SELECT rekor_add_log({}, 'rekor.sigstore.dev')", lit(V1_PEM))), v1);
        assert_eq!(hex_of(&format!("SELECT rekor_add_log({}, 'rekor.sigstore.dev')", lit(V1_PEM))), v1);
        assert_eq!(int_of("SELECT count(*) FROM rekor_logs"), 2);
        assert_eq!(text_of(&format!("SELECT origin || '|' || origin_is_prefix FROM rekor_logs WHERE log_id = '\\x{v1}'")), "rekor.sigstore.dev - |true");
        assert_eq!(text_of("SELECT key_type FROM rekor_parse_log_key('MCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244=', 'n')"), "ed25519");
        // Which trusted logs match an origin.
        assert_eq!(int_of("SELECT count(*) FROM rekor_logs_for_origin('rekor.sigstore.dev - 1193050959916656506', now())"), 1);
        assert_eq!(int_of("SELECT count(*) FROM rekor_logs_for_origin('Rekor', now())"), 0);
        assert_eq!(int_of("SELECT count(*) FROM rekor_logs_for_origin('log2025-1.rekor.sigstore.dev', now())"), 1);
        // Bad keys and names: 22023; the same ECDSA key under another name: 55000; bad window: 23514.
        let cases = [
            ("SELECT rekor_add_log('garbage', 'x.example')".to_string(), "22023"),
            (format!("SELECT rekor_add_log({}, 'x.example')", lit(P384_PEM)), "22023"),
            (format!("SELECT rekor_add_log({}, 'a b')", lit(PG_SPKI)), "22023"),
            (format!("SELECT rekor_add_log({}, 'x.example', '*')", lit(PG_SPKI)), "22023"),
            (format!("SELECT rekor_parse_log_key({}, '')", lit(PG_SPKI)), "22023"),
            (format!("SELECT rekor_add_log({}, 'other.example')", lit(V1_PEM)), "55000"),
            (format!("SELECT rekor_add_log({}, 'x.example', NULL, '2026-01-01', '2025-01-01')", lit(PG_SPKI)), "23514"),
        ];
        for (q, want) in cases {
            assert_eq!(sqlstate_of(&q).as_deref(), Some(want), "{q}");
        }
    }

    #[pg_test]
    fn checkpoints_forks_links_and_the_witness() {
        assert_eq!(hex_of(&format!("SELECT rekor_add_log({}, 'pgtest.example')", lit(PG_SPKI))), PG_LOG_ID);
        let (n0, n3, n8, fork) = (lit(PG_N0), lit(PG_N3), lit(PG_N8), lit(PG_N8_FORK));
        assert_eq!(hex_of(&format!("SELECT rekor_checkpoint_log({n3})")), PG_LOG_ID);
        let q = format!("SELECT rekor_checkpoint_log({})", lit(PG_N8_OTHER_KEY));
        assert_eq!(sqlstate_of(&q).as_deref(), Some("23514"));
        assert!(message_of(&q).unwrap().starts_with("checkpoint signature does not verify"));
        let q = format!("SELECT rekor_checkpoint_log({})", lit(V2_NOTE));
        assert_eq!(sqlstate_of(&q).as_deref(), Some("23514"));
        assert!(message_of(&q).unwrap().starts_with("checkpoint origin is not a trusted log"));

        // The witness: first checkpoint, a proven step, a fork, a stale old size, a repeat.
        let w = |note: &str, old: i64, proof: &str| {
            text_of(&format!("SELECT status || ' ' || coalesce(tree_size::text, '-') FROM rekor_witness_checkpoint({note}, {old}, {proof})"))
        };
        let proof = format!("rekor_merkle_consistency_proof({LEAVES8}, 3)");
        // The same proof with its first hash replaced: well-formed, wrong.
        let wrong = format!(
            "(SELECT array_agg(CASE WHEN o = 1 THEN rekor_leaf_hash('x') ELSE h END ORDER BY o) FROM unnest({proof}) WITH ORDINALITY t(h, o))"
        );
        assert_eq!(w(&n3, 0, "'{}'"), "ok 3");
        assert_eq!(w(&n8, 0, &proof), "old_size_mismatch 3");
        assert_eq!(w(&n8, 9, &proof), "old_size_too_large -");
        assert_eq!(w(&n8, 3, &format!("rekor_merkle_consistency_proof({LEAVES8}, 4)")), "bad_proof 3");
        assert_eq!(w(&n8, 3, &wrong), "bad_proof 3");
        assert_eq!(w(&n8, 3, &proof), "ok 8");
        assert_eq!(w(&fork, 8, "'{}'"), "fork 8");
        assert_eq!(w(&n3, 0, "'{}'"), "old_size_mismatch 8");
        assert_eq!(w(&n8, 8, "'{}'"), "ok 8");
        assert_eq!(w(&lit(PG_N8_OTHER_KEY), 8, "'{}'"), "bad_signature -");
        assert_eq!(w(&lit(V2_NOTE), 0, "'{}'"), "unknown_log -");
        assert_eq!(sqlstate_of(&format!("SELECT * FROM rekor_witness_checkpoint({n8}, -1, '{{}}')")).as_deref(), Some("22023"));
        assert_eq!(int_of(&format!("SELECT tree_size FROM rekor_witness_state WHERE log_id = '\\x{PG_LOG_ID}'")), 8);

        // Stored checkpoints: the fork is refused by the table, recorded by rekor_record_checkpoint.
        let id3 = int_of("SELECT checkpoint_id FROM rekor_checkpoints WHERE tree_size = 3");
        let id8 = int_of("SELECT checkpoint_id FROM rekor_checkpoints WHERE tree_size = 8");
        let q = format!("INSERT INTO rekor_checkpoints (note) VALUES ({fork})");
        assert_eq!(sqlstate_of(&q).as_deref(), Some("23514"));
        assert!(message_of(&q).unwrap().starts_with("log fork: "));
        assert_eq!(text_of(&format!("SELECT status || ' ' || checkpoint_id FROM rekor_record_checkpoint({fork})")), format!("fork {id8}"));
        assert_eq!(text_of(&format!("SELECT status || ' ' || checkpoint_id FROM rekor_record_checkpoint({n8})")), format!("existing {id8}"));
        assert_eq!(int_of("SELECT count(*) FROM rekor_log_forks"), 1);
        assert_eq!(sqlstate_of(&format!("INSERT INTO rekor_checkpoints (note) VALUES ({n8})")).as_deref(), Some("23505"));
        assert_eq!(sqlstate_of(&format!("INSERT INTO rekor_checkpoints (note, tree_size) VALUES ({n3}, 4)")).as_deref(), Some("23514"));

        // Consistency links: the witness recorded 3 -> 8; a size-0 checkpoint links by an empty proof.
        assert_eq!(int_of("SELECT count(*) FROM rekor_checkpoint_consistency"), 1);
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint_consistency({id3}, {id8}, {proof})")), Some(true));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint_consistency({id3}, {id8}, {wrong})")), Some(false));
        let q = format!("SELECT rekor_verify_checkpoint_consistency({id3}, {id8}, rekor_merkle_consistency_proof({LEAVES8}, 4))");
        assert_eq!(sqlstate_of(&q).as_deref(), Some("22023"));
        assert_eq!(sqlstate_of(&format!("SELECT rekor_verify_checkpoint_consistency({id8}, {id3}, '{{}}')")).as_deref(), Some("22023"));
        assert_eq!(sqlstate_of(&format!("SELECT rekor_verify_checkpoint_consistency({id3}, -1, '{{}}')")).as_deref(), Some("22023"));
        let id0 = int_of(&format!("SELECT checkpoint_id FROM rekor_record_checkpoint({n0})"));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint_consistency({id0}, {id3}, ARRAY[rekor_leaf_hash('')])")), Some(false));
        assert_eq!(bool_of(&format!("SELECT rekor_verify_checkpoint_consistency({id0}, {id3}, '{{}}')")), Some(true));
        assert_eq!(bool_of("SELECT rekor_checkpoints_consistent(0, 3, sha256(''), rekor_leaf_hash(''), '{}')"), Some(true));
        assert_eq!(bool_of("SELECT rekor_checkpoints_consistent(0, 3, rekor_leaf_hash(''), rekor_leaf_hash(''), '{}')"), Some(false));
        assert_eq!(
            text_of(&format!(
                "SELECT checkpoints || ' ' || proven_consistent || ' ' || forks || ' ' || all_consistent || ' ' || latest_tree_size \
                 FROM rekor_log_status WHERE log_id = '\\x{PG_LOG_ID}'"
            )),
            "3 3 1 false 8"
        );

        // Append-only: the owner may delete; another role may not, nor update.
        assert_eq!(bool_of("SELECT rekor_is_extension_owner()"), Some(true));
        Spi::run(
            "CREATE ROLE rekor_pg_test_user;
             DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO rekor_pg_test_user',
                 (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'rekor_checkpoints'::regclass)); END $$;
             GRANT SELECT, UPDATE, DELETE ON rekor_checkpoints, rekor_log_forks, rekor_checkpoint_consistency TO rekor_pg_test_user;
             SET LOCAL ROLE rekor_pg_test_user",
        )
        .expect("role");
        assert_eq!(bool_of("SELECT rekor_is_extension_owner()"), Some(false));
        for stmt in [
            "DELETE FROM rekor_checkpoints",
            "UPDATE rekor_checkpoints SET seen_at = now()",
            "DELETE FROM rekor_log_forks",
            "UPDATE rekor_checkpoint_consistency SET verified_at = now()",
        ] {
            Spi::run(&format!(
                "DO $$ BEGIN
                   BEGIN {stmt}; EXCEPTION WHEN insufficient_privilege THEN RETURN; END;
                   RAISE EXCEPTION 'allowed for a non-owner: {stmt}';
                 END $$"
            ))
            .expect(stmt);
        }
        Spi::run("RESET ROLE").expect("reset role");
        Spi::run("DELETE FROM rekor_log_forks").expect("owner deletes");
        assert_eq!(int_of("SELECT count(*) FROM rekor_log_forks"), 0);
    }
}
