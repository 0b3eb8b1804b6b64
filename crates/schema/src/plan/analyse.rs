//! What a change breaks, worked out before any statement is generated: columns retyped or
//! dropped, relations and enums replaced, functions dropped and made again, what uses an enum
//! recreated with other labels, and FROM's objects rebuilt around all of those (pg_depend).

use super::*;

impl Planner<'_> {
    /// Works out which columns, relations, enums and functions change in a way that breaks what
    /// depends on them.
    pub(super) fn analyse(&mut self) {
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
                Some(te)
                    if !is_subsequence(&fe.labels, &te.labels)
                        || enums::new_label_used(self.to, name, fe, te) =>
                {
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
                    self.enum_columns.insert((ft_name.clone(), fc.name.clone()));
                }
            }
        }
        for (name, ff) in &self.from.functions {
            match self.to.functions.get(name) {
                None => {
                    self.replaced_functions.insert(name.clone());
                }
                Some(tf) if ff.replacing_needs_drop(tf) => {
                    self.replaced_functions.insert(name.clone());
                }
                _ => {}
            }
        }
        self.users_of_replaced_enums();
        let mut replaced: BTreeSet<ObjKey> = self
            .replaced_functions
            .iter()
            .map(|f| ObjKey::Function(f.clone()))
            .collect();
        // Indexes the plan drops, a key's or a plain one: a foreign key that uses one (pg_depend)
        // is dropped before it and added again after, where its own text does not change.
        for (tname, ft) in &self.from.tables {
            let tt = self.to.tables.get(tname);
            let index = |n: &String| ObjKey::Index(QName::new(&tname.schema, n));
            for (cn, fc) in &ft.constraints {
                let keyed = matches!(
                    fc.kind,
                    ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclusion
                );
                let same = tt
                    .and_then(|t| t.constraints.get(cn))
                    .is_some_and(|tc| tc.definition == fc.definition);
                if keyed && !same {
                    // pg_depend's needs name a key's index as its constraint.
                    replaced.insert(ObjKey::Constraint(tname.clone(), cn.clone()));
                }
            }
            for (n, fi) in &ft.indexes {
                let same = tt
                    .and_then(|t| t.indexes.get(n))
                    .is_some_and(|ti| ti.definition == fi.definition);
                if !same {
                    replaced.insert(index(n));
                }
            }
            // A column that becomes generated (or changes expression) is dropped and added back.
            for tc in tt.map(|t| t.columns.as_slice()).unwrap_or_default() {
                let readded = ft
                    .column(&tc.name)
                    .is_some_and(|fc| tc.generated.is_some() && fc.generated != tc.generated);
                if readded {
                    replaced.insert(ObjKey::Column(tname.clone(), tc.name.clone()));
                }
            }
        }
        // PostgreSQL refuses to retype a column a policy or a trigger's WHEN reads: they are
        // dropped before the retype and made again after.
        for (object, needs) in &self.from.needs {
            let reads_changed = needs.iter().any(|n| match n {
                ObjKey::Column(t, c) => self.changed_columns.contains(&(t.clone(), c.clone())),
                _ => false,
            });
            if reads_changed && matches!(object, ObjKey::Policy(..) | ObjKey::Trigger(..)) {
                self.rebuilt.insert(object.clone());
            }
        }
        // To a fixpoint: a foreign key needs a unique index rebuilt for a column it reads.
        loop {
            let more: Vec<ObjKey> = self
                .from
                .needs
                .iter()
                .filter(|(object, needs)| {
                    !self.rebuilt.contains(*object)
                        && needs
                            .iter()
                            .any(|n| replaced.contains(n) || self.rebuilt.contains(n))
                })
                .map(|(object, _)| object.clone())
                .collect();
            if more.is_empty() {
                break;
            }
            self.rebuilt.extend(more);
        }
    }

    /// What uses a replaced enum in FROM (pg_depend) moves to the new type before the old one is
    /// dropped: a function is dropped and made again over it; a column of the enum is retyped
    /// (`changed_columns`); a constraint, index, policy or trigger whose expression holds a label
    /// is rebuilt; a column of an array of it is retyped like a column of it. An aggregate, a
    /// domain, composite or range over the enum is not rebuilt: a blocker says so rather than a
    /// failing apply.
    fn users_of_replaced_enums(&mut self) {
        for (object, needs) in &self.from.needs {
            let Some(e) = needs.iter().find_map(|n| match n {
                ObjKey::Type(t) if self.replaced_enums.contains(t) => Some(t),
                _ => None,
            }) else {
                continue;
            };
            match object {
                ObjKey::Function(f) if self.to.functions.contains_key(f) => {
                    self.replaced_functions.insert(f.clone());
                }
                ObjKey::Function(f) if self.from.aggregates.contains_key(f) => {
                    self.kind_blockers.push(format!(
                        "aggregate {f} uses enum {e}, which the plan recreates with other labels; \
                         the engine does not rebuild an aggregate over the new enum, so the change \
                         is not planned"
                    ))
                }
                // An expression holding a label is stored with the old type's oid: made again.
                ObjKey::Constraint(..)
                | ObjKey::Index(..)
                | ObjKey::Policy(..)
                | ObjKey::Trigger(..) => {
                    self.rebuilt.insert(object.clone());
                }
                ObjKey::Type(t) if t != e => self.kind_blockers.push(format!(
                    "type {t} uses enum {e}, which the plan recreates with other labels; the engine \
                     does not rebuild {t} over the new enum, so the change is not planned"
                )),
                ObjKey::Column(t, c)
                    if self
                        .from
                        .tables
                        .get(t)
                        .and_then(|ft| ft.column(c))
                        .is_some_and(|fc| fc.enum_type.as_ref() != Some(e))
                        && self.to.tables.get(t).is_some_and(|tt| tt.column(c).is_some()) =>
                {
                    let array_of_it = self.from.tables[t]
                        .column(c)
                        .is_some_and(|fc| fc.data_type == format!("{}[]", e.sql()));
                    if array_of_it {
                        self.changed_columns.insert((t.clone(), c.clone()));
                        self.enum_columns.insert((t.clone(), c.clone()));
                    } else {
                        self.kind_blockers.push(format!(
                            "column {t}.{c} uses enum {e} through another type, and the plan \
                             recreates {e} with other labels; the engine does not retype such a \
                             column, so the change is not planned"
                        ))
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether FROM's `object` calls a replaced function, so it is dropped and made again.
    pub(super) fn is_rebuilt(&self, object: &ObjKey) -> bool {
        self.rebuilt.contains(object)
    }

    /// Views of FROM that must be dropped: gone, changed, or reading something that changes.
    pub(super) fn affected_views(&self) -> BTreeSet<QName> {
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
}
