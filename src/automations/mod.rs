//! Pull-request and issue automations: the pure rules behind the handlers
//! in `src/handlers/` (auto-label, required labels, auto-cc, ciflow, stale
//! approvals). No I/O here: each function takes what was gathered and says
//! what to write.

pub mod cancel;
pub mod cc;
pub mod ciflow;
pub mod disabled;
pub mod labels;
pub mod required;
pub mod stale;
