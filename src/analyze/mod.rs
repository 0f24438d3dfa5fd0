//! Finding the line that explains a failed CI job.
//!
//! Pure: logs in, [`Failure`]s out. Rules are data ([`RuleSpec`], built-in
//! ones in `rules/*.yml`); the engine streams a log once with bounded memory,
//! keeps candidate lines per step, and ranks the candidates of the failed
//! step first (job-level events such as timeouts before anything else).

mod engine;
pub mod fingerprint;
mod keywords;
mod parallel;
pub mod rules;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use fingerprint::fingerprint_of;
pub use rules::{Annotation, JOB_LEVEL_PRIORITY, RuleError, RuleSet, RuleSpec, render_title};

use crate::logs::zip::{ArchiveLimits, RunArchive};
use engine::{JobAnalyzer, Ranked};

/// Failures reported per analysis, at most (an issue shows a handful).
pub const MAX_FAILURES: usize = 20;

/// What kind of failure a line shows. Stable ids (labels, JSON).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Compilation,
    Test,
    Lint,
    Dependency,
    MissingCommand,
    MissingFile,
    Timeout,
    Cancelled,
    RateLimit,
    Network,
    Permission,
    /// Out of memory, disk full, killed.
    Resource,
    /// Runner lost, service outage.
    Infrastructure,
    WorkflowSyntax,
    /// A missing secret, input or variable.
    Configuration,
    #[default]
    Unknown,
}

impl Category {
    pub const ALL: [Category; 16] = [
        Category::Compilation,
        Category::Test,
        Category::Lint,
        Category::Dependency,
        Category::MissingCommand,
        Category::MissingFile,
        Category::Timeout,
        Category::Cancelled,
        Category::RateLimit,
        Category::Network,
        Category::Permission,
        Category::Resource,
        Category::Infrastructure,
        Category::WorkflowSyntax,
        Category::Configuration,
        Category::Unknown,
    ];

    /// The stable id (`missing-command`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Compilation => "compilation",
            Category::Test => "test",
            Category::Lint => "lint",
            Category::Dependency => "dependency",
            Category::MissingCommand => "missing-command",
            Category::MissingFile => "missing-file",
            Category::Timeout => "timeout",
            Category::Cancelled => "cancelled",
            Category::RateLimit => "rate-limit",
            Category::Network => "network",
            Category::Permission => "permission",
            Category::Resource => "resource",
            Category::Infrastructure => "infrastructure",
            Category::WorkflowSyntax => "workflow-syntax",
            Category::Configuration => "configuration",
            Category::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown category `{s}`"))
    }
}

/// What the API says about the failed step of a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepHint {
    /// The step's `number` (1 is "Set up job").
    pub number: Option<u64>,
    /// The step's `name` (`Run <command>` for unnamed `run:` steps).
    pub name: Option<String>,
}

/// One line (or block) that explains a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The path as given, or `archive.zip!inner/path.txt`.
    pub source: String,
    pub job: Option<String>,
    pub step: Option<String>,
    /// 1-based line number in `source` (LF-separated, as stored).
    pub line: u64,
    /// Last line of the block, `>= line`.
    pub end_line: u64,
    /// The line, cleaned (no timestamp, ANSI escapes or `##[error]` marker).
    pub text: String,
    pub category: Category,
    pub rule: String,
    #[serde(default)]
    pub captures: BTreeMap<String, String>,
    /// 16 hex chars; equal for the same failure in another run.
    pub fingerprint: String,
    pub fixable: bool,
    /// Cleaned lines around the failure, from `context_start` on.
    #[serde(skip)]
    pub context: Vec<String>,
    /// Line number of the first context line.
    #[serde(skip)]
    pub context_start: u64,
}

/// The result of analysing one or more logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    /// The primary failure's category, `unknown` when nothing explains it.
    pub category: Category,
    /// Most likely cause first.
    pub failures: Vec<Failure>,
}

/// Lines of a group listed one by one under its first line, at most.
pub const MAX_GROUP_LINES_SHOWN: usize = 10;

/// The category of failures ranked most likely first: the first one's, or,
/// when a generic line (an exception, an `error:` line) came first, that of
/// the first line of the same job and step that says more (a test
/// framework's summary next to the exception it printed).
pub fn primary_category(failures: &[Failure]) -> Category {
    let Some(first) = failures.first() else {
        return Category::Unknown;
    };
    if first.category != Category::Unknown {
        return first.category;
    }
    failures
        .iter()
        .find(|f| {
            f.category != Category::Unknown
                && f.source == first.source
                && f.job == first.job
                && f.step == first.step
        })
        .map_or(Category::Unknown, |f| f.category)
}

/// Groups failures that are one cause reported several times: the same
/// rule in the same job and file (the `file` capture), or, for rules that
/// capture no file, in the same step. Each group lists indices into
/// `failures` in order; groups come in the order of their first line, so
/// the most likely cause stays first.
pub fn group_failures(failures: &[Failure]) -> Vec<Vec<usize>> {
    type Key<'a> = (
        &'a str,
        Option<&'a str>,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
    );
    fn key(f: &Failure) -> Key<'_> {
        let file = f.captures.get("file").map(String::as_str);
        let step = if file.is_some() {
            None
        } else {
            f.step.as_deref()
        };
        (
            f.source.as_str(),
            f.job.as_deref(),
            f.rule.as_str(),
            file,
            step,
        )
    }
    let mut groups: Vec<(Key<'_>, Vec<usize>)> = Vec::new();
    for (i, f) in failures.iter().enumerate() {
        let k = key(f);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, members)) => members.push(i),
            None => groups.push((k, vec![i])),
        }
    }
    groups.into_iter().map(|(_, m)| m).collect()
}

impl Analysis {
    /// Builds an analysis from failures already ranked.
    pub fn from_failures(failures: Vec<Failure>) -> Analysis {
        Analysis {
            category: primary_category(&failures),
            failures,
        }
    }

    /// A short human report with the excerpt of each failure.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;

        if self.failures.is_empty() {
            return "No line in the log explains the failure.\n".to_string();
        }
        // Writing to a String cannot fail.
        let mut out = String::new();
        let n = self.failures.len();
        let groups = group_failures(&self.failures);
        let causes = if groups.len() == n {
            String::new()
        } else {
            format!(
                ", {} distinct failure{}",
                groups.len(),
                if groups.len() == 1 { "" } else { "s" }
            )
        };
        let _ = writeln!(
            out,
            "Failure category: {} ({n} line{} reported{causes})",
            self.category,
            if n == 1 { "" } else { "s" }
        );
        for (i, members) in groups.iter().enumerate() {
            let Some(f) = members.first().and_then(|&m| self.failures.get(m)) else {
                continue;
            };
            let mut wher = Vec::new();
            if let Some(j) = &f.job {
                wher.push(format!("job {j}"));
            }
            if let Some(s) = &f.step {
                wher.push(format!("step {s}"));
            }
            let wher = if wher.is_empty() {
                String::new()
            } else {
                format!(" ({})", wher.join(", "))
            };
            let times = if members.len() > 1 {
                format!(" (x{})", members.len())
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "\n{}. [{}] {}{times} at {}:{}{wher}",
                i + 1,
                f.category,
                f.rule,
                f.source,
                f.line
            );
            if f.context.is_empty() {
                let _ = writeln!(out, "   > {}", f.text);
            }
            for (k, line) in f.context.iter().enumerate() {
                let n = f.context_start + k as u64;
                let mark = if (f.line..=f.end_line).contains(&n) {
                    '>'
                } else {
                    ' '
                };
                let _ = writeln!(out, "   {mark} {n:>6} | {line}");
            }
            let more = &members[1..];
            if !more.is_empty() {
                let _ = writeln!(out, "   and {} more like it:", more.len());
            }
            for &m in more.iter().take(MAX_GROUP_LINES_SHOWN) {
                if let Some(g) = self.failures.get(m) {
                    let _ = writeln!(out, "     {:>6} | {}", g.line, g.text);
                }
            }
            if more.len() > MAX_GROUP_LINES_SHOWN {
                let _ = writeln!(out, "     ({} more)", more.len() - MAX_GROUP_LINES_SHOWN);
            }
        }
        out
    }
}

/// Analyses one job log (a GitHub Actions job log, `gh run view --log`
/// output, a Travis log or plain text) read as a stream.
pub fn analyze_job_log<R: BufRead>(
    source: &str,
    job: Option<&str>,
    step_hint: Option<StepHint>,
    reader: R,
    rules: &RuleSet,
) -> Result<Vec<Failure>> {
    let ranked = job_log_ranked(source, job, step_hint, reader, rules, 0)?;
    Ok(finalize(ranked))
}

fn job_log_ranked<R: BufRead>(
    source: &str,
    job: Option<&str>,
    step_hint: Option<StepHint>,
    reader: R,
    rules: &RuleSet,
    job_index: usize,
) -> Result<Vec<Ranked>> {
    let mut an = JobAnalyzer::new(rules, job, step_hint, job_index);
    an.feed(source, None, reader)
        .with_context(|| format!("reading {source}"))?;
    Ok(an.finish())
}

/// Analyses a run log archive (`GET /repos/{o}/{r}/actions/runs/{id}/logs`).
/// `hints` maps job names to their failed step, when known; `limits` bound
/// what reading the archive may cost.
pub fn analyze_zip<R: Read + Seek>(
    source: &str,
    reader: R,
    hints: &BTreeMap<String, StepHint>,
    rules: &RuleSet,
    limits: ArchiveLimits,
) -> Result<Vec<Failure>> {
    Ok(finalize(zip_ranked(
        source, reader, hints, rules, limits, 0,
    )?))
}

fn zip_ranked<R: Read + Seek>(
    source: &str,
    reader: R,
    hints: &BTreeMap<String, StepHint>,
    rules: &RuleSet,
    limits: ArchiveLimits,
    job_base: usize,
) -> Result<Vec<Ranked>> {
    let mut archive =
        RunArchive::open(reader, limits).with_context(|| format!("cannot read {source}"))?;
    let jobs = archive.jobs();
    let mut jobs_out = Vec::new();
    for (ji, job) in jobs.iter().enumerate() {
        let hint = hints.get(&job.name).cloned();
        let mut an = JobAnalyzer::new(rules, Some(&job.name), hint, job_base + ji);
        if let Some(log) = &job.log {
            if !job.steps.is_empty() {
                an.set_step_starts(archive.step_starts(job)?);
            }
            feed_entry(&mut an, &mut archive, source, log, None)?;
        } else {
            for step in &job.steps {
                feed_entry(&mut an, &mut archive, source, &step.path, Some(&step.name))?;
            }
        }
        jobs_out.push((an.any_failed(), an.finish()));
    }
    // Jobs that passed explain nothing when others failed (job-level
    // events, tier 0, still count: a cancelled or timed-out job).
    let some_failed = jobs_out.iter().any(|(failed, _)| *failed);
    let mut out = Vec::new();
    for (failed, ranked) in jobs_out {
        out.extend(
            ranked
                .into_iter()
                .filter(|r| failed || !some_failed || r.key.tier == 0),
        );
    }
    Ok(out)
}

/// Feeds one archive entry to a job's analysis (`step`: the entry is that
/// one step's log).
fn feed_entry<R: Read + Seek>(
    an: &mut JobAnalyzer<'_>,
    archive: &mut RunArchive<R>,
    source: &str,
    path: &str,
    step: Option<&str>,
) -> Result<()> {
    let what = || format!("reading {path} from {source}");
    let file = archive.entry(path).with_context(what)?;
    an.feed(&format!("{source}!{path}"), step, BufReader::new(file))
        .with_context(what)
}

/// Zip files start with a local file header (or are empty archives). Reads
/// the first bytes of `file` and rewinds it.
fn is_zip(file: &mut std::fs::File) -> std::io::Result<bool> {
    let mut magic = Vec::with_capacity(4);
    file.by_ref().take(4).read_to_end(&mut magic)?;
    file.rewind()?;
    Ok(magic == b"PK\x03\x04" || magic == b"PK\x05\x06")
}

/// Analyses one file: a run zip (under the default [`ArchiveLimits`]) or a
/// text log.
/// A large text log is read on two threads when the machine has two.
pub fn analyze_file(path: &Path, rules: &RuleSet) -> Result<Vec<Failure>> {
    Ok(finalize(file_ranked(
        path,
        rules,
        ArchiveLimits::default(),
        0,
        true,
    )?))
}

/// [`analyze_file`] on the calling thread only, whatever the log's size.
pub fn analyze_file_one_thread(path: &Path, rules: &RuleSet) -> Result<Vec<Failure>> {
    Ok(finalize(file_ranked(
        path,
        rules,
        ArchiveLimits::default(),
        0,
        false,
    )?))
}

fn file_ranked(
    path: &Path,
    rules: &RuleSet,
    limits: ArchiveLimits,
    job_base: usize,
    may_use_two_threads: bool,
) -> Result<Vec<Ranked>> {
    let source = path.display().to_string();
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {source}"))?;
    if is_zip(&mut file).with_context(|| format!("reading {source}"))? {
        zip_ranked(&source, file, &BTreeMap::new(), rules, limits, job_base)
    } else {
        let reader = BufReader::with_capacity(256 * 1024, file);
        let large = reader
            .get_ref()
            .metadata()
            .is_ok_and(|m| m.len() >= parallel::PARALLEL_MIN_BYTES);
        if large && may_use_two_threads && parallel::two_threads_available() {
            return parallel::job_log_ranked_parallel(
                &source,
                None,
                None,
                reader,
                rules,
                job_base,
                parallel::Batching::default(),
            )
            .with_context(|| format!("reading {source}"));
        }
        job_log_ranked(&source, None, None, reader, rules, job_base)
    }
}

/// [`analyze_job_log`] with rules matched on two threads, cut into batches
/// as `batching` says (tests compare it with the one-thread analysis).
#[cfg(test)]
pub(crate) fn analyze_job_log_parallel<R: BufRead>(
    source: &str,
    reader: R,
    rules: &RuleSet,
    batching: parallel::Batching,
) -> Result<Vec<Failure>> {
    let ranked = parallel::job_log_ranked_parallel(source, None, None, reader, rules, 0, batching)?;
    Ok(finalize(ranked))
}

/// Analyses local files: job logs, `gh run view --log` output, run zips
/// (each read under `limits`).
pub fn analyze_paths(
    paths: &[PathBuf],
    rules: &RuleSet,
    limits: ArchiveLimits,
) -> Result<Analysis> {
    let mut ranked = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        // Jobs of later files rank after those of earlier files at equal priority.
        ranked.extend(file_ranked(p, rules, limits, i * 100_000, true)?);
    }
    Ok(Analysis::from_failures(finalize(ranked)))
}

/// Orders failures most likely first, drops repeats, caps the list.
fn finalize(mut ranked: Vec<Ranked>) -> Vec<Failure> {
    // A job that was cancelled (fail-fast, concurrency) explains less than a
    // job that failed on its own: its lines come after.
    let cancelled_jobs: HashSet<usize> = ranked
        .iter()
        .filter(|r| r.failure.category == Category::Cancelled)
        .map(|r| r.key.job)
        .collect();
    let all_cancelled = ranked.iter().all(|r| cancelled_jobs.contains(&r.key.job));
    ranked.sort_by_key(|r| (!all_cancelled && cancelled_jobs.contains(&r.key.job), r.key));
    let mut seen_fp = HashSet::new();
    let mut seen_line = HashSet::new();
    let mut out = Vec::new();
    for r in ranked {
        let f = r.failure;
        if !seen_line.insert((f.source.clone(), f.line)) || !seen_fp.insert(f.fingerprint.clone()) {
            continue;
        }
        out.push(f);
        if out.len() >= MAX_FAILURES {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod parallel_tests;
