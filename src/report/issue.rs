//! The issue `analyze` files for one distinct failure, its comments, and the
//! hidden machine-readable block `heal` reads back.

use serde::{Deserialize, Serialize};

use crate::analyze::{Category, Failure, MAX_GROUP_LINES_SHOWN, group_failures};
use crate::github::marker::marker;

use super::markdown::{code, fenced, inline, table_code, title as safe_title, truncate};
use super::{advice, hidden};

/// GitHub rejects issue and comment bodies longer than this many characters.
pub const BODY_LIMIT: usize = 65_536;
/// Room kept for everything but the excerpt.
const EXCERPT_BUDGET: usize = 20_000;
/// Occurrences kept in the body's table (the oldest fall off).
pub const MAX_OCCURRENCES: usize = 50;
/// GitHub's limit on issue titles.
const TITLE_LIMIT: usize = 256;

/// Marker kinds.
pub const KIND_FAILURE: &str = "failure";
pub const KIND_SEEN: &str = "seen";
pub const KIND_CLOSED: &str = "closed";
const KIND_ANALYSIS: &str = "analysis";

/// One failed job, as the issue reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFinding {
    pub name: String,
    pub id: u64,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub step_number: Option<u64>,
    /// `analyzed`, `logs-expired`, `logs-missing`, `cancelled`, `no-failed-step`, `log-error`.
    pub status: String,
    /// Seconds the job ran, when known (heal sizes `timeout-minutes` from it).
    #[serde(default)]
    pub duration_secs: Option<u64>,
}

/// One run in which the failure was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occurrence {
    pub run_id: u64,
    pub run_attempt: u64,
    #[serde(default)]
    pub run_url: String,
    pub head_sha: String,
    #[serde(default)]
    pub branch: Option<String>,
}

/// The hidden block: everything `heal` and later runs need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueAnalysis {
    pub version: u32,
    pub fingerprint: String,
    pub category: Category,
    pub repo: String,
    pub workflow: String,
    #[serde(default)]
    pub workflow_path: Option<String>,
    #[serde(default)]
    pub branch: Option<String>,
    pub event: String,
    /// `owner/name` of the repository whose code the run ran (a fork's for
    /// a fork's pull request); heal re-reads it from the API.
    #[serde(default)]
    pub head_repository: Option<String>,
    pub head_sha: String,
    pub run_id: u64,
    pub run_attempt: u64,
    #[serde(default)]
    pub run_url: String,
    pub jobs: Vec<JobFinding>,
    pub failures: Vec<Failure>,
    #[serde(default)]
    pub occurrences: Vec<Occurrence>,
    /// The failure survived an automatic re-run.
    #[serde(default)]
    pub failed_twice: bool,
    /// Other distinct failures of the same run, one line each.
    #[serde(default)]
    pub others: Vec<String>,
    /// SHA-256 of the whole body as ci-medic wrote it, with this field's
    /// value written as 64 zeros; set by [`body`], checked by
    /// [`body_is_as_written`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
}

impl IssueAnalysis {
    pub fn primary(&self) -> Option<&Failure> {
        self.failures.first()
    }

    pub fn occurrence(&self) -> Occurrence {
        Occurrence {
            run_id: self.run_id,
            run_attempt: self.run_attempt,
            run_url: self.run_url.clone(),
            head_sha: self.head_sha.clone(),
            branch: self.branch.clone(),
        }
    }

    /// Add this run to an earlier block's occurrences (once per run attempt).
    pub fn merge_occurrences(&mut self, earlier: &IssueAnalysis) {
        let mut all = earlier.occurrences.clone();
        for o in std::mem::take(&mut self.occurrences) {
            if !all
                .iter()
                .any(|e| e.run_id == o.run_id && e.run_attempt == o.run_attempt)
            {
                all.push(o);
            }
        }
        let skip = all.len().saturating_sub(MAX_OCCURRENCES);
        self.occurrences = all.into_iter().skip(skip).collect();
    }
}

/// `<workflow>: <category> in <job>: <short cause>`.
pub fn title(a: &IssueAnalysis) -> String {
    let job = a.jobs.first().map(|j| j.name.as_str()).unwrap_or("a job");
    let cause = a
        .primary()
        .map(|f| f.text.trim().to_string())
        .unwrap_or_else(|| {
            a.jobs
                .first()
                .map(|j| j.status.replace('-', " "))
                .unwrap_or_default()
        });
    let cause: String = cause.chars().take(90).collect();
    safe_title(
        &format!("{}: {} in {}: {}", a.workflow, a.category, job, cause),
        TITLE_LIMIT,
    )
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// The issue body.
pub fn body(a: &IssueAnalysis) -> String {
    let mut b = String::new();
    b.push_str(&marker(KIND_FAILURE, &a.fingerprint));
    b.push('\n');
    let head = a
        .primary()
        .map(|f| inline(f.text.trim()))
        .unwrap_or_else(|| "no line in the logs explains it".into());
    b.push_str(&format!(
        "## {} failure in workflow {}\n\n{}\n\n",
        a.category,
        inline(&a.workflow),
        head
    ));
    b.push_str(&format!(
        "| | |\n|---|---|\n| Run | [{}]({}) (attempt {}) |\n| Commit | {} |\n| Branch | {} |\n| Trigger | {} |\n| Workflow file | {} |\n| Fingerprint | {} |\n\n",
        a.run_id,
        a.run_url,
        a.run_attempt,
        table_code(short(&a.head_sha)),
        a.branch.as_deref().map(inline).unwrap_or_else(|| "—".into()),
        inline(&a.event),
        a.workflow_path.as_deref().map(table_code).unwrap_or_else(|| "—".into()),
        table_code(&a.fingerprint),
    ));
    if a.failed_twice {
        b.push_str("**This failure survived an automatic re-run: it failed twice.**\n\n");
    }
    b.push_str("### Failed jobs\n\n| Job | Step | Finding |\n|---|---|---|\n");
    for j in &a.jobs {
        let job = match &j.url {
            Some(u) => format!("[{}]({u})", inline(&j.name)),
            None => inline(&j.name),
        };
        let finding = match (j.status.as_str(), a.primary()) {
            ("analysed", Some(f)) => format!("{} ({})", f.category, table_code(&f.rule)),
            ("analysed", None) => "no known pattern".into(),
            (s, _) => s.replace('-', " "),
        };
        b.push_str(&format!(
            "| {job} | {} | {finding} |\n",
            j.step.as_deref().map(inline).unwrap_or_else(|| "—".into())
        ));
    }
    b.push('\n');
    if let Some(f) = a.primary() {
        let mut excerpt = f.context.join("\n");
        if excerpt.trim().is_empty() {
            excerpt = f.text.clone();
        }
        let excerpt = truncate(&excerpt, EXCERPT_BUDGET);
        b.push_str(&format!(
            "### Excerpt\n\n{} line {}:\n\n{}\n\n",
            code(&f.source),
            f.line,
            fenced(excerpt, "text")
        ));
        b.push_str(&same_failure_again(&a.failures));
    }
    b.push_str(&format!(
        "### What kind of failure this is\n\n{}\n\n",
        advice::explain(a.category)
    ));
    if let Some(fix) = a.primary().and_then(advice::suggest) {
        b.push_str(&format!("### Suggested fix\n\n{fix}\n\n"));
    }
    if !a.others.is_empty() {
        b.push_str("### Other failures in this run\n\n");
        for o in &a.others {
            b.push_str(&format!("- {}\n", inline(o)));
        }
        b.push('\n');
    }
    b.push_str("### Occurrences\n\n| Run | Attempt | Commit | Branch |\n|---|---|---|---|\n");
    for o in &a.occurrences {
        b.push_str(&format!(
            "| [{}]({}) | {} | {} | {} |\n",
            o.run_id,
            o.run_url,
            o.run_attempt,
            table_code(short(&o.head_sha)),
            o.branch
                .as_deref()
                .map(inline)
                .unwrap_or_else(|| "—".into())
        ));
    }
    b.push_str(
        "\n<sub>Filed by ci-medic. Remove the `auto-heal` label to stop automatic fixes; add `needs-manual-fix` to hand it to a human.</sub>\n",
    );
    append_block(b, a)
}

/// The other lines of the primary failure's group (the same rule in the
/// same file or step): one cause reported several times, shown once with a
/// count. Empty when the primary failure stands alone.
fn same_failure_again(failures: &[Failure]) -> String {
    let groups = group_failures(failures);
    let Some(more) = groups
        .first()
        .and_then(|g| g.get(1..))
        .filter(|m| !m.is_empty())
    else {
        return String::new();
    };
    let mut out = format!(
        "The same failure is reported {} more time{} in this step or file:\n\n",
        more.len(),
        if more.len() == 1 { "" } else { "s" }
    );
    for f in more
        .iter()
        .take(MAX_GROUP_LINES_SHOWN)
        .filter_map(|&i| failures.get(i))
    {
        out.push_str(&format!(
            "- line {}: {}\n",
            f.line,
            inline(truncate(f.text.trim(), 200))
        ));
    }
    if more.len() > MAX_GROUP_LINES_SHOWN {
        out.push_str(&format!(
            "- and {} more\n",
            more.len() - MAX_GROUP_LINES_SHOWN
        ));
    }
    out.push('\n');
    out
}

/// Whether an issue body is byte for byte the one ci-medic wrote (`None`:
/// its block carries no digest, as those of older versions do not).
///
/// Why a digest, and why it is enough: GitHub lets only an issue's author
/// and people with write access edit an issue body, and heal reads blocks
/// only from issues the action authored. A digest cannot stop someone who
/// recomputes it, and need not: that is someone with write access, who can
/// change the repository anyway. What it catches is every other change of
/// the body after ci-medic wrote it, the block included, which `updated_at`
/// cannot tell apart from labels and comments.
pub fn body_is_as_written(body: &str) -> Option<bool> {
    let digest = parse_block(body)?.body_sha256?;
    Some(hidden::is_as_sealed(body, &digest))
}

/// Append the hidden block, shrinking the failures if the body would be
/// too long, and seal the result with its digest.
fn append_block(body: String, a: &IssueAnalysis) -> String {
    hidden::seal(append_unsealed(body, a))
}

fn append_unsealed(mut body: String, a: &IssueAnalysis) -> String {
    let mut a = a.clone();
    a.body_sha256 = Some(hidden::DIGEST_PLACEHOLDER.to_string());
    loop {
        let block = format!("\n{}\n", hidden::line(KIND_ANALYSIS, &a));
        if body.chars().count() + block.chars().count() <= BODY_LIMIT {
            body.push_str(&block);
            return body;
        }
        if a.failures.len() > 1 {
            a.failures.truncate(a.failures.len() / 2);
        } else if let Some(f) = a.failures.first_mut()
            && !f.context.is_empty()
        {
            f.context.clear();
        } else {
            // Only a pathological body gets here; cut the prose instead.
            let keep = BODY_LIMIT.saturating_sub(block.chars().count() + 64);
            let cut: String = body.chars().take(keep).collect();
            body = format!("{cut}\n\n_(truncated)_\n");
            body.push_str(&block);
            return body;
        }
    }
}

/// Read the hidden block back from an issue body: its last line, where
/// [`body`] writes it.
pub fn parse_block(body: &str) -> Option<IssueAnalysis> {
    hidden::read(body, KIND_ANALYSIS)
}

/// The comment on an open issue when the same failure is seen again.
pub fn seen_again_comment(a: &IssueAnalysis) -> (String, String) {
    let key = format!("{}-{}", a.run_id, a.run_attempt);
    let twice = if a.failed_twice {
        " It failed again after an automatic re-run."
    } else {
        ""
    };
    let body = format!(
        "{}\nSeen again in run [{}]({}) (attempt {}, commit {}{}).{}\n",
        marker(KIND_SEEN, &key),
        a.run_id,
        a.run_url,
        a.run_attempt,
        code(short(&a.head_sha)),
        a.branch
            .as_deref()
            .map(|b| format!(", branch {}", inline(b)))
            .unwrap_or_default(),
        twice
    );
    (key, body)
}

/// The comment before closing an issue whose workflow passed again.
pub fn passed_comment(
    workflow: &str,
    branch: &str,
    run_id: u64,
    run_url: &str,
) -> (String, String) {
    let key = run_id.to_string();
    let body = format!(
        "{}\nRun [{run_id}]({run_url}) of {} on {} passed, so this failure looks fixed. Closing; it will be reopened as a new issue if it comes back.\n",
        marker(KIND_CLOSED, &key),
        inline(workflow),
        inline(branch)
    );
    (key, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> IssueAnalysis {
        serde_json::from_value(serde_json::json!({
            "version": 1, "fingerprint": "0123456789abcdef", "category": "dependency",
            "repo": "o/r", "workflow": "CI", "workflow_path": ".github/workflows/ci.yml",
            "branch": "main", "event": "push", "head_repository": "o/r",
            "head_sha": "a".repeat(40), "run_id": 7, "run_attempt": 1, "jobs": [], "failures": []
        }))
        .expect("block")
    }

    fn javac(line: u64, text: &str) -> Failure {
        serde_json::from_value(serde_json::json!({
            "source": "run.zip!1_build.txt", "job": "build", "step": "Build",
            "line": line, "end_line": line, "text": text, "category": "compilation",
            "rule": "maven-javac-error", "captures": {"file": "src/A.java", "message": text},
            "fingerprint": format!("{line:016x}"), "fixable": false
        }))
        .expect("failure")
    }

    #[test]
    fn grouped_failures_show_once_with_their_other_lines_escaped() {
        let mut a = block();
        a.failures = vec![
            javac(10, "[ERROR] src/A.java:[1,1] cannot find symbol"),
            javac(12, "[ERROR] src/A.java:[2,1] ping @octocat <!-- x -->"),
            javac(14, "[ERROR] src/A.java:[3,1] package b does not exist"),
        ];
        let text = body(&a);
        assert!(
            text.contains("The same failure is reported 2 more times"),
            "{text}"
        );
        assert!(text.contains("- line 12: "), "{text}");
        assert!(text.contains("- line 14: "), "{text}");
        let listed = text
            .lines()
            .find(|l| l.starts_with("- line 12: "))
            .expect("line 12");
        assert!(
            !listed.contains("@octocat") && !listed.contains("<!--"),
            "{listed}"
        );
        // A failure that stands alone gets no such list.
        a.failures.truncate(1);
        assert!(!body(&a).contains("The same failure is reported"));
    }

    #[test]
    fn the_block_records_the_run_and_seals_the_body() {
        let body = body(&block());
        let read = parse_block(&body).expect("block");
        assert_eq!(read.event, "push");
        assert_eq!(read.head_repository.as_deref(), Some("o/r"));
        let digest = read.body_sha256.clone().expect("digest");
        assert_eq!(digest.len(), 64);
        assert_ne!(digest, hidden::DIGEST_PLACEHOLDER);
        assert_eq!(body_is_as_written(&body), Some(true));
        // Any edit shows: of the prose, or of the block.
        let prose = body.replacen("## dependency", "## dependency!", 1);
        assert_ne!(prose, body);
        assert_eq!(body_is_as_written(&prose), Some(false));
        let block_edit = body.replacen("\"run_id\":7", "\"run_id\":8", 1);
        assert_ne!(block_edit, body);
        assert_eq!(body_is_as_written(&block_edit), Some(false));
        // A block of an older version has no digest: unknown.
        let mut old = block();
        old.body_sha256 = None;
        let json = serde_json::to_string(&old).expect("json");
        assert_eq!(
            body_is_as_written(&format!("x\n<!-- ci-medic:analysis {json} -->\n")),
            None
        );
    }
}
