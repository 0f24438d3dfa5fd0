//! Typed state hidden in what ci-medic writes: one line
//! `<!-- ci-medic:KIND {json} -->` at the end of a body, optionally sealed
//! with a SHA-256 digest of the whole body.
//!
//! The JSON is written by [`comment_safe_json`] (one line, no `-->`, no
//! markdown or mention that could come alive), and read back only from the
//! last non-empty line, where [`line()`] puts it: text quoted above it (logs,
//! titles) cannot pose as state. Readers also check who wrote the body (see
//! `github::Identity`); the seal tells whether anyone edited it since.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::markdown::comment_safe_json;

/// The name of the digest field a sealed value carries.
pub const DIGEST_FIELD: &str = "body_sha256";

/// The digest field's value while the digest is computed.
pub const DIGEST_PLACEHOLDER: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// The hidden line for `value` of `kind` (`kind` is ours: an identifier).
pub fn line<T: Serialize>(kind: &str, value: &T) -> String {
    let json = serde_json::to_value(value)
        .map(|v| comment_safe_json(&v))
        .unwrap_or_default();
    format!("<!-- ci-medic:{kind} {json} -->")
}

/// The value of `kind` hidden on the last non-empty line of `body`.
pub fn read<T: DeserializeOwned>(body: &str, kind: &str) -> Option<T> {
    let open = format!("<!-- ci-medic:{kind} ");
    let last = body
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())?
        .trim_end();
    let json = last.strip_prefix(&open)?.strip_suffix(" -->")?;
    serde_json::from_str(json).ok()
}

fn digest_field(value: &str) -> String {
    format!("\"{DIGEST_FIELD}\":\"{value}\"")
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Put the digest of `body` in place of the placeholder its hidden value
/// carries (the value was rendered with `DIGEST_FIELD` = the placeholder).
pub fn seal(body: String) -> String {
    let field = digest_field(DIGEST_PLACEHOLDER);
    let digest = sha256_hex(&body);
    match body.rfind(&field) {
        Some(at) => {
            let mut out = body;
            out.replace_range(at..at + field.len(), &digest_field(&digest));
            out
        }
        None => body,
    }
}

/// Whether `body`, whose hidden value carries `digest`, is byte for byte
/// the body that was sealed.
pub fn is_as_sealed(body: &str, digest: &str) -> bool {
    let field = digest_field(digest);
    let Some(at) = body.rfind(&field) else {
        return false;
    };
    let mut unsealed = body.to_string();
    unsealed.replace_range(at..at + field.len(), &digest_field(DIGEST_PLACEHOLDER));
    sha256_hex(&unsealed) == digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct State {
        n: u32,
        text: String,
        body_sha256: Option<String>,
    }

    fn state(text: &str) -> State {
        State {
            n: 7,
            text: text.into(),
            body_sha256: Some(DIGEST_PLACEHOLDER.into()),
        }
    }

    #[test]
    fn state_round_trips_from_the_last_line_only() {
        let hostile = "--> <!-- ci-medic:x {\"n\":1} --> @all";
        let body = format!("prose\n\n{}\n", line("x", &state(hostile)));
        assert_eq!(read::<State>(&body, "x"), Some(state(hostile)));
        // The same line quoted above other text is not state.
        let quoted = format!("{}\nmore prose\n", line("x", &state("a")));
        assert_eq!(read::<State>(&quoted, "x"), None);
        assert_eq!(read::<State>(&body, "y"), None);
    }

    #[test]
    fn a_sealed_body_tells_any_edit() {
        let body = seal(format!("prose\n{}\n", line("x", &state("a"))));
        let got: State = read(&body, "x").expect("state");
        let digest = got.body_sha256.expect("digest");
        assert_ne!(digest, DIGEST_PLACEHOLDER);
        assert!(is_as_sealed(&body, &digest));
        assert!(!is_as_sealed(&body.replace("prose", "Prose"), &digest));
        assert!(!is_as_sealed(&body, DIGEST_PLACEHOLDER));
    }
}
