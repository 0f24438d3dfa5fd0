//! `workflow-syntax`: repair what can be repaired mechanically.
//!
//! - tabs in indentation (YAML forbids them);
//! - a key indented off its siblings, found from the parse error's line
//!   (and the line GitHub reported, when the log has it);
//! - values YAML reads differently from what was meant: `yes`/`no`/`on`/`off`
//!   where GitHub wants a boolean, and versions like `3.10` that read as the
//!   number 3.1.
//!
//! Anything else is left to a human. Every candidate repair must make the
//! file parse as a workflow; lines not repaired stay byte-identical.

use std::collections::BTreeMap;

use regex::Regex;

use super::edit::{self, Splice};
use super::pr::code;
use super::yaml::{self, Doc, Node, Style, Value};
use super::{Change, Input, Proposal, Unfixable};

/// Lines around the reported error that are tried as the mis-indented one.
const NEARBY: usize = 2;
/// Keys GitHub reads as booleans.
const BOOLEAN_KEYS: &[&str] = &[
    "continue-on-error",
    "fail-fast",
    "cancel-in-progress",
    "required",
];

/// The file as lines, and which were changed and why.
struct Lines {
    lines: Vec<String>,
    eol: &'static str,
    trailing_eol: bool,
    changed: BTreeMap<usize, String>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let eol = yaml::eol(text);
        let trailing_eol = text.ends_with('\n');
        let body = text.strip_suffix(eol).unwrap_or(text);
        Lines {
            lines: body.split(eol).map(str::to_string).collect(),
            eol,
            trailing_eol,
            changed: BTreeMap::new(),
        }
    }

    fn text(&self) -> String {
        let mut t = self.lines.join(self.eol);
        if self.trailing_eol {
            t.push_str(self.eol);
        }
        t
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn code_part(line: &str) -> &str {
    // Good enough for deciding whether a line opens a block: `key:  # c`.
    match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    }
    .trim_end()
}

fn parses(text: &str) -> bool {
    Doc::parse(text).is_ok() && serde_yaml::from_str::<serde_yaml::Value>(text).is_ok()
}

fn is_workflow(text: &str) -> bool {
    edit::check_workflow(text).is_ok()
}

/// `(Line: 12, Col: 5)` or `#L12` in GitHub's message: 0-based line.
fn reported_line(text: &str) -> Option<usize> {
    let re = Regex::new(r"\(Line: (\d+), Col: \d+\)|#L(\d+)").ok()?;
    let c = re.captures(text)?;
    c.get(1)
        .or_else(|| c.get(2))
        .and_then(|m| m.as_str().parse::<usize>().ok())
        .and_then(|l| l.checked_sub(1))
}

/// The smallest indentation step of the lines indented with spaces.
fn unit(lines: &[String]) -> usize {
    let mut best = usize::MAX;
    let mut prev = 0;
    for l in lines {
        if l.trim().is_empty() || l.trim_start().starts_with('#') || l.starts_with('\t') {
            continue;
        }
        let i = indent(l);
        if i > prev {
            best = best.min(i - prev);
        }
        prev = i;
    }
    if (1..=8).contains(&best) { best } else { 2 }
}

/// Tabs in leading whitespace become spaces, with the first tab width that parses.
fn fix_tabs(l: &mut Lines) -> bool {
    let tabbed: Vec<usize> = (0..l.lines.len())
        .filter(|i| {
            let line = &l.lines[*i];
            line[..line.len() - line.trim_start_matches([' ', '\t']).len()].contains('\t')
        })
        .collect();
    if tabbed.is_empty() {
        return false;
    }
    let mut widths = vec![unit(&l.lines), 2, 4, 8];
    widths.dedup();
    let trial = |w: usize| -> Vec<String> {
        let mut t = l.lines.clone();
        for i in &tabbed {
            let line = &t[*i];
            let rest = line.trim_start_matches([' ', '\t']);
            let lead = &line[..line.len() - rest.len()];
            let spaces: usize = lead.chars().map(|c| if c == '\t' { w } else { 1 }).sum();
            t[*i] = format!("{}{rest}", " ".repeat(spaces));
        }
        t
    };
    // A width that makes a workflow beats one that only makes YAML.
    let pick = widths
        .iter()
        .copied()
        .find(|w| is_workflow(&trial(*w).join(l.eol)))
        .or_else(|| {
            widths
                .iter()
                .copied()
                .find(|w| parses(&trial(*w).join(l.eol)))
        });
    let Some(w) = pick else { return false };
    l.lines = trial(w);
    for i in &tabbed {
        l.changed.insert(
            *i,
            format!("replaced tab indentation with {w} spaces per tab (YAML does not allow tabs for indentation)"),
        );
    }
    true
}

/// Move line `at` to `to` spaces, and with `nested` the lines under it too.
fn reindent(
    lines: &[String],
    at: usize,
    to: usize,
    nested: bool,
) -> Option<(Vec<String>, Vec<usize>)> {
    let from = indent(lines.get(at)?);
    let mut out = lines.to_vec();
    let mut moved = vec![at];
    let shift = |l: &str| -> String {
        let i = indent(l);
        let new = (i + to).saturating_sub(from);
        format!("{}{}", " ".repeat(new), &l[i..])
    };
    out[at] = shift(&lines[at]);
    if !nested {
        return Some((out, moved));
    }
    for (k, l) in lines.iter().enumerate().skip(at + 1) {
        if l.trim().is_empty() {
            continue;
        }
        if indent(l) <= from {
            break;
        }
        out[k] = shift(l);
        moved.push(k);
    }
    Some((out, moved))
}

/// Try re-indenting the lines near the error to their previous line's level
/// (or one step inside it, when that line opens a block).
fn fix_indentation(l: &mut Lines, error_line: Option<usize>, reported: Option<usize>) -> bool {
    let step = unit(&l.lines);
    let mut candidates: Vec<usize> = Vec::new();
    for base in [error_line, reported].into_iter().flatten() {
        for d in 0..=NEARBY {
            candidates.extend(base.checked_sub(d));
            candidates.push(base.saturating_add(d));
        }
    }
    candidates.dedup();
    for at in candidates {
        let Some(line) = l.lines.get(at) else {
            continue;
        };
        let t = line.trim_start();
        if t.is_empty()
            || t.starts_with('#')
            || !(code_part(t).ends_with(':') || t.contains(": ") || t.starts_with("- "))
        {
            continue;
        }
        let Some(prev) = (0..at)
            .rev()
            .map(|k| &l.lines[k])
            .find(|p| !p.trim().is_empty() && !p.trim_start().starts_with('#'))
        else {
            continue;
        };
        let p = indent(prev);
        let opens = code_part(prev).ends_with(':');
        let mut targets = if opens {
            vec![p + step, p]
        } else {
            vec![p, p + step]
        };
        targets.retain(|t| *t != indent(line));
        // The key alone first: the smallest change that parses wins.
        for (to, nested) in targets.iter().flat_map(|t| [(*t, false), (*t, true)]) {
            let Some((trial, moved)) = reindent(&l.lines, at, to, nested) else {
                continue;
            };
            if is_workflow(&trial.join(l.eol)) {
                for k in moved {
                    l.changed.insert(
                        k,
                        format!("re-indented to {to} spaces (line {} was indented off the keys around it)", at + 1),
                    );
                }
                l.lines = trial;
                return true;
            }
        }
    }
    false
}

/// Scalars YAML reads differently from what was meant.
fn fix_values(l: &mut Lines) -> bool {
    let text = l.text();
    let Ok(doc) = Doc::parse(&text) else {
        return false;
    };
    let version = Regex::new(r"^\d+\.\d*0$").ok();
    let mut fixes: Vec<(yaml::Span, String, String)> = Vec::new();
    fn walk(n: &Node, key: Option<&str>, depth: usize, out: &mut dyn FnMut(&Node, &str)) {
        if depth > 64 {
            return;
        }
        match &n.value {
            Value::Mapping(pairs) => {
                for p in pairs {
                    walk(&p.value, Some(&p.key), depth + 1, out);
                }
            }
            Value::Sequence(items) => {
                for i in items {
                    walk(&i.node, key, depth + 1, out);
                }
            }
            Value::Scalar(_) => {
                if let Some(k) = key {
                    out(n, k);
                }
            }
            _ => {}
        }
    }
    walk(&doc.root, None, 0, &mut |n, k| {
        let Some(s) = n.scalar() else { return };
        if s.style != Style::Plain || n.tagged || n.anchor.is_some() {
            return;
        }
        let raw = doc.slice(n.span);
        if BOOLEAN_KEYS.contains(&k) {
            let b = match raw.to_ascii_lowercase().as_str() {
                "yes" | "on" | "y" => Some("true"),
                "no" | "off" | "n" => Some("false"),
                _ => None,
            };
            if let Some(b) = b {
                fixes.push((
                    n.span,
                    b.to_string(),
                    format!(
                        "{} is not a boolean to GitHub; wrote {}",
                        code(raw),
                        code(b)
                    ),
                ));
            }
        } else if k.to_ascii_lowercase().contains("version")
            && version.as_ref().is_some_and(|re| re.is_match(raw))
        {
            fixes.push((
                n.span,
                format!("'{raw}'"),
                format!(
                    "quoted {} so it stays the version {} instead of the number {}",
                    code(raw),
                    code(raw),
                    code(raw.trim_end_matches('0'))
                ),
            ));
        }
    });
    if fixes.is_empty() {
        return false;
    }
    // Apply on the lines, last first so earlier columns stay valid.
    fixes.sort_by_key(|(span, _, _)| std::cmp::Reverse(span.start));
    for (span, new, why) in fixes {
        let (line, col) = doc.line_col(span.start);
        let Some(target) = l.lines.get_mut(line) else {
            continue;
        };
        let end = col + (span.end - span.start);
        if end > target.len() || !target.is_char_boundary(col) || !target.is_char_boundary(end) {
            continue;
        }
        target.replace_range(col..end, &new);
        l.changed.entry(line).or_insert(why);
    }
    true
}

pub fn propose(input: &Input<'_>) -> Result<Proposal, Unfixable> {
    let original = input.workflow;
    let reported = reported_line(input.facts.text());
    let mut l = Lines::new(original);
    if !parses(original) {
        fix_tabs(&mut l);
        let text = l.text();
        if !is_workflow(&text) {
            let error_line = Doc::parse(&text).err().map(|e| e.line.saturating_sub(1));
            if !fix_indentation(&mut l, error_line, reported) {
                let where_ = Doc::parse(&l.text())
                    .err()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(Unfixable::NotApplicable(format!(
                    "the workflow does not parse{where_}, and no mechanical repair makes it parse"
                )));
            }
        }
    }
    fix_values(&mut l);
    if l.changed.is_empty() {
        let why = edit::check_workflow(original)
            .err()
            .map(|e| format!(": {e}"))
            .unwrap_or_else(|| ", and no value YAML misreads was found".into());
        return Err(Unfixable::NotApplicable(format!(
            "no mechanical repair applies (the file parses here{why}); the error needs a human"
        )));
    }
    // One splice per changed line, against the original text.
    let mut splices = Vec::new();
    let mut offset = 0;
    let old = Lines::new(original);
    let mut changes = Vec::new();
    for (i, line) in old.lines.iter().enumerate() {
        if let (Some(why), Some(new)) = (l.changed.get(&i), l.lines.get(i))
            && new != line
        {
            splices.push(Splice {
                at: offset,
                remove: line.len(),
                insert: new.clone(),
            });
            changes.push(Change::new(format!("Line {}: {why}.", i + 1)));
        }
        offset += line.len() + old.eol.len();
    }
    if l.lines.len() != old.lines.len() {
        return Err(Unfixable::Invalid(
            "the repair changed the number of lines".into(),
        ));
    }
    let name = input
        .workflow_path
        .rsplit('/')
        .next()
        .unwrap_or(input.workflow_path);
    let patch = edit::Patch {
        splices,
        expects: Vec::new(),
    };
    Ok(Proposal::new(
        format!("ci: repair the syntax of {name}"),
        changes,
        patch,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_lines() {
        assert_eq!(
            reported_line("Invalid workflow file: .github/workflows/ci.yml#L12"),
            Some(11)
        );
        assert_eq!(
            reported_line("(Line: 7, Col: 9): Unexpected value 'x'"),
            Some(6)
        );
        assert_eq!(reported_line("nothing"), None);
    }

    #[test]
    fn reindent_moves_nested_lines_too() {
        let lines: Vec<String> = ["a:", "   b:", "     c: 1", "d: 2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (out, moved) = reindent(&lines, 1, 2, true).expect("reindent");
        assert_eq!(out, vec!["a:", "  b:", "    c: 1", "d: 2"]);
        assert_eq!(moved, vec![1, 2]);
    }
}
