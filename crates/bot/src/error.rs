//! The one error type of the engine's internals: a database failure or a conversation that
//! contradicts itself. Users never see it: it becomes a "try again later" reply.

use store::StoreError;

/// Why an event could not be handled (the user gets a "try again later" reply).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("inconsistent conversation: {0}")]
    Inconsistent(&'static str),
}

impl EngineError {
    /// A lock timeout or an aborted conflict: the event can be handled again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Db(e) | Self::Store(StoreError::Db(e)) => store::is_transient(e),
            _ => false,
        }
    }
}
