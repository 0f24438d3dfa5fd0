//! Disabled and unstable jobs: issues titled `DISABLED <job pattern>` or
//! `UNSTABLE <job pattern>` mark jobs whose failures are known. Pure: the
//! title grammar, the matching of job names, and the texts of the replies.
//!
//! The grammar (README, "Disabled and unstable jobs"):
//!
//! ```text
//! title    = keyword 1*WSP pattern
//! keyword  = "DISABLED" / "UNSTABLE"          ; any case
//! pattern  = segment *( " / " segment )       ; a job name prefix
//! ```
//!
//! A pattern matches a job when `<workflow> / <job>` or the job name alone
//! starts with it and the next character (if any) is not part of a word
//! (`trunk / test` matches `trunk / test (default, 1, 2)`, never
//! `trunk / tests`). Runs of whitespace count as one space; case counts.
//! There is no reason in the title: matrix job names carry parentheses
//! (`test (default, 1, 2)`), so a trailing `(reason)` would be ambiguous.
//! The reason goes in the issue body.

use serde::{Deserialize, Serialize};

use crate::github::marker::marker;
use crate::report::markdown::{code, inline};

/// `.github/ci-medic.yml` `disabled-jobs:`; the section being present turns
/// the validation and its effects on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct DisabledJobsConfig {
    /// `false` keeps the section but turns everything off.
    pub enabled: bool,
    /// The label ci-medic puts on valid issues by writers; only open issues
    /// with it count (anyone can open an issue, only triagers can label
    /// one). The same default as Dr. CI's `unstable-label`, so Dr. CI reads
    /// the same issues.
    pub label: String,
    /// Workflows whose latest run's jobs are read to show what a new issue
    /// matches (one request each, plus one for the list of runs).
    pub recent_workflows: usize,
}

impl Default for DisabledJobsConfig {
    fn default() -> Self {
        DisabledJobsConfig {
            enabled: true,
            label: crate::drci::settings::DEFAULT_UNSTABLE_LABEL.into(),
            recent_workflows: 10,
        }
    }
}

/// The section, when present and enabled.
pub fn enabled(config: &crate::config::Config) -> Option<&DisabledJobsConfig> {
    config.disabled_jobs.as_ref().filter(|c| c.enabled)
}

/// The most open marking issues read (one page of the issues list).
pub const MAX_MARKINGS: usize = 100;

/// The most recent runs listed to find the workflows to show matches from
/// (one page of the runs list).
pub const MAX_RECENT_RUNS: usize = 100;

/// Matches listed in the validation comment; more are counted.
pub const MAX_LISTED: usize = 30;

/// Longest pattern accepted (GitHub's titles are at most 256 characters).
pub const MAX_PATTERN_CHARS: usize = 240;

/// The marker kind of the validation comment.
pub const MARKER_KIND: &str = "disabled-jobs";

/// The marker kind of the comment a failed run leaves on a marking issue.
pub const SEEN_KIND: &str = "disabled-jobs-seen";

/// What an issue says about its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The job should not run (its results are ignored while it does).
    Disabled,
    /// The job runs, and its failures are known not to be the change's.
    Unstable,
}

impl Kind {
    pub fn keyword(self) -> &'static str {
        match self {
            Kind::Disabled => "DISABLED",
            Kind::Unstable => "UNSTABLE",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Disabled => "disabled",
            Kind::Unstable => "unstable",
        }
    }
}

/// Why a `DISABLED`/`UNSTABLE` title is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TitleError {
    #[error("the title names no job after the keyword")]
    Empty,
    #[error("patterns are job name prefixes: `*` and `?` are not wildcards here")]
    Wildcard,
    #[error("a part between ` / ` separators is empty")]
    EmptySegment,
    #[error("the pattern is longer than {MAX_PATTERN_CHARS} characters")]
    TooLong,
}

/// A valid title: the kind and the normalised job name prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parsed {
    pub kind: Kind,
    pub pattern: String,
}

/// An open, labelled issue marking jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marking {
    pub number: u64,
    pub kind: Kind,
    pub pattern: String,
}

/// Collapse runs of whitespace into one space and trim.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Read a title. `None`: not a `DISABLED`/`UNSTABLE` title at all (the
/// keyword is not its first word); `Some(Err)`: it is one, but invalid.
pub fn parse_title(title: &str) -> Option<Result<Parsed, TitleError>> {
    let t = title.trim_start();
    let (head, rest) = match t.find(char::is_whitespace) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let kind = [Kind::Disabled, Kind::Unstable]
        .into_iter()
        .find(|k| head.eq_ignore_ascii_case(k.keyword()))?;
    Some(parse_pattern(rest).map(|pattern| Parsed { kind, pattern }))
}

fn parse_pattern(text: &str) -> Result<String, TitleError> {
    let pattern = squash(text);
    if pattern.is_empty() {
        return Err(TitleError::Empty);
    }
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(TitleError::TooLong);
    }
    if pattern.contains(['*', '?']) {
        return Err(TitleError::Wildcard);
    }
    if pattern.split('/').any(|s| s.trim().is_empty()) {
        return Err(TitleError::EmptySegment);
    }
    Ok(pattern)
}

/// Does `name` start with `prefix`, ending where a word ends?
fn prefix_of(prefix: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    match rest.chars().next() {
        None => true,
        Some(c) => !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')),
    }
}

/// Does `pattern` match job `job` of workflow `workflow`?
pub fn matches(pattern: &str, workflow: &str, job: &str) -> bool {
    let job = squash(job);
    prefix_of(pattern, &job) || prefix_of(pattern, &squash(&format!("{workflow} / {job}")))
}

/// Does `pattern` match the job called `name`, the way Dr. CI names jobs
/// (`<workflow> / <job>`) or a snapshot may (the job alone)? The same
/// grammar as [`matches()`]: the whole name or the job part after the first
/// ` / `.
pub fn matches_qualified(pattern: &str, name: &str) -> bool {
    match name.split_once(" / ") {
        Some((workflow, job)) => matches(pattern, workflow, job),
        None => prefix_of(pattern, &squash(name)),
    }
}

/// The first marking that matches the job (`DISABLED` and `UNSTABLE`
/// silence a job the same way, so which one is found does not matter).
pub fn find<'a>(markings: &'a [Marking], workflow: &str, job: &str) -> Option<&'a Marking> {
    markings.iter().find(|m| matches(&m.pattern, workflow, job))
}

/// The markings among open issues `(number, title)` carrying the label:
/// valid titles only.
pub fn markings<'a>(issues: impl IntoIterator<Item = (u64, &'a str)>) -> Vec<Marking> {
    issues
        .into_iter()
        .filter_map(|(number, title)| {
            let p = parse_title(title)?.ok()?;
            Some(Marking {
                number,
                kind: p.kind,
                pattern: p.pattern,
            })
        })
        .collect()
}

/// Why a marked job's failure got no re-run or issue of its own.
pub fn why_quiet(m: &Marking) -> String {
    format!("marked {} by #{}", m.kind.word(), m.number)
}

/// One job seen in a recent run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SeenJob {
    pub workflow: String,
    pub job: String,
}

/// The validation comment: what the pattern matches among `seen` (the
/// jobs of the latest run of up to `workflows` workflows).
pub fn confirm_body(number: u64, parsed: &Parsed, seen: &[SeenJob], workflows: usize) -> String {
    let hits: Vec<&SeenJob> = seen
        .iter()
        .filter(|s| matches(&parsed.pattern, &s.workflow, &s.job))
        .collect();
    let mut out = format!(
        "{}\nThis issue marks jobs starting with {} as **{}** while it is open.\n\n",
        marker(MARKER_KIND, &number.to_string()),
        code(&parsed.pattern),
        parsed.kind.word(),
    );
    if hits.is_empty() {
        out.push_str(&format!(
            "⚠️ It matches no job of the latest runs of {workflows} workflow{}: check the name \
             (`workflow / job` or the job name, as the run page shows it; case counts).\n",
            if workflows == 1 { "" } else { "s" }
        ));
    } else {
        out.push_str(&format!(
            "It matches {} job{} of the latest runs:\n\n",
            hits.len(),
            if hits.len() == 1 { "" } else { "s" }
        ));
        for h in hits.iter().take(MAX_LISTED) {
            out.push_str(&format!("- {} / {}\n", code(&h.workflow), code(&h.job)));
        }
        if hits.len() > MAX_LISTED {
            out.push_str(&format!("- and {} more\n", hits.len() - MAX_LISTED));
        }
    }
    out.push_str(
        "\nWhile this issue is open, their failures are not re-run, get no failure issue of \
         their own (they are noted here instead) and do not count for autorevert. \
         Close the issue to restore normal handling.\n",
    );
    out
}

/// The validation comment for an invalid title.
pub fn error_body(number: u64, title: &str, error: &TitleError) -> String {
    format!(
        "{}\nThis issue's title, {}, is not a valid `DISABLED`/`UNSTABLE` title: {error}.\n\n\
         Write `DISABLED <job>` or `UNSTABLE <job>`, where `<job>` is the start of a job name \
         as the run page shows it (`workflow / job`, or the job name alone), for example \
         `UNSTABLE CI / test (windows-latest`. Put the reason in the issue body. \
         Until then, the issue changes nothing.\n",
        marker(MARKER_KIND, &number.to_string()),
        code(title),
    )
}

/// The validation comment once the title no longer starts with a keyword:
/// the issue marks no job until it is edited back.
pub fn retired_body(number: u64, title: &str) -> String {
    format!(
        "{}\nThis issue's title, {}, no longer names a job: it does not start with \
         `DISABLED` or `UNSTABLE`, so the issue marks no job now and lost its label. \
         Edit the title back to `DISABLED <job>` or `UNSTABLE <job>` to mark jobs again.\n",
        marker(MARKER_KIND, &number.to_string()),
        code(title),
    )
}

/// The comment closing an issue by someone without write access.
pub fn refusal_body(number: u64, author: &str) -> String {
    format!(
        "{}\nOnly people with write access to this repository can disable jobs or mark them \
         unstable, and {} does not have it, so this issue is closed. \
         If a job is failing for reasons outside the change under test, \
         please say so in a comment; a maintainer can open the issue instead.\n",
        marker(MARKER_KIND, &number.to_string()),
        inline(author),
    )
}

/// One marked job's failure, for the comment on the marking issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietFailure {
    pub job: String,
    pub url: Option<String>,
    /// `category: first line of the cause`, when the log explained it.
    pub cause: Option<String>,
}

/// The comment a failed run leaves on the marking issue of its jobs (one per
/// run attempt and issue: key [`seen_key`]).
pub fn seen_body(
    run_id: u64,
    attempt: u64,
    run_url: &str,
    workflow: &str,
    branch: &str,
    failures: &[QuietFailure],
) -> String {
    let mut out = format!(
        "{}\nFailed again in [run {run_id}]({run_url}) (attempt {attempt}) of {} on {}; \
         no failure issue was filed:\n\n",
        marker(SEEN_KIND, &seen_key(run_id, attempt)),
        code(workflow),
        code(branch),
    );
    for f in failures.iter().take(MAX_LISTED) {
        let name = match &f.url {
            Some(u) if u.starts_with("https://") => format!("[{}]({u})", inline(&f.job)),
            _ => code(&f.job),
        };
        match &f.cause {
            Some(c) => out.push_str(&format!("- {name}: {}\n", code(c))),
            None => out.push_str(&format!("- {name}\n")),
        }
    }
    if failures.len() > MAX_LISTED {
        out.push_str(&format!("- and {} more\n", failures.len() - MAX_LISTED));
    }
    out
}

/// The marker key of [`seen_body`].
pub fn seen_key(run_id: u64, attempt: u64) -> String {
    format!("{run_id}-{attempt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(title: &str) -> Parsed {
        parse_title(title).expect("a marking title").expect("valid")
    }

    #[test]
    fn qualified_names_match_like_workflow_and_job() {
        for (pattern, name, want) in [
            ("trunk / test", "trunk / test (default, 1, 2)", true),
            ("test", "trunk / test (default, 1, 2)", true),
            ("test", "trunk / tests", false),
            ("trunk / test", "trunk / tests", false),
            ("test", "test", true),
            ("test", "tests", false),
            ("trunk", "trunk / test", true),
            ("CI / outer / inner", "CI / outer / inner (x)", true),
            ("outer / inner", "CI / outer / inner (x)", true),
        ] {
            assert_eq!(matches_qualified(pattern, name), want, "{pattern} ~ {name}");
            if let Some((w, j)) = name.split_once(" / ") {
                assert_eq!(matches(pattern, w, j), want, "{pattern} ~ {name}");
            }
        }
    }

    #[test]
    fn titles_follow_the_grammar() {
        assert_eq!(
            ok("DISABLED  trunk /  linux-test (default"),
            Parsed {
                kind: Kind::Disabled,
                pattern: "trunk / linux-test (default".into()
            }
        );
        assert_eq!(ok("unstable build").kind, Kind::Unstable);
        assert_eq!(
            parse_title("Disabled\tbuild").map(|r| r.is_ok()),
            Some(true)
        );
        // Not ours: another first word, or the keyword glued to the name.
        assert_eq!(parse_title("Flaky: DISABLED build"), None);
        assert_eq!(parse_title("UNSTABLEbuild"), None);
        assert_eq!(parse_title("DISABLED"), Some(Err(TitleError::Empty)));
        assert_eq!(parse_title("UNSTABLE   "), Some(Err(TitleError::Empty)));
        assert_eq!(
            parse_title("DISABLED ci / *"),
            Some(Err(TitleError::Wildcard))
        );
        assert_eq!(
            parse_title("DISABLED ci / / build"),
            Some(Err(TitleError::EmptySegment))
        );
        assert_eq!(
            parse_title("DISABLED ci /"),
            Some(Err(TitleError::EmptySegment))
        );
        let long = format!("DISABLED {}", "x".repeat(MAX_PATTERN_CHARS + 1));
        assert_eq!(parse_title(&long), Some(Err(TitleError::TooLong)));
        // Odd input never panics.
        for t in ["", " ", "DISABLED \u{202e}é/", "é DISABLED", "DISABLED é"] {
            let _ = parse_title(t);
        }
    }

    #[test]
    fn patterns_are_prefixes_ending_at_a_word_boundary() {
        let p = ok("UNSTABLE trunk / test").pattern;
        assert!(matches(&p, "trunk", "test (default, 1, 2)"));
        assert!(matches(&p, "trunk", "test"));
        assert!(matches(&p, "trunk", "test / shard"));
        assert!(!matches(&p, "trunk", "tests"));
        assert!(!matches(&p, "trunk", "test-gpu"));
        assert!(!matches(&p, "pull", "test (default)"));
        // The job name alone, whatever the workflow.
        let p = ok("DISABLED linux-build / build").pattern;
        assert!(matches(&p, "pull", "linux-build / build"));
        assert!(matches(&p, "trunk", "linux-build  / build (x)"));
        assert!(!matches(&p, "trunk", "Linux-build / build"));
        // A matrix cell.
        let p = ok("UNSTABLE CI / test (windows-latest").pattern;
        assert!(matches(&p, "CI", "test (windows-latest, 3.12)"));
        assert!(!matches(&p, "CI", "test (ubuntu-latest, 3.12)"));
    }

    #[test]
    fn only_valid_titles_mark_jobs() {
        let m = markings([
            (1, "UNSTABLE CI / lint"),
            (2, "DISABLED CI / *"),
            (3, "Something else"),
            (4, "disabled CI / docs"),
        ]);
        assert_eq!(
            m.iter().map(|m| m.number).collect::<Vec<_>>(),
            [1, 4],
            "{m:?}"
        );
        assert_eq!(find(&m, "CI", "docs").map(|m| m.number), Some(4));
        assert_eq!(find(&m, "CI", "build"), None);
        assert_eq!(why_quiet(&m[0]), "marked unstable by #1");
    }

    /// The commented `disabled-jobs:` block of `examples/ci-medic.yml`,
    /// uncommented, is the defaults it claims to be.
    #[test]
    fn the_documented_example_spells_out_the_defaults() {
        let example = include_str!("../../examples/ci-medic.yml");
        let block: Vec<&str> = example
            .lines()
            .skip_while(|l| *l != "# disabled-jobs:")
            .take_while(|l| l.starts_with('#') && !l.starts_with("# ---"))
            .map(|l| l.strip_prefix("# ").unwrap_or(""))
            .collect();
        assert!(block.len() > 3, "the example has a disabled-jobs block");
        let config = crate::config::Config::parse("example", &block.join("\n")).expect("parses");
        assert_eq!(config.disabled_jobs, Some(DisabledJobsConfig::default()));
    }

    #[test]
    fn replies_escape_the_title_and_the_author() {
        let body = error_body(7, "DISABLED @team `x` *", &TitleError::Wildcard);
        assert!(
            body.starts_with("<!-- ci-medic:disabled-jobs:7 -->\n"),
            "{body}"
        );
        // In a code span: no live mention, no early end of the span.
        assert!(body.contains("title, `DISABLED @team 'x' *`, is"), "{body}");
        let body = refusal_body(7, "@evil");
        assert!(!body.contains(" @evil"), "{body}");
        let parsed = ok("UNSTABLE CI / t");
        let seen = vec![
            SeenJob {
                workflow: "CI".into(),
                job: "t (a)".into(),
            },
            SeenJob {
                workflow: "CI".into(),
                job: "tt".into(),
            },
        ];
        let body = confirm_body(7, &parsed, &seen, 3);
        assert!(body.contains("It matches 1 job of"), "{body}");
        assert!(body.contains("`t (a)`"), "{body}");
        let body = confirm_body(7, &ok("UNSTABLE nothing"), &seen, 3);
        assert!(
            body.contains("matches no job of the latest runs of 3 workflows"),
            "{body}"
        );
    }
}
