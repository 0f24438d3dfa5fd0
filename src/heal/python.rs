//! `dependency` (Python): install the distribution that provides the missing module.
//!
//! In order of preference: add it to the requirements file the job installs
//! from, add it to the job's own `pip install` command, or add an install
//! step right before the failing step.

use std::collections::BTreeMap;

use regex::Regex;

use super::edit::{self, Patch, Seg};
use super::locate::{self, StepRef};
use super::pr::code;
use super::yaml::{self, Node};
use super::{Change, Cx, Facts, FileEdit, Proposal, Unfixable, path_chars, safe_name};

/// Longest module or distribution name accepted.
const MAX_NAME: usize = 100;

/// The table of import names and their distributions shipped with
/// ci-medic (see the file's header for what it is and where it comes from).
const TABLE: &str = include_str!("distributions.tsv");

/// Dependency files read (at the root of the repository) to learn whether
/// the repository itself names a distribution.
pub const DEPENDENCY_FILES: &[&str] = &[
    "requirements.txt",
    "requirements-dev.txt",
    "requirements_dev.txt",
    "dev-requirements.txt",
    "requirements-test.txt",
    "requirements_test.txt",
    "requirements-tests.txt",
    "test-requirements.txt",
    "requirements/base.txt",
    "requirements/dev.txt",
    "requirements/test.txt",
    "pyproject.toml",
    "setup.cfg",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "pdm.lock",
    "uv.lock",
];

fn table() -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLE
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(m, d)| (m.trim(), d.trim()))
}

/// The distribution ci-medic's table gives for `module`: the longest entry
/// that is the module or a package above it.
pub fn known_distribution(module: &str) -> Option<&'static str> {
    table()
        .filter(|(m, _)| module == *m || module.strip_prefix(m).is_some_and(|r| r.starts_with('.')))
        .max_by_key(|(m, _)| m.len())
        .map(|(_, d)| d)
}

/// Modules never installed from PyPI: the repository's own usual package
/// names and standard-library modules of newer Pythons. Installing a PyPI
/// project of that name would be wrong, and a dependency-confusion risk.
const NEVER: &[&str] = &[
    "src",
    "test",
    "tests",
    "testing",
    "app",
    "lib",
    "libs",
    "utils",
    "util",
    "common",
    "core",
    "config",
    "settings",
    "main",
    "scripts",
    "tools",
    "setup",
    "conftest",
    "docs",
    "examples",
    "helpers",
    "google",
    "azure",
    "tomllib",
    "typing",
    "asyncio",
    "dataclasses",
    "zoneinfo",
    "graphlib",
    "importlib",
    "contextvars",
    "secrets",
    "statistics",
    "enum",
    "pathlib",
    "json",
    "os",
    "sys",
];

/// Runners that give the command an environment of their own, which no
/// install in the job reaches: the dependency belongs in their config.
const RUNNERS: &[&str] = &[
    "tox",
    "nox",
    "poetry run",
    "pipenv run",
    "hatch run",
    "pdm run",
    "uv run",
    "conda run",
];
/// Virtual environments activated by the failing step: a new install step
/// would install elsewhere.
const ACTIVATES: &[&str] = &["/activate", "\\activate", "conda activate"];

/// The environment runner the script runs its commands through, if any.
fn runner_in(script: &str) -> Option<&'static str> {
    RUNNERS.iter().copied().find(|r| {
        Regex::new(&format!(r"(^|[\s;&|(]){}(\s|$)", regex::escape(r)))
            .is_ok_and(|re| re.is_match(script))
    })
}

/// The module named in the failure, validated.
fn module(facts: &Facts) -> Result<String, Unfixable> {
    let captured = facts.capture("package");
    let ident =
        Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*$").map_err(|e| Unfixable::Invalid(e.to_string()))?;
    if let Some(c) = captured
        && (c.len() > MAX_NAME || !ident.is_match(c))
    {
        return Err(Unfixable::Unsafe(format!(
            "the missing module {} is not a plain Python identifier",
            code(c)
        )));
    }
    let dotted =
        Regex::new(r"No module named '?([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
            .ok()
            .and_then(|re| re.captures(facts.text()))
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string())
            .filter(|m| m.len() <= MAX_NAME);
    match (captured, dotted) {
        // The capture is the top-level module; the text may name a submodule of it.
        (Some(c), Some(d)) if d == c || d.starts_with(&format!("{c}.")) => Ok(d),
        (Some(c), _) => Ok(c.to_string()),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(Unfixable::NotApplicable(
            "only missing Python modules (`No module named ...`) are fixed automatically".into(),
        )),
    }
}

/// Why a distribution is believed to be the right one for a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vouch {
    /// ci-medic's table of import names.
    Table,
    /// The repository's own dependency file at this path names it.
    Listed(String),
}

/// The distribution to install for a missing module, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    pub name: String,
    pub vouch: Vouch,
}

impl Distribution {
    /// One sentence for the reviewer.
    pub fn why(&self, module: &str) -> String {
        match &self.vouch {
            Vouch::Table => format!(
                "Why {}: ci-medic's table of import names maps module {} to it.",
                code(&self.name),
                code(module)
            ),
            Vouch::Listed(path) => format!(
                "Why {}: module {} is not in ci-medic's table of import names, and the repository's own {} names this distribution.",
                code(&self.name),
                code(module),
                code(path)
            ),
        }
    }
}

/// Whether planning a fix for these facts reads the repository's
/// dependency files: a missing module ci-medic's table does not know.
pub fn wants_dependency_files(facts: &Facts) -> bool {
    facts.category == crate::analyze::Category::Dependency
        && module(facts).is_ok_and(|m| known_distribution(&m).is_none())
}

/// The PyPI distribution that provides `module`: from ci-medic's table, or
/// as named by one of the repository's own dependency files (`files`, by
/// path). A name taken from the log alone is never installed: it could be
/// a typo-squat or a package an attacker published.
pub fn distribution(
    module: &str,
    files: &BTreeMap<String, String>,
) -> Result<Distribution, Unfixable> {
    let top = module.split('.').next().unwrap_or(module);
    if let Some(d) = known_distribution(module) {
        return Ok(Distribution {
            name: d.to_string(),
            vouch: Vouch::Table,
        });
    }
    if NEVER.contains(&top) {
        return Err(Unfixable::NotApplicable(format!(
            "module {} is the repository's own or the standard library's, not something to install from PyPI",
            code(top)
        )));
    }
    let guess = top.replace('_', "-");
    let want = normalize(&guess);
    for (path, text) in files {
        if let Some(name) = names_in(path, text)
            .into_iter()
            .find(|n| normalize(n) == want)
        {
            return Ok(Distribution {
                name,
                vouch: Vouch::Listed(path.clone()),
            });
        }
    }
    Err(Unfixable::NotApplicable(format!(
        "module {} is not in ci-medic's table of import names, and no dependency file of the repository (requirements files, `pyproject.toml`, `setup.cfg`, `Pipfile`, lock files) names a distribution for it, so ci-medic cannot tell which package is the right one. If it is {} on PyPI, check that name (a look-alike can be a malicious package) and add it to the job's dependencies by hand",
        code(module),
        code(&guess)
    )))
}

/// The distribution names a dependency file declares, by the kind of file.
pub fn names_in(path: &str, text: &str) -> Vec<String> {
    let file = path.rsplit('/').next().unwrap_or(path);
    match file {
        "pyproject.toml" => pyproject_names(text),
        "Pipfile" => toml_table(text)
            .map(|t| {
                ["packages", "dev-packages"]
                    .iter()
                    .filter_map(|k| t.get(*k).and_then(toml::Value::as_table))
                    .flat_map(|p| p.keys().cloned())
                    .collect()
            })
            .unwrap_or_default(),
        "poetry.lock" | "pdm.lock" | "uv.lock" => lock_names(text),
        "Pipfile.lock" => serde_json::from_str::<serde_json::Value>(text)
            .map(|v| {
                ["default", "develop"]
                    .iter()
                    .filter_map(|k| v.get(*k).and_then(serde_json::Value::as_object))
                    .flat_map(|o| o.keys().cloned())
                    .collect()
            })
            .unwrap_or_default(),
        "setup.cfg" => setup_cfg_names(text),
        // Requirements files, whatever their name.
        _ => text.lines().filter_map(requirement_line).collect(),
    }
}

fn toml_table(text: &str) -> Option<toml::Table> {
    text.parse::<toml::Table>().ok()
}

/// The name a PEP 508 requirement string names, if any.
fn pep508_name(s: &str) -> Option<String> {
    let name = requirement_name(s.trim());
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        .then(|| name.to_string())
}

/// The name a requirements-file line names (options, URLs and paths name none).
fn requirement_line(line: &str) -> Option<String> {
    let l = line.split(" #").next().unwrap_or("").trim();
    if l.starts_with(['-', '#', '.', '/']) || (l.contains("://") && !l.contains(" @ ")) {
        return None;
    }
    pep508_name(l)
}

/// `[project]` dependencies and optional dependencies, dependency groups,
/// build requirements, and Poetry's and PDM's dependency tables; never the
/// project's own name.
fn pyproject_names(text: &str) -> Vec<String> {
    let Some(t) = toml_table(text) else {
        return Vec::new();
    };
    let strings = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(toml::Value::as_str)
                    .filter_map(pep508_name)
                    .collect()
            })
            .unwrap_or_default()
    };
    let arrays_of = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_table)
            .map(|g| g.values().flat_map(|a| strings(Some(a))).collect())
            .unwrap_or_default()
    };
    let keys_of = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_table)
            .map(|d| d.keys().filter(|k| *k != "python").cloned().collect())
            .unwrap_or_default()
    };
    let get = |path: &[&str]| -> Option<&toml::Value> {
        let (first, rest) = path.split_first()?;
        rest.iter().try_fold(t.get(*first)?, |v, k| v.get(k))
    };
    let mut out = strings(get(&["project", "dependencies"]));
    out.extend(arrays_of(get(&["project", "optional-dependencies"])));
    out.extend(arrays_of(get(&["dependency-groups"])));
    out.extend(strings(get(&["build-system", "requires"])));
    out.extend(arrays_of(get(&["tool", "pdm", "dev-dependencies"])));
    out.extend(keys_of(get(&["tool", "poetry", "dependencies"])));
    out.extend(keys_of(get(&["tool", "poetry", "dev-dependencies"])));
    if let Some(groups) = get(&["tool", "poetry", "group"]).and_then(toml::Value::as_table) {
        for g in groups.values() {
            out.extend(keys_of(g.get("dependencies")));
        }
    }
    out
}

/// The packages a lock file pins. uv also locks the project itself (and
/// local path packages): those are not on PyPI and are left out.
fn lock_names(text: &str) -> Vec<String> {
    let Some(t) = toml_table(text) else {
        return Vec::new();
    };
    let local = |p: &toml::Value| {
        p.get("source")
            .and_then(toml::Value::as_table)
            .is_some_and(|s| {
                ["editable", "virtual", "directory", "path"]
                    .iter()
                    .any(|k| s.contains_key(*k))
            })
    };
    t.get("package")
        .and_then(toml::Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter(|p| !local(p))
                .filter_map(|p| p.get("name").and_then(toml::Value::as_str))
                .filter_map(pep508_name)
                .collect()
        })
        .unwrap_or_default()
}

/// `install_requires`, `setup_requires` and `tests_require` of `[options]`,
/// and every list of `[options.extras_require]`.
fn setup_cfg_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut in_list = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            section = name.trim().to_string();
            in_list = false;
            continue;
        }
        let continued = line.starts_with([' ', '\t']);
        let value = if continued {
            in_list.then_some(trimmed)
        } else if let Some((key, value)) = trimmed.split_once(['=', ':']) {
            let key = key.trim();
            in_list = section == "options.extras_require"
                || section == "options"
                    && matches!(key, "install_requires" | "setup_requires" | "tests_require");
            in_list.then_some(value.trim())
        } else {
            None
        };
        if let Some(v) = value {
            out.extend(v.split(';').next().and_then(pep508_name));
        }
    }
    out
}

/// `Foo_Bar.baz` and `foo-bar-baz` are the same project.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The project name of a requirement (`PyYAML[extra]>=6; python_version...`).
fn requirement_name(req: &str) -> &str {
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    &req[..end]
}

/// pip options that take a value.
const VALUE_FLAGS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-e",
    "--editable",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--python",
    "-p",
    "--upgrade-strategy",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--only-binary",
    "--no-binary",
    "--progress-bar",
    "--src",
    "--cache-dir",
    "--log",
    "--timeout",
    "--retries",
    "--proxy",
    "--trusted-host",
    "--cert",
    "--client-cert",
    "--exists-action",
    "--config-settings",
    "-C",
    "--report",
    "--group",
    "--index",
    "--default-index",
];

/// One `pip install` in a run script.
#[derive(Debug, Clone)]
struct Site {
    step: usize,
    /// Line of the run script, and where in it to add a package.
    line: usize,
    col: usize,
    line_text: String,
    packages: Vec<String>,
    requirements: Vec<String>,
    /// Installs the project itself (`-e .`, `.[test]`).
    local: bool,
}

fn install_re() -> Option<Regex> {
    Regex::new(
        r"(?:^|[\s;&|(`])((?:sudo\s+)?(?:(?:python(?:3(?:\.\d+)?)?|py(?:\s+-3(?:\.\d+)?)?)\s+-m\s+pip|pip3?(?:\.\d+)?|uv\s+pip)\s+install)(?:\s|$)",
    )
    .ok()
}

/// End of the shell command that starts at `from` in `line` (quotes
/// respected), and whether it continues on the next line (`\`).
fn segment_end(line: &str, from: usize) -> (usize, bool) {
    let bytes = line.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b';' | b'&' | b'|' | b')' | b'`' | b'>' | b'<' => break,
                b'#' if i == 0 || bytes[i - 1].is_ascii_whitespace() => break,
                _ => {}
            },
        }
        i += 1;
    }
    let seg = line[from..i].trim_end();
    let continued = i == bytes.len() && seg.ends_with('\\');
    let seg = seg.trim_end_matches('\\').trim_end();
    (from + seg.len(), continued)
}

fn tokens(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|t| t.trim_matches(|c| c == '"' || c == '\'').to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// A path relative to the repository root, if it is a plain one.
fn repo_path(dir: Option<&str>, file: &str) -> Option<String> {
    let joined = match dir {
        Some(d) if !file.starts_with('/') => format!("{}/{file}", d.trim_end_matches('/')),
        _ => file.to_string(),
    };
    let mut parts = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => return None,
            other => parts.push(other),
        }
    }
    let path = parts.join("/");
    let ok = !joined.starts_with('/') && !path.is_empty() && path.len() <= 200 && path_chars(&path);
    ok.then_some(path)
}

fn sites_in(script: &str, step: usize, dir: Option<&str>) -> Vec<Site> {
    let Some(re) = install_re() else {
        return Vec::new();
    };
    let lines: Vec<&str> = script.lines().collect();
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        for m in re.captures_iter(line) {
            let Some(cmd) = m.get(1) else { continue };
            let (end, mut continued) = segment_end(line, cmd.end());
            let mut args = tokens(&line[cmd.end()..end]);
            let mut k = n + 1;
            while continued && k < lines.len() {
                let (e, c) = segment_end(lines[k], 0);
                args.extend(tokens(&lines[k][..e]));
                continued = c;
                k += 1;
            }
            let mut site = Site {
                step,
                line: n,
                // Continued commands get the package right after `install`.
                col: if k > n + 1 { cmd.end() } else { end },
                line_text: (*line).to_string(),
                packages: Vec::new(),
                requirements: Vec::new(),
                local: false,
            };
            let mut it = args.iter();
            while let Some(a) = it.next() {
                let a = a.as_str();
                if let Some(file) = a.strip_prefix("--requirement=").or_else(|| {
                    a.strip_prefix("-r")
                        .filter(|f| !f.is_empty() && !f.starts_with('-'))
                }) {
                    site.requirements.extend(repo_path(dir, file));
                } else if a == "-r" || a == "--requirement" {
                    if let Some(file) = it.next() {
                        site.requirements.extend(repo_path(dir, file));
                    }
                } else if a == "-e" || a == "--editable" {
                    let _ = it.next();
                    site.local = true;
                } else if VALUE_FLAGS.contains(&a) {
                    let _ = it.next();
                } else if a.starts_with('-') {
                } else if a.starts_with('.') || a.contains('/') {
                    site.local = true;
                } else {
                    site.packages.push(a.to_string());
                }
            }
            out.push(site);
        }
    }
    out
}

fn run_path(step: &StepRef<'_>) -> Vec<Seg> {
    edit::key(&step.path, "run")
}

/// Every requirements file the workflow installs from (to fetch before planning).
pub fn requirement_files(workflow: &str) -> Vec<String> {
    let Ok(doc) = yaml::Doc::parse(workflow) else {
        return Vec::new();
    };
    let Ok(jobs) = locate::jobs(&doc) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for j in jobs {
        let job = doc.resolve(&j.value);
        let Some(steps) = job
            .get("steps")
            .map(|s| doc.resolve(s))
            .and_then(Node::sequence)
        else {
            continue;
        };
        for (i, item) in steps.iter().enumerate() {
            let step = doc.resolve(&item.node);
            if let Some(run) = step.get("run").and_then(Node::str) {
                let dir = locate::working_directory(&doc, job, step);
                for s in sites_in(run, i, dir) {
                    out.extend(s.requirements);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn lists(text: &str, dist: &str) -> bool {
    let want = normalize(dist);
    text.lines().any(|l| {
        let l = l.split('#').next().unwrap_or("").trim();
        !l.starts_with('-') && normalize(requirement_name(l)) == want
    })
}

/// Where in the source the run script's line `line_text` is, to splice
/// at column `col`: the line must occur exactly once, as a whole line.
fn source_offset(cx: &Cx<'_>, run: &Node, line_text: &str, col: usize) -> Option<usize> {
    let src = cx.doc.slice(run.span);
    let mut found = None;
    // Every occurrence, overlapping ones included: the next search starts
    // one character (not one byte: the line may start with a multibyte
    // one) after the last match.
    let step = line_text.chars().next().map_or(1, char::len_utf8);
    let mut from = 0;
    while let Some(pos) = src
        .get(from..)
        .and_then(|s| s.find(line_text))
        .map(|p| p + from)
    {
        let before_ok = src[..pos]
            .rsplit('\n')
            .next()
            .is_some_and(|b| b.bytes().all(|c| c == b' ') || pos == 0);
        let after = &src[pos + line_text.len()..];
        let after_ok = after.is_empty() || after.starts_with('\n') || after.starts_with('\r');
        if before_ok && after_ok {
            if found.is_some() {
                return None;
            }
            found = Some(pos);
        }
        from = pos + step;
    }
    found.map(|p| run.span.start + p + col)
}

/// The script with `insert` at (`line`, `col`).
fn insert_at(script: &str, line: usize, col: usize, insert: &str) -> Option<String> {
    let mut offset = 0;
    for (i, l) in script.split_inclusive('\n').enumerate() {
        if i == line {
            let mut out = script.to_string();
            let at = offset + col;
            if !out.is_char_boundary(at) || col > l.len() {
                return None;
            }
            out.insert_str(at, insert);
            return Some(out);
        }
        offset += l.len();
    }
    None
}

pub fn propose(cx: &Cx<'_>) -> Result<Proposal, Unfixable> {
    let module = module(cx.facts())?;
    let dist = distribution(&module, cx.input.files)?;
    let mut planned = install(cx, &module, &dist.name)?;
    planned.changes.push(Change::new(dist.why(&module)));
    Ok(planned)
}

/// Install `dist`, which provides `module`.
fn install(cx: &Cx<'_>, module: &str, dist: &str) -> Result<Proposal, Unfixable> {
    let (module, dist) = (module.to_string(), dist.to_string());
    if !safe_name(&dist, MAX_NAME) {
        return Err(Unfixable::Unsafe(format!(
            "the distribution name {} does not match the allowed pattern",
            code(&dist)
        )));
    }
    if let Some(repo) = cx.facts().repo.as_deref()
        && let Some((_, name)) = repo.split_once('/')
        && normalize(name) == normalize(&dist)
    {
        return Err(Unfixable::NotApplicable(format!(
            "module {} looks like this repository's own package; it is not installed from PyPI",
            code(&module)
        )));
    }
    let steps = locate::require_steps(cx.doc, &cx.job)?;
    let items = steps.sequence().unwrap_or(&[]);
    let last = cx
        .step
        .as_ref()
        .map_or(items.len().saturating_sub(1), |s| s.index);
    // The steps up to the failing one (all when it is unknown), by index.
    let step_refs: Vec<StepRef<'_>> = (0..=last)
        .map_while(|i| locate::step_ref(cx.doc, &cx.job, items, i))
        .collect();
    let shown = |i: usize| step_refs.get(i).map_or("", |r| r.display.as_str());
    let mut sites = Vec::new();
    for step in &step_refs {
        if let Some(script) = cx.string_at(&run_path(step)) {
            let dir = locate::working_directory(cx.doc, cx.job.node, step.node);
            sites.extend(sites_in(script, step.index, dir));
        }
    }
    if let Some(step) = &cx.step
        && let Some(script) = cx.string_at(&run_path(step))
        && let Some(tool) = runner_in(script)
    {
        return Err(Unfixable::NotApplicable(format!(
            "step {} runs Python through {}, which makes its own environment; add {} to the dependencies {} installs",
            code(&step.display),
            code(tool),
            code(&dist),
            code(tool)
        )));
    }
    let want = normalize(&dist);
    let trigger = format!(
        "the job failed with {} and module {} comes from the {} distribution",
        code(cx.facts().text().trim()),
        code(&module),
        code(&dist)
    );
    if let Some(s) = sites.iter().find(|s| {
        s.packages
            .iter()
            .any(|p| normalize(requirement_name(p)) == want)
    }) {
        return Err(Unfixable::NotApplicable(format!(
            "{} is already installed by step {}; the import fails for another reason (another interpreter or environment?)",
            code(&dist),
            code(shown(s.step))
        )));
    }
    let files = cx.input.files;
    for s in &sites {
        for r in &s.requirements {
            if files.get(r).is_some_and(|t| lists(t, &dist)) {
                return Err(Unfixable::NotApplicable(format!(
                    "{} is already listed in {}; the import fails for another reason",
                    code(&dist),
                    code(r)
                )));
            }
        }
    }
    // 1. The requirements file the job installs from.
    if let Some((site, path, text)) = sites.iter().rev().find_map(|s| {
        s.requirements
            .iter()
            .find_map(|r| files.get(r).map(|t| (s, r, t)))
    }) && !text.contains('\0')
    {
        let eol = yaml::eol(text);
        let mut after = text.clone();
        if !after.is_empty() && !after.ends_with('\n') {
            after.push_str(eol);
        }
        after.push_str(&dist);
        after.push_str(eol);
        return Ok(Proposal {
            title: format!("ci: add {dist} to {path}"),
            changes: vec![Change::new(format!(
                "Added {} to {}, which step {} of job {} installs from: {trigger}.",
                code(&dist),
                code(path),
                code(shown(site.step)),
                code(&cx.job.id)
            ))],
            patch: Patch::default(),
            other_files: vec![FileEdit {
                path: path.clone(),
                before: text.clone(),
                after,
            }],
        });
    }
    // 2. The job's own install command (projects and package lists first).
    let mut ordered: Vec<&Site> = sites.iter().rev().collect();
    ordered.sort_by_key(|s| {
        s.packages.iter().all(|p| {
            matches!(
                normalize(requirement_name(p)).as_str(),
                "pip" | "setuptools" | "wheel" | "uv"
            )
        }) && s.requirements.is_empty()
            && !s.local
    });
    for site in ordered {
        let Some(step) = step_refs.get(site.step) else {
            continue;
        };
        let path = run_path(step);
        let (Some(run), Some(script)) = (step.node.get("run"), cx.string_at(&path)) else {
            continue;
        };
        // Edits to a script reached through an alias would change the anchor's other users.
        if !cx.job.pair.span.contains(run.span) {
            continue;
        }
        let insert = format!(" {dist}");
        let (Some(at), Some(expected)) = (
            source_offset(cx, run, &site.line_text, site.col),
            insert_at(script, site.line, site.col, &insert),
        ) else {
            continue;
        };
        let patch = edit::insert_in_scalar(run, &path, at, &insert, &expected)?;
        let (line, _) = cx.doc.line_col(at);
        return Ok(Proposal::new(
            format!("ci: install {dist} in job {}", cx.job.id),
            vec![Change::new(format!(
                "Added {} to the install command {} of step {} (line {} of the workflow): {trigger}.",
                code(&dist),
                code(site.line_text.trim()),
                code(&step.display),
                line + 1
            ))],
            patch,
        ));
    }
    // 3. A new install step right before the failing one.
    let failing = cx.need_step()?;
    if let Some(script) = cx.string_at(&run_path(failing))
        && ACTIVATES.iter().any(|m| script.contains(*m))
    {
        return Err(Unfixable::NotApplicable(format!(
            "step {} runs Python in a virtual environment it activates; install {} into that environment",
            code(&failing.display),
            code(&dist)
        )));
    }
    let entries = vec![
        (
            "name".to_string(),
            edit::string(&format!("Install {dist}"))?,
        ),
        (
            "run".to_string(),
            edit::string(&format!("python -m pip install {dist}"))?,
        ),
    ];
    let patch = edit::insert_item(
        cx.doc,
        steps,
        &edit::key(&cx.job.path, "steps"),
        failing.index,
        &entries,
    )?;
    Ok(Proposal::new(
        format!("ci: install {dist} in job {}", cx.job.id),
        vec![Change::new(format!(
            "Added a step {} running {} right before step {} of job {}: {trigger}, and the job installs no Python packages it could be added to.",
            code(&format!("Install {dist}")),
            code(&format!("python -m pip install {dist}")),
            code(&failing.display),
            code(&cx.job.id)
        ))],
        patch,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(module: &str, files: &[(&str, &str)]) -> Result<Distribution, Unfixable> {
        let files = files
            .iter()
            .map(|(p, t)| ((*p).to_string(), (*t).to_string()))
            .collect();
        distribution(module, &files)
    }

    #[test]
    fn import_names_map_to_distributions_through_the_table() {
        let table = |m: &str| named(m, &[]).map(|d| (d.name, d.vouch));
        assert_eq!(table("yaml"), Ok(("PyYAML".into(), Vouch::Table)));
        assert_eq!(table("cv2"), Ok(("opencv-python".into(), Vouch::Table)));
        assert_eq!(
            table("sklearn.svm"),
            Ok(("scikit-learn".into(), Vouch::Table))
        );
        assert_eq!(table("PIL"), Ok(("Pillow".into(), Vouch::Table)));
        assert_eq!(table("bs4"), Ok(("beautifulsoup4".into(), Vouch::Table)));
        assert_eq!(
            table("google.protobuf.message").map(|d| d.0),
            Ok("protobuf".into())
        );
        assert_eq!(table("requests").map(|d| d.0), Ok("requests".into()));
        assert_eq!(table("ruamel.yaml").map(|d| d.0), Ok("ruamel.yaml".into()));
        assert!(table("src").is_err());
        assert!(table("google").is_err());
        // A name only the log gives is never installed.
        let e = table("evilpkg")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("cannot tell which package"), "{e}");
        // Every entry is well formed.
        for (m, d) in table_entries() {
            assert!(safe_name(d, MAX_NAME), "{m} -> {d}");
            assert!(!m.is_empty() && !m.contains(char::is_whitespace), "{m}");
        }
    }

    fn table_entries() -> Vec<(&'static str, &'static str)> {
        table().collect()
    }

    #[test]
    fn the_repositorys_dependency_files_vouch_for_a_name() {
        let listed = |path: &str, text: &str| named("tmpq_lib", &[(path, text)]);
        let ok = |path: &str, text: &str| {
            assert_eq!(
                listed(path, text),
                Ok(Distribution {
                    name: "tmpq-lib".into(),
                    vouch: Vouch::Listed(path.into())
                }),
                "{path}: {text}"
            );
        };
        ok(
            "requirements.txt",
            "# pinned\ntmpq-lib==1.0 ; python_version > '3'\n",
        );
        ok(
            "pyproject.toml",
            "[project]\nname = \"x\"\ndependencies = [\"tmpq-lib>=2\"]\n",
        );
        ok(
            "pyproject.toml",
            "[project]\nname = \"x\"\n[project.optional-dependencies]\ntest = [\"tmpq-lib\"]\n",
        );
        ok(
            "pyproject.toml",
            "[dependency-groups]\ndev = [\"tmpq-lib\"]\n",
        );
        ok(
            "pyproject.toml",
            "[tool.poetry.group.dev.dependencies]\ntmpq-lib = \"^1\"\n",
        );
        ok(
            "setup.cfg",
            "[metadata]\nname = x\n[options]\ninstall_requires =\n    requests\n    tmpq-lib>=1\n",
        );
        ok("Pipfile", "[dev-packages]\ntmpq-lib = \"*\"\n");
        ok(
            "poetry.lock",
            "[[package]]\nname = \"tmpq-lib\"\nversion = \"1.0\"\n",
        );
        ok(
            "Pipfile.lock",
            "{\"default\": {}, \"develop\": {\"tmpq-lib\": {\"version\": \"==1.0\"}}}",
        );
        // The project's own name is no dependency, nor is uv's lock entry for it.
        for (path, text) in [
            (
                "pyproject.toml",
                "[project]\nname = \"tmpq-lib\"\ndependencies = []\n",
            ),
            (
                "setup.cfg",
                "[metadata]\nname = tmpq-lib\n[options]\ninstall_requires = requests\n",
            ),
            (
                "uv.lock",
                "[[package]]\nname = \"tmpq-lib\"\nversion = \"0.1\"\nsource = { editable = \".\" }\n",
            ),
            (
                "requirements.txt",
                "-e ./tmpq-lib\nhttps://example.com/tmpq_lib.whl\n",
            ),
            ("pyproject.toml", "not toml ["),
        ] {
            assert!(listed(path, text).is_err(), "{path}: {text}");
        }
    }

    #[test]
    fn install_commands_are_read() {
        let s = sites_in(
            "python -m pip install --upgrade pip\npip install -r requirements-dev.txt -e '.[test]'  # deps\nuv pip install --system ruff \\\n  mypy\n",
            0,
            Some("backend"),
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].packages, vec!["pip"]);
        assert_eq!(s[1].requirements, vec!["backend/requirements-dev.txt"]);
        assert!(s[1].local);
        assert_eq!(
            &s[1].line_text[..s[1].col],
            "pip install -r requirements-dev.txt -e '.[test]'"
        );
        assert_eq!(s[2].packages, vec!["ruff", "mypy"]);
        assert_eq!(&s[2].line_text[..s[2].col], "uv pip install");
    }

    #[test]
    fn requirement_names_compare_normalised() {
        assert!(lists(
            "# deps\npyyaml>=6.0 ; python_version > '3'\n",
            "PyYAML"
        ));
        assert!(!lists("pyyaml-include\n", "PyYAML"));
        assert!(repo_path(Some("a"), "../x.txt").is_none());
        assert!(repo_path(None, "${{ x }}.txt").is_none());
        assert_eq!(
            repo_path(Some("./a/"), "./r.txt").as_deref(),
            Some("a/r.txt")
        );
    }
}
