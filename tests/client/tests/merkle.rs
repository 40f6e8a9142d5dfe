//! Client-level tests of the Merkle SQL functions over a real connection: values, SQLSTATEs, and
//! hostile inputs that must give a clean ERROR without crashing the backend.
use rekor_meta_client_tests::*;
use rekor_meta_core::merkle;

fn proof_params(hashes: &[merkle::Hash]) -> Vec<Vec<u8>> {
    hashes.iter().map(|h| h.to_vec()).collect()
}

#[test]
fn sql_verification_agrees_with_the_core_for_every_leaf_of_a_100_leaf_tree() {
    let mut c = fresh_db("merkle_agree");
    let leaves: Vec<merkle::Hash> = (0..100).map(|i| merkle::leaf_hash(format!("entry {i}").as_bytes())).collect();
    let root = merkle::root_from_leaf_hashes(&leaves);
    for (i, leaf) in leaves.iter().enumerate() {
        let proof = proof_params(&merkle::inclusion_proof(&leaves, i).unwrap());
        let ok: bool = c
            .query_one(
                "SELECT rekor_verify_inclusion_proof($1, $2, 100, $3, $4)",
                &[&leaf.to_vec(), &(i as i64), &proof, &root.to_vec()],
            )
            .unwrap()
            .get(0);
        assert!(ok, "leaf {i}");
        let calc: Vec<u8> = c
            .query_one("SELECT rekor_inclusion_root($1, $2, 100, $3)", &[&leaf.to_vec(), &(i as i64), &proof])
            .unwrap()
            .get(0);
        assert_eq!(calc, root.to_vec());
    }
    for m in 1..100usize {
        let proof = proof_params(&merkle::consistency_proof(&leaves, m).unwrap());
        let r1 = merkle::root_from_leaf_hashes(&leaves[..m]).to_vec();
        let ok: bool = c
            .query_one(
                "SELECT rekor_verify_consistency($1, 100, $2, $3, $4)",
                &[&(m as i64), &r1, &root.to_vec(), &proof],
            )
            .unwrap()
            .get(0);
        assert!(ok, "size1 {m}");
    }
}

#[test]
fn real_rekor_inclusion_proofs_from_fixtures_verify_in_sql() {
    let mut c = fresh_db("merkle_real");
    let entries: serde_json::Value = serde_json::from_str(&fixture("rekor_entries.json")).unwrap();
    let mut verified = 0;
    for e in entries["entries"].as_array().unwrap() {
        let Some(ip) = e.get("inclusion_proof").filter(|v| v.is_object()) else { continue };
        let leaf = hex::decode(e["leaf_hash_hex"].as_str().unwrap()).unwrap();
        let root = hex::decode(ip["root_hash_hex"].as_str().unwrap()).unwrap();
        let hashes: Vec<Vec<u8>> =
            ip["hashes_hex"].as_array().unwrap().iter().map(|h| hex::decode(h.as_str().unwrap()).unwrap()).collect();
        let index = ip["log_index"].as_i64().unwrap();
        let size = ip["tree_size"].as_i64().unwrap();
        let ok: bool = c
            .query_one("SELECT rekor_verify_inclusion_proof($1, $2, $3, $4, $5)", &[&leaf, &index, &size, &hashes, &root])
            .unwrap()
            .get(0);
        assert!(ok, "{}", e["id"]);
        // The same proof under a flipped root bit is a clean false, not an error.
        let mut bad = root.clone();
        bad[31] ^= 1;
        let ok: bool = c
            .query_one("SELECT rekor_verify_inclusion_proof($1, $2, $3, $4, $5)", &[&leaf, &index, &size, &hashes, &bad])
            .unwrap()
            .get(0);
        assert!(!ok, "{}", e["id"]);
        verified += 1;
    }
    assert!(verified >= 15, "only {verified} fixture entries carry proofs");
}

#[test]
fn malformed_input_raises_22023_with_a_detail() {
    let mut c = fresh_db("merkle_errors");
    let h = vec![7u8; 32];
    let cases: Vec<(&str, Vec<Vec<u8>>, i64, i64, Vec<u8>, &str)> = vec![
        ("index beyond size", vec![], 1, 1, h.clone(), "leaf index is not less than tree size"),
        ("size zero", vec![], 0, 0, h.clone(), "tree size must be positive"),
        ("negative index", vec![], -1, 1, h.clone(), "log_index must not be negative"),
        ("short proof", vec![h.clone()], 0, 4, h.clone(), "proof has the wrong number of hashes"),
        ("short proof hash", vec![vec![1u8; 31], h.clone()], 0, 4, h.clone(), "proof hash [1] is not a 32-byte"),
        ("short root", vec![], 0, 1, vec![1u8; 3], "root hash is not a 32-byte"),
        ("65 hashes", vec![h.clone(); 65], 0, i64::MAX, h.clone(), "proof is too long"),
    ];
    for (name, proof, index, size, root, want) in cases {
        let (code, msg, detail) = db_error(c.query_one(
            "SELECT rekor_verify_inclusion_proof($1, $2, $3, $4, $5)",
            &[&h, &index, &size, &proof, &root],
        ));
        assert_eq!(code, "22023", "{name}: {msg}");
        assert!(msg.starts_with(want), "{name}: {msg}");
        assert!(!detail.is_empty(), "{name}: no DETAIL");
    }
    let (code, msg, _) = db_error(c.query_one("SELECT rekor_verify_consistency(5, 3, $1::bytea, $1::bytea, '{}'::bytea[])", &[&h]));
    assert_eq!((code.as_str(), msg.as_str()), ("22023", "size1 is greater than size2"));
    let (code, msg, _) = db_error(c.query_one("SELECT rekor_verify_consistency(0, 3, $1::bytea, $1::bytea, ARRAY[$1::bytea])", &[&h]));
    assert_eq!(code, "22023");
    assert!(msg.contains("empty tree"), "{msg}");
}

#[test]
fn odd_inputs_never_crash_the_backend() {
    let mut c = fresh_db("merkle_odd");
    let started = postmaster_start(&mut c);
    let h = "rekor_leaf_hash('x')";
    let statements = [
        // NULLs: strict functions return NULL.
        format!("SELECT rekor_verify_inclusion_proof(NULL, 0, 1, '{{}}', {h})"),
        format!("SELECT rekor_verify_inclusion_proof({h}, 0, 1, NULL, {h})"),
        // NULL elements, empty arrays, multi-dimensional arrays, extreme sizes.
        format!("SELECT rekor_verify_inclusion_proof({h}, 0, 2, ARRAY[NULL::bytea], {h})"),
        format!("SELECT rekor_verify_inclusion_proof({h}, 0, 2, '{{}}', {h})"),
        format!("SELECT rekor_verify_inclusion_proof({h}, 0, 4, ARRAY[[{h}],[{h}]], {h})"),
        format!("SELECT rekor_verify_inclusion_proof({h}, 9223372036854775806, 9223372036854775807, array_fill({h}, ARRAY[64]), {h})"),
        format!("SELECT rekor_verify_inclusion_proof({h}, 0, 9223372036854775807, array_fill({h}, ARRAY[100000]), {h})"),
        format!("SELECT rekor_verify_consistency(1, 9223372036854775807, {h}, {h}, array_fill({h}, ARRAY[64]))"),
        format!("SELECT rekor_verify_consistency(-1, -2, {h}, {h}, '{{}}')"),
        "SELECT rekor_merkle_root(ARRAY[NULL::bytea])".to_string(),
        "SELECT rekor_merkle_inclusion_proof('{}', 0)".to_string(),
        "SELECT rekor_merkle_consistency_proof(ARRAY['a'::bytea], 2)".to_string(),
        "SELECT rekor_node_hash('', '')".to_string(),
        // 128 MiB values: hashed, or rejected by length, in bounded time.
        "SELECT length(rekor_leaf_hash(decode(repeat('ab', 128 * 1024 * 1024), 'hex')))".to_string(),
        format!("SELECT rekor_verify_inclusion_proof(decode(repeat('ab', 128 * 1024 * 1024), 'hex'), 0, 1, '{{}}', {h})"),
    ];
    for q in &statements {
        match c.query(q.as_str(), &[]) {
            Ok(_) => {}
            Err(e) => {
                let code = e.as_db_error().map(|d| d.code().code().to_string()).unwrap_or_else(|| panic!("{q}: {e}"));
                assert!(code == "22023" || code == "54000", "{q}: SQLSTATE {code}: {e}");
            }
        }
        assert_eq!(postmaster_start(&mut c), started, "backend crash after {q}");
    }
    let leaf_hash_len: i32 = c
        .query_one("SELECT length(rekor_leaf_hash(decode(repeat('ab', 1024), 'hex')))", &[])
        .unwrap()
        .get(0);
    assert_eq!(leaf_hash_len, 32);
}
