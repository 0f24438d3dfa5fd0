//! `file:SNAPSHOT.json`: a snapshot as written by `hud build --dump` (tests
//! and offline demos).

use std::path::Path;

use anyhow::Result;

use crate::hud::model::HudSnapshot;

pub fn read(path: &Path) -> Result<HudSnapshot> {
    HudSnapshot::load(path)
}
