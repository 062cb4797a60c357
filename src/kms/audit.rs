//! The KMS audit log: one JSON line per KMS use, through the JSON API or by the S3 layer on
//! PUT and GET, and one per key the KMS destroys on its own (deletion windows that ended).
//!
//! A line holds the time, the request id, where the use came from (`api`, `s3`, `internal`),
//! the caller's access key and source address, the operation, the key ARN, the encryption
//! context and the outcome (`success` or the AWS exception name). It never holds plaintext,
//! data keys, key material, ciphertext blobs or secrets: [`AuditEntry`] has no field that
//! could carry them. The encryption context is logged as AWS CloudTrail logs it: it is not
//! secret by design (it is authenticated, not encrypted).
//!
//! Who is calling is known to the protocol layer, not to the KMS, so it travels in a
//! task-local [`Caller`] that the server sets around each request ([`with_caller`]); the S3
//! side adds the access key once SigV4 has verified it ([`set_access_key`]). KMS calls outside
//! a request are attributed to `internal`.
//!
//! Writes are appends of whole lines under a lock, so concurrent requests never interleave
//! within a line. A failed write (disk full, file removed) is reported in the server log,
//! never to the caller: a deliberate choice, so an audit problem cannot make stored data
//! unreadable. A deployment that must fail closed needs a different policy here.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;

use super::EncryptionContext;

/// Who is calling, for the current request.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub request_id: Option<String>,
    pub source_address: Option<String>,
    pub access_key: Option<String>,
}

tokio::task_local! {
    static CALLER: RefCell<Caller>;
}

/// Runs `fut` with `caller` as the current caller of every KMS use inside it.
pub async fn with_caller<F: std::future::Future>(caller: Caller, fut: F) -> F::Output {
    CALLER.scope(RefCell::new(caller), fut).await
}

/// Records the verified access key of the current request (no-op outside a request).
pub fn set_access_key(access_key: &str) {
    let _ = CALLER.try_with(|c| c.borrow_mut().access_key = Some(access_key.to_string()));
}

/// The current request's caller, if any.
pub fn current_caller() -> Option<Caller> {
    CALLER.try_with(|c| c.borrow().clone()).ok()
}

/// Where a KMS use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The KMS JSON API.
    Api,
    /// The S3 layer wrapping or unwrapping a data key.
    S3,
    /// The KMS itself (a deletion window ended).
    Internal,
}

/// One audit line.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry<'a> {
    /// RFC 3339, UTC.
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<&'a str>,
    pub operation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<&'a EncryptionContext>,
    /// `success`, or the AWS exception name of the failure.
    pub outcome: &'a str,
}

/// An append-only JSON-lines file.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

impl AuditLog {
    /// Opens (creating if needed, mode 0600 on Unix) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(path)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line; failures go to the server log.
    pub fn write(&self, entry: &AuditEntry<'_>) {
        let mut line = match serde_json::to_vec(entry) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a KMS audit line");
                return;
            }
        };
        line.push(b'\n');
        // A poisoned lock only means another writer panicked; the file is still fine.
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(&line) {
            tracing::error!(error = %e, path = %self.path.display(), "cannot write the KMS audit log");
        }
    }
}

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    let odt = time::OffsetDateTime::from(t);
    odt.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| odt.unix_timestamp().to_string())
}
