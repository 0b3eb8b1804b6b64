//! Generator of functions and procedures.

use super::*;

impl Planner<'_> {
    pub(super) fn function_target(name: &FnName) -> String {
        format!("{}({})", name.name.sql(), name.args)
    }

    pub(super) fn functions(&mut self) {
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
}
