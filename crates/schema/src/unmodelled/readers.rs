//! The catalog readers of the unmodelled kinds: one query per kind, each rendering an object as
//! (kind, schema, identity, definition, owner).

use crate::catalog::{grants_expr, not_ext_member, USER_NS};

fn comment(oid: &str, catalog: &str) -> String {
    format!("'comment: ' || pg_catalog.obj_description({oid}, '{catalog}')")
}

fn grants(acl: &str, kind: &str, owner: &str) -> String {
    format!(
        "'grants: ' || pg_catalog.array_to_string({}, ', ')",
        grants_expr(acl, kind, owner)
    )
}

/// Every `key: value` of a jsonb object, one per line, in key order.
fn json_lines(json: &str) -> String {
    format!(
        "(SELECT string_agg(e.key || ': ' || e.value, E'\\n' ORDER BY e.key) FROM pg_catalog.jsonb_each_text({json}) e)"
    )
}

/// The lines `expr` yields over `from_where`, sorted (so the order of oids does not matter).
fn sorted_lines(expr: &str, from_where: &str) -> String {
    format!("(SELECT string_agg(l, E'\\n' ORDER BY l) FROM (SELECT {expr} AS l {from_where}) s)")
}

fn lines(parts: &[String]) -> String {
    format!("concat_ws(E'\\n', {})", parts.join(", "))
}

/// The readers: each selects (kind, schema, identity, definition, owner).
pub(super) fn readers() -> Vec<String> {
    let mut out = Vec::new();
    let ext = not_ext_member;

    // Base types (not their array types) and shell types.
    out.push(format!(
        "SELECT CASE WHEN t.typisdefined THEN 'base type' ELSE 'shell type' END AS kind, n.nspname::text AS schema,
                n.nspname || '.' || t.typname AS identity, {def} AS definition, pg_catalog.pg_get_userbyid(t.typowner)::text AS owner
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE (t.typtype = 'b' OR (t.typtype = 'p' AND NOT t.typisdefined))
           AND NOT (t.typcategory = 'A' AND t.typelem <> 0) AND {USER_NS} AND {ext}",
        def = lines(&[
            "'input: ' || t.typinput::text".into(),
            "'output: ' || t.typoutput::text".into(),
            "'receive: ' || t.typreceive::text".into(),
            "'send: ' || t.typsend::text".into(),
            "'typmod in: ' || t.typmodin::text".into(),
            "'typmod out: ' || t.typmodout::text".into(),
            "'analyze: ' || t.typanalyze::text".into(),
            "'length: ' || t.typlen::text".into(),
            "'by value: ' || t.typbyval::text".into(),
            "'alignment: ' || t.typalign::text".into(),
            "'storage: ' || t.typstorage::text".into(),
            "'category: ' || t.typcategory::text".into(),
            "'preferred: ' || t.typispreferred::text".into(),
            "'delimiter: ' || t.typdelim::text".into(),
            "'element: ' || CASE WHEN t.typelem <> 0 THEN pg_catalog.format_type(t.typelem, NULL) END".into(),
            "'collatable: ' || (t.typcollation <> 0)::text".into(),
            "'default: ' || t.typdefault".into(),
            comment("t.oid", "pg_type"),
            grants("t.typacl", "T", "t.typowner"),
        ]),
        ext = ext("pg_type", "t.oid"),
    ));

    // Window functions written in C.
    out.push(format!(
        "SELECT 'window function', n.nspname::text, n.nspname || '.' || p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
                {def}, pg_catalog.pg_get_userbyid(p.proowner)::text
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prokind = 'w' AND {USER_NS} AND {ext}",
        def = lines(&[
            "pg_catalog.pg_get_functiondef(p.oid)".into(),
            comment("p.oid", "pg_proc"),
            grants("p.proacl", "f", "p.proowner"),
        ]),
        ext = ext("pg_proc", "p.oid"),
    ));

    // Operators, operator classes and families.
    out.push(format!(
        "SELECT 'operator', n.nspname::text,
                n.nspname || '.' || o.oprname || '(' || coalesce(pg_catalog.format_type(NULLIF(o.oprleft, 0), NULL), 'NONE')
                  || ', ' || coalesce(pg_catalog.format_type(NULLIF(o.oprright, 0), NULL), 'NONE') || ')',
                {def}, pg_catalog.pg_get_userbyid(o.oprowner)::text
         FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            "'result: ' || pg_catalog.format_type(o.oprresult, NULL)".into(),
            "'function: ' || o.oprcode::text".into(),
            "'restrict: ' || o.oprrest::text".into(),
            "'join: ' || o.oprjoin::text".into(),
            "'commutator: ' || CASE WHEN o.oprcom <> 0 THEN o.oprcom::regoperator::text END".into(),
            "'negator: ' || CASE WHEN o.oprnegate <> 0 THEN o.oprnegate::regoperator::text END".into(),
            "'merges: ' || o.oprcanmerge::text".into(),
            "'hashes: ' || o.oprcanhash::text".into(),
            comment("o.oid", "pg_operator"),
        ]),
        ext = ext("pg_operator", "o.oid"),
    ));
    out.push(format!(
        "SELECT 'operator class', n.nspname::text, n.nspname || '.' || c.opcname || ' using ' || am.amname, {def},
                pg_catalog.pg_get_userbyid(c.opcowner)::text
         FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace
         JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod
         JOIN pg_catalog.pg_opfamily f ON f.oid = c.opcfamily JOIN pg_catalog.pg_namespace fn ON fn.oid = f.opfnamespace
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            "'type: ' || pg_catalog.format_type(c.opcintype, NULL)".into(),
            "'default: ' || c.opcdefault::text".into(),
            "'family: ' || fn.nspname || '.' || f.opfname".into(),
            "'storage: ' || pg_catalog.format_type(NULLIF(c.opckeytype, 0), NULL)".into(),
            comment("c.oid", "pg_opclass"),
        ]),
        ext = ext("pg_opclass", "c.oid"),
    ));
    out.push(format!(
        "SELECT 'operator family', n.nspname::text, n.nspname || '.' || f.opfname || ' using ' || am.amname, {def},
                pg_catalog.pg_get_userbyid(f.opfowner)::text
         FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace
         JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            sorted_lines(
                "'operator ' || o.amopstrategy::text || ' ' || o.amopopr::regoperator::text || ' for ' || o.amoppurpose::text",
                "FROM pg_catalog.pg_amop o WHERE o.amopfamily = f.oid",
            ),
            sorted_lines(
                "'function ' || p.amprocnum::text || ' (' || pg_catalog.format_type(p.amproclefttype, NULL) || ', '
                   || pg_catalog.format_type(p.amprocrighttype, NULL) || ') ' || p.amproc::regprocedure::text",
                "FROM pg_catalog.pg_amproc p WHERE p.amprocfamily = f.oid",
            ),
            comment("f.oid", "pg_opfamily"),
        ]),
        ext = ext("pg_opfamily", "f.oid"),
    ));

    // Casts (not in a schema; user-made ones have oids past the initial catalog).
    out.push(format!(
        "SELECT 'cast', NULL::text, '(' || pg_catalog.format_type(c.castsource, NULL) || ' AS ' || pg_catalog.format_type(c.casttarget, NULL) || ')',
                {def}, NULL::text
         FROM pg_catalog.pg_cast c WHERE c.oid >= 16384 AND {ext}
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = 'pg_cast'::regclass
                           AND x.objid = c.oid AND x.deptype = 'i')",
        def = lines(&[
            "'function: ' || CASE WHEN c.castfunc <> 0 THEN c.castfunc::regprocedure::text END".into(),
            "'context: ' || c.castcontext::text".into(),
            "'method: ' || c.castmethod::text".into(),
            comment("c.oid", "pg_cast"),
        ]),
        ext = ext("pg_cast", "c.oid"),
    ));

    // Encoding conversions.
    out.push(format!(
        "SELECT 'conversion', n.nspname::text, n.nspname || '.' || c.conname, {def}, pg_catalog.pg_get_userbyid(c.conowner)::text
         FROM pg_catalog.pg_conversion c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            "'from: ' || pg_catalog.pg_encoding_to_char(c.conforencoding)".into(),
            "'to: ' || pg_catalog.pg_encoding_to_char(c.contoencoding)".into(),
            "'function: ' || c.conproc::text".into(),
            "'default: ' || c.condefault::text".into(),
            comment("c.oid", "pg_conversion"),
        ]),
        ext = ext("pg_conversion", "c.oid"),
    ));

    // Text search configurations, dictionaries, parsers, templates.
    out.push(format!(
        "SELECT 'text search configuration', n.nspname::text, n.nspname || '.' || c.cfgname, {def},
                pg_catalog.pg_get_userbyid(c.cfgowner)::text
         FROM pg_catalog.pg_ts_config c JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            "'parser: ' || (SELECT pn.nspname || '.' || p.prsname FROM pg_catalog.pg_ts_parser p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace WHERE p.oid = c.cfgparser)".into(),
            sorted_lines(
                "'mapping ' || coalesce((SELECT tt.alias FROM pg_catalog.ts_token_type(c.cfgparser) tt WHERE tt.tokid = m.maptokentype), m.maptokentype::text)
                   || ' ' || lpad(m.mapseqno::text, 4, '0') || ': ' || m.mapdict::regdictionary::text",
                "FROM pg_catalog.pg_ts_config_map m WHERE m.mapcfg = c.oid",
            ),
            comment("c.oid", "pg_ts_config"),
        ]),
        ext = ext("pg_ts_config", "c.oid"),
    ));
    out.push(format!(
        "SELECT 'text search dictionary', n.nspname::text, n.nspname || '.' || d.dictname, {def},
                pg_catalog.pg_get_userbyid(d.dictowner)::text
         FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            "'template: ' || (SELECT tn.nspname || '.' || t.tmplname FROM pg_catalog.pg_ts_template t JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace WHERE t.oid = d.dicttemplate)".into(),
            "'options: ' || d.dictinitoption".into(),
            comment("d.oid", "pg_ts_dict"),
        ]),
        ext = ext("pg_ts_dict", "d.oid"),
    ));
    out.push(format!(
        "SELECT 'text search parser', n.nspname::text, n.nspname || '.' || p.prsname, {def}, NULL::text
         FROM pg_catalog.pg_ts_parser p JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            json_lines("pg_catalog.to_jsonb(p) - 'oid' - 'prsname' - 'prsnamespace'"),
            comment("p.oid", "pg_ts_parser"),
        ]),
        ext = ext("pg_ts_parser", "p.oid"),
    ));
    out.push(format!(
        "SELECT 'text search template', n.nspname::text, n.nspname || '.' || t.tmplname, {def}, NULL::text
         FROM pg_catalog.pg_ts_template t JOIN pg_catalog.pg_namespace n ON n.oid = t.tmplnamespace
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            json_lines("pg_catalog.to_jsonb(t) - 'oid' - 'tmplname' - 'tmplnamespace'"),
            comment("t.oid", "pg_ts_template"),
        ]),
        ext = ext("pg_ts_template", "t.oid"),
    ));

    // Event triggers.
    out.push(format!(
        "SELECT 'event trigger', NULL::text, e.evtname::text, {def}, pg_catalog.pg_get_userbyid(e.evtowner)::text
         FROM pg_catalog.pg_event_trigger e WHERE {ext}",
        def = lines(&[
            "'event: ' || e.evtevent".into(),
            "'function: ' || e.evtfoid::regprocedure::text".into(),
            "'enabled: ' || e.evtenabled::text".into(),
            "'tags: ' || pg_catalog.array_to_string(e.evttags, ', ')".into(),
            comment("e.oid", "pg_event_trigger"),
        ]),
        ext = ext("pg_event_trigger", "e.oid"),
    ));

    // Subscriptions of this database (only the columns every role may read).
    out.push(
        "SELECT 'subscription', NULL::text, s.subname::text,
                concat_ws(E'\\n', 'enabled: ' || s.subenabled::text, 'publications: ' || pg_catalog.array_to_string(s.subpublications, ', ')),
                pg_catalog.pg_get_userbyid(s.subowner)::text
         FROM pg_catalog.pg_subscription s
         WHERE s.subdbid = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())"
            .into(),
    );

    // Foreign-data wrappers, servers, user mappings, foreign tables.
    out.push(format!(
        "SELECT 'foreign-data wrapper', NULL::text, w.fdwname::text, {def}, pg_catalog.pg_get_userbyid(w.fdwowner)::text
         FROM pg_catalog.pg_foreign_data_wrapper w WHERE {ext}",
        def = lines(&[
            "'handler: ' || w.fdwhandler::regproc::text".into(),
            "'validator: ' || w.fdwvalidator::regproc::text".into(),
            "'options: ' || pg_catalog.array_to_string(w.fdwoptions, ', ')".into(),
            grants("w.fdwacl", "F", "w.fdwowner"),
            comment("w.oid", "pg_foreign_data_wrapper"),
        ]),
        ext = ext("pg_foreign_data_wrapper", "w.oid"),
    ));
    out.push(format!(
        "SELECT 'server', NULL::text, s.srvname::text, {def}, pg_catalog.pg_get_userbyid(s.srvowner)::text
         FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw WHERE {ext}",
        def = lines(&[
            "'wrapper: ' || w.fdwname".into(),
            "'type: ' || s.srvtype".into(),
            "'version: ' || s.srvversion".into(),
            "'options: ' || pg_catalog.array_to_string(s.srvoptions, ', ')".into(),
            grants("s.srvacl", "S", "s.srvowner"),
            comment("s.oid", "pg_foreign_server"),
        ]),
        ext = ext("pg_foreign_server", "s.oid"),
    ));
    out.push(
        "SELECT 'user mapping', NULL::text, u.usename || ' on ' || u.srvname,
                coalesce('options: ' || pg_catalog.array_to_string(u.umoptions, ', '), ''), NULL::text
         FROM pg_catalog.pg_user_mappings u"
            .into(),
    );
    out.push(format!(
        "SELECT 'foreign table', n.nspname::text, n.nspname || '.' || c.relname, {def}, pg_catalog.pg_get_userbyid(c.relowner)::text
         FROM pg_catalog.pg_foreign_table f JOIN pg_catalog.pg_class c ON c.oid = f.ftrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_catalog.pg_foreign_server s ON s.oid = f.ftserver
         WHERE {USER_NS} AND {ext}",
        def = lines(&[
            "'server: ' || s.srvname".into(),
            "'options: ' || pg_catalog.array_to_string(f.ftoptions, ', ')".into(),
            "(SELECT string_agg('column ' || a.attname || ': ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                 || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                 || coalesce(' default ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
                 || coalesce(' options ' || pg_catalog.array_to_string(a.attfdwoptions, ', '), '')
                 || coalesce(' comment ' || pg_catalog.col_description(a.attrelid, a.attnum), ''), E'\\n' ORDER BY a.attnum)
               FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)".into(),
            sorted_lines(
                "'constraint ' || co.conname || ': ' || pg_catalog.pg_get_constraintdef(co.oid)",
                "FROM pg_catalog.pg_constraint co WHERE co.conrelid = c.oid",
            ),
            comment("c.oid", "pg_class"),
            grants("c.relacl", "r", "c.relowner"),
        ]),
        ext = ext("pg_class", "c.oid"),
    ));

    // Rewrite rules other than a view's own.
    out.push(format!(
        "SELECT 'rule', n.nspname::text, n.nspname || '.' || c.relname || '.' || r.rulename, {def}, NULL::text
         FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE r.rulename <> '_RETURN' AND {USER_NS} AND {ext}",
        def = lines(&[
            "pg_catalog.pg_get_ruledef(r.oid)".into(),
            "'enabled: ' || r.ev_enabled::text".into(),
            comment("r.oid", "pg_rewrite"),
        ]),
        ext = ext("pg_class", "c.oid"),
    ));

    // Procedural languages, access methods and transforms made by hand, not by an extension.
    out.push(format!(
        "SELECT 'language', NULL::text, l.lanname::text, {def}, pg_catalog.pg_get_userbyid(l.lanowner)::text
         FROM pg_catalog.pg_language l WHERE l.oid >= 16384 AND {ext}",
        def = lines(&[
            "'trusted: ' || l.lanpltrusted::text".into(),
            "'handler: ' || l.lanplcallfoid::regprocedure::text".into(),
            "'inline: ' || l.laninline::regprocedure::text".into(),
            "'validator: ' || l.lanvalidator::regprocedure::text".into(),
            grants("l.lanacl", "l", "l.lanowner"),
            comment("l.oid", "pg_language"),
        ]),
        ext = ext("pg_language", "l.oid"),
    ));
    out.push(format!(
        "SELECT 'access method', NULL::text, a.amname::text, {def}, NULL::text
         FROM pg_catalog.pg_am a WHERE a.oid >= 16384 AND {ext}",
        def = lines(&[
            "'type: ' || a.amtype::text".into(),
            "'handler: ' || a.amhandler::text".into(),
            comment("a.oid", "pg_am"),
        ]),
        ext = ext("pg_am", "a.oid"),
    ));
    out.push(format!(
        "SELECT 'transform', NULL::text, 'for ' || pg_catalog.format_type(t.trftype, NULL) || ' language ' || l.lanname, {def}, NULL::text
         FROM pg_catalog.pg_transform t JOIN pg_catalog.pg_language l ON l.oid = t.trflang
         WHERE t.oid >= 16384 AND {ext}",
        def = lines(&[
            "'from sql: ' || t.trffromsql::regprocedure::text".into(),
            "'to sql: ' || t.trftosql::regprocedure::text".into(),
            comment("t.oid", "pg_transform"),
        ]),
        ext = ext("pg_transform", "t.oid"),
    ));

    // Comments on extensions that differ from their control file's.
    out.push(format!(
        "SELECT 'comment on extension', NULL::text, e.extname::text, {comment}, NULL::text
         FROM pg_catalog.pg_extension e
         -- only a comment other than the control file's (which comes with the extension)
         WHERE pg_catalog.obj_description(e.oid, 'pg_extension') IS DISTINCT FROM
               (SELECT a.comment FROM pg_catalog.pg_available_extensions a WHERE a.name = e.extname)",
        comment = comment("e.oid", "pg_extension"),
    ));

    // Security labels on anything in the database (pg_describe_object names it without oids).
    out.push(
        "SELECT 'security label', NULL::text,
                pg_catalog.pg_describe_object(l.classoid, l.objoid, l.objsubid) || ' (' || l.provider || ')',
                'label: ' || l.label, NULL::text
         FROM pg_catalog.pg_seclabel l"
            .into(),
    );

    out
}
