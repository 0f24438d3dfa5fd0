//! The states GitHub gives runs, jobs, steps and checks: [`Status`] (where it
//! is in its life) and [`Conclusion`] (how it ended).
//!
//! Both read GitHub's lower-case strings and write the same strings back, so
//! rows, JSON and text made from them are unchanged. A value GitHub adds later
//! is kept as `Other` with its text: it is never a deserialisation error, and
//! no predicate counts it as a failure or a pass.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a completed run, job, step or check ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    TimedOut,
    Skipped,
    Neutral,
    ActionRequired,
    Stale,
    StartupFailure,
    /// A value this version does not know, as GitHub wrote it.
    Other(String),
}

impl Conclusion {
    /// Every conclusion GitHub documents, in the order above.
    pub const KNOWN: [Conclusion; 9] = [
        Conclusion::Success,
        Conclusion::Failure,
        Conclusion::Cancelled,
        Conclusion::TimedOut,
        Conclusion::Skipped,
        Conclusion::Neutral,
        Conclusion::ActionRequired,
        Conclusion::Stale,
        Conclusion::StartupFailure,
    ];

    /// The conclusion GitHub's string `s` names (exact, lower case).
    pub fn parse(s: &str) -> Conclusion {
        match s {
            "success" => Conclusion::Success,
            "failure" => Conclusion::Failure,
            "cancelled" => Conclusion::Cancelled,
            "timed_out" => Conclusion::TimedOut,
            "skipped" => Conclusion::Skipped,
            "neutral" => Conclusion::Neutral,
            "action_required" => Conclusion::ActionRequired,
            "stale" => Conclusion::Stale,
            "startup_failure" => Conclusion::StartupFailure,
            other => Conclusion::Other(other.to_string()),
        }
    }

    /// GitHub's string for it.
    pub fn as_str(&self) -> &str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::TimedOut => "timed_out",
            Conclusion::Skipped => "skipped",
            Conclusion::Neutral => "neutral",
            Conclusion::ActionRequired => "action_required",
            Conclusion::Stale => "stale",
            Conclusion::StartupFailure => "startup_failure",
            Conclusion::Other(s) => s,
        }
    }

    /// A failure of the work itself: `failure` or `timed_out` (what a failed
    /// run's analysis and a failed step mean).
    pub fn is_failure(&self) -> bool {
        matches!(self, Conclusion::Failure | Conclusion::TimedOut)
    }

    /// [`is_failure`](Self::is_failure), or a job that could not start
    /// (`startup_failure`): a job worth explaining.
    pub fn is_failure_or_startup(&self) -> bool {
        self.is_failure() || *self == Conclusion::StartupFailure
    }

    /// Nothing to hold up a merge: `success`, `skipped` or `neutral`.
    pub fn is_passing(&self) -> bool {
        matches!(
            self,
            Conclusion::Success | Conclusion::Skipped | Conclusion::Neutral
        )
    }
}

/// Where a run, job, step or check is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Queued,
    InProgress,
    Completed,
    Waiting,
    Requested,
    Pending,
    /// A value this version does not know, as GitHub wrote it.
    Other(String),
}

impl Status {
    /// Every status GitHub documents, in the order above.
    pub const KNOWN: [Status; 6] = [
        Status::Queued,
        Status::InProgress,
        Status::Completed,
        Status::Waiting,
        Status::Requested,
        Status::Pending,
    ];

    /// The status GitHub's string `s` names (exact, lower case).
    pub fn parse(s: &str) -> Status {
        match s {
            "queued" => Status::Queued,
            "in_progress" => Status::InProgress,
            "completed" => Status::Completed,
            "waiting" => Status::Waiting,
            "requested" => Status::Requested,
            "pending" => Status::Pending,
            other => Status::Other(other.to_string()),
        }
    }

    /// GitHub's string for it.
    pub fn as_str(&self) -> &str {
        match self {
            Status::Queued => "queued",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Waiting => "waiting",
            Status::Requested => "requested",
            Status::Pending => "pending",
            Status::Other(s) => s,
        }
    }

    pub fn is_completed(&self) -> bool {
        *self == Status::Completed
    }
}

macro_rules! string_enum {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $ty {
            fn from(s: &str) -> $ty {
                $ty::parse(s)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<$ty, Self::Err> {
                Ok($ty::parse(s))
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let s = Cow::<'de, str>::deserialize(d)?;
                Ok($ty::parse(&s))
            }
        }
    };
}

string_enum!(Conclusion);
string_enum!(Status);

/// The string of an optional conclusion, empty for none (how rows and plain
/// text spell "no conclusion yet").
pub fn conclusion_str(c: Option<&Conclusion>) -> &str {
    c.map_or("", Conclusion::as_str)
}

/// The string of an optional status, empty for none.
pub fn status_str(s: Option<&Status>) -> &str {
    s.map_or("", Status::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONCLUSIONS: [&str; 9] = [
        "success",
        "failure",
        "cancelled",
        "timed_out",
        "skipped",
        "neutral",
        "action_required",
        "stale",
        "startup_failure",
    ];
    const STATUSES: [&str; 6] = [
        "queued",
        "in_progress",
        "completed",
        "waiting",
        "requested",
        "pending",
    ];

    #[test]
    fn every_github_conclusion_round_trips() {
        for (s, known) in CONCLUSIONS.iter().zip(Conclusion::KNOWN.iter()) {
            let c: Conclusion = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(&c, known, "{s}");
            assert!(!matches!(c, Conclusion::Other(_)), "{s}");
            assert_eq!(c.as_str(), *s);
            assert_eq!(c.to_string(), *s);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{s}\""));
        }
    }

    #[test]
    fn every_github_status_round_trips() {
        for (s, known) in STATUSES.iter().zip(Status::KNOWN.iter()) {
            let v: Status = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(&v, known, "{s}");
            assert!(!matches!(v, Status::Other(_)), "{s}");
            assert_eq!(v.as_str(), *s);
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{s}\""));
        }
    }

    #[test]
    fn unknown_values_are_kept_not_refused() {
        let c: Conclusion = serde_json::from_str(r#""superseded""#).unwrap();
        assert_eq!(c, Conclusion::Other("superseded".into()));
        assert_eq!(serde_json::to_string(&c).unwrap(), r#""superseded""#);
        assert!(!c.is_failure() && !c.is_failure_or_startup() && !c.is_passing());

        let s: Status = serde_json::from_str(r#""expected""#).unwrap();
        assert_eq!(s, Status::Other("expected".into()));
        assert_eq!(s.as_str(), "expected");
        assert!(!s.is_completed());

        // Case matters: GitHub's REST and webhook values are lower case.
        assert_eq!(
            Conclusion::parse("FAILURE"),
            Conclusion::Other("FAILURE".into())
        );
    }

    #[test]
    fn escaped_json_strings_are_read_too() {
        let c: Conclusion = serde_json::from_str(r#""timed\u005fout""#).unwrap();
        assert_eq!(c, Conclusion::TimedOut);
    }

    #[test]
    fn non_strings_are_errors_that_say_so() {
        let err = serde_json::from_str::<Conclusion>("7").unwrap_err();
        assert!(err.to_string().contains("expected a string"), "{err}");
        let null: Option<Conclusion> = serde_json::from_str("null").unwrap();
        assert_eq!(null, None);
    }

    #[test]
    fn predicates_match_what_the_handlers_mean() {
        let failing: Vec<&str> = Conclusion::KNOWN
            .iter()
            .filter(|c| c.is_failure())
            .map(Conclusion::as_str)
            .collect();
        assert_eq!(failing, ["failure", "timed_out"]);
        let explained: Vec<&str> = Conclusion::KNOWN
            .iter()
            .filter(|c| c.is_failure_or_startup())
            .map(Conclusion::as_str)
            .collect();
        assert_eq!(explained, ["failure", "timed_out", "startup_failure"]);
        let passing: Vec<&str> = Conclusion::KNOWN
            .iter()
            .filter(|c| c.is_passing())
            .map(Conclusion::as_str)
            .collect();
        assert_eq!(passing, ["success", "skipped", "neutral"]);
        assert_eq!(conclusion_str(None), "");
        assert_eq!(status_str(Some(&Status::InProgress)), "in_progress");
    }
}
