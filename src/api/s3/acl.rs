//! S3 access control lists: what `x-amz-acl`, `x-amz-grant-*` and an `AccessControlPolicy`
//! document mean, how a stored ACL is shown, and how it takes part in authorization.
//!
//! AWS's rules (S3 User Guide, "Access control list (ACL) overview",
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html, and "Controlling
//! ownership of objects and disabling ACLs for your bucket",
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html):
//!
//! - ACLs count only while the bucket's Object Ownership is `ObjectWriter` or
//!   `BucketOwnerPreferred`; under `BucketOwnerEnforced` they are ignored and the bucket owner
//!   owns every object.
//! - Grantees are accounts (by canonical user id) and the groups `AllUsers`,
//!   `AuthenticatedUsers` and `LogDelivery`. Grants by e-mail address need an account with that
//!   address; Coffer's accounts have none, so such a grant is AWS's
//!   `UnresolvableGrantByEmailAddress`.
//! - A bucket ACL's permissions map to bucket actions (READ: the listings; WRITE: creating and
//!   deleting objects; READ_ACP / WRITE_ACP: reading and writing the bucket ACL); an object
//!   ACL's to object actions (READ: GetObject; READ_ACP / WRITE_ACP: the object ACL). The table
//!   is the guide's "Mapping of ACL permissions and access policy permissions".
//! - An object written by another account under `ObjectWriter` (or under
//!   `BucketOwnerPreferred` without `bucket-owner-full-control`) belongs to the writer: the
//!   bucket owner reaches it only through what its ACL grants, and the bucket policy can still
//!   deny.
//!
//! How an ACL is evaluated: it is turned into the resource policy it is equivalent to (one
//! statement per grantee; an account grantee is a `Principal` naming that account, so its IAM
//! users also need their own allow, as AWS requires; `AllUsers` is `"*"`; `AuthenticatedUsers`
//! is `"*"` for signed requests only), compiled once and cached, and decided by the same engine
//! and rules as the bucket policy. `IgnorePublicAcls` drops the two public groups' grants;
//! `BlockPublicAcls` refuses to store them.

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::error::{S3Error, S3ErrorCode};
use super::xml::{self, Xmlns};
use crate::storage::records::{Acl, AclGrant, AclGrantee, AclPermission};

pub(crate) const ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub(crate) const AUTHENTICATED_USERS_URI: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub(crate) const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Longest resource-policy form of an ACL (100 grantees with every action fit).
pub const MAX_ACL_POLICY_LEN: usize = 64 * 1024;

/// Most grants one ACL may hold (AWS: 100).
pub(crate) const MAX_GRANTS: usize = 100;

/// The `x-amz-grant-*` headers and the permission each grants.
const GRANT_HEADERS: &[(&str, AclPermission)] = &[
    ("x-amz-grant-full-control", AclPermission::FullControl),
    ("x-amz-grant-read", AclPermission::Read),
    ("x-amz-grant-write", AclPermission::Write),
    ("x-amz-grant-read-acp", AclPermission::ReadAcp),
    ("x-amz-grant-write-acp", AclPermission::WriteAcp),
];

/// Which kind of resource an ACL is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Bucket,
    Object,
}

/// S3's canned ACLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Canned {
    Private,
    PublicRead,
    PublicReadWrite,
    AuthenticatedRead,
    BucketOwnerRead,
    BucketOwnerFullControl,
    LogDeliveryWrite,
}

impl Canned {
    fn parse(s: &str) -> Result<Canned, S3Error> {
        Ok(match s {
            "private" => Canned::Private,
            "public-read" => Canned::PublicRead,
            "public-read-write" => Canned::PublicReadWrite,
            "authenticated-read" => Canned::AuthenticatedRead,
            "bucket-owner-read" => Canned::BucketOwnerRead,
            "bucket-owner-full-control" => Canned::BucketOwnerFullControl,
            "log-delivery-write" => Canned::LogDeliveryWrite,
            // Grants READ to Amazon EC2, a principal that does not exist here.
            "aws-exec-read" => {
                return Err(S3Error::not_implemented("the aws-exec-read canned ACL"));
            }
            _ => return Err(S3Error::from_code(S3ErrorCode::InvalidArgument)),
        })
    }
}

/// What a request asks the ACL to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requested {
    /// No ACL named: the default (`private`).
    Default,
    Canned(Canned),
    /// Explicit grants (`x-amz-grant-*` headers or an `AccessControlPolicy` document).
    Grants(Vec<AclGrant>),
}

impl Requested {
    /// Whether this is exactly `bucket-owner-full-control` (what `BucketOwnerPreferred` looks
    /// for to give the bucket owner a new object).
    pub(crate) fn is_bucket_owner_full_control(&self) -> bool {
        *self == Requested::Canned(Canned::BucketOwnerFullControl)
    }

    /// The grants this resolves to for a resource owned by `owner` in a bucket owned by
    /// `bucket_owner`.
    pub(crate) fn grants(&self, scope: Scope, owner: &str, bucket_owner: &str) -> Vec<AclGrant> {
        let grant = |grantee, permission| AclGrant {
            grantee,
            permission,
        };
        let mut out = Vec::new();
        let canned = match self {
            Requested::Grants(g) => return g.clone(),
            Requested::Default => Canned::Private,
            Requested::Canned(c) => *c,
        };
        out.push(grant(
            AclGrantee::Account(owner.to_string()),
            AclPermission::FullControl,
        ));
        let for_bucket_owner = scope == Scope::Object && owner != bucket_owner;
        match canned {
            Canned::Private => {}
            Canned::PublicRead => out.push(grant(AclGrantee::AllUsers, AclPermission::Read)),
            Canned::PublicReadWrite => {
                out.push(grant(AclGrantee::AllUsers, AclPermission::Read));
                out.push(grant(AclGrantee::AllUsers, AclPermission::Write));
            }
            Canned::AuthenticatedRead => {
                out.push(grant(AclGrantee::AuthenticatedUsers, AclPermission::Read));
            }
            Canned::BucketOwnerRead if for_bucket_owner => out.push(grant(
                AclGrantee::Account(bucket_owner.to_string()),
                AclPermission::Read,
            )),
            Canned::BucketOwnerFullControl if for_bucket_owner => out.push(grant(
                AclGrantee::Account(bucket_owner.to_string()),
                AclPermission::FullControl,
            )),
            Canned::BucketOwnerRead | Canned::BucketOwnerFullControl => {}
            Canned::LogDeliveryWrite => {
                out.push(grant(AclGrantee::LogDelivery, AclPermission::Write));
                out.push(grant(AclGrantee::LogDelivery, AclPermission::ReadAcp));
            }
        }
        out
    }

    /// Whether this grants only what the default does: the owner's FULL_CONTROL (what a bucket
    /// with ACLs disabled still accepts).
    pub(crate) fn owner_only(&self, owner: &str) -> bool {
        match self {
            Requested::Default => true,
            Requested::Canned(c) => matches!(c, Canned::Private | Canned::BucketOwnerFullControl),
            Requested::Grants(g) => g.iter().all(|g| {
                g.permission == AclPermission::FullControl
                    && g.grantee == AclGrantee::Account(owner.to_string())
            }),
        }
    }
}

/// The stored form: `None` when the ACL is the default for a resource owned by `default_owner`.
pub(crate) fn stored(owner: &str, default_owner: &str, grants: Vec<AclGrant>) -> Option<Acl> {
    let default = [AclGrant {
        grantee: AclGrantee::Account(owner.to_string()),
        permission: AclPermission::FullControl,
    }];
    if owner == default_owner && grants == default {
        None
    } else {
        Some(Acl {
            owner: owner.to_string(),
            grants,
        })
    }
}

/// The grants of a stored ACL, or the default owner-only ACL.
pub(crate) fn effective(acl: Option<&Acl>, default_owner: &str) -> Acl {
    acl.cloned().unwrap_or_else(|| Acl {
        owner: default_owner.to_string(),
        grants: vec![AclGrant {
            grantee: AclGrantee::Account(default_owner.to_string()),
            permission: AclPermission::FullControl,
        }],
    })
}

pub(crate) fn is_public_grantee(g: &AclGrantee) -> bool {
    matches!(g, AclGrantee::AllUsers | AclGrantee::AuthenticatedUsers)
}

/// Whether any grant is to a public group (what `BlockPublicAcls` refuses).
pub(crate) fn grants_public(grants: &[AclGrant]) -> bool {
    grants.iter().any(|g| is_public_grantee(&g.grantee))
}

/// Maps canonical user ids to accounts.
pub(crate) trait ResolveGrantee {
    /// The account whose canonical user id is `id`.
    fn account_of_canonical_id(&self, id: &str) -> Option<String>;
}

fn invalid_grantee(message: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message.to_string())
}

fn grantee_of(
    id: Option<&str>,
    uri: Option<&str>,
    email: Option<&str>,
    resolve: &dyn ResolveGrantee,
) -> Result<AclGrantee, S3Error> {
    match (id, uri, email) {
        (Some(id), None, None) => resolve
            .account_of_canonical_id(id.trim())
            .map(AclGrantee::Account)
            .ok_or_else(|| invalid_grantee("Invalid id")),
        (None, Some(uri), None) => match uri.trim() {
            ALL_USERS_URI => Ok(AclGrantee::AllUsers),
            AUTHENTICATED_USERS_URI => Ok(AclGrantee::AuthenticatedUsers),
            LOG_DELIVERY_URI => Ok(AclGrantee::LogDelivery),
            _ => Err(invalid_grantee("Invalid group uri")),
        },
        (None, None, Some(_)) => Err(S3Error::from_code(
            S3ErrorCode::UnresolvableGrantByEmailAddress,
        )),
        _ => Err(S3Error::from_code(S3ErrorCode::MalformedACLError)),
    }
}

/// Splits `id="a", uri="b"` into `(type, value)` pairs; commas inside quotes do not split.
fn grant_header_items(value: &str) -> Result<Vec<(String, String)>, S3Error> {
    let bad = || invalid_grantee("Invalid grant header value");
    let mut items = Vec::new();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (kind, after) = rest.split_once('=').ok_or_else(bad)?;
        let after = after.trim_start();
        let (val, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').ok_or_else(bad)?;
            (&q[..end], &q[end + 1..])
        } else {
            match after.find(',') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            }
        };
        items.push((kind.trim().to_ascii_lowercase(), val.trim().to_string()));
        let tail = tail.trim_start();
        rest = match tail.strip_prefix(',') {
            Some(t) => t.trim_start(),
            None if tail.is_empty() => "",
            None => return Err(bad()),
        };
    }
    Ok(items)
}

/// What the request's `x-amz-acl` / `x-amz-grant-*` headers ask for.
pub(crate) fn from_headers(
    headers: &HeaderMap,
    resolve: &dyn ResolveGrantee,
) -> Result<Requested, S3Error> {
    let canned = headers
        .get("x-amz-acl")
        .map(|v| v.to_str().map(|s| s.trim().to_string()))
        .transpose()
        .map_err(|_| S3Error::from_code(S3ErrorCode::InvalidArgument))?;
    let mut grants = Vec::new();
    let mut any_grant_header = false;
    for (name, permission) in GRANT_HEADERS {
        for v in headers.get_all(*name) {
            any_grant_header = true;
            let v = v
                .to_str()
                .map_err(|_| invalid_grantee("Invalid grant header value"))?;
            for (kind, value) in grant_header_items(v)? {
                let grantee = match kind.as_str() {
                    "id" => grantee_of(Some(&value), None, None, resolve)?,
                    "uri" => grantee_of(None, Some(&value), None, resolve)?,
                    "emailaddress" => grantee_of(None, None, Some(&value), resolve)?,
                    _ => return Err(invalid_grantee("Invalid grant header value")),
                };
                grants.push(AclGrant {
                    grantee,
                    permission: *permission,
                });
            }
        }
    }
    match (canned, any_grant_header) {
        (Some(_), true) => Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        )),
        (Some(c), false) => Ok(Requested::Canned(Canned::parse(&c)?)),
        (None, true) => {
            limit(&grants)?;
            Ok(Requested::Grants(grants))
        }
        (None, false) => Ok(Requested::Default),
    }
}

fn limit(grants: &[AclGrant]) -> Result<(), S3Error> {
    if grants.len() > MAX_GRANTS {
        return Err(S3Error::new(
            S3ErrorCode::MalformedACLError,
            format!("An ACL may hold at most {MAX_GRANTS} grants."),
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct PolicyDocument {
    #[serde(rename = "AccessControlList", default)]
    acl: Option<GrantList>,
}

#[derive(Debug, Deserialize)]
struct GrantList {
    #[serde(rename = "Grant", default)]
    grants: Vec<GrantIn>,
}

#[derive(Debug, Deserialize)]
struct GrantIn {
    #[serde(rename = "Grantee")]
    grantee: GranteeIn,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Debug, Deserialize)]
struct GranteeIn {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "URI", default)]
    uri: Option<String>,
    #[serde(rename = "EmailAddress", default)]
    email: Option<String>,
}

/// The grants of an `AccessControlPolicy` document (PutBucketAcl / PutObjectAcl body).
pub(crate) fn from_document(
    raw: &[u8],
    resolve: &dyn ResolveGrantee,
) -> Result<Requested, S3Error> {
    let doc: PolicyDocument =
        xml::parse_xml(raw).map_err(|_| S3Error::from_code(S3ErrorCode::MalformedACLError))?;
    let list = doc
        .acl
        .ok_or_else(|| S3Error::from_code(S3ErrorCode::MalformedACLError))?;
    let mut grants = Vec::with_capacity(list.grants.len());
    for g in list.grants {
        let permission = AclPermission::parse(g.permission.trim())
            .ok_or_else(|| S3Error::from_code(S3ErrorCode::MalformedACLError))?;
        let grantee = grantee_of(
            g.grantee.id.as_deref(),
            g.grantee.uri.as_deref(),
            g.grantee.email.as_deref(),
            resolve,
        )?;
        grants.push(AclGrant {
            grantee,
            permission,
        });
    }
    limit(&grants)?;
    Ok(Requested::Grants(grants))
}

#[derive(Debug, Serialize)]
pub(crate) struct AccessControlPolicy {
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
    grants: Vec<GrantOut>,
}

#[derive(Debug, Serialize)]
struct GrantOut {
    #[serde(rename = "Grantee")]
    grantee: GranteeOut,
    #[serde(rename = "Permission")]
    permission: &'static str,
}

#[derive(Debug, Serialize)]
struct GranteeOut {
    #[serde(rename = "@xmlns:xsi")]
    xsi: &'static str,
    #[serde(rename = "@xsi:type")]
    kind: &'static str,
    #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "DisplayName", skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(rename = "URI", skip_serializing_if = "Option::is_none")]
    uri: Option<&'static str>,
}

/// The `AccessControlPolicy` document GetBucketAcl / GetObjectAcl answer.
pub(crate) fn document(acl: &Acl) -> AccessControlPolicy {
    let grants = acl
        .grants
        .iter()
        .map(|g| {
            let (kind, id, display_name, uri) = match &g.grantee {
                AclGrantee::Account(a) => (
                    "CanonicalUser",
                    Some(super::access::canonical_id(a)),
                    Some(a.clone()),
                    None,
                ),
                AclGrantee::AllUsers => ("Group", None, None, Some(ALL_USERS_URI)),
                AclGrantee::AuthenticatedUsers => {
                    ("Group", None, None, Some(AUTHENTICATED_USERS_URI))
                }
                AclGrantee::LogDelivery => ("Group", None, None, Some(LOG_DELIVERY_URI)),
            };
            GrantOut {
                grantee: GranteeOut {
                    xsi: "http://www.w3.org/2001/XMLSchema-instance",
                    kind,
                    id,
                    display_name,
                    uri,
                },
                permission: g.permission.as_str(),
            }
        })
        .collect();
    AccessControlPolicy {
        xmlns: Xmlns,
        owner: super::access::owner_of(&acl.owner),
        acl: AccessControlList { grants },
    }
}

/// The actions a permission grants on a resource of `scope` (the guide's mapping table).
fn actions(scope: Scope, permission: AclPermission) -> &'static [&'static str] {
    const BUCKET_READ: &[&str] = &[
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:ListBucketMultipartUploads",
    ];
    const BUCKET_WRITE: &[&str] = &["s3:PutObject", "s3:DeleteObject"];
    const OBJECT_READ: &[&str] = &["s3:GetObject", "s3:GetObjectVersion"];
    match (scope, permission) {
        (Scope::Bucket, AclPermission::Read) => BUCKET_READ,
        (Scope::Bucket, AclPermission::Write) => BUCKET_WRITE,
        (Scope::Bucket, AclPermission::ReadAcp) => &["s3:GetBucketAcl"],
        (Scope::Bucket, AclPermission::WriteAcp) => &["s3:PutBucketAcl"],
        (Scope::Object, AclPermission::Read) => OBJECT_READ,
        // WRITE on an object is not applicable (S3 User Guide).
        (Scope::Object, AclPermission::Write) => &[],
        (Scope::Object, AclPermission::ReadAcp) => &["s3:GetObjectAcl", "s3:GetObjectVersionAcl"],
        (Scope::Object, AclPermission::WriteAcp) => &["s3:PutObjectAcl", "s3:PutObjectVersionAcl"],
        (_, AclPermission::FullControl) => &[],
    }
}

fn granted_actions(scope: Scope, permission: AclPermission) -> Vec<&'static str> {
    if permission == AclPermission::FullControl {
        [
            AclPermission::Read,
            AclPermission::Write,
            AclPermission::ReadAcp,
            AclPermission::WriteAcp,
        ]
        .iter()
        .flat_map(|p| actions(scope, *p).iter().copied())
        .collect()
    } else {
        actions(scope, permission).to_vec()
    }
}

/// Which ACL, if any, can grant `action`: the bucket's or the object's.
pub(crate) fn scope_of(action: &str) -> Option<Scope> {
    [Scope::Bucket, Scope::Object].into_iter().find(|s| {
        [AclPermission::FullControl]
            .iter()
            .any(|p| granted_actions(*s, *p).contains(&action))
    })
}

/// The resource policy equivalent to `grants` on a resource of `scope` (see the module docs),
/// or `None` when it grants nothing. Deterministic, so equal ACLs share one cache entry.
pub(crate) fn as_policy(grants: &[AclGrant], scope: Scope, ignore_public: bool) -> Option<String> {
    let mut by_grantee: std::collections::BTreeMap<&AclGrantee, Vec<&'static str>> =
        std::collections::BTreeMap::new();
    for g in grants {
        if (ignore_public && is_public_grantee(&g.grantee)) || g.grantee == AclGrantee::LogDelivery
        {
            // LogDelivery is S3's own log writer; no caller of Coffer is that group.
            continue;
        }
        let acts = granted_actions(scope, g.permission);
        if acts.is_empty() {
            continue;
        }
        let entry = by_grantee.entry(&g.grantee).or_default();
        entry.extend(acts);
        entry.sort_unstable();
        entry.dedup();
    }
    if by_grantee.is_empty() {
        return None;
    }
    let statements: Vec<serde_json::Value> = by_grantee
        .into_iter()
        .map(|(grantee, acts)| {
            let mut s = serde_json::json!({
                "Effect": "Allow",
                "Action": acts,
                "Resource": "*",
            });
            match grantee {
                AclGrantee::Account(a) => s["Principal"] = serde_json::json!({ "AWS": a }),
                AclGrantee::AllUsers => s["Principal"] = serde_json::json!("*"),
                AclGrantee::AuthenticatedUsers => {
                    s["Principal"] = serde_json::json!("*");
                    s["Condition"] = serde_json::json!({ "Null": { "aws:PrincipalArn": "false" } });
                }
                AclGrantee::LogDelivery => {}
            }
            s
        })
        .collect();
    Some(serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Accounts;
    impl ResolveGrantee for Accounts {
        fn account_of_canonical_id(&self, id: &str) -> Option<String> {
            ["111122223333", "444455556666"]
                .into_iter()
                .find(|a| super::super::access::canonical_id(a) == id)
                .map(str::to_string)
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn canned_acls_expand_as_the_guide_lists() {
        let r = from_headers(&headers(&[("x-amz-acl", "public-read")]), &Accounts).unwrap();
        let g = r.grants(Scope::Object, "111122223333", "111122223333");
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].grantee, AclGrantee::AllUsers);
        assert_eq!(g[1].permission, AclPermission::Read);
        // bucket-owner-full-control adds the bucket owner only when it is not the writer.
        let r = Requested::Canned(Canned::BucketOwnerFullControl);
        assert_eq!(
            r.grants(Scope::Object, "111122223333", "111122223333")
                .len(),
            1
        );
        let g = r.grants(Scope::Object, "444455556666", "111122223333");
        assert_eq!(
            g[1],
            AclGrant {
                grantee: AclGrantee::Account("111122223333".into()),
                permission: AclPermission::FullControl
            }
        );
        assert!(from_headers(&headers(&[("x-amz-acl", "nonsense")]), &Accounts).is_err());
    }

    #[test]
    fn grant_headers_parse_ids_groups_and_refuse_emails() {
        let id = super::super::access::canonical_id("444455556666");
        let v = format!("id=\"{id}\", uri=\"{ALL_USERS_URI}\"");
        let r = from_headers(&headers(&[("x-amz-grant-read", &v)]), &Accounts).unwrap();
        let Requested::Grants(g) = r else {
            panic!("grants expected")
        };
        assert_eq!(g[0].grantee, AclGrantee::Account("444455556666".into()));
        assert_eq!(g[1].grantee, AclGrantee::AllUsers);
        let e = from_headers(
            &headers(&[("x-amz-grant-read", "emailAddress=\"a@example.com\"")]),
            &Accounts,
        )
        .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::UnresolvableGrantByEmailAddress);
        let e = from_headers(
            &headers(&[("x-amz-grant-read", "id=\"nobody\"")]),
            &Accounts,
        )
        .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidArgument);
        let e = from_headers(
            &headers(&[("x-amz-acl", "private"), ("x-amz-grant-read", &v)]),
            &Accounts,
        )
        .unwrap_err();
        assert_eq!(e.code, S3ErrorCode::InvalidRequest);
        for bad in ["id", "id=\"unterminated", "id=\"a\" junk", "=\"a\""] {
            assert!(
                from_headers(&headers(&[("x-amz-grant-read", bad)]), &Accounts).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn documents_parse_and_render() {
        let id = super::super::access::canonical_id("444455556666");
        let doc = format!(
            r#"<AccessControlPolicy><Owner><ID>x</ID></Owner><AccessControlList>
            <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>{id}</ID></Grantee><Permission>READ</Permission></Grant>
            <Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>{AUTHENTICATED_USERS_URI}</URI></Grantee><Permission>READ_ACP</Permission></Grant>
            </AccessControlList></AccessControlPolicy>"#
        );
        let Requested::Grants(g) = from_document(doc.as_bytes(), &Accounts).unwrap() else {
            panic!("grants expected")
        };
        assert_eq!(g.len(), 2);
        let acl = Acl {
            owner: "111122223333".into(),
            grants: g,
        };
        let xml = xml::to_xml("AccessControlPolicy", &document(&acl)).unwrap();
        assert!(xml.contains(&format!("<ID>{id}</ID>")), "{xml}");
        assert!(xml.contains(AUTHENTICATED_USERS_URI), "{xml}");
        assert!(xml.contains("xsi:type=\"Group\""), "{xml}");
        for bad in [
            "<AccessControlPolicy/>",
            "<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>a</ID><URI>b</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<AccessControlPolicy><AccessControlList><Grant><Grantee><URI>http://example.com/</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "<AccessControlPolicy><AccessControlList><Grant><Grantee><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>",
            "not xml",
        ] {
            assert!(from_document(bad.as_bytes(), &Accounts).is_err(), "{bad}");
        }
        let many = format!(
            "<AccessControlPolicy><AccessControlList>{}</AccessControlList></AccessControlPolicy>",
            format!("<Grant><Grantee><URI>{ALL_USERS_URI}</URI></Grantee><Permission>READ</Permission></Grant>").repeat(MAX_GRANTS + 1)
        );
        assert_eq!(
            from_document(many.as_bytes(), &Accounts).unwrap_err().code,
            S3ErrorCode::MalformedACLError
        );
    }

    #[test]
    fn policies_follow_the_mapping_table() {
        use crate::iam::policy::{self, Policy};
        let grants = vec![
            AclGrant {
                grantee: AclGrantee::AllUsers,
                permission: AclPermission::Read,
            },
            AclGrant {
                grantee: AclGrantee::Account("444455556666".into()),
                permission: AclPermission::FullControl,
            },
        ];
        let parse = |doc: &str| {
            Policy::parse(
                doc,
                &policy::ParseOptions {
                    kind: policy::PolicyKind::Resource,
                    max_len: MAX_ACL_POLICY_LEN,
                },
            )
            .expect("an ACL's policy form parses")
        };
        let doc = as_policy(&grants, Scope::Object, false).unwrap();
        assert_eq!(parse(&doc).statements().len(), 2);
        assert!(
            doc.contains("s3:PutObjectAcl") && !doc.contains("s3:PutObject\""),
            "{doc}"
        );
        // IgnorePublicAcls leaves only the account's grant.
        let doc = as_policy(&grants, Scope::Object, true).unwrap();
        let p = parse(&doc);
        assert_eq!(p.statements().len(), 1);
        assert!(!p.statements()[0].grants_everyone());
        // The largest ACL fits the policy form's limit.
        let many: Vec<AclGrant> = (0..MAX_GRANTS)
            .map(|i| AclGrant {
                grantee: AclGrantee::Account(format!("{:012}", 100_000_000_000u64 + i as u64)),
                permission: AclPermission::FullControl,
            })
            .collect();
        assert_eq!(
            parse(&as_policy(&many, Scope::Bucket, false).unwrap())
                .statements()
                .len(),
            MAX_GRANTS
        );
        assert_eq!(as_policy(&grants[..1], Scope::Object, true), None);
        assert_eq!(scope_of("s3:PutObject"), Some(Scope::Bucket));
        assert_eq!(scope_of("s3:GetObject"), Some(Scope::Object));
        assert_eq!(scope_of("s3:PutBucketPolicy"), None);
    }
}
