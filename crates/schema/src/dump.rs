//! `db dump`: a live database's schema written as declared `.sql` files, so a team can start the
//! declarative workflow from the database it has.
//!
//! pg_dump writes the schema (it knows every object kind and sorts by dependency); the dump is cut
//! at its table-of-contents headers into files of consecutive objects of one kind, numbered in
//! pg_dump's order (`001_schema.sql`, `002_function.sql`, `003_table.sql`, …), so loading the files
//! in file-name order — what `--target DIR` does — loads the schema. Owners are left out (a target
//! loaded from SQL belongs to whoever loads it, and owners are not compared for SQL targets);
//! grants and comments stay. Subscriptions are left out: loading one would connect to its publisher.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::SchemaError;

/// What a dump wrote.
#[derive(Debug, Clone)]
pub struct DumpReport {
    /// The files, in load order.
    pub files: Vec<PathBuf>,
    /// Objects written (pg_dump's table-of-contents entries).
    pub objects: usize,
}

/// Dumps the schema of `url` into `out` (created if missing; it must hold no `.sql` files).
pub fn dump(url: &str, out: &Path) -> Result<DumpReport, SchemaError> {
    let io = |e: std::io::Error| SchemaError::Dump(format!("{}: {e}", out.display()));
    if out.exists() {
        let has_sql = std::fs::read_dir(out)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .any(|e| e.path().extension().is_some_and(|x| x == "sql"));
        if has_sql {
            return Err(SchemaError::Dump(format!(
                "{} already holds .sql files; dump into a new or empty directory",
                out.display()
            )));
        }
    }
    let (mut cmd, bare) = crate::backup::tool("pg_dump", url)?;
    let output = cmd
        .arg("--schema-only")
        .arg("--no-owner")
        .arg("--no-subscriptions")
        .arg(format!("--dbname={bare}"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SchemaError::Dump(format!("running pg_dump: {e}")))?;
    if !output.status.success() {
        return Err(SchemaError::Dump(format!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8(output.stdout)
        .map_err(|e| SchemaError::Dump(format!("pg_dump wrote non-UTF-8 text: {e}")))?;
    let (prelude, groups) = split(&text);
    std::fs::create_dir_all(out).map_err(io)?;
    let mut files = Vec::new();
    let mut objects = 0;
    for (i, (kind, entries)) in groups.iter().enumerate() {
        let path = out.join(format!("{:03}_{}.sql", i + 1, slug(kind)));
        let mut body = prelude.clone();
        for e in entries {
            body.push_str(e);
        }
        objects += entries.len();
        std::fs::write(&path, body).map_err(io)?;
        files.push(path);
    }
    Ok(DumpReport { files, objects })
}

/// The kind of a pg_dump table-of-contents header: `-- Name: t; Type: TABLE; Schema: public; …`.
fn header_kind(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("-- Name: ")?;
    let after = &rest[rest.find("; Type: ")? + "; Type: ".len()..];
    Some(&after[..after.find("; Schema:")?])
}

/// The session settings before the first object (repeated at the top of every file, so each
/// loads on its own too), and the objects grouped into runs of one kind, in pg_dump's order.
/// psql meta-commands (`\restrict`, `\connect`) are dropped: the files are plain SQL.
fn split(text: &str) -> (String, Vec<(String, Vec<String>)>) {
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('\\')).collect();
    // Each object starts at its header, or at the `--` line just above it.
    let starts: Vec<(usize, &str)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| header_kind(l).map(|k| (i, k)))
        .map(|(i, k)| {
            (
                if i > 0 && lines[i - 1] == "--" {
                    i - 1
                } else {
                    i
                },
                k,
            )
        })
        .collect();
    let chunk = |from: usize, to: usize| -> String {
        lines[from..to].iter().map(|l| format!("{l}\n")).collect()
    };
    let prelude = chunk(0, starts.first().map_or(lines.len(), |s| s.0));
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (n, (start, kind)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(lines.len(), |s| s.0);
        let entry = chunk(*start, end);
        match groups.last_mut() {
            Some((k, entries)) if k == kind => entries.push(entry),
            _ => groups.push((kind.to_string(), vec![entry])),
        }
    }
    (prelude, groups)
}

/// `FK CONSTRAINT` → `fk_constraint`.
fn slug(kind: &str) -> String {
    kind.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_splits_into_runs_of_one_kind_with_the_settings_on_top() {
        let text = "--\n-- PostgreSQL database dump\n--\n\\restrict abc\nSET x = 1;\n\n\
            --\n-- Name: a; Type: TABLE; Schema: public; Owner: -\n--\n\nCREATE TABLE a ();\n\n\
            --\n-- Name: b; Type: TABLE; Schema: public; Owner: -\n--\n\nCREATE TABLE b ();\n\n\
            --\n-- Name: v; Type: VIEW; Schema: public; Owner: -\n--\n\nCREATE VIEW v AS SELECT 1;\n\n\
            --\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n";
        let (prelude, groups) = split(text);
        assert!(prelude.contains("SET x = 1;"));
        assert!(!prelude.contains("restrict"));
        let kinds: Vec<(&str, usize)> = groups.iter().map(|(k, e)| (k.as_str(), e.len())).collect();
        assert_eq!(kinds, vec![("TABLE", 2), ("VIEW", 1)]);
        assert!(groups[0].1[1].starts_with("--\n-- Name: b; Type: TABLE"));
        assert!(groups[0].1[1].contains("CREATE TABLE b ();"));
        assert!(!groups[0].1[0].contains("CREATE TABLE b"));
        assert!(groups[1].1[0].contains("CREATE VIEW v AS SELECT 1;"));
        assert!(!groups
            .iter()
            .flat_map(|g| &g.1)
            .any(|e| e.contains("restrict")));
        assert_eq!(slug("FK CONSTRAINT"), "fk_constraint");
    }
}
