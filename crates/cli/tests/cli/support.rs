//! Running the `soprovod` binary the way an operator does, shared by the command-line tests.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `soprovod ARGS` in `dir` (also its data directory), without DATABASE_URL, OPENAI_API_KEY or stdin.
pub fn soprovod(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_soprovod"))
        .args(args)
        .env("SOPROVOD_DATA_DIR", dir)
        .env_remove("DATABASE_URL")
        .env_remove("OPENAI_API_KEY")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("running soprovod")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `soprovod --database-url URL db ARGS` in `dir`: the schema engine's commands on one database.
pub fn db_cmd(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--database-url", url, "db"];
    all.extend_from_slice(args);
    soprovod(dir, &all)
}
