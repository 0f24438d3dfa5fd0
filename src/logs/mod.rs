//! GitHub Actions log model: lines, steps, zip archives.
//!
//! Logs are read as a stream of lines with bounded memory ([`LineReader`]),
//! cleaned (timestamps, ANSI, CR redraws; [`clean`]) and split into steps
//! ([`Scanner`]). Run archives are listed with [`zip::list_jobs`].

pub mod blocks;
pub mod clean;
pub mod reader;
pub mod scan;
pub mod summary;
pub mod zip;

pub use clean::Marker;
pub use reader::{LineReader, MAX_LINE_BYTES, RawLine};
pub use scan::{
    CleanedAhead, Format, LineRole, ScannedLine, Scanner, Segment, SegmentKind, StepStart,
};
