//! Concurrency for incoming updates: one lane per user, so a user's updates are handled in the
//! order Telegram sent them while different users are served in parallel (one user's slow
//! generation never holds up anybody else). A bounded number of lanes run at once, so the
//! database pool is not exhausted; `drain` waits for every accepted update to finish, which is
//! what graceful shutdown needs.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type Handler<J> = Arc<dyn Fn(J) -> BoxFuture + Send + Sync>;

/// Ordered per-key work queues.
pub struct Lanes<K, J> {
    inner: Arc<Inner<K, J>>,
}

struct Inner<K, J> {
    queues: Mutex<Queues<K, J>>,
    handler: Handler<J>,
    running: Semaphore,
    idle: Notify,
    /// Woken whenever a job finishes (for backpressure).
    finished: Notify,
}

struct Queues<K, J> {
    /// Keys with a worker; the queue holds what the worker has not started yet.
    by_key: HashMap<K, VecDeque<J>>,
    /// Accepted and not yet finished.
    in_flight: usize,
    closed: bool,
}

impl<K, J> Clone for Lanes<K, J> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

/// The lanes no longer take work (shutdown has begun).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("shutting down; the update was not accepted")]
pub struct Closed;

impl<K, J> Lanes<K, J>
where
    K: Eq + Hash + Clone + Send + 'static,
    J: Send + 'static,
{
    /// Lanes running at most `parallel` jobs at once, each job handled by `handler`.
    pub fn new<F, Fut>(parallel: usize, handler: F) -> Self
    where
        F: Fn(J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler<J> = Arc::new(move |job| Box::pin(handler(job)));
        Self {
            inner: Arc::new(Inner {
                queues: Mutex::new(Queues {
                    by_key: HashMap::new(),
                    in_flight: 0,
                    closed: false,
                }),
                handler,
                running: Semaphore::new(parallel.max(1)),
                idle: Notify::new(),
                finished: Notify::new(),
            }),
        }
    }

    /// Queues `job` behind earlier jobs of the same key.
    pub fn submit(&self, key: K, job: J) -> Result<(), Closed> {
        let mut q = self.inner.queues.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return Err(Closed);
        }
        q.in_flight += 1;
        if let Some(queue) = q.by_key.get_mut(&key) {
            queue.push_back(job);
            return Ok(());
        }
        q.by_key.insert(key.clone(), VecDeque::new());
        drop(q);
        let inner = self.inner.clone();
        tokio::spawn(async move { worker(inner, key, job).await });
        Ok(())
    }

    /// Jobs accepted and not finished yet.
    pub fn in_flight(&self) -> usize {
        self.inner
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .in_flight
    }

    /// Waits until some job finishes.
    pub async fn wait_finished(&self) {
        let notified = self.inner.finished.notified();
        if self.in_flight() == 0 {
            return;
        }
        notified.await;
    }

    /// Shutdown has begun.
    pub fn is_closed(&self) -> bool {
        self.inner
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed
    }

    /// Stops accepting work.
    pub fn close(&self) {
        self.inner
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed = true;
    }

    /// Stops accepting work and waits until everything accepted has finished.
    pub async fn drain(&self) {
        self.close();
        self.wait_idle().await;
    }

    /// Waits until nothing is in flight (new work may still arrive afterwards).
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

async fn worker<K: Eq + Hash, J>(inner: Arc<Inner<K, J>>, key: K, first: J) {
    let mut job = first;
    loop {
        {
            // The permit bounds parallel work; a closed semaphore cannot happen (never closed).
            let _permit = inner.running.acquire().await;
            // A panicking handler must not wedge the lane or the shutdown count.
            let fut = (inner.handler)(job);
            if let Err(e) = tokio::spawn(fut).await {
                tracing::error!(panicked = e.is_panic(), "an update handler did not finish");
            }
        }
        let mut q = inner.queues.lock().unwrap_or_else(|e| e.into_inner());
        q.in_flight -= 1;
        if q.in_flight == 0 {
            inner.idle.notify_waiters();
        }
        inner.finished.notify_waiters();
        match q.by_key.get_mut(&key).and_then(VecDeque::pop_front) {
            Some(next) => job = next,
            None => {
                q.by_key.remove(&key);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn a_users_updates_run_in_order_while_other_users_proceed() {
        let (tx, mut rx) = mpsc::unbounded_channel::<(u32, u32)>();
        let gate = Arc::new(Semaphore::new(0));
        let g = gate.clone();
        let lanes = Lanes::new(8, move |(user, n): (u32, u32)| {
            let tx = tx.clone();
            let g = g.clone();
            async move {
                if user == 1 && n == 0 {
                    // User 1's first update blocks until the test lets it go.
                    g.acquire().await.unwrap().forget();
                }
                tx.send((user, n)).unwrap();
            }
        });
        for n in 0..3 {
            lanes.submit(1, (1, n)).unwrap();
        }
        for n in 0..3 {
            lanes.submit(2, (2, n)).unwrap();
        }
        // User 2 finishes everything while user 1 is blocked.
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(rx.recv().await.unwrap());
        }
        assert_eq!(seen, vec![(2, 0), (2, 1), (2, 2)]);
        gate.add_permits(1);
        let mut rest = Vec::new();
        for _ in 0..3 {
            rest.push(rx.recv().await.unwrap());
        }
        assert_eq!(rest, vec![(1, 0), (1, 1), (1, 2)]);
        lanes.drain().await;
        assert_eq!(lanes.in_flight(), 0);
    }

    #[tokio::test]
    async fn drain_waits_for_work_in_flight_and_refuses_new_work() {
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        let gate = Arc::new(Semaphore::new(0));
        let g = gate.clone();
        let lanes = Lanes::new(2, move |n: u32| {
            let tx = tx.clone();
            let g = g.clone();
            async move {
                g.acquire().await.unwrap().forget();
                tx.send(n).unwrap();
            }
        });
        lanes.submit(1, 10).unwrap();
        lanes.submit(2, 20).unwrap();
        lanes.submit(2, 21).unwrap();
        lanes.close();
        assert_eq!(lanes.submit(3, 30), Err(Closed));
        let draining = tokio::spawn({
            let lanes = lanes.clone();
            async move { lanes.drain().await }
        });
        // Two jobs may finish; the third needs another permit, so drain cannot be done yet.
        gate.add_permits(2);
        let mut done = vec![rx.recv().await.unwrap(), rx.recv().await.unwrap()];
        assert!(!draining.is_finished());
        gate.add_permits(1);
        draining.await.unwrap();
        done.push(rx.recv().await.unwrap());
        done.sort();
        assert_eq!(done, vec![10, 20, 21]);
        assert_eq!(lanes.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_panicking_handler_does_not_stop_the_lane() {
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        let lanes = Lanes::new(2, move |n: u32| {
            let tx = tx.clone();
            async move {
                if n == 0 {
                    panic!("handler failure under test");
                }
                tx.send(n).unwrap();
            }
        });
        lanes.submit(7, 0).unwrap();
        lanes.submit(7, 1).unwrap();
        assert_eq!(rx.recv().await.unwrap(), 1);
        lanes.drain().await;
        assert_eq!(lanes.in_flight(), 0);
    }
}
