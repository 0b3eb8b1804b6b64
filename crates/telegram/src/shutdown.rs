//! Stopping on SIGTERM or Ctrl-C at any moment, the first milliseconds of startup included: the
//! handlers are installed before the process connects to anything, and every startup step that
//! waits on the outside world (the database, the Bot API) gives way to a shutdown request. A
//! process stopped before it took an update has taken nothing: Telegram still holds every update
//! (no offset moved, no webhook answered), and what a step left unfinished is rolled back by
//! PostgreSQL (the schema is created in one transaction).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A shutdown request, awaited by the transport and raced against by startup steps.
pub struct Shutdown {
    requested: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Resolved once: an async block must not be polled again after it returned.
    done: bool,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("done", &self.done)
            .finish()
    }
}

impl Shutdown {
    /// Resolves when `requested` does (tests pass a channel).
    pub fn new(requested: impl Future<Output = ()> + Send + 'static) -> Self {
        Self {
            requested: Box::pin(requested),
            done: false,
        }
    }

    /// SIGTERM or SIGINT, caught from this call on (the handlers are installed here, not when
    /// the future is first polled, so a signal during startup is never the default "terminate").
    /// Needs a running Tokio runtime.
    #[cfg(unix)]
    pub fn on_signals() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(Self::new(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!("shutdown requested");
        }))
    }

    /// Ctrl-C where there are no Unix signals.
    #[cfg(not(unix))]
    pub fn on_signals() -> std::io::Result<Self> {
        Ok(Self::new(shutdown_signal()))
    }

    /// `step`, unless shutdown is requested first: then `None`, and `step` is dropped where it
    /// stood. Only for steps that are safe to abandon (they wait, read, or write in one
    /// transaction).
    pub async fn unless_requested<T>(&mut self, step: impl Future<Output = T>) -> Option<T> {
        if self.done {
            return None;
        }
        tokio::select! {
            biased;
            () = &mut *self => None,
            value = step => Some(value),
        }
    }
}

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        match self.requested.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.done = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C; the handlers are installed when it is first polled (use
/// [`Shutdown::on_signals`] to have them from the start).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
