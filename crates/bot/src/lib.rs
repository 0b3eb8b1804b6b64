//! The conversation engine: user events in, replies out, all state in PostgreSQL.
