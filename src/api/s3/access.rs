//! A bucket's access configuration: bucket policy (Put/Get/DeleteBucketPolicy,
//! GetBucketPolicyStatus), public access block (Put/Get/DeletePublicAccessBlock), Object
//! Ownership (Put/Get/DeleteBucketOwnershipControls) and ACLs (Get/PutBucketAcl,
//! Get/PutObjectAcl).
//!
//! A bucket policy is validated as S3 validates it before anything is stored: the policy
//! grammar (the engine's), a 20 KiB size limit, S3 actions only, resources inside this bucket,
//! condition keys S3 or the global context defines; `BlockPublicPolicy` refuses a public one.
//! "Public" is AWS's definition ("The meaning of public", S3 User Guide): an Allow to `*` not
//! narrowed by a condition on a fixed value of a key that pins the caller (source IP ranges,
//! accounts, principal ARNs, ...).
//!
//! ACLs: new buckets are `BucketOwnerEnforced`, where ACLs are off. Reading an ACL answers the
//! owner's FULL_CONTROL, and setting one is accepted only when it grants exactly that
//! (`bucket-owner-full-control`, `private`); anything else is AWS's
//! `AccessControlListNotSupported`. Under `ObjectWriter` and `BucketOwnerPreferred` stored
//! grants are not implemented yet and say so (`NotImplemented`) rather than being dropped.

use http::{HeaderMap, Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{S3Error, S3ErrorCode};
use super::handlers::read_xml_body;
use super::router::BucketOp;
use super::xml::{self, Xmlns};
use super::{Ctx, RequestBody, S3Api, service_error};
use crate::iam::policy::{self, Policy};
use crate::server::body::{self, ResBody};
use crate::storage::records::{ObjectOwnership, PublicAccessBlock};

/// Largest bucket policy, in bytes (AWS: 20 KB).
pub const MAX_BUCKET_POLICY_LEN: usize = 20 * 1024;

/// Condition keys that, fixed by a condition, make an Allow to `*` not public (S3 User Guide,
/// "The meaning of public").
const NARROWING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:userid",
    "aws:username",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// The canonical user id of an account as S3 shows owners (64 hex characters).
pub(crate) fn canonical_id(account: &str) -> String {
    hex::encode(Sha256::digest(format!("coffer-canonical-user/{account}")))
}

/// The owner element of an account.
pub(crate) fn owner_of(account: &str) -> xml::Owner {
    xml::Owner {
        id: canonical_id(account),
        display_name: Some(account.to_string()),
    }
}

/// Whether `p` grants anything to everyone (AWS's definition, see the module docs).
pub(crate) fn is_public(p: &Policy) -> bool {
    p.statements().iter().any(|s| {
        s.effect == policy::Effect::Allow
            && s.grants_everyone()
            && !s
                .condition_keys()
                .iter()
                .any(|k| NARROWING_KEYS.contains(&k.to_ascii_lowercase().as_str()))
    })
}

/// Validates a bucket policy as S3 does, returning it compiled.
pub(crate) fn parse_bucket_policy(doc: &str, bucket: &str) -> Result<Policy, S3Error> {
    let malformed = |m: &str| S3Error::new(S3ErrorCode::MalformedPolicy, m.to_string());
    if doc.len() > MAX_BUCKET_POLICY_LEN {
        return Err(malformed("Policy exceeds the maximum allowed document size."));
    }
    if !doc.trim_start().starts_with('{') {
        return Err(malformed(
            "Policies must be valid JSON and the first byte must be '{'",
        ));
    }
    let p = Policy::parse(
        doc,
        &policy::ParseOptions {
            kind: policy::PolicyKind::Resource,
            max_len: MAX_BUCKET_POLICY_LEN,
        },
    )
    .map_err(|e| malformed(&e.message))?;
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let object_prefix = format!("{bucket_arn}/");
    for s in p.statements() {
        if !s.actions_all_match(|a| a == "*" || a.to_ascii_lowercase().starts_with("s3:")) {
            return Err(malformed("Policy has invalid action"));
        }
        if !s.resources_all_match(|r| r == bucket_arn || r.starts_with(&object_prefix)) {
            return Err(malformed("Policy has invalid resource"));
        }
    }
    p.validate_condition_keys(&|k| policy::is_known_key(policy::Service::S3, k))
        .map_err(|_| malformed("Policy has an invalid condition key"))?;
    Ok(p)
}

#[derive(Debug, Serialize)]
struct PolicyStatus {
    #[serde(rename = "@xmlns")]
    xmlns: Xmlns,
    #[serde(rename = "IsPublic")]
    is_public: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PublicAccessBlockConfiguration {
    #[serde(rename = "@xmlns", skip_deserializing, default)]
    xmlns: Xmlns,
    #[serde(rename = "BlockPublicAcls", default)]
    block_public_acls: Option<bool>,
    #[serde(rename = "IgnorePublicAcls", default)]
    ignore_public_acls: Option<bool>,
    #[serde(rename = "BlockPublicPolicy", default)]
    block_public_policy: Option<bool>,
    #[serde(rename = "RestrictPublicBuckets", default)]
    restrict_public_buckets: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize)]
struct OwnershipControls {
    #[serde(rename = "@xmlns", skip_deserializing, default)]
    xmlns: Xmlns,
    #[serde(rename = "Rule", default)]
    rules: Vec<OwnershipRule>,
}

#[derive(Debug, Serialize, Deserialize)]
struct OwnershipRule {
    #[serde(rename = "ObjectOwnership")]
    object_ownership: String,
}

#[derive(Debug, Serialize)]
struct AccessControlPolicy {
    #[serde(rename = "@xmlns")]
    xmlns: Xmlns,
    #[serde(rename = "Owner")]
    owner: xml::Owner,
    #[serde(rename = "AccessControlList")]
    acl: AccessControlList,
}

#[derive(Debug, Serialize)]
struct AccessControlList {
    #[serde(rename = "Grant")]
    grants: Vec<Grant>,
}

#[derive(Debug, Serialize)]
struct Grant {
    #[serde(rename = "Grantee")]
    grantee: Grantee,
    #[serde(rename = "Permission")]
    permission: &'static str,
}

#[derive(Debug, Serialize)]
struct Grantee {
    #[serde(rename = "@xmlns:xsi")]
    xsi: &'static str,
    #[serde(rename = "@xsi:type")]
    kind: &'static str,
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "DisplayName")]
    display_name: String,
}

/// An ACL document sent with PutBucketAcl / PutObjectAcl (only what the enforced mode checks).
#[derive(Debug, Deserialize)]
struct AclDocument {
    #[serde(rename = "AccessControlList", default)]
    acl: Option<AclList>,
}

#[derive(Debug, Deserialize)]
struct AclList {
    #[serde(rename = "Grant", default)]
    grants: Vec<AclGrant>,
}

#[derive(Debug, Deserialize)]
struct AclGrant {
    #[serde(rename = "Grantee")]
    grantee: AclGrantee,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Debug, Deserialize)]
struct AclGrantee {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "URI", default)]
    uri: Option<String>,
    #[serde(rename = "EmailAddress", default)]
    email: Option<String>,
}

/// Canned ACLs that grant nothing beyond the owner's full control.
const OWNER_ONLY_CANNED: &[&str] = &["private", "bucket-owner-full-control"];

fn xml_ok(root: &str, doc: &impl Serialize) -> Result<Response<ResBody>, S3Error> {
    let mut r = Response::new(body::full(xml::to_xml(root, doc)?));
    super::headers::insert(r.headers_mut(), "content-type", "application/xml");
    Ok(r)
}

fn no_content() -> Response<ResBody> {
    let mut r = Response::new(body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

fn bucket_error(bucket: &str) -> impl Fn(crate::service::ServiceError) -> S3Error + '_ {
    move |e| {
        let missing = matches!(e, crate::service::ServiceError::NoSuchBucket);
        let err = service_error(e);
        if missing { err.with_bucket(bucket) } else { err }
    }
}

fn acl_not_supported() -> S3Error {
    S3Error::from_code(S3ErrorCode::AccessControlListNotSupported)
}

/// Whether the request's ACL headers grant only the owner's full control (or nothing).
pub(crate) fn acl_headers_owner_only(headers: &HeaderMap) -> bool {
    let canned_ok = headers
        .get("x-amz-acl")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| OWNER_ONLY_CANNED.contains(&v.trim()));
    let no_grants = [
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
        "x-amz-grant-full-control",
    ]
    .iter()
    .all(|h| !headers.contains_key(*h));
    canned_ok && no_grants
}

impl S3Api {
    /// Refuses ACL headers a bucket cannot honour (PUT, Copy, CreateMultipartUpload).
    pub(crate) fn check_write_acl(&self, bucket: &str, headers: &HeaderMap) -> Result<(), S3Error> {
        if acl_headers_owner_only(headers) {
            return Ok(());
        }
        let rec = self
            .service
            .head_bucket(bucket)
            .map_err(bucket_error(bucket))?;
        if rec.ownership.acls_enabled() {
            Err(S3Error::not_implemented("object ACL grants"))
        } else {
            Err(acl_not_supported())
        }
    }

    pub(crate) async fn bucket_config(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        op: BucketOp,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        let rec = self
            .service
            .head_bucket(bucket)
            .map_err(bucket_error(bucket))?;
        match op {
            BucketOp::GetBucketPolicy => match &rec.policy {
                Some(p) => {
                    let mut r = Response::new(body::full(p.clone()));
                    super::headers::insert(r.headers_mut(), "content-type", "application/json");
                    Ok(r)
                }
                None => Err(S3Error::from_code(S3ErrorCode::NoSuchBucketPolicy).with_bucket(bucket)),
            },
            BucketOp::PutBucketPolicy => {
                let raw = read_xml_body(ctx, body).await?;
                let doc = String::from_utf8(raw).map_err(|_| {
                    S3Error::new(
                        S3ErrorCode::MalformedPolicy,
                        "Policies must be valid JSON and the first byte must be '{'",
                    )
                })?;
                let compiled = parse_bucket_policy(&doc, bucket)?;
                if rec.public_access_block.is_some_and(|b| b.block_public_policy)
                    && is_public(&compiled)
                {
                    return Err(S3Error::new(
                        S3ErrorCode::AccessDenied,
                        "User is not authorized to perform: s3:PutBucketPolicy on resource \
                         because public policies are blocked by the BlockPublicPolicy block \
                         public access setting.",
                    ));
                }
                self.service
                    .update_bucket(bucket, |r| r.policy = Some(doc))
                    .await
                    .map_err(bucket_error(bucket))?;
                Ok(no_content())
            }
            BucketOp::DeleteBucketPolicy => {
                self.service
                    .update_bucket(bucket, |r| r.policy = None)
                    .await
                    .map_err(bucket_error(bucket))?;
                Ok(no_content())
            }
            BucketOp::GetBucketPolicyStatus => {
                let Some(doc) = &rec.policy else {
                    return Err(
                        S3Error::from_code(S3ErrorCode::NoSuchBucketPolicy).with_bucket(bucket)
                    );
                };
                let p = self
                    .bucket_policies
                    .get(doc)
                    .map_err(|_| S3Error::from_code(S3ErrorCode::InternalError))?;
                xml_ok(
                    "PolicyStatus",
                    &PolicyStatus {
                        xmlns: Xmlns,
                        is_public: is_public(&p),
                    },
                )
            }
            BucketOp::GetPublicAccessBlock => {
                let Some(b) = rec.public_access_block else {
                    return Err(S3Error::from_code(
                        S3ErrorCode::NoSuchPublicAccessBlockConfiguration,
                    )
                    .with_bucket(bucket));
                };
                xml_ok(
                    "PublicAccessBlockConfiguration",
                    &PublicAccessBlockConfiguration {
                        xmlns: Xmlns,
                        block_public_acls: Some(b.block_public_acls),
                        ignore_public_acls: Some(b.ignore_public_acls),
                        block_public_policy: Some(b.block_public_policy),
                        restrict_public_buckets: Some(b.restrict_public_buckets),
                    },
                )
            }
            BucketOp::PutPublicAccessBlock => {
                let raw = read_xml_body(ctx, body).await?;
                let doc: PublicAccessBlockConfiguration = xml::parse_xml(&raw)?;
                let block = PublicAccessBlock {
                    block_public_acls: doc.block_public_acls.unwrap_or(false),
                    ignore_public_acls: doc.ignore_public_acls.unwrap_or(false),
                    block_public_policy: doc.block_public_policy.unwrap_or(false),
                    restrict_public_buckets: doc.restrict_public_buckets.unwrap_or(false),
                };
                self.service
                    .update_bucket(bucket, |r| r.public_access_block = Some(block))
                    .await
                    .map_err(bucket_error(bucket))?;
                Ok(Response::new(body::empty()))
            }
            BucketOp::DeletePublicAccessBlock => {
                self.service
                    .update_bucket(bucket, |r| r.public_access_block = None)
                    .await
                    .map_err(bucket_error(bucket))?;
                Ok(no_content())
            }
            BucketOp::GetBucketOwnershipControls => {
                let Some(name) = rec.ownership.as_str() else {
                    return Err(
                        S3Error::from_code(S3ErrorCode::OwnershipControlsNotFoundError)
                            .with_bucket(bucket),
                    );
                };
                xml_ok(
                    "OwnershipControls",
                    &OwnershipControls {
                        xmlns: Xmlns,
                        rules: vec![OwnershipRule {
                            object_ownership: name.to_string(),
                        }],
                    },
                )
            }
            BucketOp::PutBucketOwnershipControls => {
                let raw = read_xml_body(ctx, body).await?;
                let doc: OwnershipControls = xml::parse_xml(&raw)?;
                let [rule] = <[OwnershipRule; 1]>::try_from(doc.rules)
                    .map_err(|_| S3Error::from_code(S3ErrorCode::MalformedXML))?;
                let ownership = ObjectOwnership::parse(rule.object_ownership.trim())
                    .ok_or_else(|| S3Error::from_code(S3ErrorCode::MalformedXML))?;
                self.service
                    .update_bucket(bucket, |r| r.ownership = ownership)
                    .await
                    .map_err(bucket_error(bucket))?;
                Ok(Response::new(body::empty()))
            }
            BucketOp::DeleteBucketOwnershipControls => {
                self.service
                    .update_bucket(bucket, |r| r.ownership = ObjectOwnership::Unset)
                    .await
                    .map_err(bucket_error(bucket))?;
                Ok(no_content())
            }
            BucketOp::GetBucketAcl => {
                let owner = self.service.bucket_owner(&rec).to_string();
                xml_ok("AccessControlPolicy", &owner_full_control(&owner))
            }
            BucketOp::PutBucketAcl => {
                let owner = self.service.bucket_owner(&rec).to_string();
                self.put_acl(ctx, body, rec.ownership, &owner).await
            }
        }
    }

    pub(crate) async fn object_acl(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        key: &str,
        put: bool,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        let rec = self
            .service
            .head_bucket(bucket)
            .map_err(bucket_error(bucket))?;
        // The object must exist, as for AWS.
        self.service
            .head_object(bucket, key)
            .map_err(|e| service_error(e).with_key(key))?;
        let owner = self.service.bucket_owner(&rec).to_string();
        if put {
            self.put_acl(ctx, body, rec.ownership, &owner).await
        } else {
            xml_ok("AccessControlPolicy", &owner_full_control(&owner))
        }
    }

    /// PutBucketAcl / PutObjectAcl: only the owner's full control, until grants are stored.
    async fn put_acl(
        &self,
        ctx: &Ctx<'_>,
        body: &mut RequestBody,
        ownership: ObjectOwnership,
        owner: &str,
    ) -> Result<Response<ResBody>, S3Error> {
        let raw = read_xml_body(ctx, body).await?;
        let mut owner_only = acl_headers_owner_only(&ctx.parts.headers);
        if !raw.iter().all(u8::is_ascii_whitespace) {
            let doc: AclDocument = xml::parse_xml(&raw)
                .map_err(|_| S3Error::from_code(S3ErrorCode::MalformedACLError))?;
            let me = canonical_id(owner);
            owner_only &= doc.acl.is_none_or(|l| {
                l.grants.iter().all(|g| {
                    g.permission == "FULL_CONTROL"
                        && g.grantee.uri.is_none()
                        && g.grantee.email.is_none()
                        && g.grantee.id.as_deref() == Some(me.as_str())
                })
            });
        }
        match (owner_only, ownership.acls_enabled()) {
            (true, _) => Ok(Response::new(body::empty())),
            (false, false) => Err(acl_not_supported()),
            (false, true) => Err(S3Error::not_implemented("ACL grants")),
        }
    }
}

fn owner_full_control(account: &str) -> AccessControlPolicy {
    AccessControlPolicy {
        xmlns: Xmlns,
        owner: owner_of(account),
        acl: AccessControlList {
            grants: vec![Grant {
                grantee: Grantee {
                    xsi: "http://www.w3.org/2001/XMLSchema-instance",
                    kind: "CanonicalUser",
                    id: canonical_id(account),
                    display_name: account.to_string(),
                },
                permission: "FULL_CONTROL",
            }],
        },
    }
}
