//! Evidence out and signing time in (issue 14): every stored real entry exports as a Sigstore bundle
//! v0.3 that ingests back to the same entry; RFC 3161 timestamps are verified on ingest (check 6)
//! against the trusted root's timestamp authorities, and for a Rekor v2 entry (no SET) their genTime,
//! not now, picks the log key. The exported bundles and their trusted roots are left in
//! target/exported-bundles/ for the offline check by sigstore-go (tests/differential `exported`,
//! run by scripts/test.sh layer 5).
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use postgres::Client;
use rekor_meta_client_tests::*;
use serde_json::Value;
use std::path::PathBuf;

const STAGING_ROOT: &str = "trusted_root/staging.trusted_root.json";
const PRODUCTION_ROOT: &str = "trusted_root/production.trusted_root.json";
/// Rekor v2 staging (log2025-alpha1, valid 2025-04-16 .. 2025-09-04), timestamp.sigstage.dev token.
const V2_HASHEDREKORD: &str = "timestamps/sigstore-python/staging-rekor-v2.txt.sigstore.json";
const V2_DSSE: &str = "timestamps/sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json";
/// A conformance case whose token embeds the TSA certificate.
const EMBEDDED_CERT_CASE: &str = "conformance/bundle-verify/rekor2-timestamp-with-embedded-cert";

fn root_of(path: &str) -> String {
    let text = fixture(path);
    let v: Value = serde_json::from_str(&text).unwrap();
    // A client trust config carries the root inside.
    match v.get("trustedRoot") {
        Some(r) => r.to_string(),
        None => text,
    }
}

fn db_with_root(name: &str, root: &str) -> Client {
    let mut c = fresh_db(name);
    c.query("SELECT * FROM rekor_import_trusted_root($1::text::jsonb)", &[&root]).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    c
}

fn ingest(c: &mut Client, bundle: &str) -> Result<Vec<i64>, postgres::Error> {
    c.query("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&bundle]).map(|r| r.iter().map(|r| r.get(0)).collect())
}

fn export(c: &mut Client, id: i64) -> Result<Value, postgres::Error> {
    c.query_one("SELECT rekor_export_bundle($1)::text", &[&id]).map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap())
}

fn row(c: &mut Client, id: i64) -> (String, String, Option<String>, String, Option<i64>, Vec<u8>) {
    let r = c
        .query_one(
            "SELECT kind, api_version, signing_time::text, signing_time_source, timestamp_tsa_id, leaf_hash
             FROM rekor_entries WHERE entry_id = $1",
            &[&id],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))
}

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/exported-bundles")
}

/// The real bundles of the fixtures with the trusted root they verify under: the sigstore-conformance
/// happy paths (v1 and v2; hashedrekord, dsse, intoto; SET, RFC 3161 timestamps with and without an
/// embedded certificate), sigstore-python's staging v2 and local-TSA v1 bundles, and the upstream
/// sigstore-java / cosign bundles.
fn real_cases() -> Vec<(String, String, String)> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut cases = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(base.join("conformance/bundle-verify")).unwrap().map(|d| d.unwrap().path()).collect();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with("_fail") || !d.join("bundle.sigstore.json").exists() {
            continue;
        }
        let root = if d.join("trusted_root.json").exists() {
            format!("conformance/bundle-verify/{name}/trusted_root.json")
        } else {
            PRODUCTION_ROOT.to_string()
        };
        cases.push((name.clone(), format!("conformance/bundle-verify/{name}/bundle.sigstore.json"), root));
    }
    for (name, bundle, root) in [
        ("sigstore-python-v2-hashedrekord", V2_HASHEDREKORD, STAGING_ROOT),
        ("sigstore-python-v2-dsse", V2_DSSE, STAGING_ROOT),
        ("sigstore-java-v2", "upstream/bundle-rekor-v2.sigstore.json", STAGING_ROOT),
        ("upstream-v1-hashedrekord", "upstream/bundle-v0.3-hashedrekord.sigstore.json", PRODUCTION_ROOT),
        ("upstream-v1-dsse", "upstream/bundle-dsse.sigstore.json", PRODUCTION_ROOT),
    ] {
        cases.push((name.to_string(), bundle.to_string(), root.to_string()));
    }
    cases
}

#[test]
fn every_real_bundle_entry_exports_to_a_bundle_that_ingests_back_to_the_same_entry() {
    let out = out_dir();
    let _ = std::fs::remove_dir_all(&out);
    let (mut kinds, mut sources, mut n) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new(), 0);
    for (name, bundle, root_file) in real_cases() {
        let root = root_of(&root_file);
        let mut c = db_with_root("bun_rt", &root);
        let ids = ingest(&mut c, &fixture(&bundle)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(ids.len(), 1, "{name}");
        let id = ids[0];
        let stored = row(&mut c, id);
        let exported = export(&mut c, id).unwrap_or_else(|e| panic!("{name}: export: {e:?}"));
        assert_eq!(exported["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json", "{name}");
        // Round trip: the export ingests back to the very same entry, nothing new.
        assert_eq!(ingest(&mut c, &exported.to_string()).unwrap(), vec![id], "{name}: ingest(export(e))");
        assert_eq!(c.query_one("SELECT count(*) FROM rekor_entries", &[]).unwrap().get::<_, i64>(0), 1, "{name}");
        // And alone, in a database that has only the trusted root: the same entry, signing time and source.
        let mut d = db_with_root("bun_rt2", &root);
        let again = ingest(&mut d, &exported.to_string()).unwrap_or_else(|e| panic!("{name}: fresh ingest of the export: {e:?}"));
        let r2 = row(&mut d, again[0]);
        assert_eq!((&r2.0, &r2.1, &r2.2, &r2.3, &r2.5), (&stored.0, &stored.1, &stored.2, &stored.3, &stored.5), "{name}");
        // The log entry is the one the log issued: every field of the original tlogEntries[0] is kept.
        let orig: Value = serde_json::from_str(&fixture(&bundle)).unwrap();
        let (o, e) = (&orig["verificationMaterial"]["tlogEntries"][0], &exported["verificationMaterial"]["tlogEntries"][0]);
        for f in ["logId", "kindVersion", "canonicalizedBody", "inclusionPromise"] {
            assert_eq!(o.get(f), e.get(f), "{name}: tlogEntries[0].{f}");
        }
        assert_eq!(o["inclusionProof"]["checkpoint"], e["inclusionProof"]["checkpoint"], "{name}: checkpoint");
        assert_eq!(o["inclusionProof"]["rootHash"], e["inclusionProof"]["rootHash"], "{name}: rootHash");
        if stored.3 == "rfc3161" {
            assert!(e.get("inclusionPromise").is_none(), "{name}");
            let t = &exported["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"];
            let want = &orig["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"];
            assert_eq!(B64.decode(t.as_str().unwrap()).unwrap(), B64.decode(want.as_str().unwrap().replace('\n', "")).unwrap(), "{name}");
        }
        kinds.insert(format!("{} {}", stored.0, stored.1));
        sources.insert(stored.3.clone());
        let dir = out.join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bundle.sigstore.json"), serde_json::to_string_pretty(&exported).unwrap()).unwrap();
        std::fs::write(dir.join("trusted_root.json"), &root).unwrap();
        n += 1;
    }
    assert!(n >= 25, "{n} cases");
    let want: std::collections::BTreeSet<String> =
        ["dsse 0.0.1", "hashedrekord 0.0.1", "hashedrekord 0.0.2", "intoto 0.0.2"].iter().map(|s| s.to_string()).collect();
    assert_eq!(kinds, want, "v1 and v2, hashedrekord, dsse, intoto");
    assert_eq!(sources, ["rfc3161", "set"].iter().map(|s| s.to_string()).collect(), "both signing-time sources");
}

#[test]
fn fixture_entries_export_where_a_bundle_can_carry_them_and_say_55000_where_not() {
    // tests/fixtures/rekor_entries.json: real entries of production and staging, ingested as bare
    // tlog entries (no envelope, no certificate beyond what the body records).
    let mut c = fresh_db("bun_fix");
    trust_fixture_logs(&mut c);
    let (mut ok, mut refused) = (0, 0);
    for e in json_fixture("rekor_entries.json")["entries"].as_array().unwrap() {
        let (Some(p), Some(cp)) = (e.get("inclusion_proof").filter(|p| p.is_object()), e["checkpoint_envelope"].as_str()) else {
            continue;
        };
        let h = |x: &Value| B64.encode(hex::decode(x.as_str().unwrap()).unwrap());
        let mut tle = serde_json::json!({
            "logIndex": e["log_index"].to_string(),
            "logId": {"keyId": e["log_id_b64"]},
            "kindVersion": {"kind": e["kind"], "version": e["kind_version"]},
            "canonicalizedBody": e["canonicalized_body_b64"],
            "inclusionProof": {"logIndex": p["log_index"].to_string(), "rootHash": h(&p["root_hash_hex"]),
                               "treeSize": p["tree_size"].to_string(),
                               "hashes": p["hashes_hex"].as_array().unwrap().iter().map(h).collect::<Vec<_>>(),
                               "checkpoint": {"envelope": cp}},
        });
        if let Some(t) = e["integrated_time"].as_i64().filter(|t| *t != 0) {
            tle["integratedTime"] = Value::String(t.to_string());
        }
        if let Some(set) = e["signed_entry_timestamp_b64"].as_str() {
            tle["inclusionPromise"] = serde_json::json!({"signedEntryTimestamp": set});
        }
        let b = serde_json::json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                                   "verificationMaterial": {"tlogEntries": [tle]}});
        let Ok(ids) = ingest(&mut c, &b.to_string()) else { continue };
        let id = ids[0];
        let kind: String = c.query_one("SELECT kind FROM rekor_entries WHERE entry_id = $1", &[&id]).unwrap().get(0);
        match export(&mut c, id) {
            Ok(x) => {
                assert_eq!(ingest(&mut c, &x.to_string()).unwrap(), vec![id], "{}", e["id"]);
                ok += 1;
            }
            Err(err) => {
                let (code, msg, _) = db_error::<()>(Err(err));
                assert_eq!(code, "55000", "{}: {msg}", e["id"]);
                // Only envelope kinds lack content; an RSA key is a verifier no bundle of ours carries.
                assert!(
                    (matches!(kind.as_str(), "dsse" | "intoto") && msg.contains("needs the DSSE envelope"))
                        || msg.contains("unsupported key algorithm"),
                    "{}: {kind}: {msg}",
                    e["id"]
                );
                refused += 1;
            }
        }
    }
    assert!(ok >= 3, "exported {ok}");
    let _ = refused;
    assert_eq!(sqlstate(c.query_one("SELECT rekor_export_bundle(999999)", &[])), "22023");
}

/// The Rekor v2 log of V2_HASHEDREKORD and the entry's genTime (2025-06-09 11:57:38 UTC).
const V2_LOG_HOST: &str = "https://log2025-alpha1.rekor.sigstage.dev";
const V2_GEN_TIME: &str = "2025-06-09 11:57:38+00";

#[test]
fn rekor_v2_entries_are_checked_against_the_log_key_valid_at_the_timestamps_gen_time() {
    let root = root_of(STAGING_ROOT);
    let bundle = fixture(V2_HASHEDREKORD);
    // The staging root retired log2025-alpha1 on 2025-09-04: not valid now, valid at genTime.
    let mut c = db_with_root("bun_window", &root);
    let id = ingest(&mut c, &bundle).expect("accepted: the key is valid at the timestamp's genTime")[0];
    let (_, _, t, src, tsa, _) = row(&mut c, id);
    assert_eq!((t.as_deref(), src.as_str()), (Some(V2_GEN_TIME), "rfc3161"));
    assert!(tsa.is_some());
    assert!(c.query_one("SELECT rekor_verify_inclusion($1)", &[&id]).unwrap().get::<_, bool>(0));
    assert_eq!(c.query_one("SELECT rekor_verify_all()", &[]).unwrap().get::<_, i64>(0), 1);
    let r = c.query_one("SELECT reason FROM rekor_verify_inclusion_report($1) WHERE step = 0", &[&id]).unwrap();
    assert!(r.get::<_, String>(0).contains(&format!("checked at {V2_GEN_TIME}")), "{:?}", r.get::<_, String>(0));
    let r = c.query_one("SELECT passed, reason FROM rekor_verify_inclusion_report($1) WHERE step = 7", &[&id]).unwrap();
    assert_eq!(r.get::<_, Option<bool>>(0), Some(true));
    assert!(r.get::<_, String>(1).starts_with(&format!("{V2_GEN_TIME} (rfc3161")), "{}", r.get::<_, String>(1));

    // Without its timestamp the same entry has no signing time: checked at now, and refused.
    let mut v: Value = serde_json::from_str(&bundle).unwrap();
    v["verificationMaterial"].as_object_mut().unwrap().remove("timestampVerificationData");
    let mut d = db_with_root("bun_window_none", &root);
    let (code, msg, detail) = db_error(ingest(&mut d, &v.to_string()));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "log key is not valid at the entry's time"), "{detail}");
    assert!(detail.ends_with("(now: no SET signs an integrated time)"), "{detail}");

    // A key window that covers now but not genTime: refused at genTime, by the trigger and on re-verification.
    let mut e = db_with_root("bun_window_late", &root);
    e.execute("UPDATE rekor_logs SET valid_from = '2025-07-01', valid_until = NULL WHERE base_url IS NULL AND signer_name = 'log2025-alpha1.rekor.sigstage.dev'", &[]).unwrap();
    let (code, msg, detail) = db_error(ingest(&mut e, &bundle));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "log key is not valid at the entry's time"), "{detail}");
    assert!(detail.contains(&format!("entry time {V2_GEN_TIME} (the RFC 3161 timestamp's genTime)")), "{detail}");
    let _ = V2_LOG_HOST;

    // Stored, then the window moved past genTime: every re-verification refuses it alike.
    c.execute("UPDATE rekor_logs SET valid_from = '2025-07-01', valid_until = NULL WHERE signer_name = 'log2025-alpha1.rekor.sigstage.dev'", &[]).unwrap();
    let (code, msg, _) = db_error(c.query_one("SELECT rekor_verify_inclusion($1)", &[&id]));
    assert_eq!(code, "23514");
    assert!(msg.ends_with("log key is not valid at the entry's time"), "{msg}");
    let (code, msg2, _) = db_error(c.query_one("SELECT rekor_verify_all()", &[]));
    assert_eq!((code.as_str(), msg2.as_str()), ("23514", msg.as_str()));
}

#[test]
fn a_callers_signing_time_is_never_kept() {
    let mut c = db_with_root("bun_caller", &root_of(STAGING_ROOT));
    let n = c
        .execute(
            "INSERT INTO rekor_entries (log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint,
                                        rfc3161_timestamp, signing_time, signing_time_source)
             SELECT p.log_id, p.log_index, p.proof_log_index, p.body, p.tree_size, p.root_hash, p.proof_hashes, p.checkpoint,
                    m.rfc3161_timestamps[1], '2000-01-01', 'set'
             FROM rekor_parse_bundle($1::text::jsonb) p, rekor_bundle_material($1::text::jsonb) m",
            &[&fixture(V2_HASHEDREKORD)],
        )
        .unwrap();
    assert_eq!(n, 1);
    let r = c.query_one("SELECT signing_time::text, signing_time_source FROM rekor_entries", &[]).unwrap();
    assert_eq!((r.get::<_, String>(0).as_str(), r.get::<_, String>(1).as_str()), (V2_GEN_TIME, "rfc3161"));
}

/// The DER token of a bundle's first RFC 3161 timestamp.
fn token_of(bundle: &Value) -> Vec<u8> {
    let t = &bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"];
    B64.decode(t.as_str().unwrap().replace('\n', "")).unwrap()
}

fn with_token(bundle: &Value, token: &[u8]) -> String {
    let mut v = bundle.clone();
    v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"] = Value::String(B64.encode(token));
    v.to_string()
}

fn assert_check6(r: Result<Vec<i64>, postgres::Error>, check: &str, detail_has: &str, case: &str) {
    let (code, msg, detail) = db_error(r);
    assert_eq!(code, "23514", "{case}: {msg} / {detail}");
    assert_eq!(msg, format!("check 6 (timestamp): {check}: the RFC 3161 token does not verify"), "{case}: {detail}");
    assert!(detail.contains(detail_has), "{case}: {detail}");
    assert!(detail.contains("SHA-256"), "{case}: the DETAIL names the token: {detail}");
}

#[test]
fn tampered_or_untrusted_timestamps_reject_the_entry_naming_check_6() {
    let root = root_of(STAGING_ROOT);
    let v2: Value = serde_json::from_str(&fixture(V2_HASHEDREKORD)).unwrap();
    let dsse: Value = serde_json::from_str(&fixture(V2_DSSE)).unwrap();
    let mut c = db_with_root("bun_tamper", &root);

    // imprint: a genuine token, but of another entry's signature.
    assert_check6(ingest(&mut c, &with_token(&v2, &token_of(&dsse))), "imprint", "message imprint", "imprint");
    // signature: the last byte of the TSA's signature flipped.
    let mut t = token_of(&v2);
    let last = t.len() - 1;
    t[last] ^= 0x01;
    assert_check6(ingest(&mut c, &with_token(&v2, &t)), "signature", "timestamp signature", "signature");
    // validity: the authority's validFor ends before genTime.
    c.execute("UPDATE rekor_timestamp_authorities SET valid_until = '2025-06-01' WHERE valid_from < '2025-06-01'", &[]).unwrap();
    assert_check6(ingest(&mut c, &fixture(V2_HASHEDREKORD)), "validity", "timestamp validity", "validFor");
    c.execute("UPDATE rekor_timestamp_authorities SET valid_until = NULL", &[]).unwrap();
    assert_eq!(ingest(&mut c, &fixture(V2_HASHEDREKORD)).unwrap().len(), 1, "untampered, with the window restored");
    assert_eq!(c.query_one("SELECT count(*) FROM rekor_entries", &[]).unwrap().get::<_, i64>(0), 1);

    // certificate: the TSA certificate the token embeds, one byte of its signature changed.
    let case_root = fixture(&format!("{EMBEDDED_CERT_CASE}/trusted_root.json"));
    let case: Value = serde_json::from_str(&fixture(&format!("{EMBEDDED_CERT_CASE}/bundle.sigstore.json"))).unwrap();
    let rv: Value = serde_json::from_str(&case_root).unwrap();
    let leaf = B64.decode(rv["timestampAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"].as_str().unwrap()).unwrap();
    let mut t = token_of(&case);
    let at = t.windows(leaf.len()).position(|w| w == leaf.as_slice()).expect("the token embeds the TSA certificate");
    t[at + leaf.len() - 5] ^= 0x01;
    let mut d = db_with_root("bun_tamper_cert", &case_root);
    assert_check6(ingest(&mut d, &with_token(&case, &t)), "chain", "timestamp chain", "certificate");
    assert!(ingest(&mut d, &case.to_string()).is_ok(), "the untampered case ingests");

    // No trusted authority at all: the token cannot be verified, so the entry is refused.
    let mut no_tsa: Value = serde_json::from_str(&root).unwrap();
    no_tsa.as_object_mut().unwrap().remove("timestampAuthorities");
    let mut e = db_with_root("bun_no_tsa", &no_tsa.to_string());
    assert_check6(ingest(&mut e, &fixture(V2_HASHEDREKORD)), "chain", "no timestamp authority is trusted", "no TSA");
    // A stored token that no longer verifies (its authority retired past genTime) fails re-verification.
    c.execute("UPDATE rekor_timestamp_authorities SET valid_until = '2025-06-01' WHERE valid_from < '2025-06-01'", &[]).unwrap();
    let (code, msg, _) = db_error(c.query_one("SELECT rekor_verify_all()", &[]));
    assert_eq!(code, "23514");
    assert!(msg.ends_with("check 6 (timestamp): validity: the RFC 3161 token does not verify"), "{msg}");
}

#[test]
fn the_trusted_roots_timestamp_authorities_are_imported_once_and_admin_only() {
    let root = root_of(STAGING_ROOT);
    let mut c = db_with_root("bun_tsa", &root);
    let n: i64 = c.query_one("SELECT count(*) FROM rekor_timestamp_authorities", &[]).unwrap().get(0);
    let want = serde_json::from_str::<Value>(&root).unwrap()["timestampAuthorities"].as_array().unwrap().len() as i64;
    assert_eq!(n, want);
    let again: Vec<String> = c
        .query("SELECT status FROM rekor_import_timestamp_authorities($1::text::jsonb)", &[&root])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(again.iter().all(|s| s == "unchanged"), "{again:?}");
    // Certificates never change; readers and writers cannot add authorities.
    assert_eq!(sqlstate(c.execute("UPDATE rekor_timestamp_authorities SET subject = 'x'", &[])), "55000");
    c.batch_execute("CREATE ROLE bun_writer_t LOGIN; GRANT rekor_writer TO bun_writer_t").ok();
    c.batch_execute("SET ROLE rekor_writer").unwrap();
    assert_eq!(sqlstate(c.query("SELECT * FROM rekor_import_timestamp_authorities($1::text::jsonb)", &[&root])), "42501");
    assert_eq!(sqlstate(c.execute("UPDATE rekor_timestamp_authorities SET valid_until = now()", &[])), "42501");
    c.batch_execute("RESET ROLE").unwrap();
    // A malformed authority is refused with its JSON path.
    let mut bad: Value = serde_json::from_str(&root).unwrap();
    bad["timestampAuthorities"][0]["validFor"].as_object_mut().unwrap().remove("start");
    let (code, msg, _) = db_error(c.query("SELECT * FROM rekor_import_trusted_root($1::text::jsonb)", &[&bad.to_string()]));
    assert_eq!(code, "22023");
    assert!(msg.contains("timestampAuthorities[0].validFor.start"), "{msg}");
}
