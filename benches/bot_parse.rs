//! Time to find and parse the command of 10,000 comments.
//!
//! ```text
//! cargo bench --bench bot_parse
//! ```
//!
//! The comments are built from templates (commands, errors, prose, quotes,
//! code blocks, hostile text) with a fixed pseudo-random sequence, so every
//! run parses the same text. Prints the total and the time per comment.

use std::hint::black_box;
use std::time::Instant;

use ci_medic::bot::parse::{Parsed, parse_comment};

const COMMENTS: usize = 10_000;

const LINES: &[&str] = &[
    "@ci-medic merge",
    "@ci-medic merge -f \"trunk is broken upstream, see the linked issue\"",
    "@ci-medic merge -i -r",
    "@ci-medic merge -f urgent",
    "@ci-medic revert -m \"Broke test_nn on CUDA 12\" -c nosignal",
    "@ci-medic revert -m 'missing classification'",
    "@ci-medic rebase -b release/2.1",
    "@ci-medic cherry-pick --onto release/2.1 -c regression --fixes https://github.com/o/r/issues/9",
    "@ci-medic label ciflow/trunk 'module: ci' \"##[error]x\"",
    "@ci-medic retest",
    "@ci-medic drci",
    "@ci-medic mrege",
    "@ci-medic merge -f \"unbalanced",
    "@PyTorchBot merge -r main",
    "Thanks for the review! I addressed the comments in the last push.",
    "> @ci-medic merge",
    "cc @ci-medic merge",
    "<!-- ci-medic:analysis {\"k\":1} -->",
    "This fixes the flaky `test_ops` failure 🎉 ünïcödé 标签",
    "",
];

const BLOCKS: &[&str] = &[
    "```python\nimport torch\n@ci-medic merge\nprint(torch.__version__)\n```",
    "    indented code\n    @ci-medic merge",
    "<!--\nhidden\n@ci-medic merge\n-->",
];

/// A fixed pseudo-random sequence (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn comments() -> Vec<String> {
    let mut rng = Rng(0x00c1_3ed1_c000_0001);
    (0..COMMENTS)
        .map(|_| {
            let mut body = String::new();
            for _ in 0..1 + rng.below(6) {
                if rng.below(5) == 0 {
                    body.push_str(BLOCKS[rng.below(BLOCKS.len())]);
                } else {
                    body.push_str(LINES[rng.below(LINES.len())]);
                }
                body.push('\n');
            }
            body
        })
        .collect()
}

fn main() {
    let comments = comments();
    let bytes: usize = comments.iter().map(String::len).sum();
    let handles = ["@ci-medic", "@pytorchbot"];
    let (mut none, mut commands, mut errors) = (0usize, 0usize, 0usize);
    let start = Instant::now();
    for body in &comments {
        match black_box(parse_comment(black_box(body), &handles)) {
            Parsed::NoCommand => none += 1,
            Parsed::Command(_) => commands += 1,
            Parsed::Error(_) => errors += 1,
        }
    }
    let total = start.elapsed();
    println!(
        "bot parse: {} comments ({:.1} KB): {commands} commands, {errors} errors, {none} without one",
        comments.len(),
        bytes as f64 / 1000.0
    );
    println!(
        "total {:.2} ms, {:.2} µs per comment",
        total.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e6 / comments.len() as f64
    );
}
