//! The extension's versions: an installed 0.1.0 upgraded with ALTER EXTENSION rekor_meta UPDATE keeps
//! every row and it still verifies; a fresh install of the current version has the same catalog as an
//! upgraded one; DROP EXTENSION removes everything it created; pg_dump / pg_restore round-trips a
//! database that uses the extension (rows, sequence positions, re-verification on restore).
//!
//! Needs the released install scripts (sql/released/) and the upgrade scripts (sql/upgrade/) next to the
//! current one (scripts/install.sh copies them); the current version is the one sql/schema/ creates.
use postgres::Client;
use rekor_meta_client_tests::attest::{vex_attestation, AttestationLog};
use rekor_meta_client_tests::notes::{Ed25519Signer, TestTree};
use rekor_meta_client_tests::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::process::Command;

/// The first released version: every upgrade path starts here.
const FIRST: &str = "0.1.0";

/// Every table the extension creates (0.1.0 and later), parents before children.
const TABLES_0_1_0: [&str; 7] = [
    "rekor_logs",
    "rekor_checkpoints",
    "rekor_log_forks",
    "rekor_checkpoint_consistency",
    "rekor_witness_state",
    "rekor_entries",
    "rekor_submission_queue",
];

fn default_version(c: &mut Client) -> String {
    c.query_one("SELECT default_version FROM pg_available_extensions WHERE name = 'rekor_meta'", &[])
        .expect("rekor_meta is installed")
        .get(0)
}

fn installed_version(c: &mut Client) -> String {
    c.query_one("SELECT extversion FROM pg_extension WHERE extname = 'rekor_meta'", &[]).unwrap().get(0)
}

/// Every version available other than the default: the released ones an installation upgrades from.
fn older_versions(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT version FROM pg_available_extension_versions
         WHERE name = 'rekor_meta' AND version <> (SELECT default_version FROM pg_available_extensions WHERE name = 'rekor_meta')
         ORDER BY string_to_array(version, '.')::int[]",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// What a 0.1.0 installation holds: trusted logs, checkpoints (stored, witnessed, proven consistent,
/// a recorded fork), entries of every shape (REST responses, bundles, Rekor v1 and v2), and queue
/// items in every state. Returns the attestation log whose envelopes are queued (item 0 pending,
/// item 1 dead).
fn load_0_1_0_data(c: &mut Client) -> AttestationLog {
    trust_fixture_logs(c);
    let bundle_dsse = fixture("upstream/bundle-dsse.sigstore.json");
    c.execute(
        "INSERT INTO rekor_checkpoints (note)
         VALUES (($1::text::jsonb) #>> '{verificationMaterial,tlogEntries,0,inclusionProof,checkpoint,envelope}')",
        &[&bundle_dsse],
    )
    .expect("a real checkpoint");
    for f in ["upstream/rest-entry.json", "upstream/rest-entry-2.json"] {
        c.query("SELECT rekor_ingest_entry($1::text::jsonb)", &[&fixture(f)]).unwrap_or_else(|e| panic!("{f}: {e:?}"));
    }
    // 0.4.0 verifies the Rekor v2 bundle's RFC 3161 timestamp: trust staging's timestamp authority.
    let has_tsas: bool = c
        .query_one("SELECT to_regprocedure('rekor_import_timestamp_authorities(jsonb)') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    if has_tsas {
        c.query("SELECT * FROM rekor_import_timestamp_authorities($1::text::jsonb)", &[&fixture("trusted_root/staging.trusted_root.json")])
            .unwrap();
    }
    for f in ["upstream/bundle-v0.3-hashedrekord.sigstore.json", "upstream/bundle-rekor-v2.sigstore.json"] {
        c.query("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&fixture(f)]).unwrap_or_else(|e| panic!("{f}: {e:?}"));
    }
    submit_fixture_dsse_bundle(c);

    // The witness: a synthetic Ed25519 log, checkpoints at sizes 3 and 8 linked by a consistency
    // proof, and a signed contradicting root for size 8 recorded as a fork.
    let signer = Ed25519Signer::from_label("witness.upgrade.test", "rekor_meta upgrade tests: witness log");
    c.query_one("SELECT rekor_add_log($1, $2)", &[&signer.spki_b64(), &signer.name]).unwrap();
    let tree = TestTree::new("upgrade", 8);
    for (old, new) in [(0usize, 3usize), (3, 8)] {
        let note = signer.checkpoint(&signer.name, new as u64, &tree.root(new));
        let status: String = c
            .query_one(
                "SELECT status FROM rekor_witness_checkpoint($1, $2, $3)",
                &[&note, &(old as i64), &tree.consistency(old, new)],
            )
            .unwrap()
            .get(0);
        assert_eq!(status, "ok", "witness {old} -> {new}");
    }
    let forked = tree.forked_at(5, "a forked leaf");
    let fork_note = signer.checkpoint(&signer.name, 8, &forked.root(8));
    let status: String = c.query_one("SELECT status FROM rekor_record_checkpoint($1)", &[&fork_note]).unwrap().get(0);
    assert_eq!(status, "fork");

    // Queue items: one pending (a VEX attestation), one dead.
    let vex = json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/upgrade",
                     "timestamp": "2024-07-01T00:00:00Z",
                     "statements": [{"vulnerability": {"name": "CVE-2024-6387"}, "products": ["pkg:deb/debian/openssh-server@9.2"],
                                     "status": "not_affected", "justification": "vulnerable_code_not_present"}]});
    let log = AttestationLog::new(
        "attestations.upgrade.test",
        &[
            vex_attestation("openssh-server", &"ab".repeat(32), &vex),
            json!({"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "https://example.com/dead", "predicate": {}}),
        ],
    );
    log.install(c);
    for i in 0..2 {
        c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&log.envelope_json(i)]).unwrap();
    }
    let leased: Vec<i64> = c
        .query("SELECT queue_id FROM rekor_dequeue('w', 10) ORDER BY queue_id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(leased.len(), 2);
    c.query_one("SELECT rekor_mark_failed($1, 'w', 'not retried', true)", &[&leased[0]]).unwrap();
    c.query_one("SELECT rekor_mark_failed($1, 'w', 'rejected by the log', false)", &[&leased[1]]).unwrap();
    // The retried item is due later: make it due now, so a worker can pick it up after the upgrade.
    c.execute("UPDATE rekor_submission_queue SET next_attempt_at = now() WHERE queue_id = $1", &[&leased[0]]).unwrap();
    let states: Vec<String> = c
        .query("SELECT state FROM rekor_submission_queue ORDER BY queue_id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(states, vec!["submitted", "pending", "dead"]);
    log
}

/// Every row of `tables` (as JSON text, sorted) and the position of every identity sequence.
fn snapshot(c: &mut Client, tables: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut m = BTreeMap::new();
    for t in tables {
        let rows: Vec<String> = c
            // Columns later versions add (0.3.0: the authentication flags, the witness origin; 0.4.0:
            // the signing time and what a bundle brings) are left out: a row is unchanged when every
            // column it had is.
            .query(
                &format!(
                    "SELECT (to_jsonb(t) - ARRAY['log_index_authenticated', 'integrated_time_authenticated', 'origin',
                                                 'base_url', 'api_version', 'verifier', 'verifier_kind', 'verifier_key_type',
                                                 'signing_time', 'signing_time_source', 'rfc3161_timestamp',
                                                 'timestamp_tsa_id', 'dsse_envelope'])::text AS j
                     FROM {t} t ORDER BY j"
                ),
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        m.insert(t.to_string(), rows);
    }
    let seqs: Vec<String> = c
        .query(
            "SELECT format('%s %s', q.sequencename, coalesce(q.last_value::text, 'unused'))
             FROM unnest($1::text[]) AS t(name), pg_sequences q
             WHERE q.schemaname = 'public' AND starts_with(q.sequencename, t.name || '_') ORDER BY 1",
            &[&tables.iter().map(|t| t.to_string()).collect::<Vec<_>>()],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    m.insert("sequences".to_string(), seqs);
    let status: Vec<String> = c
        .query("SELECT to_jsonb(s)::text AS j FROM rekor_log_status s ORDER BY j", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    m.insert("rekor_log_status".to_string(), status);
    m
}

fn assert_every_entry_verifies(c: &mut Client) {
    let rows =
        c.query("SELECT entry_id, rekor_verify_inclusion(entry_id) FROM rekor_entries ORDER BY entry_id", &[]).unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        let (id, ok): (i64, bool) = (r.get(0), r.get(1));
        assert!(ok, "entry {id} does not verify");
        let failed: i64 = c
            .query_one("SELECT count(*) FROM rekor_verify_inclusion_report($1) WHERE NOT passed", &[&id])
            .unwrap()
            .get(0);
        assert_eq!(failed, 0, "entry {id}: a check of the report fails");
    }
}

#[test]
fn upgrading_0_1_0_keeps_every_row_and_every_row_still_verifies() {
    let (mut c, _db) = fresh_db_at_version("upg_rows", FIRST);
    assert_eq!(installed_version(&mut c), FIRST);
    let absent: Option<String> = c.query_one("SELECT to_regclass('rekor_vex_links')::text", &[]).unwrap().get(0);
    assert_eq!(absent, None, "0.1.0 has no VEX links");
    let log = load_0_1_0_data(&mut c);
    assert_every_entry_verifies(&mut c);
    let before = snapshot(&mut c, &TABLES_0_1_0);
    let max_entry: i64 = c.query_one("SELECT max(entry_id) FROM rekor_entries", &[]).unwrap().get(0);

    c.batch_execute("ALTER EXTENSION rekor_meta UPDATE").expect("ALTER EXTENSION rekor_meta UPDATE");
    let target = default_version(&mut c);
    assert_ne!(target, FIRST);
    assert_eq!(installed_version(&mut c), target);
    let after = snapshot(&mut c, &TABLES_0_1_0);
    for (k, v) in &before {
        assert_eq!(v, &after[k], "{k} changed in the upgrade");
    }
    assert_every_entry_verifies(&mut c);
    // 0.3.0: every stored index is authenticated (a SET, or a single-tree log's proof index), a time
    // only where a SET signs it; the witness state is its checkpoint's origin's.
    let flags: Vec<(bool, bool, bool)> = c
        .query("SELECT log_index_authenticated, integrated_time_authenticated, signed_entry_timestamp IS NOT NULL FROM rekor_entries", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(!flags.is_empty() && flags.iter().all(|(i, t, set)| *i && t == set), "{flags:?}");
    let unmatched: i64 = c
        .query_one(
            "SELECT count(*) FROM rekor_witness_state s JOIN rekor_checkpoints k USING (checkpoint_id) WHERE k.origin <> s.origin",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unmatched, 0);
    let consistent: Vec<bool> = c
        .query("SELECT all_consistent FROM rekor_log_status WHERE latest_checkpoint_id IS NOT NULL", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(consistent.contains(&false), "the recorded fork is still reported");

    // The upgraded database works with its old rows: a VEX statement links to the item submitted
    // before the upgrade (proven at once) and to the item still pending (linked when submitted).
    let stmt = json!({"vulnerability": "CVE-2024-0002", "products": ["pkg:deb/debian/demo@1.0"], "status": "fixed"});
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM rekor_link_vex($1::text::jsonb, 1::bigint) WHERE entry_id IS NOT NULL",
            &[&serde_json::to_string(&stmt).unwrap()],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let vex = serde_json::to_string(
        &json!({"vulnerability": {"name": "CVE-2024-6387"}, "products": ["pkg:deb/debian/openssh-server@9.2"],
                                            "status": "not_affected", "justification": "vulnerable_code_not_present"}),
    )
    .unwrap();
    let pending: Option<i64> =
        c.query_one("SELECT entry_id FROM rekor_link_vex($1::text::jsonb, 2::bigint)", &[&vex]).unwrap().get(0);
    assert_eq!(pending, None);
    let leased = c.query("SELECT queue_id FROM rekor_dequeue('w2', 10)", &[]).unwrap();
    assert_eq!(leased.len(), 1, "the pending item is handed out after the upgrade");
    let entry: i64 =
        c.query_one("SELECT rekor_mark_submitted(2, 'w2', $1::text::jsonb)", &[&log.response_json(0)]).unwrap().get(0);
    assert!(entry > max_entry, "the entry sequence continues");
    let r = c
        .query_one("SELECT proof, entry_id, attested FROM rekor_vex_evidence('CVE-2024-6387', 'pkg:deb/debian/openssh-server@9.2')", &[])
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, Option<i64>>(1), r.get::<_, Option<bool>>(2)),
        ("proven".to_string(), Some(entry), Some(true))
    );
    let r =
        c.query_one("SELECT proof FROM rekor_vex_evidence('CVE-2024-0002', 'pkg:deb/debian/demo@1.0')", &[]).unwrap();
    assert_eq!(r.get::<_, String>(0), "proven");
}

/// What a failed comparison of a fresh install with an upgraded one asks for (README "Making a release").
const UPGRADE_HINT: &str = "A fresh install runs sql/schema/; an installed version is upgraded by sql/upgrade/rekor_meta--A--B.sql. \
Every change to sql/schema/ needs the same change, as statements that alter an existing installation, in the upgrade \
script into the current version (sql/upgrade/rekor_meta--<last release>--<Cargo version>.sql). The released install \
scripts in sql/released/ are never edited (scripts/release-snapshot.sh writes them when a version is released).";

/// One line per fact of the extension's catalog: members, function definitions, columns,
/// constraints, indexes, triggers, types, comments, privileges, pg_dump marks. Sorted: order noise
/// (OIDs, creation order) does not count; names, definitions and column order do.
const CATALOG: &str = r#"
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'rekor_meta'),
members AS (
    SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
    WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
),
lines AS (
    SELECT 'member ' || pg_describe_object(m.classid, m.objid, m.objsubid) AS line FROM members m
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure::text || E'\n' || pg_get_functiondef(p.oid)
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT 'function acl ' || p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, 'default') || ' owner ' || p.proowner::regrole::text
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    SELECT format('relation %s kind %s persistence %s owner %s columns %s acl %s options %s', c.oid::regclass, c.relkind,
                  c.relpersistence, c.relowner::regrole,
                  (SELECT string_agg(format('%s %s%s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                            CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                                            CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END,
                                            CASE WHEN a.attgenerated <> '' THEN ' generated ' || a.attgenerated::text ELSE '' END,
                                            coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')), ', ' ORDER BY a.attnum)
                   FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                  coalesce(c.relacl::text, 'default'), coalesce(c.reloptions::text, 'none'))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT format('view %s %s', c.oid::regclass, pg_get_viewdef(c.oid))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('sequence %s %s start %s increment %s max %s min %s cycle %s', s.seqrelid::regclass,
                  format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax, s.seqmin, s.seqcycle)
    FROM members m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid
    UNION ALL
    SELECT format('constraint %s on %s: %s', k.conname, k.conrelid::regclass, pg_get_constraintdef(k.oid))
    FROM members m JOIN pg_constraint k ON m.classid = 'pg_class'::regclass AND k.conrelid = m.objid
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid))
    FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT format('trigger %s enabled %s', pg_get_triggerdef(t.oid), t.tgenabled)
    FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('type %s %s %s', t.oid::regtype, t.typtype,
                  (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                   FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    SELECT format('comment on %s: %s', pg_describe_object(ds.classoid, ds.objoid, ds.objsubid), ds.description)
    FROM pg_description ds JOIN members m ON (ds.classoid, ds.objoid) = (m.classid, m.objid)
    UNION ALL
    SELECT format('initial privileges of %s: %s', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid), ip.initprivs)
    FROM pg_init_privs ip JOIN members m ON (ip.classoid, ip.objoid) = (m.classid, m.objid)
    UNION ALL
    SELECT format('dumped by pg_dump: %s where %L', x.t::regclass, x.c)
    FROM ext, unnest(ext.extconfig, ext.extcondition) AS x(t, c)
    UNION ALL
    SELECT format('extension %s version %s schema %s relocatable %s', e.extname, e.extversion, e.extnamespace::regnamespace,
                  e.extrelocatable)
    FROM pg_extension e WHERE e.extname = 'rekor_meta'
)
SELECT line FROM lines ORDER BY line
"#;

fn catalog(c: &mut Client) -> Vec<String> {
    c.query(CATALOG, &[]).unwrap().iter().map(|r| r.get(0)).collect()
}

/// The differences of two sorted fact lists, for a readable failure: the first line of each fact (a
/// function's signature, a relation's name) that is only on one side, and for an object on both
/// sides with another definition (a function body, a column list) the lines that differ.
fn first_difference(a: &[String], a_name: &str, b: &[String], b_name: &str) -> String {
    let head = |l: &String| l.lines().next().unwrap_or_default().chars().take(300).collect::<String>();
    let only_a: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_b: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
    let mut out = format!(
        "only in {a_name}: {:#?}\nonly in {b_name}: {:#?}",
        only_a.iter().take(10).map(|l| head(l)).collect::<Vec<_>>(),
        only_b.iter().take(10).map(|l| head(l)).collect::<Vec<_>>()
    );
    if only_a.is_empty() && only_b.is_empty() {
        // The same lines in another order or number: name the first position where they part.
        let i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        out += &format!(
            "\nsame lines, another order or count: line {i} is {:?} in {a_name}, {:?} in {b_name}",
            a.get(i).map(head),
            b.get(i).map(head)
        );
    }
    // A multi-line fact (a function definition) on both sides under the same first line changed.
    for fa in only_a.iter().filter(|l| l.contains('\n')).take(5) {
        if let Some(fb) = only_b.iter().find(|l| head(l) == head(fa)) {
            let (la, lb): (Vec<&str>, Vec<&str>) = (fa.lines().collect(), fb.lines().collect());
            out += &format!("\n{} differs:", head(fa));
            for l in la.iter().filter(|l| !lb.contains(l)).take(15) {
                out += &format!("\n  - {l}    ({a_name})");
            }
            for l in lb.iter().filter(|l| !la.contains(l)).take(15) {
                out += &format!("\n  + {l}    ({b_name})");
            }
        }
    }
    out
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A schema-only dump with the noise that differs between two equal databases removed: the
/// per-run \restrict key, and in --binary-upgrade mode the OIDs and transaction ids.
fn schema_dump(db: &str, binary_upgrade: bool) -> String {
    let mut cmd = Command::new(pg_program("pg_dump"));
    cmd.arg("--schema-only").arg("--no-comments").arg("-d").arg(conninfo(db));
    if binary_upgrade {
        // Binary-upgrade mode dumps each member of the extension (a plain dump only says CREATE EXTENSION).
        cmd.arg("--binary-upgrade");
    }
    let dump = run(&mut cmd);
    dump.lines()
        .filter(|l| {
            !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict ") && !l.contains("binary_upgrade_set_next_")
        })
        .map(|l| {
            if l.starts_with("SET relfrozenxid = ") {
                "SET relfrozenxid = N".to_string()
            } else if l.starts_with("WHERE oid = '") {
                "WHERE oid = N".to_string()
            } else if l.contains("binary_upgrade_create_empty_extension(") {
                match (l.find("'{"), l.find("}'")) {
                    (Some(a), Some(b)) if a < b => format!("{}OIDS{}", &l[..a], &l[b + 2..]),
                    _ => l.to_string(),
                }
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_fresh_install_has_the_same_catalog_as_an_upgraded_one() {
    let (mut fresh, fresh_db_name) = fresh_empty_db("upg_fresh");
    fresh.batch_execute("CREATE EXTENSION rekor_meta").unwrap();
    let target = installed_version(&mut fresh);
    let want = catalog(&mut fresh);
    assert!(
        want.iter().any(|l| l.starts_with("relation rekor_vex_links ")),
        "the catalog query sees the 0.2.0 objects"
    );
    let want_dump = schema_dump(&fresh_db_name, false);
    let want_members = schema_dump(&fresh_db_name, true);
    assert!(want_members.contains("ALTER EXTENSION rekor_meta ADD TABLE public.rekor_vex_links;"));

    let olds = older_versions(&mut fresh);
    assert!(
        olds.contains(&FIRST.to_string()),
        "released {FIRST} is not installed (scripts/install.sh copies sql/released/rekor_meta--{FIRST}.sql): {olds:?}"
    );
    for old in olds {
        let (mut up, up_db) = fresh_db_at_version("upg_from", &old);
        let before = catalog(&mut up);
        assert_ne!(before, want, "{old} and {target} should differ");
        up.batch_execute("ALTER EXTENSION rekor_meta UPDATE").unwrap();
        assert_eq!(installed_version(&mut up), target);
        let got = catalog(&mut up);
        let upgraded = format!("{old} upgraded");
        let fresh_name = format!("a fresh {target}");
        assert!(
            got == want,
            "{old} upgraded to {target} differs from a fresh install of {target} (sql/schema/):\n{}\n{}",
            first_difference(&got, &upgraded, &want, &fresh_name),
            UPGRADE_HINT
        );
        let dump = schema_dump(&up_db, false);
        if dump != want_dump {
            let a: Vec<String> = dump.lines().map(String::from).collect();
            let b: Vec<String> = want_dump.lines().map(String::from).collect();
            panic!(
                "pg_dump --schema-only differs ({old} upgraded to {target}):\n{}\n{}",
                first_difference(&a, &upgraded, &b, &fresh_name),
                UPGRADE_HINT
            );
        }
        let members = schema_dump(&up_db, true);
        if members != want_members {
            let a: Vec<String> = members.lines().map(String::from).collect();
            let b: Vec<String> = want_members.lines().map(String::from).collect();
            panic!(
                "pg_dump --schema-only --binary-upgrade differs ({old} upgraded to {target}):\n{}\n{}",
                first_difference(&a, &upgraded, &b, &fresh_name),
                UPGRADE_HINT
            );
        }
    }
}

/// Row counts of the catalogs an extension writes to.
fn catalog_counts(c: &mut Client) -> Vec<(String, i64)> {
    [
        "pg_class",
        "pg_proc",
        "pg_type",
        "pg_constraint",
        "pg_trigger",
        "pg_index",
        "pg_attrdef",
        "pg_sequence",
        "pg_depend",
        "pg_description",
        "pg_init_privs",
        "pg_rewrite",
        "pg_namespace",
        "pg_extension",
        "pg_cast",
        "pg_operator",
        "pg_policy",
        "pg_attribute",
    ]
    .iter()
    .map(|t| (t.to_string(), c.query_one(&format!("SELECT count(*) FROM pg_catalog.{t}"), &[]).unwrap().get(0)))
    .collect()
}

#[test]
fn drop_extension_removes_everything_it_created() {
    for from in [None, Some(FIRST)] {
        let (mut c, _db) = fresh_empty_db("upg_drop");
        let empty = catalog_counts(&mut c);
        match from {
            None => c.batch_execute("CREATE EXTENSION rekor_meta").unwrap(),
            Some(v) => {
                c.batch_execute(&format!("CREATE EXTENSION rekor_meta VERSION '{v}'")).unwrap();
                c.batch_execute("ALTER EXTENSION rekor_meta UPDATE").unwrap();
            }
        }
        load_0_1_0_data(&mut c);
        c.query("SELECT * FROM rekor_link_vex('{\"vulnerability\":\"CVE-1\",\"products\":[\"pkg:a\"],\"status\":\"fixed\"}', 1::bigint)", &[])
            .unwrap();
        c.query("SELECT * FROM rekor_link_vex('{\"vulnerability\":\"CVE-2\",\"products\":[\"pkg:a\"],\"status\":\"fixed\"}', 2::bigint)", &[])
            .unwrap();
        c.batch_execute("DROP EXTENSION rekor_meta").expect("DROP EXTENSION without CASCADE");
        let left: Vec<String> = c
            .query(
                "SELECT 'relation ' || relname FROM pg_class WHERE relname LIKE 'rekor%'
                 UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname LIKE 'rekor%'
                 UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typname LIKE '%rekor%'
                 UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE 'rekor%'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(left.is_empty(), "left behind ({from:?}): {left:?}");
        assert_eq!(catalog_counts(&mut c), empty, "the catalogs are back to an empty database's ({from:?})");
    }
}

/// The TABLE DATA items of a custom-format dump, in restore order.
fn data_order(file: &str) -> Vec<String> {
    run(Command::new(pg_program("pg_restore")).arg("-l").arg(file))
        .lines()
        .filter(|l| !l.starts_with(';') && l.contains(" TABLE DATA "))
        .map(|l| l.split_whitespace().rev().nth(1).unwrap_or_default().to_string())
        .collect()
}

fn dump_file(name: &str, ext: &str) -> String {
    let dir = std::env::temp_dir();
    dir.join(format!("rekor_meta_{name}_{}.{ext}", std::process::id())).to_string_lossy().into_owned()
}

#[test]
fn pg_dump_and_pg_restore_round_trip_every_row() {
    let (mut c, db) = fresh_empty_db("upg_dump");
    c.batch_execute("CREATE EXTENSION rekor_meta").unwrap();
    let log = load_0_1_0_data(&mut c);
    // VEX links: linked (queue item 1), pending (item 2), linked directly by envelope hash.
    let doc =
        |v: &str| format!("{{\"vulnerability\":\"{v}\",\"products\":[\"pkg:a\",\"pkg:b\"],\"status\":\"fixed\"}}");
    c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, 1::bigint)", &[&doc("CVE-1")]).unwrap();
    c.query("SELECT * FROM rekor_link_vex($1::text::jsonb, 2::bigint)", &[&doc("CVE-2")]).unwrap();
    c.query(
        "SELECT * FROM rekor_link_vex($1::text::jsonb,
            (SELECT d.digest FROM rekor_entries e, rekor_body_digests(e.body) d WHERE e.kind = 'dsse' AND d.role = 'envelope' LIMIT 1))",
        &[&doc("CVE-3")],
    )
    .unwrap();
    // An application table that references the extension's (its rows are restored with -j below).
    c.batch_execute(
        "CREATE TABLE app_releases (id serial PRIMARY KEY, entry_id bigint NOT NULL REFERENCES rekor_entries (entry_id));
         INSERT INTO app_releases (entry_id) SELECT entry_id FROM rekor_entries, generate_series(1, 50);",
    )
    .unwrap();
    let mut tables = TABLES_0_1_0.to_vec();
    tables.push("rekor_vex_links");
    tables.push("app_releases");
    let before = snapshot(&mut c, &tables);

    let file = dump_file("round_trip", "dump");
    run(Command::new(pg_program("pg_dump")).arg("-Fc").arg("-d").arg(conninfo(&db)).arg("-f").arg(&file));
    // pg_dump orders the data of extension tables by their foreign keys, so restoring re-runs the
    // verifying triggers with every referenced row already there.
    let order = data_order(&file);
    let pos = |t: &str| order.iter().position(|x| x == t).unwrap_or_else(|| panic!("{t} is not dumped: {order:?}"));
    for (parent, child) in [
        ("rekor_logs", "rekor_checkpoints"),
        ("rekor_checkpoints", "rekor_entries"),
        ("rekor_checkpoints", "rekor_log_forks"),
        ("rekor_checkpoints", "rekor_checkpoint_consistency"),
        ("rekor_checkpoints", "rekor_witness_state"),
        ("rekor_entries", "rekor_submission_queue"),
        ("rekor_submission_queue", "rekor_vex_links"),
        ("rekor_entries", "rekor_vex_links"),
    ] {
        assert!(pos(parent) < pos(child), "{parent} must be restored before {child}: {order:?}");
    }

    // A parallel restore (pg_restore -j) does not keep that order across its workers:
    // scripts/pg-restore.sh restores the extension tables' data serially and the rest in parallel.
    let (mut p, pdb) = fresh_empty_db("upg_restored_j");
    run(Command::new("bash")
        .arg(format!("{}/../../scripts/pg-restore.sh", env!("CARGO_MANIFEST_DIR")))
        .arg(&file)
        .arg(conninfo(&pdb))
        .arg("4"));
    let after = snapshot(&mut p, &tables);
    for (k, v) in &before {
        assert_eq!(v, &after[k], "{k} differs after pg_dump / scripts/pg-restore.sh -j 4");
    }

    let (mut r, rdb) = fresh_empty_db("upg_restored");
    run(Command::new(pg_program("pg_restore")).arg("--exit-on-error").arg("-d").arg(conninfo(&rdb)).arg(&file));
    let _ = std::fs::remove_file(&file);
    let after = snapshot(&mut r, &tables);
    for (k, v) in &before {
        assert_eq!(v, &after[k], "{k} differs after pg_dump / pg_restore");
    }
    assert_every_entry_verifies(&mut r);
    let proofs: Vec<String> = r
        .query(
            "SELECT v || ' ' || proof FROM unnest(ARRAY['CVE-1', 'CVE-2', 'CVE-3']) v, rekor_vex_evidence(v, 'pkg:a') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|x| x.get(0))
        .collect();
    assert_eq!(proofs, vec!["CVE-1 proven", "CVE-2 pending", "CVE-3 proven"]);
    // Identity sequences continue where they were: new rows do not collide with restored ones.
    r.query("SELECT rekor_dequeue('w', 10)", &[]).unwrap();
    let entry: i64 = r
        .query_one("SELECT rekor_mark_submitted(2, 'w', $1::text::jsonb)", &[&log.response_json(0)])
        .expect("a new entry after the restore")
        .get(0);
    let max_before: i64 = c.query_one("SELECT max(entry_id) FROM rekor_entries", &[]).unwrap().get(0);
    assert!(entry > max_before);
    let proof: String = r.query_one("SELECT proof FROM rekor_vex_evidence('CVE-2', 'pkg:b')", &[]).unwrap().get(0);
    assert_eq!(proof, "proven", "the restored pending link is linked when its item is submitted");
    let next_link: i64 = r
        .query_one("SELECT max(link_id) FROM rekor_link_vex($1::text::jsonb, 1::bigint)", &[&doc("CVE-4")])
        .unwrap()
        .get(0);
    let max_link: i64 = c.query_one("SELECT max(link_id) FROM rekor_vex_links", &[]).unwrap().get(0);
    assert!(next_link > max_link);
    let witness = Ed25519Signer::from_label("witness.upgrade.test", "rekor_meta upgrade tests: witness log");
    let note9 = witness.checkpoint(&witness.name, 9, &TestTree::new("upgrade", 9).root(9));
    let cp: i64 = r.query_one("SELECT checkpoint_id FROM rekor_record_checkpoint($1)", &[&note9]).unwrap().get(0);
    let max_cp: i64 = c.query_one("SELECT max(checkpoint_id) FROM rekor_checkpoints", &[]).unwrap().get(0);
    assert!(cp > max_cp, "the checkpoint sequence continues");
}

#[test]
fn a_restored_row_is_verified_again() {
    let (mut c, db) = fresh_empty_db("upg_tamper");
    c.batch_execute("CREATE EXTENSION rekor_meta").unwrap();
    trust_fixture_logs(&mut c);
    submit_fixture_dsse_bundle(&mut c);
    let file = dump_file("tamper", "sql");
    run(Command::new(pg_program("pg_dump")).arg("-Fp").arg("-d").arg(conninfo(&db)).arg("-f").arg(&file));
    let dump = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    // One changed character in the signature of the stored checkpoint (COPY data: the note's first
    // signature line, "— <name> base64(key hint || signature)").
    let copy = dump.find("COPY public.rekor_checkpoints ").expect("the checkpoints are dumped");
    let line_start = copy + dump[copy..].find('\n').unwrap() + 1;
    let dash = line_start + dump[line_start..].find('\u{2014}').expect("a signature line");
    let name_end = dash + '\u{2014}'.len_utf8() + 1 + dump[dash + '\u{2014}'.len_utf8() + 1..].find(' ').unwrap();
    let at = name_end + 1 + 12; // past the 4-byte key hint, inside the signature
    let old = dump.as_bytes()[at] as char;
    let new = if old == 'A' { 'B' } else { 'A' };
    let tampered = format!("{}{}{}", &dump[..at], new, &dump[at + 1..]);

    let (_r, rdb) = fresh_empty_db("upg_tamper_restored");
    let out = Command::new(pg_program("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(conninfo(&rdb))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(tampered.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a tampered dump restored without error");
    assert!(stderr.contains("checkpoint signature does not verify"), "{stderr}");
}

#[test]
fn a_0_1_0_dump_restores_into_the_current_version() {
    let (mut c, db) = fresh_db_at_version("upg_old_dump", FIRST);
    load_0_1_0_data(&mut c);
    let before = snapshot(&mut c, &TABLES_0_1_0);
    let file = dump_file("old_dump", "dump");
    run(Command::new(pg_program("pg_dump")).arg("-Fc").arg("-d").arg(conninfo(&db)).arg("-f").arg(&file));
    let (mut r, rdb) = fresh_empty_db("upg_old_restored");
    run(Command::new(pg_program("pg_restore")).arg("--exit-on-error").arg("-d").arg(conninfo(&rdb)).arg(&file));
    let _ = std::fs::remove_file(&file);
    // pg_dump does not record the extension's version: the restore creates the default one.
    let target = default_version(&mut r);
    assert_eq!(installed_version(&mut r), target);
    let after = snapshot(&mut r, &TABLES_0_1_0);
    for (k, v) in &before {
        assert_eq!(
            v,
            &after[k],
            "{k} differs after restoring a {FIRST} dump into {target}{}",
            if k == "sequences" {
                format!(
                    ": pg_dump writes a sequence's position only when the extension marks the sequence itself; \
                         {FIRST}'s install script must call pg_extension_config_dump on the identity sequences"
                )
            } else {
                String::new()
            }
        );
    }
    assert_every_entry_verifies(&mut r);
}
