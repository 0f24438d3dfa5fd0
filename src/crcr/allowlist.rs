//! The downstream CI allowlist: which repositories take part, at which
//! level, and who is on call for them.
//!
//! The file is in PyTorch's format, so their `.github/allowlist.yml` works
//! unchanged:
//!
//! ```yaml
//! L1:
//!   - org1/repo1
//! L2:
//!   - org2/repo2: "oncall1, @oncall2"
//! L3:
//!   npu:                          # PRs labelled ciflow/crcr/npu
//!     org3/repo3: [oncall3, org3/npu-team]
//! L4:
//!   - org4/repo4: [oncall4]
//! ```
//!
//! One semantics: repository names are compared case-insensitively; a
//! repository listed twice (in one level or across levels) is an error; an
//! item that is not `owner/repo`, an unknown top-level key and an on-call that
//! is not a GitHub login or `org/team` are errors; on-calls are a comma
//! separated string or a list, with or without `@`; an empty file (or one
//! holding only comments) is an empty allowlist. Every error carries the
//! line and the item, and parsing goes on after one, so a file's errors are
//! all reported at once.
//!
//! Pure: text in, [`Allowlist`] or [`AllowlistError`]s out.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::heal::yaml::{Doc, Node, Value};

/// The label prefix that asks for L3 repositories: `ciflow/crcr/<device>`.
pub const LABEL_PREFIX: &str = "ciflow/crcr/";
/// GitHub refuses label names longer than 50 characters, so a device name
/// can be at most this long and still fit in `ciflow/crcr/<device>`.
pub const MAX_DEVICE: usize = 50 - LABEL_PREFIX.len();
/// GitHub logins are at most 39 characters.
const MAX_LOGIN: usize = 39;
/// GitHub repository names are at most 100 characters.
const MAX_REPO_NAME: usize = 100;
/// Team slugs: GitHub allows team names of up to 255 characters.
const MAX_TEAM: usize = 255;
/// Items quoted in error messages are cut to this many characters.
const MAX_QUOTED: usize = 80;

/// How far a downstream repository takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    /// Pull request events are dispatched to it; nothing comes back.
    L1,
    /// Its results are recorded (ClickHouse, summaries), never shown on PRs.
    L2,
    /// A non-blocking check run and an on-call ping, only on PRs labelled
    /// `ciflow/crcr/<device>`.
    L3,
    /// A check run on every PR and an on-call ping; a failure blocks merging.
    L4,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::L1, Level::L2, Level::L3, Level::L4];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::L1 => "L1",
            Level::L2 => "L2",
            Level::L3 => "L3",
            Level::L4 => "L4",
        }
    }

    fn from_key(key: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == key)
    }

    /// Pull request events are dispatched to the repository (every level).
    pub fn dispatches(self) -> bool {
        true
    }

    /// Results sent back are accepted and recorded (L2 and up).
    pub fn records_results(self) -> bool {
        self >= Level::L2
    }

    /// Results show on the PR as a check run: L4 always, L3 when the PR
    /// carries its device label.
    pub fn shows_on_pr(self, labelled: bool) -> bool {
        match self {
            Level::L1 | Level::L2 => false,
            Level::L3 => labelled,
            Level::L4 => true,
        }
    }

    /// On-calls are pinged on a failure shown on the PR (L3 and L4).
    pub fn pings_oncalls(self) -> bool {
        self >= Level::L3
    }

    /// A failure blocks merging (L4 only).
    pub fn blocks_merge(self) -> bool {
        self == Level::L4
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One allowlisted repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// As written in the file.
    pub repo: String,
    pub level: Level,
    /// L3 only: the `<device>` of the `ciflow/crcr/<device>` label.
    pub device: Option<String>,
    /// Logins and `org/team`s, without `@`, in file order, each once.
    pub oncalls: Vec<String>,
    /// 1-based line of the item.
    #[serde(skip)]
    pub line: usize,
}

/// A repository a pull request concerns, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub repo: &'a str,
    pub level: Level,
    pub device: Option<&'a str>,
    /// A check run goes on the PR (L4, or L3 with its label).
    pub on_pr: bool,
}

/// What is wrong with the file, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowlistError {
    #[serde(skip)]
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    #[serde(skip)]
    pub column: usize,
    pub message: String,
}

impl fmt::Display for AllowlistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every error found in one file (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowlistErrors(pub Vec<AllowlistError>);

impl fmt::Display for AllowlistErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AllowlistErrors {}

/// A parsed allowlist: entries in file order, looked up case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<Entry>,
    /// Lowercased repository name to index in `entries`.
    index: HashMap<String, usize>,
}

impl Allowlist {
    /// Parse `text`, the content of `file` (named in errors).
    pub fn parse(file: &str, text: &str) -> Result<Allowlist, AllowlistErrors> {
        let mut p = Parser {
            file,
            doc: None,
            text,
            errors: Vec::new(),
            list: Allowlist::default(),
            lines: HashMap::new(),
        };
        p.run();
        if p.errors.is_empty() {
            Ok(p.list)
        } else {
            p.errors.sort_by_key(|e| (e.line, e.column));
            Err(AllowlistErrors(p.errors))
        }
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `repo` (`owner/name`, any case).
    pub fn get(&self, repo: &str) -> Option<&Entry> {
        self.index
            .get(&repo.trim().to_ascii_lowercase())
            .and_then(|&i| self.entries.get(i))
    }

    pub fn level_of(&self, repo: &str) -> Option<Level> {
        self.get(repo).map(|e| e.level)
    }

    /// The repository's on-calls (none when it is not allowlisted).
    pub fn oncalls(&self, repo: &str) -> &[String] {
        self.get(repo).map_or(&[], |e| e.oncalls.as_slice())
    }

    /// The repositories a pull request with `labels` is dispatched to (all
    /// of them, every level), each saying whether its result goes on the
    /// PR: L4 always, L3 when a label is `ciflow/crcr/<its device>`. Labels
    /// are compared case-insensitively, as GitHub names them.
    pub fn targets_for_pr<S: AsRef<str>>(&self, labels: &[S]) -> Vec<Target<'_>> {
        let devices: Vec<String> = labels
            .iter()
            .filter_map(|l| {
                let l = l.as_ref().trim();
                let head = l.get(..LABEL_PREFIX.len())?;
                head.eq_ignore_ascii_case(LABEL_PREFIX)
                    .then(|| l[LABEL_PREFIX.len()..].to_ascii_lowercase())
            })
            .collect();
        self.entries
            .iter()
            .map(|e| {
                let labelled = e
                    .device
                    .as_deref()
                    .is_some_and(|d| devices.iter().any(|x| x.eq_ignore_ascii_case(d)));
                Target {
                    repo: &e.repo,
                    level: e.level,
                    device: e.device.as_deref(),
                    on_pr: e.level.shows_on_pr(labelled),
                }
            })
            .collect()
    }

    /// True when a failure of `repo` blocks merging.
    pub fn blocks_merge(&self, repo: &str) -> bool {
        self.level_of(repo).is_some_and(Level::blocks_merge)
    }
}

struct Parser<'a> {
    file: &'a str,
    doc: Option<Doc>,
    text: &'a str,
    errors: Vec<AllowlistError>,
    list: Allowlist,
    /// Lowercased repository name to (level, line) of its first listing.
    lines: HashMap<String, (Level, usize)>,
}

impl Parser<'_> {
    fn error_at(&mut self, offset: usize, message: String) {
        let (line, col) = crate::heal::yaml::line_col(self.text, offset);
        self.errors.push(AllowlistError {
            file: self.file.to_string(),
            line: line + 1,
            column: col + 1,
            message,
        });
    }

    fn run(&mut self) {
        let doc = match Doc::parse(self.text) {
            Ok(d) => d,
            Err(e) => {
                let (line, column, why) =
                    syntax_error(self.text).unwrap_or((e.line, e.column, e.message));
                self.errors.push(AllowlistError {
                    file: self.file.to_string(),
                    line,
                    column,
                    message: format!("not valid YAML: {why}"),
                });
                return;
            }
        };
        let root = doc.resolve(&doc.root).clone();
        self.doc = Some(doc);
        if is_null(&root) {
            return;
        }
        let Some(pairs) = root.mapping() else {
            self.error_at(
                root.span.start,
                "the allowlist must be a mapping with the keys L1, L2, L3 and L4".into(),
            );
            return;
        };
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for pair in pairs {
            let Some(level) = Level::from_key(&pair.key) else {
                self.error_at(
                    pair.span.start,
                    format!(
                        "unknown key {}: the allowlist has only L1, L2, L3 and L4",
                        quote(&pair.key)
                    ),
                );
                continue;
            };
            if let Some(first) = seen.insert(level.as_str(), self.line(pair.span.start)) {
                self.error_at(
                    pair.span.start,
                    format!("{level} appears twice (first on line {first})"),
                );
                continue;
            }
            let value = self.resolve(&pair.value);
            if is_null(&value) {
                continue;
            }
            match level {
                Level::L3 => self.devices(&value),
                _ => self.list(level, &value),
            }
        }
    }

    fn line(&self, offset: usize) -> usize {
        crate::heal::yaml::line_col(self.text, offset).0 + 1
    }

    fn resolve(&self, node: &Node) -> Node {
        match &self.doc {
            Some(d) => d.resolve(node).clone(),
            None => node.clone(),
        }
    }

    /// L1, L2, L4: a list of `owner/repo` or `{owner/repo: oncalls}`.
    fn list(&mut self, level: Level, value: &Node) {
        let Some(items) = value.sequence() else {
            self.error_at(
                value.span.start,
                format!("{level} must be a list of owner/repo items"),
            );
            return;
        };
        for item in items {
            let node = self.resolve(&item.node);
            let at = node.span.start;
            match &node.value {
                Value::Scalar(s) => {
                    self.entry(level, None, &s.text, at, None);
                }
                Value::Mapping(pairs) if pairs.len() == 1 => {
                    let pair = &pairs[0];
                    let oncalls = self.resolve(&pair.value);
                    self.entry(level, None, &pair.key, pair.span.start, Some(&oncalls));
                }
                Value::Mapping(pairs) => self.error_at(
                    at,
                    format!(
                        "{level}: an item is owner/repo or a one-key mapping `owner/repo: oncalls`, \
                         not a mapping of {} keys",
                        pairs.len()
                    ),
                ),
                _ => self.error_at(
                    at,
                    format!(
                        "{level}: an item is owner/repo or `owner/repo: oncalls`, got {}",
                        self.snippet(&node)
                    ),
                ),
            }
        }
    }

    /// L3: device name to a mapping of `owner/repo: oncalls`.
    fn devices(&mut self, value: &Node) {
        let Some(devices) = value.mapping() else {
            self.error_at(
                value.span.start,
                "L3 must map device names to `owner/repo: oncalls` mappings".into(),
            );
            return;
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        for dev in devices {
            let device = dev.key.trim();
            let at = dev.span.start;
            if !valid_device(device) {
                self.error_at(
                    at,
                    format!(
                        "L3: device {} is not a label suffix (letters, digits, `.`, `_`, `-`; \
                         at most {MAX_DEVICE} characters)",
                        quote(device)
                    ),
                );
                continue;
            }
            if let Some(first) = seen.insert(device.to_ascii_lowercase(), self.line(at)) {
                self.error_at(
                    at,
                    format!(
                        "L3: device {} appears twice (first on line {first})",
                        quote(device)
                    ),
                );
                continue;
            }
            let repos = self.resolve(&dev.value);
            if is_null(&repos) {
                continue;
            }
            let Some(pairs) = repos.mapping() else {
                self.error_at(
                    repos.span.start,
                    format!(
                        "L3.{device}: must be a mapping of `owner/repo: oncalls`, got {}",
                        self.snippet(&repos)
                    ),
                );
                continue;
            };
            for pair in pairs {
                let oncalls = self.resolve(&pair.value);
                self.entry(
                    Level::L3,
                    Some(device),
                    &pair.key,
                    pair.span.start,
                    Some(&oncalls),
                );
            }
        }
    }

    fn entry(
        &mut self,
        level: Level,
        device: Option<&str>,
        repo: &str,
        at: usize,
        oncalls: Option<&Node>,
    ) {
        let repo = repo.trim();
        let line = self.line(at);
        let place = match device {
            Some(d) => format!("L3.{d}"),
            None => level.to_string(),
        };
        if !valid_repo(repo) {
            self.error_at(at, format!("{place}: {} is not owner/repo", quote(repo)));
            return;
        }
        let oncalls = match oncalls {
            Some(node) => self.oncalls(&place, repo, node),
            None => Some(Vec::new()),
        };
        let key = repo.to_ascii_lowercase();
        if let Some(&(first_level, first_line)) = self.lines.get(&key) {
            self.error_at(
                at,
                format!(
                    "{place}: {} is already listed at {first_level} on line {first_line}",
                    quote(repo)
                ),
            );
            return;
        }
        self.lines.insert(key.clone(), (level, line));
        let Some(oncalls) = oncalls else { return };
        self.list.index.insert(key, self.list.entries.len());
        self.list.entries.push(Entry {
            repo: repo.to_string(),
            level,
            device: device.map(str::to_string),
            oncalls,
            line,
        });
    }

    /// A comma-separated string or a list; `None` when an error was reported.
    fn oncalls(&mut self, place: &str, repo: &str, node: &Node) -> Option<Vec<String>> {
        let mut raw: Vec<(String, usize)> = Vec::new();
        match &node.value {
            _ if is_null(node) => {}
            Value::Scalar(s) => {
                raw.extend(s.text.split(',').map(|p| (p.to_string(), node.span.start)));
            }
            Value::Sequence(items) => {
                for item in items {
                    let n = self.resolve(&item.node);
                    match n.scalar() {
                        Some(s) => raw.push((s.text.clone(), n.span.start)),
                        None => {
                            self.error_at(
                                n.span.start,
                                format!(
                                    "{place}: {}: an on-call is a login, got {}",
                                    quote(repo),
                                    self.snippet(&n)
                                ),
                            );
                            return None;
                        }
                    }
                }
            }
            _ => {
                self.error_at(
                    node.span.start,
                    format!(
                        "{place}: {}: on-calls are a comma-separated string or a list, got {}",
                        quote(repo),
                        self.snippet(node)
                    ),
                );
                return None;
            }
        }
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (text, at) in raw {
            let t = text.trim();
            let login = t.strip_prefix('@').unwrap_or(t).trim();
            if login.is_empty() {
                continue;
            }
            if !valid_oncall(login) {
                self.error_at(
                    at,
                    format!(
                        "{place}: {}: on-call {} is not a GitHub login or org/team",
                        quote(repo),
                        quote(t)
                    ),
                );
                ok = false;
                continue;
            }
            if !out.iter().any(|o| o.eq_ignore_ascii_case(login)) {
                out.push(login.to_string());
            }
        }
        ok.then_some(out)
    }

    /// A short, quoted view of a node's source for messages.
    fn snippet(&self, node: &Node) -> String {
        match &node.value {
            Value::Mapping(_) => "a mapping".into(),
            Value::Sequence(_) => "a list".into(),
            Value::Empty => "nothing".into(),
            _ => {
                let src = self
                    .text
                    .get(node.span.start..node.span.end)
                    .unwrap_or_default();
                quote(src.trim())
            }
        }
    }
}

/// Where a YAML syntax error is, and why, from the YAML library: the
/// tree-sitter grammar's error recovery often places the error at the start
/// of the enclosing block, the library at the offending character.
fn syntax_error(text: &str) -> Option<(usize, usize, String)> {
    if text.len() > crate::heal::yaml::MAX_BYTES {
        return None;
    }
    let e = serde_yaml::from_str::<serde_yaml::Value>(text).err()?;
    let loc = e.location()?;
    let msg = e.to_string();
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    // At the end of the text the library may point past the last line.
    let last = text.split('\n').count();
    if loc.line() > last {
        let tail = text.rsplit('\n').next().unwrap_or_default();
        return Some((last, tail.len() + 1, msg));
    }
    Some((loc.line(), loc.column(), msg))
}

/// `key:` with nothing, `~` or `null`.
fn is_null(node: &Node) -> bool {
    match &node.value {
        Value::Empty => true,
        Value::Scalar(s) => {
            s.style == crate::heal::yaml::Style::Plain
                && matches!(s.text.as_str(), "~" | "null" | "Null" | "NULL")
        }
        _ => false,
    }
}

/// `text` in backticks, cut and made printable, for messages.
fn quote(text: &str) -> String {
    let mut out = String::from("`");
    for (i, c) in text.chars().enumerate() {
        if i == MAX_QUOTED {
            out.push('…');
            break;
        }
        match c {
            '`' => out.push('\''),
            c if c.is_control() => out.push('�'),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// A GitHub login: letters, digits and `-`, not starting with `-`. Some
/// old logins end with `-` or hold `--`, and Enterprise Managed Users'
/// logins end in `_shortcode`, so those are accepted.
fn valid_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LOGIN
        && !s.starts_with(['-', '_'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `owner/repo`, as GitHub spells them.
fn valid_repo(s: &str) -> bool {
    let Some((owner, name)) = s.split_once('/') else {
        return false;
    };
    valid_login(owner)
        && !name.is_empty()
        && name.len() <= MAX_REPO_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A login, or `org/team` (a team slug).
fn valid_oncall(s: &str) -> bool {
    match s.split_once('/') {
        None => valid_login(s),
        Some((org, team)) => {
            valid_login(org)
                && !team.is_empty()
                && team.len() <= MAX_TEAM
                && !team.starts_with(['-', '.', '_'])
                && team
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
    }
}

/// The suffix of a `ciflow/crcr/<device>` label.
fn valid_device(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_DEVICE
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
#[path = "allowlist_tests.rs"]
mod tests;
