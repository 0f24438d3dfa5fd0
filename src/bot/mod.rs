//! Comment commands (`@ci-medic merge`, ...): which deliveries carry one
//! ([`trigger`]), parsing ([`parse`]), deciding ([`act`], [`merge`]) and
//! replying ([`reply`]). The handlers are `handlers::commands` and
//! `handlers::pending_merge`.

pub mod act;
pub mod audit;
pub mod cherry_pick;
pub mod config;
pub mod merge;
pub mod merge_rules;
pub mod parse;
pub mod pending;
pub mod rebase;
pub mod reply;
pub mod tolerance;
pub mod trigger;

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cli::{BotParseArgs, Context};

/// `bot parse`: the offline contract. Prints the parsed command as JSON
/// (`{"command": null}`, `{"command": "merge", ...}` or `{"error": ...}`)
/// and exits 0 whatever the comment holds.
pub async fn parse_command(cx: &Context, args: &BotParseArgs) -> Result<ExitCode> {
    let text = match (&args.text, &args.file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        (None, None) => anyhow::bail!("pass --text TEXT or --file FILE"),
    };
    let handles: Vec<String> = args
        .handle
        .iter()
        .filter_map(|h| normalize_handle(h))
        .collect();
    let parsed = parse::parse_comment(&text, &handles);
    if cx.json() {
        cx.env.print_json(&parsed)?;
    } else {
        let line = match &parsed {
            parse::Parsed::NoCommand => "no command".to_string(),
            parse::Parsed::Command(c) => format!("command: {}", c.name()),
            parse::Parsed::Error(e) => format!("{e}\n{}", e.usage()),
        };
        cx.env.echo_untrusted(&line);
    }
    Ok(ExitCode::SUCCESS)
}

/// A handle as configured: trimmed, with its `@`; `None` when empty.
pub fn normalize_handle(handle: &str) -> Option<String> {
    let h = handle.trim().trim_start_matches('@');
    (!h.is_empty()).then(|| format!("@{h}"))
}
