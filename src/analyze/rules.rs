//! Log rules: the data format ([`RuleSpec`]), validation, and the compiled
//! matcher ([`RuleSet`]) that tries every rule on a line in one pass.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::Category;
use super::keywords::Keywords;
use crate::logs::clean::truncate_chars;

/// The built-in rule files, compiled into the binary.
const BUILTIN_FILES: &[(&str, &str)] = &[
    ("github.yml", include_str!("../../rules/github.yml")),
    ("system.yml", include_str!("../../rules/system.yml")),
    ("python.yml", include_str!("../../rules/python.yml")),
    ("rust.yml", include_str!("../../rules/rust.yml")),
    ("cpp.yml", include_str!("../../rules/cpp.yml")),
    ("java.yml", include_str!("../../rules/java.yml")),
    ("js.yml", include_str!("../../rules/js.yml")),
    ("go.yml", include_str!("../../rules/go.yml")),
    ("docker.yml", include_str!("../../rules/docker.yml")),
    ("other.yml", include_str!("../../rules/other.yml")),
    ("generic.yml", include_str!("../../rules/generic.yml")),
];

/// Compiled size limit per pattern; user patterns beyond it are rejected
/// with an error instead of costing unbounded memory.
const REGEX_SIZE_LIMIT: usize = 4 * 1024 * 1024;
/// Lowest and highest priority a rule may have.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i32> = 0..=100;
/// Rules at or above this priority describe the whole job (timeouts,
/// cancellation, lost runners) and are reported from any step.
pub const JOB_LEVEL_PRIORITY: i32 = 90;

fn default_priority() -> i32 {
    50
}

/// A runner annotation a rule can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Annotation {
    /// `##[error]` lines.
    Error,
    /// `##[warning]` lines.
    Warning,
}

/// One log rule, as written in `rules/*.yml` or in a repository's config
/// under `analyze.rules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleSpec {
    /// Stable identifier, used in fingerprints and reports.
    pub id: String,
    pub category: Category,
    /// Rust `regex` syntax, matched against one cleaned line (as bytes,
    /// with ASCII classes: `(?u:...)` opts into Unicode where needed).
    pub pattern: String,
    /// 0-100, higher is a more likely cause.
    #[serde(default = "default_priority")]
    pub priority: i32,
    /// Named groups of `pattern` that identify the failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<String>,
    /// Whether `heal` knows a fix.
    #[serde(default)]
    pub fixable: bool,
    /// A line matching this regex is not reported by the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_if: Option<String>,
    /// Literals (any case) of which every matching line contains one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Only match lines carrying this runner annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation: Option<Annotation>,
    /// Short title; `{name}` is replaced by that capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The line only heads a list of failures (`Failures:`): the first
    /// non-blank line below it is reported instead, unless a rule of higher
    /// priority or another header reports that line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub header: bool,
    /// The line heads a list of failures the tool allows (a link checker's
    /// `> White listed:`): neither it nor anything below it, up to the next
    /// blank line in the same step, is reported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allowed_list: bool,
    /// Lines that must match (checked when the rules are loaded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// Lines that must not match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counter_examples: Vec<String>,
}

/// Why a rule set could not be built. Every variant names the rule.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("rule `{id}`: invalid pattern: {source}")]
    Pattern {
        id: String,
        #[source]
        source: regex::Error,
    },
    #[error("rule `{id}`: invalid ignore-if pattern: {source}")]
    IgnoreIf {
        id: String,
        #[source]
        source: regex::Error,
    },
    #[error("rule `{id}`: capture `{name}` is not a named group of the pattern")]
    UnknownCapture { id: String, name: String },
    #[error("rule id `{id}` is defined twice")]
    DuplicateId { id: String },
    #[error("rule `{id}`: priority {priority} is outside 0..=100")]
    Priority { id: String, priority: i32 },
    #[error("rule `{id}`: {reason}")]
    Invalid { id: String, reason: String },
    #[error("rule `{id}`: example does not match: {example:?}")]
    Example { id: String, example: String },
    #[error("rule `{id}`: example contains none of the rule's keywords: {example:?}")]
    KeywordMissing { id: String, example: String },
    #[error("rule `{id}`: counter-example matches: {example:?}")]
    CounterExample { id: String, example: String },
    #[error("built-in rules file {file}: {message}")]
    Builtin { file: &'static str, message: String },
    #[error("the rules do not fit in one matcher: {0}")]
    Set(String),
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) spec: RuleSpec,
    pub(crate) regex: Regex,
    pub(crate) ignore: Option<Regex>,
}

#[derive(Debug, Default)]
struct Inner {
    rules: Vec<Rule>,
    /// All keywords of all rules, found in one pass over a line.
    keywords: Option<Keywords>,
    /// For each keyword, the rules that listed it.
    keyword_rules: Vec<Vec<usize>>,
    /// Rules tried on every line (no keywords, no annotation).
    always: Vec<usize>,
    /// Rules without keywords that require an annotation.
    annotated: Vec<usize>,
    /// Rank of each rule in trial order: priority descending, then file order.
    rank: Vec<usize>,
}

/// A compiled set of rules. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RuleSet {
    inner: Arc<Inner>,
}

/// Parses every built-in rule file.
pub fn builtin_specs() -> Result<Vec<RuleSpec>, RuleError> {
    let mut out = Vec::new();
    for (file, text) in BUILTIN_FILES {
        let specs: Vec<RuleSpec> = serde_yaml::from_str(text).map_err(|e| RuleError::Builtin {
            file,
            message: e.to_string(),
        })?;
        out.extend(specs);
    }
    Ok(out)
}

/// A rule's regex: matched on bytes with ASCII classes, size-limited.
fn compile_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

fn compile_one(spec: RuleSpec) -> Result<Rule, RuleError> {
    let id = spec.id.clone();
    if id.trim().is_empty() {
        return Err(RuleError::Invalid {
            id,
            reason: "the id is empty".into(),
        });
    }
    if !PRIORITY_RANGE.contains(&spec.priority) {
        return Err(RuleError::Priority {
            id,
            priority: spec.priority,
        });
    }
    if spec.keywords.iter().any(|k| k.is_empty()) {
        return Err(RuleError::Invalid {
            id,
            reason: "a keyword is empty".into(),
        });
    }
    let regex = compile_regex(&spec.pattern).map_err(|source| RuleError::Pattern {
        id: id.clone(),
        source,
    })?;
    let ignore = match &spec.ignore_if {
        Some(p) => Some(compile_regex(p).map_err(|source| RuleError::IgnoreIf {
            id: id.clone(),
            source,
        })?),
        None => None,
    };
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    for name in &spec.captures {
        if !names.contains(&name.as_str()) {
            return Err(RuleError::UnknownCapture {
                id,
                name: name.clone(),
            });
        }
    }
    let rule = Rule {
        spec,
        regex,
        ignore,
    };
    rule.check_examples()?;
    Ok(rule)
}

impl Rule {
    /// Whether the rule reports `body` (pattern matches, ignore-if does not).
    pub(crate) fn reports(&self, body: &[u8]) -> bool {
        self.regex.is_match(body) && !self.ignore.as_ref().is_some_and(|r| r.is_match(body))
    }

    fn check_examples(&self) -> Result<(), RuleError> {
        let id = &self.spec.id;
        for ex in &self.spec.examples {
            if !self.reports(ex.as_bytes()) {
                return Err(RuleError::Example {
                    id: id.clone(),
                    example: ex.clone(),
                });
            }
            let lower = ex.to_lowercase();
            if !self.spec.keywords.is_empty()
                && !self
                    .spec
                    .keywords
                    .iter()
                    .any(|k| lower.contains(&k.to_lowercase()))
            {
                return Err(RuleError::KeywordMissing {
                    id: id.clone(),
                    example: ex.clone(),
                });
            }
        }
        for ex in &self.spec.counter_examples {
            if self.reports(ex.as_bytes()) {
                return Err(RuleError::CounterExample {
                    id: id.clone(),
                    example: ex.clone(),
                });
            }
        }
        Ok(())
    }

    /// The captures to report: the listed ones, or every named group.
    pub(crate) fn captures(&self, body: &[u8]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(caps) = self.regex.captures(body) else {
            return out;
        };
        for name in self.regex.capture_names().flatten() {
            if !self.spec.captures.is_empty() && !self.spec.captures.iter().any(|c| c == name) {
                continue;
            }
            if let Some(m) = caps.name(name) {
                let value = String::from_utf8_lossy(m.as_bytes());
                let value = value.trim();
                if !value.is_empty() {
                    out.insert(name.to_string(), truncate_chars(value, MAX_CAPTURE_CHARS));
                }
            }
        }
        out
    }
}

/// Longest capture value kept.
const MAX_CAPTURE_CHARS: usize = 300;

static BUILTIN: OnceLock<RuleSet> = OnceLock::new();

impl RuleSet {
    /// The built-in rules (compiled once per process).
    pub fn builtin() -> RuleSet {
        BUILTIN
            .get_or_init(|| match Self::try_builtin() {
                Ok(r) => r,
                Err(e) => {
                    // Unreachable while the unit tests pass; degrade rather than panic.
                    tracing::error!("built-in rules are invalid: {e}");
                    Self::empty()
                }
            })
            .clone()
    }

    /// The built-in rules, reporting any error.
    pub fn try_builtin() -> Result<RuleSet, RuleError> {
        Self::from_specs(builtin_specs()?)
    }

    /// The built-in rules plus a repository's own. A repository rule with
    /// the id of a built-in one replaces it.
    pub fn with_extra(extra: Vec<RuleSpec>) -> Result<RuleSet, RuleError> {
        if extra.is_empty() {
            return Ok(Self::builtin());
        }
        // Two repository rules with one id are rejected by `from_specs`.
        let mut specs: Vec<RuleSpec> = builtin_specs()?
            .into_iter()
            .filter(|b| !extra.iter().any(|e| e.id == b.id))
            .collect();
        specs.extend(extra);
        Self::from_specs(specs)
    }

    /// A rule set without any rule.
    pub fn empty() -> RuleSet {
        RuleSet {
            inner: Arc::default(),
        }
    }

    /// Compiles and validates exactly these rules.
    ///
    /// Matching is two-staged: one Aho-Corasick pass finds every keyword of
    /// every rule in the line; only rules whose keyword occurs (plus rules
    /// without keywords) run their regex, in priority order, and the first
    /// that reports the line wins. A `RegexSet` over all patterns was tried
    /// first: determinising its lazy DFA dominated the profile (129 MB/s).
    pub fn from_specs(specs: Vec<RuleSpec>) -> Result<RuleSet, RuleError> {
        let mut ids = HashSet::new();
        let mut rules = Vec::with_capacity(specs.len());
        for spec in specs {
            if !ids.insert(spec.id.clone()) {
                return Err(RuleError::DuplicateId { id: spec.id });
            }
            rules.push(compile_one(spec)?);
        }
        Self::build(rules)
    }

    fn build(rules: Vec<Rule>) -> Result<RuleSet, RuleError> {
        let mut words: Vec<String> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        let mut annotated = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.spec.keywords.is_empty() {
                if r.spec.annotation.is_some() {
                    annotated.push(i);
                } else {
                    always.push(i);
                }
                continue;
            }
            for k in &r.spec.keywords {
                let k = prefilter_key(k);
                let idx = match words.iter().position(|w| *w == k) {
                    Some(x) => x,
                    None => {
                        words.push(k);
                        keyword_rules.push(Vec::new());
                        words.len() - 1
                    }
                };
                if let Some(list) = keyword_rules.get_mut(idx)
                    && !list.contains(&i)
                {
                    list.push(i);
                }
            }
        }
        let keywords = Keywords::new(&words).map_err(RuleError::Set)?;
        let mut order: Vec<usize> = (0..rules.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(rules[i].spec.priority), i));
        let mut rank = vec![0; rules.len()];
        for (pos, &i) in order.iter().enumerate() {
            rank[i] = pos;
        }
        Ok(RuleSet {
            inner: Arc::new(Inner {
                rules,
                keywords,
                keyword_rules,
                always,
                annotated,
                rank,
            }),
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.inner.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.rules.is_empty()
    }

    /// The rules' specifications, in matching order.
    pub fn specs(&self) -> impl Iterator<Item = &RuleSpec> {
        self.inner.rules.iter().map(|r| &r.spec)
    }

    pub(crate) fn rule(&self, index: usize) -> Option<&Rule> {
        self.inner.rules.get(index)
    }

    /// The best rule reporting this line body: highest priority, then the
    /// first defined. `scratch` is reused between calls.
    pub(crate) fn best_match(
        &self,
        body: &[u8],
        annotation: Option<Annotation>,
        scratch: &mut Vec<usize>,
    ) -> Option<usize> {
        let first_keyword_end = self.inner.keywords.as_ref().and_then(|k| k.first_end(body));
        self.best_match_after(body, first_keyword_end, annotation, scratch)
    }

    /// Where the first keyword ends in each of `bodies` (see
    /// [`Self::best_match_after`]), found two lines at a time.
    pub(crate) fn first_keyword_ends(&self, bodies: &[&[u8]], ends: &mut Vec<Option<usize>>) {
        match &self.inner.keywords {
            Some(k) => k.first_ends(bodies, ends),
            None => {
                ends.clear();
                ends.resize(bodies.len(), None);
            }
        }
    }

    /// [`Self::best_match`], given where the first keyword in `body` ends
    /// (from [`Self::first_keyword_ends`]).
    pub(crate) fn best_match_after(
        &self,
        body: &[u8],
        first_keyword_end: Option<usize>,
        annotation: Option<Annotation>,
        scratch: &mut Vec<usize>,
    ) -> Option<usize> {
        let inner = &*self.inner;
        if inner.rules.is_empty() || body.is_empty() {
            return None;
        }
        scratch.clear();
        if let (Some(k), Some(end)) = (&inner.keywords, first_keyword_end) {
            // No keyword ends before the first one, so none starts more
            // than the longest keyword before that: the search for all of
            // them (overlapping ones too) starts there.
            k.each_from(body, end.saturating_sub(k.max_len()), |word| {
                if let Some(list) = inner.keyword_rules.get(word) {
                    scratch.extend_from_slice(list);
                }
            });
        }
        scratch.extend_from_slice(&inner.always);
        if annotation.is_some() {
            scratch.extend_from_slice(&inner.annotated);
        }
        if scratch.is_empty() {
            return None;
        }
        // Try in priority order; the first rule that reports the line wins.
        scratch.sort_unstable_by_key(|&i| inner.rank.get(i).copied().unwrap_or(usize::MAX));
        scratch.dedup();
        for &i in scratch.iter() {
            let Some(rule) = inner.rules.get(i) else {
                continue;
            };
            if let Some(required) = rule.spec.annotation
                && annotation != Some(required)
            {
                continue;
            }
            if rule.reports(body) {
                return Some(i);
            }
        }
        None
    }
}

/// Keywords longer than this are cut to their prefix for the prefilter: a
/// prefix of a required literal is required too, and shorter keys keep the
/// automaton small enough to stay in cache.
const KEYWORD_PREFIX_BYTES: usize = 8;

fn prefilter_key(k: &str) -> String {
    let lower = k.to_lowercase();
    lower[..lower.floor_char_boundary(KEYWORD_PREFIX_BYTES)].to_string()
}

/// Renders a rule title with captures substituted.
pub fn render_title(template: &str, captures: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match captures.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push('?'),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, pattern: &str) -> RuleSpec {
        RuleSpec {
            id: id.into(),
            category: Category::Unknown,
            pattern: pattern.into(),
            priority: 50,
            captures: vec![],
            fixable: false,
            ignore_if: None,
            keywords: vec![],
            annotation: None,
            title: None,
            header: false,
            allowed_list: false,
            examples: vec![],
            counter_examples: vec![],
        }
    }

    #[test]
    fn builtin_rules_compile_and_examples_hold() {
        let errors: Vec<String> = builtin_specs()
            .unwrap()
            .into_iter()
            .filter_map(|s| compile_one(s).err().map(|e| e.to_string()))
            .collect();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        let rules = RuleSet::try_builtin().unwrap();
        assert!(rules.len() > 150, "only {} rules", rules.len());
        // Every built-in rule can be skipped by the keyword prefilter.
        for s in rules.specs() {
            assert!(
                !s.keywords.is_empty() || s.annotation.is_some(),
                "rule {} has no keywords",
                s.id
            );
            assert!(!s.examples.is_empty(), "rule {} has no examples", s.id);
        }
    }

    #[test]
    fn ids_are_unique_and_kebab() {
        let specs = builtin_specs().unwrap();
        let mut ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
        for id in &ids {
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{id}"
            );
        }
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(n, ids.len());
    }

    #[test]
    fn invalid_regex_names_the_rule() {
        let err = RuleSet::with_extra(vec![spec("my-rule", "(unclosed")]).unwrap_err();
        assert!(err.to_string().contains("my-rule"), "{err}");
        let mut s = spec("my-ignore", "x");
        s.ignore_if = Some("[".into());
        assert!(
            RuleSet::from_specs(vec![s])
                .unwrap_err()
                .to_string()
                .contains("my-ignore")
        );
    }

    #[test]
    fn unknown_capture_and_duplicates_rejected() {
        let mut s = spec("cap", "(?P<package>\\w+)");
        s.captures = vec!["pkg".into()];
        assert!(matches!(
            RuleSet::from_specs(vec![s]),
            Err(RuleError::UnknownCapture { .. })
        ));
        let err = RuleSet::with_extra(vec![spec("a", "x"), spec("a", "y")]).unwrap_err();
        assert!(matches!(err, RuleError::DuplicateId { .. }));
        let mut s = spec("prio", "x");
        s.priority = 1000;
        assert!(matches!(
            RuleSet::from_specs(vec![s]),
            Err(RuleError::Priority { .. })
        ));
    }

    #[test]
    fn config_yaml_uses_kebab_case_and_denies_unknown_fields() {
        let yaml = "- id: my-flaky\n  category: network\n  pattern: 'flaky (?P<host>\\S+)'\n  priority: 80\n  captures: [host]\n  ignore-if: 'ignored'\n  fixable: true\n";
        let specs: Vec<RuleSpec> = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(specs[0].ignore_if.as_deref(), Some("ignored"));
        assert!(specs[0].fixable);
        let bad = "- id: x\n  category: network\n  pattern: x\n  colour: red\n";
        assert!(serde_yaml::from_str::<Vec<RuleSpec>>(bad).is_err());
    }

    #[test]
    fn extra_rule_overrides_builtin_and_matches() {
        let mut s = spec("my-flaky", "flaky server (?P<host>\\S+)");
        s.priority = 99;
        s.captures = vec!["host".into()];
        let rules = RuleSet::with_extra(vec![s]).unwrap();
        let mut scratch = Vec::new();
        let i = rules
            .best_match(b"flaky server db1 ETIMEDOUT", None, &mut scratch)
            .unwrap();
        let rule = rules.rule(i).unwrap();
        assert_eq!(rule.spec.id, "my-flaky");
        assert_eq!(rule.captures(b"flaky server db1 ETIMEDOUT")["host"], "db1");
    }

    #[test]
    fn annotation_rules_need_the_annotation() {
        let rules = RuleSet::builtin();
        let mut scratch = Vec::new();
        let body = b"Every PR must have a label";
        assert!(rules.best_match(body, None, &mut scratch).is_none());
        let i = rules
            .best_match(body, Some(Annotation::Error), &mut scratch)
            .unwrap();
        assert_eq!(rules.rule(i).unwrap().spec.id, "gha-error-annotation");
    }

    /// What `best_match` must find: every rule in trial order, each tried
    /// when one of its keywords occurs anywhere in the line.
    fn best_match_reference(
        rules: &RuleSet,
        body: &[u8],
        annotation: Option<Annotation>,
    ) -> Option<usize> {
        let lower = body.to_ascii_lowercase();
        let mut order: Vec<usize> = (0..rules.len()).collect();
        order.sort_by_key(|&i| rules.inner.rank[i]);
        order.into_iter().find(|&i| {
            let r = &rules.inner.rules[i];
            let keyword = r.spec.keywords.is_empty()
                || r.spec
                    .keywords
                    .iter()
                    .any(|k| memchr::memmem::find(&lower, prefilter_key(k).as_bytes()).is_some());
            let annotated = r.spec.annotation.is_none_or(|a| annotation == Some(a));
            let untried =
                r.spec.keywords.is_empty() && r.spec.annotation.is_some() && annotation.is_none();
            keyword && annotated && !untried && r.reports(body)
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 400,
            rng_seed: proptest::test_runner::RngSeed::Fixed(16),
            ..proptest::test_runner::Config::default()
        })]
        /// The overlapping search started near the first keyword finds every
        /// rule a search of the whole line would.
        #[test]
        fn keyword_search_finds_what_a_full_search_finds(
            parts in proptest::collection::vec(0usize..10_000, 1..8),
            error in proptest::bool::ANY,
        ) {
            let rules = RuleSet::builtin();
            let examples: Vec<&String> = rules.specs().flat_map(|s| s.examples.iter()).collect();
            let words: Vec<String> = rules.specs().flat_map(|s| s.keywords.iter().cloned()).collect();
            let mut line = String::new();
            for p in parts {
                match p % 3 {
                    0 => line.push_str(examples[p / 3 % examples.len()]),
                    1 => line.push_str(&words[p / 3 % words.len()].to_uppercase()),
                    _ => line.push_str(&"x: ".repeat(p % 5)),
                }
            }
            let annotation = error.then_some(Annotation::Error);
            let mut scratch = Vec::new();
            proptest::prop_assert_eq!(
                rules.best_match(line.as_bytes(), annotation, &mut scratch),
                best_match_reference(&rules, line.as_bytes(), annotation),
                "{}", line
            );
        }
    }

    #[test]
    fn titles() {
        let mut caps = BTreeMap::new();
        caps.insert("package".to_string(), "yaml".to_string());
        assert_eq!(
            render_title("Module {package} missing", &caps),
            "Module yaml missing"
        );
        assert_eq!(render_title("{nope} {", &caps), "? {");
    }
}
