//! How the submitter serialises a queued envelope for Rekor. Rekor v1's dsse entry hashes the
//! envelope bytes it receives (envelopeHash is part of the logged body), so the same envelope sent
//! in another serialisation is a *different* entry, not a 409. The default is the form of Go clients
//! (cosign v2, rekor-cli: Go encoding/json of go-securesystemslib's dsse.Envelope), so an envelope
//! such a client already logged answers 409 and is not logged twice.
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// {"payloadType","payload","signatures":[{"keyid","sig"}]}, HTML characters escaped (cosign v2, rekor-cli).
    GoStruct,
    /// {"payload","payloadType","signatures":[{"sig"[,"keyid"]}]} (sigstore-go, protobuf JSON; empty keyid omitted).
    Protojson,
}

fn go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_string(out: &mut String, s: &str) {
    out.push_str(&Value::String(s.to_string()).to_string());
}

/// The envelope (as stored by rekor_enqueue: validated there) in `form`; an error names what is
/// missing.
pub fn serialize(envelope: &Value, form: Form) -> Result<String, String> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let payload = s(envelope, "payload").ok_or("envelope has no payload")?;
    let payload_type = s(envelope, "payloadType").ok_or("envelope has no payloadType")?;
    let sigs = envelope
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or("envelope has no signatures")?;
    let string: fn(&mut String, &str) = if form == Form::GoStruct {
        go_string
    } else {
        json_string
    };
    let mut out = String::from("{");
    let member = |out: &mut String, name: &str, value: &str, first: bool| {
        if !first {
            out.push(',');
        }
        string(out, name);
        out.push(':');
        string(out, value);
    };
    if form == Form::GoStruct {
        member(&mut out, "payloadType", &payload_type, true);
        member(&mut out, "payload", &payload, false);
    } else {
        member(&mut out, "payload", &payload, true);
        member(&mut out, "payloadType", &payload_type, false);
    }
    out.push_str(",\"signatures\":[");
    for (i, sig) in sigs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let value = s(sig, "sig").ok_or_else(|| format!("signatures[{i}] has no sig"))?;
        let keyid = s(sig, "keyid").unwrap_or_default();
        out.push('{');
        if form == Form::GoStruct {
            member(&mut out, "keyid", &keyid, true);
            member(&mut out, "sig", &value, false);
        } else {
            member(&mut out, "sig", &value, true);
            if !keyid.is_empty() {
                member(&mut out, "keyid", &keyid, false);
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let e: Value = serde_json::json!({"signatures": [{"sig": "AAAA"}], "payload": "eyJ9", "payloadType": "a<b"});
        assert_eq!(
            serialize(&e, Form::GoStruct).unwrap(),
            r#"{"payloadType":"a\u003cb","payload":"eyJ9","signatures":[{"keyid":"","sig":"AAAA"}]}"#
        );
        assert_eq!(
            serialize(&e, Form::Protojson).unwrap(),
            r#"{"payload":"eyJ9","payloadType":"a<b","signatures":[{"sig":"AAAA"}]}"#
        );
    }
}
