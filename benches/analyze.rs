//! Throughput and peak memory of the log analysis.
//!
//! ```text
//! cargo bench --bench analyze -- [CORPUS_DIR] [--size-mb N] [--memory-gb N]
//! ```
//!
//! Builds a large GitHub Actions job log by repeating the corpus' LogSage
//! failing logs (or, without the corpus, the fixtures in `fixtures/logs`)
//! into a temporary file, analyzes it with the full built-in rule set on one
//! thread and on two (rules matched ahead on both, the results checked to be
//! the same) and prints MB/s. For scale it times line counters over the
//! same bytes: `grep -c` with one fixed string, the floor of any line
//! scanner; and, when ripgrep is installed, `rg -c` (one thread) with the
//! 102 patterns of PyTorch's log classifier (`fixtures/bench`), a real
//! project's rule set on a fast scanner, with the ratio of the analysis to
//! it. (The built-in rules joined into one pattern are no such baseline:
//! `grep -P` and `rg` take minutes over the same log.) Then it analyzes a 1 GB
//! log in a child process (this binary with `--child PATH`) and prints that
//! process' peak resident memory (VmHWM).
// Benches, examples and tests read their own settings from the environment.
#![allow(clippy::disallowed_methods)]

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use ci_medic::analyze::{self, RuleSet};

const DEFAULT_CORPUS: &str = "../shared/corpus";
const FIXTURES: &str = "fixtures/logs";
const PYTORCH_RULES: &str = "fixtures/bench/pytorch_log_classifier_ruleset.toml";
const MB: u64 = 1_000_000;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Logs to repeat: LogSage failing job logs, else the fixtures.
fn seed_logs(corpus: &Path) -> (Vec<PathBuf>, String) {
    let mut out = Vec::new();
    if let Ok(dirs) = std::fs::read_dir(corpus.join("logsage")) {
        for d in dirs.flatten() {
            let p = d.path().join("fail.txt");
            if p.is_file() {
                out.push(p);
            }
        }
    }
    if !out.is_empty() {
        out.sort();
        let what = format!("{} LogSage job logs from {}", out.len(), corpus.display());
        return (out, what);
    }
    if let Ok(files) = std::fs::read_dir(FIXTURES) {
        for f in files.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "txt" || e == "log") {
                out.push(p);
            }
        }
    }
    out.sort();
    let n = out.len();
    (
        out,
        format!(
            "corpus not found at {}; using {n} fixture logs from {FIXTURES}",
            corpus.display()
        ),
    )
}

fn build_log(seeds: &[PathBuf], target: u64, path: &Path) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut written = 0u64;
    let contents: Vec<Vec<u8>> = seeds.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    if contents.iter().all(Vec::is_empty) {
        return Err(std::io::Error::other("no seed logs"));
    }
    while written < target {
        for c in &contents {
            w.write_all(c)?;
            if !c.ends_with(b"\n") {
                w.write_all(b"\n")?;
            }
            written += c.len() as u64 + 1;
            if written >= target {
                break;
            }
        }
    }
    w.flush()?;
    Ok(written)
}

/// Times a line counter (`grep`, `rg`) over the log, best of 3; `None` if
/// it cannot run.
fn time_counter(program: &str, args: &[&str], path: &Path) -> Option<(f64, String)> {
    let mut best = f64::MAX;
    let mut count = String::new();
    for _ in 0..3 {
        let started = Instant::now();
        let out = Command::new(program)
            .env("LC_ALL", "C")
            .args(args)
            .arg(path)
            .output()
            .ok()?;
        // Both exit 1 when nothing matched, 2 on errors.
        if out.status.code().is_none_or(|c| c > 1) {
            eprintln!(
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        best = best.min(started.elapsed().as_secs_f64());
        count = String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    Some((best, count))
}

/// The patterns of the rule file in `fixtures/bench`, one per line.
fn pytorch_patterns() -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct File {
        rule: Vec<Rule>,
    }
    #[derive(serde::Deserialize)]
    struct Rule {
        pattern: String,
    }
    let text = std::fs::read_to_string(PYTORCH_RULES).ok()?;
    let file: File = toml::from_str(&text).ok()?;
    Some(file.rule.into_iter().map(|r| r.pattern).collect())
}

/// `rg -c` with PyTorch's log classifier patterns over the log (as text,
/// on one thread, which is what ripgrep uses for one file); the MB/s, or
/// `None` when ripgrep or the rule file is missing.
fn ripgrep_baseline(path: &Path, mb: f64, dir: &Path) -> Option<f64> {
    let Some(patterns) = pytorch_patterns() else {
        println!("rg -c, PyTorch's log classifier patterns: not run ({PYTORCH_RULES} unreadable)");
        return None;
    };
    let file = dir.join("pytorch.patterns");
    std::fs::write(&file, patterns.join("\n")).ok()?;
    let file = file.display().to_string();
    match time_counter("rg", &["-c", "-a", "-j1", "-f", &file], path) {
        Some((secs, n)) => {
            println!(
                "rg -c, PyTorch's {} log classifier patterns: {:.0} MB/s ({secs:.2}s, {n} lines)",
                patterns.len(),
                mb / secs
            );
            Some(mb / secs)
        }
        None => {
            println!("rg -c, PyTorch's log classifier patterns: not run (is ripgrep installed?)");
            None
        }
    }
}

fn grep_baseline(path: &Path, mb: f64) {
    match time_counter(
        "grep",
        &["-c", "-F", "Process completed with exit code"],
        path,
    ) {
        Some((secs, n)) => println!(
            "grep -c, one fixed string: {:.0} MB/s ({secs:.2}s, {n} lines)",
            mb / secs
        ),
        None => println!("grep -c, one fixed string: not run"),
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut corpus = PathBuf::from(DEFAULT_CORPUS);
    let mut size_mb = 256u64;
    let mut memory_gb = 1u64;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--child" => {
                // Child mode: analyze one file and report peak memory.
                let Some(p) = args.next() else {
                    return ExitCode::FAILURE;
                };
                let rules = RuleSet::builtin();
                let started = Instant::now();
                match analyze::analyze_file(Path::new(&p), &rules) {
                    Ok(f) => {
                        let secs = started.elapsed().as_secs_f64();
                        println!(
                            "failures={} secs={secs:.2} vmhwm_kib={}",
                            f.len(),
                            peak_rss_kib().unwrap_or(0)
                        );
                        return ExitCode::SUCCESS;
                    }
                    Err(e) => {
                        eprintln!("{e:#}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            "--size-mb" => size_mb = args.next().and_then(|v| v.parse().ok()).unwrap_or(size_mb),
            "--memory-gb" => {
                memory_gb = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(memory_gb)
            }
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            other if other.starts_with("--") => {}
            other => corpus = PathBuf::from(other),
        }
    }

    let (seeds, what) = seed_logs(&corpus);
    println!("seed: {what}");
    if seeds.is_empty() {
        eprintln!("no logs to benchmark with");
        return ExitCode::FAILURE;
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("temp dir: {e}");
            return ExitCode::FAILURE;
        }
    };

    // Throughput.
    let path = dir.path().join("big.log");
    let size = match build_log(&seeds, size_mb * MB, &path) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("building the log: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rules = RuleSet::builtin();
    println!("rules: {} built-in", rules.len());
    // Warm the page cache so that the figure is about the analysis.
    let _ = std::fs::read(&path).map(|d| d.len());
    let mb = size as f64 / MB as f64;
    let mut figures = Vec::new();
    let mut speeds = Vec::new();
    for (threads, analyze) in [
        (
            1,
            analyze::analyze_file_one_thread as fn(&Path, &RuleSet) -> _,
        ),
        (2, analyze::analyze_file),
    ] {
        let mut best = f64::MAX;
        let mut found = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            match analyze(&path, &rules) {
                Ok(f) => found = f,
                Err(e) => {
                    eprintln!("analysis failed: {e:#}");
                    return ExitCode::FAILURE;
                }
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        println!(
            "throughput: {:.0} MB/s ({mb:.1} MB in {best:.2}s, best of 3, {threads} thread{}, {} failures reported)",
            mb / best,
            if threads == 1 { "" } else { "s" },
            found.len()
        );
        figures.push(found);
        speeds.push(mb / best);
    }
    if figures.windows(2).any(|w| w[0] != w[1]) {
        eprintln!("one and two threads reported different failures");
        return ExitCode::FAILURE;
    }
    grep_baseline(&path, mb);
    if let Some(rg) = ripgrep_baseline(&path, mb, dir.path()) {
        println!(
            "two-thread analysis / rg: {:.2}; one thread / rg: {:.2}",
            speeds[1] / rg,
            speeds[0] / rg
        );
    }
    let _ = std::fs::remove_file(&path);

    // Peak memory on a large log, in a child process.
    let big = dir.path().join("huge.log");
    let size = match build_log(&seeds, memory_gb * 1000 * MB, &big) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("building the large log: {e}");
            return ExitCode::FAILURE;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match Command::new(exe).arg("--child").arg(&big).output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let kib: u64 = text
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("vmhwm_kib=")?.parse().ok())
                .unwrap_or(0);
            println!(
                "peak memory: {:.1} MB (VmHWM of a child analyzing {:.0} MB; {})",
                kib as f64 / 1024.0,
                size as f64 / MB as f64,
                text.trim()
            );
        }
        Ok(out) => eprintln!("child failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => eprintln!("cannot start child: {e}"),
    }
    ExitCode::SUCCESS
}
