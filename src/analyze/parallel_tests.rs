//! The two-thread analysis gives the one-thread result, byte for byte.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::parallel::Batching;
use super::*;

/// Both analyses of `log`, the second cut into batches of `batch_bytes`.
fn both(log: &[u8], batch_bytes: usize, in_flight: usize) -> (Vec<Failure>, Vec<Failure>) {
    let rules = RuleSet::builtin();
    let one = analyze_job_log("log", None, None, log, &rules).expect("one thread");
    let two = analyze_job_log_parallel(
        "log",
        std::io::BufReader::with_capacity(7, log),
        &rules,
        Batching {
            batch_bytes,
            in_flight,
        },
    )
    .expect("two threads");
    (one, two)
}

/// The log fixtures, in name order.
fn fixture_logs() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/logs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "log"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn fixtures_give_the_same_failures_on_two_threads() {
    let mut checked = 0;
    for p in fixture_logs() {
        let log = std::fs::read(&p).expect("fixture");
        for (batch, in_flight) in [(1, 2), (100, 3), (4096, 6)] {
            let (one, two) = both(&log, batch, in_flight);
            assert_eq!(one, two, "{} in batches of {batch} bytes", p.display());
            assert_eq!(
                format!("{:?}", Analysis::from_failures(one.clone()).to_text()),
                format!("{:?}", Analysis::from_failures(two).to_text())
            );
        }
        checked += 1;
    }
    assert!(checked > 10, "only {checked} fixtures");
}

/// A batch holds thousands of lines and is matched a few hundred at a time
/// (see `Prematcher::best_of`): every fixture joined into one log, read as
/// one batch, is analysed as on one thread.
#[test]
fn a_batch_of_thousands_of_lines_gives_the_same_failures() {
    let mut log = Vec::new();
    for p in fixture_logs() {
        log.extend(std::fs::read(&p).expect("fixture"));
        if !log.ends_with(b"\n") {
            log.push(b'\n');
        }
    }
    let lines = log.iter().filter(|&&b| b == b'\n').count();
    assert!(lines > 2000, "{lines} lines");
    for batch in [log.len(), 64 * 1024] {
        let (one, two) = both(&log, batch, 2);
        assert!(one.len() > 10, "{} failures", one.len());
        assert_eq!(one, two, "batches of {batch} bytes");
    }
}

/// Lines a log is made of: runner structure, rule hits, noise.
const PIECES: &[&str] = &[
    "##[group]Run cargo test",
    "##[endgroup]",
    "\x1b[36;1mcargo test\x1b[0m",
    "env:",
    "  KEY: value",
    "##[error]Process completed with exit code 1.",
    "##[error]Process completed with exit code 0.",
    "##[warning]deprecated thing",
    "error[E0425]: cannot find value `x` in this scope",
    "  --> src/main.rs:3:5",
    "FAILED tests/test_a.py::test_b - AssertionError: boom",
    "E   assert 1 == 2",
    "ModuleNotFoundError: No module named 'yaml'",
    "npm ERR! code ENOTFOUND",
    "Post job cleanup.",
    "Cleaning up orphan processes",
    "Error: Process completed with exit code 2.",
    "make: *** [all] Error 2",
    "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-compiler-plugin",
    "    at com.example.Foo.bar(Foo.java:12)",
    "\tat org.junit.Assert.fail(Assert.java:89)",
    "fatal: could not read Username for 'https://github.com'",
    "The command \"make test\" exited with 2.",
    "travis_fold:start:install\r\x1b[0K$ make test",
    "$ make test",
    "10%\r50%\r100%",
    "",
    "   ",
    "ok",
    "all good, 0 errors",
    "Segmentation fault (core dumped)",
    "##[error]The operation was canceled.",
    "Killed",
    "No space left on device",
];

fn log_strategy() -> impl Strategy<Value = Vec<u8>> {
    let line = (
        0..PIECES.len(),
        prop::bool::ANY,
        prop::collection::vec(any::<u8>(), 0..3),
    );
    (
        prop::bool::ANY,
        prop::bool::ANY,
        prop::collection::vec(line, 0..120),
        prop::bool::ANY,
    )
        .prop_map(|(bom, timestamps, lines, final_lf)| {
            let mut out = Vec::new();
            if bom {
                out.extend_from_slice("\u{feff}".as_bytes());
            }
            for (i, (piece, noise_first, noise)) in lines.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                if timestamps {
                    out.extend_from_slice(b"2024-01-01T00:00:01.1234567Z ");
                }
                if *noise_first {
                    out.extend_from_slice(noise);
                }
                out.extend_from_slice(PIECES[*piece].as_bytes());
                if !*noise_first {
                    out.extend_from_slice(noise);
                }
            }
            if final_lf {
                out.push(b'\n');
            }
            out
        })
}

fn config() -> Config {
    Config {
        cases: 200,
        rng_seed: RngSeed::Fixed(0x0A11_7A1C),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_logs_give_the_same_failures_on_two_threads(
        log in log_strategy(),
        batch in 1usize..300,
        in_flight in 2usize..5,
    ) {
        let (one, two) = both(&log, batch, in_flight);
        prop_assert_eq!(one, two);
    }
}

#[test]
fn long_lines_are_cut_as_on_one_thread() {
    let mut log = b"2024-01-01T00:00:01.0Z ##[group]Run make\n".to_vec();
    log.extend_from_slice(b"2024-01-01T00:00:02.0Z error: ");
    log.extend(std::iter::repeat_n(b'x', crate::logs::MAX_LINE_BYTES * 2));
    log.extend_from_slice(b" No space left on device\n");
    log.extend_from_slice(b"2024-01-01T00:00:03.0Z No space left on device\n");
    log.extend_from_slice(b"2024-01-01T00:00:03.0Z ##[error]Process completed with exit code 1.\n");
    for batch in [1, 5000, 1 << 20] {
        let (one, two) = both(&log, batch, 2);
        assert!(!one.is_empty());
        assert_eq!(one, two, "batches of {batch} bytes");
    }
}
