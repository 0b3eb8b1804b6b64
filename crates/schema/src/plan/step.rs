//! The plan's vocabulary: statements (`Step`), their typed hazards, and the plan they make.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::QName;
use crate::objects::ObjKey;
use crate::preflight::DataCheck;

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
    /// Objects the statement makes, removes, and needs besides what pg_depend says the objects it
    /// makes need: what `graph::sort` orders the plan by.
    #[serde(skip)]
    pub(crate) creates: Vec<ObjKey>,
    #[serde(skip)]
    pub(crate) drops: Vec<ObjKey>,
    #[serde(skip)]
    pub(crate) needs: Vec<ObjKey>,
    /// Objects the statement moves out of their name (`ALTER … RENAME`), to be made again under
    /// it while the old object lives on until a later step drops it.
    #[serde(skip)]
    pub(crate) renames: Vec<ObjKey>,
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
        creates: Vec::new(),
        drops: Vec::new(),
        needs: Vec::new(),
        renames: Vec::new(),
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

    /// Objects the statement makes (the plan's graph puts it after what they need).
    pub fn creates(&self) -> &[ObjKey] {
        &self.creates
    }

    /// Objects the statement removes (after what used them).
    pub fn drops(&self) -> &[ObjKey] {
        &self.drops
    }

    /// Objects the statement moves out of their name.
    pub fn renames(&self) -> &[ObjKey] {
        &self.renames
    }

    /// Objects the statement needs besides what pg_depend says its made objects need.
    pub fn needs(&self) -> &[ObjKey] {
        &self.needs
    }

    pub fn with_hazard(self, kind: HazardKind, reason: impl Into<String>) -> Self {
        self.hazard(kind, reason)
    }

    pub(super) fn hazard(mut self, kind: HazardKind, reason: impl Into<String>) -> Self {
        self.hazards.push(Hazard {
            kind,
            reason: reason.into(),
        });
        self
    }

    pub(super) fn touching(mut self, table: &QName) -> Self {
        self.touches = Some(table.clone());
        self
    }

    pub(crate) fn creating(mut self, key: ObjKey) -> Self {
        self.creates.push(key);
        self
    }

    pub(crate) fn dropping(mut self, key: ObjKey) -> Self {
        self.drops.push(key);
        self
    }

    pub(crate) fn needing(mut self, key: ObjKey) -> Self {
        self.needs.push(key);
        self
    }

    /// The statement renames FROM's `key` out of the way: the new `key` is made after it, and a
    /// step that drops FROM's `key` drops the renamed old object.
    pub(crate) fn renaming(mut self, key: ObjKey) -> Self {
        self.renames.push(key);
        self
    }

    pub(super) fn checking(mut self, check: DataCheck) -> Self {
        self.checks.push(check);
        self
    }
}
