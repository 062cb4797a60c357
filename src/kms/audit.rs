//! The audit log: one JSON line per KMS use (through the KMS API, or by S3 on a caller's
//! behalf on PUT, Copy, multipart and GET), per IAM change, per access denial, and per key the
//! KMS destroys on its own (deletion windows that ended).
//!
//! Lines use CloudTrail's field names (`eventTime`, `eventSource`, `eventName`,
//! `userIdentity` with `type`, `arn`, `accountId`, `accessKeyId` and, for S3's key uses,
//! `invokedBy`, `sourceIPAddress`, `userAgent`, `requestParameters`, `resources`, `errorCode`,
//! `requestID`, `eventID`, `eventType`), so tools that read CloudTrail read them. A line never
//! holds plaintext, data keys, key material, ciphertext blobs or secrets: `requestParameters`
//! carries names, ids and the encryption context only. The encryption context is logged as
//! CloudTrail logs it: it is not secret by design (it is authenticated, not encrypted).
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

/// Who is calling, for the current request.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub request_id: Option<String>,
    pub source_address: Option<String>,
    pub access_key: Option<String>,
    pub user_agent: Option<String>,
    /// The authenticated principal, once known. KMS uses by S3 are authorized for it.
    pub principal: Option<std::sync::Arc<crate::iam::Principal>>,
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

/// Records the authenticated principal of the current request (no-op outside a request).
pub fn set_principal(principal: std::sync::Arc<crate::iam::Principal>) {
    let _ = CALLER.try_with(|c| c.borrow_mut().principal = Some(principal));
}

/// The current request's principal, if one was recorded.
pub fn current_principal() -> Option<std::sync::Arc<crate::iam::Principal>> {
    CALLER
        .try_with(|c| c.borrow().principal.clone())
        .ok()
        .flatten()
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

/// `userIdentity` of a line, with CloudTrail's field names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    /// `Root`, `IAMUser`, `AWSAccount` (anonymous) or `AWSService`.
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<&'a str>,
    /// The service that acted on the principal's behalf (`s3.amazonaws.com`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<&'a str>,
}

/// A resource a line names (`resources[]`).
#[derive(Debug, Clone, Serialize)]
pub struct AuditResource<'a> {
    #[serde(rename = "ARN")]
    pub arn: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
}

/// One audit line, with CloudTrail's field names (CloudTrail User Guide, "CloudTrail record
/// contents"). `requestParameters` holds names and ids only, never a secret or a blob.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry<'a> {
    pub event_version: &'static str,
    /// RFC 3339, UTC.
    pub event_time: String,
    /// `kms.amazonaws.com`, `s3.amazonaws.com`, `iam.amazonaws.com`, `sts.amazonaws.com`.
    pub event_source: &'a str,
    pub event_name: &'a str,
    pub aws_region: &'a str,
    #[serde(rename = "sourceIPAddress", skip_serializing_if = "Option::is_none")]
    pub source_ip_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_identity: Option<UserIdentity<'a>>,
    #[serde(skip_serializing_if = "Params::is_empty")]
    pub request_parameters: &'a Params<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub resources: &'a [AuditResource<'a>],
    /// The AWS error code of a failure (`AccessDenied`, `DisabledException`, ...); absent on
    /// success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<&'a str>,
    #[serde(rename = "requestID", skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// `AwsApiCall` for requests, `AwsServiceEvent` for what the KMS does on its own.
    pub event_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<&'a str>,
}

/// `requestParameters`: names, ids and the encryption context, never a secret or a blob.
#[derive(Debug, Clone)]
pub enum Params<'a> {
    /// Parameters as the protocol layer lists them (`null` for none).
    Json(serde_json::Value),
    /// A key use: `keyId` and `encryptionContext`, each only when present (and the context
    /// only when not empty).
    KeyUse {
        key_id: Option<&'a str>,
        encryption_context: Option<&'a super::EncryptionContext>,
    },
}

impl Params<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Params::Json(v) => v.is_null(),
            Params::KeyUse {
                key_id,
                encryption_context,
            } => key_id.is_none() && encryption_context.is_none_or(|c| c.is_empty()),
        }
    }
}

impl Serialize for Params<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Params::Json(v) => v.serialize(s),
            Params::KeyUse {
                key_id,
                encryption_context,
            } => {
                let mut m = s.serialize_map(None)?;
                if let Some(c) = encryption_context.filter(|c| !c.is_empty()) {
                    m.serialize_entry("encryptionContext", c)?;
                }
                if let Some(k) = key_id {
                    m.serialize_entry("keyId", k)?;
                }
                m.end()
            }
        }
    }
}

/// What happened, as the caller of [`AuditLog::record`] knows it; who did it comes from the
/// task-local [`Caller`].
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub event_source: &'a str,
    pub event_name: &'a str,
    pub invoked_by: Option<&'a str>,
    pub resources: Vec<AuditResource<'a>>,
    pub request_parameters: Params<'a>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    /// The account whose resource it was.
    pub recipient_account_id: Option<&'a str>,
    /// Something the service did on its own (a deletion window ended), even when a request
    /// made it due.
    pub service_event: bool,
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

    /// Appends the line of `event` for the current caller (a service event outside a
    /// request).
    pub fn record(&self, now: SystemTime, region: &str, event: &Event<'_>) {
        let in_request =
            CALLER.try_with(|c| self.record_for(Some(&c.borrow()), now, region, event));
        if in_request.is_err() {
            self.record_for(None, now, region, event);
        }
    }

    fn record_for(
        &self,
        caller: Option<&Caller>,
        now: SystemTime,
        region: &str,
        event: &Event<'_>,
    ) {
        let none = Caller::default();
        let caller = caller.unwrap_or(&none);
        let in_request = caller.request_id.is_some() && !event.service_event;
        let principal = caller.principal.as_deref().filter(|_| in_request);
        let user_identity = match principal {
            Some(p) => Some(UserIdentity {
                kind: p.identity_type(),
                principal_id: Some(&p.user_id),
                arn: Some(&p.arn),
                account_id: (!p.account.is_empty()).then_some(p.account.as_str()),
                access_key_id: caller.access_key.as_deref(),
                user_name: p.user_name.as_deref(),
                invoked_by: event.invoked_by,
            }),
            None if in_request => Some(UserIdentity {
                kind: "AWSAccount",
                principal_id: None,
                arn: None,
                account_id: None,
                access_key_id: caller.access_key.as_deref(),
                user_name: None,
                invoked_by: event.invoked_by,
            }),
            None => Some(UserIdentity {
                kind: "AWSService",
                principal_id: None,
                arn: None,
                account_id: None,
                access_key_id: None,
                user_name: None,
                invoked_by: Some(event.event_source),
            }),
        };
        // Event ids need uniqueness, not secrecy: the thread-local generator, no system call.
        let event_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        self.write(&AuditEntry {
            event_version: "1.08",
            event_time: rfc3339(now),
            event_source: event.event_source,
            event_name: event.event_name,
            aws_region: region,
            source_ip_address: if event.invoked_by.is_some() {
                event.invoked_by
            } else {
                caller.source_address.as_deref()
            },
            user_agent: event.invoked_by.or(caller.user_agent.as_deref()),
            user_identity,
            request_parameters: &event.request_parameters,
            resources: &event.resources,
            error_code: event.error_code,
            error_message: event.error_message,
            request_id: caller.request_id.as_deref().filter(|_| in_request),
            event_id: event_id.to_string(),
            event_type: if in_request {
                "AwsApiCall"
            } else {
                "AwsServiceEvent"
            },
            recipient_account_id: event.recipient_account_id,
        });
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
