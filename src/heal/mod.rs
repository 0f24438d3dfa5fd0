//! `heal`: turn an analyzed workflow failure into a minimal, safe fix.
//!
//! Pure: an analysis and the workflow text in, a [`Fix`] (the new file text
//! and a line-by-line explanation) or an [`Unfixable`] reason out. One proposer
//! per kind of failure; [`propose`] finds the failed job and step and dispatches.
//! Every proposer edits through [`edit`], which splices into the original text
//! and refuses results that change more than intended or do not parse.

pub mod commands;
pub mod diff;
pub mod edit;
pub mod files;
pub mod locate;
pub mod optional;
pub mod pr;
pub mod python;
pub mod ratelimit;
pub mod syntax;
pub mod timeout;
pub mod trust;
pub mod yaml;

use std::collections::BTreeMap;

use regex::Regex;
use serde::Serialize;

use crate::analyze::{Analysis, Category, Failure};
use crate::config::HealConfig;
use crate::report::issue::IssueAnalysis;
use crate::report::markdown::code;

use edit::Patch;
use locate::{JobRef, StepRef};
use yaml::Doc;

/// What the analysis says about the failure, whichever form it came in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    pub category: Category,
    pub failures: Vec<Failure>,
    /// The failed job as GitHub shows it (`test (3.12)`).
    pub job: Option<String>,
    pub step: Option<String>,
    /// 1 is "Set up job".
    pub step_number: Option<u64>,
    pub duration_secs: Option<u64>,
    pub workflow_path: Option<String>,
    /// `owner/name`.
    pub repo: Option<String>,
    pub run_url: Option<String>,
}

impl Facts {
    pub fn from_issue(a: &IssueAnalysis) -> Facts {
        let job = a.jobs.first();
        let primary = a.failures.first();
        Facts {
            category: a.category,
            failures: a.failures.clone(),
            job: job
                .map(|j| j.name.clone())
                .or_else(|| primary.and_then(|f| f.job.clone())),
            step: job
                .and_then(|j| j.step.clone())
                .or_else(|| primary.and_then(|f| f.step.clone())),
            step_number: job.and_then(|j| j.step_number),
            duration_secs: job.and_then(|j| j.duration_secs),
            workflow_path: a.workflow_path.clone(),
            repo: Some(a.repo.clone()),
            run_url: Some(a.run_url.clone()).filter(|u| !u.is_empty()),
        }
    }

    pub fn from_analysis(a: &Analysis) -> Facts {
        let primary = a.failures.first();
        Facts {
            category: a.category,
            failures: a.failures.clone(),
            job: primary.and_then(|f| f.job.clone()),
            step: primary.and_then(|f| f.step.clone()),
            ..Facts::default()
        }
    }

    /// Offline input: what `analyze --format json` prints, the JSON of an
    /// issue's analysis block, or an issue body that holds the block.
    pub fn read(text: &str) -> Result<Facts, String> {
        if let Some(a) = crate::report::issue::parse_block(text) {
            return Ok(Facts::from_issue(&a));
        }
        // The JSON starts on the first line that opens an object: output
        // captured inside a runner may begin with workflow commands.
        let start = if text.trim_start().starts_with('{') {
            Some(0)
        } else {
            text.find("\n{").map(|i| i + 1)
        };
        let Some(start) = start else {
            return Err("no analysis found: expected `analyze --format json` output or an issue body with the ci-medic analysis block".into());
        };
        let value = serde_json::Deserializer::from_str(&text[start..])
            .into_iter::<serde_json::Value>()
            .next()
            .ok_or_else(|| "no analysis found".to_string())?
            .map_err(|e| format!("not an analysis (`analyze --format json` output): {e}"))?;
        if let Ok(a) = serde_json::from_value::<IssueAnalysis>(value.clone()) {
            return Ok(Facts::from_issue(&a));
        }
        serde_json::from_value::<Analysis>(value)
            .map(|a| Facts::from_analysis(&a))
            .map_err(|e| format!("not an analysis (`analyze --format json` output): {e}"))
    }

    pub fn primary(&self) -> Option<&Failure> {
        self.failures.first()
    }

    /// A capture of the primary failure, when not empty.
    pub fn capture(&self, name: &str) -> Option<&str> {
        self.primary()
            .and_then(|f| f.captures.get(name))
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn rule(&self) -> &str {
        self.primary().map(|f| f.rule.as_str()).unwrap_or_default()
    }

    pub fn text(&self) -> &str {
        self.primary().map(|f| f.text.as_str()).unwrap_or_default()
    }
}

/// One line of the explanation of a fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub description: String,
}

impl Change {
    pub fn new(description: impl Into<String>) -> Change {
        Change {
            description: description.into(),
        }
    }
}

/// A file the fix changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEdit {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// A fix: the files it changes and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    pub category: Category,
    /// Short, for the PR title and commit message.
    pub title: String,
    pub changes: Vec<Change>,
    /// The workflow first.
    pub files: Vec<FileEdit>,
    /// Things the reviewer should know (the workflow moved on, ...).
    pub notes: Vec<String>,
    pub job: Option<String>,
    pub step: Option<String>,
}

impl Fix {
    /// The new text of `path`, when the fix changes it.
    pub fn new_text(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.after.as_str())
    }
}

/// Why there is no automatic fix. The text is shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfixable {
    #[error("ci-medic has no automatic fix for `{0}` failures")]
    NoFix(Category),
    #[error("{0}")]
    NotApplicable(String),
    /// A value from the issue failed its allow-pattern: never acted on.
    #[error("refused: {0}")]
    Unsafe(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the workflow file cannot be read: {0}")]
    BadWorkflow(String),
    #[error("the fix did not pass validation: {0}")]
    Invalid(String),
    /// The failed run is not one heal acts on (a pull request's, a fork's...).
    #[error("ci-medic does not act on this failure: {0}")]
    Untrusted(String),
}

impl Unfixable {
    /// Whether another fix (an optional job's `continue-on-error`) may still be tried.
    fn allows_fallback(&self) -> bool {
        matches!(
            self,
            Unfixable::NoFix(_) | Unfixable::NotApplicable(_) | Unfixable::Unsupported(_)
        )
    }
}

impl From<edit::EditError> for Unfixable {
    fn from(e: edit::EditError) -> Unfixable {
        match e {
            edit::EditError::Unsupported(m) => Unfixable::Unsupported(m),
            other => Unfixable::Invalid(other.to_string()),
        }
    }
}

/// Everything [`propose`] needs.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub facts: &'a Facts,
    /// Repository path of the workflow file.
    pub workflow_path: &'a str,
    /// The text to fix (the default branch's version).
    pub workflow: &'a str,
    /// The text at the failing commit, when known.
    pub failing: Option<&'a str>,
    /// The job id, when the caller knows it better than the analysis.
    pub job: Option<&'a str>,
    pub config: &'a HealConfig,
    /// Other repository files a fix may change (requirements files), by path.
    pub files: &'a BTreeMap<String, String>,
}

/// What a proposer works on.
pub struct Cx<'a> {
    pub input: &'a Input<'a>,
    pub doc: &'a Doc,
    /// The workflow's data, as YAML reads it.
    pub data: &'a serde_yaml::Value,
    pub job: JobRef<'a>,
    pub step: Option<StepRef<'a>>,
}

impl Cx<'_> {
    pub fn facts(&self) -> &Facts {
        self.input.facts
    }

    /// A string of the workflow's data at `path`.
    pub fn string_at(&self, path: &[edit::Seg]) -> Option<&str> {
        let mut cur = self.data;
        for seg in path {
            cur = match seg {
                edit::Seg::Key(k) => cur.get(k.as_str())?,
                edit::Seg::Index(i) => cur.get(*i)?,
            };
        }
        cur.as_str()
    }

    /// The step, or why a step-level fix cannot be made.
    pub fn need_step(&self) -> Result<&StepRef<'_>, Unfixable> {
        self.step.as_ref().ok_or_else(|| {
            Unfixable::NotApplicable(format!(
                "the failed step of job {} could not be found in the workflow{}",
                code(&self.job.id),
                self.input
                    .facts
                    .step
                    .as_deref()
                    .map(|s| format!(" (the run calls it {})", code(s)))
                    .unwrap_or_default()
            ))
        })
    }
}

/// What a proposer proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub title: String,
    pub changes: Vec<Change>,
    pub patch: Patch,
    /// Files other than the workflow.
    pub other_files: Vec<FileEdit>,
}

impl Proposal {
    /// A fix that edits the workflow only.
    pub fn new(title: String, changes: Vec<Change>, patch: Patch) -> Proposal {
        Proposal {
            title,
            changes,
            patch,
            other_files: Vec::new(),
        }
    }
}

/// Names that go into a `run:` script: a strict allow-pattern and a length cap.
pub fn safe_name(s: &str, max: usize) -> bool {
    static RE: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9._-]*$").ok());
    s.len() <= max && re.as_ref().is_some_and(|r| r.is_match(s))
}

/// Only the characters of a plain repository path: `[A-Za-z0-9._/-]`.
pub fn path_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
}

/// A proposer for one category of failure.
type Planner = fn(&Cx<'_>) -> Result<Proposal, Unfixable>;

/// Turn an analysis into a fix of the workflow.
pub fn propose(input: &Input<'_>) -> Result<Fix, Unfixable> {
    let category = input.facts.category;
    let proposer: Option<Planner> = match category {
        // Works on text that may not parse: no document, no job, no step.
        Category::WorkflowSyntax => {
            return finish(input, syntax::propose(input)?, None, Vec::new());
        }
        Category::Dependency => Some(python::propose),
        Category::MissingCommand => Some(commands::propose),
        Category::Timeout => Some(timeout::propose),
        Category::MissingFile => Some(files::propose),
        Category::RateLimit => Some(ratelimit::propose),
        _ => None,
    };
    let doc = Doc::parse(input.workflow).map_err(|e| Unfixable::BadWorkflow(e.to_string()))?;
    let data: serde_yaml::Value =
        serde_yaml::from_str(input.workflow).map_err(|e| Unfixable::BadWorkflow(e.to_string()))?;
    let (job, step, notes) = match target(&doc, input) {
        Ok(t) => t,
        // Without a proposer the job only matters for optional jobs; say what matters more.
        Err(_) if proposer.is_none() => return Err(Unfixable::NoFix(category)),
        Err(e) => return Err(e),
    };
    let cx = Cx {
        input,
        doc: &doc,
        data: &data,
        job,
        step,
    };
    let proposal = match proposer.map_or(Err(Unfixable::NoFix(category)), |p| p(&cx)) {
        Ok(p) => p,
        Err(e) if e.allows_fallback() && optional::applies(&cx) => {
            let mut p = optional::propose(&cx)?;
            p.changes.push(Change::new(format!(
                "No direct fix was possible ({e}); the job is optional, so its failure no longer fails the run."
            )));
            p
        }
        Err(e) => return Err(e),
    };
    finish(input, proposal, Some(&cx), notes)
}

/// Apply and validate the proposer's patch; assemble the fix. With the
/// proposer's context the data must change exactly as the patch says; the
/// syntax repair (no context: the file may not have parsed) must make the
/// file parse. Either way, lines outside the splices stay as they were.
fn finish(
    input: &Input<'_>,
    proposal: Proposal,
    cx: Option<&Cx<'_>>,
    notes: Vec<String>,
) -> Result<Fix, Unfixable> {
    let mut files = Vec::new();
    if !proposal.patch.splices.is_empty() {
        let after = edit::apply_checked(input.workflow, &proposal.patch, cx.map(|c| c.data))?;
        if after == input.workflow {
            return Err(Unfixable::NotApplicable("the fix changes nothing".into()));
        }
        files.push(FileEdit {
            path: input.workflow_path.to_string(),
            before: input.workflow.to_string(),
            after,
        });
    }
    files.extend(proposal.other_files);
    if files.is_empty() {
        return Err(Unfixable::NotApplicable("the fix changes nothing".into()));
    }
    Ok(Fix {
        category: input.facts.category,
        title: proposal.title,
        changes: proposal.changes,
        files,
        notes,
        job: cx.map(|c| c.job.id.clone()),
        step: cx.and_then(|c| c.step.as_ref()).map(|s| s.display.clone()),
    })
}

/// The failed job and step in the text to fix. When the failing commit's
/// version differs, they are found there first and then re-located by id
/// and shown name, since step numbers may have moved.
fn target<'d>(
    doc: &'d Doc,
    input: &Input<'_>,
) -> Result<(JobRef<'d>, Option<StepRef<'d>>, Vec<String>), Unfixable> {
    let facts = input.facts;
    let in_current = |number: Option<u64>, notes: Vec<String>| {
        let job = locate::find_job(doc, facts.job.as_deref(), input.job)?;
        let step = locate::find_step(doc, &job, facts.step.as_deref(), number)?;
        Ok((job, step, notes))
    };
    let Some(old_text) = input.failing.filter(|f| *f != input.workflow) else {
        return in_current(facts.step_number, Vec::new());
    };
    let notes = vec![
        "The workflow changed on the default branch after the failing commit; the fix is made to the current version.".to_string(),
    ];
    // Unreadable at the failing commit: its step numbers say nothing here.
    let Ok(old) = Doc::parse(old_text) else {
        return in_current(None, notes);
    };
    let old_job = locate::find_job(&old, facts.job.as_deref(), input.job)?;
    let old_step = locate::find_step(&old, &old_job, facts.step.as_deref(), facts.step_number)?;
    let job = locate::find_job(doc, None, Some(&old_job.id)).map_err(|_| {
        Unfixable::NotApplicable(format!(
            "job {} no longer exists on the default branch; the failure may already be fixed",
            code(&old_job.id)
        ))
    })?;
    let step = match old_step {
        Some(s) => Some(
            locate::relocate_step(doc, &job, &s.display, s.index)?.ok_or_else(|| {
                Unfixable::NotApplicable(format!(
                    "step {} of job {} no longer exists on the default branch; the failure may already be fixed",
                    code(&s.display),
                    code(&job.id)
                ))
            })?,
        ),
        None => None,
    };
    Ok((job, step, notes))
}

#[cfg(test)]
mod tests;
