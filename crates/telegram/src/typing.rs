//! The "typing…" indicator during a generation. Telegram shows a chat action for about five
//! seconds, so it is sent again every 4 s by a task that ends when the generation does.

use std::future::Future;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// How often the chat action is refreshed (bot.md: every 4 s).
pub const REFRESH: Duration = Duration::from_secs(4);

/// A running indicator; stop it with [`Typing::stop`]. Dropping it stops it too.
pub struct Typing {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Typing {
    /// Runs `action` now and then every `every` until stopped.
    pub fn start<F, Fut>(every: Duration, mut action: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            // After a slow request, wait a whole period again rather than firing twice at once.
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stopped => break,
                    _ = ticks.tick() => action().await,
                }
            }
        });
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the indicator and waits until no more actions can be sent.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Typing {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn typing_is_sent_at_once_and_every_four_seconds_until_stopped() {
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        let typing = Typing::start(REFRESH, move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        // At 0 s, 4 s, 8 s and 12 s: four actions within 13 s of a generation.
        tokio::time::sleep(Duration::from_millis(13_000)).await;
        assert_eq!(sent.load(Ordering::SeqCst), 4);
        typing.stop().await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            sent.load(Ordering::SeqCst),
            4,
            "no action after the generation ended"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_indicator_ends_it() {
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        let typing = Typing::start(REFRESH, move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(typing);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    }
}
