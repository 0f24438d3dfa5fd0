//! Merge rules: which approvers and which checks a merge needs, by the
//! files it changes. Rules come from `commands.merge.rules` in
//! `.github/ci-medic.yml`, or from a `.github/merge_rules.yaml` in PyTorch's
//! format; both are read from the default branch only.
//!
//! A rule matches a pull request when its `patterns` match **every**
//! changed file (`*` and `**` cross `/` like Python's `fnmatch`; a pattern
//! starting with `-` excludes what it matches). The first matching rule
//! whose approvers approved wins. `approved_by` entries are logins or
//! `org/team`: ci-medic compares logins itself, and cannot read team
//! membership with the workflow token, so a team entry never approves on
//! its own (fail closed; list the people too).

use globset::{Glob, GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use super::reply::{Refusal, names};
use crate::report::markdown::{code, inline};

/// Where PyTorch keeps its merge rules.
pub const PYTORCH_RULES_PATH: &str = ".github/merge_rules.yaml";

/// One merge rule, spelled either way (`approved-by` or `approved_by`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRule {
    pub name: String,
    /// Globs on changed paths; a leading `-` excludes.
    pub patterns: Vec<String>,
    /// Logins, or `org/team` (not verifiable with the workflow token).
    #[serde(rename = "approved-by", alias = "approved_by", default)]
    pub approved_by: Vec<String>,
    /// Substrings of check names that must have passed.
    #[serde(rename = "mandatory-checks", alias = "mandatory_checks_name", default)]
    pub mandatory_checks: Vec<String>,
    /// Whether failures Dr. CI calls flaky, broken trunk or unstable are
    /// tolerated (up to `commands.merge.ignorable-failures`) when this rule
    /// is the one a merge goes by.
    #[serde(
        rename = "ignore-flaky-failures",
        alias = "ignore_flaky_failures",
        default = "yes"
    )]
    pub ignore_flaky_failures: bool,
}

fn yes() -> bool {
    true
}

/// A rules file that cannot be read: the file, the line and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Parse PyTorch's `merge_rules.yaml`: a list of rules.
pub fn parse_pytorch(file: &str, text: &str) -> Result<Vec<MergeRule>, RulesError> {
    let rules: Vec<MergeRule> = serde_yaml::from_str(text).map_err(|e| RulesError {
        file: file.to_string(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    validate(&rules).map_err(|(i, message)| RulesError {
        file: file.to_string(),
        line: locate_rule(text, i),
        message,
    })?;
    Ok(rules)
}

/// The line of the `i`-th `- name:` entry, for errors serde cannot place.
fn locate_rule(text: &str, i: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("- "))
        .filter(|(_, l)| l.trim_start().trim_start_matches("- ").starts_with("name:"))
        .nth(i)
        .map(|(n, _)| n + 1)
}

/// Checks serde cannot make; the index of the bad rule and why.
pub fn validate(rules: &[MergeRule]) -> Result<(), (usize, String)> {
    for (i, r) in rules.iter().enumerate() {
        if r.patterns.iter().all(|p| p.starts_with('-')) {
            return Err((
                i,
                format!("rule {:?} has no pattern that includes files", r.name),
            ));
        }
        for p in &r.patterns {
            glob(p.strip_prefix('-').unwrap_or(p))
                .map_err(|e| (i, format!("rule {:?}: invalid pattern {p:?}: {e}", r.name)))?;
        }
    }
    Ok(())
}

fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    // `*` crosses `/` like fnmatch, which PyTorch's rules are written for.
    GlobBuilder::new(pattern).literal_separator(false).build()
}

fn matchers(patterns: &[String]) -> (Vec<GlobMatcher>, Vec<GlobMatcher>) {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for p in patterns {
        let (list, p) = match p.strip_prefix('-') {
            Some(rest) => (&mut exclude, rest),
            None => (&mut include, p.as_str()),
        };
        if let Ok(g) = glob(p) {
            list.push(g.compile_matcher());
        }
    }
    (include, exclude)
}

impl MergeRule {
    /// Whether the rule covers every one of `files` (and there is one).
    pub fn covers(&self, files: &[String]) -> bool {
        let (include, exclude) = matchers(&self.patterns);
        !files.is_empty()
            && files.iter().all(|f| {
                include.iter().any(|m| m.is_match(f)) && !exclude.iter().any(|m| m.is_match(f))
            })
    }

    /// The approvers (of `approved`) the rule accepts: logins compared
    /// without case; `org/team` entries accept nobody.
    pub fn accepted(&self, approved: &[String]) -> Vec<String> {
        approved
            .iter()
            .filter(|a| {
                self.approved_by
                    .iter()
                    .any(|e| !e.contains('/') && e.trim().eq_ignore_ascii_case(a))
            })
            .cloned()
            .collect()
    }
}

/// The rule a merge goes by and the approvers it counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen<'a> {
    pub rule: &'a MergeRule,
    pub approvers: Vec<String>,
}

/// The first rule covering every changed file whose approvers approved;
/// a refusal saying which rules covered the files and who may approve, or
/// that none covers them.
pub fn choose<'a>(
    rules: &'a [MergeRule],
    files: &[String],
    approved: &[String],
) -> Result<Chosen<'a>, Refusal> {
    let covering: Vec<&MergeRule> = rules.iter().filter(|r| r.covers(files)).collect();
    if covering.is_empty() {
        let uncovered: Vec<String> = files
            .iter()
            .filter(|f| !rules.iter().any(|r| r.covers(std::slice::from_ref(*f))))
            .take(10)
            .cloned()
            .collect();
        let detail = if uncovered.is_empty() {
            "no single rule covers all of them together".to_string()
        } else {
            format!("no rule covers {}", names(&uncovered))
        };
        return Err(Refusal::new(format!(
            "No merge rule matches the changed files ({detail}); add a rule that covers them, or split the pull request."
        )));
    }
    for rule in &covering {
        let approvers = rule.accepted(approved);
        if !approvers.is_empty() {
            return Ok(Chosen { rule, approvers });
        }
    }
    let wanted: Vec<String> = covering
        .iter()
        .take(5)
        .map(|r| {
            format!(
                "{} (approvers: {})",
                inline(&r.name),
                inline(&r.approved_by.join(", "))
            )
        })
        .collect();
    Err(Refusal::new(format!(
        "No approval from the approvers of a matching merge rule: {}. Team entries (`org/team`) cannot be checked with the workflow token and count for no one.",
        wanted.join("; ")
    )))
}

/// The state of a rule's mandatory checks among the head's checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mandatory {
    /// Mandatory names matched by a failing check.
    pub failing: Vec<String>,
    /// Mandatory names no check on the head matches yet.
    pub missing: Vec<String>,
}

/// Match each mandatory name as a substring of the head's check names.
pub fn mandatory(rule: &MergeRule, all: &[String], failing: &[String]) -> Mandatory {
    let mut m = Mandatory::default();
    for want in &rule.mandatory_checks {
        if failing.iter().any(|f| f.contains(want.as_str())) {
            m.failing.push(want.clone());
        } else if !all.iter().any(|n| n.contains(want.as_str())) {
            m.missing.push(want.clone());
        }
    }
    m
}

/// The refusal naming the rule and its failing or missing checks.
pub fn refuse_mandatory(rule: &MergeRule, m: &Mandatory, sha: &str) -> Option<Refusal> {
    if !m.failing.is_empty() {
        return Some(Refusal::new(format!(
            "Merge rule {} needs these checks to pass, and they failed on {}: {}.",
            inline(&rule.name),
            code(sha),
            names(&m.failing)
        )));
    }
    if !m.missing.is_empty() {
        return Some(Refusal::new(format!(
            "Merge rule {} needs these checks, and none has run on {}: {}.",
            inline(&rule.name),
            code(sha),
            names(&m.missing)
        )));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTORCH: &str = include_str!("../../fixtures/bot/merge_rules.yaml");

    fn files(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn pytorch() -> Vec<MergeRule> {
        parse_pytorch(PYTORCH_RULES_PATH, PYTORCH).expect("PyTorch's rules parse")
    }

    #[test]
    fn pytorch_rules_parse() {
        let rules = pytorch();
        assert!(rules.len() > 20, "{}", rules.len());
        let onnx = &rules[0];
        assert_eq!(onnx.name, "ONNX exporter");
        assert!(onnx.approved_by.contains(&"BowenBao".to_string()));
        assert_eq!(onnx.mandatory_checks, ["EasyCLA", "Lint", "pull"]);
        assert!(onnx.ignore_flaky_failures);
        let bot = rules
            .iter()
            .find(|r| r.name == "OSS CI / pytorchbot")
            .expect("pytorchbot rule");
        assert!(!bot.ignore_flaky_failures);
    }

    #[test]
    fn the_first_covering_approved_rule_wins_on_pytorch_rules() {
        let rules = pytorch();
        let pick = |f: &[&str], who: &[&str]| {
            choose(&rules, &files(f), &files(who)).map(|c| c.rule.name.clone())
        };
        assert_eq!(
            pick(
                &["torch/onnx/utils.py", "test/onnx/test_utils.py"],
                &["justinchuby"]
            ),
            Ok("ONNX exporter".into())
        );
        // An ONNX approver cannot approve a change reaching past ONNX; a
        // core maintainer can, through the catch-all rules.
        assert!(
            pick(
                &["torch/onnx/utils.py", "torch/nn/linear.py"],
                &["justinchuby"]
            )
            .is_err()
        );
        assert_eq!(
            pick(&["torch/onnx/utils.py", "torch/nn/linear.py"], &["ezyang"]),
            Ok("Core Maintainers".into())
        );
        // `**` crosses directories, `*` too (fnmatch).
        assert_eq!(
            pick(
                &[".github/workflows/pull.yml", "tools/stats/upload.py"],
                &["dagitses"]
            ),
            Ok("OSS CI".into())
        );
        assert_eq!(
            pick(
                &["aten/src/ATen/native/sparse/SparseTensor.cpp"],
                &["pearu"]
            ),
            Ok("Sparse".into())
        );
        assert_eq!(
            pick(&["docs/source/notes/cuda.rst"], &["svekars"]),
            Ok("Documentation".into())
        );
        // A rule that covers the files but was not approved is passed over
        // for a later one that was.
        assert_eq!(
            pick(&["docs/source/notes/cuda.rst"], &["mruberry"]),
            Ok("Core Reviewers".into())
        );
        // Logins compare without case.
        assert_eq!(
            pick(&["torch/distributions/normal.py"], &["FRITZO"]),
            Ok("Distributions".into())
        );
    }

    #[test]
    fn a_team_entry_approves_no_one() {
        let rules = pytorch();
        let e = choose(
            &rules,
            &files(&["torch/nn/linear.py"]),
            &files(&["metamates"]),
        );
        let e = e.err().map(|r| r.0).unwrap_or_default();
        assert!(e.contains("superuser"), "{e}");
        assert!(e.contains("org/team"), "{e}");
        let pytorch_team = files(&["pytorch/metamates"]);
        assert!(choose(&rules, &files(&["torch/nn/linear.py"]), &pytorch_team).is_err());
    }

    fn rule(name: &str, patterns: &[&str], by: &[&str]) -> MergeRule {
        MergeRule {
            name: name.into(),
            patterns: files(patterns),
            approved_by: files(by),
            mandatory_checks: files(&["Lint", "pull"]),
            ignore_flaky_failures: true,
        }
    }

    #[test]
    fn no_covering_rule_is_refused_naming_the_files() {
        let rules = vec![rule("docs", &["docs/**", "-docs/secret/*"], &["a"])];
        assert!(choose(&rules, &files(&["docs/a.md"]), &files(&["a"])).is_ok());
        let e = choose(&rules, &files(&["docs/a.md", "src/`x`.rs"]), &files(&["a"]));
        let e = e.err().map(|r| r.0).unwrap_or_default();
        assert!(e.starts_with("No merge rule matches"), "{e}");
        assert!(e.contains("src/"), "{e}");
        // Excluded paths are not covered.
        assert!(choose(&rules, &files(&["docs/secret/k.md"]), &files(&["a"])).is_err());
        // No changed files: nothing is covered.
        assert!(choose(&rules, &[], &files(&["a"])).is_err());
    }

    #[test]
    fn mandatory_checks_match_by_substring() {
        let r = rule("r", &["*"], &["a"]);
        let all = files(&["Lint / lintrunner", "pull / linux-build", "trunk"]);
        assert_eq!(mandatory(&r, &all, &[]), Mandatory::default());
        let m = mandatory(&r, &all, &files(&["pull / linux-build"]));
        assert_eq!(m.failing, ["pull"]);
        let m = mandatory(&r, &files(&["Lint / x"]), &[]);
        assert_eq!(m.missing, ["pull"]);
        assert!(refuse_mandatory(&r, &m, "abc").is_some());
    }

    #[test]
    fn malformed_rules_name_file_and_line() {
        let text = "- name: a\n  patterns:\n  - '*'\n  approved_by: [x]\n- name: b\n  patterns: ['*']\n  aproved_by: [y]\n";
        let e = parse_pytorch(PYTORCH_RULES_PATH, text).expect_err("error");
        assert_eq!(e.line, Some(7), "{e}");
        assert!(
            e.to_string().starts_with(".github/merge_rules.yaml:7:"),
            "{e}"
        );
        let text = "- name: a\n  patterns: ['*']\n- name: b\n  patterns: ['src/[x']\n";
        let e = parse_pytorch(PYTORCH_RULES_PATH, text).expect_err("error");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("src/[x"), "{e}");
        assert!(parse_pytorch("f", "name: not a list\n").is_err());
    }
}
