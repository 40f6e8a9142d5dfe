//! Bounded JSON reading: every document read into a `serde_json::Value` is checked against fixed
//! limits first, so hostile input gives an error a caller can report — never a panic, a stack
//! overflow or an allocation many times the input's size.
//!
//! PostgreSQL accepts `jsonb` at any nesting depth (10,000 levels and more), with numbers of any size
//! (1e400) and any number of values; a `Value` holds none of these well: serde_json stops at 128
//! levels, refuses numbers beyond a double, and spends about 32 bytes per value (so `[0,0,…]` takes
//! 16 times its text). [`ValueBuilder`] builds a `Value` from a stream of events (the extension feeds
//! it from PostgreSQL's jsonb iterator, without printing the document); [`check_json_limits`] and
//! [`parse_json_bytes`] apply the same limits to JSON text.

pub use serde_json::Value;
use serde_json::{Map, Number};
use std::fmt;

/// Largest JSON document read: 16 MiB (the `jsonb` size, or the text length).
pub const MAX_JSON_BYTES: usize = 16 << 20;
/// Deepest nesting of arrays and objects read. A Sigstore bundle nests about 6 levels.
pub const MAX_JSON_DEPTH: usize = 100;
/// Most values (scalars, arrays and objects) in one document: a Rekor response of 1000 entries
/// has about 50,000.
pub const MAX_JSON_VALUES: usize = 200_000;

/// Why a JSON document was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonTextError {
    /// The document is larger than [`MAX_JSON_BYTES`].
    TooLarge { got: usize, limit: usize },
    /// Arrays and objects nest deeper than [`MAX_JSON_DEPTH`].
    TooDeep { limit: usize },
    /// More than [`MAX_JSON_VALUES`] values.
    TooManyValues { limit: usize },
    /// A number too large for a double (beyond about 1.8e308); `number` says which.
    NumberOutOfRange { number: String },
    /// A string that is not valid UTF-8 (a database whose encoding is not UTF-8 can hold one).
    InvalidUtf8 { valid_up_to: usize },
    /// Anything else serde_json refuses, or events out of order.
    Invalid { message: String },
}

impl fmt::Display for JsonTextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonTextError::TooLarge { got, limit } => write!(f, "JSON document is {got} bytes, over the limit of {limit}"),
            JsonTextError::TooDeep { limit } => write!(f, "JSON nests arrays and objects deeper than {limit} levels"),
            JsonTextError::TooManyValues { limit } => write!(f, "JSON document has more than {limit} values"),
            JsonTextError::NumberOutOfRange { number } => write!(f, "JSON number out of range (beyond a double): {number}"),
            JsonTextError::InvalidUtf8 { valid_up_to } => {
                write!(f, "JSON string is not valid UTF-8 (invalid byte after {valid_up_to} valid bytes)")
            }
            JsonTextError::Invalid { message } => write!(f, "invalid JSON: {message}"),
        }
    }
}

impl std::error::Error for JsonTextError {}

/// A number's text, shortened for a message: its first 20 characters and its length.
fn number_snippet(text: &str) -> String {
    if text.len() <= 24 {
        text.to_string()
    } else {
        format!("{}… ({} characters)", &text[..20], text.len())
    }
}

/// Checks JSON text against [`MAX_JSON_BYTES`], [`MAX_JSON_DEPTH`] and [`MAX_JSON_VALUES`] with one
/// linear scan that copies nothing (brackets and commas inside strings do not count). Assumes
/// nothing about validity: the parser that follows reports syntax errors.
pub fn check_json_limits(text: &[u8]) -> Result<(), JsonTextError> {
    if text.len() > MAX_JSON_BYTES {
        return Err(JsonTextError::TooLarge { got: text.len(), limit: MAX_JSON_BYTES });
    }
    let mut depth = 0usize;
    // Each array or object, each comma, plus the first value: the number of values (one more for
    // each empty array or object).
    let mut values = 1usize;
    let mut i = 0usize;
    while let Some(&b) = text.get(i) {
        i += 1;
        match b {
            // A string's bytes count for nothing: jump to its closing quote (memchr: most of a Rekor
            // body is base64 inside strings), stepping over each escaped byte.
            b'"' => loop {
                let rest = text.get(i..).unwrap_or(&[]);
                match memchr::memchr2(b'"', b'\\', rest) {
                    None => i = text.len(),
                    Some(at) if rest.get(at) == Some(&b'\\') => {
                        i = (i + at + 2).min(text.len());
                        continue;
                    }
                    Some(at) => i += at + 1,
                }
                break;
            },
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(JsonTextError::TooDeep { limit: MAX_JSON_DEPTH });
                }
                values += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => values += 1,
            _ => continue,
        }
        if values > MAX_JSON_VALUES {
            return Err(JsonTextError::TooManyValues { limit: MAX_JSON_VALUES });
        }
    }
    Ok(())
}

/// Parses JSON text within the limits of [`check_json_limits`]; numbers beyond a double and
/// invalid UTF-8 are their own errors.
pub fn parse_json_bytes(text: &[u8]) -> Result<Value, JsonTextError> {
    check_json_limits(text)?;
    let text = std::str::from_utf8(text).map_err(|e| JsonTextError::InvalidUtf8 { valid_up_to: e.valid_up_to() })?;
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        if message.starts_with("number out of range") {
            JsonTextError::NumberOutOfRange { number: format!("at line {}, column {}", e.line(), e.column()) }
        } else {
            JsonTextError::Invalid { message }
        }
    })
}

/// A JSON number from its text (as PostgreSQL prints a numeric): integers that fit u64 or i64
/// stay exact, others become the nearest double; beyond a double is an error.
pub fn number_from_text(text: &str) -> Result<Value, JsonTextError> {
    match serde_json::from_str::<Number>(text) {
        Ok(n) => Ok(Value::Number(n)),
        Err(e) if e.to_string().starts_with("number out of range") => {
            Err(JsonTextError::NumberOutOfRange { number: number_snippet(text) })
        }
        Err(e) => Err(JsonTextError::Invalid { message: format!("number {:?}: {e}", number_snippet(text)) }),
    }
}

enum Frame {
    Array { items: Vec<Value>, raw_scalar: bool },
    Object { map: Map<String, Value>, key: Option<String> },
}

/// Builds a `Value` from events (begin/end of arrays and objects, keys, scalars) within
/// [`MAX_JSON_DEPTH`] and [`MAX_JSON_VALUES`]. Iterative: no depth reaches the Rust stack.
#[derive(Default)]
pub struct ValueBuilder {
    stack: Vec<Frame>,
    values: usize,
    root: Option<Value>,
}

impl ValueBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn count(&mut self) -> Result<(), JsonTextError> {
        self.values += 1;
        if self.values > MAX_JSON_VALUES {
            return Err(JsonTextError::TooManyValues { limit: MAX_JSON_VALUES });
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame) -> Result<(), JsonTextError> {
        if self.root.is_some() {
            return Err(JsonTextError::Invalid { message: "a value after the document's end".into() });
        }
        if self.stack.len() >= MAX_JSON_DEPTH {
            return Err(JsonTextError::TooDeep { limit: MAX_JSON_DEPTH });
        }
        self.stack.push(frame);
        Ok(())
    }

    /// An array starts. `raw_scalar`: PostgreSQL stores a top-level scalar as a one-element array
    /// so marked; it becomes the scalar itself.
    pub fn begin_array(&mut self, raw_scalar: bool) -> Result<(), JsonTextError> {
        if !raw_scalar {
            self.count()?;
        }
        self.open(Frame::Array { items: Vec::new(), raw_scalar })
    }

    pub fn begin_object(&mut self) -> Result<(), JsonTextError> {
        self.count()?;
        self.open(Frame::Object { map: Map::new(), key: None })
    }

    /// The key of the next member of the innermost object.
    pub fn key(&mut self, bytes: &[u8]) -> Result<(), JsonTextError> {
        let k = utf8(bytes)?;
        match self.stack.last_mut() {
            Some(Frame::Object { key: slot @ None, .. }) => {
                *slot = Some(k);
                Ok(())
            }
            _ => Err(JsonTextError::Invalid { message: "a key outside an object".into() }),
        }
    }

    pub fn string(&mut self, bytes: &[u8]) -> Result<(), JsonTextError> {
        let s = utf8(bytes)?;
        self.scalar(Value::String(s))
    }

    /// A number given as text (see [`number_from_text`]).
    pub fn number(&mut self, text: &str) -> Result<(), JsonTextError> {
        let n = number_from_text(text)?;
        self.scalar(n)
    }

    /// A scalar (null, boolean, number, string).
    pub fn scalar(&mut self, v: Value) -> Result<(), JsonTextError> {
        self.count()?;
        self.place(v)
    }

    /// The innermost array or object ends.
    pub fn end(&mut self) -> Result<(), JsonTextError> {
        let v = match self.stack.pop() {
            Some(Frame::Array { mut items, raw_scalar: true }) => {
                if items.len() != 1 {
                    return Err(JsonTextError::Invalid { message: "a raw scalar that is not one value".into() });
                }
                items.pop().unwrap_or(Value::Null)
            }
            Some(Frame::Array { items, raw_scalar: false }) => Value::Array(items),
            Some(Frame::Object { map, key: None }) => Value::Object(map),
            Some(Frame::Object { key: Some(_), .. }) => {
                return Err(JsonTextError::Invalid { message: "an object ends after a key".into() })
            }
            None => return Err(JsonTextError::Invalid { message: "an end without a beginning".into() }),
        };
        self.place(v)
    }

    fn place(&mut self, v: Value) -> Result<(), JsonTextError> {
        match self.stack.last_mut() {
            None if self.root.is_none() => {
                self.root = Some(v);
                Ok(())
            }
            None => Err(JsonTextError::Invalid { message: "a value after the document's end".into() }),
            Some(Frame::Array { items, .. }) => {
                items.push(v);
                Ok(())
            }
            Some(Frame::Object { map, key }) => match key.take() {
                Some(k) => {
                    map.insert(k, v);
                    Ok(())
                }
                None => Err(JsonTextError::Invalid { message: "an object member without a key".into() }),
            },
        }
    }

    /// The document, once every array and object has ended.
    pub fn finish(self) -> Result<Value, JsonTextError> {
        match (self.stack.is_empty(), self.root) {
            (true, Some(v)) => Ok(v),
            _ => Err(JsonTextError::Invalid { message: "the document is incomplete".into() }),
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<String, JsonTextError> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|e| JsonTextError::InvalidUtf8 { valid_up_to: e.valid_up_to() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    /// Feeds a Value to a builder as PostgreSQL's iterator would (top-level scalars as raw arrays).
    fn feed(b: &mut ValueBuilder, v: &Value, top: bool) -> Result<(), JsonTextError> {
        match v {
            Value::Array(a) => {
                b.begin_array(false)?;
                for x in a {
                    feed(b, x, false)?;
                }
                b.end()
            }
            Value::Object(m) => {
                b.begin_object()?;
                for (k, x) in m {
                    b.key(k.as_bytes())?;
                    feed(b, x, false)?;
                }
                b.end()
            }
            scalar if top => {
                b.begin_array(true)?;
                feed(b, scalar, false)?;
                b.end()
            }
            Value::String(s) => b.string(s.as_bytes()),
            Value::Number(n) => b.number(&n.to_string()),
            other => b.scalar(other.clone()),
        }
    }

    fn rebuild(v: &Value) -> Result<Value, JsonTextError> {
        let mut b = ValueBuilder::new();
        feed(&mut b, v, true)?;
        b.finish()
    }

    #[test]
    fn text_parses_ordinary_json() {
        assert_eq!(parse_json_bytes(br#"{"a": [1, "x", null, {"b": true}]}"#).unwrap(), json!({"a": [1, "x", null, {"b": true}]}));
        assert_eq!(parse_json_bytes(b"9223372036854775808").unwrap(), json!(9223372036854775808u64));
        assert_eq!(parse_json_bytes(b"-1.5").unwrap(), json!(-1.5));
    }

    #[test]
    fn text_depth_limit_is_exact() {
        assert!(parse_json_bytes(nested(MAX_JSON_DEPTH).as_bytes()).is_ok());
        assert_eq!(parse_json_bytes(nested(MAX_JSON_DEPTH + 1).as_bytes()), Err(JsonTextError::TooDeep { limit: MAX_JSON_DEPTH }));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(MAX_JSON_DEPTH + 1), "}".repeat(MAX_JSON_DEPTH + 1));
        assert_eq!(check_json_limits(objects.as_bytes()), Err(JsonTextError::TooDeep { limit: MAX_JSON_DEPTH }));
        // 10,000 levels, and unbalanced text, stop at the limit.
        let e = parse_json_bytes(nested(10_000).as_bytes()).unwrap_err();
        assert!(e.to_string().contains("deeper than 100 levels"), "{e}");
        assert!(check_json_limits("[".repeat(1_000_000).as_bytes()).is_err());
    }

    #[test]
    fn text_size_and_value_limits() {
        let big = vec![b' '; MAX_JSON_BYTES + 1];
        assert!(matches!(check_json_limits(&big), Err(JsonTextError::TooLarge { got, limit: MAX_JSON_BYTES }) if got == MAX_JSON_BYTES + 1));
        let at_limit = format!("[{}]", vec!["0"; MAX_JSON_VALUES - 1].join(","));
        assert_eq!(parse_json_bytes(at_limit.as_bytes()).unwrap().as_array().unwrap().len(), MAX_JSON_VALUES - 1);
        let over = format!("[{}]", vec!["0"; MAX_JSON_VALUES].join(","));
        assert!(matches!(parse_json_bytes(over.as_bytes()), Err(JsonTextError::TooManyValues { limit: MAX_JSON_VALUES })));
    }

    #[test]
    fn text_brackets_in_strings_do_not_count() {
        let s = format!(r#"["{}", "\"{}", "{}"]"#, "[".repeat(1000), "{".repeat(1000), ",".repeat(MAX_JSON_VALUES + 5));
        assert_eq!(parse_json_bytes(s.as_bytes()).unwrap().as_array().unwrap().len(), 3);
        // An escaped backslash before a quote ends the string.
        let deep = format!(r#"["\\", {}]"#, nested(MAX_JSON_DEPTH));
        assert_eq!(check_json_limits(deep.as_bytes()), Err(JsonTextError::TooDeep { limit: MAX_JSON_DEPTH }));
    }

    #[test]
    fn text_huge_numbers_and_bad_utf8_are_errors() {
        // PostgreSQL prints numeric 1e400 in full: 1 followed by 400 zeros.
        let text = format!(r#"{{"logIndex": 1{}}}"#, "0".repeat(400));
        assert!(matches!(parse_json_bytes(text.as_bytes()), Err(JsonTextError::NumberOutOfRange { .. })));
        assert!(matches!(parse_json_bytes(b"-1e400"), Err(JsonTextError::NumberOutOfRange { .. })));
        assert_eq!(parse_json_bytes(b"1e-400").unwrap(), json!(0.0));
        assert_eq!(parse_json_bytes(b"\"ab\xff\""), Err(JsonTextError::InvalidUtf8 { valid_up_to: 3 }));
        assert!(matches!(parse_json_bytes(b"{"), Err(JsonTextError::Invalid { .. })));
    }

    #[test]
    fn builder_round_trips_documents() {
        for v in [
            json!({"a": [1, -2, 2.5, "x", null, true, {"b": {}}], "c": []}),
            json!("top-level string"),
            json!(18446744073709551615u64),
            json!(-9223372036854775808i64),
            json!(null),
            json!([]),
            json!({}),
        ] {
            assert_eq!(rebuild(&v).unwrap(), v);
        }
    }

    #[test]
    fn builder_numbers_as_postgresql_prints_them() {
        assert_eq!(number_from_text("9223372036854775808").unwrap(), json!(9223372036854775808u64));
        assert_eq!(number_from_text("-9223372036854775809").unwrap(), json!(-9223372036854775809.0));
        assert_eq!(number_from_text("1.50").unwrap(), json!(1.5));
        let huge = format!("1{}", "0".repeat(400));
        match number_from_text(&huge) {
            Err(JsonTextError::NumberOutOfRange { number }) => assert!(number.contains("401 characters"), "{number}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(number_from_text("NaN"), Err(JsonTextError::Invalid { .. })));
    }

    #[test]
    fn builder_limits() {
        let mut b = ValueBuilder::new();
        for _ in 0..MAX_JSON_DEPTH {
            b.begin_array(false).unwrap();
        }
        assert_eq!(b.begin_object(), Err(JsonTextError::TooDeep { limit: MAX_JSON_DEPTH }));

        let mut b = ValueBuilder::new();
        b.begin_array(false).unwrap();
        for _ in 0..MAX_JSON_VALUES - 1 {
            b.scalar(Value::Null).unwrap();
        }
        assert_eq!(b.scalar(Value::Null), Err(JsonTextError::TooManyValues { limit: MAX_JSON_VALUES }));

        let mut b = ValueBuilder::new();
        b.begin_object().unwrap();
        assert_eq!(b.key(b"k\xc3"), Err(JsonTextError::InvalidUtf8 { valid_up_to: 1 }));
        b.key(b"k").unwrap();
        assert_eq!(b.string(b"\xff"), Err(JsonTextError::InvalidUtf8 { valid_up_to: 0 }));
    }

    #[test]
    fn builder_refuses_events_out_of_order() {
        let mut b = ValueBuilder::new();
        assert!(b.end().is_err());
        let mut b = ValueBuilder::new();
        assert!(b.key(b"k").is_err());
        let mut b = ValueBuilder::new();
        b.begin_object().unwrap();
        assert!(b.scalar(Value::Null).is_err());
        let mut b = ValueBuilder::new();
        b.begin_array(false).unwrap();
        assert!(b.finish().is_err());
        let mut b = ValueBuilder::new();
        b.scalar(Value::Null).unwrap();
        assert!(b.scalar(Value::Null).is_err());
        let mut b = ValueBuilder::new();
        b.begin_array(true).unwrap();
        assert!(b.end().is_err());
    }

    /// The byte-at-a-time scan check_json_limits replaced (memchr over string contents): the oracle.
    fn limits_bytewise(text: &[u8]) -> Result<(), JsonTextError> {
        if text.len() > MAX_JSON_BYTES {
            return Err(JsonTextError::TooLarge { got: text.len(), limit: MAX_JSON_BYTES });
        }
        let (mut depth, mut values, mut in_string, mut escaped) = (0usize, 1usize, false, false);
        for &b in text {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_JSON_DEPTH {
                        return Err(JsonTextError::TooDeep { limit: MAX_JSON_DEPTH });
                    }
                    values += 1;
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b',' => values += 1,
                _ => continue,
            }
            if values > MAX_JSON_VALUES {
                return Err(JsonTextError::TooManyValues { limit: MAX_JSON_VALUES });
            }
        }
        Ok(())
    }

    #[test]
    fn the_limits_scan_judges_every_text_as_the_bytewise_scan_does() {
        // Texts built from the bytes the scan cares about (quotes, escapes, brackets, commas) and
        // filler, at depths and counts around the limits: deterministic PRNG, many shapes.
        let alphabet: &[&[u8]] = &[b"\"", b"\\", b"[", b"]", b"{", b"}", b",", b"a", b"\\\"", b"\\\\", b"\"\"", b"[[[[", b",,,,"];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut t = Vec::new();
            for _ in 0..len {
                t.extend_from_slice(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            assert_eq!(check_json_limits(&t), limits_bytewise(&t), "case {case}: {:?}", String::from_utf8_lossy(&t));
        }
        for t in [nested(MAX_JSON_DEPTH), nested(MAX_JSON_DEPTH + 1), format!("\"{}\"{}", "[".repeat(200), "]"),
                  format!("[{}]", ",".repeat(MAX_JSON_VALUES)), format!("[{}]", ",".repeat(MAX_JSON_VALUES - 2)),
                  "\"unterminated [[[".into(), "\"ends in an escape \\".into()] {
            assert_eq!(check_json_limits(t.as_bytes()), limits_bytewise(t.as_bytes()), "{}", &t[..t.len().min(60)]);
        }
    }
}
