//! Dr. CI: which failed jobs of a pull request did the pull request cause?
//!
//! [`classify`] sorts the failed jobs of the head SHA into NEW, FLAKY,
//! BROKEN TRUNK, UNSTABLE, UNCLASSIFIED, PENDING, CANCELLED and AWAITING
//! APPROVAL from a [`snapshot::Snapshot`]; [`comment`] renders the pull
//! request's comment. `ci-medic drci --snapshot FILE` runs both offline.

pub mod classify;
pub mod clickhouse;
pub mod comment;
pub mod settings;
pub mod snapshot;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::analyze::{self, RuleSet};
use crate::cli::{Context, DrciArgs, Format};
use crate::config::Config;

pub use classify::{Class, Counts, Evidence, Verdict};
pub use settings::DrciSection;
pub use snapshot::{JobFailure, Snapshot};

/// The offline contract: `drci --snapshot FILE --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub head_sha: String,
    pub merge_base: String,
    pub jobs: Vec<Verdict>,
    pub counts: Counts,
    /// Non-blocking (L3) downstream jobs that did not pass.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub downstream: Vec<classify::DownstreamNote>,
    pub comment: String,
}

/// Read a snapshot file and analyse the logs it names (relative to it).
pub fn load(path: &Path, rules: &RuleSet) -> Result<Snapshot> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read snapshot {}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let mut snap: Snapshot = serde_path_to_error::deserialize(de)
        .with_context(|| format!("{} is not a Dr. CI snapshot", path.display()))?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    for job in snap.jobs.iter_mut().chain(snap.base_jobs.iter_mut()) {
        if job.failure.is_some() {
            continue;
        }
        let Some(log) = &job.log else { continue };
        let file = dir.join(log);
        let failures = analyze::analyze_file(&file, rules)
            .with_context(|| format!("analysing the log of job {:?}", job.name))?;
        job.failure = failures.into_iter().next().map(|f| JobFailure {
            category: f.category,
            rule: f.rule,
            text: f.text,
            fingerprint: f.fingerprint,
        });
    }
    Ok(snap)
}

/// Classify a loaded snapshot and render its comment.
pub fn evaluate(snap: &Snapshot) -> Result<Output> {
    let jobs = classify::classify(snap)?;
    let downstream = classify::non_blocking(snap);
    let comment = comment::render_with(
        snap.pr,
        &snap.head_sha,
        &snap.merge_base,
        &jobs,
        &downstream,
        comment::COMMENT_LIMIT,
    );
    Ok(Output {
        head_sha: snap.head_sha.clone(),
        merge_base: snap.merge_base.clone(),
        counts: Counts::of(&jobs),
        jobs,
        downstream,
        comment,
    })
}

/// `ci-medic drci --snapshot FILE`, or `--dump FILE --pr N`.
pub async fn command(cx: &Context, args: &DrciArgs) -> Result<ExitCode> {
    if let (Some(file), Some(pr)) = (&args.dump, args.pr) {
        return dump(cx, file, pr).await;
    }
    let Some(path) = &args.snapshot else {
        anyhow::bail!("pass --snapshot FILE, or --dump FILE --pr N");
    };
    let config = match &cx.cli.config {
        Some(_) => cx.load_config(None).await?,
        None => Config::default(),
    };
    let snap = load(path, &config.rules()?)?;
    let out = evaluate(&snap)?;
    match cx.cli.format {
        Format::Json => cx.env.print_json(&out)?,
        _ => cx.env.echo_untrusted(&out.comment),
    }
    Ok(ExitCode::SUCCESS)
}

/// `ci-medic drci --dump FILE --pr N`: the snapshot Dr. CI classifies
/// for a live pull request, its logs analysed already (each job's
/// `failure`), written as JSON. Reads only.
async fn dump(cx: &Context, file: &Path, pr: u64) -> Result<ExitCode> {
    let client = cx.client()?;
    let mut config = cx.load_config(Some(&client)).await?;
    if config.drci.is_none() {
        config.drci = Some(DrciSection::default());
    }
    let ctx = cx.ctx(Some(client), config);
    let facts = crate::handlers::drci::gather(
        &ctx,
        crate::handlers::drci::Input::Pull {
            number: pr,
            sha: None,
            trigger: "drci --dump".into(),
        },
    )
    .await?;
    let Some(pull) = facts.pulls.first() else {
        anyhow::bail!("no snapshot of #{pr}: {}", facts.skipped.join("; "));
    };
    let json = serde_json::to_string_pretty(&pull.snapshot)?;
    std::fs::write(file, json + "\n")
        .with_context(|| format!("cannot write {}", file.display()))?;
    cx.env.out(&format!(
        "wrote the snapshot of #{pr} at {} to {}",
        pull.head_sha.chars().take(12).collect::<String>(),
        file.display()
    ));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
