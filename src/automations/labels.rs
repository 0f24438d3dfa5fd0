//! The `labels` section of the config and the auto-label decision.
//!
//! Rules come from the repository's config: globs and regular expressions
//! that do not compile are errors that name their key
//! (`labels.rules[2].files`), found when the config is read.

use std::collections::BTreeSet;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

/// Largest compiled size of one title or body pattern, in bytes: the
/// patterns come from the repository, and a pattern this large is a
/// mistake, not a label rule (the regex crate's own default is 10 MiB).
const MAX_PATTERN_BYTES: usize = 1 << 20;

/// `.github/ci-medic.yml` `labels:`. Empty (the default) turns both
/// label handlers off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LabelsConfig {
    /// Auto-label rules, tried on every pull request and issue event.
    pub rules: Vec<LabelRule>,
    /// Label prefixes only pull requests may carry (`ciflow/`); they are
    /// removed from issues.
    pub pr_only: Vec<String>,
    /// Label prefixes only issues may carry; they are removed from pull
    /// requests.
    pub issue_only: Vec<String>,
    /// A pull request must carry a label matching one of these patterns
    /// (`*` matches anything, `release notes: *`).
    pub required: Vec<String>,
    /// Also report the required labels as a check run, `ci-medic / labels`,
    /// which branch protection can require.
    pub required_check: bool,
    /// Auto-cc: the issue whose body lists `* label @user @org/team`
    /// subscriptions; people subscribed to a label added to an issue or
    /// pull request are cc'd in its body.
    pub subscriptions_issue: Option<u64>,
}

impl Default for LabelsConfig {
    fn default() -> Self {
        LabelsConfig {
            rules: Vec::new(),
            pr_only: Vec::new(),
            issue_only: Vec::new(),
            required: Vec::new(),
            required_check: true,
            subscriptions_issue: None,
        }
    }
}

impl LabelsConfig {
    /// Auto-label has something to do.
    pub fn auto_enabled(&self) -> bool {
        !self.rules.is_empty() || !self.pr_only.is_empty() || !self.issue_only.is_empty()
    }

    /// Required labels are configured.
    pub fn required_enabled(&self) -> bool {
        !self.required.is_empty()
    }
}

/// One rule. Either `label:` with one or more triggers (`files`, `title`,
/// `body`, `authors`; any of them matching is enough), optionally gated on
/// the pull request's draft state; or `any:`/`all:` of present labels with
/// `then:` labels to add.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LabelRule {
    pub label: Option<String>,
    /// Globs on changed paths (`*` stays within a directory, `**` crosses
    /// them); `!glob` excludes. A pull request matches when one changed
    /// file matches a glob and no `!` glob.
    pub files: Vec<String>,
    /// Regular expression on the title.
    pub title: Option<String>,
    /// Regular expression on the body.
    pub body: Option<String>,
    /// Logins of authors (compared without regard to case).
    pub authors: Vec<String>,
    /// Only for drafts (`true`) or only for pull requests ready for review
    /// (`false`). The label is removed when the state flips.
    pub draft: Option<bool>,
    pub any: Vec<String>,
    pub all: Vec<String>,
    pub then: Vec<String>,
}

/// A rule that does not compile, with its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct RuleError {
    /// `labels.rules[2].files`.
    pub key: String,
    pub message: String,
}

/// Changed paths against `files:` globs.
#[derive(Debug, Clone)]
struct FileMatcher {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl FileMatcher {
    fn matches(&self, path: &str) -> bool {
        self.include.as_ref().is_none_or(|g| g.is_match(path)) && !self.exclude.is_match(path)
    }
}

#[derive(Debug, Clone)]
enum Compiled {
    Match {
        label: String,
        files: Option<FileMatcher>,
        title: Option<Regex>,
        body: Option<Regex>,
        authors: Vec<String>,
        draft: Option<bool>,
    },
    Implies {
        any: Vec<String>,
        all: Vec<String>,
        then: Vec<String>,
    },
}

/// The compiled `labels` section.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Compiled>,
    pr_only: Vec<String>,
    issue_only: Vec<String>,
}

fn glob(pattern: &str, literal_separator: bool) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(literal_separator)
        .backslash_escape(true)
        .build()
}

fn files_matcher(globs: &[String], key: &str) -> Result<FileMatcher, RuleError> {
    let mut include = GlobSetBuilder::new();
    let mut exclude = GlobSetBuilder::new();
    let mut any_include = false;
    for g in globs {
        let (negated, pattern) = match g.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, g.as_str()),
        };
        let compiled = glob(pattern, true).map_err(|e| RuleError {
            key: key.to_string(),
            message: format!("invalid glob {g:?}: {e}"),
        })?;
        if negated {
            exclude.add(compiled);
        } else {
            any_include = true;
            include.add(compiled);
        }
    }
    let built = |b: GlobSetBuilder| {
        b.build().map_err(|e| RuleError {
            key: key.to_string(),
            message: e.to_string(),
        })
    };
    Ok(FileMatcher {
        include: if any_include {
            Some(built(include)?)
        } else {
            None
        },
        exclude: built(exclude)?,
    })
}

fn pattern(p: &str, key: &str) -> Result<Regex, RuleError> {
    RegexBuilder::new(p)
        .size_limit(MAX_PATTERN_BYTES)
        .build()
        .map_err(|e| RuleError {
            key: key.to_string(),
            message: format!("invalid pattern {p:?}: {e}"),
        })
}

fn nonempty(name: &str, key: &str) -> Result<String, RuleError> {
    let t = name.trim();
    if t.is_empty() {
        return Err(RuleError {
            key: key.to_string(),
            message: "a label name cannot be empty".into(),
        });
    }
    Ok(t.to_string())
}

impl Rules {
    /// Compile the section; the first bad rule is an error naming its key.
    pub fn compile(config: &LabelsConfig) -> Result<Rules, RuleError> {
        let mut rules = Vec::with_capacity(config.rules.len());
        for (i, r) in config.rules.iter().enumerate() {
            let key = |k: &str| format!("labels.rules[{i}].{k}");
            let implies = !r.any.is_empty() || !r.all.is_empty() || !r.then.is_empty();
            let triggers = !r.files.is_empty()
                || r.title.is_some()
                || r.body.is_some()
                || !r.authors.is_empty();
            match (&r.label, implies) {
                (Some(_), true) => {
                    return Err(RuleError {
                        key: format!("labels.rules[{i}]"),
                        message:
                            "a rule has either `label:` or `any:`/`all:` with `then:`, not both"
                                .into(),
                    });
                }
                (Some(label), false) => {
                    if !triggers {
                        return Err(RuleError {
                            key: format!("labels.rules[{i}]"),
                            message:
                                "`label:` needs at least one of `files`, `title`, `body`, `authors`"
                                    .into(),
                        });
                    }
                    rules.push(Compiled::Match {
                        label: nonempty(label, &key("label"))?,
                        files: if r.files.is_empty() {
                            None
                        } else {
                            Some(files_matcher(&r.files, &key("files"))?)
                        },
                        title: r
                            .title
                            .as_deref()
                            .map(|p| pattern(p, &key("title")))
                            .transpose()?,
                        body: r
                            .body
                            .as_deref()
                            .map(|p| pattern(p, &key("body")))
                            .transpose()?,
                        authors: r.authors.iter().map(|a| a.trim().to_lowercase()).collect(),
                        draft: r.draft,
                    });
                }
                (None, _) => {
                    if triggers || r.draft.is_some() {
                        return Err(RuleError {
                            key: format!("labels.rules[{i}]"),
                            message:
                                "`files`, `title`, `body`, `authors` and `draft` need `label:`"
                                    .into(),
                        });
                    }
                    if r.then.is_empty() || (r.any.is_empty() && r.all.is_empty()) {
                        return Err(RuleError {
                            key: format!("labels.rules[{i}]"),
                            message: "a rule needs `label:`, or `any:`/`all:` with `then:`".into(),
                        });
                    }
                    let names = |v: &[String], k: &str| {
                        v.iter()
                            .map(|n| nonempty(n, &key(k)))
                            .collect::<Result<Vec<_>, _>>()
                    };
                    rules.push(Compiled::Implies {
                        any: names(&r.any, "any")?,
                        all: names(&r.all, "all")?,
                        then: names(&r.then, "then")?,
                    });
                }
            }
        }
        for (k, prefixes) in [
            ("labels.pr-only", &config.pr_only),
            ("labels.issue-only", &config.issue_only),
        ] {
            if prefixes.iter().any(|p| p.trim().is_empty()) {
                return Err(RuleError {
                    key: k.into(),
                    message: "an empty prefix would match every label".into(),
                });
            }
        }
        Ok(Rules {
            rules,
            pr_only: config.pr_only.clone(),
            issue_only: config.issue_only.clone(),
        })
    }

    /// Some rule looks at changed files (so they must be read).
    pub fn reads_files(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r, Compiled::Match { files: Some(_), .. }))
    }

    /// The labels the rules would add or remove, before the repository's
    /// labels are known (to skip reading them when nothing is to be added).
    pub fn decide(&self, s: &Subject) -> LabelChanges {
        decide(self, s)
    }
}

/// Compile the required-label patterns (`release notes: *`); `*` matches
/// any text, `/` included.
pub fn required_patterns(patterns: &[String]) -> Result<GlobSet, RuleError> {
    let mut b = GlobSetBuilder::new();
    for (i, p) in patterns.iter().enumerate() {
        let g = glob(&p.to_lowercase(), false).map_err(|e| RuleError {
            key: format!("labels.required[{i}]"),
            message: format!("invalid pattern {p:?}: {e}"),
        })?;
        b.add(g);
    }
    b.build().map_err(|e| RuleError {
        key: "labels.required".into(),
        message: e.to_string(),
    })
}

/// What the rules look at: an issue or pull request as it is now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    pub number: u64,
    pub is_pull: bool,
    pub title: String,
    pub body: String,
    pub author: String,
    pub draft: bool,
    /// Labels it carries now.
    pub labels: Vec<String>,
    /// Changed paths (pull requests, when a rule reads them).
    pub files: Vec<String>,
}

/// The label writes for one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelChanges {
    /// Labels to add (spelled as the repository spells them), in one call.
    pub add: Vec<String>,
    /// Labels a rule wants that the repository does not have.
    pub unknown: Vec<String>,
    /// Draft-gated labels whose gate closed.
    pub remove: Vec<String>,
    /// Labels reserved for the other kind (PR-only on an issue...), removed
    /// with an explanation: (label, prefix).
    pub misplaced: Vec<(String, String)>,
}

impl LabelChanges {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty() && self.misplaced.is_empty()
    }

    /// Keep only additions the repository has labels for (`existing`, its
    /// label names); the others go to `unknown`.
    pub fn only_existing(mut self, existing: &[String]) -> LabelChanges {
        let mut add = Vec::new();
        for l in std::mem::take(&mut self.add) {
            match existing.iter().find(|e| e.eq_ignore_ascii_case(&l)) {
                Some(e) => add.push(e.clone()),
                None => self.unknown.push(l),
            }
        }
        self.add = add;
        self
    }
}

/// Case-insensitive label set (GitHub compares label names so).
#[derive(Default)]
struct LabelSet(BTreeSet<String>);

impl LabelSet {
    fn has(&self, l: &str) -> bool {
        self.0.contains(&l.to_lowercase())
    }
    fn insert(&mut self, l: &str) -> bool {
        self.0.insert(l.to_lowercase())
    }
}

fn reserved<'a>(label: &str, prefixes: &'a [String]) -> Option<&'a String> {
    let l = label.to_lowercase();
    prefixes.iter().find(|p| l.starts_with(&p.to_lowercase()))
}

fn decide(rules: &Rules, s: &Subject) -> LabelChanges {
    let misplaced_prefixes = if s.is_pull {
        &rules.issue_only
    } else {
        &rules.pr_only
    };
    let mut out = LabelChanges::default();
    let mut present = LabelSet::default();
    for l in &s.labels {
        match reserved(l, misplaced_prefixes) {
            Some(p) => out.misplaced.push((l.clone(), p.clone())),
            None => {
                present.insert(l);
            }
        }
    }

    let mut wanted: Vec<String> = Vec::new();
    let want = |l: &str, wanted: &mut Vec<String>| {
        if reserved(l, misplaced_prefixes).is_none()
            && !wanted.iter().any(|w| w.eq_ignore_ascii_case(l))
        {
            wanted.push(l.to_string());
        }
    };
    let mut gated_off: Vec<String> = Vec::new();
    for r in &rules.rules {
        let Compiled::Match {
            label,
            files,
            title,
            body,
            authors,
            draft,
        } = r
        else {
            continue;
        };
        let files_hit = s.is_pull
            && files
                .as_ref()
                .is_some_and(|m| s.files.iter().any(|f| m.matches(f)));
        let hit = files_hit
            || title.as_ref().is_some_and(|re| re.is_match(&s.title))
            || body.as_ref().is_some_and(|re| re.is_match(&s.body))
            || authors.contains(&s.author.to_lowercase());
        if !hit {
            continue;
        }
        match draft {
            // Draft state is a pull request's: on an issue the rule
            // neither adds nor removes.
            Some(_) if !s.is_pull => {}
            Some(d) if *d != s.draft => gated_off.push(label.clone()),
            _ => want(label, &mut wanted),
        }
    }

    // Label-to-label rules see present and wanted labels, until nothing
    // changes (each round adds a label or stops, so at most one round per
    // rule).
    let mut seen = LabelSet::default();
    for l in s.labels.iter().chain(wanted.iter()) {
        seen.insert(l);
    }
    for _ in 0..=rules.rules.len() {
        let mut grew = false;
        for r in &rules.rules {
            let Compiled::Implies { any, all, then } = r else {
                continue;
            };
            let fires = (any.is_empty() || any.iter().any(|l| seen.has(l)))
                && all.iter().all(|l| seen.has(l));
            if fires {
                for t in then {
                    if seen.insert(t) {
                        grew = true;
                    }
                    want(t, &mut wanted);
                }
            }
        }
        if !grew {
            break;
        }
    }

    out.add = wanted.iter().filter(|l| !present.has(l)).cloned().collect();
    let kept: LabelSet = {
        let mut k = LabelSet::default();
        for w in &wanted {
            k.insert(w);
        }
        k
    };
    for g in gated_off {
        if present.has(&g)
            && !kept.has(&g)
            && !out.remove.iter().any(|r| r.eq_ignore_ascii_case(&g))
        {
            // Spelled as the subject carries it.
            let name = s
                .labels
                .iter()
                .find(|l| l.eq_ignore_ascii_case(&g))
                .cloned()
                .unwrap_or(g);
            out.remove.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> Rules {
        let c: LabelsConfig = serde_yaml::from_str(yaml).expect("yaml");
        Rules::compile(&c).expect("compiles")
    }

    fn pr(files: &[&str], labels: &[&str]) -> Subject {
        Subject {
            number: 7,
            is_pull: true,
            title: "Fix the thing".into(),
            body: String::new(),
            author: "alice".into(),
            draft: false,
            labels: labels.iter().map(|s| s.to_string()).collect(),
            files: files.iter().map(|s| s.to_string()).collect(),
        }
    }

    const CI: &str = r#"
rules:
  - label: "module: ci"
    files: [".github/**", "!.github/ISSUE_TEMPLATE/**"]
  - label: "module: docs"
    files: ["docs/*.md"]
"#;

    #[test]
    fn double_star_crosses_directories_single_star_does_not() {
        let r = rules(CI);
        let c = r.decide(&pr(&[".github/workflows/ci.yml"], &[]));
        assert_eq!(c.add, ["module: ci"]);
        let c = r.decide(&pr(&["docs/a/b.md"], &[]));
        assert!(c.add.is_empty(), "{c:?}");
        let c = r.decide(&pr(&["docs/b.md"], &[]));
        assert_eq!(c.add, ["module: docs"]);
    }

    #[test]
    fn a_negated_glob_excludes() {
        let r = rules(CI);
        let c = r.decide(&pr(&[".github/ISSUE_TEMPLATE/bug.md"], &[]));
        assert!(c.add.is_empty(), "{c:?}");
        // Another file still matches.
        let c = r.decide(&pr(
            &[".github/ISSUE_TEMPLATE/bug.md", ".github/labeler.yml"],
            &[],
        ));
        assert_eq!(c.add, ["module: ci"]);
        // Only negations: everything else matches.
        let r = rules("rules:\n  - label: code\n    files: ['!docs/**']\n");
        assert_eq!(r.decide(&pr(&["src/a.rs"], &[])).add, ["code"]);
        assert!(r.decide(&pr(&["docs/x.md"], &[])).add.is_empty());
    }

    #[test]
    fn present_labels_are_not_added_again_whatever_their_case() {
        let r = rules(CI);
        let c = r.decide(&pr(&[".github/x.yml"], &["Module: CI"]));
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn draft_gated_labels_follow_the_draft_state() {
        let r = rules(
            "rules:\n  - label: wip\n    files: ['**']\n    draft: true\n  - label: ready\n    files: ['**']\n    draft: false\n",
        );
        let mut s = pr(&["a"], &["ready"]);
        s.draft = true;
        let c = r.decide(&s);
        assert_eq!(c.add, ["wip"]);
        assert_eq!(c.remove, ["ready"]);
        s.draft = false;
        s.labels = vec!["wip".into(), "ready".into()];
        let c = r.decide(&s);
        assert!(c.add.is_empty());
        assert_eq!(c.remove, ["wip"]);
        // An issue has no draft state: its `wip` label stays.
        let r = rules("rules:\n  - label: wip\n    title: '.'\n    draft: false\n");
        s.is_pull = false;
        s.labels = vec!["wip".into()];
        assert!(r.decide(&s).is_empty(), "{:?}", r.decide(&s));
    }

    #[test]
    fn title_body_and_author_rules() {
        let r = rules(
            "rules:\n  - label: docs\n    title: '(?i)\\bdocs?\\b'\n  - label: bc-breaking\n    body: 'BC[- ]breaking'\n  - label: bot\n    authors: ['Dependabot[bot]']\n",
        );
        let mut s = pr(&[], &[]);
        s.title = "Update DOCS for x".into();
        s.body = "This is BC-breaking.".into();
        s.author = "dependabot[bot]".into();
        assert_eq!(r.decide(&s).add, ["docs", "bc-breaking", "bot"]);
        s.is_pull = false;
        assert_eq!(r.decide(&s).add, ["docs", "bc-breaking", "bot"]);
    }

    #[test]
    fn label_to_label_rules_chain() {
        let r = rules("rules:\n  - any: [a, b]\n    then: [c]\n  - all: [c, d]\n    then: [e]\n");
        assert_eq!(r.decide(&pr(&[], &["b", "d"])).add, ["c", "e"]);
        assert_eq!(r.decide(&pr(&[], &["b"])).add, ["c"]);
        assert!(r.decide(&pr(&[], &["d"])).add.is_empty());
    }

    #[test]
    fn reserved_prefixes_are_removed_from_the_other_kind() {
        let r = rules(
            "pr-only: ['ciflow/', 'release notes:']\nissue-only: ['needs repro']\nrules:\n  - any: [bug]\n    then: [ciflow/trunk]\n",
        );
        let mut s = pr(&[], &["CIFlow/trunk", "bug", "needs repro"]);
        s.is_pull = false;
        let c = r.decide(&s);
        assert_eq!(
            c.misplaced,
            [("CIFlow/trunk".to_string(), "ciflow/".to_string())]
        );
        // Nor does a rule add a PR-only label to an issue.
        assert!(c.add.is_empty(), "{c:?}");
        s.is_pull = true;
        let c = r.decide(&s);
        assert_eq!(
            c.misplaced,
            [("needs repro".to_string(), "needs repro".to_string())]
        );
    }

    #[test]
    fn only_existing_labels_are_added_as_the_repository_spells_them() {
        let r = rules(CI);
        let c = r
            .decide(&pr(&[".github/a", "docs/b.md"], &[]))
            .only_existing(&["Module: CI".to_string()]);
        assert_eq!(c.add, ["Module: CI"]);
        assert_eq!(c.unknown, ["module: docs"]);
    }

    #[test]
    fn bad_rules_name_their_key() {
        let bad = |yaml: &str| {
            let c: LabelsConfig = serde_yaml::from_str(yaml).expect("yaml");
            Rules::compile(&c)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let e =
            bad("rules:\n  - label: a\n    files: ['src/**']\n  - label: b\n    files: ['a[']\n");
        assert!(
            e.starts_with("`labels.rules[1].files`: invalid glob"),
            "{e}"
        );
        let e = bad("rules:\n  - label: a\n    title: '('\n");
        assert!(e.starts_with("`labels.rules[0].title`"), "{e}");
        let e = bad("rules:\n  - label: a\n");
        assert!(e.contains("needs at least one"), "{e}");
        let e = bad("rules:\n  - label: a\n    any: [b]\n    then: [c]\n");
        assert!(e.contains("not both"), "{e}");
        let e = bad("pr-only: ['']\n");
        assert!(e.starts_with("`labels.pr-only`"), "{e}");
        let e = required_patterns(&["release notes: [".into()])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("`labels.required[0]`"), "{e}");
    }
}
