//! A YAML document with byte positions.
//!
//! The text is parsed with the tree-sitter YAML grammar (the one zizmor's
//! `yamlpath` builds on) and walked into a small owned tree: mappings with
//! their pairs, sequences with their items, scalars with their style and
//! decoded text, aliases, anchors. Every node keeps its byte span, so edits
//! can be spliced into the original text and leave everything else alone.
//!
//! Walking is bounded (depth, size) and never panics: hostile input is an
//! error, not a crash.

use tree_sitter::{Node as TsNode, Parser};

/// Workflow files are far smaller; the bound keeps parsing cheap on hostile input.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Nesting deeper than this is not a workflow (and would risk the stack).
const MAX_DEPTH: usize = 100;
/// The tree-sitter YAML scanner keeps its stack of indentation levels in a
/// fixed 1 KiB state (4 bytes a level, up to two levels a column) and aborts
/// the process beyond about 250 levels, and keeps rows and columns in 16
/// bits: text past these bounds is refused before it reaches the parser.
const MAX_INDENT: usize = 100;
const MAX_LINES: usize = 30_000;
const MAX_LINE: usize = 30_000;

/// Where the text goes past what the scanner can hold, if anywhere.
fn beyond_scanner(text: &str) -> Option<(usize, String)> {
    for (n, line) in text.split('\n').enumerate() {
        if n >= MAX_LINES {
            return Some((n, format!("more than {MAX_LINES} lines")));
        }
        if line.len() > MAX_LINE {
            return Some((n, format!("a line longer than {MAX_LINE} bytes")));
        }
        // The column where the line's innermost block node starts:
        // indentation plus compact `- `, `? `, `: ` indicators and the
        // anchors or tags between them.
        let bytes = line.as_bytes();
        let mut i = 0;
        loop {
            while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
                i += 1;
            }
            let indicator = matches!(bytes.get(i), Some(b'-' | b'?' | b':'))
                && matches!(bytes.get(i + 1), None | Some(b' ' | b'\t' | b'\r'));
            let property = matches!(bytes.get(i), Some(b'&' | b'!'));
            if indicator {
                i += 1;
            } else if property {
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
            } else {
                break;
            }
            if i > MAX_INDENT {
                break;
            }
        }
        if i > MAX_INDENT {
            return Some((n, format!("nesting deeper than {MAX_INDENT} columns")));
        }
    }
    None
}

/// Bytes `start..end` of the document text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    fn of(n: &TsNode<'_>) -> Span {
        Span {
            start: n.start_byte(),
            end: n.end_byte(),
        }
    }

    pub fn contains(&self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub style: Style,
    /// The value as YAML reads it (best effort for exotic escapes).
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Mapping(Vec<Pair>),
    Sequence(Vec<Item>),
    Scalar(Scalar),
    /// `*name`.
    Alias(String),
    /// `key:` with nothing after it.
    Empty,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
    pub anchor: Option<String>,
    /// Carries an explicit tag (`!!str`): never edited.
    pub tagged: bool,
    /// Written in flow style (`{...}`, `[...]`).
    pub flow: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub key: String,
    /// From the key to the end of the value.
    pub span: Span,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Where the item starts (its `-` in block sequences).
    pub span: Span,
    pub node: Node,
}

/// Why a text is not a YAML document we can work on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct YamlError {
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    pub message: String,
}

impl YamlError {
    fn at(text: &str, offset: usize, message: impl Into<String>) -> YamlError {
        let (line, col) = line_col(text, offset);
        YamlError {
            line: line + 1,
            column: col + 1,
            message: message.into(),
        }
    }
}

impl Node {
    /// Nothing, at `at` (`key:` without a value, `-` without an item).
    fn empty(at: usize, flow: bool) -> Node {
        Node {
            span: Span { start: at, end: at },
            value: Value::Empty,
            anchor: None,
            tagged: false,
            flow,
        }
    }

    pub fn mapping(&self) -> Option<&[Pair]> {
        match &self.value {
            Value::Mapping(p) => Some(p),
            _ => None,
        }
    }

    pub fn sequence(&self) -> Option<&[Item]> {
        match &self.value {
            Value::Sequence(i) => Some(i),
            _ => None,
        }
    }

    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<&str> {
        self.scalar().map(|s| s.text.as_str())
    }

    pub fn pair(&self, key: &str) -> Option<&Pair> {
        self.mapping()?.iter().find(|p| p.key == key)
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.pair(key).map(|p| &p.value)
    }
}

/// A parsed document and its text.
#[derive(Debug, Clone)]
pub struct Doc {
    pub text: String,
    pub root: Node,
}

impl Doc {
    pub fn parse(text: &str) -> Result<Doc, YamlError> {
        if text.len() > MAX_BYTES {
            return Err(YamlError {
                line: 1,
                column: 1,
                message: format!("the file is larger than {MAX_BYTES} bytes"),
            });
        }
        if let Some((line, why)) = beyond_scanner(text) {
            return Err(YamlError {
                line: line + 1,
                column: 1,
                message: format!("the file has {why}"),
            });
        }
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_yaml::LANGUAGE.into())
            .map_err(|e| YamlError {
                line: 1,
                column: 1,
                message: format!("YAML grammar unavailable: {e}"),
            })?;
        let tree = parser.parse(text, None).ok_or_else(|| YamlError {
            line: 1,
            column: 1,
            message: "the YAML parser gave up".into(),
        })?;
        let root = tree.root_node();
        if root.has_error() {
            let bad = first_error(root, 0).unwrap_or(root);
            let what = if bad.is_missing() {
                format!("missing {}", bad.kind())
            } else {
                "invalid YAML".to_string()
            };
            return Err(YamlError::at(text, bad.start_byte(), what));
        }
        let mut documents = named(root).filter(|n| n.kind() == "document");
        let first = documents.next();
        if let Some(second) = documents.next()
            && named(second).any(|n| n.kind() != "comment")
        {
            return Err(YamlError::at(
                text,
                second.start_byte(),
                "more than one YAML document",
            ));
        }
        let w = Walker { text };
        let root_node = match first.and_then(|d| named(d).find(|n| is_node(n))) {
            Some(n) => w.node(n, 0)?,
            None => Node::empty(0, false),
        };
        Ok(Doc {
            text: text.to_string(),
            root: root_node,
        })
    }

    /// The node an alias stands for: the nearest anchor of that name
    /// defined before it. Other nodes are returned as they are.
    pub fn resolve<'a>(&'a self, node: &'a Node) -> &'a Node {
        let mut cur = node;
        // Anchors cannot name aliases, so one hop is enough; the bound is a guard.
        for _ in 0..4 {
            let Value::Alias(name) = &cur.value else {
                return cur;
            };
            match find_anchor(&self.root, name, cur.span.start, 0) {
                Some(target) => cur = target,
                None => return cur,
            }
        }
        cur
    }

    /// 0-based line and column (in bytes) of `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        line_col(&self.text, offset)
    }

    /// Offset of the start of the line holding `offset`.
    pub fn line_start(&self, offset: usize) -> usize {
        line_start(&self.text, offset)
    }

    /// Offset just after the line holding `offset` (after its newline, or the end).
    pub fn line_end(&self, offset: usize) -> usize {
        line_end(&self.text, offset)
    }

    /// Column (bytes from the line start) of `offset`.
    pub fn column(&self, offset: usize) -> usize {
        offset.saturating_sub(self.line_start(offset))
    }

    /// The last offset of `span` that is not whitespace (the span's start if all is).
    pub fn content_end(&self, span: Span) -> usize {
        let bytes = self.text.as_bytes();
        let mut end = span.end.min(bytes.len());
        while end > span.start && bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        end.saturating_sub(1).max(span.start)
    }

    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// The line ending the file uses.
    pub fn eol(&self) -> &'static str {
        eol(&self.text)
    }
}

/// The line ending `text` uses: CRLF when it has any, else LF.
pub fn eol(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count();
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset - start)
}

pub fn line_start(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1)
}

pub fn line_end(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[offset..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(text.len(), |i| offset + i + 1)
}

fn named<'t>(n: TsNode<'t>) -> impl Iterator<Item = TsNode<'t>> {
    (0..n.named_child_count())
        .filter_map(move |i| u32::try_from(i).ok().and_then(|i| n.named_child(i)))
}

fn is_node(n: &TsNode<'_>) -> bool {
    matches!(n.kind(), "block_node" | "flow_node")
}

fn first_error(n: TsNode<'_>, depth: usize) -> Option<TsNode<'_>> {
    if n.is_error() || n.is_missing() {
        return Some(n);
    }
    if depth > MAX_DEPTH * 4 {
        return None;
    }
    (0..n.child_count())
        .filter_map(|i| u32::try_from(i).ok().and_then(|i| n.child(i)))
        .filter(|c| c.has_error() || c.is_missing() || c.is_error())
        .find_map(|c| first_error(c, depth + 1))
}

fn find_anchor<'a>(n: &'a Node, name: &str, before: usize, depth: usize) -> Option<&'a Node> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut best: Option<&'a Node> = None;
    let mut consider = |cand: Option<&'a Node>| {
        if let Some(c) = cand
            && best.is_none_or(|b| c.span.start > b.span.start)
        {
            best = Some(c);
        }
    };
    if n.anchor.as_deref() == Some(name) && n.span.start < before {
        consider(Some(n));
    }
    match &n.value {
        Value::Mapping(pairs) => {
            for p in pairs {
                consider(find_anchor(&p.value, name, before, depth + 1));
            }
        }
        Value::Sequence(items) => {
            for i in items {
                consider(find_anchor(&i.node, name, before, depth + 1));
            }
        }
        _ => {}
    }
    best
}

struct Walker<'s> {
    text: &'s str,
}

impl Walker<'_> {
    fn src(&self, n: &TsNode<'_>) -> &str {
        self.text.get(n.start_byte()..n.end_byte()).unwrap_or("")
    }

    fn too_deep(&self, n: &TsNode<'_>, depth: usize) -> Result<(), YamlError> {
        if depth > MAX_DEPTH {
            Err(YamlError::at(self.text, n.start_byte(), "nesting too deep"))
        } else {
            Ok(())
        }
    }

    /// A `block_node` or `flow_node` (or a bare content node).
    fn node(&self, n: TsNode<'_>, depth: usize) -> Result<Node, YamlError> {
        self.too_deep(&n, depth)?;
        let flow_wrapper = n.kind() == "flow_node";
        if !is_node(&n) {
            return self.content(n, None, false, flow_wrapper, depth);
        }
        let mut anchor = None;
        let mut tagged = false;
        let mut content = None;
        for c in named(n) {
            match c.kind() {
                "anchor" => {
                    anchor = Some(self.src(&c).trim_start_matches('&').to_string());
                }
                "tag" => tagged = true,
                "comment" => {}
                _ => content = Some(c),
            }
        }
        match content {
            Some(c) => {
                let mut node = self.content(c, anchor, tagged, flow_wrapper, depth)?;
                // The node's span covers its anchor and tag too, so that
                // replacing a value replaces all of it.
                node.span.start = n.start_byte();
                Ok(node)
            }
            None => Ok(Node {
                span: Span::of(&n),
                value: Value::Empty,
                anchor,
                tagged,
                flow: flow_wrapper,
            }),
        }
    }

    fn content(
        &self,
        c: TsNode<'_>,
        anchor: Option<String>,
        tagged: bool,
        flow: bool,
        depth: usize,
    ) -> Result<Node, YamlError> {
        let value = match c.kind() {
            "block_mapping" | "flow_mapping" => Value::Mapping(self.pairs(c, depth)?),
            "block_sequence" | "flow_sequence" => Value::Sequence(self.items(c, depth)?),
            "alias" => Value::Alias(self.src(&c).trim_start_matches('*').to_string()),
            "plain_scalar" | "single_quote_scalar" | "double_quote_scalar" | "block_scalar" => {
                Value::Scalar(self.scalar(&c))
            }
            other => {
                return Err(YamlError::at(
                    self.text,
                    c.start_byte(),
                    format!("unexpected YAML node `{other}`"),
                ));
            }
        };
        Ok(Node {
            span: Span::of(&c),
            value,
            anchor,
            tagged,
            flow: flow || matches!(c.kind(), "flow_mapping" | "flow_sequence"),
        })
    }

    fn pairs(&self, m: TsNode<'_>, depth: usize) -> Result<Vec<Pair>, YamlError> {
        let mut out = Vec::new();
        for p in named(m) {
            match p.kind() {
                "block_mapping_pair" | "flow_pair" => {
                    let key = match p.child_by_field_name("key") {
                        Some(k) => match self.node(k, depth + 1)?.value {
                            Value::Scalar(s) => s.text,
                            Value::Empty => String::new(),
                            _ => {
                                return Err(YamlError::at(
                                    self.text,
                                    k.start_byte(),
                                    "complex mapping keys are not supported",
                                ));
                            }
                        },
                        None => String::new(),
                    };
                    let value = match p.child_by_field_name("value") {
                        Some(v) => self.node(v, depth + 1)?,
                        None => Node::empty(p.end_byte(), false),
                    };
                    out.push(Pair {
                        key,
                        span: Span::of(&p),
                        value,
                    });
                }
                // `{a, b}`: keys without values.
                "flow_node" => {
                    let kn = self.node(p, depth + 1)?;
                    out.push(Pair {
                        key: kn.scalar().map(|s| s.text.clone()).unwrap_or_default(),
                        span: Span::of(&p),
                        value: Node::empty(p.end_byte(), true),
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn items(&self, s: TsNode<'_>, depth: usize) -> Result<Vec<Item>, YamlError> {
        let mut out = Vec::new();
        for i in named(s) {
            match i.kind() {
                "block_sequence_item" => {
                    let node = match named(i).find(|c| is_node(c)) {
                        Some(n) => self.node(n, depth + 1)?,
                        None => Node::empty(i.end_byte(), false),
                    };
                    out.push(Item {
                        span: Span::of(&i),
                        node,
                    });
                }
                "flow_node" => {
                    let node = self.node(i, depth + 1)?;
                    out.push(Item {
                        span: Span::of(&i),
                        node,
                    });
                }
                "flow_pair" => {
                    // `[a: b]` is a one-pair mapping.
                    let pairs = self.pairs_of_one(i, depth)?;
                    out.push(Item {
                        span: Span::of(&i),
                        node: Node {
                            span: Span::of(&i),
                            value: Value::Mapping(pairs),
                            anchor: None,
                            tagged: false,
                            flow: true,
                        },
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn pairs_of_one(&self, p: TsNode<'_>, depth: usize) -> Result<Vec<Pair>, YamlError> {
        let key = match p.child_by_field_name("key") {
            Some(k) => self.node(k, depth + 1)?,
            None => return Ok(Vec::new()),
        };
        let value = match p.child_by_field_name("value") {
            Some(v) => self.node(v, depth + 1)?,
            None => Node::empty(p.end_byte(), true),
        };
        Ok(vec![Pair {
            key: key.scalar().map(|s| s.text.clone()).unwrap_or_default(),
            span: Span::of(&p),
            value,
        }])
    }

    fn scalar(&self, c: &TsNode<'_>) -> Scalar {
        let raw = self.src(c);
        match c.kind() {
            "single_quote_scalar" => Scalar {
                style: Style::SingleQuoted,
                text: fold(raw.get(1..raw.len().saturating_sub(1)).unwrap_or(""))
                    .replace("''", "'"),
            },
            "double_quote_scalar" => Scalar {
                style: Style::DoubleQuoted,
                text: serde_yaml::from_str::<String>(raw).unwrap_or_else(|_| {
                    fold(raw.get(1..raw.len().saturating_sub(1)).unwrap_or(""))
                }),
            },
            "block_scalar" => {
                let style = if raw.starts_with('>') {
                    Style::Folded
                } else {
                    Style::Literal
                };
                // As a document of its own the block scalar reads the same:
                // its indentation is detected from its first line.
                let text = serde_yaml::from_str::<String>(raw).unwrap_or_else(|_| {
                    raw.lines()
                        .skip(1)
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join("\n")
                });
                Scalar { style, text }
            }
            _ => Scalar {
                style: Style::Plain,
                text: fold(raw),
            },
        }
    }
}

/// Line folding of plain and quoted multi-line scalars.
fn fold(raw: &str) -> String {
    if !raw.contains('\n') {
        return raw.to_string();
    }
    let mut out = String::new();
    let mut pending_space = false;
    for (i, line) in raw.split('\n').enumerate() {
        let t = if i == 0 { line.trim_end() } else { line.trim() };
        if t.is_empty() {
            out.push('\n');
            pending_space = false;
            continue;
        }
        if pending_space {
            out.push(' ');
        }
        out.push_str(t);
        pending_space = true;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Doc {
        match Doc::parse(t) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn pairs_items_and_spans() {
        let t = "jobs:\n  test:\n    runs-on: ubuntu-latest # c\n    steps:\n      # lead\n      - uses: actions/checkout@v4\n      - name: x\n        run: |\n          echo a\n          echo b\n";
        let d = parse(t);
        let test = d.root.get("jobs").and_then(|j| j.get("test"));
        let test = test.expect("job");
        assert_eq!(
            test.get("runs-on").and_then(Node::str),
            Some("ubuntu-latest")
        );
        let steps = test.get("steps").and_then(Node::sequence).expect("steps");
        assert_eq!(steps.len(), 2);
        assert_eq!(&t[steps[1].span.start..steps[1].span.start + 1], "-");
        let run = steps[1]
            .node
            .get("run")
            .and_then(Node::scalar)
            .expect("run");
        assert_eq!(run.style, Style::Literal);
        assert_eq!(run.text, "echo a\necho b\n");
    }

    #[test]
    fn anchors_followed_by_comments_and_aliases() {
        let t = "a: &x\n  # c\n  k: v\nb: *x\n";
        let d = parse(t);
        let b = d.root.get("b").expect("b");
        let target = d.resolve(b);
        assert_eq!(target.get("k").and_then(Node::str), Some("v"));
    }

    #[test]
    fn quoted_and_folded_scalars() {
        let t = "a: 'it''s'\nb: \"x\\ty\"\nc: plain\n  continued\nd: >\n  one\n  two\n";
        let d = parse(t);
        assert_eq!(d.root.get("a").and_then(Node::str), Some("it's"));
        assert_eq!(d.root.get("b").and_then(Node::str), Some("x\ty"));
        assert_eq!(d.root.get("c").and_then(Node::str), Some("plain continued"));
        assert_eq!(d.root.get("d").and_then(Node::str), Some("one two\n"));
    }

    /// `k0:` / `-` / ` k1:` / ` -` ...: the deepest scanner state per column.
    fn nested(levels: usize) -> String {
        let mut s = String::new();
        for i in 0..levels {
            s.push_str(&format!("{0}k{i}:\n{0}-\n", " ".repeat(i)));
        }
        s.push_str(&" ".repeat(levels));
        s.push_str("z: 1\n");
        s
    }

    #[test]
    fn errors_are_located_not_panics() {
        for bad in [
            "a: [1, 2\n",
            "a:\n\t- b\n",
            "{{{{{{{{",
            "a: b\n---\nc: d\n",
            &"[".repeat(5000),
            &"- ".repeat(10_000),
            &format!("a:{}", "\n b:".repeat(40_000)),
            &"x".repeat(40_000),
            &(0..300)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect::<String>(),
            &nested(150),
        ] {
            assert!(Doc::parse(bad).is_err(), "{bad:?}");
        }
        // Two scanner levels a column (a mapping and an indentless sequence)
        // up to the bound: answered (too deep for the tree), not aborted.
        assert!(Doc::parse(&nested(100)).is_err());
        assert!(Doc::parse(&nested(40)).is_ok());
        assert!(Doc::parse("").is_ok());
        assert!(Doc::parse("# only a comment\n").is_ok());
    }
}
