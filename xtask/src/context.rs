//! What every command gets: the workspace root and the typed configuration.

use std::path::{Path, PathBuf};

use crate::config::Config;

pub struct Context {
    pub root: PathBuf,
    pub config: Config,
}

impl Context {
    pub fn from_env(root: PathBuf) -> anyhow::Result<Context> {
        let vars = std::env::vars().collect();
        let config = Config::from_vars(&vars, &root)?;
        Ok(Context { root, config })
    }
}

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
