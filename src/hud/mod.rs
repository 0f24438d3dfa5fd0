//! `hud build`: a static CI health site (overview, trunk grid, downstream
//! summary and matrices, a page per open pull request) from a snapshot that
//! a source fills: a file, the GitHub API or ClickHouse.
//!
//! - [`model`]: the snapshot (the data every page reads; the `file:` format)
//! - [`sources`]: where a snapshot comes from
//! - [`pages`]: HTML pages from templates that escape everything
//! - [`chart`]: the inline SVG chart
//! - [`links`]: which URLs may become links
//! - [`downstream`]: downstream results summed up per backend
//! - [`synthetic`]: generated history in ClickHouse, for measuring the build

pub mod aggregate;
pub mod chart;
pub mod downstream;
pub mod links;
pub mod model;
pub mod pages;
pub mod sources;
pub mod synthetic;
pub mod trunk;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

pub use model::HudSnapshot;
pub use sources::HudSource;

use crate::cli::{Context, HudArgs, HudCommand};

/// Default days of history read.
pub const DEFAULT_SINCE_DAYS: u32 = 14;

/// Write every page of `snapshot` under `out` (created if needed); returns
/// the files written, relative to `out`.
pub fn write_site(snapshot: &HudSnapshot, out: &Path) -> Result<Vec<String>> {
    let pages = pages::render(snapshot)?;
    let mut written = Vec::with_capacity(pages.len());
    for page in pages {
        let path: PathBuf = out.join(&page.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, page.body.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(page.path);
    }
    Ok(written)
}

/// `ci-medic hud ...`.
pub async fn command(cx: &Context, command: &HudCommand) -> Result<ExitCode> {
    match command {
        HudCommand::Build(args) => build(cx, args).await,
    }
}

async fn build(cx: &Context, args: &HudArgs) -> Result<ExitCode> {
    let since = args.since.unwrap_or(DEFAULT_SINCE_DAYS);
    let source = HudSource::parse(args.source.as_deref())?;
    let now = args.as_of.unwrap_or_else(chrono::Utc::now);
    if source == HudSource::Clickhouse {
        let (snapshot, stats) = sources::build_from_clickhouse(cx, since, now, &args.out).await?;
        dump(args, &snapshot)?;
        for line in stats.summary().lines() {
            cx.env.out(&format!("ci-medic hud: {line}"));
        }
        cx.env.out(&format!(
            "ci-medic hud: wrote {} files to {}",
            stats.files,
            args.out.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let snapshot = sources::read(cx, &source, since, now).await?;
    dump(args, &snapshot)?;
    let written = write_site(&snapshot, &args.out)?;
    cx.env.out(&format!(
        "ci-medic hud: wrote {} files to {}",
        written.len(),
        args.out.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// `--dump FILE`: the snapshot the site was built from.
fn dump(args: &HudArgs, snapshot: &HudSnapshot) -> Result<()> {
    if let Some(dump) = &args.dump {
        let json = serde_json::to_string_pretty(snapshot)?;
        std::fs::write(dump, json).with_context(|| format!("cannot write {}", dump.display()))?;
    }
    Ok(())
}
