//! The background workers' shared bookkeeping: when each last finished a pass (for `/healthz`),
//! and the instance-wide "stopping" signal they and the live streams watch on shutdown.

use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::watch;

/// A background worker whose last pass is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    Reconciler,
    Outbox,
}

/// Shared by every clone of the application state.
#[derive(Debug)]
pub struct Background {
    reconciler_last_run: AtomicI64,
    outbox_last_run: AtomicI64,
    /// Asked to stop (SIGTERM): readiness fails from here, while the instance may still serve
    /// for `SHUTDOWN_DELAY_SECONDS` so a load balancer notices before connections are refused.
    stop_requested: watch::Sender<bool>,
    /// Stopping for real: no new connections, streams end, workers finish.
    stopping: watch::Sender<bool>,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            reconciler_last_run: AtomicI64::new(0),
            outbox_last_run: AtomicI64::new(0),
            stop_requested: watch::channel(false).0,
            stopping: watch::channel(false).0,
        }
    }
}

impl Background {
    fn slot(&self, worker: Worker) -> &AtomicI64 {
        match worker {
            Worker::Reconciler => &self.reconciler_last_run,
            Worker::Outbox => &self.outbox_last_run,
        }
    }

    /// Record that `worker` finished a pass at `at_ms` (Unix milliseconds).
    pub fn record_run(&self, worker: Worker, at_ms: i64) {
        self.slot(worker).store(at_ms, Ordering::Relaxed);
    }

    /// When `worker` last finished a pass, if it has since this instance started.
    pub fn last_run(&self, worker: Worker) -> Option<i64> {
        match self.slot(worker).load(Ordering::Relaxed) {
            0 => None,
            at => Some(at),
        }
    }

    /// Begin a shutdown as SIGTERM does: readiness fails at once; [`Background::stop`] follows
    /// after the configured delay (the application's serving loop does that).
    pub fn request_stop(&self) {
        self.stop_requested.send_replace(true);
    }

    pub fn is_stop_requested(&self) -> bool {
        *self.stop_requested.borrow()
    }

    /// Resolves once a stop was requested (or begun).
    pub async fn stop_requested(&self) {
        let mut rx = self.stop_requested.subscribe();
        let _ = rx.wait_for(|requested| *requested).await;
    }

    /// Ask every worker and live stream to wind down, now.
    pub fn stop(&self) {
        self.stop_requested.send_replace(true);
        self.stopping.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once [`Background::stop`] has been called (at once if it already was).
    pub async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_runs_and_signals_stop() {
        let b = Background::default();
        assert_eq!(b.last_run(Worker::Outbox), None);
        b.record_run(Worker::Outbox, 42);
        assert_eq!(b.last_run(Worker::Outbox), Some(42));
        assert_eq!(b.last_run(Worker::Reconciler), None);
        assert!(!b.is_stopping());
        b.request_stop();
        b.stop_requested().await;
        assert!(b.is_stop_requested() && !b.is_stopping());
        b.stop();
        b.stopped().await;
        assert!(b.is_stopping());
    }
}
