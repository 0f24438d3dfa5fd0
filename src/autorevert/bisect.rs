//! Bisection of commits no CI tested. Pure.
//!
//! Between a commit that failed and the nearest older commit that passed may
//! lie commits no CI ran (a stacked push where only the head ran). The
//! culprit is the failing commit or one of them. A run of one of them that
//! fails makes it the oldest failing commit: every newer candidate is ruled
//! out. One that passes rules out itself and every older one. The commit
//! that splits the candidates most evenly settles the place in the fewest
//! rounds, with one restart per round instead of one per commit.

/// Where to run next among untested commits, and what either result rules
/// out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The commit to run.
    pub commit: usize,
    /// Candidates a failure of it rules out: the failing commit above the
    /// run and the untested commits newer than it.
    pub newer: usize,
    /// Candidates a pass of it rules out: itself and the untested commits
    /// older than it.
    pub older: usize,
}

/// The split of `untested` (commit indexes, newest first, all between a
/// failing commit and an older passing one); `None` when it is empty.
pub fn split(untested: &[usize]) -> Option<Split> {
    let middle = untested.len().checked_sub(1)? / 2;
    at(untested, middle)
}

/// The splits of `untested` in the order worth running them: the split
/// first, then the others by their distance from it (when the split cannot
/// run, the next nearest the middle splits best).
pub fn by_worth(untested: &[usize]) -> Vec<Split> {
    let Some(middle) = untested.len().checked_sub(1).map(|n| n / 2) else {
        return Vec::new();
    };
    let mut order: Vec<usize> = (0..untested.len()).collect();
    order.sort_by_key(|&i| (i.abs_diff(middle), i));
    order.into_iter().filter_map(|i| at(untested, i)).collect()
}

/// What a run of the `i`-th of `untested` (newest first) rules out.
fn at(untested: &[usize], i: usize) -> Option<Split> {
    Some(Split {
        commit: *untested.get(i)?,
        newer: i + 1,
        older: untested.len() - i,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_halves_the_candidates() {
        // Candidates are the failing commit and the untested ones: one
        // untested commit is the only run that tells the two apart.
        assert_eq!(
            split(&[7]),
            Some(Split {
                commit: 7,
                newer: 1,
                older: 1
            })
        );
        // Three untested under a failing head: four candidates, two on
        // each side of the middle one.
        let s = split(&[4, 5, 6]).expect("a split");
        assert_eq!((s.commit, s.newer, s.older), (5, 2, 2));
        // Every candidate is ruled out by one result or the other.
        for n in 1..10 {
            let run: Vec<usize> = (10..10 + n).collect();
            let s = split(&run).expect("a split");
            assert_eq!(s.newer + s.older, n + 1, "{n}");
            assert!(s.newer.abs_diff(s.older) <= 1, "{n}: {s:?}");
        }
        assert_eq!(split(&[]), None);
    }

    #[test]
    fn the_others_follow_by_distance_from_the_split() {
        let commits =
            |run: &[usize]| -> Vec<usize> { by_worth(run).iter().map(|s| s.commit).collect() };
        assert_eq!(commits(&[4, 5, 6, 7, 8]), vec![6, 5, 7, 4, 8]);
        assert_eq!(commits(&[4, 5]), vec![4, 5]);
        // Each keeps what its own result rules out.
        let fallback = by_worth(&[4, 5, 6])[1];
        assert_eq!((fallback.commit, fallback.newer, fallback.older), (4, 1, 3));
        assert!(by_worth(&[]).is_empty());
    }
}
