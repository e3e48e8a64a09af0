//! Which labs use a base: one file per lab folder beside the base (`labs/<hash>.json`), so
//! `lab destroy` of one lab never removes a base another uses, and `lab base prune` removes
//! those no lab uses. A lab still uses a base while its state folder exists and its records
//! name the base.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::folder;
use crate::error::{Error, Result};
use crate::provider::virtualbox::records::Records;
use crate::spec::Lab;
use crate::state::StateDir;

/// A lab that uses a base: `labs/<hash>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub lab: String,
    /// The lab's state folder (its mark).
    pub state: String,
}

fn user_file(name: &str, sd: &StateDir) -> PathBuf {
    folder(name).join("labs").join(format!("{}.json", crate::hash::fnv_hex(&sd.mark())))
}

/// Notes that the lab in `sd` uses the base.
pub fn add_user(name: &str, lab: &Lab, sd: &StateDir) -> Result<()> {
    let path = user_file(name, sd);
    crate::fsx::private_dir(path.parent().unwrap_or(Path::new(".")))?;
    let text = serde_json::to_string_pretty(&User { lab: lab.name.clone(), state: sd.mark() }).map_err(|e| Error::Internal(e.to_string()))?;
    crate::fsx::write_atomic(&path, text.as_bytes(), crate::fsx::Access::Private)
}

/// Whether the lab in `sd` is listed among the base's users.
pub fn listed(name: &str, sd: &StateDir) -> bool {
    user_file(name, sd).is_file()
}

pub fn remove_user(name: &str, sd: &StateDir) {
    let _ = std::fs::remove_file(user_file(name, sd));
}

/// The labs that use a base now: those whose state folder still exists and still names it.
pub fn users(name: &str) -> Vec<User> {
    let Ok(entries) = std::fs::read_dir(folder(name).join("labs")) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<User>(&t).ok())
        .filter(|u| {
            let state = Path::new(u.state.trim_start_matches("lab:")).join("state.json");
            let state = std::fs::read_to_string(state).ok().and_then(|t| serde_json::from_str::<crate::state::State>(&t).ok());
            state.is_some_and(|s| Records::of(Some(&s)).base.as_deref() == Some(name))
        })
        .collect()
}
