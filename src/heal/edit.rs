//! Format-preserving edits and their validation.
//!
//! An edit is a set of splices into the original text (insert a line, replace
//! a scalar), computed from node positions, plus what the change must mean
//! ([`Expect`]). After splicing, the new text is checked three ways: it parses
//! as a workflow; its data equals the old data with exactly the expected
//! changes (so an alias, a folded scalar or a misplaced line cannot change
//! anything else unnoticed); and every line the splices did not touch is
//! still there, byte for byte.

use serde_yaml::Value as Data;

use super::yaml::{Doc, Node, Style, Value};

/// A step into the document's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

pub type Path = Vec<Seg>;

/// `path` extended by a key.
pub fn key(path: &[Seg], k: &str) -> Path {
    let mut p = path.to_vec();
    p.push(Seg::Key(k.to_string()));
    p
}

/// What the file must mean after the edit, compared with before.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// The mapping at `path` gains `key: value`.
    InsertKey {
        path: Path,
        key: String,
        value: Data,
    },
    /// The value at `path` becomes `value`.
    Set { path: Path, value: Data },
    /// The sequence at `path` gains `value` at `index`.
    InsertItem {
        path: Path,
        index: usize,
        value: Data,
    },
}

/// Replace `remove` bytes at `at` (in the original text) with `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub at: usize,
    pub remove: usize,
    pub insert: String,
}

/// Splices and their meaning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    pub splices: Vec<Splice>,
    pub expects: Vec<Expect>,
}

impl Patch {
    pub fn add(&mut self, other: Patch) {
        self.splices.extend(other.splices);
        self.expects.extend(other.expects);
    }

    /// The patched text.
    pub fn apply(&self, original: &str) -> Result<String, EditError> {
        let mut splices = self.splices.clone();
        splices.sort_by_key(|s| (s.at, s.remove));
        for w in splices.windows(2) {
            if w[0].at + w[0].remove > w[1].at {
                return Err(EditError::Overlap);
            }
        }
        let mut out = original.to_string();
        for s in splices.iter().rev() {
            let end = s.at + s.remove;
            if end > out.len() || !out.is_char_boundary(s.at) || !out.is_char_boundary(end) {
                return Err(EditError::Position(s.at));
            }
            out.replace_range(s.at..end, &s.insert);
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("two edits overlap")]
    Overlap,
    #[error("an edit falls outside the text (byte {0})")]
    Position(usize),
    #[error("{0}")]
    Unsupported(String),
    #[error("the edited file is not valid YAML: {0}")]
    Yaml(String),
    #[error("the edited file is not a valid workflow: {0}")]
    Workflow(String),
    #[error(
        "the edit would change more than intended (a YAML anchor shared with other places, or a layout this editor does not handle)"
    )]
    Meaning,
    #[error("the edit would change line {0}, which it should not touch")]
    Untouched(usize),
}

/// A scalar to write: its YAML text and what it reads as.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScalar {
    pub yaml: String,
    pub data: Data,
}

/// A string, plain when YAML reads it back unchanged on one line, else single-quoted.
pub fn string(s: &str) -> Result<NewScalar, EditError> {
    if s.contains(['\n', '\r']) || s.chars().any(char::is_control) {
        return Err(EditError::Unsupported(
            "multi-line or control characters in a new value".into(),
        ));
    }
    let want = Data::String(s.to_string());
    let reads_as = |yaml: &str| {
        serde_yaml::from_str::<Data>(&format!("k: {yaml}\n"))
            .ok()
            .and_then(|d| d.get("k").cloned())
    };
    let plain_ok = !s.is_empty()
        && !s.contains(" #")
        && !s.contains(": ")
        && !s.ends_with(':')
        && !s.starts_with([
            '&', '*', '!', '|', '>', '%', '@', '`', '"', '\'', '#', '[', ']', '{', '}', ',', '?',
            '-', ' ',
        ])
        && !s.ends_with(' ');
    if plain_ok && reads_as(s).as_ref() == Some(&want) {
        return Ok(NewScalar {
            yaml: s.to_string(),
            data: want,
        });
    }
    let quoted = format!("'{}'", s.replace('\'', "''"));
    if reads_as(&quoted).as_ref() == Some(&want) {
        Ok(NewScalar {
            yaml: quoted,
            data: want,
        })
    } else {
        Err(EditError::Unsupported(format!(
            "cannot write {s:?} as YAML"
        )))
    }
}

pub fn int(n: u64) -> NewScalar {
    NewScalar {
        yaml: n.to_string(),
        data: Data::Number(n.into()),
    }
}

pub fn boolean(b: bool) -> NewScalar {
    NewScalar {
        yaml: b.to_string(),
        data: Data::Bool(b),
    }
}

/// A value for a new key: a scalar, or a block mapping of scalars.
#[derive(Debug, Clone, PartialEq)]
pub enum NewValue {
    Scalar(NewScalar),
    Map(Vec<(String, NewScalar)>),
}

impl NewValue {
    fn data(&self) -> Data {
        match self {
            NewValue::Scalar(s) => s.data.clone(),
            NewValue::Map(pairs) => {
                let mut m = serde_yaml::Mapping::new();
                for (k, v) in pairs {
                    m.insert(Data::String(k.clone()), v.data.clone());
                }
                Data::Mapping(m)
            }
        }
    }
}

/// Keys are written plain; only identifiers we choose reach here.
fn plain_key(k: &str) -> Result<&str, EditError> {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
    {
        Ok(k)
    } else {
        Err(EditError::Unsupported(format!("unexpected key {k:?}")))
    }
}

/// The indentation step the file uses (the smallest nesting step of block mappings).
pub fn indent_unit(doc: &Doc) -> usize {
    fn walk(doc: &Doc, n: &Node, best: &mut Option<usize>, depth: usize) {
        if depth > 64 {
            return;
        }
        match &n.value {
            Value::Mapping(pairs) if !n.flow => {
                for p in pairs {
                    if let Some(child) = p.value.mapping().and_then(|c| c.first())
                        && !p.value.flow
                    {
                        let parent = doc.column(p.span.start);
                        let inner = doc.column(child.span.start);
                        if inner > parent {
                            let d = inner - parent;
                            *best = Some(best.map_or(d, |b: usize| b.min(d)));
                        }
                    }
                    walk(doc, &p.value, best, depth + 1);
                }
            }
            Value::Sequence(items) => {
                for i in items {
                    walk(doc, &i.node, best, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut best = None;
    walk(doc, &doc.root, &mut best, 0);
    best.filter(|b| (1..=8).contains(b)).unwrap_or(2)
}

/// The last byte that belongs to `n`'s content (trailing comments excluded).
fn content_last(doc: &Doc, n: &Node) -> usize {
    match &n.value {
        Value::Mapping(pairs) if !n.flow => match pairs.last() {
            Some(p) => doc.content_end(p.span).max(content_last(doc, &p.value)),
            None => doc.content_end(n.span),
        },
        Value::Sequence(items) if !n.flow => match items.last() {
            Some(i) => content_last(doc, &i.node).max(doc.content_end(i.span).min(i.node.span.end)),
            None => doc.content_end(n.span),
        },
        _ => doc.content_end(n.span),
    }
}

/// Where a new line goes after `offset`'s line; the eol to put before it when
/// the file does not end with one.
fn after_line(doc: &Doc, offset: usize) -> (usize, &'static str) {
    let at = doc.line_end(offset);
    let lead = if at == doc.text.len() && !doc.text.ends_with('\n') {
        doc.eol()
    } else {
        ""
    };
    (at, lead)
}

/// Add `key: value` to the block mapping `map` (at `path`), on a new line
/// after the first of `after` that the mapping has, else after its last pair.
pub fn insert_pair(
    doc: &Doc,
    map: &Node,
    path: &[Seg],
    after: &[&str],
    key: &str,
    value: NewValue,
) -> Result<Patch, EditError> {
    let key = plain_key(key)?;
    let pairs = map
        .mapping()
        .ok_or_else(|| EditError::Unsupported("not a mapping".into()))?;
    if map.flow {
        return Err(EditError::Unsupported(
            "the mapping is written in flow style ({...})".into(),
        ));
    }
    if map.tagged {
        return Err(EditError::Unsupported(
            "the mapping carries a YAML tag".into(),
        ));
    }
    if pairs.iter().any(|p| p.key == key) {
        return Err(EditError::Unsupported(format!("`{key}` is already set")));
    }
    let first = pairs
        .first()
        .ok_or_else(|| EditError::Unsupported("empty mapping".into()))?;
    let col = doc.column(first.span.start);
    let anchor = after
        .iter()
        .find_map(|k| pairs.iter().find(|p| p.key == *k))
        .or(pairs.last())
        .ok_or_else(|| EditError::Unsupported("empty mapping".into()))?;
    let last = doc
        .content_end(anchor.span)
        .max(content_last(doc, &anchor.value));
    let (at, lead) = after_line(doc, last);
    let eol = doc.eol();
    let pad = " ".repeat(col);
    let mut text = String::from(lead);
    match &value {
        NewValue::Scalar(s) => text.push_str(&format!("{pad}{key}: {}{eol}", s.yaml)),
        NewValue::Map(entries) => {
            let inner = " ".repeat(col + indent_unit(doc));
            text.push_str(&format!("{pad}{key}:{eol}"));
            for (k, v) in entries {
                text.push_str(&format!("{inner}{}: {}{eol}", plain_key(k)?, v.yaml));
            }
        }
    }
    Ok(Patch {
        splices: vec![Splice {
            at,
            remove: 0,
            insert: text,
        }],
        expects: vec![Expect::InsertKey {
            path: path.to_vec(),
            key: key.to_string(),
            value: value.data(),
        }],
    })
}

/// Insert a mapping item (`- k: v ...`) into the block sequence `seq` (at
/// `path`) before item `index` (or at the end). Comment lines directly above
/// that item stay with it.
pub fn insert_item(
    doc: &Doc,
    seq: &Node,
    path: &[Seg],
    index: usize,
    entries: &[(String, NewScalar)],
) -> Result<Patch, EditError> {
    insert_items(doc, seq, path, index, &[entries.to_vec()])
}

/// Insert several mapping items, in order, before item `index`.
pub fn insert_items(
    doc: &Doc,
    seq: &Node,
    path: &[Seg],
    index: usize,
    new_items: &[Vec<(String, NewScalar)>],
) -> Result<Patch, EditError> {
    let items = seq
        .sequence()
        .ok_or_else(|| EditError::Unsupported("not a sequence".into()))?;
    if seq.flow || items.is_empty() {
        return Err(EditError::Unsupported(
            "the list is written in flow style ([...]) or empty".into(),
        ));
    }
    let bytes = doc.text.as_bytes();
    let neighbour = items
        .get(index)
        .or(items.last())
        .ok_or_else(|| EditError::Unsupported("empty list".into()))?;
    if bytes.get(neighbour.span.start) != Some(&b'-') {
        return Err(EditError::Unsupported("unexpected list layout".into()));
    }
    let dash = doc.column(neighbour.span.start);
    // Keep the file's distance between `-` and the item's keys.
    let offset = match neighbour.node.mapping().and_then(|p| p.first()) {
        Some(p) if doc.line_start(p.span.start) == doc.line_start(neighbour.span.start) => {
            doc.column(p.span.start).saturating_sub(dash).max(2)
        }
        _ => 2,
    };
    let eol = doc.eol();
    let (at, lead) = if index < items.len() {
        let mut at = doc.line_start(neighbour.span.start);
        // Comments directly above the item (same indentation) belong to it.
        while at > 0 {
            let prev = doc.line_start(at - 1);
            let line = doc.text.get(prev..at).unwrap_or("");
            let indent = line.len() - line.trim_start_matches(' ').len();
            if line.trim_start().starts_with('#') && indent == dash {
                at = prev;
            } else {
                break;
            }
        }
        (at, "")
    } else {
        after_line(
            doc,
            content_last(doc, &neighbour.node).max(neighbour.span.start),
        )
    };
    let mut text = String::from(lead);
    let mut expects = Vec::new();
    for (n, entries) in new_items.iter().enumerate() {
        let mut data = serde_yaml::Mapping::new();
        for (i, (k, v)) in entries.iter().enumerate() {
            let k = plain_key(k)?;
            if i == 0 {
                text.push_str(&format!(
                    "{}-{}{k}: {}{eol}",
                    " ".repeat(dash),
                    " ".repeat(offset - 1),
                    v.yaml
                ));
            } else {
                text.push_str(&format!(
                    "{}{k}: {}{eol}",
                    " ".repeat(dash + offset),
                    v.yaml
                ));
            }
            data.insert(Data::String(k.to_string()), v.data.clone());
        }
        expects.push(Expect::InsertItem {
            path: path.to_vec(),
            index: index.min(items.len()) + n,
            value: Data::Mapping(data),
        });
    }
    Ok(Patch {
        splices: vec![Splice {
            at,
            remove: 0,
            insert: text,
        }],
        expects,
    })
}

/// Only plain or quoted scalars on one line, without anchor or tag, are replaced.
fn single_line_scalar(doc: &Doc, node: &Node) -> Result<(), EditError> {
    let single = node
        .scalar()
        .is_some_and(|s| !matches!(s.style, Style::Literal | Style::Folded));
    if !single || node.tagged || node.anchor.is_some() || doc.slice(node.span).contains('\n') {
        return Err(EditError::Unsupported(
            "the value is not a single-line scalar".into(),
        ));
    }
    Ok(())
}

/// Replace the single-line scalar `node` (at `path`) with `new`.
pub fn replace_scalar(
    doc: &Doc,
    node: &Node,
    path: &[Seg],
    new: &NewScalar,
) -> Result<Patch, EditError> {
    single_line_scalar(doc, node)?;
    Ok(Patch {
        splices: vec![Splice {
            at: node.span.start,
            remove: node.span.end - node.span.start,
            insert: new.yaml.clone(),
        }],
        expects: vec![Expect::Set {
            path: path.to_vec(),
            value: new.data.clone(),
        }],
    })
}

/// Replace the value of `pair` (at `path`) with a literal block scalar of `lines`.
pub fn replace_with_block(
    doc: &Doc,
    pair: &super::yaml::Pair,
    path: &[Seg],
    lines: &[String],
) -> Result<Patch, EditError> {
    let node = &pair.value;
    single_line_scalar(doc, node)?;
    // A first line starting with a space would need an indentation indicator.
    let first_indented = lines.first().is_none_or(|l| l.starts_with(' '));
    if first_indented || lines.iter().any(|l| l.contains(['\n', '\r'])) {
        return Err(EditError::Unsupported("unexpected block content".into()));
    }
    let eol = doc.eol();
    let pad = " ".repeat(doc.column(pair.span.start) + indent_unit(doc));
    let mut text = String::from("|");
    for l in lines {
        text.push_str(eol);
        if !l.is_empty() {
            text.push_str(&pad);
            text.push_str(l);
        }
    }
    let mut value = lines.join("\n");
    value.push('\n');
    Ok(Patch {
        splices: vec![Splice {
            at: node.span.start,
            remove: node.span.end - node.span.start,
            insert: text,
        }],
        expects: vec![Expect::Set {
            path: path.to_vec(),
            value: Data::String(value),
        }],
    })
}

/// Insert `text` at byte `at` inside the scalar `node` (at `path`), which must
/// then read as `expected`.
pub fn insert_in_scalar(
    node: &Node,
    path: &[Seg],
    at: usize,
    text: &str,
    expected: &str,
) -> Result<Patch, EditError> {
    if !(node.span.start < at && at <= node.span.end) || node.scalar().is_none() {
        return Err(EditError::Position(at));
    }
    Ok(Patch {
        splices: vec![Splice {
            at,
            remove: 0,
            insert: text.to_string(),
        }],
        expects: vec![Expect::Set {
            path: path.to_vec(),
            value: Data::String(expected.to_string()),
        }],
    })
}

fn step_into<'a>(data: &'a mut Data, seg: &Seg) -> Option<&'a mut Data> {
    match (data, seg) {
        (Data::Mapping(m), Seg::Key(k)) => m.get_mut(Data::String(k.clone())),
        (Data::Sequence(s), Seg::Index(i)) => s.get_mut(*i),
        _ => None,
    }
}

fn at_path<'a>(data: &'a mut Data, path: &[Seg]) -> Option<&'a mut Data> {
    let mut cur = data;
    for seg in path {
        cur = step_into(cur, seg)?;
    }
    Some(cur)
}

/// The old data with the expected changes made.
fn expected_data(old: &Data, expects: &[Expect]) -> Result<Data, EditError> {
    let mut d = old.clone();
    for e in expects {
        match e {
            Expect::InsertKey { path, key, value } => match at_path(&mut d, path) {
                Some(Data::Mapping(m)) => {
                    m.insert(Data::String(key.clone()), value.clone());
                }
                _ => return Err(EditError::Meaning),
            },
            Expect::Set { path, value } => match at_path(&mut d, path) {
                Some(slot) => *slot = value.clone(),
                None => return Err(EditError::Meaning),
            },
            Expect::InsertItem { path, index, value } => match at_path(&mut d, path) {
                Some(Data::Sequence(s)) if *index <= s.len() => s.insert(*index, value.clone()),
                _ => return Err(EditError::Meaning),
            },
        }
    }
    Ok(d)
}

/// Lines (0-based) of `original` that the splices may change.
fn touched_lines(original: &str, splices: &[Splice]) -> Vec<(usize, usize)> {
    splices
        .iter()
        .map(|s| {
            let (first, _) = super::yaml::line_col(original, s.at);
            let (last, _) = super::yaml::line_col(original, s.at + s.remove);
            (first, last)
        })
        .collect()
}

/// Every line of `original` outside the splices survives unchanged.
pub fn check_untouched(original: &str, new: &str, splices: &[Splice]) -> Result<(), EditError> {
    let touched = touched_lines(original, splices);
    let diff = similar::TextDiff::from_lines(original, new);
    for op in diff.ops() {
        if let similar::DiffOp::Delete {
            old_index, old_len, ..
        }
        | similar::DiffOp::Replace {
            old_index, old_len, ..
        } = *op
        {
            for line in old_index..old_index + old_len {
                if !touched.iter().any(|(a, b)| (*a..=*b).contains(&line)) {
                    return Err(EditError::Untouched(line + 1));
                }
            }
        }
    }
    Ok(())
}

/// The new text must be a valid workflow.
pub fn check_workflow(new: &str) -> Result<(), EditError> {
    Doc::parse(new).map_err(|e| EditError::Yaml(e.to_string()))?;
    // The typed model below lets a duplicate key inside free-form values
    // (a matrix) through; GitHub rejects such a file, and so does YAML.
    serde_yaml::from_str::<serde_yaml::Value>(new).map_err(|e| EditError::Yaml(e.to_string()))?;
    serde_yaml::from_str::<github_actions_models::workflow::Workflow>(new)
        .map_err(|e| EditError::Workflow(e.to_string()))?;
    Ok(())
}

/// Apply `patch` to a workflow and check the result: it is a workflow, its
/// data is `old_data` (the original's, when it parsed) with exactly the
/// patch's expected changes, and lines outside the splices are untouched.
pub fn apply_checked(
    original: &str,
    patch: &Patch,
    old_data: Option<&Data>,
) -> Result<String, EditError> {
    let new = patch.apply(original)?;
    check_workflow(&new)?;
    if let Some(old) = old_data {
        let new_data: Data =
            serde_yaml::from_str(&new).map_err(|e| EditError::Yaml(e.to_string()))?;
        if expected_data(old, &patch.expects)? != new_data {
            return Err(EditError::Meaning);
        }
    }
    check_untouched(original, &new, &patch.splices)?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(t: &str) -> Doc {
        match Doc::parse(t) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`apply_checked`] with the meaning check against `original`'s data.
    fn checked(original: &str, patch: &Patch) -> Result<String, EditError> {
        let data: Data = serde_yaml::from_str(original).expect("yaml");
        apply_checked(original, patch, Some(&data))
    }

    const WF: &str = "on: push\njobs:\n  test:   # the tests\n    runs-on: ubuntu-latest\n    steps:\n      # check out\n      - uses: actions/checkout@v4\n      - name: Test\n        run: |\n          pytest -q\n";

    #[test]
    fn insert_pair_after_runs_on_keeps_everything_else() {
        let d = doc(WF);
        let job = d.root.get("jobs").and_then(|j| j.get("test")).expect("job");
        let path = vec![Seg::Key("jobs".into()), Seg::Key("test".into())];
        let p = insert_pair(
            &d,
            job,
            &path,
            &["runs-on"],
            "timeout-minutes",
            NewValue::Scalar(int(30)),
        )
        .expect("patch");
        let new = checked(WF, &p).expect("valid");
        assert_eq!(
            new,
            WF.replace(
                "ubuntu-latest\n",
                "ubuntu-latest\n    timeout-minutes: 30\n"
            )
        );
    }

    #[test]
    fn insert_item_before_keeps_its_comment_above() {
        let d = doc(WF);
        let steps = d
            .root
            .get("jobs")
            .and_then(|j| j.get("test"))
            .and_then(|j| j.get("steps"))
            .expect("steps");
        let path = vec![
            Seg::Key("jobs".into()),
            Seg::Key("test".into()),
            Seg::Key("steps".into()),
        ];
        let entries = vec![
            ("name".to_string(), string("Install jq").expect("s")),
            (
                "run".to_string(),
                string("sudo apt-get install -y jq").expect("s"),
            ),
        ];
        let p = insert_item(&d, steps, &path, 0, &entries).expect("patch");
        let new = checked(WF, &p).expect("valid");
        assert!(new.contains(
            "    steps:\n      - name: Install jq\n        run: sudo apt-get install -y jq\n      # check out\n"
        ), "{new}");
        let p = insert_item(&d, steps, &path, 2, &entries).expect("patch");
        let new = checked(WF, &p).expect("valid");
        assert!(
            new.ends_with(
                "pytest -q\n      - name: Install jq\n        run: sudo apt-get install -y jq\n"
            ),
            "{new}"
        );
    }

    #[test]
    fn edits_through_shared_anchors_are_refused() {
        let t = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: &s\n      - run: make\n  b:\n    runs-on: ubuntu-latest\n    steps: *s\n";
        let d = doc(t);
        let steps = d
            .root
            .get("jobs")
            .and_then(|j| j.get("a"))
            .and_then(|j| j.get("steps"))
            .expect("steps");
        let path = vec![
            Seg::Key("jobs".into()),
            Seg::Key("a".into()),
            Seg::Key("steps".into()),
        ];
        let entries = vec![("run".to_string(), string("echo hi").expect("s"))];
        let p = insert_item(&d, steps, &path, 0, &entries).expect("patch");
        assert_eq!(checked(t, &p), Err(EditError::Meaning));
    }

    #[test]
    fn strings_are_quoted_only_when_needed() {
        assert_eq!(
            string("${{ github.token }}").map(|s| s.yaml),
            Ok("${{ github.token }}".into())
        );
        assert_eq!(
            string("hashFiles('a') != ''").map(|s| s.yaml),
            Ok("hashFiles('a') != ''".into())
        );
        assert_eq!(string("true").map(|s| s.yaml), Ok("'true'".into()));
        assert_eq!(string("a: b").map(|s| s.yaml), Ok("'a: b'".into()));
        assert_eq!(string("3.10").map(|s| s.yaml), Ok("'3.10'".into()));
        assert!(string("a\nb").is_err());
    }

    #[test]
    fn untouched_lines_are_checked() {
        let splices = vec![Splice {
            at: 0,
            remove: 0,
            insert: "x\n".into(),
        }];
        assert!(check_untouched("a\nb\n", "x\na\nb\n", &splices).is_ok());
        assert_eq!(
            check_untouched("a\nb\n", "x\na\nc\n", &splices),
            Err(EditError::Untouched(2))
        );
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let t = WF.replace('\n', "\r\n");
        let d = doc(&t);
        let job = d.root.get("jobs").and_then(|j| j.get("test")).expect("job");
        let path = vec![Seg::Key("jobs".into()), Seg::Key("test".into())];
        let p = insert_pair(
            &d,
            job,
            &path,
            &["runs-on"],
            "continue-on-error",
            NewValue::Scalar(boolean(true)),
        )
        .expect("patch");
        let new = checked(&t, &p).expect("valid");
        assert!(
            new.contains("ubuntu-latest\r\n    continue-on-error: true\r\n"),
            "{new:?}"
        );
        assert!(!new.replace("\r\n", "").contains('\n'));
    }
}
