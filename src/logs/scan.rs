//! Splits a log into segments (steps) and tells, for each line, whether it is
//! output worth reading or runner boilerplate.
//!
//! Three layouts are understood:
//! - GitHub Actions job logs: a timestamp on every line; a runner preamble
//!   ("Set up job"); each step starts at `##[group]Run ...`, whose group is the
//!   echoed script and its `with:`/`env:` blocks up to `##[endgroup]`; post
//!   steps start at `Post job cleanup.`; the job ends at `Cleaning up orphan
//!   processes`.
//! - `gh run view --log` output: `job\tstep\t` before each timestamped line.
//! - Plain text, including Travis CI logs (`travis_fold:start:NAME` opens a
//!   phase, `$ command` starts a segment, `The command "..." exited with N.`
//!   closes it).

use super::clean::{self, Marker};
use super::reader::RawLine;
use super::summary::{self, TestOutcome};

/// How a log is laid out; detected from its first non-empty line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GithubActions,
    GhRunView,
    Text,
}

/// What a segment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// The runner's "Set up job" preamble (or Travis' machine setup).
    Preamble,
    /// A workflow step (or a Travis command).
    Step,
    /// Post-job cleanup, "Complete job", Travis cache upload.
    Post,
}

/// One step of a job log.
#[derive(Debug, Clone)]
pub struct Segment {
    pub kind: SegmentKind,
    /// The step name when known (zip step files, `gh run view`), else the
    /// group header (`Run cargo test`), else a fixed name.
    pub name: String,
    /// Whether `name` is the step's real name rather than its header text.
    pub name_is_real: bool,
    /// 1-based ordinal among `##[group]Run` steps (GitHub job logs only).
    pub ordinal: Option<usize>,
    /// Job name from `gh run view` prefixes.
    pub job: Option<String>,
    /// Index of the source file (several files can form one job in a zip).
    pub source: usize,
    /// `##[error]` lines in this segment.
    pub errors: u32,
    pub last_error_line: Option<u64>,
    /// From `Process completed with exit code N.` or Travis' `exited with N`.
    pub exit_code: Option<i64>,
    /// The line that started the step (`##[group]Run ...`, Travis `$ ...`)
    /// and its cleaned text.
    pub header: Option<(u64, String)>,
    /// The step's test runs, in order: its output up to the first inner
    /// `##[group]` (a tool's own sub-step, such as one project of a
    /// monorepo run), each inner group, and what follows each group. A
    /// summary speaks for its run only.
    pub runs: Vec<TestRun>,
    /// The step's echoed script lets a command fail (`|| true`, `|| :`,
    /// `|| exit 0`): error lines in its output may be of a command that
    /// failed without failing the step.
    pub lets_commands_fail: bool,
    /// The script's last word on exiting at the first error was `set +e`
    /// (a later `set -e` takes it back).
    pub errexit_off: bool,
}

/// What a line of a step's echoed script says about failing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptLine {
    /// `cmd || true` and the like: this command may fail.
    LetsFail,
    /// `set +e`: every command after it may fail.
    ErrexitOff,
    /// `set -e`: a failing command fails the step again.
    ErrexitOn,
    Other,
}

fn script_line(line: &[u8]) -> ScriptLine {
    let line = line.trim_ascii();
    if line.starts_with(b"set +e") || line.starts_with(b"set +o errexit") {
        ScriptLine::ErrexitOff
    } else if line.starts_with(b"set -e") || line.starts_with(b"set -o errexit") {
        ScriptLine::ErrexitOn
    } else if [&b"|| true"[..], b"||true", b"|| :", b"|| exit 0"]
        .iter()
        .any(|p| memchr::memmem::find(line, p).is_some())
    {
        ScriptLine::LetsFail
    } else {
        ScriptLine::Other
    }
}

/// Runs kept per segment; later groups are counted in the last run.
pub const MAX_RUNS: usize = 256;

/// One part of a step's output, with what test summaries said in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestRun {
    /// First line of the run (0: the segment's start).
    pub start: u64,
    /// Whether the run is an inner `##[group]` of the step.
    pub group: bool,
    /// Summaries in the run saying some tests failed.
    pub failing: u32,
    /// The line of the last summary saying the tests passed.
    pub last_passing: Option<u64>,
    /// The line of the first summary saying some tests failed.
    pub first_failing: Option<u64>,
}

impl Segment {
    /// True when the segment shows that its step failed.
    pub fn failed(&self) -> bool {
        self.errors > 0 || self.exit_code.is_some_and(|c| c != 0)
    }

    /// The step's script lets commands fail: error lines in its output may
    /// be of a command that failed without failing the step.
    pub fn ignores_failures(&self) -> bool {
        self.lets_commands_fail || self.errexit_off
    }

    /// The run holding `line` (of this segment's source), with its index.
    pub fn run_at(&self, line: u64) -> Option<(usize, &TestRun)> {
        let i = self
            .runs
            .partition_point(|r| r.start <= line)
            .checked_sub(1)?;
        self.runs.get(i).map(|r| (i, r))
    }

    /// Starts another run at `line`.
    fn open_run(&mut self, line: u64, group: bool) {
        if self.runs.len() < MAX_RUNS {
            self.runs.push(TestRun {
                start: line,
                group,
                ..TestRun::default()
            });
        }
    }
}

/// The role a line plays for analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRole {
    /// Program output: rules apply.
    Content,
    /// Runner boilerplate that explains nothing (preamble, echoed scripts,
    /// `env:` dumps, echoed commands, debug lines).
    Boilerplate,
    /// Group markers, Travis fold/time markers, command headers.
    Structure,
}

/// One scanned line.
#[derive(Debug)]
pub struct ScannedLine<'a> {
    pub number: u64,
    /// Cleaned text including any `##[error]`-style marker.
    pub text: &'a [u8],
    /// Text after the marker.
    pub body: &'a [u8],
    pub marker: Marker,
    pub role: LineRole,
    /// Index into [`Scanner::segments`].
    pub segment: usize,
}

/// A step's expected first line, for mapping a job log to step names.
#[derive(Debug, Clone)]
pub struct StepStart {
    pub number: usize,
    pub name: String,
    /// The step file's first line, cleaned (no timestamp, no ANSI).
    pub first_text: Vec<u8>,
}

/// Segments kept per log; later boundaries are ignored so that a log that
/// prints millions of `##[group]Run` lines cannot grow memory without bound.
pub const MAX_SEGMENTS: usize = 10_000;

/// How many expected step starts ahead a line may match (a step file whose
/// first line is missing from the job log must not stop the mapping).
const STEP_START_LOOKAHEAD: usize = 4;

/// Longest step name kept (Travis commands and headers can be long).
const MAX_NAME_CHARS: usize = 200;

/// ANSI bold cyan: how the runner echoes a `run:` script.
const ECHO_PREFIX: &[u8] = b"\x1b[36;1m";

/// Streaming segmenter. Feed lines in order with [`Scanner::scan`].
pub struct Scanner {
    format: Option<Format>,
    segments: Vec<Segment>,
    source: usize,
    in_header: bool,
    travis: bool,
    run_ordinal: usize,
    /// Step starts still expected, in order (zip job logs).
    step_starts: Vec<StepStart>,
    next_start: usize,
    forced_step: bool,
    /// The current line was echoed in cyan (a header's script).
    echoed: bool,
    /// The line before opened a step (its header's `##[endgroup]`, or a
    /// post step's first line): a container hook's own `Run` group there
    /// belongs to that step.
    step_opened: bool,
    /// Travis markers found in the raw line (before CR redraws are dropped).
    travis_marker: bool,
    prev_travis_marker: bool,
    fold_start: Option<String>,
    /// A Travis `$ command` is running (no exit status printed yet): folds
    /// its own script prints are part of it, not new steps.
    command_open: bool,
    /// Job and step of the current `gh run view` segment, as printed (none
    /// yet in this source).
    run_view_ids: Option<(Vec<u8>, Vec<u8>)>,
    text: Vec<u8>,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

/// `Run '<absolute path>'`: how the runner shows a container hook's script
/// run for a step (no arguments, one quoted path).
fn hook_invocation(body: &[u8]) -> bool {
    body.strip_prefix(b"Run '/")
        .and_then(|rest| rest.strip_suffix(b"'"))
        .is_some_and(|path| !path.is_empty() && !path.contains(&b'\''))
}

fn short_name(b: &[u8]) -> String {
    clean::truncate_chars(String::from_utf8_lossy(b).trim(), MAX_NAME_CHARS)
}

fn kind_for_name(name: &str) -> SegmentKind {
    if name == "Set up job" {
        SegmentKind::Preamble
    } else if name.starts_with("Post ") || name == "Complete job" {
        SegmentKind::Post
    } else {
        SegmentKind::Step
    }
}

/// Parses `Process completed with exit code N.`
pub fn exit_code_line(body: &[u8]) -> Option<i64> {
    let rest = body.strip_prefix(b"Process completed with exit code ")?;
    let end = rest
        .iter()
        .position(|c| !c.is_ascii_digit() && *c != b'-')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// Parses Travis' `The command "..." exited with N.` and
/// `The command "..." failed and exited with N during .`
/// A multi-line command puts the status on its last line: `..." exited with 1.`
fn travis_exit_line(text: &[u8]) -> Option<i64> {
    let pos = memchr::memmem::rfind(text, b"exited with ")?;
    let head = &text[..pos];
    let quoted = head.ends_with(b"\" ") || head.ends_with(b"\" failed and ");
    if !text.starts_with(b"The command \"") && !quoted {
        return None;
    }
    let rest = &text[pos + b"exited with ".len()..];
    let end = rest
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// A raw line's bytes as scanned: line 1 without its byte-order mark.
pub fn line_bytes<'a>(raw: &RawLine<'a>) -> &'a [u8] {
    if raw.number == 1 {
        clean::strip_bom(raw.bytes)
    } else {
        raw.bytes
    }
}

/// The format a log's first non-blank line shows; `None` for a blank line
/// (lines before the first non-blank one hold no text in any format).
pub fn detect_format(bytes: &[u8]) -> Option<Format> {
    if !bytes.iter().any(|c| !c.is_ascii_whitespace()) {
        return None;
    }
    Some(if clean::strip_timestamp(bytes).is_some() {
        Format::GithubActions
    } else if clean::split_gh_run_view(bytes).is_some() {
        Format::GhRunView
    } else {
        Format::Text
    })
}

/// The job and step a `gh run view` line starts with.
pub type RunViewIds<'a> = Option<(&'a [u8], &'a [u8])>;

/// The `gh run view` job and step of a line, if it has them, and the text
/// after the prefixes the format puts before it (timestamp, job, step).
pub fn split_payload(format: Format, bytes: &[u8]) -> (RunViewIds<'_>, &[u8]) {
    match format {
        Format::GithubActions => (None, clean::strip_timestamp(bytes).unwrap_or(bytes)),
        Format::GhRunView => match clean::split_gh_run_view(bytes) {
            Some((job, step, rest)) => (
                Some((job, step)),
                clean::strip_timestamp(rest).unwrap_or(rest),
            ),
            None => (None, bytes),
        },
        Format::Text => (None, bytes),
    }
}

/// A line's cleaning done ahead of the scan, from the line alone (so on
/// another thread): the format it was read in and, when the line needed
/// cleaning, its cleaned text; otherwise its payload (the text after the
/// format's prefixes) without trailing whitespace is its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanedAhead<'a> {
    pub format: Format,
    pub text: Option<&'a [u8]>,
}

impl Scanner {
    pub fn new() -> Self {
        Self {
            format: None,
            segments: Vec::new(),
            source: 0,
            in_header: false,
            travis: false,
            run_ordinal: 0,
            step_starts: Vec::new(),
            next_start: 0,
            forced_step: false,
            echoed: false,
            step_opened: false,
            travis_marker: false,
            prev_travis_marker: false,
            fold_start: None,
            command_open: false,
            run_view_ids: None,
            text: Vec::with_capacity(256),
        }
    }

    /// The format detected so far.
    pub fn format(&self) -> Option<Format> {
        self.format
    }

    /// Segments seen so far.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Starts a new source file. With `step`, the whole file is one step of
    /// that name (zip per-step files).
    pub fn begin_source(&mut self, source: usize, step: Option<&str>) {
        self.source = source;
        self.in_header = false;
        self.format = None;
        self.run_view_ids = None;
        self.forced_step = step.is_some();
        if let Some(name) = step {
            self.push_segment(kind_for_name(name), name.to_string(), true, None);
        }
    }

    /// Known step boundaries of the next job log, in order.
    pub fn set_step_starts(&mut self, starts: Vec<StepStart>) {
        self.step_starts = starts;
        self.next_start = 0;
    }

    fn push_segment(&mut self, kind: SegmentKind, name: String, real: bool, job: Option<String>) {
        if self.segments.len() >= MAX_SEGMENTS {
            return;
        }
        self.segments.push(Segment {
            kind,
            name,
            name_is_real: real,
            ordinal: None,
            job,
            source: self.source,
            errors: 0,
            last_error_line: None,
            exit_code: None,
            header: None,
            runs: vec![TestRun::default()],
            lets_commands_fail: false,
            errexit_off: false,
        });
    }

    /// Opens the source's first segment. A GitHub job log starts with the
    /// runner's "Set up job" preamble; an excerpt, or a log of another
    /// system, that starts anywhere else is output from its first line.
    fn ensure_segment(&mut self, first_text: &[u8]) {
        let need = self.segments.last().is_none_or(|s| s.source != self.source);
        if need {
            let (kind, name) = match self.format {
                Some(Format::GithubActions) if runner_preamble_line(first_text) => {
                    (SegmentKind::Preamble, "Set up job")
                }
                _ => (SegmentKind::Step, "log"),
            };
            self.push_segment(kind, name.to_string(), false, None);
        }
    }

    /// Scans one line.
    pub fn scan<'a>(&'a mut self, raw: &RawLine<'a>) -> ScannedLine<'a> {
        self.scan_cleaned(raw, None)
    }

    /// Scans one line, reusing its cleaning when it was done ahead; a
    /// cleaning for another format than the one detected is done again.
    pub fn scan_cleaned<'a>(
        &'a mut self,
        raw: &RawLine<'a>,
        ahead: Option<CleanedAhead<'a>>,
    ) -> ScannedLine<'a> {
        let bytes = line_bytes(raw);
        if self.format.is_none() {
            self.format = detect_format(bytes);
        }
        let format = self.format.unwrap_or(Format::Text);
        let (run_view_ids, payload) = split_payload(format, bytes);
        // Most lines need no cleaning: they are used in place, not copied.
        let mut owned = std::mem::take(&mut self.text);
        let borrowed = match ahead.filter(|a| a.format == format) {
            Some(CleanedAhead {
                text: Some(cleaned),
                ..
            }) => Some(cleaned),
            Some(_) => Some(payload.trim_ascii_end()),
            None => {
                owned.clear();
                (!clean::append_if_unclean(payload, &mut owned)).then(|| payload.trim_ascii_end())
            }
        };
        let text: &[u8] = borrowed.unwrap_or(&owned);
        let (marker, body_start) = clean::classify(text);
        // The runner echoes a step's script in cyan inside its header group.
        self.echoed = payload.starts_with(ECHO_PREFIX);
        if format == Format::Text {
            self.prev_travis_marker = self.travis_marker;
            self.travis_marker = memchr::memmem::find(payload, b"travis_fold:").is_some()
                || memchr::memmem::find(payload, b"travis_time:").is_some();
            self.fold_start = if self.travis_marker {
                fold_start_name(payload)
            } else {
                None
            };
        }
        let role = self.structure(raw.number, format, run_view_ids, text, marker, body_start);
        if role == LineRole::Content
            && let Some(outcome) = summary::test_summary(&text[body_start.min(text.len())..])
            && let Some(run) = self.segments.last_mut().and_then(|s| s.runs.last_mut())
        {
            match outcome {
                TestOutcome::Passed => run.last_passing = Some(raw.number),
                TestOutcome::Failed => {
                    run.failing = run.failing.saturating_add(1);
                    run.first_failing.get_or_insert(raw.number);
                }
            }
        }
        self.text = owned;
        let segment = self.segments.len().saturating_sub(1);
        let text: &'a [u8] = match borrowed {
            Some(b) => b,
            None => &self.text,
        };
        ScannedLine {
            number: raw.number,
            text,
            body: &text[body_start.min(text.len())..],
            marker,
            role,
            segment,
        }
    }

    /// Updates segments for this line and returns its role.
    fn structure(
        &mut self,
        line: u64,
        format: Format,
        run_view_ids: Option<(&[u8], &[u8])>,
        text: &[u8],
        marker: Marker,
        body_start: usize,
    ) -> LineRole {
        let body = &text[body_start.min(text.len())..];
        match format {
            Format::GhRunView => {
                if let Some((job, step)) = run_view_ids {
                    // Compared as printed: the segment's names are trimmed
                    // and shortened, and would differ on every line.
                    let changed = self
                        .run_view_ids
                        .as_ref()
                        .is_none_or(|(j, s)| j.as_slice() != job || s.as_slice() != step);
                    if changed {
                        self.run_view_ids = Some((job.to_vec(), step.to_vec()));
                        let name = short_name(step);
                        self.in_header = false;
                        self.push_segment(kind_for_name(&name), name, true, Some(short_name(job)));
                    }
                }
                self.ensure_segment(text);
                self.github_line(line, text, marker, body, false)
            }
            Format::GithubActions => {
                self.ensure_segment(text);
                let mut starts_step = false;
                let hit = self
                    .step_starts
                    .iter()
                    .enumerate()
                    .skip(self.next_start)
                    .take(STEP_START_LOOKAHEAD)
                    .find(|(_, s)| s.first_text == text)
                    .map(|(i, s)| (i, s.name.clone()));
                if let Some((i, name)) = hit {
                    self.next_start = i + 1;
                    self.in_header = false;
                    self.push_segment(kind_for_name(&name), name, true, None);
                    starts_step = true;
                }
                let boundaries_known = !self.step_starts.is_empty() || self.forced_step;
                self.github_line(line, text, marker, body, !boundaries_known && !starts_step)
            }
            Format::Text => {
                self.ensure_segment(text);
                self.text_line(line, text)
            }
        }
    }

    fn github_line(
        &mut self,
        line: u64,
        text: &[u8],
        marker: Marker,
        body: &[u8],
        split_steps: bool,
    ) -> LineRole {
        let step_opened = std::mem::take(&mut self.step_opened);
        match marker {
            Marker::Group => {
                // A runner with container hooks runs each step through the
                // hook's script and prints its own `Run '<script>'` group
                // right after the step's header: more header, not a step.
                if step_opened && !self.in_header && hook_invocation(body) {
                    self.in_header = true;
                    return LineRole::Structure;
                }
                if body.starts_with(b"Run ") && !self.in_header {
                    if split_steps {
                        self.run_ordinal += 1;
                        let name = short_name(body);
                        self.push_segment(SegmentKind::Step, name, false, None);
                        if let Some(seg) = self.segments.last_mut() {
                            seg.ordinal = Some(self.run_ordinal);
                        }
                    }
                    self.in_header = true;
                    // Remember the header of the step it opens (or names).
                    if let Some(seg) = self.segments.last_mut()
                        && seg.header.is_none()
                    {
                        seg.header = Some((line, short_name(body)));
                    }
                } else if !self.in_header
                    && let Some(seg) = self.segments.last_mut()
                {
                    // A group the step's own tool printed: a run of its own.
                    seg.open_run(line, true);
                }
                return LineRole::Structure;
            }
            Marker::EndGroup => {
                if !self.in_header
                    && let Some(seg) = self.segments.last_mut()
                    && seg.runs.last().is_some_and(|r| r.group)
                {
                    seg.open_run(line, false);
                }
                self.step_opened = self.in_header;
                self.in_header = false;
                return LineRole::Structure;
            }
            _ => {}
        }
        if split_steps && marker == Marker::None {
            let post = match text {
                b"Post job cleanup." => Some("Post job cleanup"),
                b"Cleaning up orphan processes" => Some("Complete job"),
                _ => None,
            };
            if let Some(name) = post {
                self.in_header = false;
                self.push_segment(SegmentKind::Post, name.to_string(), false, None);
                self.step_opened = true;
                return LineRole::Structure;
            }
        }
        // A header whose `##[endgroup]` never comes ends at the first line
        // that is not header material; a runner annotation is never header
        // material.
        if self.in_header
            && (matches!(marker, Marker::Error | Marker::Warning)
                || (marker == Marker::None && !header_like(text, self.echoed)))
        {
            self.in_header = false;
        }
        if self.in_header {
            if self.echoed
                && let Some(seg) = self.segments.last_mut()
            {
                match script_line(body) {
                    ScriptLine::LetsFail => seg.lets_commands_fail = true,
                    ScriptLine::ErrexitOff => seg.errexit_off = true,
                    ScriptLine::ErrexitOn => seg.errexit_off = false,
                    ScriptLine::Other => {}
                }
            }
            return LineRole::Boilerplate;
        }
        let in_preamble = self
            .segments
            .last()
            .is_some_and(|s| s.kind == SegmentKind::Preamble);
        match marker {
            Marker::Error => {
                if let Some(seg) = self.segments.last_mut() {
                    seg.errors += 1;
                    seg.last_error_line = Some(line);
                    if let Some(code) = exit_code_line(body) {
                        seg.exit_code = Some(code);
                    }
                }
                LineRole::Content
            }
            Marker::Warning | Marker::Notice if !in_preamble => LineRole::Content,
            Marker::None if !in_preamble => {
                if is_boilerplate_text(text) {
                    LineRole::Boilerplate
                } else {
                    LineRole::Content
                }
            }
            _ => LineRole::Boilerplate,
        }
    }

    fn text_line(&mut self, line: u64, text: &[u8]) -> LineRole {
        let marker_text = text.starts_with(b"travis_fold:") || text.starts_with(b"travis_time:");
        if !self.travis
            && (self.travis_marker
                || marker_text
                || text.starts_with(b"Worker information")
                || text.starts_with(b"Using worker: "))
        {
            self.travis = true;
            // What came before the first command is Travis' machine setup.
            if let Some(seg) = self.segments.last_mut()
                && seg.source == self.source
                && seg.name == "log"
            {
                seg.kind = SegmentKind::Preamble;
                seg.name = "Travis setup".to_string();
            }
        }
        // A fold opens a phase (`install`, `cache.2`...); a `$ command` on the
        // same line names it more precisely.
        let fold = self.fold_start.take().filter(|_| !self.command_open);
        if let Some(fold) = fold {
            let kind = if fold.starts_with("cache") {
                SegmentKind::Post
            } else if fold == "worker_info" || fold == "system_info" {
                SegmentKind::Preamble
            } else {
                SegmentKind::Step
            };
            self.push_segment(kind, fold, false, None);
        }
        // Travis prints `$ command` right after its own markers; a `$ ...`
        // line in a command's output (yarn echoing a script) is output.
        let command_line = self.travis_marker || self.prev_travis_marker;
        if self.travis
            && command_line
            && let Some(cmd) = text.strip_prefix(b"$ ")
        {
            let name = short_name(cmd);
            self.push_segment(SegmentKind::Step, name, false, None);
            if let Some(seg) = self.segments.last_mut() {
                seg.header = Some((line, short_name(text)));
            }
            self.command_open = true;
            return LineRole::Structure;
        }
        if self.travis {
            if let Some(code) = travis_exit_line(text) {
                self.command_open = false;
                if let Some(seg) = self.segments.last_mut()
                    && seg.exit_code.is_none_or(|c| c == 0)
                {
                    seg.exit_code = Some(code);
                }
                return LineRole::Structure;
            }
            if text.starts_with(b"Done. Your build exited with ") {
                // Whatever Travis prints after this is not part of any step.
                self.push_segment(SegmentKind::Post, "after build".to_string(), false, None);
                return LineRole::Structure;
            }
        }
        if marker_text {
            LineRole::Structure
        } else if is_boilerplate_text(text) {
            LineRole::Boilerplate
        } else {
            LineRole::Content
        }
    }
}

/// The name of the last `travis_fold:start:NAME` in a raw line.
fn fold_start_name(payload: &[u8]) -> Option<String> {
    let pos = memchr::memmem::rfind(payload, b"travis_fold:start:")?;
    let rest = &payload[pos + b"travis_fold:start:".len()..];
    let end = rest
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == 0x1b)
        .unwrap_or(rest.len());
    let name = short_name(&rest[..end]);
    (!name.is_empty()).then_some(name)
}

/// Lines the runner prints first in a job log ("Set up job").
fn runner_preamble_line(text: &[u8]) -> bool {
    const STARTS: &[&[u8]] = &[
        b"Requested labels:",
        b"Current runner version",
        b"Job defined at:",
        b"Waiting for a runner",
        b"Runner name:",
        b"Runner group name:",
        b"Machine name:",
        b"Self-hosted runners in the repository",
        b"Job is about to start running",
        b"Job is waiting",
        b"Complete job name:",
        b"##[group]Operating System",
        b"##[group]Runner Image",
        b"##[group]GITHUB_TOKEN Permissions",
    ];
    STARTS.iter().any(|s| text.starts_with(s))
}

/// What a `##[group]Run` header holds: the echoed script, `shell:`, and the
/// `with:`/`env:` blocks with their indented entries.
fn header_like(text: &[u8], echoed: bool) -> bool {
    echoed
        || text.is_empty()
        || text.starts_with(b" ")
        || text.starts_with(b"\t")
        || text.starts_with(b"shell: ")
        || text == b"env:"
        || text == b"with:"
}

/// Lines that never explain a failure wherever they appear.
fn is_boilerplate_text(text: &[u8]) -> bool {
    let t = text.trim_ascii_start();
    t.starts_with(b"timeout-minutes:") || t.starts_with(b"continue-on-error:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::reader::LineReader;

    /// Line number, cleaned text, role and segment of each line.
    type Scanned = Vec<(u64, String, LineRole, usize)>;

    fn scan_all(input: &str) -> (Scanned, Vec<Segment>) {
        let mut reader = LineReader::new(input.as_bytes());
        let mut scanner = Scanner::new();
        let mut out = Vec::new();
        while let Some(raw) = reader.next_line().unwrap() {
            let l = scanner.scan(&raw);
            out.push((
                l.number,
                String::from_utf8_lossy(l.text).into_owned(),
                l.role,
                l.segment,
            ));
        }
        (out, scanner.segments().to_vec())
    }

    const GHA: &str = "\u{feff}2024-01-02T03:04:05.1000000Z Current runner version: '2.311.0'\n\
2024-01-02T03:04:05.1000000Z ##[group]Operating System\n\
2024-01-02T03:04:05.1000000Z Ubuntu\n\
2024-01-02T03:04:05.1000000Z ##[endgroup]\n\
2024-01-02T03:04:05.1000000Z ##[group]Run cargo test\n\
2024-01-02T03:04:05.1000000Z \x1b[36;1mcargo test\x1b[0m\n\
2024-01-02T03:04:05.1000000Z env:\n\
2024-01-02T03:04:05.1000000Z   ERROR_ON_FAIL: timeout\n\
2024-01-02T03:04:05.1000000Z ##[endgroup]\n\
2024-01-02T03:04:05.1000000Z test foo ... FAILED\r\n\
2024-01-02T03:04:05.1000000Z ##[error]Process completed with exit code 101.\n\
2024-01-02T03:04:05.1000000Z Post job cleanup.\n\
2024-01-02T03:04:05.1000000Z [command]/usr/bin/git version\n\
2024-01-02T03:04:05.1000000Z Cleaning up orphan processes\n";

    #[test]
    fn github_steps_and_roles() {
        let (lines, segs) = scan_all(GHA);
        assert_eq!(segs.len(), 4);
        assert_eq!(segs[0].kind, SegmentKind::Preamble);
        assert_eq!(segs[1].name, "Run cargo test");
        assert_eq!(segs[1].ordinal, Some(1));
        assert_eq!(segs[1].exit_code, Some(101));
        assert_eq!(segs[1].header, Some((5, "Run cargo test".to_string())));
        assert!(segs[1].failed());
        assert_eq!(segs[2].kind, SegmentKind::Post);
        assert_eq!(lines[0].1, "Current runner version: '2.311.0'");
        assert_eq!(lines[0].2, LineRole::Boilerplate);
        // Echoed script and env dump are boilerplate.
        assert_eq!(lines[5].2, LineRole::Boilerplate);
        assert_eq!(lines[7].2, LineRole::Boilerplate);
        assert_eq!(
            lines[9],
            (10, "test foo ... FAILED".to_string(), LineRole::Content, 1)
        );
        assert_eq!(lines[12].2, LineRole::Boilerplate);
    }

    /// What a scan says of a line, owned.
    type Said = (u64, Vec<u8>, Vec<u8>, Marker, LineRole, usize);

    fn said(l: &ScannedLine<'_>) -> Said {
        let (text, body) = (l.text.to_vec(), l.body.to_vec());
        (l.number, text, body, l.marker, l.role, l.segment)
    }

    #[test]
    fn a_cleaning_done_ahead_scans_as_the_line_itself() {
        let mut log = GHA.to_string();
        log.push_str("2024-01-02T03:04:05.1Z \x1b[31;1m##[error]\x1b[0mboom  \r\n");
        log.push_str("2024-01-02T03:04:05.1Z 10%\r50%\r100%\r\r\n");
        log.push_str("2024-01-02T03:04:05.1Z ##[warning]plain warning\n");
        let mut reader = LineReader::new(log.as_bytes());
        let (mut alone, mut ahead) = (Scanner::new(), Scanner::new());
        // Cleanings share one buffer that already holds other lines' text.
        let mut shared = b"other lines".to_vec();
        let mut lines = 0;
        while let Some(raw) = reader.next_line().unwrap() {
            // Every other line is cleaned for the wrong format: the scan
            // must notice and clean it again.
            let format = if raw.number % 2 == 0 {
                Format::GithubActions
            } else {
                Format::Text
            };
            let (_, payload) = split_payload(format, line_bytes(&raw));
            let start = shared.len();
            let cleaned = clean::append_if_unclean(payload, &mut shared);
            let text = cleaned.then(|| &shared[start..]);
            let reused = said(&ahead.scan_cleaned(&raw, Some(CleanedAhead { format, text })));
            assert_eq!(reused, said(&alone.scan(&raw)), "line {}", raw.number);
            lines += 1;
        }
        assert_eq!(lines, 17);
        assert!(shared.len() > b"other lines".len());
        assert_eq!(
            format!("{:?}", ahead.segments()),
            format!("{:?}", alone.segments())
        );
    }

    #[test]
    fn a_container_hooks_run_group_is_part_of_the_step() {
        let log = "2024-01-02T03:04:05.1Z ##[group]Run actions/upload-artifact@v4\n\
2024-01-02T03:04:05.1Z with:\n\
2024-01-02T03:04:05.1Z ##[endgroup]\n\
2024-01-02T03:04:05.1Z ##[group]Run '/home/runner/hook-extensions/wrapper.js'\n\
2024-01-02T03:04:05.1Z shell: /home/runner/externals/node20/bin/node {0}\n\
2024-01-02T03:04:05.1Z ##[endgroup]\n\
2024-01-02T03:04:05.1Z ##[error]No files were found with the provided path: out/\n\
2024-01-02T03:04:05.1Z Post job cleanup.\n\
2024-01-02T03:04:05.1Z ##[group]Run '/home/runner/hook-extensions/wrapper.js'\n\
2024-01-02T03:04:05.1Z ##[endgroup]\n\
2024-01-02T03:04:05.1Z [command]/usr/bin/git version\n\
2024-01-02T03:04:05.1Z ##[group]Run make\n\
2024-01-02T03:04:05.1Z ##[endgroup]\n\
2024-01-02T03:04:05.1Z ##[group]Run make test\n\
2024-01-02T03:04:05.1Z ##[endgroup]\n";
        let (lines, segs) = scan_all(log);
        // (After the empty segment every log starts with.)
        let names: Vec<&str> = segs[1..].iter().map(|s| s.name.as_str()).collect();
        // The hook's group after a step's header or a post step's first
        // line is more header; a step with no output before the next
        // step's header is still a step.
        assert_eq!(
            names,
            [
                "Run actions/upload-artifact@v4",
                "Post job cleanup",
                "Run make",
                "Run make test"
            ],
            "{segs:#?}"
        );
        assert_eq!(lines[4].2, LineRole::Boilerplate);
        assert_eq!(lines[6].2, LineRole::Content);
        assert_eq!(segs[1].errors, 1);
    }

    #[test]
    fn header_without_endgroup_ends_at_output() {
        let log = "2024-01-02T03:04:05.1Z ##[group]Run make\n\
2024-01-02T03:04:05.1Z \x1b[36;1mmake\x1b[0m\n\
2024-01-02T03:04:05.1Z shell: /usr/bin/bash -e {0}\n\
2024-01-02T03:04:05.1Z cc -c a.c\n";
        let (lines, _) = scan_all(log);
        assert_eq!(lines[2].2, LineRole::Boilerplate);
        assert_eq!(lines[3].2, LineRole::Content);
    }

    #[test]
    fn travis_segments() {
        let log = "travis_fold:start:worker_info\r\x1b[0K\x1b[33;1mWorker information\x1b[0m\n\
travis_fold:start:install\r\x1b[0Ktravis_time:start:1\r\x1b[0K$ make test\r\nboom\r\n\
\x1b[31;1mThe command \"make test\" exited with 2.\x1b[0m\r\n\
travis_fold:start:cache.2\r\x1b[0Kstore build cache\nuploading\n\
Done. Your build exited with 1.\n";
        let (lines, segs) = scan_all(log);
        assert_eq!(segs[0].kind, SegmentKind::Preamble);
        let make = segs.iter().find(|s| s.name == "make test").unwrap();
        assert_eq!(make.exit_code, Some(2));
        assert_eq!(make.header, Some((2, "$ make test".to_string())));
        assert_eq!(lines[2].2, LineRole::Content);
        assert_eq!(lines[3].2, LineRole::Structure);
        // The cache upload is its own (post) segment, not part of the failed step.
        let cache = segs.iter().find(|s| s.name == "cache.2").unwrap();
        assert_eq!(cache.kind, SegmentKind::Post);
        assert_eq!(
            Some(lines[5].3),
            segs.iter().position(|s| s.name == "cache.2")
        );
    }

    #[test]
    fn gh_run_view_segments() {
        let log = "build\tSet up job\t2024-01-02T03:04:05.1Z Current runner version: '2'\n\
build\tRun tests\t2024-01-02T03:04:05.1Z ##[group]Run pytest\n\
build\tRun tests\t2024-01-02T03:04:05.1Z \x1b[36;1mpytest\x1b[0m\n\
build\tRun tests\t2024-01-02T03:04:05.1Z ##[endgroup]\n\
build\tRun tests\t2024-01-02T03:04:05.1Z E   assert 1 == 2\n\
lint\tRun ruff\t2024-01-02T03:04:05.1Z ok\n";
        let (lines, segs) = scan_all(log);
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[1].name, "Run tests");
        assert_eq!(segs[1].job.as_deref(), Some("build"));
        assert_eq!(segs[2].job.as_deref(), Some("lint"));
        assert_eq!(lines[2].2, LineRole::Boilerplate);
        assert_eq!(lines[4].1, "E   assert 1 == 2");
        assert_eq!(lines[4].2, LineRole::Content);
    }

    #[test]
    fn gh_run_view_long_step_names_make_one_segment() {
        let step = format!("Run {} ", "x".repeat(300));
        let log = format!(
            "build\t{step}\t2024-01-02T03:04:05.1Z one\n\
             build\t{step}\t2024-01-02T03:04:05.1Z two\n\
             build\tRun b\t2024-01-02T03:04:05.1Z three\n"
        );
        let (lines, segs) = scan_all(&log);
        assert_eq!(
            segs.len(),
            2,
            "{:?}",
            segs.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        assert_eq!(segs[0].name.chars().count(), MAX_NAME_CHARS + 1);
        assert_eq!((lines[0].3, lines[1].3, lines[2].3), (0, 0, 1));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(
            exit_code_line(b"Process completed with exit code 137."),
            Some(137)
        );
        assert_eq!(exit_code_line(b"Process completed with exit code"), None);
        assert_eq!(
            travis_exit_line(b"The command \"npm test\" exited with 1."),
            Some(1)
        );
        assert_eq!(
            travis_exit_line(b"The command \"x\" failed and exited with 2 during ."),
            Some(2)
        );
        assert_eq!(travis_exit_line(b"  make test\" exited with 3."), Some(3));
        assert_eq!(travis_exit_line(b"the process exited with 1."), None);
    }
}
