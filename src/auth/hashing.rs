//! Password hashing, bounded server-wide.
//!
//! argon2 with the OWASP parameters (19 MiB, 2 passes) is meant to be expensive, which makes
//! every door that hashes (sign-up, login, account creation) a way to spend the server's
//! memory and cores: 40 parallel sign-ups once took 1.5 GB. So hashing runs on at most a few
//! blocking threads at once; a bounded number of callers may wait their turn, and beyond
//! that, or after waiting too long, a caller is told the server is busy (503 with
//! `Retry-After`) instead of queueing without end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Why hashing did not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HashingError {
    #[error("the server is busy; retry in a moment")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

pub struct Hashing {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    patience: Duration,
}

/// Counts a caller among the waiting while it lives, even if its request is dropped.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Hashing {
    /// At most `concurrent` hashes at once, `queue` callers waiting, each for `patience`.
    pub fn new(concurrent: usize, queue: usize, patience: Duration) -> Hashing {
        Hashing {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
            patience,
        }
    }

    /// Run `work` (a hash or a verification) on a blocking thread when a slot is free.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashingError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(HashingError::Busy);
                }
                let _waiting = Waiting(self.waiting.clone());
                match tokio::time::timeout(self.patience, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(HashingError::Busy),
                }
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| HashingError::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_slots_and_the_queue_callers_are_turned_away() {
        let hashing = Arc::new(Hashing::new(1, 1, Duration::from_secs(5)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(std::sync::Mutex::new(hold));
        let busy = {
            let hashing = hashing.clone();
            let hold = hold.clone();
            tokio::spawn(async move { hashing.run(move || hold.lock().unwrap().recv().ok()).await })
        };
        // Let the first take the only slot, then queue a second.
        while hashing.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let queued = {
            let hashing = hashing.clone();
            tokio::spawn(async move { hashing.run(|| 2).await })
        };
        while hashing.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(hashing.run(|| 3).await, Err(HashingError::Busy), "the queue is full");
        release.send(()).unwrap();
        assert!(busy.await.unwrap().is_ok());
        assert_eq!(queued.await.unwrap(), Ok(2));
        assert_eq!(hashing.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_caller_waits_no_longer_than_its_patience() {
        let hashing = Arc::new(Hashing::new(1, 4, Duration::from_millis(50)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let first = {
            let hashing = hashing.clone();
            tokio::spawn(async move { hashing.run(move || hold.recv().ok()).await })
        };
        while hashing.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(hashing.run(|| ()).await, Err(HashingError::Busy));
        release.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
    }
}
