//! The schema engine: introspect a live database, diff two schemas, plan and apply the change.
