//! Log keys: bytes → LogKey::parse (PEM, DER, base64 DER) and the lower-level constructors, str →
//! LogKey::parse_vkey, and LogKey::verify of a fuzzed signature under each real fixture key.
//!
//! Input layout for the verify part: byte 0 is the signature length n, bytes 1..=n the signature,
//! the rest the message (the corpus holds real checkpoint signatures in this layout).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekor_meta_core::keys::{is_valid_note_name, KeyType, LogKey};
use rekor_meta_fuzz::fixture_keys;

/// A key that parsed must be canonical: its SPKI DER reparses to the same key, its raw key has the
/// right length, and every accessor works.
fn check_key(k: &LogKey) {
    let again = LogKey::from_spki_der(k.spki_der()).expect("canonical SPKI reparses");
    assert_eq!(&again, k, "SPKI round trip changed the key");
    match k.key_type() {
        KeyType::EcdsaP256 => {
            assert_eq!(k.raw_public_key().len(), 65);
            assert_eq!(
                &LogKey::from_p256_point(k.raw_public_key()).expect("point reparses"),
                k
            );
        }
        KeyType::Ed25519 => {
            assert_eq!(k.raw_public_key().len(), 32);
            assert_eq!(
                &LogKey::from_ed25519_raw(k.raw_public_key()).expect("raw key reparses"),
                k
            );
        }
    }
    let id = k.log_id("fuzz");
    assert_eq!(k.key_hint("fuzz"), [id[0], id[1], id[2], id[3]]);
    let _ = k.key_type().to_string();
}

fuzz_target!(|data: &[u8]| {
    match LogKey::parse(data) {
        Ok(k) => check_key(&k),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(k) = LogKey::from_spki_der(data) {
        check_key(&k);
    }
    if let Ok(k) = LogKey::from_p256_point(data) {
        check_key(&k);
    }
    if let Ok(k) = LogKey::from_ed25519_raw(data) {
        check_key(&k);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        match LogKey::parse_vkey(s) {
            Ok((name, k)) => {
                assert!(is_valid_note_name(&name));
                check_key(&k);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    // verify(msg, sig) under every fixture key, and under any key the input itself parsed to.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (sig, msg) = rest.split_at(usize::from(n).min(rest.len()));
    for fk in fixture_keys() {
        let _ = fk.key.verify(msg, sig);
        let _ = fk.key.verify(data, rest);
    }
    if let Ok(k) = LogKey::parse(msg) {
        let _ = k.verify(sig, sig);
    }
});
