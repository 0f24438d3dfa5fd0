//! Finding the failed job and step in a workflow, with their positions.
//!
//! The analysis names a job as GitHub shows it (`test (3.12)`, the rendered
//! `name:` of a matrix job) and a step by its name (`Run <command>` for an
//! unnamed `run:` step) and number (1 is "Set up job"). Jobs are keyed by id
//! under `jobs:`; names can hold `${{ }}` expressions.

use regex::Regex;

use super::Unfixable;
use super::edit::{Path, Seg};
use super::yaml::{Doc, Item, Node, Pair, Value};
use crate::report::markdown::code;

/// A job of the workflow.
#[derive(Debug, Clone)]
pub struct JobRef<'d> {
    pub id: String,
    pub pair: &'d Pair,
    /// The job's mapping (through an alias if the job is one).
    pub node: &'d Node,
    pub path: Path,
}

/// A step of a job.
#[derive(Debug, Clone)]
pub struct StepRef<'d> {
    pub index: usize,
    pub node: &'d Node,
    pub path: Path,
    /// The name GitHub shows for it.
    pub display: String,
}

/// The `jobs:` mapping's pairs.
pub fn jobs(doc: &Doc) -> Result<&[Pair], Unfixable> {
    doc.root
        .get("jobs")
        .map(|j| doc.resolve(j))
        .and_then(Node::mapping)
        .ok_or_else(|| Unfixable::BadWorkflow("the workflow has no `jobs:` mapping".into()))
}

fn job_ref<'d>(doc: &'d Doc, pair: &'d Pair) -> JobRef<'d> {
    JobRef {
        id: pair.key.clone(),
        pair,
        node: doc.resolve(&pair.value),
        path: vec![Seg::Key("jobs".into()), Seg::Key(pair.key.clone())],
    }
}

/// A `name:` (or any shown text) with `${{ }}` expressions, as a regex that
/// matches its rendered forms.
fn template(text: &str) -> Option<Regex> {
    if !text.contains("${{") {
        return None;
    }
    let mut pattern = String::from("^");
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        pattern.push_str(&regex::escape(&rest[..start]));
        match rest[start..].find("}}") {
            Some(end) => {
                pattern.push_str(".*?");
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    regex::RegexBuilder::new(&pattern)
        .size_limit(1 << 20)
        .build()
        .ok()
}

/// How well a job matches the name GitHub showed: 3 exactly (its id or
/// literal `name:`), 2 as a matrix leg of its literal name or id
/// (`name (values)`), 1 through a name template (`Test on ${{ ... }}`), 0 not
/// at all. A literal name is what GitHub shows; a template could render to
/// many names, so it only counts when nothing literal matches.
fn job_score(id: &str, job: &Node, shown: &str) -> u8 {
    let name = job.get("name").and_then(Node::str);
    if shown == id || name == Some(shown) {
        return 3;
    }
    let has_matrix = job.get("strategy").and_then(|s| s.get("matrix")).is_some();
    let base = name.filter(|n| !n.contains("${{")).unwrap_or(id);
    if has_matrix
        && shown
            .strip_prefix(base)
            .is_some_and(|r| r.starts_with(" (") && r.ends_with(')'))
    {
        return 2;
    }
    if let Some(re) = name.and_then(template)
        && re.is_match(shown)
    {
        return 1;
    }
    0
}

/// The job the analysis names (or `id` when given).
pub fn find_job<'d>(
    doc: &'d Doc,
    shown: Option<&str>,
    id: Option<&str>,
) -> Result<JobRef<'d>, Unfixable> {
    let all = jobs(doc)?;
    if let Some(id) = id {
        return all
            .iter()
            .find(|p| p.key == id)
            .map(|p| job_ref(doc, p))
            .ok_or_else(|| {
                Unfixable::NotApplicable(format!("the workflow has no job {}", code(id)))
            });
    }
    let Some(shown) = shown else {
        return match all {
            [only] => Ok(job_ref(doc, only)),
            _ => Err(Unfixable::NotApplicable(
                "the analysis does not say which job failed and the workflow has several (pass --job)".into(),
            )),
        };
    };
    let scored: Vec<(u8, &Pair)> = all
        .iter()
        .map(|p| (job_score(&p.key, doc.resolve(&p.value), shown), p))
        .filter(|(s, _)| *s > 0)
        .collect();
    let best = scored.iter().map(|(s, _)| *s).max().unwrap_or(0);
    let top: Vec<&Pair> = scored
        .iter()
        .filter(|(s, _)| *s == best)
        .map(|(_, p)| *p)
        .collect();
    match top.as_slice() {
        [one] => Ok(job_ref(doc, one)),
        [] => {
            // `caller / called`: a job of a reusable workflow.
            if let Some((caller, _)) = shown.split_once(" / ")
                && let Some(p) = all
                    .iter()
                    .find(|p| job_score(&p.key, doc.resolve(&p.value), caller) > 0)
                && doc.resolve(&p.value).get("uses").is_some()
            {
                return Err(reusable(doc, p));
            }
            Err(Unfixable::NotApplicable(format!(
                "no job of the workflow matches the failed job {}",
                code(shown)
            )))
        }
        _ => Err(Unfixable::NotApplicable(format!(
            "several jobs match the failed job {} (pass --job)",
            code(shown)
        ))),
    }
}

fn reusable(doc: &Doc, p: &Pair) -> Unfixable {
    let uses = doc
        .resolve(&p.value)
        .get("uses")
        .and_then(Node::str)
        .unwrap_or("another workflow");
    Unfixable::Unsupported(format!(
        "job {} calls the reusable workflow {}; the failure is in that workflow, which has to be fixed instead",
        code(&p.key),
        code(uses)
    ))
}

/// Refuse jobs that call a reusable workflow.
pub fn require_steps<'d>(doc: &'d Doc, job: &JobRef<'d>) -> Result<&'d Node, Unfixable> {
    if job.node.get("uses").is_some() {
        return Err(reusable(doc, job.pair));
    }
    job.node
        .get("steps")
        .map(|s| doc.resolve(s))
        .filter(|s| s.sequence().is_some())
        .ok_or_else(|| Unfixable::BadWorkflow(format!("job {} has no steps", code(&job.id))))
}

/// Step `index` of `items`, the steps of `job`.
pub fn step_ref<'d>(
    doc: &'d Doc,
    job: &JobRef<'d>,
    items: &'d [Item],
    index: usize,
) -> Option<StepRef<'d>> {
    let node = doc.resolve(&items.get(index)?.node);
    let mut path = job.path.clone();
    path.push(Seg::Key("steps".into()));
    path.push(Seg::Index(index));
    Some(StepRef {
        index,
        node,
        path,
        display: step_display(node),
    })
}

/// The name GitHub shows for a step.
pub fn step_display(step: &Node) -> String {
    if let Some(name) = step.get("name").and_then(Node::str) {
        return name.to_string();
    }
    if let Some(uses) = step.get("uses").and_then(Node::str) {
        return format!("Run {uses}");
    }
    let run = step.get("run").and_then(Node::str).unwrap_or_default();
    let first = run
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    format!("Run {first}")
}

fn display_matches(display: &str, shown: &str) -> bool {
    display == shown || template(display).is_some_and(|re| re.is_match(shown))
}

/// Steps GitHub numbers before the workflow's own: "Set up job", and
/// "Initialize containers" for jobs with a container or services.
fn first_number(job: &Node) -> u64 {
    if job.get("container").is_some() || job.get("services").is_some() {
        3
    } else {
        2
    }
}

/// The failed step: by name (numbers break ties), else by number when no
/// name is known.
pub fn find_step<'d>(
    doc: &'d Doc,
    job: &JobRef<'d>,
    shown: Option<&str>,
    number: Option<u64>,
) -> Result<Option<StepRef<'d>>, Unfixable> {
    let steps_node = require_steps(doc, job)?;
    let items = steps_node.sequence().unwrap_or(&[]);
    let make = |i: usize| step_ref(doc, job, items, i);
    let by_number = number
        .and_then(|n| n.checked_sub(first_number(job.node)))
        .and_then(|i| usize::try_from(i).ok())
        .filter(|i| *i < items.len());
    let Some(shown) = shown.filter(|s| !s.trim().is_empty()) else {
        return Ok(by_number.and_then(make));
    };
    let displays: Vec<String> = items
        .iter()
        .map(|i| step_display(doc.resolve(&i.node)))
        .collect();
    // A step shown under its literal name is that step, whatever a
    // templated name elsewhere could render to.
    let mut hits: Vec<usize> = (0..items.len()).filter(|i| displays[*i] == shown).collect();
    if hits.is_empty() {
        hits = (0..items.len())
            .filter(|i| display_matches(&displays[*i], shown))
            .collect();
    }
    if hits.is_empty() {
        // GitHub shortens long step names; accept a unique prefix.
        if shown.chars().count() >= 20 {
            hits = (0..items.len())
                .filter(|i| displays[*i].starts_with(shown.trim_end_matches("...")))
                .collect();
        }
    }
    let pick = match (hits.as_slice(), by_number) {
        ([], _) => None,
        ([one], _) => Some(*one),
        (many, Some(n)) => many.iter().copied().min_by_key(|i| i.abs_diff(n)),
        (many, None) => many.first().copied(),
    };
    Ok(pick.and_then(make))
}

/// The same step (by what GitHub shows for it) in another version of the
/// workflow: the nearest index wins among equals.
pub fn relocate_step<'d>(
    doc: &'d Doc,
    job: &JobRef<'d>,
    display: &str,
    near: usize,
) -> Result<Option<StepRef<'d>>, Unfixable> {
    let steps_node = require_steps(doc, job)?;
    let items = steps_node.sequence().unwrap_or(&[]);
    let best = (0..items.len())
        .filter(|i| step_display(doc.resolve(&items[*i].node)) == display)
        .min_by_key(|i| i.abs_diff(near));
    Ok(best.and_then(|i| step_ref(doc, job, items, i)))
}

/// Runner operating systems a job may run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
    /// Self-hosted or unknown labels, or an expression we cannot resolve.
    Unknown,
}

fn os_of_label(label: &str) -> Os {
    let l = label.to_ascii_lowercase();
    if l.contains("ubuntu") || l == "linux" {
        Os::Linux
    } else if l.contains("macos") {
        Os::MacOs
    } else if l.contains("windows") {
        Os::Windows
    } else {
        Os::Unknown
    }
}

/// The strings of a scalar or a list of scalars.
fn strings(doc: &Doc, node: &Node) -> Vec<String> {
    match &doc.resolve(node).value {
        Value::Scalar(s) => vec![s.text.clone()],
        Value::Sequence(items) => items
            .iter()
            .filter_map(|i| doc.resolve(&i.node).str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Matrix values of `key` (dimension values and `include:` entries).
pub fn matrix_values(doc: &Doc, job: &Node, key: &str) -> Vec<String> {
    let Some(matrix) = job
        .get("strategy")
        .and_then(|s| s.get("matrix"))
        .map(|m| doc.resolve(m))
    else {
        return Vec::new();
    };
    let mut out = matrix.get(key).map(|d| strings(doc, d)).unwrap_or_default();
    if let Some(include) = matrix
        .get("include")
        .map(|i| doc.resolve(i))
        .and_then(Node::sequence)
    {
        for entry in include {
            if let Some(v) = doc.resolve(&entry.node).get(key).and_then(Node::str) {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// The operating systems `runs-on` can select (`${{ matrix.KEY }}` is looked up).
pub fn runner_os(doc: &Doc, job: &Node) -> Vec<Os> {
    let Some(runs_on) = job.get("runs-on").map(|r| doc.resolve(r)) else {
        return vec![Os::Unknown];
    };
    // `runs-on: {group, labels}` selects by its labels.
    let labels = match runs_on.get("labels") {
        Some(l) => strings(doc, l),
        None => strings(doc, runs_on),
    };
    let expr = Regex::new(r"^\$\{\{\s*matrix\.([A-Za-z0-9_-]+)\s*\}\}$").ok();
    let mut out = Vec::new();
    for label in &labels {
        let label = label.trim();
        if let Some(key) = expr
            .as_ref()
            .and_then(|re| re.captures(label))
            .and_then(|c| c.get(1))
        {
            let values = matrix_values(doc, job, key.as_str());
            if values.is_empty() {
                out.push(Os::Unknown);
            }
            out.extend(values.iter().map(|v| os_of_label(v)));
        } else if label.contains("${{") {
            out.push(Os::Unknown);
        } else {
            out.push(os_of_label(label));
        }
    }
    // A label list selects one runner: `[self-hosted, linux]` is Linux.
    if runs_on.sequence().is_some() && out.iter().any(|o| *o != Os::Unknown) {
        out.retain(|o| *o != Os::Unknown);
    }
    if out.is_empty() {
        out.push(Os::Unknown);
    }
    out.sort();
    out.dedup();
    out
}

/// `working-directory` of a run step, else the job's or workflow's `defaults.run`.
pub fn working_directory<'d>(doc: &'d Doc, job: &'d Node, step: &'d Node) -> Option<&'d str> {
    let from_defaults = |n: &'d Node| {
        n.get("defaults")
            .and_then(|d| d.get("run"))
            .and_then(|r| r.get("working-directory"))
            .and_then(Node::str)
    };
    step.get("working-directory")
        .and_then(Node::str)
        .or_else(|| from_defaults(job))
        .or_else(|| from_defaults(&doc.root))
}

/// Whether the workflow can be dispatched, and without required inputs.
pub fn dispatchable(doc: &Doc) -> bool {
    let Some(on) = doc.root.get("on") else {
        return false;
    };
    match &doc.resolve(on).value {
        Value::Scalar(s) => s.text == "workflow_dispatch",
        Value::Sequence(items) => items
            .iter()
            .any(|i| i.node.str() == Some("workflow_dispatch")),
        Value::Mapping(pairs) => pairs.iter().any(|p| {
            p.key == "workflow_dispatch"
                && !p
                    .value
                    .get("inputs")
                    .and_then(Node::mapping)
                    .unwrap_or(&[])
                    .iter()
                    .any(|input| {
                        input.value.get("required").and_then(Node::str) == Some("true")
                            && input.value.get("default").is_none()
                    })
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WF: &str = r#"name: CI
on: [push, workflow_dispatch]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          ruff check .
          ruff format --check
  test:
    name: test (${{ matrix.python }})
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        python: ['3.11', '3.12']
        os: [ubuntu-latest, macos-14]
    steps:
      - uses: actions/checkout@v4
      - name: Install
        run: pip install -e .
      - name: Tests on ${{ matrix.os }}
        run: pytest -q
  build:
    runs-on: [self-hosted, linux]
    container: node:20
    steps:
      - run: make
  call:
    uses: octo/wf/.github/workflows/build.yml@main
"#;

    fn doc() -> Doc {
        match Doc::parse(WF) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn jobs_by_id_name_template_and_matrix() {
        let d = doc();
        assert_eq!(
            find_job(&d, Some("lint"), None).map(|j| j.id),
            Ok("lint".into())
        );
        assert_eq!(
            find_job(&d, Some("test (3.12)"), None).map(|j| j.id),
            Ok("test".into())
        );
        assert_eq!(
            find_job(&d, None, Some("build")).map(|j| j.id),
            Ok("build".into())
        );
        assert!(matches!(
            find_job(&d, Some("deploy"), None),
            Err(Unfixable::NotApplicable(_))
        ));
        assert!(matches!(
            find_job(&d, Some("call / build"), None),
            Err(Unfixable::Unsupported(_))
        ));
        let call = find_job(&d, Some("call"), None).expect("job");
        assert!(matches!(
            require_steps(&d, &call),
            Err(Unfixable::Unsupported(_))
        ));
    }

    #[test]
    fn steps_by_name_number_and_run_line() {
        let d = doc();
        let lint = find_job(&d, Some("lint"), None).expect("lint");
        let s = find_step(&d, &lint, Some("Run ruff check ."), Some(3))
            .expect("ok")
            .expect("step");
        assert_eq!(s.index, 1);
        let s = find_step(&d, &lint, None, Some(2))
            .expect("ok")
            .expect("step");
        assert_eq!(s.display, "Run actions/checkout@v4");
        let test = find_job(&d, Some("test (3.12)"), None).expect("test");
        let s = find_step(&d, &test, Some("Tests on macos-14"), None)
            .expect("ok")
            .expect("step");
        assert_eq!(s.index, 2);
        assert!(
            find_step(&d, &test, Some("Nope"), Some(3))
                .expect("ok")
                .is_none()
        );
        let build = find_job(&d, Some("build"), None).expect("build");
        // "Initialize containers" takes number 2.
        let s = find_step(&d, &build, None, Some(3))
            .expect("ok")
            .expect("step");
        assert_eq!(s.index, 0);
    }

    const WF_TEMPLATES: &str = r#"on: push
jobs:
  any:
    name: ${{ matrix.label }}
    runs-on: ubuntu-latest
    strategy:
      matrix:
        label: [one, two]
    steps:
      - name: Tests on ${{ matrix.os }}
        run: make check
      - name: Tests on linux
        run: make test
  unit:
    name: Test
    runs-on: ubuntu-latest
    strategy:
      matrix:
        arch: [x64, arm64]
    steps:
      - run: make test
  cross:
    name: Test ${{ matrix.arch }}
    runs-on: ubuntu-latest
    steps:
      - run: make cross
"#;

    #[test]
    fn a_literal_name_wins_over_templates_and_ties_are_refused() {
        let d = match Doc::parse(WF_TEMPLATES) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        // `Test (x64)`: the literal `Test` plus matrix values; the templates
        // `${{ matrix.label }}` and `Test ${{ matrix.arch }}` render to it too.
        assert_eq!(
            find_job(&d, Some("Test (x64)"), None).map(|j| j.id),
            Ok("unit".into())
        );
        assert_eq!(
            find_job(&d, Some("Test"), None).map(|j| j.id),
            Ok("unit".into())
        );
        // Only templates match, and two of them: refused, not guessed.
        assert!(matches!(
            find_job(&d, Some("Test arm64"), None),
            Err(Unfixable::NotApplicable(_))
        ));
        // One template alone is enough.
        assert_eq!(
            find_job(&d, Some("nightly"), None).map(|j| j.id),
            Ok("any".into())
        );
        let any = find_job(&d, None, Some("any")).expect("job");
        let s = find_step(&d, &any, Some("Tests on linux"), None)
            .expect("ok")
            .expect("step");
        assert_eq!(s.index, 1);
        let s = find_step(&d, &any, Some("Tests on macos-14"), None)
            .expect("ok")
            .expect("step");
        assert_eq!(s.index, 0);
    }

    #[test]
    fn runner_oses() {
        let d = doc();
        let os = |id: &str| runner_os(&d, find_job(&d, None, Some(id)).expect("job").node);
        assert_eq!(os("lint"), vec![Os::Linux]);
        assert_eq!(os("test"), vec![Os::Linux, Os::MacOs]);
        assert_eq!(os("build"), vec![Os::Linux]);
        assert!(dispatchable(&d));
    }
}
