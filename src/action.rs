//! The GitHub Actions runner's formats: input names, workflow commands, output
//! records. Pure; [`crate::runtime::Env`] reads the environment and writes.
//!
//! Everything a step writes, to stdout or stderr, may be read by the runner
//! as a workflow command: `::cmd::` at the start of a line, and the older
//! `##[cmd]` anywhere in a line. So text that came from outside goes through
//! `Env::echo_untrusted` (human text on stdout), [`json_text`] (machine-readable
//! output), or [`inert`] (error chains and logs on stderr).

use anyhow::Result;

/// GitHub refuses step summaries larger than 1 MiB
/// (docs: "Adding a job summary", size limit per step).
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// The environment variable the runner uses for an input: `INPUT_` + the name
/// upper-cased with spaces turned to `_`. Hyphens are kept (`dry-run` ->
/// `INPUT_DRY-RUN`).
pub fn input_var(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// A boolean input, read strictly: exactly one of the YAML 1.2 core schema
/// booleans (`true`, `True`, `TRUE`, `false`, `False`, `FALSE`), or unset
/// (absent or empty). Anything else, surrounding whitespace included
/// (`yes`, `1`, `True `), is an error rather than a guess: an input such as
/// `dry-run` must never be read as `false` because it was misspelt.
/// `raw` is the variable as set; `None` when absent.
pub fn parse_bool_input(name: &str, raw: Option<&str>) -> Result<Option<bool>> {
    match raw {
        None | Some("") => Ok(None),
        Some("true" | "True" | "TRUE") => Ok(Some(true)),
        Some("false" | "False" | "FALSE") => Ok(Some(false)),
        Some(other) => anyhow::bail!(
            "input `{name}` must be true or false (one of true, True, TRUE, false, False, FALSE), got {other:?}"
        ),
    }
}

/// Escape data for a workflow command message (`::cmd::DATA`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command property value (`::cmd key=VALUE::`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The line that asks the runner to mask `secret` in all later output.
pub fn mask_command(secret: &str) -> Option<String> {
    // A multi-line secret must be masked line by line; empty lines mask nothing.
    let lines: Vec<String> = secret
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("::add-mask::{}", escape_data(l)))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// A fresh random token for `::stop-commands::`, unguessable by log authors.
pub fn random_token() -> String {
    let mut buf = [0u8; 16];
    // getrandom only fails on exotic platforms; fall back to time and pid so
    // the token still differs between runs.
    if getrandom::fill(&mut buf).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seed = t ^ (u128::from(std::process::id()) << 64);
        buf.copy_from_slice(&seed.to_le_bytes());
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Wrap untrusted text so that no line of it is read as a workflow command.
pub fn untrusted_block(text: &str) -> String {
    let token = random_token();
    format!("::stop-commands::{token}\n{text}\n::{token}::")
}

/// `value` as pretty JSON holding no workflow command: every `##[` is
/// written `#\u0023[`.
///
/// `#` only occurs inside JSON strings, where `\u0023` is the same character,
/// so the text decodes to exactly the same value. Escaping is chosen over
/// wrapping in `::stop-commands::` because the output stays one valid JSON
/// document that `jq` reads whether or not it was captured inside a runner,
/// and is the same inside and outside Actions. No line of pretty JSON can
/// start with `::` (each starts with indentation, a bracket or a quote; a
/// string holds no raw newline), so `##[` is the only command form to defuse.
pub fn json_text(value: &impl serde::Serialize) -> Result<String> {
    Ok(serde_json::to_string_pretty(value)?.replace("##[", "#\\u0023["))
}

/// Human text with no workflow command left in it: a zero-width space breaks
/// every `##[` and a `::` that starts a line (after spaces, as the runner
/// trims them). For stderr, where a `::stop-commands::` block could
/// interleave with stdout and swallow the error annotation; the text reads
/// the same.
pub fn inert(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indent = line.len() - line.trim_start().len();
        let (lead, rest) = line.split_at(indent);
        out.push_str(lead);
        match rest.strip_prefix("::") {
            Some(after) => {
                out.push_str(":\u{200B}:");
                out.push_str(after);
            }
            None => out.push_str(rest),
        }
    }
    out.replace("##[", "##\u{200B}[")
}

/// Stderr for the program's logs, which quote job names and error chains:
/// inside a runner each write goes through [`inert`]. (The log formatter
/// writes one whole event per call.)
pub struct LogWriter {
    pub in_actions: bool,
}

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut err = std::io::stderr().lock();
        if self.in_actions {
            err.write_all(inert(&String::from_utf8_lossy(buf)).as_bytes())?;
        } else {
            err.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The `name<<DELIM` form the runner reads from `$GITHUB_OUTPUT`, with a
/// delimiter that cannot occur in the value.
pub fn output_record(name: &str, value: &str) -> String {
    let mut delim = format!("ci_medic_{}", random_token());
    while value.contains(&delim) {
        delim = format!("ci_medic_{}", random_token());
    }
    format!("{name}<<{delim}\n{value}\n{delim}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_keep_hyphens() {
        assert_eq!(input_var("dry-run"), "INPUT_DRY-RUN");
        assert_eq!(input_var("clickhouse url"), "INPUT_CLICKHOUSE_URL");
    }

    #[test]
    fn booleans_are_the_yaml_core_ones_exactly() {
        for (raw, want) in [
            ("true", Some(true)),
            ("True", Some(true)),
            ("TRUE", Some(true)),
            ("false", Some(false)),
            ("False", Some(false)),
            ("FALSE", Some(false)),
            ("", None),
        ] {
            assert_eq!(
                parse_bool_input("dry-run", Some(raw)).ok(),
                Some(want),
                "{raw:?}"
            );
        }
        for raw in ["yes", "no", "1", "0", "on", "True ", " true", "tRUE", "  "] {
            let err = parse_bool_input("dry-run", Some(raw))
                .err()
                .map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("`dry-run`")),
                "{raw:?}: {err:?}"
            );
        }
        assert_eq!(parse_bool_input("dry-run", None).ok(), Some(None));
    }

    #[test]
    fn output_record_is_multiline_safe() {
        let rec = output_record("excerpt", "a\nb\nci_medic_x");
        let mut lines = rec.lines();
        let head = lines.next().unwrap_or_default();
        let delim = head.trim_start_matches("excerpt<<");
        assert!(delim.starts_with("ci_medic_"));
        assert_eq!(lines.next(), Some("a"));
        assert_eq!(lines.next(), Some("b"));
        assert_eq!(lines.next(), Some("ci_medic_x"));
        assert_eq!(lines.next(), Some(delim));
    }

    #[test]
    fn untrusted_text_is_fenced_by_a_random_token() {
        let block = untrusted_block("::set-output name=x::pwned\n::add-mask::y");
        let first = block.lines().next().unwrap_or_default();
        let token = first.trim_start_matches("::stop-commands::");
        assert_eq!(token.len(), 32);
        assert!(block.ends_with(&format!("::{token}::")));
        assert_ne!(untrusted_block("a"), untrusted_block("a"));
    }

    #[test]
    fn json_output_holds_no_command_and_means_the_same() {
        let v = serde_json::json!({
            "text": "##[set-output name=x;]y ##[add-mask]z ##[set-output name=x::y]",
            "lines": ["::set-output name=a::b", "\\##[error]w"],
        });
        let text = json_text(&v).unwrap_or_default();
        assert!(!text.contains("##["), "{text}");
        assert!(
            !text.lines().any(|l| l.trim_start().starts_with("::")),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, v);
    }

    #[test]
    fn inert_text_holds_no_command() {
        let t = inert("a ##[set-output name=x;]y\n  ::add-mask::s\n::error::e:: ok");
        assert!(!t.contains("##["), "{t}");
        assert!(!t.lines().any(|l| l.trim_start().starts_with("::")), "{t}");
        assert!(t.contains("e:: ok"));
        assert_eq!(inert("plain: text"), "plain: text");
    }

    #[test]
    fn mask_covers_each_line_and_escapes() {
        assert_eq!(mask_command(""), None);
        assert_eq!(
            mask_command("ab%c\nxyz").as_deref(),
            Some("::add-mask::ab%25c\n::add-mask::xyz")
        );
    }

    #[test]
    fn properties_escape_separators() {
        assert_eq!(escape_property("a:b,c\nd"), "a%3Ab%2Cc%0Ad");
    }
}
