//! The bridge between the synchronous storage seams and backends that talk to a network
//! (PostgreSQL, an S3-compatible chunk store).
//!
//! A [`Remote`] owns a small tokio runtime of its own, so a backend's connections and their
//! background tasks live apart from the server's runtime and keep working whatever thread calls
//! in. A call blocks the calling thread until the backend answers or its deadline passes:
//! on a worker of a multi-thread runtime (the server) it says so first with
//! [`tokio::task::block_in_place`], so the runtime moves its other tasks elsewhere; from a
//! current-thread runtime (some tests) it waits on a scoped thread; from a plain thread it
//! waits directly. Every call has a deadline, so a backend that stops answering gives
//! [`StorageError::Unavailable`] instead of a hang.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use super::{Result, StorageError};

/// A backend's own runtime and deadline. Dropping it stops the runtime without waiting.
pub(crate) struct Remote {
    runtime: Option<Runtime>,
    handle: Handle,
    /// How long one call may take before it fails as unavailable.
    pub deadline: Duration,
    what: &'static str,
}

impl Remote {
    /// A runtime of `threads` workers named after `what` ("postgres", "s3 chunks").
    pub fn new(what: &'static str, threads: usize, deadline: Duration) -> Result<Remote> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(format!("coffer-{}", what.replace(' ', "-")))
            .enable_all()
            .build()
            .map_err(|e| StorageError::Io(format!("starting the {what} runtime: {e}")))?;
        Ok(Remote {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            deadline,
            what,
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `fut` on this runtime to completion or to the deadline, blocking the caller.
    pub fn block<T: Send>(&self, fut: impl Future<Output = Result<T>> + Send) -> Result<T> {
        let deadline = self.deadline;
        let what = self.what;
        let bounded = async move {
            match tokio::time::timeout(deadline, fut).await {
                Ok(r) => r,
                Err(_) => Err(StorageError::Unavailable(format!(
                    "the {what} backend did not answer within {} s",
                    deadline.as_secs_f64()
                ))),
            }
        };
        match Handle::try_current().map(|h| h.runtime_flavor()) {
            Err(_) => self.handle.block_on(bounded),
            Ok(RuntimeFlavor::MultiThread) => {
                tokio::task::block_in_place(|| self.handle.block_on(bounded))
            }
            // A current-thread runtime cannot give its thread away: wait on another.
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| self.handle.block_on(bounded))
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            }),
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Dropping a runtime inside another runtime's context panics; this does not wait.
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> Remote {
        Remote::new("test", 1, Duration::from_millis(200)).unwrap()
    }

    async fn answer() -> Result<u32> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(7)
    }

    #[test]
    fn answers_from_a_plain_thread() {
        assert_eq!(remote().block(answer()).unwrap(), 7);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn answers_from_a_current_thread_runtime_and_drops_inside_it() {
        let r = remote();
        assert_eq!(r.block(answer()).unwrap(), 7);
        drop(r);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_from_a_multi_thread_runtime() {
        let r = remote();
        assert_eq!(r.block(answer()).unwrap(), 7);
    }

    #[test]
    fn a_call_past_its_deadline_is_unavailable() {
        let r = remote();
        let slow = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        };
        let e = r.block(slow).unwrap_err();
        assert!(matches!(e, StorageError::Unavailable(_)), "{e}");
    }
}
