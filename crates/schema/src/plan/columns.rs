//! Generator of added and retyped columns (with the casts' hazards and data checks).

use super::*;

impl Planner<'_> {
    /// Columns added (or recreated) and retyped, the retypes of a table in one statement.
    pub(super) fn add_and_retype_columns(&mut self, name: &QName, ft: &Table, tt: &Table) {
        let object = format!("table {name}");
        let t = name.sql();
        let alter = |sql: String| format!("ALTER TABLE {t} {sql};");
        // A default is each table's own: on a partitioned or inherited table it would reach the
        // children too (a partition's own default lost), and theirs are planned for them.
        let only = |sql: String| format!("ALTER TABLE ONLY {t} {sql};");
        // (subcommand, hazards, description, column whose type changes)
        let mut retypes: Vec<(String, Vec<Hazard>, String, Option<String>)> = Vec::new();
        let mut retype_checks: Vec<DataCheck> = Vec::new();
        // Every retyped column: the statement drops the old column's shape and makes the new one.
        let mut retyped_names: Vec<String> = Vec::new();
        for tc in &tt.columns {
            let col = ident(&tc.name);
            let Some(fc) = ft.column(&tc.name) else {
                if !tc.local && self.parent_in_from(tt) {
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
                .creating(ObjKey::Column(name.clone(), tc.name.clone()))
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
                        .needing(ObjKey::Column(name.clone(), tc.name.clone()))
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
                        )
                        .needing(ObjKey::Column(name.clone(), tc.name.clone())),
                    );
                }
                self.column_grants(name, &tc.name, &BTreeSet::new(), &tc.grants);
                continue;
            };
            if !fc.local
                && self.parent_in_from(ft)
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
                .dropping(ObjKey::Column(name.clone(), tc.name.clone()))
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
                    .creating(ObjKey::Column(name.clone(), tc.name.clone()))
                    .hazard(
                        HazardKind::TableRewrite,
                        format!("computing {} rewrites every row", tc.name),
                    )
                    .touching(name),
                );
                self.rewritten.insert(name.clone());
                // The column added back has no grants yet.
                self.column_grants(name, &tc.name, &BTreeSet::new(), &tc.grants);
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
                    .needing(ObjKey::Column(name.clone(), tc.name.clone()))
                    .touching(name),
                );
            }
            let enum_rebuilt = self.enum_columns.contains(&(name.clone(), tc.name.clone()));
            let retype =
                (fc.data_type != tc.data_type || fc.collation != tc.collation || enum_rebuilt)
                    && (fc.local || !self.parent_in_from(ft));
            let rebuilt = self.is_rebuilt(&ObjKey::Default(name.clone(), tc.name.clone()));
            if fc.default.is_some()
                && (fc.default != tc.default || retype || rebuilt)
                && fc.identity.is_none()
            {
                self.push(
                    Phase::AlterColumns,
                    step(
                        &object,
                        format!("drop default of {}", tc.name),
                        only(format!("ALTER COLUMN {col} DROP DEFAULT")),
                    )
                    .dropping(ObjKey::Default(name.clone(), tc.name.clone()))
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
                    // The generation expression is the column's default to pg_depend.
                    .dropping(ObjKey::Default(name.clone(), tc.name.clone()))
                    .touching(name),
                );
            }
            if retype {
                let through_text = fc.enum_type.is_some() || tc.enum_type.is_some() || enum_rebuilt;
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
                        // The enum, or the element enum of an array.
                        enum_labels: tc
                            .enum_type
                            .as_ref()
                            .or_else(|| {
                                let element = tc.data_type.strip_suffix("[]")?;
                                self.to.enums.keys().find(|e| e.sql() == element)
                            })
                            .and_then(|e| {
                                let recreated = self.replaced_enums.contains(e)
                                    || !self.from.enums.contains_key(e);
                                recreated
                                    .then(|| self.to.enums.get(e).map(|en| en.labels.clone()))
                                    .flatten()
                            }),
                    });
                }
                retyped_names.push(tc.name.clone());
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
            for c in retyped_names {
                let key = ObjKey::Column(name.clone(), c);
                s = s.dropping(key.clone()).creating(key);
            }
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
    }

    /// Columns a parent's change takes care of.
    pub(super) fn parent_in_from(&self, tab: &Table) -> bool {
        tab.partition_of
            .as_ref()
            .is_some_and(|(p, _)| self.from.tables.contains_key(p))
            || tab
                .inherits
                .iter()
                .any(|p| self.from.tables.contains_key(p))
    }

    pub(super) fn foreign_keys_on_retyped(
        &self,
        name: &QName,
        retyped: &BTreeSet<String>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (tn, t) in &self.from.tables {
            for (cn, c) in &t.constraints {
                if c.kind != ConstraintKind::ForeignKey {
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
}
