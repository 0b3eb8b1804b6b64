//! Generator of functions and procedures.

use super::*;

impl Planner<'_> {
    pub(super) fn function_target(name: &FnName) -> String {
        format!("{}({})", name.name.sql(), name.args)
    }

    /// FROM's functions that TO has under other parameter names only: to PostgreSQL they are the
    /// same function (the key holds names, the identity does not), and `CREATE OR REPLACE`
    /// refuses to rename an input parameter, so the old one is dropped before the new one is made.
    fn renamed_parameters(&self) -> BTreeSet<FnName> {
        let gone = |n: &&FnName| !self.to.functions.contains_key(*n);
        let new: BTreeSet<(&QName, &str)> = self
            .to
            .functions
            .iter()
            .filter(|(n, _)| !self.from.functions.contains_key(*n))
            .map(|(n, f)| (&n.name, f.arg_types.as_str()))
            .collect();
        self.from
            .functions
            .iter()
            .filter(|(n, f)| gone(n) && new.contains(&(&n.name, f.arg_types.as_str())))
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub(super) fn functions(&mut self) {
        let affected_views = self.affected_views();
        let renamed = self.renamed_parameters();
        for name in &renamed {
            let kind = if self.from.functions[name].procedure {
                "PROCEDURE"
            } else {
                "FUNCTION"
            };
            self.push(
                Phase::DropFunctionsEarly,
                step(
                    format!("{} {name}", kind.to_lowercase()),
                    "drop to recreate with other parameter names",
                    format!("DROP {kind} {};", Self::function_target(name)),
                )
                .dropping(ObjKey::Function(name.clone())),
            );
        }
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
                        if ff.is_some_and(|f| f.replacing_needs_drop(tf)) {
                            "drop to recreate: its result, OUT parameters or defaults change"
                        } else {
                            "drop to recreate over a type the plan recreates"
                        },
                        format!("DROP {kind} {target};"),
                    )
                    .dropping(ObjKey::Function(name.clone())),
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
                    )
                    .creating(ObjKey::Function(name.clone())),
                );
            }
            let kept = ff.filter(|_| !recreate).map(|f| &f.extras);
            self.extras(
                Phase::Extras,
                kind,
                &target,
                &object,
                &ObjKey::Function(name.clone()),
                kept,
                &tf.extras,
            );
        }
        for (name, ff) in &self.from.functions {
            if self.to.functions.contains_key(name) || renamed.contains(name) {
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
                )
                .dropping(ObjKey::Function(name.clone())),
            );
        }
    }
}
