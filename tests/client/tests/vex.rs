//! VEX statements linked to the Rekor entries that log their attestations: rekor_link_vex (by queue
//! item or envelope digest, OpenVEX and CycloneDX), the automatic link when rekor_mark_submitted
//! completes, rekor_vex_evidence (proven / unproven / pending), validation, privileges, concurrency.
use postgres::Client;
use rekor_meta_client_tests::attest::{vex_attestation, AttestationLog};
use rekor_meta_client_tests::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PRODUCT: &str = "pkg:oci/demo-app@sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf";
const DEB: &str = "pkg:deb/debian/demo@1.0";

/// An OpenVEX document: CVE-2023-44487 not_affected in two products (one with a subcomponent),
/// CVE-2024-0001 affected in the deb.
fn openvex() -> Value {
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/2024-001",
        "author": "Example Security",
        "timestamp": "2024-05-01T10:00:00Z",
        "version": 1,
        "statements": [
            {
                "@id": "https://example.com/vex/2024-001#s1",
                "vulnerability": {"name": "CVE-2023-44487", "aliases": ["GHSA-qppj-fm5r-hxr3"]},
                "products": [
                    {"@id": PRODUCT, "subcomponents": [{"@id": "pkg:golang/golang.org/x/net@v0.7.0"}]},
                    DEB
                ],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
                "impact_statement": "HTTP/2 is disabled in this build"
            },
            {
                "vulnerability": "CVE-2024-0001",
                "products": [DEB],
                "status": "affected",
                "action_statement": "upgrade to 1.1",
                "timestamp": "2024-05-02T00:00:00Z"
            }
        ]
    })
}

fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

#[derive(Debug, Clone)]
struct Link {
    link_id: i64,
    vulnerability: String,
    product: String,
    queue_id: Option<i64>,
    entry_id: Option<i64>,
    attested: Option<bool>,
    linked: bool,
}

fn links(c: &mut Client, sql: &str, doc: &Value, arg: &(dyn postgres::types::ToSql + Sync)) -> Vec<Link> {
    c.query(
        &format!(
            "SELECT link_id, vulnerability, product, queue_id, entry_id, attested, linked_at IS NOT NULL FROM {sql} ORDER BY link_id"
        ),
        &[&text(doc), arg],
    )
    .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    .iter()
    .map(|r| Link {
        link_id: r.get(0),
        vulnerability: r.get(1),
        product: r.get(2),
        queue_id: r.get(3),
        entry_id: r.get(4),
        attested: r.get(5),
        linked: r.get(6),
    })
    .collect()
}

fn link_queue(c: &mut Client, doc: &Value, qid: i64) -> Vec<Link> {
    links(c, "rekor_link_vex($1::text::jsonb, $2::bigint)", doc, &qid)
}

fn link_digest(c: &mut Client, doc: &Value, digest: &[u8]) -> Vec<Link> {
    let d = digest.to_vec();
    links(c, "rekor_link_vex($1::text::jsonb, $2::bytea)", doc, &d)
}

#[derive(Debug, Clone)]
struct Evidence {
    link_id: i64,
    status: String,
    justification: Option<String>,
    statement_id: Option<String>,
    document_digest: Vec<u8>,
    queue_id: Option<i64>,
    entry_id: Option<i64>,
    proof: String,
    integrated_time: Option<String>,
    log_id: Option<Vec<u8>>,
    attested: Option<bool>,
    proof_detail: String,
    statement_time: Option<String>,
}

fn evidence(c: &mut Client, vulnerability: &str, product: &str) -> Vec<Evidence> {
    c.query(
        "SELECT link_id, status, justification, statement_id, document_digest, queue_id, entry_id, proof,
                integrated_time::text, log_id, attested, proof_detail, statement_time::text
         FROM rekor_vex_evidence($1, $2)",
        &[&vulnerability, &product],
    )
    .expect("rekor_vex_evidence")
    .iter()
    .map(|r| Evidence {
        link_id: r.get(0),
        status: r.get(1),
        justification: r.get(2),
        statement_id: r.get(3),
        document_digest: r.get(4),
        queue_id: r.get(5),
        entry_id: r.get(6),
        proof: r.get(7),
        integrated_time: r.get(8),
        log_id: r.get(9),
        attested: r.get(10),
        proof_detail: r.get(11),
        statement_time: r.get(12),
    })
    .collect()
}

fn bundle() -> String {
    fixture("upstream/bundle-dsse.sigstore.json")
}

/// Enqueues the real DSSE bundle's envelope and leases it to worker "w" (not yet submitted).
fn enqueue_and_lease_bundle(c: &mut Client) -> i64 {
    let qid: i64 =
        c.query_one("SELECT rekor_enqueue(($1::text::jsonb) -> 'dsseEnvelope')", &[&bundle()]).unwrap().get(0);
    let n = c.query("SELECT 1 FROM rekor_dequeue('w', 1)", &[]).unwrap().len();
    assert_eq!(n, 1);
    qid
}

fn mark_bundle_submitted(c: &mut Client, qid: i64) -> i64 {
    c.query_one("SELECT rekor_mark_submitted($1, 'w', $2::text::jsonb)", &[&qid, &bundle()])
        .expect("rekor_mark_submitted")
        .get(0)
}

fn entry_facts(c: &mut Client, entry: i64) -> (String, Vec<u8>) {
    let r =
        c.query_one("SELECT integrated_time::text, log_id FROM rekor_entries WHERE entry_id = $1", &[&entry]).unwrap();
    (r.get(0), r.get(1))
}

#[test]
fn a_link_waits_for_its_envelope_and_is_linked_when_mark_submitted_completes() {
    let mut c = fresh_db("vex_pending");
    trust_fixture_logs(&mut c);
    let qid = enqueue_and_lease_bundle(&mut c);
    let doc = openvex();
    let made = link_queue(&mut c, &doc, qid);
    // One row per (vulnerability, product): CVE-2023-44487 x 2 products, CVE-2024-0001 x 1.
    let pairs: Vec<(String, String)> = made.iter().map(|l| (l.vulnerability.clone(), l.product.clone())).collect();
    assert_eq!(
        pairs,
        vec![
            ("CVE-2023-44487".to_string(), PRODUCT.to_string()),
            ("CVE-2023-44487".to_string(), DEB.to_string()),
            ("CVE-2024-0001".to_string(), DEB.to_string())
        ]
    );
    for l in &made {
        assert_eq!(l.queue_id, Some(qid));
        assert_eq!(l.entry_id, None, "not logged yet: {l:?}");
        assert!(!l.linked);
    }
    let ev = evidence(&mut c, "CVE-2023-44487", DEB);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].proof, "pending");
    assert_eq!(ev[0].entry_id, None);
    assert!(ev[0].proof_detail.contains(&format!("queue item {qid} is leased")), "{}", ev[0].proof_detail);

    let entry = mark_bundle_submitted(&mut c, qid);
    let (itime, log_id) = entry_facts(&mut c, entry);
    let after: Vec<(Option<i64>, bool)> = c
        .query("SELECT entry_id, linked_at IS NOT NULL FROM rekor_vex_links ORDER BY link_id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(after, vec![(Some(entry), true); 3], "the queue trigger links every waiting row");

    let ev = evidence(&mut c, "CVE-2023-44487", DEB);
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e.proof, "proven", "{e:?}");
    assert_eq!(e.status, "not_affected");
    assert_eq!(e.justification.as_deref(), Some("vulnerable_code_not_in_execute_path"));
    assert_eq!(e.statement_id.as_deref(), Some("https://example.com/vex/2024-001#s1"));
    assert_eq!(e.queue_id, Some(qid));
    assert_eq!(e.entry_id, Some(entry));
    assert_eq!(e.integrated_time.as_deref(), Some(itime.as_str()));
    assert_eq!(e.log_id.as_deref(), Some(log_id.as_slice()));
    // The SLSA provenance the real bundle carries is not this VEX document: said so, not hidden;
    // and its timestamp, which nothing logged carries, orders nothing (0.3.0).
    assert_eq!(e.attested, Some(false));
    assert_eq!(e.statement_time, None);
    // The document digest is SHA-256 of the jsonb text of the whole document given.
    let digest: Vec<u8> =
        c.query_one("SELECT sha256(convert_to(($1::text::jsonb)::text, 'UTF8'))", &[&text(&doc)]).unwrap().get(0);
    assert_eq!(e.document_digest, digest);
    // The same document in another key order and spacing is the same document.
    let reordered = format!(
        "{{\"version\": 1, \"statements\": {}, \"timestamp\": \"2024-05-01T10:00:00Z\", \"author\": \"Example Security\", \"@id\": \"https://example.com/vex/2024-001\", \"@context\": \"https://openvex.dev/ns/v0.2.0\"}}",
        text(&doc["statements"])
    );
    let again: Vec<i64> = c
        .query("SELECT link_id FROM rekor_link_vex($1::text::jsonb, $2::bigint) ORDER BY link_id", &[&reordered, &qid])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(again, made.iter().map(|l| l.link_id).collect::<Vec<_>>(), "linking again is idempotent");
    let n: i64 = c.query_one("SELECT count(*) FROM rekor_vex_links", &[]).unwrap().get(0);
    assert_eq!(n, 3);
    // Asked by its alias, the statement is found too.
    let ev = evidence(&mut c, "GHSA-qppj-fm5r-hxr3", DEB);
    assert_eq!(ev.iter().map(|e| e.link_id).collect::<Vec<_>>(), vec![made[1].link_id]);
    // The affected statement carries its action statement.
    let r = c
        .query_one("SELECT status, action_statement, proof FROM rekor_vex_evidence('CVE-2024-0001', $1)", &[&DEB])
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, Option<String>>(1), r.get::<_, String>(2)),
        ("affected".to_string(), Some("upgrade to 1.1".to_string()), "proven".to_string())
    );
    // Nothing for another product or vulnerability.
    assert!(evidence(&mut c, "CVE-2023-44487", "pkg:deb/debian/other@1.0").is_empty());
    assert!(evidence(&mut c, "CVE-1999-0001", DEB).is_empty());
}

#[test]
fn a_link_to_an_already_submitted_item_is_linked_at_once() {
    let mut c = fresh_db("vex_submitted");
    trust_fixture_logs(&mut c);
    let (qid, entry) = submit_fixture_dsse_bundle(&mut c);
    let made = link_queue(&mut c, &openvex(), qid);
    assert_eq!(made.len(), 3);
    for l in &made {
        assert_eq!((l.queue_id, l.entry_id, l.linked), (Some(qid), Some(entry), true), "{l:?}");
    }
    let ev = evidence(&mut c, "CVE-2023-44487", PRODUCT);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].proof, "proven");
    // The subcomponent is kept with the product.
    let subs: Vec<String> =
        c.query_one("SELECT subcomponents FROM rekor_vex_evidence('CVE-2023-44487', $1)", &[&PRODUCT]).unwrap().get(0);
    assert_eq!(subs, vec!["pkg:golang/golang.org/x/net@v0.7.0".to_string()]);
    // Unknown queue item.
    let (code, msg, detail) =
        db_error(c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, 999::bigint)", &[&text(&openvex())]));
    assert_eq!(code, "22023");
    assert_eq!(msg, "unknown queue item");
    assert!(detail.contains("999"));
}

#[test]
fn a_link_by_envelope_digest_finds_the_queue_item_or_the_logged_entry() {
    let mut c = fresh_db("vex_digest");
    trust_fixture_logs(&mut c);
    let stmt = json!({"vulnerability": {"name": "CVE-2024-3094"}, "products": [DEB], "status": "fixed"});

    // Nothing with that digest yet: a clear error.
    let env_sha: Vec<u8> = c
        .query_one("SELECT envelope_sha256 FROM rekor_dsse_info(($1::text::jsonb) -> 'dsseEnvelope')", &[&bundle()])
        .unwrap()
        .get(0);
    let (code, msg, detail) =
        db_error(c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, $2::bytea)", &[&text(&stmt), &env_sha]));
    assert_eq!(code, "22023");
    assert_eq!(msg, "no attestation with this envelope digest");
    assert!(detail.contains(&hex::encode(&env_sha)), "{detail}");
    let (code, msg, _) =
        db_error(c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, '\\x0102'::bytea)", &[&text(&stmt)]));
    assert_eq!((code.as_str(), msg.as_str()), ("22023", "envelope_digest must be a SHA-256 (32 bytes)"));

    // The entry logged directly (no queue item): linked through the envelopeHash its dsse body logs.
    let entry: i64 = c.query_one("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&bundle()]).unwrap().get(0);
    let envelope_hash: Vec<u8> = c
        .query_one(
            "SELECT d.digest FROM rekor_entries e, rekor_body_digests(e.body) d WHERE e.entry_id = $1 AND d.role = 'envelope'",
            &[&entry],
        )
        .unwrap()
        .get(0);
    let direct = link_digest(&mut c, &stmt, &envelope_hash);
    assert_eq!(direct.len(), 1);
    assert_eq!((direct[0].queue_id, direct[0].entry_id, direct[0].attested), (None, Some(entry), None));
    let ev = evidence(&mut c, "CVE-2024-3094", DEB);
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].proof.as_str(), ev[0].entry_id, ev[0].queue_id), ("proven", Some(entry), None));
    // A digest that is only a payload hash of an entry is not an envelope.
    let payload_hash: Vec<u8> = c
        .query_one(
            "SELECT d.digest FROM rekor_entries e, rekor_body_digests(e.body) d WHERE e.entry_id = $1 AND d.role = 'payload'",
            &[&entry],
        )
        .unwrap()
        .get(0);
    let (code, _, _) =
        db_error(c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, $2::bytea)", &[&text(&stmt), &payload_hash]));
    assert_eq!(code, "22023");

    // Queued: the queue item's envelope_sha256 (canonical envelope JSON) finds it.
    let qid: i64 =
        c.query_one("SELECT rekor_enqueue(($1::text::jsonb) -> 'dsseEnvelope')", &[&bundle()]).unwrap().get(0);
    let stmt2 = json!({"vulnerability": "CVE-2024-3095", "products": [DEB], "status": "under_investigation"});
    let queued = link_digest(&mut c, &stmt2, &env_sha);
    assert_eq!((queued[0].queue_id, queued[0].entry_id), (Some(qid), None));
    assert_eq!(evidence(&mut c, "CVE-2024-3095", DEB)[0].proof, "pending");
    c.query("SELECT 1 FROM rekor_dequeue('w', 1)", &[]).unwrap();
    let logged = mark_bundle_submitted(&mut c, qid);
    assert_eq!(logged, entry, "the queue finds the entry ingested before");
    let ev = evidence(&mut c, "CVE-2024-3095", DEB);
    assert_eq!((ev[0].proof.as_str(), ev[0].entry_id), ("proven", Some(entry)));
}

#[test]
fn a_proven_statement_comes_with_a_bundle_that_ingests_back_to_its_entry() {
    let mut c = fresh_db("vex_bundles");
    trust_fixture_logs(&mut c);
    let (qid, entry) = submit_fixture_dsse_bundle(&mut c);
    assert_eq!(link_queue(&mut c, &openvex(), qid).len(), 3);
    let rows = c
        .query(
            "SELECT entry_id, status, bundle::text, bundle_error FROM rekor_vex_evidence_bundles('CVE-2023-44487', $1)",
            &[&PRODUCT],
        )
        .unwrap();
    assert_eq!(rows.len(), 1, "one proven statement for the product");
    let (eid, status, b, err): (Option<i64>, String, Option<String>, Option<String>) =
        (rows[0].get(0), rows[0].get(1), rows[0].get(2), rows[0].get(3));
    assert_eq!(eid, Some(entry));
    assert_eq!(status, "not_affected");
    assert_eq!(err, None);
    let b: Value = serde_json::from_str(&b.expect("a bundle")).unwrap();
    assert_eq!(b["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert!(b["dsseEnvelope"].is_object(), "the queued envelope travels with the proof: {b}");
    // A third party holding only the bundle gets the same entry back.
    let back: i64 = c.query_one("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&b.to_string()]).unwrap().get(0);
    assert_eq!(back, entry);
    // A product with no proven statement has no bundle rows.
    assert!(c.query("SELECT 1 FROM rekor_vex_evidence_bundles('CVE-2023-44487', 'pkg:oci/none')", &[]).unwrap().is_empty());
}

#[test]
fn evidence_lists_the_newest_statement_first() {
    // Three attested documents (each the predicate of its own logged attestation), linked out of
    // order, and one wrapper that is not logged anywhere: the order is the logged documents' times;
    // the unattested link has no time and ranks by when it was linked (0.3.0).
    let doc = |status: &str, time: &str, extra: Value| {
        let mut s = json!({"vulnerability": {"name": "CVE-2023-1111"}, "products": [DEB], "status": status});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": format!("https://example.com/vex/{time}"),
               "timestamp": time, "statements": [s]})
    };
    let docs = [
        doc("affected", "2024-02-01T00:00:00Z", json!({"action_statement": "upgrade"})),
        doc("not_affected", "2024-03-01T00:00:00Z", json!({"justification": "component_not_present"})),
        doc("under_investigation", "2024-01-01T00:00:00Z", json!({})),
    ];
    let payloads: Vec<Value> = docs.iter().map(|d| vex_attestation("app", &"ab".repeat(32), d)).collect();
    let log = AttestationLog::new("vex-order.example", &payloads);
    let mut c = fresh_db("vex_newest");
    log.install(&mut c);
    for (i, d) in docs.iter().enumerate() {
        let qid: i64 = c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&log.envelope_json(i)]).unwrap().get(0);
        c.query("SELECT 1 FROM rekor_dequeue('w', 1)", &[]).unwrap();
        c.query_one("SELECT rekor_mark_submitted($1, 'w', $2::text::jsonb)", &[&qid, &log.response_json(i)]).unwrap();
        link_queue(&mut c, d, qid);
    }
    let wrapper = doc("fixed", "2030-01-01T00:00:00Z", json!({}));
    link_queue(&mut c, &wrapper, 1);
    let ev = evidence(&mut c, "CVE-2023-1111", DEB);
    let order: Vec<(&str, Option<&str>, Option<bool>)> =
        ev.iter().map(|e| (e.status.as_str(), e.statement_time.as_deref(), e.attested)).collect();
    assert_eq!(
        order,
        vec![
            ("not_affected", Some("2024-03-01 00:00:00+00"), Some(true)),
            ("affected", Some("2024-02-01 00:00:00+00"), Some(true)),
            ("under_investigation", Some("2024-01-01 00:00:00+00"), Some(true)),
            ("fixed", None, Some(false)),
        ]
    );
    assert!(ev.iter().all(|e| e.proof == "proven"));
}

#[test]
fn invalid_statements_are_rejected_naming_the_json_path() {
    let mut c = fresh_db("vex_invalid");
    trust_fixture_logs(&mut c);
    let (qid, _) = submit_fixture_dsse_bundle(&mut c);
    let ok = json!({"vulnerability": {"name": "CVE-1"}, "products": ["pkg:x"], "status": "fixed"});
    let with = |k: &str, v: Value| {
        let mut s = ok.clone();
        if v.is_null() {
            s.as_object_mut().unwrap().remove(k);
        } else {
            s[k] = v;
        }
        s
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), "invalid VEX document: $ must be a JSON object"),
        (json!({"statements": []}), "invalid VEX document: $.statements must be a non-empty array"),
        (
            json!({"@context": "https://example.com", "statements": [ok.clone()]}),
            "invalid VEX document: $.@context is not an OpenVEX context",
        ),
        (with("vulnerability", Value::Null), "invalid VEX document: $.vulnerability is required"),
        (
            with("vulnerability", json!({"aliases": ["X"]})),
            "invalid VEX document: $.vulnerability has neither \"name\" nor \"@id\"",
        ),
        (with("vulnerability", json!(42)), "invalid VEX document: $.vulnerability is required"),
        (with("products", json!([])), "invalid VEX document: $.products must be a non-empty array"),
        (with("products", Value::Null), "invalid VEX document: $.products must be a non-empty array"),
        (
            with("products", json!(["pkg:a", {"hashes": {}}])),
            "invalid VEX document: $.products[1] has neither \"@id\" nor identifiers.purl",
        ),
        (
            with("products", json!([{"@id": "pkg:a", "subcomponents": [7]}])),
            "invalid VEX document: $.products[0].subcomponents[0] must be a string",
        ),
        (
            with("status", json!("maybe")),
            "invalid VEX document: $.status must be one of not_affected, affected, fixed, under_investigation",
        ),
        (with("status", Value::Null), "invalid VEX document: $.status must be one of"),
        (
            with("status", json!("not_affected")),
            "invalid VEX document: $ has status not_affected but neither a justification nor an impact_statement",
        ),
        (with("status", json!("affected")), "invalid VEX document: $ has status affected but no action_statement"),
        (
            with("justification", json!("trust me")),
            "invalid VEX document: $.justification is not an OpenVEX justification",
        ),
        (with("timestamp", json!("last tuesday")), "invalid VEX document: $.timestamp is not a valid timestamp"),
        (with("@id", json!("")), "invalid VEX document: $.@id must be a non-empty string"),
        (
            json!({"@context": "https://openvex.dev/ns/v0.2.0", "statements": [ok.clone(), with("status", json!("bogus"))]}),
            "invalid VEX document: $.statements[1].status must be one of",
        ),
        (
            json!({"statements": [ok.clone()], "timestamp": 5}),
            "invalid VEX document: $.timestamp must be an RFC 3339 timestamp string",
        ),
        (
            json!({"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-1", "affects": [{"ref": "x"}]}]}),
            "invalid VEX document: $.vulnerabilities[0].analysis is required",
        ),
        (
            json!({"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "unknown"}, "affects": [{"ref": "x"}]}]}),
            "invalid VEX document: $.vulnerabilities[0].analysis.state must be one of",
        ),
        (
            json!({"bomFormat": "CycloneDX", "vulnerabilities": [{"id": "CVE-1", "analysis": {"state": "resolved"}, "affects": []}]}),
            "invalid VEX document: $.vulnerabilities[0].affects must be a non-empty array",
        ),
        (
            json!({"bomFormat": "SPDX", "vulnerabilities": []}),
            "invalid VEX document: $.bomFormat must be \"CycloneDX\"",
        ),
    ];
    for (doc, want) in cases {
        let (code, msg, _) =
            db_error(c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, $2::bigint)", &[&text(&doc), &qid]));
        assert_eq!(code, "22023", "{doc}: {msg}");
        assert!(msg.starts_with(want), "{doc}: got {msg:?}, want {want:?}");
    }
    let n: i64 = c.query_one("SELECT count(*) FROM rekor_vex_links", &[]).unwrap().get(0);
    assert_eq!(n, 0, "nothing invalid is stored");
    // The older OpenVEX form (0.0.x): vulnerability and products as strings, subcomponents on the statement.
    let old = json!({"vulnerability": "CVE-2022-1", "products": ["pkg:a", "pkg:b"], "subcomponents": ["pkg:lib"],
                     "status": "not_affected", "justification": "vulnerable_code_not_present"});
    let made = link_queue(&mut c, &old, qid);
    assert_eq!(made.iter().map(|l| l.product.as_str()).collect::<Vec<_>>(), vec!["pkg:a", "pkg:b"]);
}

#[test]
fn a_statement_whose_entry_does_not_verify_is_unproven() {
    let mut c = fresh_db("vex_unproven");
    trust_fixture_logs(&mut c);
    let (qid, entry) = submit_fixture_dsse_bundle(&mut c);
    link_queue(&mut c, &openvex(), qid);
    assert_eq!(evidence(&mut c, "CVE-2023-44487", DEB)[0].proof, "proven");
    // Tampering at rest, past the triggers (what a restored backup or a disk edit could do): one
    // flipped bit in one proof hash.
    c.batch_execute(&format!(
        "SET session_replication_role = replica;
         UPDATE rekor_entries SET proof_hashes[1] = set_byte(proof_hashes[1], 0, get_byte(proof_hashes[1], 0) # 1)
         WHERE entry_id = {entry};
         RESET session_replication_role;"
    ))
    .unwrap();
    assert_eq!(sqlstate(c.query_one("SELECT rekor_verify_inclusion($1)", &[&entry])), "23514");
    for (v, p) in [("CVE-2023-44487", DEB), ("CVE-2023-44487", PRODUCT), ("CVE-2024-0001", DEB)] {
        let ev = evidence(&mut c, v, p);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].proof, "unproven", "{ev:?}");
        assert_eq!(ev[0].entry_id, Some(entry));
        assert!(ev[0].proof_detail.contains("check 2 (inclusion proof) failed"), "{}", ev[0].proof_detail);
    }
}

#[test]
fn an_attestation_that_carries_the_statement_is_attested() {
    let mut c = fresh_db("vex_attested");
    let doc = openvex();
    let payload = vex_attestation("demo-app", "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf", &doc);
    let log = AttestationLog::new("vex.attestations.test", &[payload]);
    log.install(&mut c);
    let qid: i64 = c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&log.envelope_json(0)]).unwrap().get(0);
    // The whole document, one of its statements alone, and a document the envelope does not carry.
    let whole = link_queue(&mut c, &doc, qid);
    let one = link_queue(&mut c, &doc["statements"][1], qid);
    let other = json!({"vulnerability": "CVE-2024-9999", "products": [DEB], "status": "fixed"});
    let foreign = link_queue(&mut c, &other, qid);
    assert!(
        whole.iter().chain(one.iter()).all(|l| l.attested == Some(true) && l.entry_id.is_none()),
        "{whole:?} {one:?}"
    );
    assert_eq!(foreign[0].attested, Some(false));

    c.query("SELECT 1 FROM rekor_dequeue('w', 1)", &[]).unwrap();
    let entry: i64 = c
        .query_one("SELECT rekor_mark_submitted($1, 'w', $2::text::jsonb)", &[&qid, &log.response_json(0)])
        .expect("mark_submitted with the synthetic log's response")
        .get(0);
    let ev = evidence(&mut c, "CVE-2024-0001", DEB);
    assert_eq!(ev.len(), 2, "the document's statement and the statement alone: {ev:?}");
    for e in &ev {
        assert_eq!((e.proof.as_str(), e.entry_id, e.attested), ("proven", Some(entry), Some(true)), "{e:?}");
        assert_eq!(e.log_id.as_deref(), Some(log.signer.log_id().as_slice()));
    }
    let ev = evidence(&mut c, "CVE-2024-9999", DEB);
    assert_eq!((ev[0].proof.as_str(), ev[0].attested), ("proven", Some(false)));
    // The queue's envelope digest and the entry's envelopeHash are the same here (canonical form).
    let direct = link_digest(&mut c, &other, &log.envelope_sha256(0));
    assert_eq!(direct[0].queue_id, Some(qid));
}

#[test]
fn cyclonedx_vex_analysis_is_linked_too() {
    let mut c = fresh_db("vex_cdx");
    trust_fixture_logs(&mut c);
    let (qid, entry) = submit_fixture_dsse_bundle(&mut c);
    let bom = json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "metadata": {"timestamp": "2024-06-01T00:00:00Z",
                     "component": {"bom-ref": "app", "name": "app", "purl": "pkg:oci/app@sha256:abc"}},
        "components": [{"bom-ref": "lib-1", "name": "lib", "purl": "pkg:maven/org.example/lib@1.0",
                        "components": [{"bom-ref": "inner", "name": "inner", "purl": "pkg:maven/org.example/inner@2.0"}]}],
        "vulnerabilities": [
            {"bom-ref": "v1", "id": "CVE-2021-44228",
             "references": [{"id": "GHSA-jfh8-c2jp-5v3q", "source": {"name": "GitHub"}}],
             "analysis": {"state": "not_affected", "justification": "code_not_reachable",
                          "detail": "JNDI lookups are disabled", "lastUpdated": "2024-06-02T00:00:00Z"},
             "affects": [{"ref": "lib-1"}, {"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#inner"}, {"ref": "app"}]},
            {"id": "CVE-2022-1", "analysis": {"state": "exploitable", "response": ["update"], "detail": "upgrade lib to 1.1"},
             "affects": [{"ref": "pkg:npm/left-pad@1.0.0"}]},
            {"id": "CVE-2022-2", "analysis": {"state": "in_triage"}, "affects": [{"ref": "app"}]},
            {"id": "CVE-2022-3", "analysis": {"state": "resolved"}, "affects": [{"ref": "app"}]}
        ]
    });
    let made = link_queue(&mut c, &bom, qid);
    let got: Vec<(&str, &str)> = made.iter().map(|l| (l.vulnerability.as_str(), l.product.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("CVE-2021-44228", "pkg:maven/org.example/lib@1.0"),
            ("CVE-2021-44228", "pkg:maven/org.example/inner@2.0"),
            ("CVE-2021-44228", "pkg:oci/app@sha256:abc"),
            ("CVE-2022-1", "pkg:npm/left-pad@1.0.0"),
            ("CVE-2022-2", "pkg:oci/app@sha256:abc"),
            ("CVE-2022-3", "pkg:oci/app@sha256:abc"),
        ]
    );
    assert!(made.iter().all(|l| l.entry_id == Some(entry)));
    let r = c
        .query_one(
            "SELECT status, justification, impact_statement, statement_id, statement_time::text, proof
             FROM rekor_vex_evidence('GHSA-jfh8-c2jp-5v3q', 'pkg:maven/org.example/inner@2.0')",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "not_affected");
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("code_not_reachable"));
    assert_eq!(r.get::<_, Option<String>>(2).as_deref(), Some("JNDI lookups are disabled"));
    assert_eq!(r.get::<_, Option<String>>(3).as_deref(), Some("v1"));
    // The BOM is not what the bundle logs (SLSA provenance): its time is not attested (0.3.0).
    assert_eq!(r.get::<_, Option<String>>(4), None);
    assert_eq!(r.get::<_, String>(5), "proven");
    let statuses: Vec<(String, Option<String>)> = c
        .query(
            "SELECT status, action_statement FROM rekor_vex_links WHERE format = 'cyclonedx' AND vulnerability LIKE 'CVE-2022-%' ORDER BY vulnerability",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("affected".to_string(), Some("update: upgrade lib to 1.1".to_string())),
            ("under_investigation".to_string(), None),
            ("fixed".to_string(), None)
        ]
    );
}

#[test]
fn links_are_append_only_and_name_their_attestation_consistently() {
    let mut c = fresh_db("vex_guard");
    trust_fixture_logs(&mut c);
    let (qid, entry) = submit_fixture_dsse_bundle(&mut c);
    let other_entry: i64 = c
        .query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&fixture("upstream/rest-entry.json")])
        .unwrap()
        .get(0);
    let made = link_queue(&mut c, &openvex(), qid);
    let id = made[0].link_id;
    let insert = "INSERT INTO rekor_vex_links (vulnerability, product, status, format, statement_index, statement,
                      document_digest, envelope_digest, queue_id, entry_id, linked_at)
                  SELECT 'CVE-1', 'pkg:x', 'fixed', 'openvex', 0, '{}', sha256('d'), q.envelope_sha256, $1, $2, now()
                  FROM rekor_submission_queue q WHERE q.queue_id = $3";
    // Even the owner cannot link a queue item to an entry it was not logged as...
    let (code, msg, _) = db_error(c.execute(insert, &[&Some(qid), &other_entry, &qid]));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "the entry is not the one the queue item was logged as"));
    // ...nor link an entry directly to an envelope it does not log.
    let (code, msg, _) = db_error(c.execute(insert, &[&None::<i64>, &other_entry, &qid]));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "the entry does not log this envelope"));
    c.execute(insert, &[&Some(qid), &entry, &qid]).expect("a consistent row is accepted");
    // The statement of a link never changes; its entry never changes once set.
    let (code, _, _) = db_error(
        c.execute("UPDATE rekor_vex_links SET status = 'affected', action_statement = 'x' WHERE link_id = $1", &[&id]),
    );
    assert_eq!(code, "55000");
    let (code, msg, _) =
        db_error(c.execute("UPDATE rekor_vex_links SET entry_id = $2 WHERE link_id = $1", &[&id, &other_entry]));
    assert_eq!((code.as_str(), msg.as_str()), ("55000", "a linked VEX statement keeps its entry"));
    // Anyone but the extension owner: no UPDATE, DELETE or TRUNCATE, even with the privileges.
    let role = unique_role("vex_nonowner");
    c.batch_execute(&format!(
        "CREATE ROLE {role}; GRANT SELECT, UPDATE, DELETE, TRUNCATE ON rekor_vex_links TO {role}; SET ROLE {role};"
    ))
    .unwrap();
    let (code, msg, _) = db_error(c.execute("DELETE FROM rekor_vex_links WHERE link_id = $1", &[&id]));
    assert_eq!(code, "42501", "{msg}");
    assert!(msg.contains("append-only"), "{msg}");
    let (code, msg, _) = db_error(c.execute("UPDATE rekor_vex_links SET linked_at = now() WHERE link_id = $1", &[&id]));
    assert_eq!(code, "42501", "{msg}");
    let (code, _, _) = db_error(c.execute("TRUNCATE rekor_vex_links", &[]));
    assert_eq!(code, "42501");
    c.batch_execute(&format!("RESET ROLE; DROP OWNED BY {role}; DROP ROLE {role};")).unwrap();
}

#[test]
fn writers_and_workers_link_readers_read_the_evidence_public_cannot_link() {
    let mut c = fresh_db("vex_roles");
    trust_fixture_logs(&mut c);
    let (qid, _) = submit_fixture_dsse_bundle(&mut c);
    let writer = unique_role("vex_writer");
    let worker = unique_role("vex_worker");
    let reader = unique_role("vex_reader");
    let nobody = unique_role("vex_nobody");
    c.batch_execute(&format!(
        "CREATE ROLE {writer} IN ROLE rekor_writer; CREATE ROLE {worker} IN ROLE rekor_worker;
         CREATE ROLE {reader} IN ROLE rekor_reader; CREATE ROLE {nobody};"
    ))
    .unwrap();
    let stmt = |v: &str| json!({"vulnerability": v, "products": [DEB], "status": "fixed"});
    for (role, v) in [(&writer, "CVE-2024-1"), (&worker, "CVE-2024-2")] {
        c.batch_execute(&format!("SET ROLE {role}")).unwrap();
        let made = link_queue(&mut c, &stmt(v), qid);
        assert_eq!(made.len(), 1, "{role} links");
        // No direct writes: linking goes through rekor_link_vex.
        let (code, _, _) = db_error(c.execute("DELETE FROM rekor_vex_links", &[]));
        assert_eq!(code, "42501");
        c.batch_execute("RESET ROLE").unwrap();
    }
    c.batch_execute(&format!("SET ROLE {reader}")).unwrap();
    let ev = evidence(&mut c, "CVE-2024-1", DEB);
    assert_eq!(ev[0].proof, "proven", "a reader reads and verifies");
    let (code, _, _) =
        db_error(c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, $2::bigint)", &[&text(&stmt("CVE-3")), &qid]));
    assert_eq!(code, "42501", "a reader cannot link");
    c.batch_execute(&format!("RESET ROLE; SET ROLE {nobody}")).unwrap();
    let (code, _, _) =
        db_error(c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, $2::bigint)", &[&text(&stmt("CVE-3")), &qid]));
    assert_eq!(code, "42501", "PUBLIC cannot link");
    let (code, _, _) = db_error(c.query("SELECT * FROM rekor_vex_links", &[]));
    assert_eq!(code, "42501", "PUBLIC cannot read the links");
    c.batch_execute(&format!("RESET ROLE; DROP ROLE {writer}, {worker}, {reader}, {nobody};")).unwrap();
}

/// Waits until another backend of this database waits on a lock.
fn wait_for_lock_wait(db: &str) {
    let mut watcher = connect_db(db);
    let start = Instant::now();
    loop {
        let n: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        if n > 0 {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no backend started waiting on a lock");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_link_racing_mark_submitted_is_never_lost() {
    let mut c = fresh_db("vex_race");
    trust_fixture_logs(&mut c);
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);

    // 1. The link's transaction is first: mark_submitted waits for it, and its trigger sees the link.
    let qid = enqueue_and_lease_bundle(&mut c);
    let mut t = c.transaction().unwrap();
    let made: Vec<Option<i64>> = t
        .query("SELECT entry_id FROM rekor_link_vex($1::text::jsonb, $2::bigint)", &[&text(&openvex()), &qid])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(made, vec![None; 3]);
    let db2 = db.clone();
    let marker = std::thread::spawn(move || {
        let mut w = connect_db(&db2);
        let e: i64 =
            w.query_one("SELECT rekor_mark_submitted($1, 'w', $2::text::jsonb)", &[&qid, &bundle()]).unwrap().get(0);
        e
    });
    wait_for_lock_wait(&db);
    t.commit().unwrap();
    let entry = marker.join().unwrap();
    let linked: Vec<Option<i64>> = c
        .query("SELECT entry_id FROM rekor_vex_links ORDER BY link_id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(linked, vec![Some(entry); 3], "mark_submitted's trigger saw the committed links");

    // 2. mark_submitted is first: the link waits for it and links at once.
    let log = AttestationLog::new(
        "vex.race.test",
        &[json!({"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "x", "predicate": {}})],
    );
    log.install(&mut c);
    let q2: i64 = c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&log.envelope_json(0)]).unwrap().get(0);
    c.query("SELECT 1 FROM rekor_dequeue('w', 1)", &[]).unwrap();
    let mut t = c.transaction().unwrap();
    let e2: i64 = t
        .query_one("SELECT rekor_mark_submitted($1, 'w', $2::text::jsonb)", &[&q2, &log.response_json(0)])
        .unwrap()
        .get(0);
    let db2 = db.clone();
    let linker = std::thread::spawn(move || {
        let mut w = connect_db(&db2);
        let stmt = json!({"vulnerability": "CVE-2024-7", "products": [DEB], "status": "fixed"});
        let r: Option<i64> = w
            .query_one("SELECT entry_id FROM rekor_link_vex($1::text::jsonb, $2::bigint)", &[&text(&stmt), &q2])
            .unwrap()
            .get(0);
        r
    });
    wait_for_lock_wait(&db);
    t.commit().unwrap();
    assert_eq!(linker.join().unwrap(), Some(e2), "the waiting link saw the submitted item");
}
