//! A signal as a failure rate: which commit changed it, and how sure that is.
//! Pure arithmetic on counts.
//!
//! Each run attempt of a job on a commit is one sample: it failed with the
//! signal's fingerprint, or it passed (failures with other fingerprints and
//! pending runs say nothing). The model has one change point: commits older
//! than the culprit fail at the job's flake rate `p0`, the culprit and every
//! newer commit (which contain it) at an unknown higher rate.
//!
//! - `p0`, the flake rate, is the upper 95% (Wilson) bound of the signal's
//!   failure rate on the commits older than the suspect, and never below
//!   [`FLAKE_FLOOR`]: a difference the job's own flake history explains is no
//!   break.
//! - For each candidate commit `k`, the statistic `Λ(k)` is the log
//!   likelihood ratio of "`k` and the newer commits fail at an unknown rate"
//!   (a Beta(½, ½) mixture over the rate, the Krichevsky–Trofimov estimator)
//!   against "they fail at `p0`". A mixture ratio is a test martingale under
//!   the null, so by Ville's inequality it crosses `ln(1/α)` with probability
//!   at most `α` however long one keeps looking: the test is sequential, and
//!   stops as soon as the evidence is strong enough.
//! - The suspect is the `k` with the largest `Λ`; its margin is `Λ(suspect)`
//!   minus the log of the sum of `e^Λ(k)` over every other candidate: the log
//!   posterior odds, under a uniform prior over commits, that it is the
//!   suspect and no other (the parent passing again is what moves it).
//!
//! The thresholds come from the precision asked, 0.99. A revert on one
//! signal is wrong when the signal never broke (at most α = 0.1% for that
//! signal, Ville's bound for `Λ ≥ ln(1000)`, however long it is watched) or
//! broke at another commit (at most the posterior left to the others,
//! `1 / (1 + e^margin)`: 0.5% at a margin of `ln(199)`). Both are bounds per
//! signal, not over all of them: with `S` watched signals the chance that
//! some signal that never broke crosses `ln(1000)` is up to `S` × 0.1%
//! (family-wise), so the share of wrong reverts depends on how many signals
//! never break against how many do, and adding α to the localisation error
//! bounds no precision. The margin is therefore kept at `ln(199)`, half of
//! the 1% left to false alarms, rather than set so the two sum to exactly
//! 1%. That costs a little recall: in the simulator, with the same draws
//! for both, `ln(111)` placed 2 more of the 120 breaks failing 60% or more
//! on seeds 1 to 24, and 2 more of 160 on seeds 25 to 56, for up to 1.2
//! more restarts per 48 hours. Evidence below that, but worth a
//! look (`Λ ≥ ln(10)` on a job that flakes 5% of the time or less, where
//! one failure reaches it; `Λ ≥ ln(100)` on a job that flakes more), asks
//! for restarts: of the suspect while `Λ` is short, and of the middle of
//! the plausible commits while the margin is short (the parent, or the
//! middle of a run of commits no CI tested: a bisection).

use std::fmt;

/// The least flake rate assumed of any job.
pub const FLAKE_FLOOR: f64 = 0.02;

/// `Λ` a revert needs: `ln(1000)`, a false alarm rate of at most 0.1% per
/// signal.
pub const BREAK_LN: f64 = 6.907_755_278_982_137;

/// The margin a revert needs: `ln(199)`, 99.5% that no other commit is the
/// culprit, per signal (see the module's note on why this is no family-wise
/// bound).
pub const LOCALIZE_LN: f64 = 5.293_304_824_724_492;

/// The least flake rate assumed when placing a break among commits.
pub const PLACE_FLOOR: f64 = 0.005;

/// Samples below the suspect from which a flake rate is trusted enough to
/// overrule a pattern confirmed by a restart.
pub const MIN_HISTORY: u32 = 30;

/// `Λ` that makes a signal worth restarts on a job whose flake rate is at
/// most [`QUIET_RATE`]: `ln(10)` (others need [`LIKELY_LN`]).
pub const LOOK_LN: f64 = std::f64::consts::LN_10;

/// `Λ` at which a break is likely: `ln(100)`. From here the place of a
/// break is worth several restarts of one commit at once and may use the
/// last quarter of the day's budget, and a job that flakes too often for
/// one failure to be worth a look gets its first restarts.
pub const LIKELY_LN: f64 = 4.605_170_185_988_091;

/// The highest flake rate at which one failure is worth a look: `Λ` of
/// one failure, `ln(½ / p0)`, is [`LOOK_LN`] there.
pub const QUIET_RATE: f64 = 0.05;

/// The z of a one-sided 95% bound.
const Z95: f64 = 1.644_853_626_951_472_2;

/// The z of a one-sided 90% bound.
const Z90: f64 = 1.281_551_565_544_600_5;

/// Samples of a signal on one commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub fail: u32,
    pub pass: u32,
}

impl Counts {
    pub fn samples(&self) -> u32 {
        self.fail + self.pass
    }
}

/// The result of the test for one signal.
#[derive(Debug, Clone, PartialEq)]
pub struct RateTest {
    /// Index of the most likely first bad commit (0 is the newest).
    pub suspect: usize,
    /// Samples on commits older than the suspect.
    pub before: Counts,
    /// Samples on the suspect and newer commits.
    pub after: Counts,
    /// The flake rate tested against.
    pub flake_rate: f64,
    /// `Λ(suspect)`.
    pub statistic: f64,
    /// Log posterior odds of the suspect against every other commit.
    pub margin: f64,
    /// Candidates within [`LOCALIZE_LN`] of the suspect, newest first.
    pub plausible: Vec<usize>,
    /// `Λ` of every candidate, for [`RateTest::margin_of`].
    scores: Vec<f64>,
}

// The statistics are finite numbers computed from counts.
impl Eq for RateTest {}

impl RateTest {
    /// Enough evidence of a break, and of where it is.
    pub fn decides(&self) -> bool {
        self.statistic >= BREAK_LN && self.margin >= LOCALIZE_LN
    }

    /// Evidence worth restarts. On a job whose one failure is worth a look
    /// by itself, the first failure after a green stretch is: `Λ` of one
    /// failure is `ln(½ / p0)`, `ln(10)` or more while the flake rate the
    /// test assumes (the upper bound of the job's history) is at most
    /// [`QUIET_RATE`]. A job that flakes more often, or whose history is
    /// too short to show that it does not (it takes 52 clean runs, 87 with
    /// one flake), has no green stretch for a failure to follow: streaks
    /// that reach `ln(10)` come by chance about once a day there on a job
    /// failing one run in five, and restarting each spent the budget that
    /// places real breaks, so it waits for a likely break, [`LIKELY_LN`].
    pub fn worth_a_look(&self) -> bool {
        let needed = if self.flake_rate <= QUIET_RATE {
            LOOK_LN
        } else {
            LIKELY_LN
        };
        self.statistic >= needed
    }

    /// The margin of another candidate `k` (what the evidence says of a
    /// suspect found another way).
    pub fn margin_of(&self, k: usize) -> f64 {
        margin(&self.scores, k)
    }

    /// The most likely candidate after the suspect.
    pub fn runner_up(&self) -> Option<usize> {
        self.scores
            .iter()
            .enumerate()
            .filter(|&(i, s)| i != self.suspect && *s > f64::NEG_INFINITY)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    }

    /// The failure rate on the suspect and after, kept off 0 and 1 (the
    /// estimate the restarts are planned with).
    pub fn break_rate(&self) -> f64 {
        let n = f64::from(self.after.samples());
        ((f64::from(self.after.fail) + 0.5) / (n + 1.0)).clamp(0.01, 0.99)
    }

    /// Expected growth of `Λ` per new sample of the suspect, if it broke
    /// the signal: the Kullback–Leibler divergence of the break rate from
    /// the flake rate, in nats.
    pub fn gain_per_suspect_sample(&self) -> f64 {
        let (q, p) = (self.break_rate(), self.flake_rate.clamp(1e-6, 1.0 - 1e-6));
        if q <= p {
            return 0.0;
        }
        q * (q / p).ln() + (1.0 - q) * ((1.0 - q) / (1.0 - p)).ln()
    }

    /// Expected growth of the margin over an older candidate per new sample
    /// of that candidate, if the suspect is the culprit: it then passes at
    /// `1 - p0`, each pass worth `ln((1 - p0) / (1 - q))` against it, each
    /// flake `ln(p0 / q)` for it.
    pub fn gain_per_parent_sample(&self) -> f64 {
        let (q, p) = (self.break_rate(), self.flake_rate.clamp(1e-6, 1.0 - 1e-6));
        if q <= p {
            return 0.0;
        }
        ((1.0 - p) * ((1.0 - p) / (1.0 - q)).ln() + p * (p / q).ln()).max(0.0)
    }

    /// Whether `runs` passes of the parent could place the break at all,
    /// even at the upper 90% bound of its failure rate: each is worth
    /// `ln((1 - p0) / (1 - q))`, and a break that fails rarely is hard to
    /// tell from a parent that passed by chance. A break that cannot be
    /// placed is not worth restarts. (The 95% bound kept a 30% break
    /// hunted for a round or two more, and placed no more breaks.)
    pub fn placeable(&self, runs: u32) -> bool {
        self.placeable_at(runs, Z90)
    }

    /// [`RateTest::placeable`] at the upper bound of normal quantile `z`.
    fn placeable_at(&self, runs: u32, z: f64) -> bool {
        let q = wilson_bound(self.after.fail, self.after.samples(), z).clamp(0.01, 0.99);
        let p = self.flake_rate.clamp(1e-6, 1.0 - 1e-6);
        if q <= p {
            return false;
        }
        let gain = (1.0 - p) * ((1.0 - p) / (1.0 - q)).ln() + p * (p / q).ln();
        gain * f64::from(runs) >= LOCALIZE_LN
    }

    /// Samples expected to lift a shortfall of `deficit` nats at `gain` per
    /// sample; `None` when no number of samples would.
    pub fn samples_for(deficit: f64, gain: f64) -> Option<u32> {
        if deficit <= 0.0 {
            return Some(0);
        }
        if gain <= 1e-9 {
            return None;
        }
        let n = (deficit / gain).ceil();
        (n < 1000.0).then_some(n as u32)
    }

    /// The posterior probability, under a uniform prior over commits, that
    /// commit `c` carries the break: that the culprit is `c` or older.
    pub fn carries_break(&self, c: usize) -> f64 {
        let max = self
            .scores
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return 0.0;
        }
        let total: f64 = self.scores.iter().map(|s| (s - max).exp()).sum();
        let older: f64 = self.scores.iter().skip(c).map(|s| (s - max).exp()).sum();
        if total > 0.0 { older / total } else { 0.0 }
    }

    /// The commit older than the suspect whose runs would best tell where
    /// the break is: the one whose chance of carrying it is nearest an even
    /// split (a run of it fails at the break's rate if it carries it, at the
    /// flake rate if not). That is the parent, whose passes clear every
    /// older commit at once, while the suspect holds at least half the
    /// posterior; further down when the evidence points lower (a bisection).
    /// `None` when no older commit is plausible.
    pub fn split_older(&self) -> Option<usize> {
        let s = self.suspect;
        let mut best: Option<(usize, f64)> = None;
        for c in s + 1..self.scores.len() {
            let p = self.carries_break(c);
            if p < 1e-3 {
                break;
            }
            let even = p.min(1.0 - p);
            if best.is_none_or(|(_, b)| even > b) {
                best = Some((c, even));
            }
        }
        best.map(|(c, _)| c)
    }

    /// The commit whose samples would best tell the plausible candidates
    /// apart: the middle one (the parent when only the suspect and its
    /// parent are plausible).
    pub fn bisect(&self) -> Option<usize> {
        (self.plausible.len() >= 2).then(|| self.plausible[self.plausible.len() / 2])
    }
}

impl fmt::Display for RateTest {
    /// `before 1/80 (flake rate ≤ 3.5%), after 5/6; Λ 8.10 (revert at 6.91),
    /// margin 3.20 (needs 2.94)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed {}/{} before, {}/{} on the suspect and after (flake rate ≤ {:.1}%); Λ {:.2} (revert at {:.2}), margin {:.2} (needs {:.2})",
            self.before.fail,
            self.before.samples(),
            self.after.fail,
            self.after.samples(),
            self.flake_rate * 100.0,
            self.statistic,
            BREAK_LN,
            self.margin,
            LOCALIZE_LN
        )
    }
}

/// What the restarts of one round are expected to add to a signal's
/// samples by the time they report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToCome {
    /// Runs on their way on the suspect's side (newer commits', mostly),
    /// expected to fail at the break's rate.
    pub after: u32,
    /// Failing runs of the suspect itself: the failing restart a revert
    /// needs, when there is none yet.
    pub suspect_fails: u32,
}

/// The fewest passes of commit `c`, older than `suspect`, after which the
/// test would place the break at `suspect` (at most `max`, `None` if more
/// are needed): counted exactly on the samples, with what the round is
/// expected to add (`to_come`, at the break's rate `q`). A pass is worth
/// less while the break's rate is unsure, and more as the suspect's side
/// grows: an estimate from the expected gain per pass misses both.
pub fn passes_to_place(
    counts: &[Counts],
    suspect: usize,
    c: usize,
    to_come: ToCome,
    q: f64,
    max: u32,
) -> Option<u32> {
    if c >= counts.len() || suspect >= c {
        return None;
    }
    let mut base = counts.to_vec();
    let fail = (f64::from(to_come.after) * q.clamp(0.0, 1.0)).round() as u32;
    base[0].fail += fail;
    base[0].pass += to_come.after - fail;
    base[suspect].fail += to_come.suspect_fails;
    // One pass more each time, on the one copy.
    (1..=max).find(|_| {
        base[c].pass += 1;
        test(&base).is_some_and(|t| t.suspect == suspect && t.margin >= LOCALIZE_LN)
    })
}

/// Upper one-sided 95% Wilson bound of `fail / n`.
pub fn wilson_upper(fail: u32, n: u32) -> f64 {
    wilson_bound(fail, n, Z95)
}

/// Upper one-sided Wilson bound of `fail / n` at normal quantile `z`.
fn wilson_bound(fail: u32, n: u32, z: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let n = f64::from(n);
    let p = f64::from(fail) / n;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre + spread) / (1.0 + z2 / n)).min(1.0)
}

/// `ln` of the Beta(½, ½) mixture likelihood of `f` failures and `s` passes:
/// `B(f + ½, s + ½) / B(½, ½)`, exact through half-integer Gamma products.
fn ln_mixture(f: u32, s: u32) -> f64 {
    let half = |n: u32| (0..n).map(|i| (f64::from(i) + 0.5).ln()).sum::<f64>();
    let fact = (1..=f + s).map(|i| f64::from(i).ln()).sum::<f64>();
    half(f) + half(s) - fact
}

fn statistic_of(c: Counts, p0: f64) -> f64 {
    if c.samples() == 0 {
        return 0.0;
    }
    ln_mixture(c.fail, c.pass) - f64::from(c.fail) * p0.ln() - f64::from(c.pass) * (1.0 - p0).ln()
}

fn margin(scores: &[f64], k: usize) -> f64 {
    let Some(&top) = scores.get(k) else {
        return f64::NEG_INFINITY;
    };
    let max = scores
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != k)
        .map(|(_, &s)| s)
        .fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return f64::INFINITY;
    }
    let sum: f64 = scores
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != k)
        .map(|(_, &s)| (s - max).exp())
        .sum();
    top - (max + sum.ln())
}

/// Test a signal whose samples per commit are `counts` (index 0 is the
/// newest commit). `None` when it never failed.
pub fn test(counts: &[Counts]) -> Option<RateTest> {
    let total = counts.iter().fold(Counts::default(), |a, c| Counts {
        fail: a.fail + c.fail,
        pass: a.pass + c.pass,
    });
    if total.fail == 0 {
        return None;
    }
    // Samples on each commit and the newer ones.
    let mut after = Vec::with_capacity(counts.len());
    let mut acc = Counts::default();
    for c in counts {
        acc.fail += c.fail;
        acc.pass += c.pass;
        after.push(acc);
    }
    let flake = |k: usize| {
        let before = Counts {
            fail: total.fail - after[k].fail,
            pass: total.pass - after[k].pass,
        };
        (
            before,
            wilson_upper(before.fail, before.samples()).max(FLAKE_FLOOR),
        )
    };
    // The suspect depends on the flake rate and the rate on the suspect:
    // settle them together (a few rounds suffice).
    let mut p0 = wilson_upper(total.fail, total.samples()).max(FLAKE_FLOOR);
    let mut suspect = usize::MAX;
    let mut scores = Vec::new();
    for _ in 0..4 {
        // One-sided: a commit after which the signal fails no more often
        // than it flakes cannot have broken it.
        scores = after
            .iter()
            .map(|&c| {
                if c.samples() > 0 && f64::from(c.fail) > p0 * f64::from(c.samples()) {
                    statistic_of(c, p0)
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        let best = scores
            .iter()
            .enumerate()
            // Ties go to the oldest: an untested commit below a failing one
            // is as likely.
            .fold(None::<(usize, f64)>, |best, (i, &s)| match best {
                Some((_, b)) if b > s => best,
                _ => Some((i, s)),
            })
            .filter(|&(_, s)| s > f64::NEG_INFINITY)
            .map(|(i, _)| i)?;
        if best == suspect {
            break;
        }
        suspect = best;
        p0 = flake(suspect).1;
    }
    let (before, flake_rate) = flake(suspect);
    let statistic = scores.get(suspect).copied().unwrap_or(f64::NEG_INFINITY);
    if statistic == f64::NEG_INFINITY {
        return None;
    }
    // Placing the break is a comparison of commits, not a test against
    // flakes: it uses the flake rate's estimate (not its upper bound) from
    // below every commit the bound leaves plausible, so that the break's
    // own failures on a candidate are not taken for flakes.
    let oldest = scores
        .iter()
        .enumerate()
        .filter(|&(_, &s)| s >= statistic - LOCALIZE_LN)
        .map(|(i, _)| i)
        .max()
        .unwrap_or(suspect);
    let below = Counts {
        fail: total.fail - after[oldest].fail,
        pass: total.pass - after[oldest].pass,
    };
    let place_rate = ((f64::from(below.fail) + 0.5) / (f64::from(below.samples()) + 1.0))
        .clamp(PLACE_FLOOR, flake_rate);
    let placed: Vec<f64> = after
        .iter()
        .map(|&c| {
            if c.samples() > 0 && f64::from(c.fail) > place_rate * f64::from(c.samples()) {
                statistic_of(c, place_rate)
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    let scores = if placed.get(suspect).is_some_and(|s| *s > f64::NEG_INFINITY) {
        placed
    } else {
        scores
    };
    let top = scores[suspect];
    let plausible = scores
        .iter()
        .enumerate()
        .filter(|&(_, &s)| s >= top - LOCALIZE_LN)
        .map(|(i, _)| i)
        .collect();
    Some(RateTest {
        suspect,
        before,
        after: after[suspect],
        flake_rate,
        statistic,
        margin: margin(&scores, suspect),
        plausible,
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(fail: u32, pass: u32) -> Counts {
        Counts { fail, pass }
    }

    /// Newest first: `after` commits above the break, then `before` clean.
    fn history(newer: &[Counts], clean: usize) -> Vec<Counts> {
        let mut v = newer.to_vec();
        v.extend(std::iter::repeat_n(c(0, 1), clean));
        v
    }

    #[test]
    fn the_mixture_is_exact() {
        // B(1.5, 0.5) / B(0.5, 0.5) = 1/2; B(1.5, 1.5) / B(.5, .5) = 1/8.
        assert!((ln_mixture(1, 0) - 0.5f64.ln()).abs() < 1e-12);
        assert!((ln_mixture(1, 1) - 0.125f64.ln()).abs() < 1e-12);
        assert_eq!(ln_mixture(0, 0), 0.0);
    }

    #[test]
    fn wilson_bounds() {
        assert!(wilson_upper(0, 100) < 0.03);
        assert!((0.08..0.13).contains(&wilson_upper(5, 100)));
        assert_eq!(wilson_upper(0, 0), 1.0);
    }

    #[test]
    fn an_always_failing_break_is_found_and_placed() {
        // Twenty failing commits over a parent that passed three times; the
        // suspect failed again twice (its own failures are what set it
        // apart from its child).
        let mut v = history(&[c(1, 0); 19], 0);
        v.push(c(3, 0));
        v.push(c(0, 3));
        v.extend(std::iter::repeat_n(c(0, 1), 60));
        let t = test(&v).expect("fails");
        assert_eq!(t.suspect, 19);
        assert!(t.decides(), "{t}");
        // With one pass on the parent, it may be a break that passes
        // sometimes, started one commit lower.
        let mut v = history(&[c(1, 0); 20], 0);
        v.extend(std::iter::repeat_n(c(0, 1), 60));
        let t = test(&v).expect("fails");
        assert!(!t.decides(), "{t}");
        assert_eq!(t.runner_up(), Some(20));
    }

    #[test]
    fn one_pass_on_the_parent_does_not_place_an_intermittent_break() {
        // 60%-like: fail, fail, pass, fail over a parent that passed once.
        let v = history(&[c(1, 0), c(0, 1), c(1, 0), c(1, 0)], 60);
        let t = test(&v).expect("fails");
        assert_eq!(t.suspect, 3);
        assert!(!t.decides(), "{t}");
        assert!(t.worth_a_look(), "{t}");
        assert_eq!(t.bisect(), Some(t.plausible[t.plausible.len() / 2]));
        assert!(t.plausible.contains(&4), "{t:?}");
    }

    /// Newest first: `newer`, then 120 commits of which every `every`-th
    /// failed (the newest of them passed).
    fn flaky_history(newer: &[Counts], every: usize) -> Vec<Counts> {
        let mut v = newer.to_vec();
        v.extend((1..=120).map(|i| if i % every == 0 { c(1, 0) } else { c(0, 1) }));
        v
    }

    #[test]
    fn a_job_that_flakes_often_waits_for_a_likely_break() {
        // On a quiet job one failure is worth a look.
        let t = test(&history(&[c(1, 0)], 120)).expect("fails");
        assert!(t.flake_rate <= QUIET_RATE, "{t}");
        assert!(t.statistic >= LOOK_LN && t.worth_a_look(), "{t}");
        // On a job failing one run in five, three failures in a row reach
        // `ln(10)`, as they do by chance about once a day at 120 commits a
        // day: not enough.
        let t = test(&flaky_history(&[c(1, 0); 3], 5)).expect("fails");
        assert!(t.flake_rate > QUIET_RATE, "{t}");
        assert!(t.statistic >= LOOK_LN && t.statistic < LIKELY_LN, "{t}");
        assert!(!t.worth_a_look(), "{t}");
        // Five are a likely break.
        let t = test(&flaky_history(&[c(1, 0); 5], 5)).expect("fails");
        assert!(t.statistic >= LIKELY_LN && t.worth_a_look(), "{t}");
        // A history too short to show the job quiet counts as noisy: after
        // 30 passes the flake rate's upper bound is still above 5%.
        let t = test(&history(&[c(1, 0)], 30)).expect("fails");
        assert!(t.flake_rate > QUIET_RATE, "{t}");
        assert!(!t.worth_a_look(), "{t}");
    }

    #[test]
    fn a_rate_the_flake_history_explains_is_no_break() {
        // A job failing a third of the time, a little more lately.
        let mut v = Vec::new();
        for i in 0..90 {
            v.push(if i % 3 == 0 { c(1, 0) } else { c(0, 1) });
        }
        v[0] = c(1, 0);
        v[1] = c(1, 0);
        let t = test(&v).expect("fails");
        assert!(!t.worth_a_look(), "{t}");
        assert!(!t.decides(), "{t}");
    }

    #[test]
    fn restarts_are_planned_by_expected_information() {
        // About 60% failing over a parent that passed once: each further
        // pass of the parent is worth about ln(0.98 / 0.4) against it.
        let v = history(&[c(1, 0), c(0, 1), c(1, 0), c(1, 0), c(2, 0)], 60);
        let t = test(&v).expect("fails");
        assert_eq!(t.suspect, 4);
        let parent = t.gain_per_parent_sample();
        assert!((0.5..1.5).contains(&parent), "{parent}");
        let n = RateTest::samples_for(LOCALIZE_LN - t.margin, parent).expect("finite");
        assert!((3..=12).contains(&n), "{n} for {t}");
        // A break that fails every time needs fewer.
        let v = history(&[c(1, 0), c(1, 0), c(1, 0), c(2, 0)], 60);
        let always = test(&v).expect("fails");
        assert!(always.gain_per_parent_sample() > parent);
        // Nothing to gain, nothing to restart; nothing short, no restart.
        assert_eq!(RateTest::samples_for(1.0, 0.0), None);
        assert_eq!(RateTest::samples_for(-1.0, 1.0), Some(0));
    }

    #[test]
    fn the_parent_is_restarted_before_an_untested_run_below_it() {
        // A break failing about 60% over its parent (passed once) and two
        // commits no CI tested: the oldest of the tied untested commits is
        // the runner-up, but passes of the parent clear all three at once.
        let mut v = vec![
            c(1, 0),
            c(1, 0),
            c(0, 1),
            c(1, 0),
            c(4, 1),
            c(0, 1),
            c(0, 0),
            c(0, 0),
        ];
        v.extend(std::iter::repeat_n(c(0, 1), 60));
        let t = test(&v).expect("fails");
        assert_eq!(t.suspect, 4, "{t}");
        assert!(!t.decides(), "{t}");
        assert_eq!(t.runner_up(), Some(7), "{t:?}");
        assert!(t.carries_break(5) < 0.5, "{t:?}");
        assert_eq!(t.split_older(), Some(5), "{t:?}");
        // With the evidence pointing lower, the split moves down.
        let mut v = vec![
            c(1, 0),
            c(0, 1),
            c(1, 0),
            c(2, 1),
            c(0, 1),
            c(0, 0),
            c(0, 0),
        ];
        v.extend(std::iter::repeat_n(c(0, 1), 60));
        let t = test(&v).expect("fails");
        assert!(t.carries_break(4) > 0.5, "{t:?}");
        assert!(t.split_older() > Some(4), "{t:?}");
        assert!((t.carries_break(0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_break_too_rare_to_place_is_not_worth_restarts() {
        // 30%: 6 of 20 runs on the suspect and after, over a clean history.
        let newer: Vec<Counts> = (0..20)
            .map(|i| {
                if [0, 3, 6].contains(&((19 - i) % 10)) {
                    c(1, 0)
                } else {
                    c(0, 1)
                }
            })
            .collect();
        let t = test(&history(&newer, 60)).expect("fails");
        assert_eq!(t.suspect, 19, "{t}");
        assert!(t.worth_a_look(), "{t}");
        assert!(!t.placeable(8), "{t}");
        // 60%: 12 of 20.
        let newer: Vec<Counts> = (0..20)
            .map(|i| {
                if [0, 2, 3].contains(&((19 - i) % 5)) {
                    c(1, 0)
                } else {
                    c(0, 1)
                }
            })
            .collect();
        let t = test(&history(&newer, 60)).expect("fails");
        assert!(t.placeable(8), "{t}");
        assert!(!t.placeable(2), "{t}");
        // 5 of 14 (36%): its upper 95% bound (57%) would still call it
        // placeable within 8 passes, its upper 90% bound (53%) does not.
        let newer: Vec<Counts> = (0..14)
            .map(|i| if (13 - i) % 3 == 0 { c(1, 0) } else { c(0, 1) })
            .collect();
        let t = test(&history(&newer, 60)).expect("fails");
        assert_eq!((t.after.fail, t.after.samples()), (5, 14), "{t}");
        assert!(!t.placeable(8), "{t}");
        assert!(t.placeable_at(8, Z95), "{t}");
    }

    #[test]
    fn never_failing_is_no_test() {
        assert!(test(&[c(0, 1); 10]).is_none());
        assert!(test(&[]).is_none());
    }

    #[test]
    fn passes_to_place_counts_exactly_what_the_test_would_say() {
        // Newest first: a newer failing commit, the failing suspect, its
        // passing parent, 120 clean runs.
        let counts = history(&[c(1, 0), c(1, 0), c(0, 1)], 120);
        let to_come = ToCome {
            after: 3,
            suspect_fails: 1,
        };
        let n = passes_to_place(&counts, 1, 2, to_come, 0.9, 8).expect("placeable");
        // With n passes the test places the break; with one fewer it does
        // not.
        let with = |passes: u32| {
            let mut v = counts.clone();
            v[0].fail += 3;
            v[1].fail += 1;
            v[2].pass += passes;
            test(&v).expect("fails")
        };
        assert!(with(n).margin >= LOCALIZE_LN && with(n).suspect == 1);
        assert!(with(n - 1).margin < LOCALIZE_LN);
        // More failures to come on the suspect's side: no more passes.
        let more = ToCome {
            after: 6,
            ..to_come
        };
        let fewer = passes_to_place(&counts, 1, 2, to_come, 1.0, 8).expect("placeable");
        assert!(passes_to_place(&counts, 1, 2, more, 1.0, 8).is_some_and(|m| m <= fewer));
        // Without the suspect's own confirming failure a newer commit
        // stays as likely: no number of parent passes places it.
        let none = ToCome {
            after: 0,
            suspect_fails: 0,
        };
        assert_eq!(passes_to_place(&counts, 1, 2, none, 0.9, 8), None);
        // Not older than the suspect, or out of range: nothing to count.
        assert_eq!(passes_to_place(&counts, 1, 1, to_come, 0.9, 8), None);
        assert_eq!(passes_to_place(&counts, 1, 999, to_come, 0.9, 8), None);
    }
}
