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
//! `AccessControlListNotSupported`. Under `ObjectWriter` and `BucketOwnerPreferred` canned
//! ACLs and grants are stored with the bucket and with each object and evaluated with the
//! policies ([`super::acl`] has the rules).

use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::acl;
use super::error::{S3Error, S3ErrorCode};
use super::handlers::read_xml_body;
use super::router::BucketOp;
use super::xml::{self, Xmlns};
use super::{Ctx, RequestBody, S3Api, service_error};
use crate::iam::policy::{self, Policy};
use crate::storage::records::{Acl, AclGrant, BucketRecord, ObjectOwnership, PublicAccessBlock};
use crate::transport::body::{self, ResBody};

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
        return Err(malformed(
            "Policy exceeds the maximum allowed document size.",
        ));
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
        if missing {
            err.with_bucket(bucket)
        } else {
            err
        }
    }
}

fn acl_not_supported() -> S3Error {
    S3Error::from_code(S3ErrorCode::AccessControlListNotSupported)
}

impl S3Api {
    /// The owner and ACL a new object gets from the request's `x-amz-acl` / `x-amz-grant-*`
    /// headers and the bucket's Object Ownership (PUT, Copy, CreateMultipartUpload); `None`
    /// is the default (the bucket owner's, private). With ACLs disabled only the owner's full
    /// control may be asked for, as in AWS.
    pub(crate) fn write_acl(&self, ctx: &Ctx<'_>, bucket: &str) -> Result<Option<Acl>, S3Error> {
        let headers = &ctx.parts.headers;
        let requested = acl::from_headers(headers, self)?;
        let rec = self
            .service
            .head_bucket(bucket)
            .map_err(bucket_error(bucket))?;
        let bucket_owner = self.service.bucket_owner(&rec).to_string();
        let writer = &ctx.access.principal.account;
        // An anonymous writer (a public-read-write bucket) has no account to own the object.
        let writer = if writer.is_empty() {
            &bucket_owner
        } else {
            writer
        };
        let owner = match rec.ownership {
            ObjectOwnership::BucketOwnerEnforced => {
                return if requested.owner_only(&bucket_owner) {
                    Ok(None)
                } else {
                    Err(acl_not_supported())
                };
            }
            ObjectOwnership::BucketOwnerPreferred if requested.is_bucket_owner_full_control() => {
                &bucket_owner
            }
            ObjectOwnership::BucketOwnerPreferred
            | ObjectOwnership::ObjectWriter
            | ObjectOwnership::Unset => writer,
        };
        let grants = requested.grants(acl::Scope::Object, owner, &bucket_owner);
        check_public_acl(&rec, &grants)?;
        Ok(acl::stored(owner, &bucket_owner, grants))
    }

    /// The bucket owner's ACL asked for by CreateBucket's headers, with the Object Ownership
    /// `x-amz-object-ownership` names (default `BucketOwnerEnforced`).
    pub(crate) fn create_bucket_init(
        &self,
        ctx: &Ctx<'_>,
    ) -> Result<crate::service::buckets::BucketInit, S3Error> {
        let headers = &ctx.parts.headers;
        let owner = ctx.access.principal.account.clone();
        let ownership = match headers.get("x-amz-object-ownership") {
            None => ObjectOwnership::default(),
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| ObjectOwnership::parse(v.trim()))
                .ok_or_else(|| {
                    S3Error::invalid_argument(
                        "Invalid x-amz-object-ownership header",
                        "x-amz-object-ownership",
                        v.to_str().unwrap_or(""),
                    )
                })?,
        };
        let requested = acl::from_headers(headers, self)?;
        let acl = if ownership.acls_enabled() {
            acl::stored(
                &owner,
                &owner,
                requested.grants(acl::Scope::Bucket, &owner, &owner),
            )
        } else if requested.owner_only(&owner) {
            None
        } else {
            return Err(S3Error::from_code(
                S3ErrorCode::InvalidBucketAclWithObjectOwnership,
            ));
        };
        Ok(crate::service::buckets::BucketInit {
            owner,
            ownership,
            acl,
        })
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
                None => {
                    Err(S3Error::from_code(S3ErrorCode::NoSuchBucketPolicy).with_bucket(bucket))
                }
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
                if rec
                    .public_access_block
                    .is_some_and(|b| b.block_public_policy)
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
                // AWS refuses to disable ACLs while the bucket ACL grants anyone but the owner.
                let owner = self.service.bucket_owner(&rec).to_string();
                if !ownership.acls_enabled()
                    && rec.ownership.acls_enabled()
                    && rec.acl.as_ref().is_some_and(|a| {
                        !acl::Requested::Grants(a.grants.clone()).owner_only(&owner)
                    })
                {
                    return Err(S3Error::from_code(
                        S3ErrorCode::InvalidBucketAclWithObjectOwnership,
                    ));
                }
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
                let stored = rec.acl.as_ref().filter(|_| rec.ownership.acls_enabled());
                xml_ok(
                    "AccessControlPolicy",
                    &acl::document(&acl::effective(stored, &owner)),
                )
            }
            BucketOp::PutBucketAcl => {
                let owner = self.service.bucket_owner(&rec).to_string();
                let requested = self.requested_acl(ctx, body).await?;
                if !rec.ownership.acls_enabled() {
                    return if requested.owner_only(&owner) {
                        Ok(Response::new(body::empty()))
                    } else {
                        Err(acl_not_supported())
                    };
                }
                let grants = requested.grants(acl::Scope::Bucket, &owner, &owner);
                check_public_acl(&rec, &grants)?;
                let stored = acl::stored(&owner, &owner, grants);
                self.service
                    .update_bucket(bucket, |r| r.acl = stored)
                    .await
                    .map_err(bucket_error(bucket))?;
                Ok(Response::new(body::empty()))
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
        let bucket_owner = self.service.bucket_owner(&rec).to_string();
        // The object must exist, as for AWS.
        let object = self
            .service
            .head_object(bucket, key)
            .map_err(|e| service_error(e).with_key(key))?;
        let enabled = rec.ownership.acls_enabled();
        let current = acl::effective(object.acl.as_ref().filter(|_| enabled), &bucket_owner);
        if !put {
            return xml_ok("AccessControlPolicy", &acl::document(&current));
        }
        let requested = self.requested_acl(ctx, body).await?;
        if !enabled {
            return if requested.owner_only(&bucket_owner) {
                Ok(Response::new(body::empty()))
            } else {
                Err(acl_not_supported())
            };
        }
        // The owner stays; only the grants change.
        let grants = requested.grants(acl::Scope::Object, &current.owner, &bucket_owner);
        check_public_acl(&rec, &grants)?;
        let owner = current.owner;
        self.service
            .set_object_acl(bucket, key, |_| {
                Ok(acl::stored(&owner, &bucket_owner, grants.clone()))
            })
            .await
            .map_err(|e| service_error(e).with_key(key))?;
        Ok(Response::new(body::empty()))
    }

    /// The ACL a PutBucketAcl / PutObjectAcl asks for: from its headers or its body, not both.
    async fn requested_acl(
        &self,
        ctx: &Ctx<'_>,
        body: &mut RequestBody,
    ) -> Result<acl::Requested, S3Error> {
        let raw = read_xml_body(ctx, body).await?;
        let from_headers = acl::from_headers(&ctx.parts.headers, self)?;
        if raw.iter().all(u8::is_ascii_whitespace) {
            return Ok(from_headers);
        }
        if from_headers != acl::Requested::Default {
            return Err(S3Error::from_code(S3ErrorCode::UnexpectedContent));
        }
        acl::from_document(&raw, self)
    }
}

/// `BlockPublicAcls`: an ACL that grants to a public group is refused, not stored.
fn check_public_acl(rec: &BucketRecord, grants: &[AclGrant]) -> Result<(), S3Error> {
    if rec.public_access_block.is_some_and(|b| b.block_public_acls) && acl::grants_public(grants) {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Access Denied: the BlockPublicAcls setting of this bucket's public access block \
             refuses ACLs that grant public access.",
        ));
    }
    Ok(())
}

impl acl::ResolveGrantee for S3Api {
    fn account_of_canonical_id(&self, id: &str) -> Option<String> {
        self.iam
            .account_ids()
            .into_iter()
            .find(|a| canonical_id(a) == id)
    }
}
