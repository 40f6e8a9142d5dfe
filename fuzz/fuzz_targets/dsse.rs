//! DSSE envelopes: bytes → serde_json → parse_envelope, envelope_serialization for every form,
//! envelope_hash_candidates and match_envelope_hash. Every serialisation of a valid envelope is JSON
//! that parses back to the same envelope, and each candidate hash is matched to a form giving it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekor_meta_core::dsse::{
    envelope_hash_candidates, envelope_serialization, envelope_sha256, match_envelope_hash, pae,
    parse_envelope, Envelope, EnvelopeForm, MAX_SIGNATURES,
};
use rekor_meta_core::entry::canonical_json;
use serde_json::Value;

/// payloadType, payload, and each signature's (key id, sig).
type Normalized = (String, Vec<u8>, Vec<(Option<String>, Vec<u8>)>);

/// The envelope with empty key ids treated as absent (forms differ only in how they write those).
fn normalized(e: &Envelope) -> Normalized {
    let sigs = e
        .signatures
        .iter()
        .map(|s| (s.keyid.clone().filter(|k| !k.is_empty()), s.sig.clone()))
        .collect();
    (e.payload_type.clone(), e.payload.clone(), sigs)
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let parsed = parse_envelope(&v);
    let env = match parsed {
        Ok(env) => env,
        Err(e) => {
            assert!(!e.path().is_empty());
            let _ = e.to_string();
            for form in EnvelopeForm::ALL {
                assert!(
                    envelope_serialization(&v, form).is_err(),
                    "an invalid envelope serialised"
                );
            }
            assert!(match_envelope_hash(&v, data).is_err());
            return;
        }
    };
    assert!(!env.payload_type.is_empty());
    assert!(!env.signatures.is_empty() && env.signatures.len() <= MAX_SIGNATURES);
    assert!(env.signatures.iter().all(|s| !s.sig.is_empty()));

    // PAE: "DSSEv1 <len> <type> <len> <payload>".
    let p = env.pae();
    assert_eq!(p, pae(&env.payload_type, &env.payload));
    let head = format!(
        "DSSEv1 {} {} {} ",
        env.payload_type.len(),
        env.payload_type,
        env.payload.len()
    );
    assert!(p.starts_with(head.as_bytes()) && p.ends_with(&env.payload));
    assert_eq!(p.len(), head.len() + env.payload.len());
    let _ = (env.payload_sha256(), env.pae_sha256());

    let want = normalized(&env);
    for form in EnvelopeForm::ALL {
        let bytes = envelope_serialization(&v, form).expect("a parsed envelope serialises");
        let back: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} form is not JSON: {e}", form.as_str()));
        let again = parse_envelope(&back).unwrap_or_else(|e| {
            panic!("{} form does not parse as an envelope: {e}", form.as_str())
        });
        assert_eq!(
            normalized(&again),
            want,
            "{} form changed the envelope",
            form.as_str()
        );
        // Serialising the serialisation is a fixed point.
        let twice = envelope_serialization(&back, form).expect("reserialises");
        assert_eq!(twice, bytes, "{} form is not stable", form.as_str());
        if form == EnvelopeForm::Canonical {
            assert_eq!(bytes, canonical_json(&v));
            assert_eq!(envelope_sha256(&v).as_slice(), sha(&bytes).as_slice());
        }
    }

    let candidates = envelope_hash_candidates(&v).expect("a parsed envelope has candidates");
    assert_eq!(candidates.len(), EnvelopeForm::ALL.len());
    for (form, hash) in &candidates {
        let found = match_envelope_hash(&v, hash)
            .expect("match runs")
            .expect("its own hash matches");
        let found_hash = candidates.iter().find(|(f, _)| *f == found).map(|(_, h)| h);
        assert_eq!(
            found_hash,
            Some(hash),
            "matched {} for the hash of {}",
            found.as_str(),
            form.as_str()
        );
    }
    let _ = match_envelope_hash(&v, data).expect("match runs");
});

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}
