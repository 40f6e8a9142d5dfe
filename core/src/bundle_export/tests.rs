use super::*;
use crate::entry::{parse_bundle, parse_tlog_entry};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Every real bundle in the fixtures: conformance cases, sigstore-go, sigstore-java, sigstore-python.
fn real_bundles() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let root = fixtures();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["conformance/bundle-verify"] {
        for case in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = case.unwrap().path().join("bundle.sigstore.json");
            if p.exists() {
                files.push(p);
            }
        }
    }
    for dir in ["conformance/sigstore-go", "upstream", "timestamps/sigstore-python"] {
        for f in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = f.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.contains("bundle") || name.ends_with(".sigstore") || name.ends_with(".sigstore.json") {
                files.push(p);
            }
        }
    }
    files.sort();
    for p in files {
        let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap()) else { continue };
        if v.get("mediaType").is_some() && v.get("verificationMaterial").is_some() {
            out.push((p.strip_prefix(&root).unwrap().display().to_string(), v));
        }
    }
    out
}

/// The entry as protojson writes it: strings for int64, zero values and empty lists omitted.
fn protojson_normal(entry: &Value) -> Value {
    let mut e = entry.clone();
    let o = e.as_object_mut().unwrap();
    for k in ["logIndex", "integratedTime"] {
        match o.get(k).cloned() {
            Some(Value::Number(n)) => {
                o.insert(k.into(), Value::String(n.to_string()));
            }
            Some(Value::String(s)) if s == "0" => {
                o.remove(k);
            }
            _ => {}
        }
        if o.get(k) == Some(&Value::String("0".into())) {
            o.remove(k);
        }
    }
    if let Some(Value::Object(p)) = o.get_mut("inclusionProof") {
        for k in ["logIndex", "treeSize"] {
            if let Some(Value::Number(n)) = p.get(k).cloned() {
                p.insert(k.into(), Value::String(n.to_string()));
            }
        }
        if p.get("logIndex") == Some(&Value::String("0".into())) {
            p.remove("logIndex");
        }
        if p.get("hashes") == Some(&Value::Array(vec![])) {
            p.remove("hashes");
        }
    }
    e
}

#[test]
fn every_stored_form_of_a_real_bundle_entry_exports_to_the_same_tlog_entry() {
    let mut exported = 0;
    let mut identical = 0;
    for (name, bundle) in real_bundles() {
        let Ok(entries) = parse_bundle(&bundle) else { continue };
        let original = &bundle["verificationMaterial"]["tlogEntries"][0];
        let e = &entries[0];
        let Ok(body) = parse_body(&e.body) else { continue };
        let Some(stored) = StoredEntry::from_log_entry(e, &body.kind, &body.api_version) else { continue };
        let out = tlog_entry_json(&stored).unwrap_or_else(|err| panic!("{name}: {err}"));
        // Round trip: the exported entry parses to the very same entry.
        assert_eq!(parse_tlog_entry(&out).unwrap(), *e, "{name}");
        // Byte for byte where the original is in protojson's canonical form (kindVersion as the
        // body says, which every real bundle has).
        if protojson_normal(original) == *original {
            assert_eq!(out, *original, "{name}");
            identical += 1;
        } else {
            assert_eq!(out, protojson_normal(original), "{name}: equal after normalising");
            eprintln!("{name}: not in canonical protojson form, equal after normalising");
        }
        exported += 1;
    }
    eprintln!("{exported} entries exported, {identical} identical to the original");
    // 70 conformance cases, minus those without a proof or a parsable entry, plus the others.
    assert!(exported >= 50, "only {exported} bundles exported");
    assert!(identical >= 45, "only {identical} identical");
}

#[test]
fn real_bundles_export_to_bundles_with_the_same_content_and_verification_material() {
    let mut checked = 0;
    let mut with_ts = 0;
    for (name, bundle) in real_bundles() {
        if name.contains("_fail") {
            continue;
        }
        let Ok(entries) = parse_bundle(&bundle) else { continue };
        let e = &entries[0];
        let Ok(body) = parse_body(&e.body) else { continue };
        let Some(stored) = StoredEntry::from_log_entry(e, &body.kind, &body.api_version) else { continue };
        let vm = &bundle["verificationMaterial"];
        let timestamps: Vec<Vec<u8>> = vm["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|t| {
                        let s: String = t["signedTimestamp"].as_str().unwrap().chars().filter(|c| !c.is_whitespace()).collect();
                        STANDARD.decode(s).unwrap()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let material = Material {
            dsse_envelope: bundle.get("dsseEnvelope"),
            verifier: None,
            rfc3161_timestamps: timestamps.iter().map(Vec::as_slice).collect(),
        };
        let out = match export_bundle(&stored, &material) {
            Ok(b) => b,
            Err(ExportError::NoContent { kind }) => {
                assert!(kind == "intoto" || kind == "dsse", "{name}: {kind}");
                continue;
            }
            Err(err) => panic!("{name}: {err}"),
        };
        assert_eq!(out["mediaType"], BUNDLE_V03_MEDIA_TYPE);
        assert_eq!(parse_bundle(&out).unwrap(), entries, "{name}: the entries round-trip");
        if let Some(ms) = bundle.get("messageSignature") {
            assert_eq!(out["messageSignature"], *ms, "{name}");
        }
        if let Some(env) = bundle.get("dsseEnvelope") {
            // Equal but for an empty keyid, which protobuf JSON omits.
            let (a, b) = (parse_envelope(&out["dsseEnvelope"]).unwrap(), parse_envelope(env).unwrap());
            assert!(a.payload == b.payload && a.payload_type == b.payload_type, "{name}");
            let sigs = |e: &crate::dsse::Envelope| -> Vec<(Vec<u8>, String)> {
                e.signatures.iter().map(|s| (s.sig.clone(), s.keyid.clone().unwrap_or_default())).collect()
            };
            assert_eq!(sigs(&a), sigs(&b), "{name}");
        }
        let original_cert = vm["certificate"]["rawBytes"].as_str().or(vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str());
        if let Some(cert) = original_cert {
            // The body logs the leaf; the bundle's is the same certificate.
            assert_eq!(out["verificationMaterial"]["certificate"]["rawBytes"].as_str(), Some(cert), "{name}");
        } else {
            assert!(out["verificationMaterial"]["publicKey"]["hint"].is_string(), "{name}");
        }
        if !timestamps.is_empty() {
            with_ts += 1;
            assert_eq!(
                out["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"].as_array().unwrap().len(),
                timestamps.len()
            );
        }
        checked += 1;
    }
    eprintln!("{checked} bundles exported, {with_ts} with RFC 3161 timestamps");
    assert!(checked >= 25, "only {checked}");
    assert!(with_ts >= 10, "only {with_ts} with timestamps");
}

#[test]
fn rekor_v2_entries_export_without_integrated_time_and_v1_entries_with_their_set() {
    let v2: Value = serde_json::from_slice(&std::fs::read(fixtures().join("upstream/bundle-rekor-v2.sigstore.json")).unwrap()).unwrap();
    let e = &parse_bundle(&v2).unwrap()[0];
    let s = StoredEntry::from_log_entry(e, "hashedrekord", "0.0.2").unwrap();
    assert_eq!(s.integrated_time, None);
    let out = tlog_entry_json(&s).unwrap();
    assert!(out.get("integratedTime").is_none() && out.get("inclusionPromise").is_none());
    let v1: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("upstream/bundle-v0.3-hashedrekord.sigstore.json")).unwrap()).unwrap();
    let e = &parse_bundle(&v1).unwrap()[0];
    let s = StoredEntry::from_log_entry(e, "hashedrekord", "0.0.1").unwrap();
    let out = tlog_entry_json(&s).unwrap();
    assert_eq!(out["integratedTime"], Value::String(e.integrated_time.to_string()));
    assert_eq!(out["logIndex"], Value::String(e.log_index.to_string()));
    assert!(out["inclusionPromise"]["signedEntryTimestamp"].is_string());
    let mut bad = s;
    bad.integrated_time = Some(-1);
    assert!(matches!(tlog_entry_json(&bad), Err(ExportError::BadField { field: "integrated_time", .. })));
}

#[test]
fn a_dsse_entry_needs_its_own_envelope() {
    let b: Value = serde_json::from_slice(&std::fs::read(fixtures().join("upstream/bundle-dsse.sigstore.json")).unwrap()).unwrap();
    let e = &parse_bundle(&b).unwrap()[0];
    let body = parse_body(&e.body).unwrap();
    let s = StoredEntry::from_log_entry(e, &body.kind, &body.api_version).unwrap();
    let no_env = export_bundle(&s, &Material::default()).unwrap_err();
    assert!(matches!(no_env, ExportError::NoContent { .. }), "{no_env}");
    let ok = export_bundle(&s, &Material { dsse_envelope: b.get("dsseEnvelope"), ..Material::default() }).unwrap();
    assert!(ok.get("messageSignature").is_none());
    let mut other = b["dsseEnvelope"].clone();
    other["payload"] = Value::String(STANDARD.encode(b"{}"));
    let e2 = export_bundle(&s, &Material { dsse_envelope: Some(&other), ..Material::default() }).unwrap_err();
    assert!(matches!(e2, ExportError::EnvelopeMismatch { .. }), "{e2}");
    // An explicit verifier (a queue item's) wins over the body's.
    // The Rekor production log key (base64 DER SPKI) stands in for a signer's key.
    let root: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("trusted_root/production.trusted_root.json")).unwrap()).unwrap();
    let key = root["tlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap().as_bytes();
    let with_key = export_bundle(&s, &Material { dsse_envelope: b.get("dsseEnvelope"), verifier: Some(key), ..Material::default() }).unwrap();
    assert!(with_key["verificationMaterial"]["publicKey"]["hint"].is_string());
    assert!(with_key["verificationMaterial"].get("certificate").is_none());
    let too_many = Material { rfc3161_timestamps: vec![b"x".as_slice(); MAX_TIMESTAMPS + 1], dsse_envelope: b.get("dsseEnvelope"), ..Material::default() };
    assert!(matches!(export_bundle(&s, &too_many), Err(ExportError::TooManyTimestamps { .. })));
}

#[test]
fn bundle_material_of_real_bundles_exports_them_again_with_the_same_envelope_and_certificate() {
    let (mut with_env, mut with_cert) = (0, 0);
    for (name, b) in real_bundles() {
        let (env, verifier) = bundle_material(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(env.is_some(), b.get("dsseEnvelope").is_some(), "{name}");
        with_env += usize::from(env.is_some());
        with_cert += usize::from(verifier.is_some());
        if let Some(der) = &verifier {
            assert_eq!(der.first(), Some(&0x30), "{name}: the certificate is DER");
        }
    }
    assert!(with_env > 5 && with_cert > 5, "envelopes {with_env}, certificates {with_cert}");
}

#[test]
fn bundle_material_refuses_a_bad_envelope_and_bad_base64() {
    let bad_env = json!({"dsseEnvelope": {"payload": "e30=", "signatures": []}});
    assert!(matches!(bundle_material(&bad_env), Err(ExportError::Envelope(_))));
    let bad_cert = json!({"verificationMaterial": {"certificate": {"rawBytes": "not base64!"}}});
    assert!(matches!(bundle_material(&bad_cert), Err(ExportError::BadField { .. })));
    assert_eq!(bundle_material(&json!({})).unwrap(), (None, None));
}
