//! Argon2id hashing, always off the async threads and never more than a few at once.
//!
//! Each hash takes about 19 MiB and a core for tens of milliseconds. Every hash and verification
//! first takes a permit from [`HASHING`], then runs on a blocking thread, so a flood of log-ins or
//! registrations waits in line instead of exhausting memory, the blocking pool or the async threads.

use crate::model::Password;
use crate::server::error::{ServerError, ServerResult};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How many argon2 computations may run at once: one per core, at most [`MAX_PERMITS`].
pub fn permits() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_PERMITS)
}

/// The ceiling on concurrent argon2 work whatever the core count (memory: 19 MiB each).
pub const MAX_PERMITS: usize = 4;

fn hashing() -> &'static Semaphore {
    static HASHING: OnceLock<Semaphore> = OnceLock::new();
    HASHING.get_or_init(|| Semaphore::new(permits()))
}

/// Computations running now, and the most seen at once (for tests and logs).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The most argon2 computations that ever ran at the same time in this process.
pub fn peak_concurrency() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Run `work` on a blocking thread while holding a hashing permit. The permit moves into the
/// blocking task, so it is released only when the computation ends, even if the request is dropped.
async fn run_limited<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> ServerResult<T> + Send + 'static,
) -> ServerResult<T> {
    let permit: SemaphorePermit<'static> = hashing()
        .acquire()
        .await
        .map_err(|e| ServerError::Internal(format!("{what}: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        let result = work();
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
        result
    })
    .await
    .map_err(|e| ServerError::Internal(format!("{what} task failed: {e}")))?
}

fn hash_blocking(password: &str) -> ServerResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Internal(format!("password hashing failed: {e}")))
}

/// Hash a new password (argon2id, default cost, random salt) as a PHC string.
pub async fn hash(password: Password) -> ServerResult<String> {
    run_limited("hashing", move || hash_blocking(password.expose())).await
}

/// A hash of a random password, verified against when the email is unknown so both cases cost the same.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = SaltString::generate(&mut OsRng);
        hash_blocking(random.as_str()).unwrap_or_default()
    })
}

/// True if `password` matches `stored`. With no stored hash it checks a dummy and returns false.
pub async fn verify(password: String, stored: Option<String>) -> ServerResult<bool> {
    run_limited("verify", move || {
        let known = stored.is_some();
        let hash_text = stored.unwrap_or_else(|| dummy_hash().to_string());
        let parsed = PasswordHash::new(&hash_text)
            .map_err(|e| ServerError::Internal(format!("stored hash unreadable: {e}")))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let hash = hash(Password::parse("correct horse battery".into()).unwrap())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify("correct horse battery".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify("wrong".into(), Some(hash)).await.unwrap());
        assert!(!verify("anything".into(), None).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_hashes_runs_a_few_at_a_time() {
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                tokio::spawn(async move {
                    let pw = Password::parse(format!("flood password {i}")).unwrap();
                    hash(pw).await.unwrap()
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(peak_concurrency() >= 1);
        assert!(
            peak_concurrency() <= permits(),
            "{} argon2 runs at once, limit {}",
            peak_concurrency(),
            permits()
        );
    }
}
