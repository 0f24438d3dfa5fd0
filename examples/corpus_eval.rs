//! Scores the analysis against the labelled failure-log corpus.
//!
//! ```text
//! cargo run --release --example corpus_eval -- [CORPUS_DIR] [--dump] [--case SUBSTR] [--source NAME] [--split dev|held-out|all]
//! ```
//!
//! `--split` (default `all`) keeps a part of the corpus aside for judging
//! changes on logs they were not tuned on: a case is *held out* when the
//! second byte of `sha256(project, lower-cased)` is a multiple of 4 (about a
//! quarter of the repositories; the corpus itself splits on the first byte,
//! so this is independent of it). Work case by case on `dev`; run
//! `held-out` only to measure.
//!
//! CORPUS_DIR defaults to `../shared/corpus` (relative to the crate root).
//! Scoring follows the corpus README: Hit@1/Hit@3 against `cause_lines`,
//! strict Hit@k after dropping `##[error]Process completed with exit code N`
//! lines and lines that also occur in the passing log, the negative control,
//! the trivial baseline (first `##[error]` line) and, on BUMP archives,
//! agreement of the primary category with the data set's class.
// Benches, examples and tests read their own settings from the environment.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use ci_medic::analyze::{self, Category, Failure, RuleSet};
use ci_medic::logs::clean;

const DEFAULT_CORPUS: &str = "../shared/corpus";

struct Args {
    corpus: PathBuf,
    dump: bool,
    case: Option<String>,
    source: Option<String>,
    split: Split,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Split {
    All,
    Dev,
    HeldOut,
}

/// Whether a project belongs to the held-out part (see the module docs).
fn held_out(project: &str) -> bool {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(project.to_lowercase().as_bytes());
    digest[1] % 4 == 0
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        corpus: PathBuf::from(DEFAULT_CORPUS),
        dump: false,
        case: None,
        source: None,
        split: Split::All,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dump" => args.dump = true,
            "--case" => args.case = Some(it.next().ok_or("--case needs a value")?),
            "--source" => args.source = Some(it.next().ok_or("--source needs a value")?),
            "--split" => {
                args.split = match it.next().as_deref() {
                    Some("all") => Split::All,
                    Some("dev") => Split::Dev,
                    Some("held-out") => Split::HeldOut,
                    _ => return Err("--split needs dev, held-out or all".into()),
                }
            }
            "-h" | "--help" => {
                return Err("usage: corpus_eval [CORPUS_DIR] [--dump] [--case SUBSTR] [--source bump|logsage|logchunks] [--split dev|held-out|all]".into());
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => args.corpus = PathBuf::from(other),
        }
    }
    Ok(args)
}

/// A log line as the negative control compares it: no BOM, no timestamp, no
/// trailing whitespace.
fn control_text(line: &[u8]) -> &[u8] {
    let b = clean::strip_bom(line);
    clean::strip_timestamp(b).unwrap_or(b).trim_ascii_end()
}

fn read_lines(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_default();
    let mut lines: Vec<Vec<u8>> = data.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect();
    if data.last() == Some(&b'\n') {
        lines.pop();
    }
    lines
}

fn is_exit_code_line(raw: &[u8]) -> bool {
    control_text(raw).starts_with(b"##[error]Process completed with exit code ")
}

fn in_ranges(ranges: &[(u64, u64)], line: u64) -> bool {
    ranges.iter().any(|(s, e)| (*s..=*e).contains(&line))
}

#[derive(Default)]
struct Tally {
    cases: usize,
    scored: usize,
    hit1: usize,
    hit3: usize,
    strict1: usize,
    strict3: usize,
    reported: usize,
    base1: usize,
    base_strict1: usize,
    neg_cases: usize,
    neg_clean: usize,
    neg_false_lines: usize,
    pass_logs: usize,
    pass_logs_silent: usize,
    pass_lines: usize,
    cat_agree: usize,
    cat_cases: usize,
    failed_job_found: usize,
}

fn expected_category(dataset: &str) -> Option<&'static [Category]> {
    Some(match dataset {
        "COMPILATION_FAILURE" => &[Category::Compilation],
        "TEST_FAILURE" => &[Category::Test],
        // A build-policy check (enforcer rules, a lock file that no longer
        // matches, warnings made errors) is lint: the code may be fine.
        "ENFORCER_FAILURE" | "DEPENDENCY_LOCK_FAILURE" | "WERROR_FAILURE" => &[Category::Lint],
        "DEPENDENCY_RESOLUTION_FAILURE" => &[Category::Dependency],
        _ => return None,
    })
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{n}/{d} ({:.0}%)", 100.0 * n as f64 / d as f64)
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let labels_path = args.corpus.join("labels.jsonl");
    let labels = match std::fs::read_to_string(&labels_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "cannot read {}: {e} (give the corpus directory as the first argument)",
                labels_path.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let rules = RuleSet::builtin();
    let started = Instant::now();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut bytes = 0u64;
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();

    for line in labels.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("bad label line: {e}");
                continue;
            }
        };
        let id = case["id"].as_str().unwrap_or("?").to_string();
        let source = case["source"].as_str().unwrap_or("?").to_string();
        if args.case.as_ref().is_some_and(|c| !id.contains(c.as_str()))
            || args.source.as_ref().is_some_and(|s| s != &source)
        {
            continue;
        }
        let held = held_out(case["project"].as_str().unwrap_or(""));
        if (args.split == Split::Dev && held) || (args.split == Split::HeldOut && !held) {
            continue;
        }
        let path = args.corpus.join(case["path"].as_str().unwrap_or(""));
        bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let failures: Vec<Failure> = match analyze::analyze_file(&path, &rules) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{id}: {e:#}");
                Vec::new()
            }
        };
        let t = tallies.entry(source.clone()).or_default();
        t.cases += 1;
        if !failures.is_empty() {
            t.reported += 1;
        }
        let primary = analyze::primary_category(&failures);
        *categories.entry(format!("{source}:{primary}")).or_default() += 1;

        if let Some(ds) = case["dataset_category"].as_str()
            && source == "bump"
        {
            if let Some(expected) = expected_category(ds) {
                t.cat_cases += 1;
                if expected.contains(&primary) {
                    t.cat_agree += 1;
                }
            }
            // The top failure comes from a job that failed on its own.
            if failures
                .first()
                .is_some_and(|f| f.job.is_some() && f.category != Category::Cancelled)
            {
                t.failed_job_found += 1;
            }
            if args.dump {
                println!("== {id} [{ds}] -> {primary}");
                for f in failures.iter().take(3) {
                    println!(
                        "   {} / {}:{} [{}] {} | {}",
                        f.job.as_deref().unwrap_or("-"),
                        clean::truncate_chars(f.step.as_deref().unwrap_or("-"), 30),
                        f.line,
                        f.category,
                        f.rule,
                        clean::truncate_chars(&f.text, 110)
                    );
                }
            }
        }

        let Some(ranges) = case["cause_lines"].as_array() else {
            continue;
        };
        let ranges: Vec<(u64, u64)> = ranges
            .iter()
            .filter_map(|r| Some((r.get(0)?.as_u64()?, r.get(1)?.as_u64()?)))
            .collect();
        t.scored += 1;
        let log_lines = read_lines(&path);
        let neg_path = case["negative_path"].as_str().map(|p| args.corpus.join(p));
        let passing: HashSet<Vec<u8>> = neg_path
            .as_ref()
            .map(|p| {
                read_lines(p)
                    .iter()
                    .map(|l| control_text(l))
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            })
            .unwrap_or_default();
        let raw_of = |n: u64| -> &[u8] {
            log_lines
                .get((n as usize).wrapping_sub(1))
                .map_or(&[][..], Vec::as_slice)
        };
        let reported: Vec<u64> = failures.iter().map(|f| f.line).collect();
        if reported.first().is_some_and(|l| in_ranges(&ranges, *l)) {
            t.hit1 += 1;
        }
        if reported.iter().take(3).any(|l| in_ranges(&ranges, *l)) {
            t.hit3 += 1;
        }
        let in_passing = |n: u64| {
            let c = control_text(raw_of(n));
            !c.is_empty() && passing.contains(c)
        };
        let strict: Vec<u64> = reported
            .iter()
            .copied()
            .filter(|&n| !is_exit_code_line(raw_of(n)) && !in_passing(n))
            .collect();
        if strict.first().is_some_and(|l| in_ranges(&ranges, *l)) {
            t.strict1 += 1;
        }
        if strict.iter().take(3).any(|l| in_ranges(&ranges, *l)) {
            t.strict3 += 1;
        }
        // Baseline: the first `##[error]` line of the log.
        let first_error = log_lines
            .iter()
            .position(|l| control_text(l).starts_with(b"##[error]"))
            .map(|i| i as u64 + 1);
        if first_error.is_some_and(|l| in_ranges(&ranges, l)) {
            t.base1 += 1;
        }
        if first_error.is_some_and(|l| {
            in_ranges(&ranges, l) && !is_exit_code_line(raw_of(l)) && !in_passing(l)
        }) {
            t.base_strict1 += 1;
        }
        if neg_path.is_some() {
            t.neg_cases += 1;
            let false_alarms = reported.iter().filter(|&&n| in_passing(n)).count();
            if args.dump {
                for f in failures.iter().filter(|f| in_passing(f.line)) {
                    println!(
                        "   false alarm {id}:{} [{}] {}",
                        f.line,
                        f.rule,
                        clean::truncate_chars(&f.text, 100)
                    );
                }
            }
            t.neg_false_lines += false_alarms;
            if false_alarms == 0 {
                t.neg_clean += 1;
            }
            if let Some(p) = &neg_path
                && let Ok(on_pass) = analyze::analyze_file(p, &rules)
            {
                if args.dump {
                    for f in &on_pass {
                        println!(
                            "   on passing log {id}:{} [{}] {}",
                            f.line,
                            f.rule,
                            clean::truncate_chars(&f.text, 100)
                        );
                    }
                }
                t.pass_logs += 1;
                t.pass_lines += on_pass.len();
                if on_pass.is_empty() {
                    t.pass_logs_silent += 1;
                }
            }
        }
        if args.dump {
            let h1 = reported.first().is_some_and(|l| in_ranges(&ranges, *l));
            let s1 = strict.first().is_some_and(|l| in_ranges(&ranges, *l));
            println!("== {id} {ranges:?} hit1={h1} strict1={s1}");
            for f in failures.iter().take(3) {
                let mark = if in_ranges(&ranges, f.line) { '*' } else { ' ' };
                println!(
                    "  {mark}{}:{} [{}] {} | {}",
                    clean::truncate_chars(f.step.as_deref().unwrap_or("-"), 25),
                    f.line,
                    f.category,
                    f.rule,
                    clean::truncate_chars(&f.text, 110)
                );
            }
        }
    }
    let elapsed = started.elapsed();

    println!(
        "corpus: {} (split: {})",
        args.corpus.display(),
        match args.split {
            Split::All => "all",
            Split::Dev => "dev",
            Split::HeldOut => "held-out",
        }
    );
    println!(
        "{:<10} {:>5} {:>15} {:>15} {:>15} {:>15} {:>15} {:>15}",
        "source",
        "cases",
        "Hit@1",
        "Hit@3",
        "strict Hit@1",
        "strict Hit@3",
        "base Hit@1",
        "base strict@1"
    );
    for (name, t) in &tallies {
        println!(
            "{:<10} {:>5} {:>15} {:>15} {:>15} {:>15} {:>15} {:>15}",
            name,
            t.cases,
            pct(t.hit1, t.scored),
            pct(t.hit3, t.scored),
            pct(t.strict1, t.scored),
            pct(t.strict3, t.scored),
            pct(t.base1, t.scored),
            pct(t.base_strict1, t.scored),
        );
    }
    println!();
    for (name, t) in &tallies {
        println!(
            "{name}: reported at least one line in {}",
            pct(t.reported, t.cases)
        );
        if t.neg_cases > 0 {
            println!(
                "{name}: negative control: cases with zero false alarms {}, false-alarm lines {}",
                pct(t.neg_clean, t.neg_cases),
                t.neg_false_lines
            );
            println!(
                "{name}: passing logs with no failure reported {}, lines reported on passing logs {}",
                pct(t.pass_logs_silent, t.pass_logs),
                t.pass_lines
            );
        }
        if t.cat_cases > 0 {
            println!(
                "{name}: category agreement {}",
                pct(t.cat_agree, t.cat_cases)
            );
            println!(
                "{name}: top failure from a job that failed on its own {}",
                pct(t.failed_job_found, t.cases)
            );
        }
    }
    println!();
    println!("primary categories: {categories:?}");
    println!(
        "analyzed {:.1} MB of failing logs in {:.2}s",
        bytes as f64 / 1e6,
        elapsed.as_secs_f64()
    );
    ExitCode::SUCCESS
}
