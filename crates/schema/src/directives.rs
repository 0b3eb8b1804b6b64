//! Where data comes from in a declared schema: `@table` / `@column` provenance comments and the
//! ordered data steps of `*.data.sql` files (the format of `/work/brief/DIRECTIVES.md`, summed up
//! in the crate README, "Renames and data steps").
//!
//! Parsing is line based and needs no SQL parser: a directive is a comment line `-- @word ...`;
//! names are identifiers (double quotes keep case), expressions are kept as written.

use std::fmt;

use serde::Serialize;

use crate::model::QName;
pub use crate::preflight::ResolveKind;

/// One file of a SQL target: its name (for messages and to tell `.data.sql` files apart) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Data-step files are never loaded into the scratch database.
    pub fn is_data(&self) -> bool {
        is_data_file(&self.name)
    }
}

/// Whether a file name is a data-step file (`NNN_name.data.sql`).
pub fn is_data_file(name: &str) -> bool {
    name.ends_with(".data.sql")
}

/// Where a directive was written: `file:line` (1-based).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// `@table SCHEMA.NEW from [SCHEMA.]OLD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOrigin {
    pub table: QName,
    pub from: QName,
    pub origin: Origin,
}

/// `@column SCHEMA.TABLE.NEW [from OLD] [using (EXPR)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnOrigin {
    /// The table under its target name.
    pub table: QName,
    pub column: String,
    pub from: Option<String>,
    /// The expression inside `using ( )`, as written.
    pub using: Option<String>,
    pub origin: Origin,
}

/// When a data step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataPhase {
    /// After creations, renames, moves and type changes; before new NOT NULL, CHECK, unique
    /// keys, unique indexes and foreign keys, and before anything is dropped.
    BeforeConstraints,
    /// After everything else, just before the verification.
    End,
}

impl DataPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforeConstraints => "before-constraints",
            Self::End => "end",
        }
    }
}

/// `@resolves KIND SCHEMA.TABLE (COLS)`: for `check`, `columns` holds the constraint name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolves {
    pub kind: ResolveKind,
    pub table: QName,
    pub columns: Vec<String>,
}

impl fmt::Display for Resolves {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({})",
            resolve_kind_name(self.kind),
            self.table,
            self.columns.join(", ")
        )
    }
}

/// The `@resolves` spelling of a kind.
pub fn resolve_kind_name(kind: ResolveKind) -> &'static str {
    match kind {
        ResolveKind::NotNull => "not-null",
        ResolveKind::Unique => "unique",
        ResolveKind::Check => "check",
        ResolveKind::ForeignKey => "foreign-key",
    }
}

/// One block of a `.data.sql` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataStep {
    pub name: String,
    /// A boolean query: the step is planned only when it returns true.
    pub when: Option<String>,
    /// A count query: the rows the step touches, shown in the plan.
    pub rows: Option<String>,
    pub phase: DataPhase,
    pub resolves: Vec<Resolves>,
    /// The statements, run as they are.
    pub sql: String,
    /// The `@step` line.
    pub origin: Origin,
}

/// Everything a target's files say about where data comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    pub tables: Vec<TableOrigin>,
    pub columns: Vec<ColumnOrigin>,
    /// In run order within each phase: file name order, then block order.
    pub steps: Vec<DataStep>,
}

/// A directive that cannot be read, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {problem}")]
pub struct DirectiveError {
    pub origin: Origin,
    pub problem: Problem,
}

/// What is wrong with a directive (each message ends with what to write instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("unknown directive @{0}; the directives are @column, @table, @step, @when, @rows, @phase, @resolves")]
    Unknown(String),
    #[error("bad @{directive}: {detail}; write {usage}")]
    Malformed {
        directive: &'static str,
        detail: String,
        usage: &'static str,
    },
    #[error("@{0} belongs in a .data.sql file, inside a block that starts with @step NAME")]
    OutsideDataFile(&'static str),
    #[error("@{0} must follow an @step NAME line")]
    OutsideStep(&'static str),
    #[error("SQL before the first @step; start the block with -- @step NAME")]
    SqlBeforeStep,
    #[error("@{0} is given twice in one step; keep one")]
    Repeated(&'static str),
    #[error("a step named {0} already exists; give each step its own name")]
    DuplicateStep(String),
    #[error("step {0} has no SQL; write its statements under the directives")]
    EmptyStep(String),
    #[error("the target declares no {0}; name a table and column the target schema has")]
    NotInTarget(String),
    #[error("{0} is given provenance twice; keep one directive for it")]
    DuplicateTarget(String),
}

const COLUMN_USAGE: &str = "-- @column SCHEMA.TABLE.COLUMN [from OLD] [using (EXPR)]";
const TABLE_USAGE: &str = "-- @table SCHEMA.TABLE from [SCHEMA.]OLD";
const STEP_USAGE: &str = "-- @step NAME (letters, digits, _ and -)";
const PHASE_USAGE: &str = "-- @phase before-constraints | end";
const RESOLVES_USAGE: &str =
    "-- @resolves not-null|unique|check|foreign-key SCHEMA.TABLE (COLUMNS or CHECK NAME)";

impl Directives {
    /// Reads the directives of `files` (any order: data steps are ordered by file name).
    pub fn parse(files: &[SourceFile]) -> Result<Directives, DirectiveError> {
        let mut sorted: Vec<&SourceFile> = files.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out = Directives::default();
        for f in sorted {
            parse_file(f, &mut out)?;
        }
        let mut seen = std::collections::BTreeMap::new();
        for t in &out.tables {
            if let Some(o) = seen.insert(t.table.to_string(), t.origin.clone()) {
                return Err(dup(t.origin.clone(), &o, &t.table.to_string()));
            }
        }
        let mut seen = std::collections::BTreeMap::new();
        for c in &out.columns {
            let key = format!("{}.{}", c.table, c.column);
            if let Some(o) = seen.insert(key.clone(), c.origin.clone()) {
                return Err(dup(c.origin.clone(), &o, &key));
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.columns.is_empty() && self.steps.is_empty()
    }
}

fn dup(origin: Origin, first: &Origin, what: &str) -> DirectiveError {
    DirectiveError {
        origin,
        problem: Problem::DuplicateTarget(format!("{what} (first at {first})")),
    }
}

/// The directive word and the rest of a `-- @word rest` line.
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim_start().strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix('@')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    if end == 0 {
        return None;
    }
    Some((&rest[..end], rest[end..].trim()))
}

fn parse_file(f: &SourceFile, out: &mut Directives) -> Result<(), DirectiveError> {
    let data = f.is_data();
    let mut current: Option<(DataStep, bool)> = None; // (step, phase given)
    let finish =
        |cur: Option<(DataStep, bool)>, out: &mut Directives| -> Result<(), DirectiveError> {
            if let Some((mut s, _)) = cur {
                s.sql = s.sql.trim().to_string();
                if !s.sql.lines().any(|l| {
                    let t = l.trim();
                    !t.is_empty() && !t.starts_with("--")
                }) {
                    return Err(DirectiveError {
                        origin: s.origin.clone(),
                        problem: Problem::EmptyStep(s.name.clone()),
                    });
                }
                if out.steps.iter().any(|o| o.name == s.name) {
                    return Err(DirectiveError {
                        origin: s.origin.clone(),
                        problem: Problem::DuplicateStep(s.name.clone()),
                    });
                }
                out.steps.push(s);
            }
            Ok(())
        };
    for (i, line) in f.text.lines().enumerate() {
        let origin = Origin {
            file: f.name.clone(),
            line: i + 1,
        };
        let err = |problem| DirectiveError {
            origin: origin.clone(),
            problem,
        };
        let Some((word, rest)) = directive(line) else {
            if data {
                match &mut current {
                    Some((s, _)) => {
                        s.sql.push_str(line);
                        s.sql.push('\n');
                    }
                    None => {
                        let t = line.trim();
                        if !t.is_empty() && !t.starts_with("--") {
                            return Err(err(Problem::SqlBeforeStep));
                        }
                    }
                }
            }
            continue;
        };
        match word {
            "column" => out
                .columns
                .push(parse_column(rest).map_err(err)?.at(origin.clone())),
            "table" => {
                let (table, from) = parse_table(rest).map_err(err)?;
                out.tables.push(TableOrigin {
                    table,
                    from,
                    origin: origin.clone(),
                });
            }
            "step" => {
                if !data {
                    return Err(err(Problem::OutsideDataFile("step")));
                }
                let name = rest.trim();
                let ok = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !ok {
                    return Err(err(Problem::Malformed {
                        directive: "step",
                        detail: format!("{name:?} is not a step name"),
                        usage: STEP_USAGE,
                    }));
                }
                finish(current.take(), out)?;
                current = Some((
                    DataStep {
                        name: name.to_string(),
                        when: None,
                        rows: None,
                        phase: DataPhase::BeforeConstraints,
                        resolves: Vec::new(),
                        sql: String::new(),
                        origin: origin.clone(),
                    },
                    false,
                ));
            }
            "when" | "rows" | "phase" | "resolves" => {
                let word: &'static str = match word {
                    "when" => "when",
                    "rows" => "rows",
                    "phase" => "phase",
                    _ => "resolves",
                };
                if !data {
                    return Err(err(Problem::OutsideDataFile(word)));
                }
                let Some((s, phase_given)) = &mut current else {
                    return Err(err(Problem::OutsideStep(word)));
                };
                match word {
                    "when" | "rows" => {
                        if rest.is_empty() {
                            return Err(err(Problem::Malformed {
                                directive: word,
                                detail: "the query is missing".into(),
                                usage: if word == "when" {
                                    "-- @when SELECT <boolean> (one line)"
                                } else {
                                    "-- @rows SELECT count(*) ... (one line)"
                                },
                            }));
                        }
                        let slot = if word == "when" {
                            &mut s.when
                        } else {
                            &mut s.rows
                        };
                        if slot.is_some() {
                            return Err(err(Problem::Repeated(word)));
                        }
                        *slot = Some(rest.trim_end_matches(';').trim().to_string());
                    }
                    "phase" => {
                        if *phase_given {
                            return Err(err(Problem::Repeated("phase")));
                        }
                        s.phase = match rest {
                            "before-constraints" => DataPhase::BeforeConstraints,
                            "end" => DataPhase::End,
                            other => {
                                return Err(err(Problem::Malformed {
                                    directive: "phase",
                                    detail: format!("unknown phase {other:?}"),
                                    usage: PHASE_USAGE,
                                }))
                            }
                        };
                        *phase_given = true;
                    }
                    _ => s.resolves.push(parse_resolves(rest).map_err(err)?),
                }
            }
            other => return Err(err(Problem::Unknown(other.to_string()))),
        }
    }
    finish(current.take(), out)
}

impl ColumnOrigin {
    fn at(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }
}

/// A tiny cursor over a directive's arguments.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn done(&mut self) -> bool {
        self.skip_ws();
        self.rest.is_empty()
    }

    /// An identifier: `"Quoted"` keeps case, a bare one is folded to lower case like PostgreSQL.
    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        if let Some(inner) = self.rest.strip_prefix('"') {
            let mut name = String::new();
            let mut chars = inner.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if chars.peek().map(|p| p.1) == Some('"') {
                        chars.next();
                        name.push('"');
                        continue;
                    }
                    self.rest = &inner[i + 1..];
                    return (!name.is_empty()).then_some(name);
                }
                name.push(c);
            }
            return None;
        }
        let end = self
            .rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(self.rest.len());
        if end == 0 || self.rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let name = self.rest[..end].to_lowercase();
        self.rest = &self.rest[end..];
        Some(name)
    }

    /// Dot-separated identifiers.
    fn dotted(&mut self) -> Option<Vec<String>> {
        let mut parts = vec![self.ident()?];
        while let Some(r) = self.rest.strip_prefix('.') {
            self.rest = r;
            parts.push(self.ident()?);
        }
        Some(parts)
    }

    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let n = kw.len();
        let matches = self.rest.len() >= n
            && self.rest[..n].eq_ignore_ascii_case(kw)
            && !self.rest[n..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        if matches {
            self.rest = &self.rest[n..];
        }
        matches
    }

    /// A parenthesised expression; returns what is inside the outer parentheses. Quotes
    /// (`'...'`, `"..."`) may hold parentheses.
    fn parenthesised(&mut self) -> Option<String> {
        self.skip_ws();
        if !self.rest.starts_with('(') {
            return None;
        }
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        for (i, c) in self.rest.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => depth += 1,
                (None, ')') => {
                    depth -= 1;
                    if depth == 0 {
                        let inner = self.rest[1..i].trim().to_string();
                        self.rest = &self.rest[i + 1..];
                        return (!inner.is_empty()).then_some(inner);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

fn malformed(directive: &'static str, usage: &'static str, detail: impl Into<String>) -> Problem {
    Problem::Malformed {
        directive,
        detail: detail.into(),
        usage,
    }
}

fn parse_column(rest: &str) -> Result<ColumnOrigin, Problem> {
    let bad = |d: &str| malformed("column", COLUMN_USAGE, d);
    let mut c = Cursor { rest };
    let parts = c
        .dotted()
        .ok_or_else(|| bad("the column name is missing or not an identifier"))?;
    let [schema, table, column] = <[String; 3]>::try_from(parts)
        .map_err(|_| bad("name the column as SCHEMA.TABLE.COLUMN"))?;
    let mut out = ColumnOrigin {
        table: QName::new(schema, table),
        column,
        from: None,
        using: None,
        origin: Origin {
            file: String::new(),
            line: 0,
        },
    };
    if c.keyword("from") {
        out.from = Some(
            c.ident()
                .ok_or_else(|| bad("`from` needs the old column's name"))?,
        );
    }
    if c.keyword("using") {
        out.using = Some(
            c.parenthesised()
                .ok_or_else(|| bad("`using` needs an expression in parentheses"))?,
        );
    }
    if !c.done() {
        return Err(bad(&format!("unexpected {:?}", c.rest)));
    }
    if out.from.is_none() && out.using.is_none() {
        return Err(bad(
            "say where the data comes from: `from OLD`, `using (EXPR)` or both",
        ));
    }
    if out.from.as_ref() == Some(&out.column) {
        return Err(bad("the column cannot come from itself"));
    }
    Ok(out)
}

fn parse_table(rest: &str) -> Result<(QName, QName), Problem> {
    let bad = |d: &str| malformed("table", TABLE_USAGE, d);
    let mut c = Cursor { rest };
    let parts = c
        .dotted()
        .ok_or_else(|| bad("the table name is missing or not an identifier"))?;
    let [schema, name] =
        <[String; 2]>::try_from(parts).map_err(|_| bad("name the table as SCHEMA.TABLE"))?;
    if !c.keyword("from") {
        return Err(bad("`from OLD` is missing"));
    }
    let old = c
        .dotted()
        .ok_or_else(|| bad("`from` needs the old table's name"))?;
    let old = match <[String; 2]>::try_from(old) {
        Ok([s, n]) => QName::new(s, n),
        Err(v) if v.len() == 1 => QName::new(schema.clone(), v[0].clone()),
        Err(_) => return Err(bad("the old table is [SCHEMA.]TABLE")),
    };
    if !c.done() {
        return Err(bad(&format!("unexpected {:?}", c.rest)));
    }
    let table = QName::new(schema, name);
    if old == table {
        return Err(bad("the table cannot come from itself"));
    }
    Ok((table, old))
}

fn parse_resolves(rest: &str) -> Result<Resolves, Problem> {
    let bad = |d: &str| malformed("resolves", RESOLVES_USAGE, d);
    let mut c = Cursor { rest };
    c.skip_ws();
    let kind_end = c.rest.find(char::is_whitespace).unwrap_or(c.rest.len());
    let kind_raw = &c.rest[..kind_end];
    let kind = ResolveKind::parse(&kind_raw.to_ascii_lowercase())
        .ok_or_else(|| bad(&format!("unknown kind {kind_raw:?}")))?;
    c.rest = &c.rest[kind_end..];
    let parts = c.dotted().ok_or_else(|| bad("the table is missing"))?;
    let [schema, table] =
        <[String; 2]>::try_from(parts).map_err(|_| bad("name the table as SCHEMA.TABLE"))?;
    let inner = c
        .parenthesised()
        .ok_or_else(|| bad("the columns in parentheses are missing"))?;
    if !c.done() {
        return Err(bad(&format!("unexpected {:?}", c.rest)));
    }
    let mut columns = Vec::new();
    for part in inner.split(',') {
        let mut pc = Cursor { rest: part };
        let col = pc
            .ident()
            .ok_or_else(|| bad(&format!("{:?} is not a column name", part.trim())))?;
        if !pc.done() {
            return Err(bad(&format!("{:?} is not a column name", part.trim())));
        }
        columns.push(col);
    }
    Ok(Resolves {
        kind,
        table: QName::new(schema, table),
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(files: &[(&str, &str)]) -> Result<Directives, DirectiveError> {
        let files: Vec<SourceFile> = files.iter().map(|(n, t)| SourceFile::new(*n, *t)).collect();
        Directives::parse(&files)
    }

    fn problem(files: &[(&str, &str)]) -> (String, Problem) {
        let e = parse(files).expect_err("the directives should be rejected");
        (e.origin.to_string(), e.problem)
    }

    #[test]
    fn column_directives_read_from_using_and_quoted_names() {
        let d = parse(&[(
            "010_users.sql",
            "CREATE TABLE x ();\n\
             -- @column public.users.last_activity_at from last_activity\n\
             --@column public.payments.amount_minor FROM amount USING (round(amount * 100)::bigint)\n\
             -- @column public.\"Odd\".\"New Col\" using (\"New Col\"::numeric(10, 2))\n",
        )])
        .unwrap();
        assert_eq!(d.columns.len(), 3);
        let c = &d.columns[0];
        assert_eq!(c.table, QName::new("public", "users"));
        assert_eq!(c.column, "last_activity_at");
        assert_eq!(c.from.as_deref(), Some("last_activity"));
        assert_eq!(c.using, None);
        assert_eq!(c.origin.to_string(), "010_users.sql:2");
        let m = &d.columns[1];
        assert_eq!(m.from.as_deref(), Some("amount"));
        assert_eq!(m.using.as_deref(), Some("round(amount * 100)::bigint"));
        let q = &d.columns[2];
        assert_eq!(q.table, QName::new("public", "Odd"));
        assert_eq!(q.column, "New Col");
        assert_eq!(q.using.as_deref(), Some("\"New Col\"::numeric(10, 2)"));
    }

    #[test]
    fn a_parenthesis_inside_a_string_does_not_end_the_expression() {
        let d = parse(&[(
            "a.sql",
            "-- @column s.t.c from d using (d AT TIME ZONE 'UTC)(')\n",
        )])
        .unwrap();
        assert_eq!(
            d.columns[0].using.as_deref(),
            Some("d AT TIME ZONE 'UTC)('")
        );
    }

    #[test]
    fn table_directives_take_the_new_tables_schema_when_the_old_has_none() {
        let d = parse(&[(
            "a.sql",
            "-- @table public.channels from channels_old\n-- @table app.t from legacy.t\n",
        )])
        .unwrap();
        assert_eq!(d.tables[0].table, QName::new("public", "channels"));
        assert_eq!(d.tables[0].from, QName::new("public", "channels_old"));
        assert_eq!(d.tables[1].from, QName::new("legacy", "t"));
    }

    #[test]
    fn data_step_blocks_carry_their_directives_and_sql_in_file_order() {
        let d = parse(&[
            (
                "090_b.data.sql",
                "-- @step second\n-- @phase end\nUPDATE t SET a = 1;\n",
            ),
            (
                "080_a.data.sql",
                "-- leading comment\n\
                 -- @step dedupe\n\
                 -- @when SELECT EXISTS (SELECT 1 FROM t GROUP BY k HAVING count(*) > 1);\n\
                 -- @rows SELECT count(*) FROM t\n\
                 -- @resolves unique public.t (k, \"J\")\n\
                 -- @resolves check public.t (t_k_check)\n\
                 DELETE FROM t a USING t b\n\
                  WHERE a.k = b.k AND a.id > b.id;\n\
                 \n\
                 -- @step fill\n\
                 UPDATE t SET k = 0 WHERE k IS NULL;\n",
            ),
        ])
        .unwrap();
        let names: Vec<&str> = d.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["dedupe", "fill", "second"]);
        let s = &d.steps[0];
        assert_eq!(
            s.when.as_deref(),
            Some("SELECT EXISTS (SELECT 1 FROM t GROUP BY k HAVING count(*) > 1)")
        );
        assert_eq!(s.rows.as_deref(), Some("SELECT count(*) FROM t"));
        assert_eq!(s.phase, DataPhase::BeforeConstraints);
        assert_eq!(
            s.resolves,
            vec![
                Resolves {
                    kind: ResolveKind::Unique,
                    table: QName::new("public", "t"),
                    columns: vec!["k".into(), "J".into()],
                },
                Resolves {
                    kind: ResolveKind::Check,
                    table: QName::new("public", "t"),
                    columns: vec!["t_k_check".into()],
                },
            ]
        );
        assert_eq!(
            s.sql,
            "DELETE FROM t a USING t b\nWHERE a.k = b.k AND a.id > b.id;"
        );
        assert_eq!(s.origin.to_string(), "080_a.data.sql:2");
        assert_eq!(d.steps[1].when, None);
        assert_eq!(d.steps[2].phase, DataPhase::End);
    }

    #[test]
    fn ordinary_sql_files_ignore_sql_and_plain_comments() {
        let d = parse(&[(
            "a.sql",
            "-- users of the bot\nCREATE TABLE t (a int); -- @ not a directive\n",
        )])
        .unwrap();
        assert!(d.is_empty());
    }

    #[test]
    fn bad_directives_name_their_file_and_line() {
        let (at, p) = problem(&[("a.sql", "\n\n-- @colum public.t.c from d\n")]);
        assert_eq!(at, "a.sql:3");
        assert_eq!(p, Problem::Unknown("colum".into()));

        let (at, p) = problem(&[("a.sql", "-- @column public.t from d\n")]);
        assert_eq!(at, "a.sql:1");
        assert!(matches!(
            p,
            Problem::Malformed {
                directive: "column",
                ..
            }
        ));

        let (_, p) = problem(&[("a.sql", "-- @column public.t.c\n")]);
        assert!(matches!(
            p,
            Problem::Malformed {
                directive: "column",
                ..
            }
        ));

        let (_, p) = problem(&[("a.sql", "-- @column public.t.c from d using round(d)\n")]);
        assert!(matches!(
            p,
            Problem::Malformed {
                directive: "column",
                ..
            }
        ));

        let (at, p) = problem(&[("a.sql", "x;\n-- @step s\nSELECT 1;\n")]);
        assert_eq!(at, "a.sql:2");
        assert_eq!(p, Problem::OutsideDataFile("step"));

        let (at, p) = problem(&[("b.data.sql", "-- @when SELECT true\n")]);
        assert_eq!(at, "b.data.sql:1");
        assert_eq!(p, Problem::OutsideStep("when"));

        let (at, p) = problem(&[("b.data.sql", "\nDELETE FROM t;\n")]);
        assert_eq!(at, "b.data.sql:2");
        assert_eq!(p, Problem::SqlBeforeStep);

        let (at, p) = problem(&[("b.data.sql", "-- @step a\n-- @phase later\nSELECT 1;\n")]);
        assert_eq!(at, "b.data.sql:2");
        assert!(matches!(
            p,
            Problem::Malformed {
                directive: "phase",
                ..
            }
        ));

        let (at, p) = problem(&[(
            "b.data.sql",
            "-- @step a\n-- @when SELECT true\n-- @when SELECT false\nSELECT 1;\n",
        )]);
        assert_eq!(at, "b.data.sql:3");
        assert_eq!(p, Problem::Repeated("when"));

        let (at, p) = problem(&[(
            "b.data.sql",
            "-- @step a\n-- @resolves unique-ish public.t (a)\nSELECT 1;\n",
        )]);
        assert_eq!(at, "b.data.sql:2");
        assert!(matches!(
            p,
            Problem::Malformed {
                directive: "resolves",
                ..
            }
        ));

        let (at, p) = problem(&[(
            "b.data.sql",
            "-- @step a\n-- only a comment\n-- @step b\nSELECT 1;\n",
        )]);
        assert_eq!(at, "b.data.sql:1");
        assert_eq!(p, Problem::EmptyStep("a".into()));

        let (at, p) = problem(&[(
            "b.data.sql",
            "-- @step a\nSELECT 1;\n-- @step a\nSELECT 2;\n",
        )]);
        assert_eq!(at, "b.data.sql:3");
        assert_eq!(p, Problem::DuplicateStep("a".into()));

        let (at, p) = problem(&[(
            "a.sql",
            "-- @column public.t.c from d\n-- @column public.t.c from e\n",
        )]);
        assert_eq!(at, "a.sql:2");
        assert!(matches!(p, Problem::DuplicateTarget(_)));
    }

    #[test]
    fn the_error_message_reads_file_line_then_what_to_write() {
        let e = parse(&[("030_billing.sql", "-- @table public.t\n")]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("030_billing.sql:1: bad @table: "),
            "{text}"
        );
        assert!(
            text.contains("write -- @table SCHEMA.TABLE from [SCHEMA.]OLD"),
            "{text}"
        );
    }
}
