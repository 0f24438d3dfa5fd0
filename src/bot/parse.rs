//! Comment commands: find the command in a comment body and parse it.
//!
//! Pure: no I/O, no panics on any input. A command is the first line of the
//! body that starts (after at most three spaces) with one of the handles, a
//! space, and the command. Quoted lines, fenced and indented code blocks,
//! HTML comments, a handle glued to a word and text before the handle are
//! not commands. The rest of the line is split like a shell line (quotes
//! group words) and parsed with an argparse-like grammar; a parse error is a
//! [`ParseError`] whose `Display` is the message the commenter sees.

use std::fmt;

use serde::ser::{Serialize, SerializeMap as _, Serializer};

/// The handle used when none is configured.
pub const DEFAULT_HANDLE: &str = "@ci-medic";

/// Echoed values (an invalid choice, unrecognized arguments) are cut to this
/// many characters, so a reply cannot be inflated by its command.
const MAX_ECHO_CHARS: usize = 80;

/// `revert -c` choices.
pub const REVERT_CLASSIFICATIONS: &[&str] = &[
    "nosignal",
    "ignoredsignal",
    "landrace",
    "weird",
    "ghfirst",
    "autorevert",
];

/// `cherry-pick -c` choices.
pub const CHERRY_PICK_CLASSIFICATIONS: &[&str] =
    &["regression", "critical", "fixnewfeature", "docs", "release"];

/// The command names, in the order help lists them.
pub const COMMANDS: &[&str] = &[
    "merge",
    "revert",
    "rebase",
    "cherry-pick",
    "label",
    "retest",
    "drci",
    "help",
];

/// Where `merge -r` rebases onto: JSON `true` for the base, else the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebaseOnto {
    /// `-r` alone: the pull request's base branch.
    Base,
    /// `-r BRANCH`.
    Branch(String),
}

impl Serialize for RebaseOnto {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RebaseOnto::Base => s.serialize_bool(true),
            RebaseOnto::Branch(b) => s.serialize_str(b),
        }
    }
}

/// A parsed command; serialized as the offline contract's JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    Merge {
        /// `-f REASON`: skip waiting for checks.
        force: Option<String>,
        /// `-i`: ignore the checks failing now.
        ignore_current: bool,
        /// `-r [BRANCH]`: rebase first.
        rebase: Option<RebaseOnto>,
    },
    Revert {
        message: String,
        classification: String,
    },
    Rebase {
        /// `None`: the pull request's base.
        branch: Option<String>,
    },
    CherryPick {
        onto: String,
        classification: String,
        fixes: Option<String>,
    },
    Label {
        labels: Vec<String>,
    },
    Retest,
    Drci,
    Help,
}

impl Command {
    /// The command's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Merge { .. } => "merge",
            Command::Revert { .. } => "revert",
            Command::Rebase { .. } => "rebase",
            Command::CherryPick { .. } => "cherry-pick",
            Command::Label { .. } => "label",
            Command::Retest => "retest",
            Command::Drci => "drci",
            Command::Help => "help",
        }
    }
}

/// What went wrong, argparse's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A quote opened and never closed.
    #[error("unbalanced quote")]
    UnbalancedQuote,
    /// An option that takes a value got none.
    #[error("argument {0}: expected one argument")]
    ExpectedOneArgument(&'static str),
    /// A value outside an option's choices.
    #[error("argument {arg}: invalid choice: '{value}' (choose from {})", quoted(.choices))]
    InvalidChoice {
        arg: &'static str,
        value: String,
        choices: &'static [&'static str],
    },
    /// Two exclusive options.
    #[error("argument {arg}: not allowed with argument {other}")]
    NotAllowedWith {
        arg: &'static str,
        other: &'static str,
    },
    /// Required options or positionals missing.
    #[error("the following arguments are required: {}", .0.join(", "))]
    Required(Vec<&'static str>),
    /// Words the command does not take.
    #[error("unrecognized arguments: {0}")]
    Unrecognized(String),
    /// `merge -f` with a one-word reason.
    #[error("argument -f/--force: the reason must have at least two words")]
    ReasonTooShort,
    /// Not a command; `suggestion` is the closest one, if any is close.
    #[error(
        "argument command: invalid choice: '{value}' (choose from {}){}",
        quoted(COMMANDS),
        did_you_mean(.suggestion)
    )]
    UnknownCommand {
        value: String,
        suggestion: Option<&'static str>,
    },
}

/// A command that could not be parsed: `{prog}: error: {kind}`, where
/// `prog` is the handle and, once known, the command (`@ci-medic merge`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: error: {kind}", self.prog())]
pub struct ParseError {
    /// The handle as configured.
    pub handle: String,
    /// The recognized command, if the error is in its arguments.
    pub command: Option<&'static str>,
    pub kind: ErrorKind,
}

impl ParseError {
    /// argparse's `prog`: the handle, then the command once recognized.
    pub fn prog(&self) -> String {
        match self.command {
            Some(c) => format!("{} {c}", self.handle),
            None => self.handle.clone(),
        }
    }

    /// The usage line to show under the error.
    pub fn usage(&self) -> String {
        let handle = &self.handle;
        match self.command {
            Some(c) => usage(handle, c),
            None => format!(
                "usage: {handle} {{{}}} ...\n\nTry `{handle} help` for every command.",
                COMMANDS.join(",")
            ),
        }
    }
}

/// The usage line of one command.
pub fn usage(handle: &str, command: &str) -> String {
    let tail = match command {
        "merge" => "[-f REASON | -i] [-r [BRANCH]]",
        "revert" => "-m MESSAGE -c {nosignal,ignoredsignal,landrace,weird,ghfirst,autorevert}",
        "rebase" => "[-b BRANCH]",
        "cherry-pick" => {
            "--onto BRANCH -c {regression,critical,fixnewfeature,docs,release} [--fixes ISSUE-URL]"
        }
        "label" => "LABEL [LABEL ...]",
        _ => "",
    };
    let line = format!("usage: {handle} {command} {tail}");
    line.trim_end().to_string()
}

/// Every command, one line each: the `help` reply.
pub fn help_text(handle: &str) -> String {
    let rows = [
        (
            "merge",
            "merge once approved and green; -f skips the checks (with a reason), -i ignores the checks failing now, -r rebases first",
        ),
        (
            "revert",
            "revert the merged pull request, with a message and a classification",
        ),
        (
            "rebase",
            "bring the pull request up to date with its base, or rebase it onto -b BRANCH",
        ),
        (
            "cherry-pick",
            "open a pull request applying this change onto another branch",
        ),
        ("label", "add existing labels"),
        ("retest", "re-run the failed jobs of the head commit"),
        ("drci", "refresh the Dr. CI status comment"),
        ("help", "show this help"),
    ];
    let mut out = String::new();
    for (name, what) in rows {
        out.push_str(&usage(handle, name));
        out.push_str("\n    ");
        out.push_str(what);
        out.push('\n');
    }
    out
}

/// What a comment holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// No line of the body is a command.
    NoCommand,
    Command(Command),
    Error(ParseError),
}

/// The offline contract: `{"command": null}`, the command, or
/// `{"error": MESSAGE}`.
impl Serialize for Parsed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Parsed::NoCommand => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("command", &None::<&str>)?;
                m.end()
            }
            Parsed::Command(c) => c.serialize(s),
            Parsed::Error(e) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("error", &e.to_string())?;
                m.end()
            }
        }
    }
}

/// Find and parse the command of a comment. `handles` are compared
/// case-insensitively; empty means [`DEFAULT_HANDLE`].
pub fn parse_comment<S: AsRef<str>>(body: &str, handles: &[S]) -> Parsed {
    let default = [DEFAULT_HANDLE];
    let handles: Vec<&str> = if handles.is_empty() {
        default.to_vec()
    } else {
        handles.iter().map(AsRef::as_ref).collect()
    };
    match find_command(body, &handles) {
        None => Parsed::NoCommand,
        Some((handle, rest)) => match parse_line(handle, rest) {
            Ok(c) => Parsed::Command(c),
            Err(e) => Parsed::Error(e),
        },
    }
}

/// The first command line: the handle that matched (as configured) and the
/// text after it.
pub fn find_command<'a, 'h>(body: &'a str, handles: &[&'h str]) -> Option<(&'h str, &'a str)> {
    let mut fence: Option<(u8, usize)> = None;
    let mut in_html_comment = false;
    for raw in body.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if in_html_comment {
            in_html_comment = !line.contains("-->");
            continue;
        }
        if let Some((ch, len)) = fence {
            if closes_fence(line, ch, len) {
                fence = None;
            }
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let text = &line[indent..];
        if indent >= 4 || text.starts_with('\t') {
            // An indented code block.
            continue;
        }
        if let Some(open) = opens_fence(text) {
            fence = Some(open);
            continue;
        }
        if let Some(after) = text.strip_prefix("<!--") {
            in_html_comment = !after.contains("-->");
            continue;
        }
        for &handle in handles {
            if let Some(rest) = after_handle(text, handle) {
                return Some((handle, rest));
            }
        }
    }
    None
}

/// `text` starts with `handle` (ASCII case-insensitive), then a space or a
/// tab and something else than spaces: the text after the handle.
fn after_handle<'a>(text: &'a str, handle: &str) -> Option<&'a str> {
    if handle.is_empty() {
        return None;
    }
    let head = text.get(..handle.len())?;
    if !head.eq_ignore_ascii_case(handle) {
        return None;
    }
    let rest = &text[handle.len()..];
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim();
    (!rest.is_empty()).then_some(rest)
}

/// A fence opener: three or more backticks or tildes (backticks: no
/// backtick in the info string).
fn opens_fence(text: &str) -> Option<(u8, usize)> {
    let ch = *text.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = text.bytes().take_while(|&b| b == ch).count();
    if len < 3 {
        return None;
    }
    if ch == b'`' && text[len..].contains('`') {
        return None;
    }
    Some((ch, len))
}

fn closes_fence(line: &str, ch: u8, len: usize) -> bool {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent >= 4 {
        return false;
    }
    let text = line[indent..].trim_end();
    let run = text.bytes().take_while(|&b| b == ch).count();
    run >= len && run == text.len()
}

/// Parse the text after the handle: the command and its arguments.
pub fn parse_line(handle: &str, rest: &str) -> Result<Command, ParseError> {
    let top = |kind| ParseError {
        handle: handle.to_string(),
        command: None,
        kind,
    };
    let words = shell_words::split(rest).map_err(|_| top(ErrorKind::UnbalancedQuote))?;
    let Some((first, args)) = words.split_first() else {
        return Err(top(ErrorKind::Required(vec!["command"])));
    };
    let name = match first.as_str() {
        "help" | "-h" | "--help" => return Ok(Command::Help),
        other => match COMMANDS.iter().find(|c| **c == other) {
            Some(c) => *c,
            None => {
                return Err(top(ErrorKind::UnknownCommand {
                    value: echo(other),
                    suggestion: closest(other),
                }));
            }
        },
    };
    let err = |kind| ParseError {
        handle: handle.to_string(),
        command: Some(name),
        kind,
    };
    let spec = spec(name);
    let parsed = scan(args, spec).map_err(err)?;
    if parsed.help {
        return Ok(Command::Help);
    }
    // argparse's order: missing arguments, then words left over.
    let missing = missing(name, &parsed);
    if !missing.is_empty() {
        return Err(err(ErrorKind::Required(missing)));
    }
    if !parsed.unrecognized.is_empty() {
        let words = echo(&parsed.unrecognized.join(" "));
        return Err(err(ErrorKind::Unrecognized(words)));
    }
    build(name, parsed).map_err(err)
}

/// The required arguments `s` lacks.
fn missing(name: &str, s: &Scanned) -> Vec<&'static str> {
    let required: &[&'static str] = match name {
        "revert" => &[MESSAGE.display, REVERT_CLASS.display],
        "cherry-pick" => &[ONTO.display, PICK_CLASS.display],
        _ => &[],
    };
    let mut missing: Vec<&'static str> = required
        .iter()
        .copied()
        .filter(|o| s.get(o).is_none())
        .collect();
    if name == "label" && s.positionals.is_empty() {
        missing.push("labels");
    }
    missing
}

/// How an option takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arity {
    Flag,
    One,
    /// Takes the next word unless it looks like an option.
    Optional,
}

#[derive(Debug, Clone, Copy)]
struct Opt {
    /// The argparse display name, `-f/--force`.
    display: &'static str,
    short: Option<char>,
    long: &'static [&'static str],
    arity: Arity,
    choices: Option<&'static [&'static str]>,
}

struct Spec {
    opts: &'static [Opt],
    /// Takes positionals (label).
    positionals: bool,
}

const FORCE: Opt = Opt {
    display: "-f/--force",
    short: Some('f'),
    long: &["force"],
    arity: Arity::One,
    choices: None,
};
const IGNORE: Opt = Opt {
    display: "-i/--ignore-current",
    short: Some('i'),
    long: &["ignore-current"],
    arity: Arity::Flag,
    choices: None,
};
const REBASE_OPT: Opt = Opt {
    display: "-r/--rebase",
    short: Some('r'),
    long: &["rebase"],
    arity: Arity::Optional,
    choices: None,
};
const MESSAGE: Opt = Opt {
    display: "-m/--message",
    short: Some('m'),
    long: &["message"],
    arity: Arity::One,
    choices: None,
};
const REVERT_CLASS: Opt = Opt {
    display: "-c/--classification",
    short: Some('c'),
    long: &["classification"],
    arity: Arity::One,
    choices: Some(REVERT_CLASSIFICATIONS),
};
const BRANCH: Opt = Opt {
    display: "-b/--branch",
    short: Some('b'),
    long: &["branch"],
    arity: Arity::One,
    choices: None,
};
const ONTO: Opt = Opt {
    display: "--onto/--into",
    short: None,
    long: &["onto", "into"],
    arity: Arity::One,
    choices: None,
};
const PICK_CLASS: Opt = Opt {
    display: "-c/--classification",
    short: Some('c'),
    long: &["classification"],
    arity: Arity::One,
    choices: Some(CHERRY_PICK_CLASSIFICATIONS),
};
const FIXES: Opt = Opt {
    display: "--fixes",
    short: None,
    long: &["fixes"],
    arity: Arity::One,
    choices: None,
};

fn spec(name: &str) -> Spec {
    let opts: &'static [Opt] = match name {
        "merge" => &[FORCE, IGNORE, REBASE_OPT],
        "revert" => &[MESSAGE, REVERT_CLASS],
        "rebase" => &[BRANCH],
        "cherry-pick" => &[ONTO, PICK_CLASS, FIXES],
        _ => &[],
    };
    Spec {
        opts,
        positionals: name == "label",
    }
}

/// The words of a command sorted out: option values by display name (the
/// last one given wins), in the order first seen, and positionals.
#[derive(Debug, Default)]
struct Scanned {
    values: Vec<(&'static str, Option<String>)>,
    positionals: Vec<String>,
    /// Words the command does not take.
    unrecognized: Vec<String>,
    /// `-h`/`--help` came before any error.
    help: bool,
}

impl Scanned {
    fn set(&mut self, display: &'static str, value: Option<String>) {
        match self.values.iter_mut().find(|(d, _)| *d == display) {
            Some(slot) => slot.1 = value,
            None => self.values.push((display, value)),
        }
    }

    fn get(&self, display: &str) -> Option<&Option<String>> {
        self.values
            .iter()
            .find(|(d, _)| *d == display)
            .map(|(_, v)| v)
    }

    fn take(&mut self, display: &str) -> Option<String> {
        self.values
            .iter_mut()
            .find(|(d, _)| *d == display)
            .and_then(|(_, v)| v.take())
    }
}

/// A word that reads as an option (not `-` alone, not a negative number).
fn looks_like_option(word: &str) -> bool {
    word.len() > 1
        && word.starts_with('-')
        && !word[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

fn scan(args: &[String], spec: Spec) -> Result<Scanned, ErrorKind> {
    let mut out = Scanned::default();
    let mut i = 0;
    let mut only_positionals = false;
    while let Some(word) = args.get(i) {
        i += 1;
        if only_positionals || !looks_like_option(word) {
            if spec.positionals {
                out.positionals.push(word.clone());
            } else {
                out.unrecognized.push(word.clone());
            }
            continue;
        }
        if word == "--" {
            only_positionals = true;
            continue;
        }
        if word == "-h" || word == "--help" {
            // argparse answers help as soon as it reads it.
            out.help = true;
            return Ok(out);
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(opt) = spec.opts.iter().find(|o| o.long.contains(&name)) else {
                out.unrecognized.push(word.clone());
                continue;
            };
            let value = match (opt.arity, inline) {
                (Arity::Flag, Some(_)) => {
                    return Err(ErrorKind::Unrecognized(echo(word)));
                }
                (Arity::Flag, None) => None,
                (_, Some(v)) => Some(v),
                (arity, None) => next_value(args, &mut i, opt, arity)?,
            };
            record(&mut out, opt, value)?;
            continue;
        }
        // Short options, possibly clustered: `-ir`, `-fREASON`.
        let cluster = &word[1..];
        for (at, c) in cluster.char_indices() {
            let Some(opt) = spec.opts.iter().find(|o| o.short == Some(c)) else {
                out.unrecognized.push(word.clone());
                break;
            };
            if opt.arity == Arity::Flag {
                record(&mut out, opt, None)?;
                continue;
            }
            let attached = &cluster[at + c.len_utf8()..];
            let value = if attached.is_empty() {
                next_value(args, &mut i, opt, opt.arity)?
            } else {
                Some(attached.trim_start_matches('=').to_string())
            };
            record(&mut out, opt, value)?;
            break;
        }
    }
    Ok(out)
}

/// The value of `opt` from the next word, if it is one.
fn next_value(
    args: &[String],
    i: &mut usize,
    opt: &Opt,
    arity: Arity,
) -> Result<Option<String>, ErrorKind> {
    match args.get(*i) {
        Some(w) if !looks_like_option(w) => {
            *i += 1;
            Ok(Some(w.clone()))
        }
        _ if arity == Arity::Optional => Ok(None),
        _ => Err(ErrorKind::ExpectedOneArgument(opt.display)),
    }
}

/// Check `value` against the option's choices and the exclusive pair, then
/// keep it.
fn record(out: &mut Scanned, opt: &Opt, value: Option<String>) -> Result<(), ErrorKind> {
    if let (Some(choices), Some(v)) = (opt.choices, value.as_deref())
        && !choices.contains(&v)
    {
        return Err(ErrorKind::InvalidChoice {
            arg: opt.display,
            value: echo(v),
            choices,
        });
    }
    let exclusive = match opt.display {
        d if d == FORCE.display => Some(IGNORE.display),
        d if d == IGNORE.display => Some(FORCE.display),
        _ => None,
    };
    if let Some(other) = exclusive
        && out.get(other).is_some()
    {
        return Err(ErrorKind::NotAllowedWith {
            arg: opt.display,
            other,
        });
    }
    out.set(opt.display, value);
    Ok(())
}

/// The command from checked words (required arguments are present).
fn build(name: &'static str, mut s: Scanned) -> Result<Command, ErrorKind> {
    Ok(match name {
        "merge" => {
            let force = s.take(FORCE.display);
            if let Some(reason) = &force
                && reason.split_whitespace().count() < 2
            {
                return Err(ErrorKind::ReasonTooShort);
            }
            let ignore_current = s.get(IGNORE.display).is_some();
            let rebase = match s.get(REBASE_OPT.display) {
                None => None,
                Some(None) => Some(RebaseOnto::Base),
                Some(Some(b)) => Some(RebaseOnto::Branch(b.clone())),
            };
            Command::Merge {
                force,
                ignore_current,
                rebase,
            }
        }
        "revert" => Command::Revert {
            message: s.take(MESSAGE.display).unwrap_or_default(),
            classification: s.take(REVERT_CLASS.display).unwrap_or_default(),
        },
        "rebase" => Command::Rebase {
            branch: s.take(BRANCH.display),
        },
        "cherry-pick" => Command::CherryPick {
            onto: s.take(ONTO.display).unwrap_or_default(),
            classification: s.take(PICK_CLASS.display).unwrap_or_default(),
            fixes: s.take(FIXES.display),
        },
        "label" => {
            let mut labels: Vec<String> = Vec::with_capacity(s.positionals.len());
            for l in s.positionals {
                if !labels.contains(&l) {
                    labels.push(l);
                }
            }
            Command::Label { labels }
        }
        "retest" => Command::Retest,
        "drci" => Command::Drci,
        _ => Command::Help,
    })
}

/// The closest command to a mistyped one, if close enough to be a typo.
fn closest(word: &str) -> Option<&'static str> {
    let word = word.to_lowercase();
    let (best, distance) = COMMANDS
        .iter()
        .map(|c| (*c, strsim::levenshtein(&word, c)))
        .min_by_key(|(_, d)| *d)?;
    let allowed = match best.len() {
        0..=4 => 1,
        5..=7 => 2,
        _ => 3,
    };
    (distance <= allowed).then_some(best)
}

/// A user's word as echoed in an error: cut to [`MAX_ECHO_CHARS`].
fn echo(word: &str) -> String {
    let mut out: String = word.chars().take(MAX_ECHO_CHARS).collect();
    if out.len() < word.len() {
        out.push('…');
    }
    out
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean '{s}'?"),
        None => String::new(),
    }
}

fn quoted<'a>(choices: &'a [&'a str]) -> Quoted<'a> {
    Quoted(choices)
}

/// `'a', 'b', 'c'`, argparse's list of choices.
struct Quoted<'a>(&'a [&'a str]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "'{c}'")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Parsed {
        parse_comment::<&str>(body, &[])
    }

    fn cmd(body: &str) -> Command {
        match parse(body) {
            Parsed::Command(c) => c,
            other => panic!("{body:?}: expected a command, got {other:?}"),
        }
    }

    fn err(body: &str) -> ParseError {
        match parse(body) {
            Parsed::Error(e) => e,
            other => panic!("{body:?}: expected an error, got {other:?}"),
        }
    }

    fn msg(body: &str) -> String {
        err(body).to_string()
    }

    fn merge(force: Option<&str>, ignore_current: bool, rebase: Option<RebaseOnto>) -> Command {
        Command::Merge {
            force: force.map(str::to_string),
            ignore_current,
            rebase,
        }
    }

    // Finding the command line.

    #[test]
    fn the_first_line_starting_with_the_handle_is_the_command() {
        let body = "Looks good.\n\n@ci-medic merge\n@ci-medic revert -m 'a b' -c weird";
        assert_eq!(cmd(body), merge(None, false, None));
        assert_eq!(cmd("   @ci-medic retest"), Command::Retest);
        assert_eq!(cmd("@ci-medic\tdrci\r\nthanks"), Command::Drci);
    }

    #[test]
    fn handles_compare_case_insensitively_and_any_configured_one_works() {
        assert_eq!(cmd("@CI-Medic retest"), Command::Retest);
        let handles = ["@pytorchbot", "@ci-medic"];
        assert_eq!(
            parse_comment("@PyTorchBot drci", &handles),
            Parsed::Command(Command::Drci)
        );
        // Configured handles replace the default.
        assert_eq!(
            parse_comment("@ci-medic drci", &["@pytorchbot"]),
            Parsed::NoCommand
        );
        // The longer of two handles sharing a prefix still matches.
        assert_eq!(
            parse_comment("@ci-medic-bot retest", &["@ci-medic", "@ci-medic-bot"]),
            Parsed::Command(Command::Retest)
        );
    }

    #[test]
    fn quotes_code_html_comments_glued_handles_and_text_before_are_not_commands() {
        for body in [
            "> @ci-medic merge",
            "  > @ci-medic merge",
            "```\n@ci-medic merge\n```",
            "~~~~ text\n@ci-medic merge\n~~~\n~~~~",
            "    @ci-medic merge",
            "\t@ci-medic merge",
            "<!-- @ci-medic merge -->",
            "<!--\n@ci-medic merge\n-->",
            "@ci-medicbot merge",
            "@ci-medic's merge is slow",
            "@ci-medic, merge",
            "please @ci-medic merge",
            "- @ci-medic merge",
            "`@ci-medic merge`",
            "@ci-medic",
            "@ci-medic   ",
            "ci-medic merge",
            "",
        ] {
            assert_eq!(parse(body), Parsed::NoCommand, "{body:?}");
        }
    }

    #[test]
    fn a_command_after_a_closed_block_still_counts() {
        assert_eq!(
            cmd("```sh\n@ci-medic merge\n```\n@ci-medic retest"),
            Command::Retest
        );
        assert_eq!(cmd("<!-- a\nb -->\n@ci-medic drci"), Command::Drci);
        // A shorter fence does not close a longer one.
        assert_eq!(parse("````\n```\n@ci-medic merge\n"), Parsed::NoCommand);
    }

    // Grammar.

    #[test]
    fn merge_takes_force_ignore_current_and_rebase() {
        assert_eq!(cmd("@ci-medic merge"), merge(None, false, None));
        assert_eq!(
            cmd(r#"@ci-medic merge -f "trunk is broken upstream""#),
            merge(Some("trunk is broken upstream"), false, None)
        );
        assert_eq!(
            cmd("@ci-medic merge --force='known flake'"),
            merge(Some("known flake"), false, None)
        );
        assert_eq!(
            cmd("@ci-medic merge -f'known flake'"),
            merge(Some("known flake"), false, None)
        );
        assert_eq!(cmd("@ci-medic merge -i"), merge(None, true, None));
        assert_eq!(
            cmd("@ci-medic merge --ignore-current -r"),
            merge(None, true, Some(RebaseOnto::Base))
        );
        assert_eq!(
            cmd("@ci-medic merge -ir"),
            merge(None, true, Some(RebaseOnto::Base))
        );
        assert_eq!(
            cmd("@ci-medic merge --rebase viable/strict"),
            merge(
                None,
                false,
                Some(RebaseOnto::Branch("viable/strict".into()))
            )
        );
        assert_eq!(
            cmd("@ci-medic merge -r -i"),
            merge(None, true, Some(RebaseOnto::Base))
        );
    }

    #[test]
    fn merge_force_needs_a_two_word_reason_and_excludes_ignore_current() {
        assert_eq!(
            msg("@ci-medic merge -f"),
            "@ci-medic merge: error: argument -f/--force: expected one argument"
        );
        assert_eq!(
            msg("@ci-medic merge -f -i"),
            "@ci-medic merge: error: argument -f/--force: expected one argument"
        );
        assert_eq!(
            msg("@ci-medic merge -f urgent"),
            "@ci-medic merge: error: argument -f/--force: the reason must have at least two words"
        );
        assert_eq!(
            err("@ci-medic merge -f '  urgent  '").kind,
            ErrorKind::ReasonTooShort
        );
        assert_eq!(
            msg("@ci-medic merge -i -f 'known flake'"),
            "@ci-medic merge: error: argument -f/--force: not allowed with argument -i/--ignore-current"
        );
        assert_eq!(
            msg("@ci-medic merge -f 'known flake' --ignore-current"),
            "@ci-medic merge: error: argument -i/--ignore-current: not allowed with argument -f/--force"
        );
        assert_eq!(
            msg("@ci-medic merge --ignore-current=yes"),
            "@ci-medic merge: error: unrecognized arguments: --ignore-current=yes"
        );
    }

    #[test]
    fn revert_needs_a_message_and_a_classification() {
        assert_eq!(
            cmd("@ci-medic revert -m 'broke the build' -c landrace"),
            Command::Revert {
                message: "broke the build".into(),
                classification: "landrace".into()
            }
        );
        assert_eq!(
            cmd("@ci-medic revert --classification=ghfirst --message x"),
            Command::Revert {
                message: "x".into(),
                classification: "ghfirst".into()
            }
        );
        assert_eq!(
            msg("@ci-medic revert"),
            "@ci-medic revert: error: the following arguments are required: -m/--message, -c/--classification"
        );
        assert_eq!(
            msg("@ci-medic revert -m 'a b'"),
            "@ci-medic revert: error: the following arguments are required: -c/--classification"
        );
        assert_eq!(
            msg("@ci-medic revert -m 'a b' -c oops"),
            "@ci-medic revert: error: argument -c/--classification: invalid choice: 'oops' (choose from 'nosignal', 'ignoredsignal', 'landrace', 'weird', 'ghfirst', 'autorevert')"
        );
        // cherry-pick's choices are not revert's.
        assert!(matches!(
            err("@ci-medic revert -m x -c docs").kind,
            ErrorKind::InvalidChoice { .. }
        ));
    }

    #[test]
    fn rebase_takes_an_optional_branch() {
        assert_eq!(cmd("@ci-medic rebase"), Command::Rebase { branch: None });
        assert_eq!(
            cmd("@ci-medic rebase -b release/2.1"),
            Command::Rebase {
                branch: Some("release/2.1".into())
            }
        );
        assert_eq!(
            cmd("@ci-medic rebase --branch=main"),
            Command::Rebase {
                branch: Some("main".into())
            }
        );
        assert_eq!(
            msg("@ci-medic rebase -b"),
            "@ci-medic rebase: error: argument -b/--branch: expected one argument"
        );
        assert_eq!(
            msg("@ci-medic rebase main"),
            "@ci-medic rebase: error: unrecognized arguments: main"
        );
        // Missing arguments are named before words left over, as argparse does.
        assert_eq!(
            msg("@ci-medic revert now please"),
            "@ci-medic revert: error: the following arguments are required: -m/--message, -c/--classification"
        );
    }

    #[test]
    fn cherry_pick_needs_onto_and_a_classification() {
        let want = Command::CherryPick {
            onto: "release/2.1".into(),
            classification: "regression".into(),
            fixes: Some("https://github.com/o/r/issues/7".into()),
        };
        assert_eq!(
            cmd(
                "@ci-medic cherry-pick --onto release/2.1 -c regression --fixes https://github.com/o/r/issues/7"
            ),
            want
        );
        assert_eq!(
            cmd(
                "@ci-medic cherry-pick --into=release/2.1 --classification regression --fixes=https://github.com/o/r/issues/7"
            ),
            want
        );
        assert_eq!(
            msg("@ci-medic cherry-pick -c docs"),
            "@ci-medic cherry-pick: error: the following arguments are required: --onto/--into"
        );
        assert_eq!(
            msg("@ci-medic cherry-pick"),
            "@ci-medic cherry-pick: error: the following arguments are required: --onto/--into, -c/--classification"
        );
        assert_eq!(
            msg("@ci-medic cherry-pick --onto r -c weird"),
            "@ci-medic cherry-pick: error: argument -c/--classification: invalid choice: 'weird' (choose from 'regression', 'critical', 'fixnewfeature', 'docs', 'release')"
        );
        assert_eq!(
            msg("@ci-medic cherry-pick --onto r -c docs --fixes"),
            "@ci-medic cherry-pick: error: argument --fixes: expected one argument"
        );
    }

    #[test]
    fn label_takes_one_or_more_labels() {
        assert_eq!(
            cmd("@ci-medic label ciflow/trunk 'module: ci' ciflow/trunk"),
            Command::Label {
                labels: vec!["ciflow/trunk".into(), "module: ci".into()]
            }
        );
        assert_eq!(
            cmd("@ci-medic label -- -weird"),
            Command::Label {
                labels: vec!["-weird".into()]
            }
        );
        assert_eq!(
            msg("@ci-medic label"),
            "@ci-medic label: error: the following arguments are required: labels"
        );
        assert_eq!(
            msg("@ci-medic label x --bogus"),
            "@ci-medic label: error: unrecognized arguments: --bogus"
        );
    }

    #[test]
    fn retest_drci_and_help_take_nothing() {
        assert_eq!(cmd("@ci-medic retest"), Command::Retest);
        assert_eq!(cmd("@ci-medic drci"), Command::Drci);
        for body in [
            "@ci-medic help",
            "@ci-medic -h",
            "@ci-medic --help",
            "@ci-medic merge --help",
        ] {
            assert_eq!(cmd(body), Command::Help, "{body:?}");
        }
        assert_eq!(
            msg("@ci-medic retest please now"),
            "@ci-medic retest: error: unrecognized arguments: please now"
        );
        assert_eq!(
            msg("@ci-medic drci -x"),
            "@ci-medic drci: error: unrecognized arguments: -x"
        );
    }

    // Errors.

    #[test]
    fn an_unknown_command_lists_the_commands_and_suggests_the_closest() {
        let e = err("@ci-medic mrege");
        assert_eq!(
            e.kind,
            ErrorKind::UnknownCommand {
                value: "mrege".into(),
                suggestion: Some("merge")
            }
        );
        assert_eq!(
            e.to_string(),
            "@ci-medic: error: argument command: invalid choice: 'mrege' (choose from 'merge', 'revert', 'rebase', 'cherry-pick', 'label', 'retest', 'drci', 'help'); did you mean 'merge'?"
        );
        assert_eq!(
            err("@ci-medic cherrypick").kind,
            ErrorKind::UnknownCommand {
                value: "cherrypick".into(),
                suggestion: Some("cherry-pick")
            }
        );
        assert_eq!(
            err("@ci-medic Retest").kind,
            ErrorKind::UnknownCommand {
                value: "Retest".into(),
                suggestion: Some("retest")
            }
        );
        // Nothing close: no suggestion.
        assert_eq!(
            err("@ci-medic thanks for the fix!").kind,
            ErrorKind::UnknownCommand {
                value: "thanks".into(),
                suggestion: None
            }
        );
    }

    #[test]
    fn an_unbalanced_quote_is_an_error() {
        for body in ["@ci-medic merge -f \"no end", "@ci-medic revert -m 'x"] {
            assert_eq!(err(body).kind, ErrorKind::UnbalancedQuote, "{body:?}");
        }
        assert_eq!(
            msg("@ci-medic merge 'x"),
            "@ci-medic: error: unbalanced quote"
        );
    }

    #[test]
    fn an_empty_command_word_is_an_unknown_command() {
        assert_eq!(
            err("@ci-medic ''").kind,
            ErrorKind::UnknownCommand {
                value: String::new(),
                suggestion: None
            }
        );
    }

    #[test]
    fn errors_name_the_handle_as_configured_and_carry_the_usage() {
        let e = match parse_comment("@PYTORCHBOT merge -f", &["@pytorchbot"]) {
            Parsed::Error(e) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            e.to_string(),
            "@pytorchbot merge: error: argument -f/--force: expected one argument"
        );
        assert_eq!(
            e.usage(),
            "usage: @pytorchbot merge [-f REASON | -i] [-r [BRANCH]]"
        );
        assert!(err("@ci-medic nope").usage().contains("@ci-medic help"));
        let help = help_text("@ci-medic");
        for c in COMMANDS {
            assert!(help.contains(&format!("@ci-medic {c}")), "{c}");
        }
    }

    #[test]
    fn echoed_words_are_cut_short() {
        let long = "x".repeat(500);
        let e = err(&format!("@ci-medic {long}"));
        let ErrorKind::UnknownCommand { value, .. } = &e.kind else {
            panic!("{e:?}");
        };
        assert_eq!(value.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(value.ends_with('…'));
        let e = err(&format!("@ci-medic retest {}", "é".repeat(300)));
        assert!(e.to_string().chars().count() < 200, "{e}");
    }

    #[test]
    fn the_contract_json_has_the_documented_shapes() {
        let j = |body: &str| serde_json::to_value(parse(body)).unwrap();
        assert_eq!(j("hello"), serde_json::json!({"command": null}));
        assert_eq!(
            j("@ci-medic merge -r"),
            serde_json::json!({"command": "merge", "force": null, "ignore_current": false, "rebase": true})
        );
        assert_eq!(
            j("@ci-medic merge -f 'a b' -r main"),
            serde_json::json!({"command": "merge", "force": "a b", "ignore_current": false, "rebase": "main"})
        );
        assert_eq!(
            j("@ci-medic cherry-pick --onto r -c docs"),
            serde_json::json!({"command": "cherry-pick", "onto": "r", "classification": "docs", "fixes": null})
        );
        assert_eq!(
            j("@ci-medic rebase"),
            serde_json::json!({"command": "rebase", "branch": null})
        );
        assert_eq!(j("@ci-medic help"), serde_json::json!({"command": "help"}));
        assert_eq!(
            j("@ci-medic merge -f"),
            serde_json::json!({"error": "@ci-medic merge: error: argument -f/--force: expected one argument"})
        );
        // "command" comes first in the text.
        let text = serde_json::to_string(&parse("@ci-medic revert -m 'a b' -c weird")).unwrap();
        assert!(text.starts_with(r#"{"command":"revert""#), "{text}");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};

        fn config() -> Config {
            Config {
                cases: 1000,
                rng_seed: RngSeed::Fixed(0x0b07_7a25e),
                failure_persistence: None,
                ..Config::default()
            }
        }

        /// Words the grammar knows, and trouble.
        fn word() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "@ci-medic",
                    "@CI-MEDIC",
                    "merge",
                    "revert",
                    "rebase",
                    "cherry-pick",
                    "label",
                    "retest",
                    "drci",
                    "help",
                    "-f",
                    "--force",
                    "-i",
                    "-r",
                    "-ir",
                    "-fi",
                    "-m",
                    "-c",
                    "-b",
                    "--onto",
                    "--into=",
                    "--fixes",
                    "--",
                    "-",
                    "-h",
                    "weird",
                    "docs",
                    "'",
                    "\"",
                    "\\",
                    "a b",
                    ">",
                    "```",
                    "    ",
                    "\t",
                    "<!--",
                    "-->",
                    "\n",
                    "\r\n",
                    "##[error]",
                    "::stop-commands::x",
                    "é",
                    "日本",
                    "\u{200B}",
                    "-é",
                    "--é=",
                    "-1",
                ])
                .prop_map(str::to_string),
                "\\PC{0,8}",
            ]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_parses_without_panicking(words in prop::collection::vec(word(), 0..16)) {
                let body = words.join(" ");
                let parsed = parse_comment(&body, &["@ci-medic", "@é"]);
                // Every outcome serializes, and an error has its message and usage.
                let text = serde_json::to_string(&parsed).unwrap();
                prop_assert!(!text.is_empty());
                if let Parsed::Error(e) = &parsed {
                    prop_assert!(e.to_string().contains(": error: "));
                    prop_assert!(e.usage().starts_with("usage: "));
                }
            }

            #[test]
            fn a_parsed_command_comes_from_a_line_that_starts_with_the_handle(
                words in prop::collection::vec(word(), 0..16)
            ) {
                let body = words.join(" ");
                if parse(&body) != Parsed::NoCommand {
                    prop_assert!(body.split('\n').any(|l| l
                        .trim_start_matches(' ')
                        .get(..9)
                        .is_some_and(|h| h.eq_ignore_ascii_case("@ci-medic"))));
                }
            }
        }
    }
}
