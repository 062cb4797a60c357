//! Time, injectable: SigV4 skew checks, presigned expiry and KMS key deletion dates all ask a
//! [`Clock`], so tests can move time without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The wall clock plus an adjustable offset, for tests that need to jump ahead (or back).
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_secs: AtomicI64,
}

impl OffsetClock {
    pub fn new() -> Arc<Self> {
        Arc::new(OffsetClock::default())
    }
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.as_secs() as i64, Ordering::SeqCst);
    }
    pub fn set_offset_secs(&self, secs: i64) {
        self.offset_secs.store(secs, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        let off = self.offset_secs.load(Ordering::SeqCst);
        let now = SystemTime::now();
        if off >= 0 {
            now + Duration::from_secs(off as u64)
        } else {
            now - Duration::from_secs(off.unsigned_abs())
        }
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Testing only: another clock plus an offset in seconds read from a file on every call (a
/// missing or unparsable file means no offset), so a test can move the time of a running
/// binary (`kms.test_clock_offset_file`).
pub struct FileOffsetClock {
    pub base: SharedClock,
    pub path: std::path::PathBuf,
}

impl Clock for FileOffsetClock {
    fn now(&self) -> SystemTime {
        let now = self.base.now();
        let off = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        if off >= 0 {
            now + Duration::from_secs(off as u64)
        } else {
            now - Duration::from_secs(off.unsigned_abs())
        }
    }
}

/// Seconds since the Unix epoch (0 for times before it).
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub fn unix_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
