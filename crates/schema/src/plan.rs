//! Planning: the ordered statements that turn FROM into TO, each with its typed hazards.
//!
//! Statements are collected into phases whose order is what makes a plan run: new schemas, types
//! and functions before the tables that use them; dependent views dropped (reverse dependency
//! order) before the columns they read change, and recreated from TO's definitions (dependency
//! order) after; foreign keys dropped before and added after the other constraints; objects
//! dropped last. Which views a change touches comes from pg_depend, transitively.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::casts::{cast_effect, CastEffect};
use crate::diff::CompareOptions;
use crate::model::*;
use crate::order::topo_order;
use crate::preflight::{check_expression, unique_index_parts, DataCheck};

/// The hazard kinds of the command-line contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HazardKind {
    /// A dropped table or column, a removed enum value.
    DataLoss,
    /// A type change that can lose or reject values.
    LossyCast,
    /// The change rewrites a table under an exclusive lock.
    TableRewrite,
    /// A materialized view is recreated and refilled.
    MatviewRepopulate,
    /// A row-security policy removed, row security disabled, a grant revoked.
    Security,
}

impl HazardKind {
    pub const ALL: [HazardKind; 5] = [
        HazardKind::DataLoss,
        HazardKind::LossyCast,
        HazardKind::TableRewrite,
        HazardKind::MatviewRepopulate,
        HazardKind::Security,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataLoss => "data-loss",
            Self::LossyCast => "lossy-cast",
            Self::TableRewrite => "table-rewrite",
            Self::MatviewRepopulate => "matview-repopulate",
            Self::Security => "security",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw.trim())
    }
}

impl std::fmt::Display for HazardKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hazard {
    pub kind: HazardKind,
    pub reason: String,
}

/// One statement of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `table public.users`, `view public.user_stats`, ...
    pub object: String,
    /// What the statement does, for people.
    pub action: String,
    pub sql: String,
    pub hazards: Vec<Hazard>,
    /// An existing table whose rows or shape this step changes (backed up before applying).
    pub touches: Option<QName>,
    /// What the live rows must satisfy for this statement to run (checked by `preflight`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<DataCheck>,
}

/// The ordered statements plus what the plan leaves alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Blockers: differences in objects of kinds the engine does not model. The plan cannot make
    /// them, so a plan with any is refused (`apply` changes nothing).
    pub unmodelled: Vec<String>,
    /// How the plan handles what needs explaining (statements that cannot run in a transaction
    /// block, indexes built under lock, foreign keys Postgres rebuilds).
    pub notes: Vec<String>,
    /// The target's data steps, those that run (each also in `steps`) and those whose `@when`
    /// was false; re-checked in the apply transaction.
    pub data_steps: Vec<crate::provenance::PlannedDataStep>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Whether the plan cannot bring the database to the target (differences it does not model).
    pub fn is_blocked(&self) -> bool {
        !self.unmodelled.is_empty()
    }

    /// Every hazard with the object it is on.
    pub fn hazards(&self) -> Vec<(&Step, &Hazard)> {
        self.steps
            .iter()
            .flat_map(|s| s.hazards.iter().map(move |h| (s, h)))
            .collect()
    }

    pub fn hazard_kinds(&self) -> BTreeSet<HazardKind> {
        self.hazards().into_iter().map(|(_, h)| h.kind).collect()
    }

    /// Existing tables the plan changes, for the backup.
    pub fn touched_tables(&self) -> BTreeSet<QName> {
        self.steps
            .iter()
            .filter_map(|s| s.touches.clone())
            .collect()
    }
}

/// Phases in run order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    CreateSchemas,
    Extensions,
    Collations,
    Types,
    DropTriggers,
    DropViews,
    DropFunctionsEarly,
    DropForeignKeys,
    DropConstraints,
    Functions,
    CreateSequences,
    DetachPartitions,
    CreateTables,
    /// `@column … from OLD using (EXPR)`: the new column is added and filled.
    MoveColumns,
    AlterColumns,
    AlterSequences,
    /// Data steps of phase `before-constraints`.
    DataBeforeConstraints,
    SetNotNull,
    AddConstraints,
    AddForeignKeys,
    Indexes,
    TableOptions,
    /// Columns are dropped late, so data steps can still read them.
    DropColumns,
    DropTables,
    CreateViews,
    LateFunctions,
    CreateTriggers,
    Extras,
    DropLate,
    DropExtensions,
    DropSchemas,
    /// Data steps of phase `end`.
    DataEnd,
    Analyze,
}

/// What the declared schema's directives add to a plan (see `provenance`); empty for a plain plan.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hooks {
    /// `ALTER COLUMN … TYPE … USING (EXPR)` instead of the default cast, by (table, column).
    pub retype_using: BTreeMap<(QName, String), String>,
    /// Columns whose data moved to another column: dropping them loses nothing.
    pub moved_away: BTreeSet<(QName, String)>,
    /// Steps that add and fill moved columns.
    pub moves: Vec<Step>,
    pub data_before_constraints: Vec<Step>,
    pub data_end: Vec<Step>,
}

struct Planner<'a> {
    hooks: &'a Hooks,
    from: &'a Model,
    to: &'a Model,
    opts: CompareOptions,
    steps: BTreeMap<Phase, Vec<Step>>,
    notes: Vec<String>,
    /// (table, column) pairs whose type, collation or existence changes.
    changed_columns: BTreeSet<(QName, String)>,
    /// Relations that disappear or are dropped and created again.
    replaced_relations: BTreeSet<QName>,
    /// Enums dropped or recreated (rename + create), so what uses them is rebuilt.
    replaced_enums: BTreeSet<QName>,
    /// Functions dropped (and maybe created again), so what uses them is rebuilt.
    replaced_functions: BTreeSet<FnName>,
    /// Tables created again from scratch (partitioning changed).
    recreated_tables: BTreeSet<QName>,
    /// Tables whose rows are rewritten (followed by ANALYZE).
    rewritten: BTreeSet<QName>,
    /// Serial sequences dropped before their column becomes an identity (whose own sequence may
    /// then take the same name, so the late drop must leave it alone).
    serials_to_identity: BTreeSet<QName>,
    /// Changes a `kinds::*` generator cannot make (a domain's base type, ...).
    kind_blockers: Vec<String>,
}

/// Plans the change from `from` to `to`.
pub fn plan(from: &Model, to: &Model, opts: CompareOptions) -> Plan {
    plan_hooked(from, to, opts, &Hooks::default())
}

pub(crate) fn plan_hooked(from: &Model, to: &Model, opts: CompareOptions, hooks: &Hooks) -> Plan {
    let mut p = Planner {
        hooks,
        from,
        to,
        opts,
        steps: BTreeMap::new(),
        notes: Vec::new(),
        changed_columns: BTreeSet::new(),
        replaced_relations: BTreeSet::new(),
        replaced_enums: BTreeSet::new(),
        replaced_functions: BTreeSet::new(),
        recreated_tables: BTreeSet::new(),
        rewritten: BTreeSet::new(),
        serials_to_identity: BTreeSet::new(),
        kind_blockers: Vec::new(),
    };
    p.run();
    let mut unmodelled = crate::unmodelled::blockers(&from.unmodelled, &to.unmodelled, opts);
    unmodelled.append(&mut p.kind_blockers);
    Plan {
        steps: p.steps.into_values().flatten().collect(),
        unmodelled,
        notes: p.notes,
        data_steps: Vec::new(),
    }
}

pub(crate) fn step(
    object: impl Into<String>,
    action: impl Into<String>,
    sql: impl Into<String>,
) -> Step {
    Step {
        object: object.into(),
        action: action.into(),
        sql: sql.into(),
        hazards: Vec::new(),
        touches: None,
        checks: Vec::new(),
    }
}

impl Step {
    /// A statement without hazards or checks.
    pub fn new(
        object: impl Into<String>,
        action: impl Into<String>,
        sql: impl Into<String>,
    ) -> Self {
        step(object, action, sql)
    }

    pub fn with_hazard(self, kind: HazardKind, reason: impl Into<String>) -> Self {
        self.hazard(kind, reason)
    }

    fn hazard(mut self, kind: HazardKind, reason: impl Into<String>) -> Self {
        self.hazards.push(Hazard {
            kind,
            reason: reason.into(),
        });
        self
    }

    fn touching(mut self, table: &QName) -> Self {
        self.touches = Some(table.clone());
        self
    }

    fn checking(mut self, check: DataCheck) -> Self {
        self.checks.push(check);
        self
    }
}

pub(crate) fn grantee(g: &str) -> String {
    if g == "PUBLIC" {
        g.to_string()
    } else {
        ident(g)
    }
}

/// Grants a freshly created object of this kind has besides its owner's.
pub(crate) fn default_grants(kind: &str) -> BTreeSet<Grant> {
    let public = |p: &str| Grant {
        grantee: "PUBLIC".into(),
        privilege: p.into(),
        grantable: false,
    };
    match kind {
        "FUNCTION" | "PROCEDURE" => [public("EXECUTE")].into(),
        "TYPE" | "DOMAIN" => [public("USAGE")].into(),
        _ => BTreeSet::new(),
    }
}

pub(crate) fn comment_sql(kind: &str, target: &str, comment: &Option<String>) -> String {
    match comment {
        Some(c) => format!("COMMENT ON {kind} {target} IS {};", literal(c)),
        None => format!("COMMENT ON {kind} {target} IS NULL;"),
    }
}

fn column_sql(c: &Column) -> String {
    let mut s = format!("{} {}", ident(&c.name), c.data_type);
    if let Some(coll) = &c.collation {
        s.push_str(&format!(" COLLATE {coll}"));
    }
    if let Some(g) = &c.generated {
        s.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED"));
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    if c.not_null {
        s.push_str(" NOT NULL");
    }
    if let Some(i) = &c.identity {
        s.push_str(&format!(" GENERATED {} AS IDENTITY", identity_kind(i)));
    }
    s
}

/// What the live rows of `ft` must satisfy for constraint `cn` to be added to it.
fn constraint_checks(table: &QName, cn: &str, c: &Constraint, ft: &Table) -> Vec<DataCheck> {
    let mut out = Vec::new();
    match c.kind.as_str() {
        "p" | "u" => {
            if c.kind == "p" {
                for col in &c.columns {
                    if ft.column(col).is_some_and(|fc| !fc.not_null) {
                        out.push(DataCheck::NotNull {
                            table: table.clone(),
                            column: col.clone(),
                        });
                    }
                }
            }
            out.push(DataCheck::Unique {
                table: table.clone(),
                name: cn.to_string(),
                keys: c.columns.iter().map(|k| ident(k)).collect(),
                predicate: None,
                nulls_distinct: !c.definition.contains("NULLS NOT DISTINCT"),
            });
        }
        "c" => {
            if let Some(expr) = check_expression(&c.definition) {
                out.push(DataCheck::Check {
                    table: table.clone(),
                    name: cn.to_string(),
                    expr,
                });
            }
        }
        "f" if !c.definition.ends_with("NOT VALID") => {
            if let Some(references) = &c.references {
                out.push(DataCheck::ForeignKey {
                    table: table.clone(),
                    name: cn.to_string(),
                    columns: c.columns.clone(),
                    references: references.clone(),
                    referenced_columns: c.referenced_columns.clone(),
                });
            }
        }
        "x" => out.push(DataCheck::Exclusion {
            table: table.clone(),
            name: cn.to_string(),
        }),
        _ => {}
    }
    out
}

fn identity_kind(code: &str) -> &'static str {
    if code == "a" {
        "ALWAYS"
    } else {
        "BY DEFAULT"
    }
}

fn is_volatile_default(expr: &str) -> bool {
    [
        "nextval(",
        "random(",
        "gen_random_uuid(",
        "clock_timestamp(",
        "uuid_generate",
        "timeofday(",
    ]
    .iter()
    .any(|f| expr.contains(f))
}

impl<'a> Planner<'a> {
    fn push(&mut self, phase: Phase, s: Step) {
        self.steps.entry(phase).or_default().push(s);
    }

    fn run(&mut self) {
        self.analyse();
        self.namespaces();
        self.extensions();
        self.collations();
        self.enums();
        self.functions();
        self.sequences();
        self.tables();
        self.views();
        self.drop_unused_types();
        // Kinds in their own modules (`kinds::*`): after the old code's steps, so within a phase
        // their drops come after those of the functions and tables that use them.
        let (placed, blockers) = crate::kinds::steps(self.from, self.to, self.opts);
        for (phase, s) in placed {
            self.push(phase, s);
        }
        self.kind_blockers = blockers;
        let hooks = self.hooks;
        for (phase, steps) in [
            (Phase::MoveColumns, &hooks.moves),
            (Phase::DataBeforeConstraints, &hooks.data_before_constraints),
            (Phase::DataEnd, &hooks.data_end),
        ] {
            for s in steps {
                self.push(phase, s.clone());
            }
        }
        // After every object is created, so each got the live defaults the plan converged.
        for s in crate::privileges::steps(self.from, self.to) {
            self.push(Phase::Extras, s);
        }
        for t in std::mem::take(&mut self.rewritten) {
            if self.to.tables.contains_key(&t) {
                self.push(
                    Phase::Analyze,
                    step(
                        format!("table {t}"),
                        "refresh planner statistics after the rewrite",
                        format!("ANALYZE {};", t.sql()),
                    ),
                );
            }
        }
        if self
            .steps
            .values()
            .flatten()
            .any(|s| s.sql.starts_with("CREATE INDEX") || s.sql.starts_with("CREATE UNIQUE INDEX"))
        {
            self.notes.push(
                "indexes are built inside the transaction with plain CREATE INDEX (it blocks writes to the table while it \
                 builds); CREATE INDEX CONCURRENTLY cannot run in a transaction block, so the engine does not use it"
                    .into(),
            );
        }
        if self
            .steps
            .values()
            .flatten()
            .any(|s| s.sql.contains("ADD VALUE"))
        {
            self.notes.push(
                "ALTER TYPE ... ADD VALUE runs inside the transaction (PostgreSQL 12 and later allow it); the new label \
                 cannot be used by a row in the same transaction, and the plan does not use it"
                    .into(),
            );
        }
    }

    /// Works out which columns, relations, enums and functions change in a way that breaks what
    /// depends on them.
    fn analyse(&mut self) {
        for (sn, sq) in &self.from.sequences {
            let Some((t, c)) = &sq.owned_by else { continue };
            let becomes_identity = self
                .from
                .tables
                .get(t)
                .and_then(|ft| ft.column(c))
                .is_some_and(|fc| fc.identity.is_none())
                && self
                    .to
                    .tables
                    .get(t)
                    .and_then(|tt| tt.column(c))
                    .is_some_and(|tc| tc.identity.is_some());
            if becomes_identity && !self.to.sequences.contains_key(sn) {
                self.serials_to_identity.insert(sn.clone());
            }
        }
        for (name, ft) in &self.from.tables {
            let Some(tt) = self.to.tables.get(name) else {
                self.replaced_relations.insert(name.clone());
                continue;
            };
            if ft.partition_key != tt.partition_key {
                self.recreated_tables.insert(name.clone());
                self.replaced_relations.insert(name.clone());
                continue;
            }
            for fc in &ft.columns {
                match tt.column(&fc.name) {
                    None => {
                        self.changed_columns.insert((name.clone(), fc.name.clone()));
                    }
                    Some(tc) => {
                        let retyped = fc.data_type != tc.data_type || fc.collation != tc.collation;
                        let regenerated = tc.generated.is_some() && fc.generated != tc.generated;
                        if retyped || regenerated {
                            self.changed_columns.insert((name.clone(), fc.name.clone()));
                        }
                    }
                }
            }
        }
        for name in self.from.views.keys() {
            if self.to.tables.contains_key(name) {
                self.replaced_relations.insert(name.clone());
            }
        }
        for (name, fe) in &self.from.enums {
            match self.to.enums.get(name) {
                None => {
                    self.replaced_enums.insert(name.clone());
                }
                Some(te) if !is_subsequence(&fe.labels, &te.labels) => {
                    self.replaced_enums.insert(name.clone());
                }
                _ => {}
            }
        }
        for (ft_name, ft) in &self.from.tables {
            for fc in &ft.columns {
                if fc
                    .enum_type
                    .as_ref()
                    .is_some_and(|e| self.replaced_enums.contains(e))
                {
                    self.changed_columns
                        .insert((ft_name.clone(), fc.name.clone()));
                }
            }
        }
        for (name, ff) in &self.from.functions {
            match self.to.functions.get(name) {
                None => {
                    self.replaced_functions.insert(name.clone());
                }
                Some(tf) if tf.result != ff.result || tf.procedure != ff.procedure => {
                    self.replaced_functions.insert(name.clone());
                }
                _ => {}
            }
        }
    }

    /// Views of FROM that must be dropped: gone, changed, or reading something that changes.
    fn affected_views(&self) -> BTreeSet<QName> {
        let mut affected: BTreeSet<QName> = BTreeSet::new();
        loop {
            let before = affected.len();
            for (name, fv) in &self.from.views {
                if affected.contains(name) {
                    continue;
                }
                let changed = match self.to.views.get(name) {
                    None => true,
                    Some(tv) => {
                        tv.materialized != fv.materialized
                            || tv.definition != fv.definition
                            || tv.columns != fv.columns
                    }
                };
                let d = &fv.depends;
                let broken = d.columns.iter().any(|c| self.changed_columns.contains(c))
                    || d.relations
                        .iter()
                        .any(|r| self.replaced_relations.contains(r) || affected.contains(r))
                    || d.types.iter().any(|t| self.replaced_enums.contains(t))
                    || d.functions
                        .iter()
                        .any(|f| self.replaced_functions.contains(f));
                if changed || broken {
                    affected.insert(name.clone());
                }
            }
            if affected.len() == before {
                return affected;
            }
        }
    }

    fn owner_sql(
        &mut self,
        phase: Phase,
        kind: &str,
        target: &str,
        object: &str,
        from_owner: Option<&str>,
        to: &Extras,
    ) {
        if !self.opts.owners {
            return;
        }
        let current = from_owner.unwrap_or(&self.from.current_user);
        if current != to.owner {
            self.push(
                phase,
                step(
                    object,
                    format!("owner → {}", to.owner),
                    format!("ALTER {kind} {target} OWNER TO {};", ident(&to.owner)),
                ),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn grants_sql(
        &mut self,
        phase: Phase,
        kind: &str,
        target: &str,
        object: &str,
        from: &BTreeSet<Grant>,
        to: &BTreeSet<Grant>,
        existing: bool,
    ) {
        let on = match kind {
            "VIEW" | "MATERIALIZED VIEW" | "TABLE" => "TABLE",
            other => other,
        };
        for g in from.difference(to) {
            let sql = if to
                .iter()
                .any(|t| t.grantee == g.grantee && t.privilege == g.privilege)
            {
                format!(
                    "REVOKE GRANT OPTION FOR {} ON {on} {target} FROM {};",
                    g.privilege,
                    grantee(&g.grantee)
                )
            } else {
                format!(
                    "REVOKE {} ON {on} {target} FROM {};",
                    g.privilege,
                    grantee(&g.grantee)
                )
            };
            let mut s = step(
                object,
                format!("revoke {} from {}", g.privilege, g.grantee),
                sql,
            );
            // Revoking what a new object got at creation takes nothing away from anyone.
            if existing {
                s = s.hazard(
                    HazardKind::Security,
                    format!("{} loses {} on {target}", g.grantee, g.privilege),
                );
            }
            self.push(phase, s);
        }
        for g in to.difference(from) {
            let option = if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            self.push(
                phase,
                step(
                    object,
                    format!("grant {} to {}", g.privilege, g.grantee),
                    format!(
                        "GRANT {} ON {on} {target} TO {}{option};",
                        g.privilege,
                        grantee(&g.grantee)
                    ),
                ),
            );
        }
    }

    /// Owner, comment and grants: for an existing object (`from`) or a new one (`None`).
    fn extras(
        &mut self,
        phase: Phase,
        kind: &str,
        target: &str,
        object: &str,
        from: Option<&Extras>,
        to: &Extras,
    ) {
        self.owner_sql(
            phase,
            kind,
            target,
            object,
            from.map(|f| f.owner.as_str()),
            to,
        );
        let from_comment = from.and_then(|f| f.comment.clone());
        if from_comment != to.comment {
            let ck = if kind == "PROCEDURE" {
                "PROCEDURE"
            } else {
                kind
            };
            self.push(
                phase,
                step(object, "comment", comment_sql(ck, target, &to.comment)),
            );
        }
        // A new object starts with what the live database's default privileges give it.
        let from_grants = from.map(|f| f.grants.clone()).unwrap_or_else(|| {
            crate::privileges::created_grants(
                self.from,
                kind,
                crate::privileges::schema_of_target(target).as_deref(),
            )
        });
        self.grants_sql(
            phase,
            kind,
            target,
            object,
            &from_grants,
            &to.grants,
            from.is_some(),
        );
    }

    fn namespaces(&mut self) {
        for (name, tn) in &self.to.namespaces {
            let object = format!("schema {name}");
            let fnm = self.from.namespaces.get(name);
            if fnm.is_none() {
                self.push(
                    Phase::CreateSchemas,
                    step(&object, "create", format!("CREATE SCHEMA {};", ident(name))),
                );
            }
            self.extras(
                Phase::Extras,
                "SCHEMA",
                &ident(name),
                &object,
                fnm.map(|f| &f.extras),
                &tn.extras,
            );
        }
        for name in self
            .from
            .namespaces
            .keys()
            .filter(|n| !self.to.namespaces.contains_key(*n))
        {
            self.push(
                Phase::DropSchemas,
                step(
                    format!("schema {name}"),
                    "drop",
                    format!("DROP SCHEMA {};", ident(name)),
                ),
            );
        }
    }

    fn extensions(&mut self) {
        for (name, te) in &self.to.extensions {
            let object = format!("extension {name}");
            match self.from.extensions.get(name) {
                None => self.push(
                    Phase::Extensions,
                    step(
                        &object,
                        "create",
                        format!(
                            "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {} VERSION {};",
                            ident(name),
                            ident(&te.schema),
                            literal(&te.version)
                        ),
                    ),
                ),
                Some(fe) => {
                    if fe.schema != te.schema {
                        self.push(
                            Phase::Extensions,
                            step(
                                &object,
                                "move",
                                format!(
                                    "ALTER EXTENSION {} SET SCHEMA {};",
                                    ident(name),
                                    ident(&te.schema)
                                ),
                            ),
                        );
                    }
                    if fe.version != te.version {
                        self.push(
                            Phase::Extensions,
                            step(
                                &object,
                                format!("update {} → {}", fe.version, te.version),
                                format!(
                                    "ALTER EXTENSION {} UPDATE TO {};",
                                    ident(name),
                                    literal(&te.version)
                                ),
                            ),
                        );
                    }
                }
            }
        }
        for name in self
            .from
            .extensions
            .keys()
            .filter(|n| !self.to.extensions.contains_key(*n))
        {
            self.push(
                Phase::DropExtensions,
                step(
                    format!("extension {name}"),
                    "drop",
                    format!("DROP EXTENSION {};", ident(name)),
                )
                .hazard(
                    HazardKind::DataLoss,
                    format!(
                        "extension {name} and the functions, types and operators it installed are dropped"
                    ),
                ),
            );
        }
    }

    fn collations(&mut self) {
        for (name, tc) in &self.to.collations {
            let object = format!("collation {name}");
            let fc = self.from.collations.get(name);
            if fc.is_some_and(|f| f.options != tc.options) {
                self.push(
                    Phase::Collations,
                    step(
                        &object,
                        "drop to recreate",
                        format!("DROP COLLATION {};", name.sql()),
                    ),
                );
            }
            if fc.is_none_or(|f| f.options != tc.options) {
                self.push(
                    Phase::Collations,
                    step(
                        &object,
                        "create",
                        format!("CREATE COLLATION {} ({});", name.sql(), tc.options),
                    ),
                );
            }
            let kept = fc.filter(|f| f.options == tc.options).map(|f| &f.extras);
            self.extras(
                Phase::Extras,
                "COLLATION",
                &name.sql(),
                &object,
                kept,
                &tc.extras,
            );
        }
        for name in self
            .from
            .collations
            .keys()
            .filter(|n| !self.to.collations.contains_key(*n))
        {
            self.push(
                Phase::DropLate,
                step(
                    format!("collation {name}"),
                    "drop",
                    format!("DROP COLLATION {};", name.sql()),
                ),
            );
        }
    }

    fn enums(&mut self) {
        for (name, te) in &self.to.enums {
            let object = format!("type {name}");
            let labels = te
                .labels
                .iter()
                .map(|l| literal(l))
                .collect::<Vec<_>>()
                .join(", ");
            let create = format!("CREATE TYPE {} AS ENUM ({labels});", name.sql());
            match self.from.enums.get(name) {
                None => {
                    self.push(Phase::Types, step(&object, "create", create));
                    self.extras(
                        Phase::Extras,
                        "TYPE",
                        &name.sql(),
                        &object,
                        None,
                        &te.extras,
                    );
                }
                Some(fe) if self.replaced_enums.contains(name) => {
                    let old = QName::new(&name.schema, format!("{}__soprovod_old", name.name));
                    let removed: Vec<&String> = fe
                        .labels
                        .iter()
                        .filter(|l| !te.labels.contains(l))
                        .collect();
                    let mut s = step(
                        &object,
                        "rename the old type to recreate it with other labels",
                        format!("ALTER TYPE {} RENAME TO {};", name.sql(), ident(&old.name)),
                    );
                    if !removed.is_empty() {
                        s = s.hazard(
                            HazardKind::DataLoss,
                            format!("enum labels {removed:?} are removed; rows holding them make the change fail"),
                        );
                    }
                    self.push(Phase::Types, s);
                    self.push(
                        Phase::Types,
                        step(&object, "create with the target labels", create),
                    );
                    self.push(
                        Phase::DropLate,
                        step(
                            &object,
                            "drop the old type",
                            format!("DROP TYPE {};", old.sql()),
                        ),
                    );
                    self.extras(
                        Phase::Extras,
                        "TYPE",
                        &name.sql(),
                        &object,
                        None,
                        &te.extras,
                    );
                }
                Some(fe) => {
                    for (i, label) in te.labels.iter().enumerate() {
                        if fe.labels.contains(label) {
                            continue;
                        }
                        let place = match i {
                            0 => format!("BEFORE {}", literal(&te.labels[1])),
                            _ => format!("AFTER {}", literal(&te.labels[i - 1])),
                        };
                        self.push(
                            Phase::Types,
                            step(
                                &object,
                                format!("add label {label}"),
                                format!(
                                    "ALTER TYPE {} ADD VALUE {} {place};",
                                    name.sql(),
                                    literal(label)
                                ),
                            ),
                        );
                    }
                    self.extras(
                        Phase::Extras,
                        "TYPE",
                        &name.sql(),
                        &object,
                        Some(&fe.extras),
                        &te.extras,
                    );
                }
            }
        }
    }

    fn drop_unused_types(&mut self) {
        for name in self
            .from
            .enums
            .keys()
            .filter(|n| !self.to.enums.contains_key(*n))
        {
            self.push(
                Phase::DropLate,
                step(
                    format!("type {name}"),
                    "drop",
                    format!("DROP TYPE {};", name.sql()),
                ),
            );
        }
    }

    fn function_target(name: &FnName) -> String {
        format!("{}({})", name.name.sql(), name.args)
    }

    fn functions(&mut self) {
        let affected_views = self.affected_views();
        for (name, tf) in &self.to.functions {
            let object = format!(
                "{} {name}",
                if tf.procedure {
                    "procedure"
                } else {
                    "function"
                }
            );
            let kind = if tf.procedure {
                "PROCEDURE"
            } else {
                "FUNCTION"
            };
            let target = Self::function_target(name);
            let ff = self.from.functions.get(name);
            // A function whose signature uses a relation's row type waits for that relation.
            let late = tf.uses_relations.iter().any(|r| {
                !self.from.has_relation(r)
                    || self.replaced_relations.contains(r)
                    || affected_views.contains(r)
            });
            let phase = if late {
                Phase::LateFunctions
            } else {
                Phase::Functions
            };
            let recreate = self.replaced_functions.contains(name);
            if recreate {
                self.push(
                    Phase::DropFunctionsEarly,
                    step(
                        &object,
                        "drop to recreate with another result type",
                        format!("DROP {kind} {target};"),
                    ),
                );
            }
            if ff.is_none() || recreate || ff.is_some_and(|f| f.definition != tf.definition) {
                self.push(
                    phase,
                    step(
                        &object,
                        if ff.is_none() {
                            "create"
                        } else {
                            "create or replace"
                        },
                        format!("{};", tf.definition),
                    ),
                );
            }
            let kept = ff.filter(|_| !recreate).map(|f| &f.extras);
            self.extras(Phase::Extras, kind, &target, &object, kept, &tf.extras);
        }
        for (name, ff) in &self.from.functions {
            if self.to.functions.contains_key(name) {
                continue;
            }
            let kind = if ff.procedure {
                "PROCEDURE"
            } else {
                "FUNCTION"
            };
            // A function that relations use must outlive them; one only triggers use goes after the triggers.
            self.push(
                Phase::DropLate,
                step(
                    format!("{} {name}", kind.to_lowercase()),
                    "drop",
                    format!("DROP {kind} {};", Self::function_target(name)),
                ),
            );
        }
    }

    fn sequences(&mut self) {
        for (name, ts) in &self.to.sequences {
            let object = format!("sequence {name}");
            let options = format!(
                "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
                ts.data_type,
                ts.increment,
                ts.min,
                ts.max,
                ts.start,
                ts.cache,
                if ts.cycle { "CYCLE" } else { "NO CYCLE" }
            );
            let fs = self.from.sequences.get(name);
            match fs {
                None => self.push(
                    Phase::CreateSequences,
                    step(
                        &object,
                        "create",
                        format!("CREATE SEQUENCE {} {options};", name.sql()),
                    ),
                ),
                Some(fs) => {
                    let same = fs.data_type == ts.data_type
                        && fs.increment == ts.increment
                        && fs.min == ts.min
                        && fs.max == ts.max
                        && fs.start == ts.start
                        && fs.cache == ts.cache
                        && fs.cycle == ts.cycle;
                    if !same {
                        let what = if fs.data_type != ts.data_type {
                            format!(
                                "retype {} → {} (with its column)",
                                fs.data_type, ts.data_type
                            )
                        } else {
                            "change options".to_string()
                        };
                        self.push(
                            Phase::AlterSequences,
                            step(
                                &object,
                                what,
                                format!("ALTER SEQUENCE {} {options};", name.sql()),
                            ),
                        );
                    }
                }
            }
            if fs.and_then(|f| f.owned_by.clone()) != ts.owned_by {
                let owner = match &ts.owned_by {
                    Some((t, c)) => format!("{}.{}", t.sql(), ident(c)),
                    None => "NONE".into(),
                };
                self.push(
                    Phase::AlterSequences,
                    step(
                        &object,
                        format!("owned by {owner}"),
                        format!("ALTER SEQUENCE {} OWNED BY {owner};", name.sql()),
                    ),
                );
            }
            self.extras(
                Phase::Extras,
                "SEQUENCE",
                &name.sql(),
                &object,
                fs.map(|f| &f.extras),
                &ts.extras,
            );
        }
        let dropped: Vec<&QName> = self
            .from
            .sequences
            .keys()
            .filter(|n| {
                !self.to.sequences.contains_key(*n) && !self.serials_to_identity.contains(*n)
            })
            .collect();
        for name in dropped {
            // A serial's sequence goes with its column, so it may be gone by now.
            self.push(
                Phase::DropLate,
                step(
                    format!("sequence {name}"),
                    "drop",
                    format!("DROP SEQUENCE IF EXISTS {};", name.sql()),
                ),
            );
        }
    }

    fn create_table_sql(name: &QName, t: &Table) -> String {
        let unlogged = if t.unlogged { "UNLOGGED " } else { "" };
        let mut sql = if let Some((parent, bound)) = &t.partition_of {
            format!(
                "CREATE {unlogged}TABLE {} PARTITION OF {} {bound}",
                name.sql(),
                parent.sql()
            )
        } else {
            let cols: Vec<String> = t
                .columns
                .iter()
                .filter(|c| c.local)
                .map(|c| format!("    {}", column_sql(c)))
                .collect();
            let mut s = format!(
                "CREATE {unlogged}TABLE {} (\n{}\n)",
                name.sql(),
                cols.join(",\n")
            );
            if cols.is_empty() {
                s = format!("CREATE {unlogged}TABLE {} ()", name.sql());
            }
            if !t.inherits.is_empty() {
                s.push_str(&format!(
                    " INHERITS ({})",
                    t.inherits
                        .iter()
                        .map(QName::sql)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            s
        };
        if let Some(key) = &t.partition_key {
            sql.push_str(&format!(" PARTITION BY {key}"));
        }
        if !t.reloptions.is_empty() {
            sql.push_str(&format!(" WITH ({})", t.reloptions.join(", ")));
        }
        sql.push(';');
        sql
    }

    fn tables(&mut self) {
        // Parents before children when creating, children before parents when dropping.
        let depth = |m: &Model, n: &QName| -> usize {
            let mut d = 0;
            let mut cur = n.clone();
            while let Some(p) = m.tables.get(&cur).and_then(|t| {
                t.partition_of
                    .as_ref()
                    .map(|p| p.0.clone())
                    .or_else(|| t.inherits.first().cloned())
            }) {
                d += 1;
                cur = p;
                if d > 32 {
                    break;
                }
            }
            d
        };
        let mut to_names: Vec<&QName> = self.to.tables.keys().collect();
        to_names.sort_by_key(|n| depth(self.to, n));
        for name in to_names {
            let tt = &self.to.tables[name];
            let object = format!("table {name}");
            let recreated = self.recreated_tables.contains(name);
            let ft = self.from.tables.get(name).filter(|_| !recreated);
            if recreated {
                self.push(
                    Phase::DropConstraints,
                    step(&object, "drop to recreate (partitioning changes)", format!("DROP TABLE {};", name.sql()))
                        .hazard(
                            HazardKind::DataLoss,
                            "the table is dropped and created again with other partitioning; its rows are not copied",
                        )
                        .touching(name),
                );
            }
            let phase = Phase::CreateTables;
            match ft {
                None => {
                    self.push(
                        phase,
                        step(&object, "create", Self::create_table_sql(name, tt)),
                    );
                    for c in &tt.columns {
                        if c.comment.is_some() {
                            let target = format!("{}.{}", name.sql(), ident(&c.name));
                            self.push(
                                Phase::Extras,
                                step(
                                    &object,
                                    format!("comment on column {}", c.name),
                                    comment_sql("COLUMN", &target, &c.comment),
                                ),
                            );
                        }
                        self.column_grants(name, &c.name, &BTreeSet::new(), &c.grants);
                    }
                }
                Some(ft) => self.alter_table(name, ft, tt),
            }
            self.table_parts(name, ft, tt);
            self.extras(
                Phase::Extras,
                "TABLE",
                &name.sql(),
                &object,
                ft.map(|f| &f.extras),
                &tt.extras,
            );
        }
        let mut dropped: Vec<&QName> = self
            .from
            .tables
            .keys()
            .filter(|n| !self.to.tables.contains_key(*n))
            .collect();
        dropped.sort_by_key(|n| std::cmp::Reverse(depth(self.from, n)));
        for name in dropped {
            // Its foreign keys go first, so dropped tables that reference each other drop in any order.
            let fks: Vec<String> = self.from.tables[name]
                .constraints
                .iter()
                .filter(|(_, c)| c.kind == "f" && c.references.as_ref() != Some(name))
                .map(|(cn, _)| cn.clone())
                .collect();
            for cn in fks {
                self.push(
                    Phase::DropForeignKeys,
                    step(
                        format!("table {name}"),
                        format!("drop constraint {cn}"),
                        format!("ALTER TABLE {} DROP CONSTRAINT {};", name.sql(), ident(&cn)),
                    )
                    .touching(name),
                );
            }
            let rows_note = "the table and its rows are dropped";
            self.push(
                Phase::DropTables,
                step(
                    format!("table {name}"),
                    "drop",
                    format!("DROP TABLE {};", name.sql()),
                )
                .hazard(HazardKind::DataLoss, rows_note)
                .touching(name),
            );
        }
    }

    fn column_grants(
        &mut self,
        table: &QName,
        column: &str,
        from: &BTreeSet<Grant>,
        to: &BTreeSet<Grant>,
    ) {
        for g in from.difference(to) {
            self.push(
                Phase::Extras,
                step(
                    format!("table {table}"),
                    format!("revoke {} on column {column}", g.privilege),
                    format!(
                        "REVOKE {} ({}) ON TABLE {} FROM {};",
                        g.privilege,
                        ident(column),
                        table.sql(),
                        grantee(&g.grantee)
                    ),
                )
                .hazard(
                    HazardKind::Security,
                    format!(
                        "{} loses {} on column {column} of {table}",
                        g.grantee, g.privilege
                    ),
                ),
            );
        }
        for g in to.difference(from) {
            let option = if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            self.push(
                Phase::Extras,
                step(
                    format!("table {table}"),
                    format!("grant {} on column {column}", g.privilege),
                    format!(
                        "GRANT {} ({}) ON TABLE {} TO {}{option};",
                        g.privilege,
                        ident(column),
                        table.sql(),
                        grantee(&g.grantee)
                    ),
                ),
            );
        }
    }

    fn alter_table(&mut self, name: &QName, ft: &Table, tt: &Table) {
        let object = format!("table {name}");
        let t = name.sql();
        let alter = |sql: String| format!("ALTER TABLE {t} {sql};");
        // Columns a parent's change takes care of.
        let parent_in_from = |tab: &Table| -> bool {
            tab.partition_of
                .as_ref()
                .is_some_and(|(p, _)| self.from.tables.contains_key(p))
                || tab
                    .inherits
                    .iter()
                    .any(|p| self.from.tables.contains_key(p))
        };
        if let (Some((parent, _)), false) = (&ft.partition_of, ft.partition_of == tt.partition_of) {
            self.push(
                Phase::DetachPartitions,
                step(
                    &object,
                    format!("detach from {parent}"),
                    format!("ALTER TABLE {} DETACH PARTITION {t};", parent.sql()),
                )
                .touching(name),
            );
        }
        for p in ft.inherits.iter().filter(|p| !tt.inherits.contains(p)) {
            self.push(
                Phase::DetachPartitions,
                step(
                    &object,
                    format!("stop inheriting from {p}"),
                    alter(format!("NO INHERIT {}", p.sql())),
                )
                .touching(name),
            );
        }
        // (subcommand, hazards, description, column whose type changes)
        let mut retypes: Vec<(String, Vec<Hazard>, String, Option<String>)> = Vec::new();
        let mut retype_checks: Vec<DataCheck> = Vec::new();
        for tc in &tt.columns {
            let col = ident(&tc.name);
            let Some(fc) = ft.column(&tc.name) else {
                if !tc.local && parent_in_from(tt) {
                    continue;
                }
                // Required without a default: added nullable, made NOT NULL after the data steps
                // (which may fill it); on an empty table both ways are the same.
                let later_not_null = tc.not_null
                    && tc.default.is_none()
                    && tc.identity.is_none()
                    && tc.generated.is_none();
                let added = Column {
                    not_null: tc.not_null && !later_not_null,
                    ..tc.clone()
                };
                let mut s = step(
                    &object,
                    format!("add column {}", tc.name),
                    alter(format!("ADD COLUMN {}", column_sql(&added))),
                )
                .touching(name);
                if later_not_null {
                    // The statement that fails on rows without a value is this one.
                    self.push(
                        Phase::SetNotNull,
                        step(
                            &object,
                            format!("{} not null", tc.name),
                            alter(format!("ALTER COLUMN {col} SET NOT NULL")),
                        )
                        .touching(name)
                        .checking(DataCheck::RequiredColumn {
                            table: name.clone(),
                            column: tc.name.clone(),
                        }),
                    );
                }
                if tc.generated.is_some()
                    || tc.identity.is_some()
                    || tc.default.as_deref().is_some_and(is_volatile_default)
                {
                    s = s.hazard(
                        HazardKind::TableRewrite,
                        format!("adding {} fills every row", tc.name),
                    );
                    self.rewritten.insert(name.clone());
                }
                self.push(Phase::AlterColumns, s);
                if tc.comment.is_some() {
                    self.push(
                        Phase::Extras,
                        step(
                            &object,
                            format!("comment on column {}", tc.name),
                            comment_sql("COLUMN", &format!("{t}.{col}"), &tc.comment),
                        ),
                    );
                }
                self.column_grants(name, &tc.name, &BTreeSet::new(), &tc.grants);
                continue;
            };
            if !fc.local
                && parent_in_from(ft)
                && fc.data_type == tc.data_type
                && fc.generated == tc.generated
            {
                // Inherited: defaults and the like are still per table.
            }
            // A generated expression cannot be changed in place: drop and add the column again.
            if tc.generated.is_some() && fc.generated != tc.generated {
                let mut s = step(
                    &object,
                    format!("drop column {} to add it back as generated", tc.name),
                    alter(format!("DROP COLUMN {col}")),
                )
                .touching(name);
                if fc.generated.is_none() {
                    s = s.hazard(
                        HazardKind::DataLoss,
                        format!(
                            "the stored values of {} are replaced by the generated expression",
                            tc.name
                        ),
                    );
                }
                self.push(Phase::AlterColumns, s);
                self.push(
                    Phase::AlterColumns,
                    step(
                        &object,
                        format!("add column {} back", tc.name),
                        alter(format!("ADD COLUMN {}", column_sql(tc))),
                    )
                    .hazard(
                        HazardKind::TableRewrite,
                        format!("computing {} rewrites every row", tc.name),
                    )
                    .touching(name),
                );
                self.rewritten.insert(name.clone());
                continue;
            }
            if fc.identity.is_some() && tc.identity.is_none() {
                self.push(
                    Phase::AlterColumns,
                    step(
                        &object,
                        format!("drop identity of {}", tc.name),
                        alter(format!("ALTER COLUMN {col} DROP IDENTITY")),
                    )
                    .touching(name),
                );
            }
            let enum_rebuilt = fc
                .enum_type
                .as_ref()
                .is_some_and(|e| self.replaced_enums.contains(e));
            let retype =
                (fc.data_type != tc.data_type || fc.collation != tc.collation || enum_rebuilt)
                    && (fc.local || !parent_in_from(ft));
            if fc.default.is_some() && (fc.default != tc.default || retype) && fc.identity.is_none()
            {
                self.push(
                    Phase::AlterColumns,
                    step(
                        &object,
                        format!("drop default of {}", tc.name),
                        alter(format!("ALTER COLUMN {col} DROP DEFAULT")),
                    )
                    .touching(name),
                );
            }
            if fc.generated.is_some() && tc.generated.is_none() {
                self.push(
                    Phase::AlterColumns,
                    step(
                        &object,
                        format!("{} stops being generated", tc.name),
                        alter(format!("ALTER COLUMN {col} DROP EXPRESSION")),
                    )
                    .touching(name),
                );
            }
            if retype {
                let through_text = fc.enum_type.is_some() || tc.enum_type.is_some();
                let declared = self
                    .hooks
                    .retype_using
                    .get(&(name.clone(), tc.name.clone()));
                let using = if let Some(expr) = declared {
                    format!(" USING ({expr})")
                } else if through_text {
                    format!(" USING {col}::text::{}", tc.data_type)
                } else if fc.data_type != tc.data_type {
                    format!(" USING {col}::{}", tc.data_type)
                } else {
                    String::new()
                };
                let collate = tc
                    .collation
                    .as_ref()
                    .map(|c| format!(" COLLATE {c}"))
                    .unwrap_or_default();
                let effect = if fc.data_type == tc.data_type && !enum_rebuilt {
                    CastEffect {
                        lossy: false,
                        rewrite: false,
                    }
                } else if through_text {
                    CastEffect {
                        lossy: true,
                        rewrite: true,
                    }
                } else {
                    cast_effect(&fc.data_type, &tc.data_type)
                };
                let mut hazards = Vec::new();
                if effect.lossy {
                    hazards.push(Hazard {
                        kind: HazardKind::LossyCast,
                        reason: format!(
                            "{} {} → {} can lose or reject values",
                            tc.name, fc.data_type, tc.data_type
                        ),
                    });
                }
                if effect.rewrite {
                    hazards.push(Hazard {
                        kind: HazardKind::TableRewrite,
                        reason: format!("retyping {} rewrites the table", tc.name),
                    });
                    self.rewritten.insert(name.clone());
                }
                let what = if fc.data_type != tc.data_type {
                    format!("{} {} → {}", tc.name, fc.data_type, tc.data_type)
                } else if enum_rebuilt {
                    format!("{} onto the recreated {}", tc.name, tc.data_type)
                } else {
                    format!(
                        "{} collation → {}",
                        tc.name,
                        tc.collation.as_deref().unwrap_or("default")
                    )
                };
                let type_changes = (fc.data_type != tc.data_type).then(|| tc.name.clone());
                if fc.data_type != tc.data_type || enum_rebuilt {
                    let using_expr = using
                        .strip_prefix(" USING ")
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{col}::{}", tc.data_type));
                    retype_checks.push(DataCheck::Cast {
                        table: name.clone(),
                        column: tc.name.clone(),
                        from_type: fc.data_type.clone(),
                        to_type: tc.data_type.clone(),
                        using: using_expr,
                        enum_labels: tc.enum_type.as_ref().and_then(|e| {
                            let recreated =
                                self.replaced_enums.contains(e) || !self.from.enums.contains_key(e);
                            recreated
                                .then(|| self.to.enums.get(e).map(|en| en.labels.clone()))
                                .flatten()
                        }),
                    });
                }
                retypes.push((
                    format!("ALTER COLUMN {col} TYPE {}{collate}{using}", tc.data_type),
                    hazards,
                    what,
                    type_changes,
                ));
            }
        }
        if !retypes.is_empty() {
            // One statement for all of a table's retypes: one rewrite, not one per column.
            let what: Vec<String> = retypes.iter().map(|r| r.2.clone()).collect();
            let sql = format!(
                "ALTER TABLE {t}\n    {};",
                retypes
                    .iter()
                    .map(|r| r.0.clone())
                    .collect::<Vec<_>>()
                    .join(",\n    ")
            );
            let mut s = step(&object, format!("retype {}", what.join(", ")), sql).touching(name);
            s.hazards = retypes.iter().flat_map(|r| r.1.clone()).collect();
            s.checks = retype_checks;
            let retyped_cols: BTreeSet<String> =
                retypes.iter().filter_map(|r| r.3.clone()).collect();
            let fks = self.foreign_keys_on_retyped(name, &retyped_cols);
            if !fks.is_empty() {
                self.notes.push(format!(
                    "foreign keys {} on retyped columns of {name} are rebuilt by PostgreSQL in the same transaction",
                    fks.join(", ")
                ));
            }
            self.push(Phase::AlterColumns, s);
        }
        for tc in &tt.columns {
            let Some(fc) = ft.column(&tc.name) else {
                continue;
            };
            let col = ident(&tc.name);
            if tc.generated.is_some() && fc.generated != tc.generated {
                continue;
            }
            if tc.not_null && !fc.not_null {
                // After the data steps, unless an identity (which needs NOT NULL) comes first.
                let phase = if tc.identity.is_some() && fc.identity.is_none() {
                    Phase::AlterColumns
                } else {
                    Phase::SetNotNull
                };
                self.push(
                    phase,
                    step(
                        &object,
                        format!("{} not null", tc.name),
                        alter(format!("ALTER COLUMN {col} SET NOT NULL")),
                    )
                    .touching(name)
                    .checking(DataCheck::NotNull {
                        table: name.clone(),
                        column: tc.name.clone(),
                    }),
                );
            }
            if !tc.not_null && fc.not_null {
                self.push(
                    Phase::AlterColumns,
                    step(
                        &object,
                        format!("{} nullable", tc.name),
                        alter(format!("ALTER COLUMN {col} DROP NOT NULL")),
                    )
                    .touching(name),
                );
            }
            let enum_rebuilt = fc
                .enum_type
                .as_ref()
                .is_some_and(|e| self.replaced_enums.contains(e));
            let retyped =
                fc.data_type != tc.data_type || fc.collation != tc.collation || enum_rebuilt;
            let default_dropped = fc.default.is_some()
                && (fc.default != tc.default || retyped)
                && fc.identity.is_none();
            if let Some(d) = &tc.default {
                if fc.default.as_ref() != Some(d) || default_dropped {
                    self.push(
                        Phase::AlterColumns,
                        step(
                            &object,
                            format!("default of {}", tc.name),
                            alter(format!("ALTER COLUMN {col} SET DEFAULT {d}")),
                        )
                        .touching(name),
                    );
                }
            }
            match (&fc.identity, &tc.identity) {
                (None, Some(k)) => {
                    // A serial's own sequence goes first, so the identity's sequence is the only
                    // one the column has when its position is set below.
                    let serial_seqs: Vec<QName> = self
                        .serials_to_identity
                        .iter()
                        .filter(|sn| {
                            self.from.sequences[*sn].owned_by.as_ref()
                                == Some(&(name.clone(), tc.name.clone()))
                        })
                        .cloned()
                        .collect();
                    for sn in serial_seqs {
                        self.push(
                            Phase::AlterColumns,
                            step(
                                format!("sequence {sn}"),
                                format!(
                                    "drop the serial sequence of {} (it becomes an identity)",
                                    tc.name
                                ),
                                format!("DROP SEQUENCE {};", sn.sql()),
                            ),
                        );
                    }
                    self.push(
                        Phase::AlterColumns,
                        step(
                            &object,
                            format!("{} becomes an identity", tc.name),
                            alter(format!(
                                "ALTER COLUMN {col} ADD GENERATED {} AS IDENTITY",
                                identity_kind(k)
                            )),
                        )
                        .touching(name),
                    );
                    // A new identity starts at 1; existing rows already hold ids.
                    self.push(
                        Phase::AlterColumns,
                        step(
                            &object,
                            format!("identity of {} continues after the existing values", tc.name),
                            format!(
                                "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence({}, {}), coalesce(max({col}), 0) + 1, false) FROM {t};",
                                literal(&t),
                                literal(&tc.name)
                            ),
                        ),
                    );
                }
                (Some(a), Some(b)) if a != b => {
                    self.push(
                        Phase::AlterColumns,
                        step(
                            &object,
                            format!("{} identity {}", tc.name, identity_kind(b)),
                            alter(format!(
                                "ALTER COLUMN {col} SET GENERATED {}",
                                identity_kind(b)
                            )),
                        )
                        .touching(name),
                    );
                }
                _ => {}
            }
            if fc.comment != tc.comment {
                self.push(
                    Phase::Extras,
                    step(
                        &object,
                        format!("comment on column {}", tc.name),
                        comment_sql("COLUMN", &format!("{t}.{col}"), &tc.comment),
                    ),
                );
            }
            self.column_grants(name, &tc.name, &fc.grants, &tc.grants);
        }
        for fc in &ft.columns {
            if tt.column(&fc.name).is_some() || (!fc.local && parent_in_from(ft)) {
                continue;
            }
            let drop = step(
                &object,
                format!("drop column {}", fc.name),
                alter(format!("DROP COLUMN {}", ident(&fc.name))),
            )
            .touching(name);
            let drop = if self
                .hooks
                .moved_away
                .contains(&(name.clone(), fc.name.clone()))
            {
                Step {
                    action: format!("drop column {} (its data moved)", fc.name),
                    ..drop
                }
            } else {
                drop.hazard(
                    HazardKind::DataLoss,
                    format!(
                        "column {} ({}) and its values are dropped",
                        fc.name, fc.data_type
                    ),
                )
            };
            self.push(Phase::DropColumns, drop);
        }
        // Columns that vanish with a parent's column and that TO keeps locally come back.
        for fc in &ft.columns {
            if fc.local || !parent_in_from(ft) {
                continue;
            }
            let parent_drops = ft
                .inherits
                .iter()
                .chain(ft.partition_of.iter().map(|p| &p.0))
                .any(|p| {
                    self.from
                        .tables
                        .get(p)
                        .is_some_and(|pt| pt.column(&fc.name).is_some())
                        && self
                            .to
                            .tables
                            .get(p)
                            .is_none_or(|pt| pt.column(&fc.name).is_none())
                });
            if let (true, Some(tc)) = (parent_drops, tt.column(&fc.name)) {
                self.push(
                    Phase::DropColumns,
                    step(
                        &object,
                        format!("add column {} back as its own", tc.name),
                        alter(format!("ADD COLUMN {}", column_sql(tc))),
                    )
                    .touching(name),
                );
            }
        }
        if ft.unlogged != tt.unlogged {
            let to = if tt.unlogged { "UNLOGGED" } else { "LOGGED" };
            self.push(
                Phase::TableOptions,
                step(
                    &object,
                    format!("set {}", to.to_lowercase()),
                    alter(format!("SET {to}")),
                )
                .hazard(
                    HazardKind::TableRewrite,
                    format!("SET {to} rewrites the table"),
                )
                .touching(name),
            );
        }
        if ft.reloptions != tt.reloptions {
            let removed: Vec<String> = ft
                .reloptions
                .iter()
                .filter_map(|o| o.split('=').next().map(str::to_string))
                .filter(|k| {
                    !tt.reloptions
                        .iter()
                        .any(|o| o.split('=').next() == Some(k.as_str()))
                })
                .collect();
            if !removed.is_empty() {
                self.push(
                    Phase::TableOptions,
                    step(
                        &object,
                        "reset storage options",
                        alter(format!("RESET ({})", removed.join(", "))),
                    ),
                );
            }
            if !tt.reloptions.is_empty() {
                self.push(
                    Phase::TableOptions,
                    step(
                        &object,
                        "storage options",
                        alter(format!("SET ({})", tt.reloptions.join(", "))),
                    ),
                );
            }
        }
        if let (Some((parent, bound)), false) =
            (&tt.partition_of, ft.partition_of == tt.partition_of)
        {
            self.push(
                Phase::TableOptions,
                step(
                    &object,
                    format!("attach to {parent}"),
                    format!("ALTER TABLE {} ATTACH PARTITION {t} {bound};", parent.sql()),
                )
                .touching(name),
            );
        }
        for p in tt.inherits.iter().filter(|p| !ft.inherits.contains(p)) {
            self.push(
                Phase::TableOptions,
                step(
                    &object,
                    format!("inherit from {p}"),
                    alter(format!("INHERIT {}", p.sql())),
                )
                .touching(name),
            );
        }
    }

    fn foreign_keys_on_retyped(&self, name: &QName, retyped: &BTreeSet<String>) -> Vec<String> {
        let mut out = Vec::new();
        for (tn, t) in &self.from.tables {
            for (cn, c) in &t.constraints {
                if c.kind != "f" {
                    continue;
                }
                let local = tn == name && c.columns.iter().any(|col| retyped.contains(col));
                let remote = c.references.as_ref() == Some(name)
                    && c.referenced_columns.iter().any(|col| retyped.contains(col));
                if local || remote {
                    out.push(format!("{tn}.{cn}"));
                }
            }
        }
        out
    }

    /// Constraints, indexes, triggers, policies and row security of a table.
    fn table_parts(&mut self, name: &QName, ft: Option<&Table>, tt: &Table) {
        let object = format!("table {name}");
        let t = name.sql();
        let empty = BTreeMap::new();
        let fcons = ft.map(|f| &f.constraints).unwrap_or(&empty);
        for (cn, fc) in fcons {
            let target_ref_recreated = fc
                .references
                .as_ref()
                .is_some_and(|r| self.recreated_tables.contains(r));
            if tt.constraints.get(cn) != Some(fc) || target_ref_recreated {
                let phase = if fc.kind == "f" {
                    Phase::DropForeignKeys
                } else {
                    Phase::DropConstraints
                };
                self.push(
                    phase,
                    step(
                        &object,
                        format!("drop constraint {cn}"),
                        format!("ALTER TABLE {t} DROP CONSTRAINT {};", ident(cn)),
                    )
                    .touching(name),
                );
            }
        }
        for (cn, tc) in &tt.constraints {
            let target_ref_recreated = tc
                .references
                .as_ref()
                .is_some_and(|r| self.recreated_tables.contains(r));
            if fcons.get(cn) != Some(tc) || target_ref_recreated {
                if fcons.get(cn).is_some_and(|f| f.definition == tc.definition)
                    && !target_ref_recreated
                {
                    let target = format!("{} ON {t}", ident(cn));
                    self.push(
                        Phase::Extras,
                        step(
                            &object,
                            format!("comment on constraint {cn}"),
                            comment_sql("CONSTRAINT", &target, &tc.comment),
                        ),
                    );
                    continue;
                }
                let phase = if tc.kind == "f" {
                    Phase::AddForeignKeys
                } else {
                    Phase::AddConstraints
                };
                let mut s = step(
                    &object,
                    format!("add constraint {cn}"),
                    format!(
                        "ALTER TABLE {t} ADD CONSTRAINT {} {};",
                        ident(cn),
                        tc.definition
                    ),
                );
                if let Some(ft) = ft {
                    s = s.touching(name);
                    for check in constraint_checks(name, cn, tc, ft) {
                        s = s.checking(check);
                    }
                }
                self.push(phase, s);
                if tc.comment.is_some() {
                    let target = format!("{} ON {t}", ident(cn));
                    self.push(
                        Phase::Extras,
                        step(
                            &object,
                            format!("comment on constraint {cn}"),
                            comment_sql("CONSTRAINT", &target, &tc.comment),
                        ),
                    );
                }
            }
        }
        let findex = ft.map(|f| f.indexes.clone()).unwrap_or_default();
        self.indexes(
            &object,
            name,
            &name.schema,
            &findex,
            &tt.indexes,
            ft.is_some(),
        );
        let ftrig = ft.map(|f| f.triggers.clone()).unwrap_or_default();
        self.triggers(&object, &t, &ftrig, &tt.triggers);
        let fpol = ft.map(|f| f.policies.clone()).unwrap_or_default();
        for (pn, fp) in &fpol {
            if tt.policies.get(pn) != Some(fp) {
                let mut s = step(
                    &object,
                    format!("drop policy {pn}"),
                    format!("DROP POLICY {} ON {t};", ident(pn)),
                );
                if !tt.policies.contains_key(pn) {
                    s = s.hazard(
                        HazardKind::Security,
                        format!("row-security policy {pn} is removed"),
                    );
                }
                self.push(Phase::DropConstraints, s);
            }
        }
        for (pn, tp) in &tt.policies {
            if fpol.get(pn) != Some(tp) {
                let roles = tp
                    .roles
                    .iter()
                    .map(|r| grantee(r))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut sql = format!(
                    "CREATE POLICY {} ON {t} AS {} FOR {} TO {roles}",
                    ident(pn),
                    if tp.permissive {
                        "PERMISSIVE"
                    } else {
                        "RESTRICTIVE"
                    },
                    tp.command
                );
                if let Some(u) = &tp.using {
                    sql.push_str(&format!(" USING ({u})"));
                }
                if let Some(c) = &tp.with_check {
                    sql.push_str(&format!(" WITH CHECK ({c})"));
                }
                sql.push(';');
                self.push(
                    Phase::TableOptions,
                    step(&object, format!("create policy {pn}"), sql),
                );
            }
        }
        let (frls, fforce) = ft
            .map(|f| (f.row_security, f.force_row_security))
            .unwrap_or((false, false));
        if frls != tt.row_security {
            let what = if tt.row_security { "ENABLE" } else { "DISABLE" };
            let mut s = step(
                &object,
                format!("{} row level security", what.to_lowercase()),
                format!("ALTER TABLE {t} {what} ROW LEVEL SECURITY;"),
            );
            if !tt.row_security {
                s = s.hazard(
                    HazardKind::Security,
                    format!("row security of {name} is disabled"),
                );
            }
            self.push(Phase::TableOptions, s);
        }
        if fforce != tt.force_row_security {
            let what = if tt.force_row_security {
                "FORCE"
            } else {
                "NO FORCE"
            };
            let mut s = step(
                &object,
                format!("{} row level security", what.to_lowercase()),
                format!("ALTER TABLE {t} {what} ROW LEVEL SECURITY;"),
            );
            if !tt.force_row_security {
                s = s.hazard(
                    HazardKind::Security,
                    format!("row security of {name} no longer applies to its owner"),
                );
            }
            self.push(Phase::TableOptions, s);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn indexes(
        &mut self,
        object: &str,
        table: &QName,
        schema: &str,
        from: &BTreeMap<String, Index>,
        to: &BTreeMap<String, Index>,
        existing: bool,
    ) {
        for (n, fi) in from {
            if to.get(n).is_none_or(|ti| ti.definition != fi.definition) {
                self.push(
                    Phase::DropConstraints,
                    step(
                        object,
                        format!("drop index {n}"),
                        format!("DROP INDEX {};", QName::new(schema, n).sql()),
                    ),
                );
            }
        }
        for (n, ti) in to {
            let fi = from.get(n).filter(|fi| fi.definition == ti.definition);
            if fi.is_none() {
                let mut s = step(
                    object,
                    format!("create index {n}"),
                    format!("{};", ti.definition),
                );
                if let (true, Some((keys, predicate, nulls_distinct))) = (
                    existing && self.from.tables.contains_key(table),
                    unique_index_parts(&ti.definition),
                ) {
                    s = s.checking(DataCheck::Unique {
                        table: table.clone(),
                        name: n.clone(),
                        keys,
                        predicate,
                        nulls_distinct,
                    });
                }
                self.push(Phase::Indexes, s);
            }
            if fi.map(|f| &f.comment) != Some(&ti.comment) && (ti.comment.is_some() || fi.is_some())
            {
                self.push(
                    Phase::Extras,
                    step(
                        object,
                        format!("comment on index {n}"),
                        comment_sql("INDEX", &QName::new(schema, n).sql(), &ti.comment),
                    ),
                );
            }
        }
    }

    fn triggers(
        &mut self,
        object: &str,
        on: &str,
        from: &BTreeMap<String, Trigger>,
        to: &BTreeMap<String, Trigger>,
    ) {
        for (n, ft) in from {
            let function_replaced = self.replaced_functions.contains(&ft.function);
            if to.get(n).is_none_or(|tt| tt.definition != ft.definition) || function_replaced {
                self.push(
                    Phase::DropTriggers,
                    step(
                        object,
                        format!("drop trigger {n}"),
                        format!("DROP TRIGGER {} ON {on};", ident(n)),
                    ),
                );
            }
        }
        for (n, tt) in to {
            let kept = from.get(n).filter(|ft| {
                ft.definition == tt.definition && !self.replaced_functions.contains(&ft.function)
            });
            if kept.is_none() {
                self.push(
                    Phase::CreateTriggers,
                    step(
                        object,
                        format!("create trigger {n}"),
                        format!("{};", tt.definition),
                    ),
                );
            }
            if kept.map(|k| &k.enabled) != Some(&tt.enabled)
                && (kept.is_some() || tt.enabled != "O")
            {
                let what = match tt.enabled.as_str() {
                    "D" => "DISABLE TRIGGER",
                    "R" => "ENABLE REPLICA TRIGGER",
                    "A" => "ENABLE ALWAYS TRIGGER",
                    _ => "ENABLE TRIGGER",
                };
                self.push(
                    Phase::CreateTriggers,
                    step(
                        object,
                        format!("trigger {n} state"),
                        format!("ALTER TABLE {on} {what} {};", ident(n)),
                    ),
                );
            }
            if kept.map(|k| &k.comment) != Some(&tt.comment)
                && (tt.comment.is_some() || kept.is_some())
            {
                self.push(
                    Phase::Extras,
                    step(
                        object,
                        format!("comment on trigger {n}"),
                        comment_sql("TRIGGER", &format!("{} ON {on}", ident(n)), &tt.comment),
                    ),
                );
            }
        }
    }

    fn views(&mut self) {
        let affected = self.affected_views();
        // Drop in reverse dependency order of FROM.
        let from_order = topo_order(&self.from.views, |v| &v.depends.relations);
        for name in from_order.iter().rev().filter(|n| affected.contains(*n)) {
            let fv = &self.from.views[name];
            let kind = if fv.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            let why = if !self.to.views.contains_key(name) {
                "drop".to_string()
            } else if self.to.views[name].definition != fv.definition
                || self.to.views[name].materialized != fv.materialized
            {
                "drop to recreate with the target definition".to_string()
            } else {
                "drop to recreate around the change of what it reads".to_string()
            };
            self.push(
                Phase::DropViews,
                step(
                    format!("{} {name}", kind.to_lowercase()),
                    why,
                    format!("DROP {kind} {};", name.sql()),
                ),
            );
        }
        // Create in dependency order of TO.
        let to_order = topo_order(&self.to.views, |v| &v.depends.relations);
        for name in &to_order {
            let tv = &self.to.views[name];
            let kind = if tv.materialized {
                "MATERIALIZED VIEW"
            } else {
                "VIEW"
            };
            let object = format!("{} {name}", kind.to_lowercase());
            let fv = self.from.views.get(name);
            let recreate = fv.is_none() || affected.contains(name);
            if !recreate {
                let fv = fv.expect("kept view");
                self.alter_view(name, fv, tv);
                continue;
            }
            let with = if tv.reloptions.is_empty() {
                String::new()
            } else {
                format!(" WITH ({})", tv.reloptions.join(", "))
            };
            let sql = if tv.materialized {
                let data = if tv.populated {
                    "WITH DATA"
                } else {
                    "WITH NO DATA"
                };
                format!(
                    "CREATE MATERIALIZED VIEW {}{with} AS\n{}\n{data};",
                    name.sql(),
                    tv.definition
                )
            } else {
                format!("CREATE VIEW {}{with} AS\n{};", name.sql(), tv.definition)
            };
            let mut s = step(
                &object,
                if fv.is_some() {
                    "recreate from the target definition"
                } else {
                    "create"
                },
                sql,
            );
            if tv.materialized && fv.is_some() {
                s = s.hazard(
                    HazardKind::MatviewRepopulate,
                    "the materialized view is recreated and filled again",
                );
            }
            self.push(Phase::CreateViews, s);
            for i in tv.indexes.values() {
                self.push(
                    Phase::CreateViews,
                    step(&object, "create index", format!("{};", i.definition)),
                );
            }
            for (c, comment) in &tv.column_comments {
                let target = format!("{}.{}", name.sql(), ident(c));
                self.push(
                    Phase::CreateViews,
                    step(
                        &object,
                        format!("comment on column {c}"),
                        comment_sql("COLUMN", &target, &Some(comment.clone())),
                    ),
                );
            }
            // Restore what the dropped view had: its owner when owners are not compared.
            let mut extras = tv.extras.clone();
            if !self.opts.owners {
                if let Some(fv) = fv {
                    extras.owner = fv.extras.owner.clone();
                }
            }
            let saved = self.opts;
            self.opts.owners = true;
            if extras.owner.is_empty() {
                extras.owner = self.from.current_user.clone();
            }
            self.extras(
                Phase::CreateViews,
                kind,
                &name.sql(),
                &object,
                None,
                &extras,
            );
            self.opts = saved;
            for (n, t) in &tv.triggers {
                self.push(
                    Phase::CreateTriggers,
                    step(
                        &object,
                        format!("create trigger {n}"),
                        format!("{};", t.definition),
                    ),
                );
                if t.comment.is_some() {
                    self.push(
                        Phase::Extras,
                        step(
                            &object,
                            format!("comment on trigger {n}"),
                            comment_sql(
                                "TRIGGER",
                                &format!("{} ON {}", ident(n), name.sql()),
                                &t.comment,
                            ),
                        ),
                    );
                }
            }
        }
        // Triggers of views that are dropped disappear with them; nothing else to do.
    }

    fn alter_view(&mut self, name: &QName, fv: &View, tv: &View) {
        let kind = if tv.materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        let object = format!("{} {name}", kind.to_lowercase());
        if fv.reloptions != tv.reloptions {
            let removed: Vec<String> = fv
                .reloptions
                .iter()
                .filter_map(|o| o.split('=').next().map(str::to_string))
                .filter(|k| {
                    !tv.reloptions
                        .iter()
                        .any(|o| o.split('=').next() == Some(k.as_str()))
                })
                .collect();
            if !removed.is_empty() {
                self.push(
                    Phase::Extras,
                    step(
                        &object,
                        "reset options",
                        format!(
                            "ALTER {kind} {} RESET ({});",
                            name.sql(),
                            removed.join(", ")
                        ),
                    ),
                );
            }
            if !tv.reloptions.is_empty() {
                self.push(
                    Phase::Extras,
                    step(
                        &object,
                        "options",
                        format!(
                            "ALTER {kind} {} SET ({});",
                            name.sql(),
                            tv.reloptions.join(", ")
                        ),
                    ),
                );
            }
        }
        for (c, _) in &tv.columns {
            let (a, b) = (fv.column_comments.get(c), tv.column_comments.get(c));
            if a != b {
                let target = format!("{}.{}", name.sql(), ident(c));
                self.push(
                    Phase::Extras,
                    step(
                        &object,
                        format!("comment on column {c}"),
                        comment_sql("COLUMN", &target, &b.cloned()),
                    ),
                );
            }
        }
        if tv.materialized && fv.populated != tv.populated {
            let sql = if tv.populated {
                format!("REFRESH MATERIALIZED VIEW {};", name.sql())
            } else {
                format!("REFRESH MATERIALIZED VIEW {} WITH NO DATA;", name.sql())
            };
            self.push(
                Phase::Extras,
                step(&object, "refresh", sql).hazard(
                    HazardKind::MatviewRepopulate,
                    "the materialized view is refilled",
                ),
            );
        }
        self.indexes(&object, name, &name.schema, &fv.indexes, &tv.indexes, true);
        self.triggers(&object, &name.sql(), &fv.triggers, &tv.triggers);
        self.extras(
            Phase::Extras,
            kind,
            &name.sql(),
            &object,
            Some(&fv.extras),
            &tv.extras,
        );
    }
}

/// Whether `a` appears in `b` in the same order (so `b` is `a` with labels added).
fn is_subsequence(a: &[String], b: &[String]) -> bool {
    let mut it = b.iter();
    a.iter().all(|x| it.any(|y| y == x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_added_in_between_keep_the_order() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(is_subsequence(&s(&["a", "c"]), &s(&["a", "b", "c"])));
        assert!(!is_subsequence(&s(&["c", "a"]), &s(&["a", "b", "c"])));
        assert!(!is_subsequence(&s(&["a", "x"]), &s(&["a", "b"])));
    }

    #[test]
    fn hazard_kinds_round_trip_through_their_names() {
        for k in HazardKind::ALL {
            assert_eq!(HazardKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(HazardKind::parse("everything"), None);
    }
}
