//! Downstream (out-of-tree) CI: repositories the project does not own that
//! test its pull requests, each at a level of an allowlist.
//!
//! [`allowlist`] is pure; [`command`] is `ci-medic crcr ...`.

pub mod allowlist;
pub mod config;
pub mod dispatch;
pub mod downstream;
pub mod gate;
pub mod ingest;
pub mod oidc;
pub mod queries;
pub mod receive;
pub mod result;
pub mod row;
pub mod views;

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::cli::{Context, CrcrCommand};
use crate::heal::yaml::MAX_BYTES;

pub use allowlist::{Allowlist, AllowlistError, AllowlistErrors, Entry, Level, Target};

pub async fn command(cx: &Context, command: &CrcrCommand) -> Result<ExitCode> {
    match command {
        CrcrCommand::Allowlist(args) => check(cx, &args.check),
        CrcrCommand::Report(args) => downstream::report(cx, args).await,
        CrcrCommand::Ingest(args) => ingest::command(cx, args).await,
        CrcrCommand::Summary(args) => views::summary(cx, args).await,
        CrcrCommand::Matrix(args) => views::matrix(cx, args).await,
        CrcrCommand::Pr(args) => views::pr(cx, args).await,
    }
}

#[derive(Serialize)]
struct Repos<'a> {
    repos: &'a [Entry],
}

#[derive(Serialize)]
struct Errors<'a> {
    errors: &'a [AllowlistError],
}

/// `crcr allowlist --check FILE`: the repositories, or every error; exit 1
/// on errors.
fn check(cx: &Context, path: &Path) -> Result<ExitCode> {
    let name = path.display().to_string();
    let text = read_capped(path).with_context(|| format!("cannot read {name}"))?;
    let parsed = Allowlist::parse(&name, &text);
    let env = &cx.env;
    match (parsed, cx.json()) {
        (Ok(list), true) => {
            env.print_json(&Repos {
                repos: list.entries(),
            })?;
            Ok(ExitCode::SUCCESS)
        }
        (Err(errors), true) => {
            env.print_json(&Errors { errors: &errors.0 })?;
            Ok(ExitCode::FAILURE)
        }
        (Ok(list), false) => {
            env.out(&format!(
                "{name}: {} allowlisted {}",
                list.entries().len(),
                if list.entries().len() == 1 {
                    "repository"
                } else {
                    "repositories"
                }
            ));
            // Names, devices and on-calls are validated (letters, digits,
            // `-_./`), so the lines cannot hold a workflow command.
            for e in list.entries() {
                let device = e
                    .device
                    .as_deref()
                    .map(|d| format!(" ({}{d})", allowlist::LABEL_PREFIX))
                    .unwrap_or_default();
                let oncalls = if e.oncalls.is_empty() {
                    String::new()
                } else {
                    format!(" on-call: {}", e.oncalls.join(", "))
                };
                env.out(&format!("{} {}{device}{oncalls}", e.level, e.repo));
            }
            Ok(ExitCode::SUCCESS)
        }
        (Err(errors), false) => {
            // Messages quote the file's text: inert inside a runner.
            env.echo_untrusted(&errors.to_string());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The file's text; a file past the YAML reader's bound is not read whole
/// (the parser then reports it as too large).
pub(crate) fn read_capped(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    String::from_utf8(bytes).context("not UTF-8 text")
}
