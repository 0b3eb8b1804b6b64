//! Generator of a table's constraints, policies and row security.

use super::*;

impl Planner<'_> {
    /// Constraints, indexes, triggers, policies and row security of a table.
    pub(super) fn table_parts(&mut self, name: &QName, ft: Option<&Table>, tt: &Table) {
        let object = format!("table {name}");
        let t = name.sql();
        let empty = BTreeMap::new();
        let fcons = ft.map(|f| &f.constraints).unwrap_or(&empty);
        for (cn, fc) in fcons {
            let target_ref_recreated = fc
                .references
                .as_ref()
                .is_some_and(|r| self.recreated_tables.contains(r))
                || self.is_rebuilt(&ObjKey::Constraint(name.clone(), cn.clone()));
            let kept = tt
                .constraints
                .get(cn)
                .is_some_and(|tc| change_in_place(fc, tc).is_some());
            if !kept || target_ref_recreated {
                let phase = if fc.kind == ConstraintKind::ForeignKey {
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
                    .dropping(ObjKey::Constraint(name.clone(), cn.clone()))
                    .touching(name),
                );
            }
        }
        for (cn, tc) in &tt.constraints {
            let target_ref_recreated = tc
                .references
                .as_ref()
                .is_some_and(|r| self.recreated_tables.contains(r))
                || self.is_rebuilt(&ObjKey::Constraint(name.clone(), cn.clone()));
            if fcons.get(cn) != Some(tc) || target_ref_recreated {
                let in_place = fcons.get(cn).and_then(|fc| change_in_place(fc, tc));
                if let (Some(InPlace { validate, comment }), false) =
                    (in_place, target_ref_recreated)
                {
                    let target = format!("{} ON {t}", ident(cn));
                    if validate {
                        // Existing rows are checked by the server now: preflight reads them first.
                        let mut s = step(
                            &object,
                            format!("validate constraint {cn}"),
                            format!("ALTER TABLE {t} VALIDATE CONSTRAINT {};", ident(cn)),
                        )
                        .needing(ObjKey::Constraint(name.clone(), cn.clone()))
                        .touching(name);
                        if let Some(ft) = ft {
                            for check in constraint_checks(name, cn, tc, ft) {
                                s = s.checking(check);
                            }
                        }
                        let phase = if tc.kind == ConstraintKind::ForeignKey {
                            Phase::AddForeignKeys
                        } else {
                            Phase::AddConstraints
                        };
                        self.push(phase, s);
                    }
                    if comment {
                        self.push(
                            Phase::Extras,
                            step(
                                &object,
                                format!("comment on constraint {cn}"),
                                comment_sql("CONSTRAINT", &target, &tc.comment),
                            )
                            .needing(ObjKey::Constraint(name.clone(), cn.clone())),
                        );
                    }
                    continue;
                }
                let phase = if tc.kind == ConstraintKind::ForeignKey {
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
                )
                .creating(ObjKey::Constraint(name.clone(), cn.clone()));
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
                        )
                        .needing(ObjKey::Constraint(name.clone(), cn.clone())),
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
        self.triggers(&object, name, &ftrig, &tt.triggers);
        let fpol = ft.map(|f| f.policies.clone()).unwrap_or_default();
        // A policy whose only change is its comment stays; any other change recreates it.
        let same_rule = |a: &Policy, b: &Policy| {
            Policy {
                comment: None,
                ..a.clone()
            } == Policy {
                comment: None,
                ..b.clone()
            }
        };
        let rebuilt_set = self.rebuilt.clone();
        let rebuilt = |pn: &String| rebuilt_set.contains(&ObjKey::Policy(name.clone(), pn.clone()));
        for (pn, fp) in &fpol {
            if !tt.policies.get(pn).is_some_and(|tp| same_rule(fp, tp)) || rebuilt(pn) {
                let mut s = step(
                    &object,
                    format!("drop policy {pn}"),
                    format!("DROP POLICY {} ON {t};", ident(pn)),
                )
                .dropping(ObjKey::Policy(name.clone(), pn.clone()));
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
            let kept = fpol.get(pn).filter(|fp| same_rule(fp, tp) && !rebuilt(pn));
            if kept.and_then(|fp| fp.comment.as_ref()) != tp.comment.as_ref() {
                self.push(
                    Phase::Extras,
                    step(
                        &object,
                        format!("comment on policy {pn}"),
                        comment_sql("POLICY", &format!("{} ON {t}", ident(pn)), &tp.comment),
                    )
                    .needing(ObjKey::Policy(name.clone(), pn.clone())),
                );
            }
            if kept.is_none() {
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
                    tp.command.sql()
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
                    step(&object, format!("create policy {pn}"), sql)
                        .creating(ObjKey::Policy(name.clone(), pn.clone())),
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
            )
            .needing(ObjKey::Relation(name.clone()));
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
            )
            .needing(ObjKey::Relation(name.clone()));
            if !tt.force_row_security {
                s = s.hazard(
                    HazardKind::Security,
                    format!("row security of {name} no longer applies to its owner"),
                );
            }
            self.push(Phase::TableOptions, s);
        }
    }
}

/// What changes on a constraint that stays: its validation, its comment.
struct InPlace {
    validate: bool,
    comment: bool,
}

/// `Some` when `to` is `from` with at most a new comment, or validated where `from` is `NOT VALID`
/// (`VALIDATE CONSTRAINT` keeps the constraint instead of dropping and re-adding it).
fn change_in_place(from: &Constraint, to: &Constraint) -> Option<InPlace> {
    let validate = from.definition.strip_suffix(" NOT VALID") == Some(to.definition.as_str());
    let same = from.kind == to.kind
        && (from.definition == to.definition || validate)
        && from.references == to.references
        && from.columns == to.columns
        && from.referenced_columns == to.referenced_columns;
    same.then_some(InPlace {
        validate,
        comment: from.comment != to.comment,
    })
}
