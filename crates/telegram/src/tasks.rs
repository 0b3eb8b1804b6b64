//! Tracked background tasks (generations, deliveries of recovered letters): spawned, counted,
//! and waited for on shutdown, so SIGTERM never cuts a letter off half-way.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;
use tracing::Instrument;

/// A set of running tasks; cheap to clone.
#[derive(Clone, Default)]
pub struct Tasks {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    running: AtomicUsize,
    idle: Notify,
}

struct Finished(Arc<Inner>);

impl Drop for Finished {
    fn drop(&mut self) {
        // Also when the task panics: the count must come down for shutdown to end.
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tasks {
    /// Runs `fut` as a counted task, in the caller's span (a generation's log lines still name
    /// the update and the user it is for).
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.inner.running.fetch_add(1, Ordering::SeqCst);
        let done = Finished(self.inner.clone());
        tokio::spawn(
            async move {
                let _done = done;
                fut.await;
            }
            .instrument(tracing::Span::current()),
        );
    }

    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// Waits until no task runs.
    pub async fn wait(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    #[tokio::test]
    async fn waiting_ends_only_when_every_task_has_finished() {
        let tasks = Tasks::default();
        let gate = Arc::new(Semaphore::new(0));
        for _ in 0..3 {
            let g = gate.clone();
            tasks.spawn(async move {
                g.acquire().await.unwrap().forget();
            });
        }
        assert_eq!(tasks.running(), 3);
        let waiting = tokio::spawn({
            let tasks = tasks.clone();
            async move { tasks.wait().await }
        });
        gate.add_permits(2);
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        gate.add_permits(1);
        waiting.await.unwrap();
        assert_eq!(tasks.running(), 0);
    }

    #[tokio::test]
    async fn a_panicking_task_still_counts_as_finished() {
        let tasks = Tasks::default();
        tasks.spawn(async { panic!("task failure under test") });
        tasks.wait().await;
        assert_eq!(tasks.running(), 0);
    }
}
