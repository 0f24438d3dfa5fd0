//! The process environment, read once.
//!
//! [`Env`] is a snapshot of the variables the runner hands us (inputs as
//! `INPUT_*`, `GITHUB_*`) taken by the CLI at start. Everything below the CLI
//! reads inputs and writes outputs, the step summary and workflow commands
//! through it, so a run is a function of its `Env` and tests can run many in
//! one process. This module and `cli` are the only readers of the process
//! environment (clippy's `disallowed-methods` enforces it).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use crate::action::{self, STEP_SUMMARY_LIMIT};

/// `println!` through an [`Env`]: `outln!(env, "format", args...)`.
#[macro_export]
macro_rules! outln {
    ($env:expr, $($arg:tt)*) => { $env.out(&format!($($arg)*)) };
}

/// `eprintln!` through an [`Env`].
#[macro_export]
macro_rules! errln {
    ($env:expr, $($arg:tt)*) => { $env.err(&format!($($arg)*)) };
}

/// The runner's environment: variables, and where outputs and the summary go.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    /// Where stdout and stderr text goes when it is captured (a run inside
    /// another program, such as the tests) instead of printed.
    capture: Option<Arc<Mutex<Captured>>>,
}

/// Text a captured run printed.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
}

impl Env {
    /// The current process's environment.
    #[allow(clippy::disallowed_methods)]
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            capture: None,
        }
    }

    /// An environment made of these variables only (tests, embedding).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            capture: None,
        }
    }

    /// Capture what this run prints instead of printing it.
    pub fn capturing(mut self) -> (Env, Arc<Mutex<Captured>>) {
        let sink = Arc::new(Mutex::new(Captured::default()));
        self.capture = Some(sink.clone());
        (self, sink)
    }

    /// Print a line on stdout (results and workflow commands).
    pub fn out(&self, text: &str) {
        match &self.capture {
            Some(c) => {
                if let Ok(mut c) = c.lock() {
                    c.stdout.push_str(text);
                    c.stdout.push('\n');
                }
            }
            None => write_stdout(&format!("{text}\n")),
        }
    }

    /// Print text on stdout as it is (no newline added).
    pub fn out_raw(&self, text: &str) {
        match &self.capture {
            Some(c) => {
                if let Ok(mut c) = c.lock() {
                    c.stdout.push_str(text);
                }
            }
            None => write_stdout(text),
        }
    }

    /// Print a line on stderr (messages for people).
    pub fn err(&self, text: &str) {
        match &self.capture {
            Some(c) => {
                if let Ok(mut c) = c.lock() {
                    c.stderr.push_str(text);
                    c.stderr.push('\n');
                }
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// Set one variable (tests, and the CLI's flag overrides).
    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_string(), value.to_string());
    }

    /// A variable, `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A variable as set, even when empty (where empty means "off").
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// True when running inside a GitHub Actions runner.
    pub fn in_actions(&self) -> bool {
        self.var("GITHUB_ACTIONS") == Some("true")
    }

    /// An action input, `None` when unset or empty (the runner passes unset
    /// inputs that have no default as empty strings).
    pub fn input(&self, name: &str) -> Option<String> {
        self.vars
            .get(&action::input_var(name))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A boolean input in the forms YAML 1.2 core schema accepts; anything
    /// else is an error, so a safety flag that cannot be read fails closed.
    pub fn input_bool(&self, name: &str) -> Result<Option<bool>> {
        action::parse_bool_input(name, self.input(name).as_deref())
    }

    fn file(&self, var: &str) -> Option<PathBuf> {
        self.var(var).map(PathBuf::from)
    }

    /// Print a workflow command line (only inside a runner).
    fn command(&self, line: &str) {
        if self.in_actions() {
            self.out(line);
        }
    }

    /// Mask a secret in the runner's log. Outside a runner this prints nothing.
    pub fn mask(&self, secret: &str) {
        if let Some(cmd) = action::mask_command(secret) {
            self.command(&cmd);
        }
    }

    /// Print untrusted text (log lines, titles, comments) safely.
    pub fn echo_untrusted(&self, text: &str) {
        if self.in_actions() {
            self.out(&action::untrusted_block(text));
        } else {
            self.out(text);
        }
    }

    /// Open a collapsible group in the runner's log.
    pub fn group(&self, title: &str) {
        self.command(&format!("::group::{}", action::escape_data(title)));
    }

    /// Close the group opened by [`Env::group`].
    pub fn end_group(&self) {
        self.command("::endgroup::");
    }

    /// An error annotation (shown on the run's summary page).
    pub fn annotate_error(&self, title: &str, message: &str) {
        self.command(&format!(
            "::error title={}::{}",
            action::escape_property(title),
            action::escape_data(message)
        ));
    }

    /// A warning annotation.
    pub fn annotate_warning(&self, message: &str) {
        self.command(&format!("::warning::{}", action::escape_data(message)));
    }

    /// Set a step output. Outside a runner this is a no-op.
    pub fn set_output(&self, name: &str, value: &str) -> Result<()> {
        let Some(path) = self.file("GITHUB_OUTPUT") else {
            return Ok(());
        };
        append(&path, &action::output_record(name, value))
    }

    /// Append markdown to the step summary, truncated to what GitHub accepts.
    pub fn append_summary(&self, markdown: &str) -> Result<()> {
        let Some(path) = self.file("GITHUB_STEP_SUMMARY") else {
            return Ok(());
        };
        let used = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as usize;
        let room = STEP_SUMMARY_LIMIT.saturating_sub(used);
        let note = "\n\n_(summary truncated: GitHub's 1 MiB limit)_\n";
        let text = if markdown.len() <= room {
            markdown.to_string()
        } else if room > note.len() {
            let mut cut = room - note.len();
            while !markdown.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}{note}", &markdown[..cut])
        } else {
            return Ok(());
        };
        append(&path, &text)
    }
}

/// Write to stdout; a reader that went away (`| head`) ends the output
/// quietly instead of panicking as `println!` does.
fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        tracing::debug!("stdout is closed");
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_read_from_the_snapshot() {
        let env = Env::from_pairs([("INPUT_DRY-RUN", " true "), ("INPUT_TOKEN", "")]);
        assert_eq!(env.input("dry-run").as_deref(), Some("true"));
        assert_eq!(env.input("token"), None);
        assert_eq!(env.input_bool("dry-run").ok().flatten(), Some(true));
    }

    #[test]
    fn an_unreadable_boolean_is_an_error() {
        for bad in ["yes", "1", "on", "tru e"] {
            let env = Env::from_pairs([("INPUT_DRY-RUN", bad)]);
            assert!(
                env.input_bool("dry-run").is_err(),
                "{bad:?} must not be read"
            );
        }
        // Surrounding spaces are trimmed, as the Actions toolkit does.
        let env = Env::from_pairs([("INPUT_DRY-RUN", "True ")]);
        assert_eq!(env.input_bool("dry-run").ok().flatten(), Some(true));
    }

    #[test]
    fn summary_and_outputs_go_to_the_files_of_this_env() {
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("out");
        let sum = dir.path().join("sum");
        let env = Env::from_pairs([
            ("GITHUB_OUTPUT", out.display().to_string()),
            ("GITHUB_STEP_SUMMARY", sum.display().to_string()),
        ]);
        env.set_output("k", "v").expect("output");
        env.append_summary("# hi\n").expect("summary");
        assert!(
            std::fs::read_to_string(&out)
                .expect("out")
                .starts_with("k<<")
        );
        assert_eq!(std::fs::read_to_string(&sum).expect("sum"), "# hi\n");
        // Another env writes nowhere.
        Env::default().set_output("k", "v").expect("no-op");
    }
}
