//! Client-level tests of signed checkpoints: strict parsing (22P02 naming the line), signature
//! verification of real Rekor checkpoints and of notes signed here, trusted logs, the verified
//! checkpoints table, forks, consistency links and append-only evidence.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use postgres::Client;
use rekor_meta_client_tests::notes::{self, Ed25519Signer, EcdsaSigner, TestTree};
use rekor_meta_client_tests::*;
use serde_json::Value;

/// Keys of types rekor_meta does not accept (generated with Python `cryptography`).
const RSA_2048_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0+Bj/9/z3cJSFw5TB+Hw
o6I9soS02ff+gZ41XMzS8dZ423XIzRMmk30VHyRDrFlkIo0Jnl0LKtxgmyGL6sKe
PzQuzv372rlLC1ofNV9Z7U0Cm2O190Ou8wzQCZSCNumNbMbdLVWjVJFGZD9SwEFH
/X9MRegd+30Wcyp6n1Q4hsyhdMKM5D20IM/p0Zk3gXLUxsLQr9jEgZH9cHDumoTS
4eEJElxqFErpyNJ2VGOB6dK32MN4DvL4d1gBBgJd+mFS5Tyj+0iGEzlsaFtNjnb5
JRv4GdSkvc6LLMC6r42XRdM9qj6pzAPtpSEYL7B1e2JY1ZeQPoVt1liYd2HtDYot
LQIDAQAB
-----END PUBLIC KEY-----
";
const P384_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEddWT4ZHzqllYPjP9RwEet/wHRzofWSmF
yvWSW7exyMEfsgDXYKwqpL6KkSvVILZycFYvL9SvdItFRmt7jl+hxyI8NEYCvgPU
wnhj4ASQUXnzANgF/VNdyOUviE7kvFBz
-----END PUBLIC KEY-----
";
const SECP256K1_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAE+ecM6R0oxqyK82ajvT8OO64w6LvIHMWy
6rENwPk/K483t4pYJuJBcxSNUTKHWxUAGrhwDLSKj5Fhk95DyGbhzw==
-----END PUBLIC KEY-----
";
const ED448_PEM: &str = "-----BEGIN PUBLIC KEY-----
MEMwBQYDK2VxAzoA7NfeH9W1ZUnnXW+LVIPzWnJTSh0ljFIA/0iy5POJVJwZJRXW
RuZSTCVR1dAOz1otd0PHqTGEVboA
-----END PUBLIC KEY-----
";

const ECDSA_FIXTURE: &str = "cp-rekor.sigstore.dev-1193050959916656506-1511664556";
const ED25519_FIXTURE: &str = "cp-log2025-1.rekor.sigstore.dev-4855115";

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn all_fixture_checkpoints() -> Vec<Value> {
    json_fixture("checkpoints.json")["checkpoints"].as_array().unwrap().clone()
}

fn positive_fixtures() -> Vec<Value> {
    all_fixture_checkpoints().into_iter().filter(|c| c["expected"]["signature_valid"] == true).collect()
}

fn negative_fixtures() -> Vec<Value> {
    all_fixture_checkpoints().into_iter().filter(|c| c["expected"]["signature_valid"] == false).collect()
}

fn der_of(key: &Value) -> Vec<u8> {
    STANDARD.decode(s(&key["spki_der_b64"])).unwrap()
}

/// `rekor_verify_checkpoint` over many (note, key) pairs in one round trip: "true", "false", or the
/// SQLSTATE it raised.
fn verify_outcomes(c: &mut Client, pairs: &[(String, Vec<u8>)]) -> Vec<String> {
    c.batch_execute(
        "CREATE OR REPLACE FUNCTION pg_temp.verify_outcome(note text, key bytea) RETURNS text LANGUAGE plpgsql AS $$
         BEGIN RETURN rekor_verify_checkpoint(note, key)::text;
         EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$",
    )
    .unwrap();
    let ns: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    let ks: Vec<&[u8]> = pairs.iter().map(|(_, k)| k.as_slice()).collect();
    c.query(
        "SELECT pg_temp.verify_outcome(n, k) FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS u(n, k, o) ORDER BY o",
        &[&ns, &ks],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn verify_bytea(c: &mut Client, note: &str, key: &[u8]) -> bool {
    c.query_one("SELECT rekor_verify_checkpoint($1, $2::bytea)", &[&note, &key]).unwrap().get(0)
}

fn verify_text(c: &mut Client, note: &str, key: &str) -> bool {
    c.query_one("SELECT rekor_verify_checkpoint($1, $2::text)", &[&note, &key]).unwrap().get(0)
}

fn add_log(c: &mut Client, key: &str, name: &str, origin: Option<&str>) -> Vec<u8> {
    c.query_one("SELECT rekor_add_log($1, $2, $3)", &[&key, &name, &origin]).unwrap().get(0)
}

fn insert_note(c: &mut Client, note: &str) -> Result<i64, postgres::Error> {
    c.query_one("INSERT INTO rekor_checkpoints (note) VALUES ($1) RETURNING checkpoint_id", &[&note]).map(|r| r.get(0))
}

fn record(c: &mut Client, note: &str) -> (i64, String) {
    let r = c.query_one("SELECT checkpoint_id, status FROM rekor_record_checkpoint($1)", &[&note]).unwrap();
    (r.get(0), r.get(1))
}

fn count(c: &mut Client, q: &str) -> i64 {
    c.query_one(q, &[]).unwrap().get(0)
}

/// Asserts a 22P02 whose message names `line`.
fn assert_parse_error(r: Result<postgres::Row, postgres::Error>, line: usize, what: &str, case: &str) {
    let (code, msg, _) = db_error(r);
    assert_eq!(code, "22P02", "{case}: {msg}");
    assert!(msg.contains(&format!("line {line}:")), "{case}: want line {line}, got {msg}");
    assert!(msg.contains(what), "{case}: want {what:?} in {msg}");
}

// ---------------------------------------------------------------------------------------------
// Real checkpoints

#[test]
fn parse_returns_every_field_of_real_checkpoints() {
    let mut c = fresh_db("ckpt_parse_real");
    for cp in positive_fixtures() {
        let id = s(&cp["id"]);
        let r = c
            .query_one(
                "SELECT origin, tree_size, root_hash, extensions,
                        ARRAY(SELECT x.name FROM unnest(signatures) WITH ORDINALITY x(name, h, sig, o) ORDER BY o),
                        ARRAY(SELECT x.h FROM unnest(signatures) WITH ORDINALITY x(name, h, sig, o) ORDER BY o),
                        ARRAY(SELECT x.sig FROM unnest(signatures) WITH ORDINALITY x(name, h, sig, o) ORDER BY o)
                 FROM rekor_parse_checkpoint($1)",
                &[&s(&cp["envelope"])],
            )
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let p = &cp["parsed"];
        assert_eq!(r.get::<_, String>(0), s(&p["origin"]), "{id}");
        assert_eq!(r.get::<_, i64>(1), p["tree_size"].as_i64().unwrap(), "{id}");
        assert_eq!(hex::encode(r.get::<_, Vec<u8>>(2)), s(&p["root_hash_hex"]), "{id}");
        let ext: Vec<String> = p["extension_lines"].as_array().unwrap().iter().map(|e| s(e).to_string()).collect();
        assert_eq!(r.get::<_, Vec<String>>(3), ext, "{id}");
        let lines = cp["signature_lines"].as_array().unwrap();
        let names: Vec<String> = r.get(4);
        let hints: Vec<Vec<u8>> = r.get(5);
        let sigs: Vec<Vec<u8>> = r.get(6);
        assert_eq!(names.len(), lines.len(), "{id}");
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(names[i], s(&l["name"]), "{id} line {i}");
            assert_eq!(hex::encode(&hints[i]), s(&l["key_id_hex"]), "{id} line {i}");
            assert_eq!(hex::encode(&sigs[i]), s(&l["signature_hex"]), "{id} line {i}");
        }
    }
}

#[test]
fn real_checkpoints_verify_under_their_log_key_and_no_other() {
    let mut c = fresh_db("ckpt_verify_real");
    let all_keys = json_fixture("keys.json")["keys"].as_array().unwrap().clone();
    let positives = positive_fixtures();
    assert!(positives.len() >= 20, "only {} positive checkpoints", positives.len());
    let mut pairs = Vec::new();
    let mut expect = Vec::new();
    for cp in &positives {
        let key = fixture_key(s(&cp["log_key_ref"]));
        let note = s(&cp["envelope"]);
        // Every form of the key: PEM text, base64 DER text, DER bytes.
        assert!(verify_text(&mut c, note, s(&key["public_key_pem"])), "{} (PEM)", cp["id"]);
        assert!(verify_text(&mut c, note, s(&key["spki_der_b64"])), "{} (base64 DER)", cp["id"]);
        assert!(verify_bytea(&mut c, note, &der_of(&key)), "{} (DER)", cp["id"]);
        // Under every other key: false.
        for other in &all_keys {
            if other["id"] != key["id"] {
                pairs.push((note.to_string(), der_of(other)));
                expect.push(format!("{} under {}", cp["id"], other["id"]));
            }
        }
    }
    for (got, what) in verify_outcomes(&mut c, &pairs).iter().zip(&expect) {
        assert_eq!(got, "false", "{what}");
    }
}

#[test]
fn negative_fixtures_fail_at_the_stage_they_name() {
    let mut c = fresh_db("ckpt_verify_neg");
    let negatives = negative_fixtures();
    assert!(negatives.len() >= 6);
    for cp in &negatives {
        let id = s(&cp["id"]);
        let note = s(&cp["envelope"]);
        let key = der_of(&fixture_key(s(&cp["log_key_ref"])));
        let stage = s(&cp["expected"]["failure"]);
        let parsed = c.query_one("SELECT tree_size FROM rekor_parse_checkpoint($1)", &[&note]);
        let verified = c.query_one("SELECT rekor_verify_checkpoint($1, $2::bytea)", &[&note, &key]);
        match stage {
            "checkpoint_parse" => {
                let (code, msg, _) = db_error(parsed);
                assert_eq!(code, "22P02", "{id}: {msg}");
                assert!(msg.contains("line "), "{id}: {msg}");
                assert_eq!(sqlstate(verified), "22P02", "{id}");
            }
            "checkpoint_signature" => {
                parsed.unwrap_or_else(|e| panic!("{id} must parse: {e}"));
                assert!(!verified.unwrap().get::<_, bool>(0), "{id}");
            }
            "checkpoint_parse|checkpoint_signature" => match verified {
                Ok(r) => assert!(!r.get::<_, bool>(0), "{id}"),
                Err(e) => assert_eq!(sqlstate::<()>(Err(e)), "22P02", "{id}"),
            },
            other => panic!("{id}: unknown stage {other}"),
        }
    }
}

#[test]
fn real_checkpoints_are_stored_after_trusting_their_log() {
    let mut c = fresh_db("ckpt_store_real");
    // Trust every log of keys.json under its signer name, with its validity start.
    let keys = json_fixture("keys.json")["keys"].as_array().unwrap().clone();
    for k in &keys {
        let id: Vec<u8> = c
            .query_one(
                "SELECT rekor_add_log($1, $2, valid_from => $3::text::timestamptz)",
                &[&s(&k["public_key_pem"]), &s(&k["note_signer_name"]), &k["valid_for"]["start"].as_str()],
            )
            .unwrap_or_else(|e| panic!("{}: {e}", k["id"]))
            .get(0);
        assert_eq!(hex::encode(id), s(&k["log_id_hex"]), "{}", k["id"]);
    }
    let mut stored = 0;
    let mut seen = std::collections::HashSet::new();
    for cp in positive_fixtures() {
        let id = s(&cp["id"]);
        let note = s(&cp["envelope"]);
        if cp["parsed"]["origin"] == "Rekor" {
            // The early production origin is not "<signer> - <tree id>": not trusted by default.
            let (code, msg, detail) = db_error(insert_note(&mut c, note));
            assert_eq!((code.as_str(), msg.as_str()), ("23514", "checkpoint origin is not a trusted log"), "{id}");
            assert!(detail.contains("'Rekor'"), "{detail}");
            continue;
        }
        let key = (s(&cp["log_id_b64"]).to_string(), cp["parsed"]["tree_size"].clone(), s(&cp["parsed"]["root_hash_hex"]).to_string());
        if !seen.insert(key) {
            // The same (log, size, root) as an earlier fixture, e.g. with another cosignature: a
            // duplicate for the table, 'existing' for rekor_record_checkpoint.
            assert_eq!(sqlstate(insert_note(&mut c, note)), "23505", "{id}");
            assert_eq!(record(&mut c, note).1, "existing", "{id}");
            continue;
        }
        let r = c
            .query_one(
                "INSERT INTO rekor_checkpoints (note) VALUES ($1) RETURNING log_id, origin, tree_size, root_hash, note",
                &[&note],
            )
            .unwrap_or_else(|e| panic!("{id}: {e:?}"));
        assert_eq!(STANDARD.encode(r.get::<_, Vec<u8>>(0)), s(&cp["log_id_b64"]), "{id}");
        assert_eq!(r.get::<_, String>(1), s(&cp["parsed"]["origin"]), "{id}");
        assert_eq!(r.get::<_, i64>(2), cp["parsed"]["tree_size"].as_i64().unwrap(), "{id}");
        assert_eq!(hex::encode(r.get::<_, Vec<u8>>(3)), s(&cp["parsed"]["root_hash_hex"]), "{id}");
        assert_eq!(r.get::<_, String>(4), note, "{id}: the note is stored byte for byte");
        stored += 1;
    }
    assert!(stored >= 20);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), stored);

    // Negative fixtures: parse failures raise 22P02, signature failures 23514; nothing is stored.
    for cp in negative_fixtures() {
        let id = s(&cp["id"]);
        let r = insert_note(&mut c, s(&cp["envelope"]));
        match s(&cp["expected"]["failure"]) {
            "checkpoint_parse" | "checkpoint_parse|checkpoint_signature" => assert_eq!(sqlstate(r), "22P02", "{id}"),
            // The wrong-instance bundle is a genuine staging checkpoint: here, with staging trusted, it is stored.
            "checkpoint_signature" if id == "neg-cp-bundle-from-wrong-instance_fail" => {
                r.unwrap_or_else(|e| panic!("{id} verifies under the staging key: {e}"));
                stored += 1;
            }
            "checkpoint_signature" => {
                let (code, msg, _) = db_error(r);
                assert_eq!(code, "23514", "{id}");
                assert_eq!(msg, "checkpoint signature does not verify under the trusted log key", "{id}");
            }
            other => panic!("{id}: {other}"),
        }
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), stored);

    // The early "Rekor" checkpoint is stored once the production key is trusted for that origin.
    let mut c2 = fresh_db("ckpt_store_rekor");
    let prod = fixture_key("production:rekor.sigstore.dev");
    let id = add_log(&mut c2, s(&prod["public_key_pem"]), "rekor.sigstore.dev", Some("Rekor"));
    assert_eq!(hex::encode(&id), s(&prod["log_id_hex"]));
    let early = fixture_checkpoint("cp-Rekor-798034");
    let row = c2
        .query_one("INSERT INTO rekor_checkpoints (note) VALUES ($1) RETURNING log_id, tree_size", &[&s(&early["envelope"])])
        .unwrap();
    assert_eq!(row.get::<_, Vec<u8>>(0), id);
    assert_eq!(row.get::<_, i64>(1), 798034);
    // Trusted only for "Rekor" (exact), the key does not vouch for the shard origins.
    let shard = fixture_checkpoint(ECDSA_FIXTURE);
    let (code, msg, _) = db_error(insert_note(&mut c2, s(&shard["envelope"])));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "checkpoint origin is not a trusted log"));

    // The wrong-instance bundle against the production key, trusted for the staging origin: the
    // failure is the signature, not the origin.
    let mut c3 = fresh_db("ckpt_store_wrong_instance");
    add_log(&mut c3, s(&prod["public_key_pem"]), "rekor.sigstore.dev", Some("rekor.sigstage.dev - *"));
    let wrong = fixture_checkpoint("neg-cp-bundle-from-wrong-instance_fail");
    let (code, msg, detail) = db_error(insert_note(&mut c3, s(&wrong["envelope"])));
    assert_eq!(code, "23514");
    assert_eq!(msg, "checkpoint signature does not verify under the trusted log key");
    assert!(detail.contains("rekor.sigstage.dev/d32f30a3"), "{detail}");
}

#[test]
fn key_validity_window_decides_whether_a_checkpoint_is_stored() {
    let mut c = fresh_db("ckpt_validity");
    let k = fixture_key("staging:log2025-alpha1.rekor.sigstage.dev");
    let (start, end) = (s(&k["valid_for"]["start"]), s(&k["valid_for"]["end"]));
    c.query_one(
        "SELECT rekor_add_log($1, $2, NULL, $3::text::timestamptz, $4::text::timestamptz)",
        &[&s(&k["public_key_pem"]), &s(&k["note_signer_name"]), &start, &end],
    )
    .unwrap();
    let note = s(&fixture_checkpoint("cp-log2025-alpha1.rekor.sigstage.dev-4424")["envelope"]).to_string();
    // Seen now: the key was retired in 2025, so no trusted log matches.
    let (code, msg, detail) = db_error(insert_note(&mut c, &note));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "checkpoint origin is not a trusted log"));
    assert!(detail.contains("valid at"), "{detail}");
    // Seen inside the window: stored. Before it: rejected.
    c.execute("INSERT INTO rekor_checkpoints (note, seen_at) VALUES ($1, '2025-06-01T00:00:00Z')", &[&note]).unwrap();
    let other = s(&fixture_checkpoint("cp-log2025-alpha1.rekor.sigstage.dev-6884")["envelope"]).to_string();
    let r = c.execute("INSERT INTO rekor_checkpoints (note, seen_at) VALUES ($1, '2025-01-01T00:00:00Z')", &[&other]);
    assert_eq!(sqlstate(r), "23514");
    // valid_from must precede valid_until.
    let e = fixture_key("staging:log2025-alpha3.rekor.sigstage.dev");
    let r = c.query_one(
        "SELECT rekor_add_log($1, $2, NULL, '2026-01-01', '2025-01-01')",
        &[&s(&e["public_key_pem"]), &s(&e["note_signer_name"])],
    );
    assert_eq!(sqlstate(r), "23514");
}

/// Every variant of `note` with one bit flipped in one byte of its signed text, its signature
/// blob (key hint and signature), or its key must fail: false, or an error (22P02, 22023).
fn assert_every_bit_flip_fails(c: &mut Client, fixture_id: &str) {
    let cp = fixture_checkpoint(fixture_id);
    let note = s(&cp["envelope"]).to_string();
    let key = der_of(&fixture_key(s(&cp["log_key_ref"])));
    let text = notes::signed_text(&note).to_string();
    let lines = notes::signature_lines(&note);
    assert_eq!(lines.len(), 1, "{fixture_id}: one signature line");
    let (name, blob_b64) = lines[0].strip_prefix("\u{2014} ").unwrap().split_once(' ').unwrap();
    let blob = STANDARD.decode(blob_b64).unwrap();
    let sig_part = format!("\n{}\n", lines[0]);

    let mut pairs = vec![(note.clone(), key.clone())];
    let mut what = vec!["original".to_string()];
    // The signed text is ASCII: flipping one of the 7 low bits keeps it text (NUL cannot be sent).
    for (i, &b) in text.as_bytes().iter().enumerate() {
        for bit in 0..7 {
            let nb = b ^ (1 << bit);
            if nb == 0 {
                continue;
            }
            let mut t = text.as_bytes().to_vec();
            t[i] = nb;
            pairs.push((format!("{}{sig_part}", String::from_utf8(t).unwrap()), key.clone()));
            what.push(format!("text byte {i} bit {bit}"));
        }
    }
    for i in 0..blob.len() {
        for bit in 0..8 {
            let mut bb = blob.clone();
            bb[i] ^= 1 << bit;
            pairs.push((format!("{text}\n\u{2014} {name} {}\n", STANDARD.encode(&bb)), key.clone()));
            what.push(format!("signature byte {i} bit {bit}"));
        }
    }
    for i in 0..key.len() {
        for bit in 0..8 {
            let mut k = key.clone();
            k[i] ^= 1 << bit;
            pairs.push((note.clone(), k));
            what.push(format!("key byte {i} bit {bit}"));
        }
    }
    let got = verify_outcomes(c, &pairs);
    assert_eq!(got[0], "true", "{fixture_id}: the unmodified note must verify");
    let mut tally = std::collections::BTreeMap::<&str, usize>::new();
    for (g, w) in got.iter().zip(&what).skip(1) {
        assert!(matches!(g.as_str(), "false" | "22P02" | "22023"), "{fixture_id}: {w} gave {g}");
        *tally.entry(g.as_str()).or_default() += 1;
    }
    // All three ways of failing occur, and every variant was tried.
    assert_eq!(tally.values().sum::<usize>(), pairs.len() - 1);
    assert!(tally.contains_key("false") && tally.contains_key("22P02") && tally.contains_key("22023"), "{fixture_id}: {tally:?}");
}

#[test]
fn every_bit_flip_in_text_signature_or_key_breaks_an_ecdsa_checkpoint() {
    let mut c = fresh_db("ckpt_flip_ecdsa");
    assert_every_bit_flip_fails(&mut c, ECDSA_FIXTURE);
}

#[test]
fn every_bit_flip_in_text_signature_or_key_breaks_an_ed25519_checkpoint() {
    let mut c = fresh_db("ckpt_flip_ed25519");
    assert_every_bit_flip_fails(&mut c, ED25519_FIXTURE);
}

#[test]
fn ecdsa_key_hints_do_not_bind_the_signer_name_but_trusted_logs_do() {
    let mut c = fresh_db("ckpt_ecdsa_name");
    let cp = fixture_checkpoint(ECDSA_FIXTURE);
    let note = s(&cp["envelope"]).replace("\u{2014} rekor.sigstore.dev ", "\u{2014} someone.else ");
    let key = fixture_key("production:rekor.sigstore.dev");
    // rekor_verify_checkpoint has no signer name: for ECDSA the hint is SHA-256(SPKI)[:4], so a
    // renamed line still matches the key and verifies.
    assert!(verify_bytea(&mut c, &note, &der_of(&key)));
    // With the signer name known (rekor_checkpoint_signed_by, trusted logs) the line does not count.
    let ok: bool = c
        .query_one("SELECT rekor_checkpoint_signed_by($1, $2, 'rekor.sigstore.dev')", &[&note, &der_of(&key)])
        .unwrap()
        .get(0);
    assert!(!ok);
    add_log(&mut c, s(&key["public_key_pem"]), "rekor.sigstore.dev", None);
    let (code, msg, _) = db_error(insert_note(&mut c, &note));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "checkpoint signature does not verify under the trusted log key"));
    insert_note(&mut c, s(&cp["envelope"])).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The strict parser

/// A syntactically valid checkpoint (signature lines are well-formed, not valid signatures).
fn base_note() -> (String, String) {
    let text = notes::checkpoint_text("parser.example/log", 5, &[7u8; 32], &[]);
    let line = notes::sig_line("parser.example", &[1, 2, 3, 4], &[9u8; 64]);
    (text, line)
}

#[test]
fn parser_rejections_raise_22p02_naming_the_line() {
    let mut c = fresh_db("ckpt_parser");
    let (text, line) = base_note();
    let good = format!("{text}\n{line}");
    let r = c.query_one("SELECT origin, tree_size FROM rekor_parse_checkpoint($1)", &[&good]).unwrap();
    assert_eq!((r.get::<_, String>(0), r.get::<_, i64>(1)), ("parser.example/log".to_string(), 5));
    let root = STANDARD.encode([7u8; 32]);
    let body = |size: &str, root: &str| format!("parser.example/log\n{size}\n{root}\n");
    let with_body = |b: String| format!("{b}\n{line}");
    let root31 = STANDARD.encode([7u8; 31]);
    let root33 = STANDARD.encode([7u8; 33]);
    let unpadded = root.trim_end_matches('=').to_string();
    // 32 bytes encode to 43 significant characters: the last one carries 2 unused bits, here set.
    let mut noncanonical = root.clone().into_bytes();
    noncanonical[42] = if noncanonical[42] == b'B' { b'C' } else { b'B' };
    let noncanonical = String::from_utf8(noncanonical).unwrap();
    assert_ne!(noncanonical, root);
    let cases: Vec<(&str, String, usize, &str)> = vec![
        // The blank line between text and signatures.
        ("no blank line", format!("{text}{line}"), 4, "no blank line"),
        ("no blank line, two sigs", format!("{text}{line}{line}"), 4, "no blank line"),
        // Tree size: digits only, no sign, no leading zero, at most 2^63 - 1.
        ("plus sign", with_body(body("+5", &root)), 2, "not a decimal number"),
        ("minus sign", with_body(body("-5", &root)), 2, "not a decimal number"),
        ("space", with_body(body(" 5", &root)), 2, "not a decimal number"),
        ("hex", with_body(body("0x5", &root)), 2, "not a decimal number"),
        ("empty size", with_body(body("", &root)), 2, "not a decimal number"),
        ("leading zero", with_body(body("05", &root)), 2, "leading zero"),
        ("zeros", with_body(body("00", &root)), 2, "leading zero"),
        ("2^63", with_body(body("9223372036854775808", &root)), 2, "larger than the maximum"),
        ("2^64", with_body(body("18446744073709551616", &root)), 2, "larger than the maximum"),
        ("huge", with_body(body("3438945738945739845734895735", &root)), 2, "larger than the maximum"),
        // Root hash: canonical padded standard base64 of exactly 32 bytes.
        ("31-byte root", with_body(body("5", &root31)), 3, "decodes to 31 bytes"),
        ("33-byte root", with_body(body("5", &root33)), 3, "decodes to 33 bytes"),
        ("empty root", with_body(body("5", "")), 3, "decodes to 0 bytes"),
        ("root not base64", with_body(body("5", "not*base64")), 3, "not canonical padded standard base64"),
        ("root unpadded", with_body(body("5", &unpadded)), 3, "not canonical padded standard base64"),
        ("root url-safe", with_body(body("5", &format!("-_{}", &root[2..]))), 3, "not canonical padded standard base64"),
        ("root trailing bits", with_body(body("5", &noncanonical)), 3, "not canonical padded standard base64"),
        ("root hex", with_body(body("5", &hex::encode([7u8; 32]))), 3, "root hash"),
        // CR line endings, wherever they are.
        ("CRLF", with_body(body("5", &root)).replace('\n', "\r\n"), 1, "carriage return"),
        ("CR on line 3", with_body(body("5", &format!("{root}\r"))), 3, "carriage return"),
        ("CR in signature line", format!("{text}\n{}", line.replace('\n', "\r\n")), 5, "carriage return"),
        // Signature lines start with U+2014 EM DASH and a space.
        ("two hyphens", format!("{text}\n{}", line.replacen('\u{2014}', "--", 1)), 5, "EM DASH"),
        ("hyphen", format!("{text}\n{}", line.replacen('\u{2014}', "-", 1)), 5, "EM DASH"),
        ("en dash", format!("{text}\n{}", line.replacen('\u{2014}', "\u{2013}", 1)), 5, "EM DASH"),
        ("no space after dash", format!("{text}\n{}", line.replacen("\u{2014} ", "\u{2014}", 1)), 5, "EM DASH"),
        ("second line bad", format!("{text}\n{line}{}", line.replacen('\u{2014}', "-", 1)), 6, "EM DASH"),
        ("trailing garbage line", format!("{text}\n{line}garbage\n"), 6, "EM DASH"),
        // Other structure.
        ("no final newline", format!("{text}\n{}", line.trim_end()), 5, "does not end with"),
        ("no signatures", format!("{text}\n"), 5, "no signature lines"),
        ("empty origin", with_body(format!("\n5\n{root}\n")), 1, "origin"),
        ("no root line", with_body("parser.example/log\n5\n".to_string()), 3, "no root hash line"),
        ("no size line", with_body("parser.example/log\n".to_string()), 2, "no tree size line"),
        ("empty extension line", format!("{text}\n\n{line}"), 4, "empty extension line"),
        ("name with plus", format!("{text}\n{}", line.replacen("parser.example", "a+b", 1)), 5, "signer name"),
        ("no signature", format!("{text}\n\u{2014} parser.example\n"), 5, "no signature"),
        ("short signature", format!("{text}\n\u{2014} parser.example AQID\n"), 5, "want at least 5"),
        ("signature not base64", format!("{text}\n\u{2014} parser.example ***\n"), 5, "not standard base64"),
        ("control character", with_body(format!("parser.example/log\x01\n5\n{root}\n")), 1, "control character"),
        ("tab", with_body(format!("parser.example/log\n5\n{root}\nExt:\tx\n")), 4, "control character"),
        ("empty note", String::new(), 1, "note text is empty"),
    ];
    for (case, note, n, what) in &cases {
        assert_parse_error(c.query_one("SELECT rekor_parse_checkpoint($1)", &[note]), *n, what, case);
    }
    // The same errors from verification and from storing.
    let sign_case = &cases[2].1;
    assert_parse_error(
        c.query_one("SELECT rekor_verify_checkpoint($1, $2::text)", &[sign_case, &Ed25519Signer::from_label("x", "x").spki_b64()]),
        2,
        "not a decimal number",
        "verify",
    );
    assert_parse_error(
        c.query_one("INSERT INTO rekor_checkpoints (note) VALUES ($1) RETURNING 1", &[sign_case]),
        2,
        "not a decimal number",
        "insert",
    );
    // Boundary values that are accepted: 0 and 2^63 - 1.
    for (size, want) in [("0", 0i64), ("9223372036854775807", i64::MAX)] {
        let got: i64 = c
            .query_one("SELECT tree_size FROM rekor_parse_checkpoint($1)", &[&with_body(body(size, &root))])
            .unwrap()
            .get(0);
        assert_eq!(got, want);
    }
}

#[test]
fn note_size_and_signature_count_are_bounded() {
    let mut c = fresh_db("ckpt_limits");
    let (text, line) = base_note();
    const MIB: usize = 1 << 20;
    // A note of exactly 1 MiB (its extension line padded to fit) parses; one byte more does not.
    let fixed = text.len() + 1 + 1 + line.len(); // text, extension '\n', blank line, signature
    let exact = format!("{text}{}\n\n{line}", "x".repeat(MIB - fixed));
    assert_eq!(exact.len(), MIB);
    let ext: Vec<String> = c.query_one("SELECT extensions FROM rekor_parse_checkpoint($1)", &[&exact]).unwrap().get(0);
    assert_eq!(ext[0].len(), MIB - fixed);
    let over = format!("{text}{}\n\n{line}", "x".repeat(MIB - fixed + 1));
    // One byte over: the first 1 MiB ends inside the last line (6), so that is where it is crossed.
    assert_parse_error(c.query_one("SELECT rekor_parse_checkpoint($1)", &[&over]), 6, "over the limit", "1 MiB + 1");
    // Far over: still named by the line where the limit is crossed (line 4 here).
    let far = format!("{text}{}\n\n{line}", "x".repeat(3 * MIB));
    assert_parse_error(c.query_one("SELECT rekor_parse_checkpoint($1)", &[&far]), 4, "over the limit", "4 MiB");

    // 100 signature lines are accepted, 101 are not (the 101st is line 5 + 100).
    let hundred = format!("{text}\n{}", line.repeat(100));
    let n: i32 = c.query_one("SELECT cardinality(signatures) FROM rekor_parse_checkpoint($1)", &[&hundred]).unwrap().get(0);
    assert_eq!(n, 100);
    let many = format!("{text}\n{}", line.repeat(101));
    assert_parse_error(c.query_one("SELECT rekor_parse_checkpoint($1)", &[&many]), 105, "more than 100 signature lines", "101 sigs");

    // A real signature among 99 unknown cosignatures still verifies.
    let log = Ed25519Signer::from_label("limits.example", "limits log");
    let t = notes::checkpoint_text("limits.example", 5, &[7u8; 32], &[]);
    let mut lines = vec![line.clone(); 99];
    lines.push(log.line(&t));
    assert!(verify_text(&mut c, &notes::assemble(&t, &lines), &log.spki_b64()));
    lines.push(line.clone());
    assert_eq!(sqlstate(c.query_one("SELECT rekor_verify_checkpoint($1, $2::text)", &[&notes::assemble(&t, &lines), &log.spki_b64()])), "22P02");
}

// ---------------------------------------------------------------------------------------------
// Notes signed in the test

#[test]
fn ed25519_note_signed_here_verifies_and_variants_do_not() {
    let mut c = fresh_db("ckpt_ed25519_here");
    let log = Ed25519Signer::from_label("ed25519.test.example", "checkpoint tests: ed25519 log");
    let tree = TestTree::new("ed25519", 16);
    let text = notes::checkpoint_text(&log.name, 16, &tree.root(16), &["Timestamp: 1700000000000000000"]);
    let note = log.sign_note(&text);
    // Every key form verifies.
    assert!(verify_bytea(&mut c, &note, &log.spki_der()));
    assert!(verify_text(&mut c, &note, &log.spki_b64()));
    assert!(verify_text(&mut c, &note, &notes::pem(&log.spki_der())));
    let ext: Vec<String> = c.query_one("SELECT extensions FROM rekor_parse_checkpoint($1)", &[&note]).unwrap().get(0);
    assert_eq!(ext, vec!["Timestamp: 1700000000000000000".to_string()]);

    // Signed by another key under the same name: false.
    let other_key = Ed25519Signer::from_label(&log.name, "checkpoint tests: another key");
    let by_other_key = other_key.sign_note(&text);
    assert!(!verify_bytea(&mut c, &by_other_key, &log.spki_der()));
    assert!(verify_bytea(&mut c, &by_other_key, &other_key.spki_der()));

    // The same key under another name. The hint binds the name, so the line counts for the key
    // only under that other name: rekor_verify_checkpoint (which has no name) accepts it, while
    // every check that knows the log's name rejects it.
    let renamed = log.renamed("someone.else.example");
    let by_other_name = renamed.sign_note(&text);
    assert!(verify_bytea(&mut c, &by_other_name, &log.spki_der()));
    let signed_by: bool = c
        .query_one("SELECT rekor_checkpoint_signed_by($1, $2, $3)", &[&by_other_name, &log.spki_der(), &log.name])
        .unwrap()
        .get(0);
    assert!(!signed_by);
    // A line whose name is changed but whose hint and signature are kept matches no key.
    let name_swapped = note.replace(&format!("\u{2014} {} ", log.name), "\u{2014} someone.else.example ");
    assert!(!verify_bytea(&mut c, &name_swapped, &log.spki_der()));

    // Extra cosignatures from unknown keys are ignored, before or after the log's line.
    let witness = Ed25519Signer::from_label("witness.example", "checkpoint tests: witness");
    let cosigned = notes::assemble(&text, &[log.line(&text), witness.line(&text)]);
    let cosigned_first = notes::assemble(&text, &[witness.line(&text), log.line(&text)]);
    let garbage_cosig = notes::assemble(&text, &[log.line(&text), notes::sig_line("unknown.example", &[0xde, 0xad, 0xbe, 0xef], &[1u8; 64])]);
    for n in [&cosigned, &cosigned_first, &garbage_cosig] {
        assert!(verify_bytea(&mut c, n, &log.spki_der()), "{n}");
    }
    assert!(verify_bytea(&mut c, &cosigned, &witness.spki_der()));
    // A second line claiming the log's name and key whose signature is wrong spoils the note.
    let mut bad_sig = log.sign(&text);
    bad_sig[10] ^= 0x40;
    let spoiled = notes::assemble(&text, &[log.line(&text), notes::sig_line(&log.name, &log.key_hint(), &bad_sig)]);
    assert!(!verify_bytea(&mut c, &spoiled, &log.spki_der()));
    // A signature over different text (the same checkpoint one size later) does not verify.
    let later = notes::checkpoint_text(&log.name, 15, &tree.root(15), &["Timestamp: 1700000000000000000"]);
    assert!(!verify_bytea(&mut c, &notes::assemble(&text, &[log.line(&later)]), &log.spki_der()));
    // A note without the log's line at all.
    assert!(!verify_bytea(&mut c, &witness.sign_note(&text), &log.spki_der()));

    // Through the trusted-log path: stored with the right name and key, rejected otherwise.
    let log_id = add_log(&mut c, &log.spki_b64(), &log.name, None);
    assert_eq!(log_id, log.log_id().to_vec());
    for (what, n) in [("other key", &by_other_key), ("other name", &by_other_name), ("swapped name", &name_swapped), ("spoiled", &spoiled)] {
        let (code, msg, _) = db_error(insert_note(&mut c, n));
        assert_eq!(code, "23514", "{what}: {msg}");
    }
    insert_note(&mut c, &cosigned).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 1);
}

#[test]
fn malformed_keys_raise_22023() {
    let mut c = fresh_db("ckpt_bad_keys");
    let note = s(&fixture_checkpoint(ED25519_FIXTURE)["envelope"]).to_string();
    let real = fixture_key("production:log2025-1.rekor.sigstore.dev");
    let der = der_of(&real);
    let texts = ["", "   ", "garbage", "MCowBQYDK2VwAyEA", RSA_2048_PEM, P384_PEM, SECP256K1_PEM, ED448_PEM];
    for k in texts {
        let (code, msg, _) = db_error(c.query_one("SELECT rekor_verify_checkpoint($1, $2::text)", &[&note, &k]));
        assert_eq!(code, "22023", "{k:?}: {msg}");
        assert!(msg.starts_with("invalid public key"), "{msg}");
    }
    let bytes: Vec<Vec<u8>> = vec![vec![], vec![0x30], der[..der.len() - 1].to_vec(), [der.clone(), vec![0]].concat(), vec![0xff; 44]];
    for k in &bytes {
        assert_eq!(sqlstate(c.query_one("SELECT rekor_verify_checkpoint($1, $2::bytea)", &[&note, k])), "22023", "{}", hex::encode(k));
    }
    // NULLs: strict, NULL result.
    let r: Option<bool> = c.query_one("SELECT rekor_verify_checkpoint($1, NULL::bytea)", &[&note]).unwrap().get(0);
    assert_eq!(r, None);
}

// ---------------------------------------------------------------------------------------------
// Trusted logs

#[test]
fn rekor_add_log_accepts_every_fixture_key_and_rejects_others() {
    let mut c = fresh_db("ckpt_add_log");
    let keys = json_fixture("keys.json")["keys"].as_array().unwrap().clone();
    for k in &keys {
        let name = s(&k["note_signer_name"]);
        let id = add_log(&mut c, s(&k["public_key_pem"]), name, None);
        assert_eq!(hex::encode(&id), s(&k["log_id_hex"]), "{}", k["id"]);
        // Again, as base64 DER: the same log, nothing added.
        assert_eq!(add_log(&mut c, s(&k["spki_der_b64"]), name, None), id, "{}", k["id"]);
        let r = c
            .query_one("SELECT key_type, origin, origin_is_prefix, public_key FROM rekor_logs WHERE log_id = $1", &[&id])
            .unwrap();
        let ed = s(&k["key_details"]) == "PKIX_ED25519";
        assert_eq!(r.get::<_, String>(0), if ed { "ed25519" } else { "ecdsa-p256-sha256" });
        // Ed25519 (Rekor v2): the origin is the signer name; ECDSA (v1): "<name> - " as a prefix.
        if ed {
            assert_eq!((r.get::<_, String>(1), r.get::<_, bool>(2)), (name.to_string(), false));
        } else {
            assert_eq!((r.get::<_, String>(1), r.get::<_, bool>(2)), (format!("{name} - "), true));
        }
        assert_eq!(r.get::<_, Vec<u8>>(3), der_of(k));
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_logs"), keys.len() as i64);

    // Unsupported key types and malformed keys.
    let bad = [
        ("RSA", RSA_2048_PEM.to_string()),
        ("P-384", P384_PEM.to_string()),
        ("secp256k1", SECP256K1_PEM.to_string()),
        ("Ed448", ED448_PEM.to_string()),
        ("empty", String::new()),
        ("garbage", "garbage".to_string()),
        ("empty PEM", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n".to_string()),
        ("private key label", RSA_2048_PEM.replace("PUBLIC", "PRIVATE")),
        ("truncated DER", STANDARD.encode(&der_of(&keys[0])[..50])),
        ("two PEM blocks", format!("{P384_PEM}{}", s(&keys[0]["public_key_pem"]))),
    ];
    for (what, key) in bad {
        let (code, msg, _) = db_error(c.query_one("SELECT rekor_add_log($1, 'x.example')", &[&key]));
        assert_eq!(code, "22023", "{what}: {msg}");
        assert!(msg.starts_with("invalid public key"), "{what}: {msg}");
    }
    let ed = Ed25519Signer::from_label("names.example", "add_log names");
    for name in ["", "a b", "a+b", "tab\there"] {
        let (code, msg, _) = db_error(c.query_one("SELECT rekor_add_log($1, $2)", &[&ed.spki_b64(), &name]));
        assert_eq!(code, "22023", "{name:?}: {msg}");
        assert!(msg.starts_with("invalid signer name"), "{msg}");
    }
    // Origins: "x*" is a prefix, "*" alone is empty.
    let id = add_log(&mut c, &ed.spki_b64(), "names.example", Some("names.example/shard-*"));
    let r = c.query_one("SELECT origin, origin_is_prefix FROM rekor_logs WHERE log_id = $1", &[&id]).unwrap();
    assert_eq!((r.get::<_, String>(0), r.get::<_, bool>(1)), ("names.example/shard-".to_string(), true));
    let other = Ed25519Signer::from_label("star.example", "add_log star");
    assert_eq!(sqlstate(c.query_one("SELECT rekor_add_log($1, 'star.example', '*')", &[&other.spki_b64()])), "22023");
    // An ECDSA log_id does not depend on the name: the same key under another name or origin is refused.
    let prod = &keys[0];
    assert_eq!(s(&prod["key_details"]), "PKIX_ECDSA_P256_SHA_256");
    let (code, msg, detail) = db_error(c.query_one("SELECT rekor_add_log($1, 'other.example')", &[&s(&prod["public_key_pem"])]));
    assert_eq!(code, "55000", "{msg}");
    assert!(detail.contains(s(&prod["log_id_hex"])), "{detail}");
    assert_eq!(sqlstate(c.query_one("SELECT rekor_add_log($1, $2, 'Rekor')", &[&s(&prod["public_key_pem"]), &s(&prod["note_signer_name"])])), "55000");
    // An Ed25519 log_id does: the same key under another name is another log.
    let renamed = add_log(&mut c, &ed.spki_b64(), "names2.example", None);
    assert_ne!(renamed, id);
    assert_eq!(renamed, ed.renamed("names2.example").log_id().to_vec());
}

// ---------------------------------------------------------------------------------------------
// The checkpoints table, forks and consistency

#[test]
fn stored_columns_come_from_the_note() {
    let mut c = fresh_db("ckpt_columns");
    let log = Ed25519Signer::from_label("columns.example", "columns log");
    let log_id = add_log(&mut c, &log.spki_b64(), &log.name, None);
    let tree = TestTree::new("columns", 10);
    let n4 = log.checkpoint(&log.name, 4, &tree.root(4));
    let root4 = tree.root(4).to_vec();
    // Client values that disagree with the note are rejected; values that agree are accepted.
    let disagree: Vec<(&str, String)> = vec![
        ("tree_size", "INSERT INTO rekor_checkpoints (note, tree_size) VALUES ($1, 5)".into()),
        ("origin", "INSERT INTO rekor_checkpoints (note, origin) VALUES ($1, 'other')".into()),
        ("root_hash", "INSERT INTO rekor_checkpoints (note, root_hash) VALUES ($1, sha256('x'))".into()),
        ("log_id", "INSERT INTO rekor_checkpoints (note, log_id) VALUES ($1, sha256('x'))".into()),
    ];
    for (what, q) in &disagree {
        let (code, msg, detail) = db_error(c.execute(q.as_str(), &[&n4]));
        assert_eq!(code, "23514", "{what}: {msg}");
        assert!(msg.contains("disagree"), "{what}: {msg}");
        assert!(!detail.is_empty());
    }
    let id: i64 = c
        .query_one(
            "INSERT INTO rekor_checkpoints (note, log_id, origin, tree_size, root_hash) VALUES ($1, $2, $3, 4, $4) RETURNING checkpoint_id",
            &[&n4, &log_id, &log.name, &root4],
        )
        .unwrap()
        .get(0);
    // Unique per (log, size, root): the same checkpoint twice is a unique violation.
    assert_eq!(sqlstate(insert_note(&mut c, &n4)), "23505");
    // The same checkpoint with a cosignature is the same (log, size, root).
    let witness = Ed25519Signer::from_label("w.example", "columns witness");
    let text = notes::signed_text(&n4).to_string();
    assert_eq!(sqlstate(insert_note(&mut c, &notes::assemble(&text, &[log.line(&text), witness.line(&text)]))), "23505");
    let (rid, status) = record(&mut c, &notes::assemble(&text, &[witness.line(&text), log.line(&text)]));
    assert_eq!((rid, status.as_str()), (id, "existing"));
    // Unknown origin, bad signature.
    let stranger = Ed25519Signer::from_label("stranger.example", "stranger");
    let (code, msg, detail) = db_error(insert_note(&mut c, &stranger.checkpoint("stranger.example", 4, &tree.root(4))));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "checkpoint origin is not a trusted log"));
    assert!(detail.contains("stranger.example"), "{detail}");
    let imposter = Ed25519Signer::from_label(&log.name, "imposter");
    let (code, msg, detail) = db_error(insert_note(&mut c, &imposter.checkpoint(&log.name, 5, &tree.root(5))));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "checkpoint signature does not verify under the trusted log key"));
    assert!(detail.contains(&hex::encode(&log_id)), "{detail}");
    // rekor_record_checkpoint raises the same errors (they prove nothing).
    assert_eq!(sqlstate(c.query_one("SELECT * FROM rekor_record_checkpoint($1)", &[&imposter.checkpoint(&log.name, 5, &tree.root(5))])), "23514");
    assert_eq!(sqlstate(c.query_one("SELECT * FROM rekor_record_checkpoint('junk')", &[])), "22P02");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 1);
}

#[test]
fn a_second_root_for_a_stored_size_is_a_fork() {
    let mut c = fresh_db("ckpt_fork");
    let log = Ed25519Signer::from_label("fork.example", "fork log");
    let log_id = add_log(&mut c, &log.spki_b64(), &log.name, None);
    let a = TestTree::new("fork", 20);
    let b = a.forked_at(5, "the other history");
    let cp = |t: &TestTree, n: usize| log.checkpoint(&log.name, n as u64, &t.root(n));
    let mut ids = std::collections::HashMap::new();
    for n in [4, 8, 12] {
        ids.insert(n, insert_note(&mut c, &cp(&a, n)).unwrap());
    }
    // A different root at a stored size: rejected, both roots in the DETAIL, nothing kept.
    let (code, msg, detail) = db_error(insert_note(&mut c, &cp(&b, 8)));
    assert_eq!(code, "23514");
    assert!(msg.starts_with("log fork: "), "{msg}");
    assert!(detail.contains(&hex::encode(a.root(8))) && detail.contains(&hex::encode(b.root(8))), "{detail}");
    assert!(detail.contains(&format!("checkpoint {}", ids[&8])), "{detail}");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_log_forks"), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 3);

    // rekor_record_checkpoint keeps the evidence instead of raising.
    let (id, status) = record(&mut c, &cp(&b, 8));
    assert_eq!((id, status.as_str()), (ids[&8], "fork"));
    let r = c
        .query_one(
            "SELECT log_id, tree_size, stored_checkpoint_id, stored_root_hash, conflicting_root_hash, conflicting_note FROM rekor_log_forks",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, Vec<u8>>(0), log_id);
    assert_eq!(r.get::<_, i64>(1), 8);
    assert_eq!(r.get::<_, i64>(2), ids[&8]);
    assert_eq!(r.get::<_, Vec<u8>>(3), a.root(8).to_vec());
    assert_eq!(r.get::<_, Vec<u8>>(4), b.root(8).to_vec());
    assert_eq!(r.get::<_, String>(5), cp(&b, 8));
    // Recording it again adds nothing; the stored history is untouched.
    assert_eq!(record(&mut c, &cp(&b, 8)), (ids[&8], "fork".to_string()));
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_log_forks"), 1);
    assert_eq!(record(&mut c, &cp(&a, 8)), (ids[&8], "existing".to_string()));
    let (id16, status) = record(&mut c, &cp(&a, 16));
    assert_eq!(status, "inserted");
    assert!(id16 > ids[&12]);
    // Sizes up to 5 are the same in both histories: no fork there.
    assert_eq!(record(&mut c, &cp(&b, 4)), (ids[&4], "existing".to_string()));
    // The fork shows in the log status.
    let r = c.query_one("SELECT forks, all_consistent, latest_tree_size FROM rekor_log_status WHERE log_id = $1", &[&log_id]).unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, bool>(1), r.get::<_, i64>(2)), (1, false, 16));
    // The other history at a size not stored is not a fork by itself, but no proof links it.
    let (bid, status) = record(&mut c, &cp(&b, 20));
    assert_eq!(status, "inserted");
    let ok: bool = c
        .query_one("SELECT rekor_verify_checkpoint_consistency($1, $2, $3)", &[&id16, &bid, &b.consistency(16, 20)])
        .unwrap()
        .get(0);
    assert!(!ok);
    let ok: bool = c
        .query_one("SELECT rekor_verify_checkpoint_consistency($1, $2, $3)", &[&id16, &bid, &a.consistency(16, 20)])
        .unwrap()
        .get(0);
    assert!(!ok);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoint_consistency"), 0);
}

#[test]
fn a_fork_cannot_slip_in_under_repeatable_read() {
    // The trigger's fork check reads with the statement's snapshot; under REPEATABLE READ that
    // snapshot can predate a conflicting checkpoint another session has committed.
    let mut c = fresh_db("ckpt_fork_rr");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let log = Ed25519Signer::from_label("rr.example", "repeatable read log");
    add_log(&mut c, &log.spki_b64(), &log.name, None);
    let a = TestTree::new("rr", 8);
    let b = a.forked_at(3, "rr fork");
    let mut other = connect_db(&db);
    for via_record in [false, true] {
        let size = if via_record { 7 } else { 8 };
        let mut tx = other.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).start().unwrap();
        tx.query_one("SELECT count(*) FROM rekor_checkpoints", &[]).unwrap(); // the snapshot is taken here
        insert_note(&mut c, &log.checkpoint(&log.name, size, &a.root(size as usize))).unwrap();
        let fork = log.checkpoint(&log.name, size, &b.root(size as usize));
        let r = if via_record {
            tx.query_one("SELECT status FROM rekor_record_checkpoint($1)", &[&fork]).map(|r| r.get::<_, String>(0))
        } else {
            tx.query_one("INSERT INTO rekor_checkpoints (note) VALUES ($1) RETURNING 'inserted'::text", &[&fork]).map(|r| r.get(0))
        };
        match r {
            Ok(status) => assert_eq!(status, "fork", "size {size}: a second root was stored under REPEATABLE READ"),
            Err(e) => {
                let code = e.as_db_error().map(|d| d.code().code().to_string()).unwrap_or_default();
                assert!(matches!(code.as_str(), "23514" | "23505" | "40001"), "size {size}: {e:?}");
            }
        }
        drop(tx);
    }
    let roots: i64 = count(&mut c, "SELECT count(*) FROM (SELECT tree_size FROM rekor_checkpoints GROUP BY 1 HAVING count(*) > 1) x");
    assert_eq!(roots, 0, "two roots stored for one tree size");
}

#[test]
fn consistency_links_make_the_log_status_all_consistent() {
    let mut c = fresh_db("ckpt_consistency");
    let log = Ed25519Signer::from_label("consistency.example", "consistency log");
    let log_id = add_log(&mut c, &log.spki_b64(), &log.name, None);
    let tree = TestTree::new("consistency", 40);
    let sizes = [3usize, 7, 12, 33];
    let mut id = std::collections::HashMap::new();
    for n in sizes {
        let (cid, status) = record(&mut c, &log.checkpoint(&log.name, n as u64, &tree.root(n)));
        assert_eq!(status, "inserted");
        id.insert(n, cid);
    }
    let status = |c: &mut Client| {
        let r = c
            .query_one(
                "SELECT latest_checkpoint_id, latest_tree_size, checkpoints, proven_consistent, all_consistent FROM rekor_log_status WHERE log_id = $1",
                &[&log_id],
            )
            .unwrap();
        (r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, i64>(2), r.get::<_, i64>(3), r.get::<_, bool>(4))
    };
    assert_eq!(status(&mut c), (id[&33], 33, 4, 1, false));
    let link = |c: &mut Client, a: usize, b: usize, proof: &Vec<Vec<u8>>| -> Result<bool, postgres::Error> {
        c.query_one("SELECT rekor_verify_checkpoint_consistency($1, $2, $3)", &[&id[&a], &id[&b], proof]).map(|r| r.get(0))
    };
    // Wrong proofs are false and record nothing.
    // (A proof for other sizes is false when its length fits, 22023 when it cannot be one.)
    for (a, b, proof) in [(3, 7, tree.consistency(3, 12)), (7, 12, tree.consistency(3, 12)), (3, 7, tree.consistency(4, 7))] {
        match link(&mut c, a, b, &proof) {
            Ok(ok) => assert!(!ok, "{a} -> {b}"),
            Err(e) => assert_eq!(sqlstate::<()>(Err(e)), "22023", "{a} -> {b}"),
        }
    }
    let mut tampered = tree.consistency(3, 7);
    tampered[0][0] ^= 1;
    assert!(!link(&mut c, 3, 7, &tampered).unwrap());
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoint_consistency"), 0);
    // Malformed proofs, unknown ids, the wrong order, different logs: 22023.
    let mut short = tree.consistency(3, 7);
    short[0].pop();
    assert_eq!(sqlstate(link(&mut c, 3, 7, &short)), "22023");
    assert_eq!(sqlstate(link(&mut c, 3, 7, &vec![vec![0u8; 32]; 65])), "22023");
    assert_eq!(sqlstate(c.query_one("SELECT rekor_verify_checkpoint_consistency($1, 999999, '{}')", &[&id[&3]])), "22023");
    assert_eq!(sqlstate(link(&mut c, 7, 3, &tree.consistency(3, 7))), "22023");
    let other = Ed25519Signer::from_label("consistency2.example", "consistency log 2");
    add_log(&mut c, &other.spki_b64(), &other.name, None);
    let (oid, _) = record(&mut c, &other.checkpoint(&other.name, 7, &tree.root(7)));
    let (code, msg, _) = db_error(c.query_one("SELECT rekor_verify_checkpoint_consistency($1, $2, $3)", &[&id[&3], &oid, &tree.consistency(3, 7)]));
    assert_eq!((code.as_str(), msg.as_str()), ("22023", "checkpoints belong to different logs"));
    // Links are proven only by the trigger: a bad proof inserted directly is refused.
    let r = c.execute(
        "INSERT INTO rekor_checkpoint_consistency (older_id, newer_id, proof) VALUES ($1, $2, $3)",
        &[&id[&3], &id[&7], &tampered],
    );
    assert_eq!(sqlstate(r), "23514");

    // Valid proofs: recorded; the status turns all-consistent once every checkpoint is linked to the latest.
    assert!(link(&mut c, 3, 7, &tree.consistency(3, 7)).unwrap());
    assert_eq!(status(&mut c), (id[&33], 33, 4, 1, false));
    assert!(link(&mut c, 7, 33, &tree.consistency(7, 33)).unwrap());
    assert_eq!(status(&mut c), (id[&33], 33, 4, 3, false));
    assert!(link(&mut c, 12, 33, &tree.consistency(12, 33)).unwrap());
    assert_eq!(status(&mut c), (id[&33], 33, 4, 4, true));
    // Verifying again is true and adds no row.
    assert!(link(&mut c, 3, 7, &tree.consistency(3, 7)).unwrap());
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoint_consistency"), 3);
    // A newer checkpoint: not all consistent until it is linked.
    let (id40, _) = record(&mut c, &log.checkpoint(&log.name, 40, &tree.root(40)));
    assert_eq!(status(&mut c), (id40, 40, 5, 1, false));
    let ok: bool = c
        .query_one("SELECT rekor_verify_checkpoint_consistency($1, $2, $3)", &[&id[&33], &id40, &tree.consistency(33, 40)])
        .unwrap()
        .get(0);
    assert!(ok);
    assert_eq!(status(&mut c), (id40, 40, 5, 5, true));
    // Every stored link re-verifies.
    let bad: i64 = count(
        &mut c,
        "SELECT count(*) FROM rekor_checkpoint_consistency k JOIN rekor_checkpoints a ON a.checkpoint_id = k.older_id
         JOIN rekor_checkpoints b ON b.checkpoint_id = k.newer_id
         WHERE NOT rekor_verify_consistency(a.tree_size, b.tree_size, a.root_hash, b.root_hash, k.proof)",
    );
    assert_eq!(bad, 0);
}

#[test]
fn shards_signed_by_one_ecdsa_key_are_not_forks_of_each_other() {
    // Rekor v1 signs every shard (origin "<host> - <tree id>") with one key, so the shards share a
    // log_id; two shards at the same size have different roots without any fork.
    let mut c = fresh_db("ckpt_shards");
    let log = EcdsaSigner::generate("shards.example");
    let log_id = add_log(&mut c, &STANDARD.encode(log.spki_der()), &log.name, None);
    assert_eq!(log_id, log.log_id().to_vec());
    let t1 = TestTree::new("shard one", 10);
    let t2 = TestTree::new("shard two", 10);
    let s1 = log.checkpoint("shards.example - 1", 10, &t1.root(10));
    let s2 = log.checkpoint("shards.example - 2", 10, &t2.root(10));
    insert_note(&mut c, &s1).unwrap();
    insert_note(&mut c, &s2).unwrap_or_else(|e| panic!("another shard at the same size is not a fork: {e:?}"));
    let s2b = log.checkpoint("shards.example - 2", 10, &t1.root(10));
    // ... but within one shard a second root is.
    assert_eq!(record(&mut c, &s2b).1, "fork");
    let s1b = log.checkpoint("shards.example - 1", 10, &t2.root(10));
    assert_eq!(sqlstate(insert_note(&mut c, &s1b)), "23514");
    let t3 = TestTree::new("shard three", 10);
    let s3 = log.checkpoint("shards.example - 3", 10, &t3.root(10));
    assert_eq!(record(&mut c, &s3).1, "inserted");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_log_forks"), 1);
}

// ---------------------------------------------------------------------------------------------
// Append-only evidence

#[test]
fn checkpoints_are_append_only_for_everyone_but_the_extension_owner() {
    let mut c = fresh_db("ckpt_append_only");
    let log = Ed25519Signer::from_label("append.example", "append-only log");
    add_log(&mut c, &log.spki_b64(), &log.name, None);
    let tree = TestTree::new("append", 12);
    let cp = |n: usize| log.checkpoint(&log.name, n as u64, &tree.root(n));
    let (id3, _) = record(&mut c, &cp(3));
    let (id6, _) = record(&mut c, &cp(6));
    assert!(c.query_one("SELECT rekor_verify_checkpoint_consistency($1, $2, $3)", &[&id3, &id6, &tree.consistency(3, 6)]).unwrap().get::<_, bool>(0));
    let forked = tree.forked_at(0, "fork");
    assert_eq!(record(&mut c, &log.checkpoint(&log.name, 6, &forked.root(6))).1, "fork");

    let user = unique_role("rekor_user");
    let admin = unique_role("rekor_superuser");
    c.batch_execute(&format!(
        "CREATE ROLE {user} NOLOGIN;
         GRANT USAGE ON SCHEMA public TO {user};
         GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO {user};
         CREATE ROLE {admin} NOLOGIN SUPERUSER;"
    ))
    .unwrap();
    let refused = [
        "UPDATE rekor_checkpoints SET seen_at = seen_at",
        "UPDATE rekor_checkpoints SET note = note WHERE tree_size = 3",
        "DELETE FROM rekor_checkpoints WHERE checkpoint_id = (SELECT max(checkpoint_id) FROM rekor_checkpoints)",
        "TRUNCATE rekor_checkpoints CASCADE",
        "UPDATE rekor_log_forks SET detected_at = now()",
        "DELETE FROM rekor_log_forks",
        "TRUNCATE rekor_log_forks",
        "UPDATE rekor_checkpoint_consistency SET verified_at = now()",
        "DELETE FROM rekor_checkpoint_consistency",
        "TRUNCATE rekor_checkpoint_consistency",
    ];
    for role in [&user, &admin] {
        c.batch_execute(&format!("SET ROLE {role}")).unwrap();
        let owner: bool = c.query_one("SELECT rekor_is_extension_owner()", &[]).unwrap().get(0);
        assert!(!owner, "{role}");
        for q in refused {
            let (code, msg, _) = db_error(c.execute(q, &[]));
            assert_eq!(code, "42501", "{role}: {q}: {msg}");
            assert!(msg.contains("append-only"), "{role}: {q}: {msg}");
        }
        // Appending is allowed: a new verified checkpoint.
        let n = if role == &user { 9 } else { 10 };
        c.execute("INSERT INTO rekor_checkpoints (note) VALUES ($1)", &[&cp(n)]).unwrap();
        c.batch_execute("RESET ROLE").unwrap();
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 4);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_log_forks"), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoint_consistency"), 1);

    // The owner may change and remove evidence, but an UPDATE is still checked against the note.
    assert!(c.query_one("SELECT rekor_is_extension_owner()", &[]).unwrap().get::<_, bool>(0));
    assert_eq!(c.execute("UPDATE rekor_checkpoints SET seen_at = seen_at - interval '1 day'", &[]).unwrap(), 4);
    assert_eq!(sqlstate(c.execute("UPDATE rekor_checkpoints SET tree_size = tree_size + 1 WHERE checkpoint_id = $1", &[&id3])), "23514");
    assert_eq!(sqlstate(c.execute("UPDATE rekor_checkpoints SET note = $1 WHERE checkpoint_id = $2", &[&log.checkpoint(&log.name, 3, &forked.root(3)), &id3])), "23514");
    assert_eq!(c.execute("DELETE FROM rekor_checkpoints WHERE tree_size = 10", &[]).unwrap(), 1);
    assert_eq!(c.execute("DELETE FROM rekor_log_forks", &[]).unwrap(), 1);
    c.batch_execute("TRUNCATE rekor_checkpoints CASCADE").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 0);
    c.batch_execute(&format!("DROP OWNED BY {user}; DROP ROLE {user}; DROP ROLE {admin};")).unwrap();
}
