//! C2SP signed notes and Rekor (tlog-checkpoint) checkpoints: strict parsing and signature verification.
//!
//! A signed note is `text` (one or more lines, each ending in '\n'), a blank line, then one or more
//! signature lines `— <name> <base64(4-byte key hint || signature)>\n`. The signed bytes are the text
//! including its final '\n'; the signature block starts after the LAST "\n\n". A checkpoint is a note
//! whose text is `<origin>\n<tree size>\n<base64 root hash>\n[<extension line>\n...]`.
//!
//! Every parse failure is a [`CheckpointError`] naming the 1-based line and what is wrong.

use crate::keys::{is_valid_note_name, LogKey};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;

/// Largest note accepted: real checkpoints are a few hundred bytes, so more is abuse.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// Most signature lines accepted, as golang.org/x/mod/sumdb/note.
pub const MAX_SIGNATURES: usize = 100;
/// Largest tree size accepted: the C2SP and Go parsers hold sizes in a signed 64-bit integer.
pub const MAX_TREE_SIZE: u64 = i64::MAX as u64;

/// Every signature line starts with U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hint: [u8; 4],
    pub signature: Vec<u8>,
}

/// A parsed signed note: its signed text and its signature lines, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    pub signatures: Vec<NoteSignature>,
}

/// A parsed Rekor checkpoint. Only [`parse_checkpoint`] builds one, so the fields always come from
/// the signed text; `verify` re-checks that they still do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    /// Extension lines (e.g. "Timestamp: ..."), without their trailing '\n'.
    pub extensions: Vec<String>,
    pub signatures: Vec<NoteSignature>,
    signed_text: String,
}

/// Exactly what is wrong with a note, and on which 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// The note is longer than [`MAX_NOTE_BYTES`]; `line` is where the limit is crossed.
    TooLarge {
        line: usize,
        size: usize,
    },
    InvalidUtf8 {
        line: usize,
    },
    /// A '\r': CRLF line endings change the signed bytes, so they are never silently accepted.
    CarriageReturn {
        line: usize,
    },
    /// An ASCII control character other than '\n' (golang.org/x/mod/sumdb/note rejects them too).
    ControlCharacter {
        line: usize,
        byte: u8,
    },
    /// The note is empty, or its text (before the blank line) has no content.
    EmptyBody {
        line: usize,
    },
    MissingFinalNewline {
        line: usize,
    },
    /// No "\n\n" separates the text from the signatures; `line` is the first signature-looking line.
    NoBlankLine {
        line: usize,
    },
    NoSignatures {
        line: usize,
    },
    /// More than [`MAX_SIGNATURES`] signature lines; `line` is the first one over the limit.
    TooManySignatures {
        line: usize,
    },
    /// A signature line does not start with "— " (U+2014 EM DASH, space).
    MissingEmDash {
        line: usize,
        found: String,
    },
    /// A signer name that is empty or contains whitespace or '+'.
    BadSignerName {
        line: usize,
        name: String,
    },
    /// A signature line with a name but no signature after it.
    MissingSignature {
        line: usize,
    },
    BadSignatureBase64 {
        line: usize,
        detail: String,
    },
    /// The decoded signature is shorter than a 4-byte key hint plus at least one signature byte.
    SignatureTooShort {
        line: usize,
        len: usize,
    },
    EmptyOrigin {
        line: usize,
    },
    /// The checkpoint text ends before a required line.
    MissingLine {
        line: usize,
        what: &'static str,
    },
    /// Not plain decimal digits (signs, spaces, letters, empty).
    TreeSizeNotDecimal {
        line: usize,
        found: String,
    },
    TreeSizeLeadingZero {
        line: usize,
        found: String,
    },
    /// Above 2^63 - 1.
    TreeSizeTooLarge {
        line: usize,
        found: String,
    },
    /// Not standard, padded, canonical base64.
    RootHashBase64 {
        line: usize,
        found: String,
        detail: String,
    },
    RootHashLength {
        line: usize,
        got: usize,
    },
    EmptyExtensionLine {
        line: usize,
    },
}

impl CheckpointError {
    /// The 1-based line the error is about.
    pub fn line(&self) -> usize {
        use CheckpointError::*;
        match self {
            TooLarge { line, .. }
            | InvalidUtf8 { line }
            | CarriageReturn { line }
            | ControlCharacter { line, .. }
            | EmptyBody { line }
            | MissingFinalNewline { line }
            | NoBlankLine { line }
            | NoSignatures { line }
            | TooManySignatures { line }
            | MissingEmDash { line, .. }
            | BadSignerName { line, .. }
            | MissingSignature { line }
            | BadSignatureBase64 { line, .. }
            | SignatureTooShort { line, .. }
            | EmptyOrigin { line }
            | MissingLine { line, .. }
            | TreeSizeNotDecimal { line, .. }
            | TreeSizeLeadingZero { line, .. }
            | TreeSizeTooLarge { line, .. }
            | RootHashBase64 { line, .. }
            | RootHashLength { line, .. }
            | EmptyExtensionLine { line } => *line,
        }
    }
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CheckpointError::*;
        write!(f, "line {}: ", self.line())?;
        match self {
            TooLarge { size, .. } => write!(f, "note is {size} bytes, over the limit of {MAX_NOTE_BYTES}"),
            InvalidUtf8 { .. } => f.write_str("note is not valid UTF-8"),
            CarriageReturn { .. } => f.write_str("carriage return ('\\r'): lines must end in '\\n' alone"),
            ControlCharacter { byte, .. } => write!(f, "control character 0x{byte:02x} in note"),
            EmptyBody { .. } => f.write_str("note text is empty"),
            MissingFinalNewline { .. } => f.write_str("note does not end with '\\n'"),
            NoBlankLine { .. } => f.write_str("no blank line separates the note text from its signatures"),
            NoSignatures { .. } => f.write_str("note has no signature lines"),
            TooManySignatures { .. } => write!(f, "more than {MAX_SIGNATURES} signature lines"),
            MissingEmDash { found, .. } => write!(
                f,
                "signature line does not start with \"\u{2014} \" (U+2014 EM DASH, space): found {found:?}"
            ),
            BadSignerName { name, .. } => {
                write!(f, "signer name {name:?} is empty or contains whitespace or '+'")
            }
            MissingSignature { .. } => f.write_str("signature line has a name but no signature"),
            BadSignatureBase64 { detail, .. } => write!(f, "signature is not standard base64: {detail}"),
            SignatureTooShort { len, .. } => write!(
                f,
                "signature decodes to {len} bytes, want at least 5 (4-byte key hint and a signature)"
            ),
            EmptyOrigin { .. } => f.write_str("checkpoint origin (first line) is empty"),
            MissingLine { what, .. } => write!(f, "checkpoint has no {what} line"),
            TreeSizeNotDecimal { found, .. } => {
                write!(f, "tree size {found:?} is not a decimal number (digits 0-9 only)")
            }
            TreeSizeLeadingZero { found, .. } => write!(f, "tree size {found:?} has a leading zero"),
            TreeSizeTooLarge { found, .. } => {
                write!(f, "tree size {found} is larger than the maximum {MAX_TREE_SIZE}")
            }
            RootHashBase64 { found, detail, .. } => {
                write!(f, "root hash {found:?} is not canonical padded standard base64: {detail}")
            }
            RootHashLength { got, .. } => write!(f, "root hash decodes to {got} bytes, want 32"),
            EmptyExtensionLine { .. } => f.write_str("empty extension line in checkpoint text"),
        }
    }
}

impl std::error::Error for CheckpointError {}

/// At most 64 characters of untrusted text, for error messages.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// 1-based line number of byte `offset` in `bytes`.
fn line_at(bytes: &[u8], offset: usize) -> usize {
    1 + bytes.get(..offset).unwrap_or(bytes).iter().filter(|&&b| b == b'\n').count()
}

/// Parses the generic signed-note layer: text plus signature lines, without interpreting the text.
pub fn parse_signed_note(note: &[u8]) -> Result<SignedNote, CheckpointError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(CheckpointError::TooLarge { line: line_at(note, MAX_NOTE_BYTES), size: note.len() });
    }
    let text = std::str::from_utf8(note)
        .map_err(|e| CheckpointError::InvalidUtf8 { line: line_at(note, e.valid_up_to()) })?;
    let mut line = 1;
    for &b in note {
        match b {
            b'\n' => line += 1,
            b'\r' => return Err(CheckpointError::CarriageReturn { line }),
            0..=0x1f => return Err(CheckpointError::ControlCharacter { line, byte: b }),
            _ => {}
        }
    }
    if text.is_empty() {
        return Err(CheckpointError::EmptyBody { line: 1 });
    }
    let line_count = text.matches('\n').count();
    if !text.ends_with('\n') {
        return Err(CheckpointError::MissingFinalNewline { line: line_count + 1 });
    }
    let no_blank_line = || {
        let first_sig = text.split_terminator('\n').position(|l| l.starts_with(SIG_PREFIX));
        CheckpointError::NoBlankLine { line: first_sig.map_or(line_count, |i| i + 1) }
    };
    let split = text.rfind("\n\n").ok_or_else(no_blank_line)?;
    // '\n' is ASCII, so both cuts fall on character boundaries; `get` keeps that a checked fact.
    let body = text.get(..split + 1).ok_or_else(no_blank_line)?;
    let sigs = text.get(split + 2..).ok_or_else(no_blank_line)?;
    if body.bytes().all(|b| b == b'\n') {
        return Err(CheckpointError::EmptyBody { line: 1 });
    }
    let body_lines = body.matches('\n').count();
    let first_sig_line = body_lines + 2;
    if sigs.is_empty() {
        return Err(CheckpointError::NoSignatures { line: first_sig_line });
    }
    let mut signatures = Vec::new();
    for (i, l) in sigs.split_terminator('\n').enumerate() {
        let line = first_sig_line + i;
        if i >= MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures { line });
        }
        signatures.push(parse_signature_line(l, line)?);
    }
    Ok(SignedNote { text: body.to_string(), signatures })
}

fn parse_signature_line(l: &str, line: usize) -> Result<NoteSignature, CheckpointError> {
    let rest = l
        .strip_prefix(SIG_PREFIX)
        .ok_or_else(|| CheckpointError::MissingEmDash { line, found: excerpt(l) })?;
    let (name, b64) = rest.split_once(' ').ok_or(CheckpointError::MissingSignature { line })?;
    if !is_valid_note_name(name) {
        return Err(CheckpointError::BadSignerName { line, name: excerpt(name) });
    }
    if b64.is_empty() {
        return Err(CheckpointError::MissingSignature { line });
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|e| CheckpointError::BadSignatureBase64 { line, detail: e.to_string() })?;
    let (hint, signature) = raw
        .split_first_chunk::<4>()
        .filter(|(_, sig)| !sig.is_empty())
        .ok_or(CheckpointError::SignatureTooShort { line, len: raw.len() })?;
    Ok(NoteSignature { name: name.to_string(), key_hint: *hint, signature: signature.to_vec() })
}

/// The parsed checkpoint text (what [`Checkpoint`] holds besides signatures).
#[derive(Debug, PartialEq, Eq)]
struct Body {
    origin: String,
    tree_size: u64,
    root_hash: [u8; 32],
    extensions: Vec<String>,
}

/// Parses checkpoint text (ending in '\n'); line numbers start at 1 as in the note.
fn parse_body(text: &str) -> Result<Body, CheckpointError> {
    let mut lines = text.split_terminator('\n');
    let origin = lines.next().ok_or(CheckpointError::EmptyBody { line: 1 })?;
    if origin.is_empty() {
        return Err(CheckpointError::EmptyOrigin { line: 1 });
    }
    let size = lines.next().ok_or(CheckpointError::MissingLine { line: 2, what: "tree size" })?;
    let tree_size = parse_tree_size(size, 2)?;
    let root = lines.next().ok_or(CheckpointError::MissingLine { line: 3, what: "root hash" })?;
    let root_hash = parse_root_hash(root, 3)?;
    let mut extensions = Vec::new();
    for (i, ext) in lines.enumerate() {
        if ext.is_empty() {
            return Err(CheckpointError::EmptyExtensionLine { line: 4 + i });
        }
        extensions.push(ext.to_string());
    }
    Ok(Body { origin: origin.to_string(), tree_size, root_hash, extensions })
}

fn parse_tree_size(s: &str, line: usize) -> Result<u64, CheckpointError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CheckpointError::TreeSizeNotDecimal { line, found: excerpt(s) });
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(CheckpointError::TreeSizeLeadingZero { line, found: excerpt(s) });
    }
    let too_large = || CheckpointError::TreeSizeTooLarge { line, found: excerpt(s) };
    let mut n: u64 = 0;
    for b in s.bytes() {
        n = n.checked_mul(10).and_then(|n| n.checked_add(u64::from(b - b'0'))).ok_or_else(too_large)?;
    }
    if n > MAX_TREE_SIZE {
        return Err(too_large());
    }
    Ok(n)
}

fn parse_root_hash(s: &str, line: usize) -> Result<[u8; 32], CheckpointError> {
    let raw = STANDARD.decode(s).map_err(|e| CheckpointError::RootHashBase64 {
        line,
        found: excerpt(s),
        detail: e.to_string(),
    })?;
    raw.as_slice().try_into().map_err(|_| CheckpointError::RootHashLength { line, got: raw.len() })
}

/// Parses a checkpoint: the signed-note layer, then the checkpoint text.
pub fn parse_checkpoint(note: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let SignedNote { text, signatures } = parse_signed_note(note)?;
    let Body { origin, tree_size, root_hash, extensions } = parse_body(&text)?;
    Ok(Checkpoint { origin, tree_size, root_hash, extensions, signatures, signed_text: text })
}

/// The signed-note rule over `sigs`: a line counts when its key hint (and, if given, its name) match the
/// key; every counting line must verify and at least one must exist. Returns the first counting name.
fn verify_lines(
    text: &[u8],
    sigs: &[NoteSignature],
    key: &LogKey,
    signer_name: Option<&str>,
) -> Option<String> {
    let mut verified: Option<&str> = None;
    for sig in sigs {
        let counts = match signer_name {
            Some(name) => sig.name == name && sig.key_hint == key.key_hint(name),
            // For Ed25519 the hint hashes the name, so each line is checked under its own name.
            None => sig.key_hint == key.key_hint(&sig.name),
        };
        if !counts {
            continue;
        }
        // A line that claims to be from this verifier but does not verify makes the note invalid.
        if !key.verify(text, &sig.signature) {
            return None;
        }
        verified.get_or_insert(sig.name.as_str());
    }
    verified.map(str::to_string)
}

/// The key-only rule: a verifier is (name, key), so each name on a line with the key's hint is tried
/// as its own verifier; the first name whose lines all verify is returned. A failing line under another
/// name that reuses an ECDSA hint (which does not bind the name) is that other verifier's, not ours.
fn verify_lines_any_name(text: &[u8], sigs: &[NoteSignature], key: &LogKey) -> Option<String> {
    let mut tried: Vec<&str> = Vec::new();
    for sig in sigs {
        if tried.contains(&sig.name.as_str()) || sig.key_hint != key.key_hint(&sig.name) {
            continue;
        }
        tried.push(sig.name.as_str());
        if let Some(name) = verify_lines(text, sigs, key, Some(&sig.name)) {
            return Some(name);
        }
    }
    None
}

impl SignedNote {
    /// The signed text, including its final '\n'.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The exact bytes the signatures cover.
    pub fn signed_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    /// True when a line with this name and the key's hint exists and every such line verifies.
    /// Lines for other names or keys (witness cosignatures) are ignored.
    pub fn verify(&self, key: &LogKey, signer_name: &str) -> bool {
        verify_lines(self.signed_bytes(), &self.signatures, key, Some(signer_name)).is_some()
    }

    /// As [`SignedNote::verify`] when the signer name is not known: any line whose hint matches the key
    /// under that line's own name counts. Returns the signer name that verified.
    pub fn verify_any_name(&self, key: &LogKey) -> Option<String> {
        verify_lines_any_name(self.signed_bytes(), &self.signatures, key)
    }
}

impl Checkpoint {
    /// The signed text, including its final '\n'.
    pub fn signed_text(&self) -> &str {
        &self.signed_text
    }

    /// The exact bytes the signatures cover: the checkpoint text including its final '\n'.
    pub fn signed_bytes(&self) -> &[u8] {
        self.signed_text.as_bytes()
    }

    /// The public fields can be changed after parsing; a signature only vouches for them if they still
    /// say what the signed text says.
    fn fields_match_signed_text(&self) -> bool {
        match parse_body(&self.signed_text) {
            Ok(b) => {
                b.origin == self.origin
                    && b.tree_size == self.tree_size
                    && b.root_hash == self.root_hash
                    && b.extensions == self.extensions
            }
            Err(_) => false,
        }
    }

    /// Signed-note rule: a signature line counts only when its name equals `signer_name` and its key hint
    /// equals `key.key_hint(signer_name)`. True if at least one counts and every one that counts verifies;
    /// lines for other keys (witness cosignatures) are ignored.
    pub fn verify(&self, key: &LogKey, signer_name: &str) -> bool {
        self.fields_match_signed_text()
            && verify_lines(self.signed_bytes(), &self.signatures, key, Some(signer_name)).is_some()
    }

    /// Same, when the signer name is not known: any line whose key hint matches the key under its own
    /// name counts (ECDSA hints do not bind the name; Ed25519 hints do). Returns the matching signer name.
    pub fn verify_any_name(&self, key: &LogKey) -> Option<String> {
        if !self.fields_match_signed_text() {
            return None;
        }
        verify_lines_any_name(self.signed_bytes(), &self.signatures, key)
    }
}

#[cfg(test)]
mod tests;
