//! Generator of the changes to an existing table: partitioning, columns' defaults, nullability, identity, comments and grants, dropped columns, table options.

use super::*;

impl Planner<'_> {
    pub(super) fn alter_table(&mut self, name: &QName, ft: &Table, tt: &Table) {
        let object = format!("table {name}");
        let t = name.sql();
        let alter = |sql: String| format!("ALTER TABLE {t} {sql};");
        if let (Some((parent, _)), false) = (&ft.partition_of, ft.partition_of == tt.partition_of) {
            self.push(
                Phase::DetachPartitions,
                step(
                    &object,
                    format!("detach from {parent}"),
                    format!("ALTER TABLE {} DETACH PARTITION {t};", parent.sql()),
                )
                .needing(ObjKey::Relation(name.clone()))
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
                .needing(ObjKey::Relation(name.clone()))
                .touching(name),
            );
        }
        self.add_and_retype_columns(name, ft, tt);
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
                    .needing(ObjKey::Column(name.clone(), tc.name.clone()))
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
                    .needing(ObjKey::Column(name.clone(), tc.name.clone()))
                    .touching(name),
                );
            }
            let enum_rebuilt = self.enum_columns.contains(&(name.clone(), tc.name.clone()));
            let retyped =
                fc.data_type != tc.data_type || fc.collation != tc.collation || enum_rebuilt;
            let default_dropped = fc.default.is_some()
                && (fc.default != tc.default
                    || retyped
                    || self.is_rebuilt(&ObjKey::Default(name.clone(), tc.name.clone())))
                && fc.identity.is_none();
            if let Some(d) = &tc.default {
                if fc.default.as_ref() != Some(d) || default_dropped {
                    self.push(
                        Phase::AlterColumns,
                        step(
                            &object,
                            format!("default of {}", tc.name),
                            // ONLY: see `columns` (a partition keeps its own default).
                            format!("ALTER TABLE ONLY {t} ALTER COLUMN {col} SET DEFAULT {d};"),
                        )
                        .creating(ObjKey::Default(name.clone(), tc.name.clone()))
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
                    for sn in &serial_seqs {
                        self.push(
                            Phase::AlterColumns,
                            step(
                                format!("sequence {sn}"),
                                format!(
                                    "drop the serial sequence of {} (it becomes an identity)",
                                    tc.name
                                ),
                                format!("DROP SEQUENCE {};", sn.sql()),
                            )
                            .dropping(ObjKey::Sequence(sn.clone())),
                        );
                    }
                    // Its sequence may take the serial's name: made after the serial's is dropped.
                    let mut s = step(
                        &object,
                        format!("{} becomes an identity", tc.name),
                        alter(format!(
                            "ALTER COLUMN {col} ADD GENERATED {} AS IDENTITY",
                            identity_kind(k)
                        )),
                    )
                    .needing(ObjKey::Column(name.clone(), tc.name.clone()))
                    .touching(name);
                    for sn in serial_seqs {
                        s = s.creating(ObjKey::Sequence(sn));
                    }
                    self.push(Phase::AlterColumns, s);
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
                        )
                        .needing(ObjKey::Column(name.clone(), tc.name.clone())),
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
                        .needing(ObjKey::Column(name.clone(), tc.name.clone()))
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
                    )
                    .needing(ObjKey::Column(name.clone(), tc.name.clone())),
                );
            }
            self.column_grants(name, &tc.name, &fc.grants, &tc.grants);
        }
        for fc in &ft.columns {
            if tt.column(&fc.name).is_some() || (!fc.local && self.parent_in_from(ft)) {
                continue;
            }
            let drop = step(
                &object,
                format!("drop column {}", fc.name),
                alter(format!("DROP COLUMN {}", ident(&fc.name))),
            )
            .dropping(ObjKey::Column(name.clone(), fc.name.clone()))
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
            if fc.local || !self.parent_in_from(ft) {
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
                    .creating(ObjKey::Column(name.clone(), tc.name.clone()))
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
                .needing(ObjKey::Relation(name.clone()))
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
                    )
                    .needing(ObjKey::Relation(name.clone())),
                );
            }
            if !tt.reloptions.is_empty() {
                self.push(
                    Phase::TableOptions,
                    step(
                        &object,
                        "storage options",
                        alter(format!("SET ({})", tt.reloptions.join(", "))),
                    )
                    .needing(ObjKey::Relation(name.clone())),
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
                .needing(ObjKey::Relation(parent.clone()))
                .needing(ObjKey::Relation(name.clone()))
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
                .needing(ObjKey::Relation(p.clone()))
                .touching(name),
            );
        }
    }
}
