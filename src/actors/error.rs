//! What can go wrong when an actor handles a command.

use actix::MailboxError;

use crate::domain::order::OrderError;
use crate::domain::rider::RiderError;
use crate::domain::store::{QuoteError, StoreError};
use crate::persistence::StorageError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rider(#[from] RiderError),
    #[error(transparent)]
    Quote(#[from] QuoteError),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The database could not be reached; nothing was written and the call may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The database failed while the write was in flight: it may or may not have happened.
    /// The actor reloads from storage before it takes another command.
    #[error("storage failed during the write: {0}")]
    InDoubt(String),
    /// Another writer got there first; nothing was written.
    #[error("concurrent update: {0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StorageError> for CommandError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Busy | StorageError::Down { .. } => CommandError::Unavailable(error.to_string()),
            ref timeout if timeout.is_pool_timeout() => CommandError::Unavailable(error.to_string()),
            StorageError::Conflict { .. } => CommandError::Conflict(error.to_string()),
            ref outage if outage.is_outage() => CommandError::InDoubt(error.to_string()),
            other => CommandError::Internal(other.to_string()),
        }
    }
}

impl From<MailboxError> for CommandError {
    fn from(error: MailboxError) -> Self {
        // The actor stopped (restarting after a fault) while handling the command: it was not
        // acknowledged, so the caller may retry.
        CommandError::Unavailable(format!("actor unavailable: {error}"))
    }
}
