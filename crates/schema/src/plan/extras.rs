//! Generator of owners, comments and grants of any object. Each statement needs its object
//! (`key`), so it follows the object's creation wherever the graph moves that.

use super::*;

impl Planner<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn owner_sql(
        &mut self,
        phase: Phase,
        kind: &str,
        target: &str,
        object: &str,
        key: &ObjKey,
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
                )
                .needing(key.clone()),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn grants_sql(
        &mut self,
        phase: Phase,
        kind: &str,
        target: &str,
        object: &str,
        key: &ObjKey,
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
            )
            .needing(key.clone());
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
                )
                .needing(key.clone()),
            );
        }
    }

    /// Owner, comment and grants: for an existing object (`from`) or a new one (`None`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn extras(
        &mut self,
        phase: Phase,
        kind: &str,
        target: &str,
        object: &str,
        key: &ObjKey,
        from: Option<&Extras>,
        to: &Extras,
    ) {
        self.owner_sql(
            phase,
            kind,
            target,
            object,
            key,
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
                step(object, "comment", comment_sql(ck, target, &to.comment)).needing(key.clone()),
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
            key,
            &from_grants,
            &to.grants,
            from.is_some(),
        );
    }
}
