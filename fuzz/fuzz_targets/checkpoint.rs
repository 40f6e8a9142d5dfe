//! Signed notes and checkpoints: bytes → parse_signed_note + parse_checkpoint, then every signature
//! check against the real log keys of tests/fixtures. Never panics; parsed values keep their invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekor_meta_core::checkpoint::{
    parse_checkpoint, parse_signed_note, MAX_SIGNATURES, MAX_TREE_SIZE,
};
use rekor_meta_core::keys::is_valid_note_name;
use rekor_meta_fuzz::{fixture_keys, last_line};

fuzz_target!(|data: &[u8]| {
    let keys = fixture_keys();
    let lines = last_line(data);

    let note = parse_signed_note(data);
    match &note {
        Ok(n) => {
            let text = n.text();
            assert!(text.ends_with('\n'), "note text must end with a newline");
            assert!(
                data.starts_with(n.signed_bytes()),
                "signed bytes must be a prefix of the note"
            );
            assert_eq!(
                data.get(text.len()),
                Some(&b'\n'),
                "a blank line must follow the text"
            );
            assert!(!n.signatures.is_empty() && n.signatures.len() <= MAX_SIGNATURES);
            for s in &n.signatures {
                assert!(
                    is_valid_note_name(&s.name),
                    "bad signer name accepted: {:?}",
                    s.name
                );
                assert!(!s.signature.is_empty());
            }
            for k in keys {
                let by_name = n.verify(&k.key, &k.signer_name);
                if let Some(name) = n.verify_any_name(&k.key) {
                    assert!(
                        n.verify(&k.key, &name),
                        "verify_any_name found {name:?} but verify disagrees"
                    );
                }
                let _ = by_name;
            }
        }
        Err(e) => {
            assert!(
                e.line() >= 1 && e.line() <= lines,
                "error line {} outside 1..={lines}: {e}",
                e.line()
            );
            let _ = e.to_string();
        }
    }

    match parse_checkpoint(data) {
        Ok(cp) => {
            let n = note.as_ref().expect("a checkpoint is a signed note");
            assert_eq!(cp.signed_text(), n.text());
            assert_eq!(cp.signatures, n.signatures);
            assert!(!cp.origin.is_empty());
            assert!(cp.tree_size <= MAX_TREE_SIZE);
            assert!(cp
                .extensions
                .iter()
                .all(|x| !x.is_empty() && !x.contains('\n')));
            // The parsed fields are the first lines of the signed text.
            let mut it = cp.signed_text().split_terminator('\n');
            assert_eq!(it.next(), Some(cp.origin.as_str()));
            assert_eq!(
                it.next().map(str::to_string),
                Some(cp.tree_size.to_string())
            );
            for k in keys {
                let ok = cp.verify(&k.key, &k.signer_name);
                if ok {
                    assert!(
                        n.verify(&k.key, &k.signer_name),
                        "checkpoint verifies but its note does not"
                    );
                }
                if let Some(name) = cp.verify_any_name(&k.key) {
                    assert!(
                        cp.verify(&k.key, &name),
                        "verify_any_name found {name:?} but verify disagrees"
                    );
                }
            }
            // Changing a field after parsing must make every signature check fail.
            let mut tampered = cp.clone();
            tampered.tree_size ^= 1;
            for k in keys {
                assert!(!tampered.verify(&k.key, &k.signer_name));
                assert!(tampered.verify_any_name(&k.key).is_none());
            }
        }
        Err(e) => {
            assert!(
                e.line() >= 1 && e.line() <= lines,
                "error line {} outside 1..={lines}: {e}",
                e.line()
            );
            let _ = e.to_string();
        }
    }
});
