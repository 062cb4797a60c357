//! S3 authorization: every operation as its IAM action and resource ARN, with the condition
//! keys AWS fills, decided by the policy engine before the handler runs.
//!
//! The table is AWS's ("Actions, resources, and condition keys for Amazon S3",
//! https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html):
//! object operations act on `arn:aws:s3:::BUCKET/KEY`, bucket operations on
//! `arn:aws:s3:::BUCKET`; a few operations need two permissions (CopyObject and
//! UploadPartCopy also read their source) and DeleteObjects is authorized key by key in its
//! handler, as AWS does. What decides ([`S3Api::authorize`]): the caller's identity policies,
//! the bucket policy (unless `RestrictPublicBuckets` suppresses a public one for callers
//! outside the owning account), and the bucket owner (its account root may always manage the
//! bucket policy, AWS's lockout escape). A bucket that does not exist has no policy and
//! belongs, for the decision, to the caller's own account: callers with permission learn
//! `NoSuchBucket`, callers without it `AccessDenied`.
//!
//! Condition keys filled for every request: `aws:SecureTransport`, `aws:SourceIp`,
//! `aws:CurrentTime`, `aws:EpochTime`, `aws:UserAgent`, `aws:Referer`, the principal's keys
//! (`aws:username`, `aws:userid`, `aws:PrincipalArn`, `aws:PrincipalAccount`,
//! `aws:PrincipalType`), `s3:signatureversion`, `s3:authType`, `s3:x-amz-content-sha256`,
//! `s3:ResourceAccount`/`aws:ResourceAccount`; per operation the SSE headers, ACL headers,
//! listing parameters, copy source, metadata directive and version id.

use std::sync::Arc;

use http::HeaderMap;

use super::S3Api;
use super::acl;
use super::error::{S3Error, S3ErrorCode};
use super::router::{BucketOp, CopySource, Endpoint, VersionId};
use crate::iam::Principal;
use crate::iam::policy::{self, Context, Decision};

/// Who is asking, and the request-wide condition keys.
pub(crate) struct Access {
    pub principal: Arc<Principal>,
    /// Shared by every permission the request needs ([`Context::over`]).
    pub base: Arc<Context>,
}

/// One permission a request needs.
pub(crate) struct Need<'a> {
    pub action: &'static str,
    pub bucket: &'a str,
    pub key: Option<&'a str>,
    pub ctx: Context,
}

/// Header-borne condition keys: (header, condition key).
const HEADER_KEYS: &[(&str, &str)] = &[
    (
        "x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption",
    ),
    (
        "x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
    ),
    (
        "x-amz-server-side-encryption-customer-algorithm",
        "s3:x-amz-server-side-encryption-customer-algorithm",
    ),
    ("x-amz-acl", "s3:x-amz-acl"),
    ("x-amz-grant-read", "s3:x-amz-grant-read"),
    ("x-amz-grant-write", "s3:x-amz-grant-write"),
    ("x-amz-grant-read-acp", "s3:x-amz-grant-read-acp"),
    ("x-amz-grant-write-acp", "s3:x-amz-grant-write-acp"),
    ("x-amz-grant-full-control", "s3:x-amz-grant-full-control"),
    ("x-amz-storage-class", "s3:x-amz-storage-class"),
    ("x-amz-metadata-directive", "s3:x-amz-metadata-directive"),
    ("x-amz-copy-source", "s3:x-amz-copy-source"),
    ("x-amz-object-ownership", "s3:x-amz-object-ownership"),
];

fn header_ctx(headers: &HeaderMap, names: &[&str]) -> Context {
    let mut ctx = Context::new();
    for (header, key) in HEADER_KEYS {
        if !names.contains(header) {
            continue;
        }
        if let Some(v) = headers.get(*header).and_then(|v| v.to_str().ok()) {
            ctx.insert(key, v.trim().to_string());
        }
    }
    ctx
}

/// The headers a write (PutObject, CopyObject, CreateMultipartUpload) is judged by.
const WRITE_HEADERS: &[&str] = &[
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-storage-class",
];

fn list_ctx(prefix: &Option<String>, delimiter: &Option<String>, max_keys: Option<u32>) -> Context {
    let mut ctx = Context::new();
    // AWS fills s3:prefix with "" when the request names none? No: the key is absent then
    // (policies use `StringLikeIfExists` or `Null` for that case).
    if let Some(p) = prefix {
        ctx.insert("s3:prefix", p.clone());
    }
    if let Some(d) = delimiter {
        ctx.insert("s3:delimiter", d.clone());
    }
    if let Some(m) = max_keys {
        ctx.insert("s3:max-keys", m.to_string());
    }
    ctx
}

fn version_ctx(v: &Option<VersionId>) -> Context {
    let mut ctx = Context::new();
    match v {
        Some(VersionId::Id(id)) => ctx.insert("s3:VersionId", id.clone()),
        Some(VersionId::Null) => ctx.insert("s3:VersionId", "null"),
        None => {}
    }
    ctx
}

fn is_versioned(v: &Option<VersionId>) -> bool {
    v.is_some()
}

fn source_need<'a>(src: &'a CopySource) -> Need<'a> {
    Need {
        action: if is_versioned(&src.version_id) {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        },
        bucket: &src.bucket,
        key: Some(&src.key),
        ctx: version_ctx(&src.version_id),
    }
}

fn bucket_need<'a>(action: &'static str, bucket: &'a str) -> Need<'a> {
    Need {
        action,
        bucket,
        key: None,
        ctx: Context::new(),
    }
}

fn object_need<'a>(action: &'static str, bucket: &'a str, key: &'a str, ctx: Context) -> Need<'a> {
    Need {
        action,
        bucket,
        key: Some(key),
        ctx,
    }
}

/// The permissions `endpoint` needs. Empty for ListBuckets (its own check), DeleteObjects
/// (per key, in its handler) and operations that are not served.
pub(crate) fn needs<'a>(endpoint: &'a Endpoint, headers: &HeaderMap) -> Vec<Need<'a>> {
    use Endpoint as E;
    match endpoint {
        E::ListBuckets | E::DeleteObjects { .. } | E::NotImplemented { .. } => Vec::new(),
        E::CreateBucket { bucket } => {
            let mut n = bucket_need("s3:CreateBucket", bucket);
            n.ctx = header_ctx(headers, &["x-amz-acl", "x-amz-object-ownership"]);
            vec![n]
        }
        E::HeadBucket { bucket } => vec![bucket_need("s3:ListBucket", bucket)],
        E::DeleteBucket { bucket } => vec![bucket_need("s3:DeleteBucket", bucket)],
        E::GetBucketLocation { bucket } => vec![bucket_need("s3:GetBucketLocation", bucket)],
        E::GetBucketVersioning { bucket } => vec![bucket_need("s3:GetBucketVersioning", bucket)],
        E::PutBucketEncryption { bucket } | E::DeleteBucketEncryption { bucket } => {
            vec![bucket_need("s3:PutEncryptionConfiguration", bucket)]
        }
        E::GetBucketEncryption { bucket } => {
            vec![bucket_need("s3:GetEncryptionConfiguration", bucket)]
        }
        E::ListObjects {
            bucket,
            prefix,
            delimiter,
            max_keys,
            ..
        }
        | E::ListObjectsV2 {
            bucket,
            prefix,
            delimiter,
            max_keys,
            ..
        } => {
            let mut n = bucket_need("s3:ListBucket", bucket);
            n.ctx = list_ctx(prefix, delimiter, Some(*max_keys));
            vec![n]
        }
        E::ListObjectVersions {
            bucket,
            prefix,
            delimiter,
            max_keys,
            ..
        } => {
            let mut n = bucket_need("s3:ListBucketVersions", bucket);
            n.ctx = list_ctx(prefix, delimiter, Some(*max_keys));
            vec![n]
        }
        E::ListMultipartUploads {
            bucket,
            prefix,
            delimiter,
            ..
        } => {
            let mut n = bucket_need("s3:ListBucketMultipartUploads", bucket);
            n.ctx = list_ctx(prefix, delimiter, None);
            vec![n]
        }
        E::PutObject { bucket, key } | E::CreateMultipartUpload { bucket, key } => {
            vec![object_need(
                "s3:PutObject",
                bucket,
                key,
                header_ctx(headers, WRITE_HEADERS),
            )]
        }
        E::UploadPart { bucket, key, .. } | E::CompleteMultipartUpload { bucket, key, .. } => {
            vec![object_need("s3:PutObject", bucket, key, Context::new())]
        }
        E::CopyObject {
            bucket,
            key,
            copy_source,
        } => {
            let mut names = WRITE_HEADERS.to_vec();
            names.extend(["x-amz-copy-source", "x-amz-metadata-directive"]);
            vec![
                object_need("s3:PutObject", bucket, key, header_ctx(headers, &names)),
                source_need(copy_source),
            ]
        }
        E::UploadPartCopy {
            bucket,
            key,
            copy_source,
            ..
        } => vec![
            object_need(
                "s3:PutObject",
                bucket,
                key,
                header_ctx(headers, &["x-amz-copy-source"]),
            ),
            source_need(copy_source),
        ],
        E::GetObject {
            bucket,
            key,
            version_id,
            ..
        }
        | E::HeadObject {
            bucket,
            key,
            version_id,
            ..
        } => {
            let action = if is_versioned(version_id) {
                "s3:GetObjectVersion"
            } else {
                "s3:GetObject"
            };
            vec![object_need(action, bucket, key, version_ctx(version_id))]
        }
        E::DeleteObject {
            bucket,
            key,
            version_id,
        } => {
            let action = if is_versioned(version_id) {
                "s3:DeleteObjectVersion"
            } else {
                "s3:DeleteObject"
            };
            vec![object_need(action, bucket, key, version_ctx(version_id))]
        }
        E::AbortMultipartUpload { bucket, key, .. } => vec![object_need(
            "s3:AbortMultipartUpload",
            bucket,
            key,
            Context::new(),
        )],
        E::ListParts { bucket, key, .. } => vec![object_need(
            "s3:ListMultipartUploadParts",
            bucket,
            key,
            Context::new(),
        )],
        E::BucketConfig { bucket, op } => {
            let action = match op {
                BucketOp::GetBucketPolicy => "s3:GetBucketPolicy",
                BucketOp::PutBucketPolicy => "s3:PutBucketPolicy",
                BucketOp::DeleteBucketPolicy => "s3:DeleteBucketPolicy",
                BucketOp::GetBucketPolicyStatus => "s3:GetBucketPolicyStatus",
                BucketOp::GetPublicAccessBlock => "s3:GetBucketPublicAccessBlock",
                BucketOp::PutPublicAccessBlock | BucketOp::DeletePublicAccessBlock => {
                    "s3:PutBucketPublicAccessBlock"
                }
                BucketOp::GetBucketOwnershipControls => "s3:GetBucketOwnershipControls",
                BucketOp::PutBucketOwnershipControls | BucketOp::DeleteBucketOwnershipControls => {
                    "s3:PutBucketOwnershipControls"
                }
                BucketOp::GetBucketAcl => "s3:GetBucketAcl",
                BucketOp::PutBucketAcl => "s3:PutBucketAcl",
            };
            let mut n = bucket_need(action, bucket);
            if *op == BucketOp::PutBucketAcl {
                n.ctx = header_ctx(
                    headers,
                    &[
                        "x-amz-acl",
                        "x-amz-grant-read",
                        "x-amz-grant-write",
                        "x-amz-grant-read-acp",
                        "x-amz-grant-write-acp",
                        "x-amz-grant-full-control",
                    ],
                );
            }
            vec![n]
        }
        E::ObjectAcl {
            bucket,
            key,
            put,
            version_id,
        } => {
            let action = match (put, is_versioned(version_id)) {
                (false, false) => "s3:GetObjectAcl",
                (false, true) => "s3:GetObjectVersionAcl",
                (true, false) => "s3:PutObjectAcl",
                (true, true) => "s3:PutObjectVersionAcl",
            };
            let mut ctx = version_ctx(version_id);
            if *put {
                ctx.extend(header_ctx(headers, WRITE_HEADERS));
            }
            vec![object_need(action, bucket, key, ctx)]
        }
    }
}

/// Bucket-policy management: the owning account's root may always do it (AWS lets the root
/// user delete or replace a policy that locks everyone out).
fn is_policy_management(action: &str) -> bool {
    matches!(
        action,
        "s3:GetBucketPolicy" | "s3:PutBucketPolicy" | "s3:DeleteBucketPolicy"
    )
}

pub(crate) fn access_denied() -> S3Error {
    S3Error::from_code(S3ErrorCode::AccessDenied)
}

impl S3Api {
    /// Decides one permission.
    pub(crate) fn authorize(&self, access: &Access, need: &Need<'_>) -> Result<(), S3Error> {
        let principal = &access.principal;
        let bucket = match self.service.head_bucket(need.bucket) {
            Ok(rec) => Some(rec),
            Err(crate::service::ServiceError::NoSuchBucket) => None,
            Err(e) => return Err(super::service_error(e)),
        };
        // CreateBucket is judged as the caller's own: an existing bucket's policy says nothing
        // about who may create buckets (the handler answers BucketAlreadyExists).
        let bucket = bucket.filter(|_| need.action != "s3:CreateBucket");
        let owner = match &bucket {
            Some(rec) => self.service.bucket_owner(rec).to_string(),
            None if principal.is_anonymous() => {
                // Nothing to grant an anonymous caller; let the handler say NoSuchBucket, as
                // AWS does for a bucket that does not exist.
                return if need.action == "s3:CreateBucket" {
                    Err(access_denied())
                } else {
                    Ok(())
                };
            }
            None => principal.account.clone(),
        };
        if principal.kind == policy::PrincipalKind::Root
            && principal.account == owner
            && is_policy_management(need.action)
        {
            return Ok(());
        }
        let resource = match need.key {
            Some(k) => format!("arn:aws:s3:::{}/{k}", need.bucket),
            None => format!("arn:aws:s3:::{}", need.bucket),
        };
        let mut resource_policy = None;
        if let Some(rec) = &bucket
            && let Some(doc) = &rec.policy
        {
            let p = self
                .bucket_policies
                .get(doc)
                .map_err(|e| {
                    tracing::error!(bucket = need.bucket, error = %e, "a stored bucket policy does not compile");
                    S3Error::from_code(S3ErrorCode::InternalError)
                })?;
            let restricted = rec
                .public_access_block
                .is_some_and(|b| b.restrict_public_buckets)
                && principal.account != owner
                && super::access::is_public(&p);
            if !restricted {
                resource_policy = Some(p);
            }
        }
        let mut ctx = Context::over(access.base.clone());
        ctx.extend(need.ctx.clone());
        ctx.insert("s3:ResourceAccount", owner.clone());
        ctx.insert("aws:ResourceAccount", owner.clone());
        let who = principal.as_policy();
        let req = policy::Request {
            principal: &who,
            action: need.action,
            resource: &resource,
            context: &ctx,
        };
        let identity: Vec<&policy::Policy> = principal.policies.iter().collect();
        let by_policy: Decision = policy::decide(
            &req,
            &identity,
            resource_policy.as_ref(),
            &owner,
            policy::Service::S3,
        );
        let by_acl = match &bucket {
            Some(rec) if !by_policy.explicit_deny => {
                self.acl_decision(rec, &owner, need, &req, &identity)?
            }
            _ => None,
        };
        let allowed = match by_acl {
            None => by_policy.allowed,
            // An object another account owns: the bucket policy can deny but not grant.
            Some((d, true)) => d.allowed,
            Some((d, false)) => by_policy.allowed || d.allowed,
        };
        if allowed {
            Ok(())
        } else {
            tracing::debug!(principal = %principal.arn, action = need.action, resource, "denied");
            Err(access_denied())
        }
    }

    /// What the ACL that governs `need` decides, when ACLs are enabled and one does (see
    /// `acl`), with whether the resource belongs to an account other than the bucket owner's.
    /// `None`: no ACL takes part (ACLs off, an action no ACL grants, the default ACL, which
    /// grants nothing the owner's account does not already have, or a missing object).
    fn acl_decision(
        &self,
        rec: &crate::storage::records::BucketRecord,
        bucket_owner: &str,
        need: &Need<'_>,
        req: &policy::Request<'_>,
        identity: &[&policy::Policy],
    ) -> Result<Option<(Decision, bool)>, S3Error> {
        if !rec.ownership.acls_enabled() {
            return Ok(None);
        }
        let Some(scope) = acl::scope_of(need.action) else {
            return Ok(None);
        };
        let stored = match (scope, need.key) {
            (acl::Scope::Bucket, _) => rec.acl.clone(),
            (acl::Scope::Object, Some(key)) => match self.service.head_object(need.bucket, key) {
                Ok(o) => o.acl,
                Err(crate::service::ServiceError::NoSuchKey) => None,
                Err(e) => return Err(super::service_error(e)),
            },
            (acl::Scope::Object, None) => None,
        };
        let Some(acl) = stored else {
            return Ok(None);
        };
        let ignore_public = rec
            .public_access_block
            .is_some_and(|b| b.ignore_public_acls);
        let compiled = match acl::as_policy(&acl.grants, scope, ignore_public) {
            Some(doc) => Some(self.acl_policies.get(&doc).map_err(|e| {
                tracing::error!(bucket = need.bucket, error = %e, "an ACL does not compile");
                S3Error::from_code(S3ErrorCode::InternalError)
            })?),
            None => None,
        };
        let d = policy::decide(
            req,
            identity,
            compiled.as_ref(),
            &acl.owner,
            policy::Service::S3,
        );
        Ok(Some((d, acl.owner != bucket_owner)))
    }

    /// Decides everything `endpoint` needs before its handler runs.
    pub(crate) fn authorize_endpoint(
        &self,
        access: &Access,
        endpoint: &Endpoint,
        headers: &HeaderMap,
    ) -> Result<(), S3Error> {
        if let Endpoint::ListBuckets = endpoint {
            return self.authorize_list_buckets(access);
        }
        for need in needs(endpoint, headers) {
            self.authorize(access, &need)?;
        }
        Ok(())
    }

    /// ListBuckets has no bucket: only identity policies decide (`s3:ListAllMyBuckets`).
    fn authorize_list_buckets(&self, access: &Access) -> Result<(), S3Error> {
        let principal = &access.principal;
        if principal.is_anonymous() {
            return Err(access_denied());
        }
        let who = principal.as_policy();
        let req = policy::Request {
            principal: &who,
            action: "s3:ListAllMyBuckets",
            resource: "arn:aws:s3:::*",
            context: &access.base,
        };
        let identity: Vec<&policy::Policy> = principal.policies.iter().collect();
        let d = policy::decide(
            &req,
            &identity,
            None,
            &principal.account,
            policy::Service::S3,
        );
        if d.allowed {
            Ok(())
        } else {
            Err(access_denied())
        }
    }
}

impl S3Api {
    /// The request-wide condition keys.
    pub(crate) fn access_for(
        &self,
        parts: &http::request::Parts,
        verified: &crate::api::auth::Verified,
        principal: Arc<Principal>,
    ) -> Access {
        let mut base = Context::new();
        let secure = parts
            .extensions
            .get::<crate::transport::OverTls>()
            .is_some();
        base.insert("aws:SecureTransport", if secure { "true" } else { "false" });
        if let Some(peer) = parts.extensions.get::<super::PeerAddr>() {
            base.insert("aws:SourceIp", peer.0.ip().to_string());
        }
        crate::iam::keys::fill_time(&mut base, self.clock.now());
        for (header, key) in [("user-agent", "aws:UserAgent"), ("referer", "aws:Referer")] {
            if let Some(v) = parts.headers.get(header).and_then(|v| v.to_str().ok()) {
                base.insert(key, v.to_string());
            }
        }
        if !principal.is_anonymous() {
            base.insert("s3:signatureversion", crate::api::auth::sigv4::ALGORITHM);
            base.insert(
                "s3:authType",
                if verified.presigned {
                    "REST-QUERY-STRING"
                } else {
                    "REST-HEADER"
                },
            );
            if let Some(v) = parts
                .headers
                .get("x-amz-content-sha256")
                .and_then(|v| v.to_str().ok())
            {
                base.insert("s3:x-amz-content-sha256", v.to_string());
            }
        }
        Access {
            principal,
            base: Arc::new(base),
        }
    }
}
