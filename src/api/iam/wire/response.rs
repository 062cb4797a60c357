//! Typed IAM and STS responses and their XML, element for element as AWS writes them.
//!
//! The data types borrow (`&'a str`) from whatever the handler holds, so a response is built
//! without copying names, ARNs or policy documents. Each renders in its shape's member order
//! (IAM's service model), optional members only when present, empty lists as `<Name/>`, lists
//! as `<member>` elements, dates as `YYYY-MM-DDTHH:MM:SSZ`. What AWS leaves out of a given
//! action is left out here whatever the handler fills in, so the handler cannot get it wrong:
//! ListUsers omits users' `Tags` and `PermissionsBoundary`, ListPolicies omits `Description`
//! and `Tags`, CreatePolicy omits `Description`; `Tags` is omitted when empty.
//! Policy documents (GetUserPolicy, GetPolicyVersion) are URL-encoded per RFC 3986, as IAM
//! returns them; botocore and aws-cli decode them.
//!
//! [`AccessKey`] holds a secret access key: its `Debug` redacts it, and it is written nowhere
//! but into the CreateAccessKey document.

use std::fmt;

use super::request::{AccessKeyStatus, IamAction, StsAction, Tag};
use super::xml::{Timestamp, XmlWriter, url_encode_policy};
use super::{IAM_XMLNS, STS_XMLNS};

/// A tag as rendered: `<member><Key/><Value/></member>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagRef<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

impl<'a> From<&'a Tag> for TagRef<'a> {
    fn from(t: &'a Tag) -> Self {
        TagRef {
            key: t.key.as_str(),
            value: t.value.as_str(),
        }
    }
}

/// IAM's `User`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User<'a> {
    pub path: &'a str,
    pub user_name: &'a str,
    pub user_id: &'a str,
    pub arn: &'a str,
    pub create_date: Timestamp,
    pub password_last_used: Option<Timestamp>,
    /// The ARN of the permissions boundary policy, if the user has one.
    pub permissions_boundary: Option<&'a str>,
    pub tags: Vec<TagRef<'a>>,
}

/// IAM's `AccessKey`: a new key, with its secret. `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey<'a> {
    pub user_name: &'a str,
    pub access_key_id: &'a str,
    pub status: AccessKeyStatus,
    pub secret_access_key: &'a str,
    pub create_date: Timestamp,
}

impl fmt::Debug for AccessKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("user_name", &self.user_name)
            .field("access_key_id", &self.access_key_id)
            .field("status", &self.status)
            .field("secret_access_key", &"<redacted>")
            .field("create_date", &self.create_date)
            .finish()
    }
}

/// IAM's `AccessKeyMetadata`: a key without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyMetadata<'a> {
    pub user_name: &'a str,
    pub access_key_id: &'a str,
    pub status: AccessKeyStatus,
    pub create_date: Timestamp,
}

/// IAM's `Policy` (a managed policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy<'a> {
    pub policy_name: &'a str,
    pub policy_id: &'a str,
    pub arn: &'a str,
    pub path: &'a str,
    pub default_version_id: &'a str,
    pub attachment_count: u64,
    pub permissions_boundary_usage_count: u64,
    pub is_attachable: bool,
    /// Rendered by GetPolicy only, and only when not empty.
    pub description: Option<&'a str>,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
    /// Rendered by CreatePolicy and GetPolicy when not empty.
    pub tags: Vec<TagRef<'a>>,
}

/// IAM's `PolicyVersion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion<'a> {
    /// The document as stored (plain JSON); URL-encoded when rendered.
    pub document: &'a str,
    pub version_id: &'a str,
    pub is_default_version: bool,
    pub create_date: Timestamp,
}

/// IAM's `AttachedPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachedPolicy<'a> {
    pub policy_name: &'a str,
    pub policy_arn: &'a str,
}

/// How a listing ends: `IsTruncated`, and the `Marker` to continue from when it is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Truncation<'a> {
    /// The last page.
    #[default]
    Complete,
    /// More follow; the next request passes `marker` as `Marker`.
    Truncated { marker: &'a str },
}

/// A successful IAM answer: one variant per action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamResponse<'a> {
    CreateUser(User<'a>),
    GetUser(User<'a>),
    ListUsers {
        users: Vec<User<'a>>,
        truncation: Truncation<'a>,
    },
    DeleteUser,
    CreateAccessKey(AccessKey<'a>),
    ListAccessKeys {
        keys: Vec<AccessKeyMetadata<'a>>,
        truncation: Truncation<'a>,
    },
    UpdateAccessKey,
    DeleteAccessKey,
    PutUserPolicy,
    GetUserPolicy {
        user_name: &'a str,
        policy_name: &'a str,
        /// As stored (plain JSON); URL-encoded when rendered.
        policy_document: &'a str,
    },
    ListUserPolicies {
        policy_names: Vec<&'a str>,
        truncation: Truncation<'a>,
    },
    DeleteUserPolicy,
    CreatePolicy(ManagedPolicy<'a>),
    GetPolicy(ManagedPolicy<'a>),
    GetPolicyVersion(PolicyVersion<'a>),
    ListPolicies {
        policies: Vec<ManagedPolicy<'a>>,
        truncation: Truncation<'a>,
    },
    DeletePolicy,
    AttachUserPolicy,
    DetachUserPolicy,
    ListAttachedUserPolicies {
        policies: Vec<AttachedPolicy<'a>>,
        truncation: Truncation<'a>,
    },
}

impl IamResponse<'_> {
    pub fn action(&self) -> IamAction {
        match self {
            IamResponse::CreateUser(_) => IamAction::CreateUser,
            IamResponse::GetUser(_) => IamAction::GetUser,
            IamResponse::ListUsers { .. } => IamAction::ListUsers,
            IamResponse::DeleteUser => IamAction::DeleteUser,
            IamResponse::CreateAccessKey(_) => IamAction::CreateAccessKey,
            IamResponse::ListAccessKeys { .. } => IamAction::ListAccessKeys,
            IamResponse::UpdateAccessKey => IamAction::UpdateAccessKey,
            IamResponse::DeleteAccessKey => IamAction::DeleteAccessKey,
            IamResponse::PutUserPolicy => IamAction::PutUserPolicy,
            IamResponse::GetUserPolicy { .. } => IamAction::GetUserPolicy,
            IamResponse::ListUserPolicies { .. } => IamAction::ListUserPolicies,
            IamResponse::DeleteUserPolicy => IamAction::DeleteUserPolicy,
            IamResponse::CreatePolicy(_) => IamAction::CreatePolicy,
            IamResponse::GetPolicy(_) => IamAction::GetPolicy,
            IamResponse::GetPolicyVersion(_) => IamAction::GetPolicyVersion,
            IamResponse::ListPolicies { .. } => IamAction::ListPolicies,
            IamResponse::DeletePolicy => IamAction::DeletePolicy,
            IamResponse::AttachUserPolicy => IamAction::AttachUserPolicy,
            IamResponse::DetachUserPolicy => IamAction::DetachUserPolicy,
            IamResponse::ListAttachedUserPolicies { .. } => IamAction::ListAttachedUserPolicies,
        }
    }
}

/// STS's `GetCallerIdentity` result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerIdentity<'a> {
    pub arn: &'a str,
    pub user_id: &'a str,
    pub account: &'a str,
}

/// A successful STS answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsResponse<'a> {
    GetCallerIdentity(CallerIdentity<'a>),
}

impl StsResponse<'_> {
    pub fn action(&self) -> StsAction {
        match self {
            StsResponse::GetCallerIdentity(_) => StsAction::GetCallerIdentity,
        }
    }
}

/// Which optional `User` members an action writes.
#[derive(Clone, Copy)]
enum UserDetail {
    /// GetUser, CreateUser: everything present.
    Full,
    /// ListUsers: no `PermissionsBoundary`, no `Tags`.
    Listing,
}

/// Which optional `Policy` members an action writes.
#[derive(Clone, Copy)]
enum PolicyDetail {
    /// GetPolicy: `Description` and `Tags` when not empty.
    Full,
    /// CreatePolicy: `Tags` when not empty, never `Description`.
    Created,
    /// ListPolicies: neither.
    Listing,
}

/// The response document of an IAM action.
pub fn render(resp: &IamResponse<'_>, request_id: &str) -> String {
    let action = resp.action().as_str();
    let mut w = XmlWriter::with_capacity(512);
    let root = format!("{action}Response");
    let result = format!("{action}Result");
    w.open_ns(&root, IAM_XMLNS);
    match resp {
        IamResponse::DeleteUser
        | IamResponse::UpdateAccessKey
        | IamResponse::DeleteAccessKey
        | IamResponse::PutUserPolicy
        | IamResponse::DeleteUserPolicy
        | IamResponse::DeletePolicy
        | IamResponse::AttachUserPolicy
        | IamResponse::DetachUserPolicy => {}
        IamResponse::CreateUser(user) | IamResponse::GetUser(user) => {
            w.open(&result);
            write_user(&mut w, "User", user, UserDetail::Full);
            w.close(&result);
        }
        IamResponse::ListUsers { users, truncation } => {
            w.open(&result);
            write_list(&mut w, "Users", users, |w, u| {
                write_user(w, "member", u, UserDetail::Listing);
            });
            write_truncation(&mut w, *truncation);
            w.close(&result);
        }
        IamResponse::CreateAccessKey(key) => {
            w.open(&result);
            w.open("AccessKey");
            w.text("UserName", key.user_name);
            w.text("AccessKeyId", key.access_key_id);
            w.text("Status", key.status.as_str());
            w.text("SecretAccessKey", key.secret_access_key);
            w.date("CreateDate", key.create_date);
            w.close("AccessKey");
            w.close(&result);
        }
        IamResponse::ListAccessKeys { keys, truncation } => {
            w.open(&result);
            write_list(&mut w, "AccessKeyMetadata", keys, |w, k| {
                w.open("member");
                w.text("UserName", k.user_name);
                w.text("AccessKeyId", k.access_key_id);
                w.text("Status", k.status.as_str());
                w.date("CreateDate", k.create_date);
                w.close("member");
            });
            write_truncation(&mut w, *truncation);
            w.close(&result);
        }
        IamResponse::GetUserPolicy {
            user_name,
            policy_name,
            policy_document,
        } => {
            w.open(&result);
            w.text("UserName", user_name);
            w.text("PolicyName", policy_name);
            w.text("PolicyDocument", &url_encode_policy(policy_document));
            w.close(&result);
        }
        IamResponse::ListUserPolicies {
            policy_names,
            truncation,
        } => {
            w.open(&result);
            write_list(&mut w, "PolicyNames", policy_names, |w, n| {
                w.text("member", n)
            });
            write_truncation(&mut w, *truncation);
            w.close(&result);
        }
        IamResponse::CreatePolicy(policy) => {
            w.open(&result);
            write_policy(&mut w, "Policy", policy, PolicyDetail::Created);
            w.close(&result);
        }
        IamResponse::GetPolicy(policy) => {
            w.open(&result);
            write_policy(&mut w, "Policy", policy, PolicyDetail::Full);
            w.close(&result);
        }
        IamResponse::GetPolicyVersion(version) => {
            w.open(&result);
            w.open("PolicyVersion");
            w.text("Document", &url_encode_policy(version.document));
            w.text("VersionId", version.version_id);
            w.bool("IsDefaultVersion", version.is_default_version);
            w.date("CreateDate", version.create_date);
            w.close("PolicyVersion");
            w.close(&result);
        }
        IamResponse::ListPolicies {
            policies,
            truncation,
        } => {
            w.open(&result);
            write_list(&mut w, "Policies", policies, |w, p| {
                write_policy(w, "member", p, PolicyDetail::Listing);
            });
            write_truncation(&mut w, *truncation);
            w.close(&result);
        }
        IamResponse::ListAttachedUserPolicies {
            policies,
            truncation,
        } => {
            w.open(&result);
            write_list(&mut w, "AttachedPolicies", policies, |w, p| {
                w.open("member");
                w.text("PolicyName", p.policy_name);
                w.text("PolicyArn", p.policy_arn);
                w.close("member");
            });
            write_truncation(&mut w, *truncation);
            w.close(&result);
        }
    }
    write_metadata(&mut w, request_id);
    w.close(&root);
    w.finish()
}

/// The response document of an STS action.
pub fn render_sts(resp: &StsResponse<'_>, request_id: &str) -> String {
    let mut w = XmlWriter::with_capacity(512);
    match resp {
        StsResponse::GetCallerIdentity(id) => {
            w.open_ns("GetCallerIdentityResponse", STS_XMLNS);
            w.open("GetCallerIdentityResult");
            // The STS reference's example order, not the shape's.
            w.text("Arn", id.arn);
            w.text("UserId", id.user_id);
            w.text("Account", id.account);
            w.close("GetCallerIdentityResult");
            write_metadata(&mut w, request_id);
            w.close("GetCallerIdentityResponse");
        }
    }
    w.finish()
}

fn write_metadata(w: &mut XmlWriter, request_id: &str) {
    w.open("ResponseMetadata");
    w.text("RequestId", request_id);
    w.close("ResponseMetadata");
}

fn write_list<T>(
    w: &mut XmlWriter,
    name: &str,
    items: &[T],
    mut each: impl FnMut(&mut XmlWriter, &T),
) {
    if items.is_empty() {
        w.empty(name);
        return;
    }
    w.open(name);
    for item in items {
        each(w, item);
    }
    w.close(name);
}

fn write_truncation(w: &mut XmlWriter, t: Truncation<'_>) {
    match t {
        Truncation::Complete => w.bool("IsTruncated", false),
        Truncation::Truncated { marker } => {
            w.bool("IsTruncated", true);
            w.text("Marker", marker);
        }
    }
}

fn write_tags(w: &mut XmlWriter, tags: &[TagRef<'_>]) {
    if tags.is_empty() {
        return;
    }
    w.open("Tags");
    for t in tags {
        w.open("member");
        w.text("Key", t.key);
        w.text("Value", t.value);
        w.close("member");
    }
    w.close("Tags");
}

fn write_user(w: &mut XmlWriter, element: &str, u: &User<'_>, detail: UserDetail) {
    w.open(element);
    w.text("Path", u.path);
    w.text("UserName", u.user_name);
    w.text("UserId", u.user_id);
    w.text("Arn", u.arn);
    w.date("CreateDate", u.create_date);
    if let Some(t) = u.password_last_used {
        w.date("PasswordLastUsed", t);
    }
    if let UserDetail::Full = detail {
        if let Some(arn) = u.permissions_boundary {
            w.open("PermissionsBoundary");
            w.text("PermissionsBoundaryType", "PermissionsBoundaryPolicy");
            w.text("PermissionsBoundaryArn", arn);
            w.close("PermissionsBoundary");
        }
        write_tags(w, &u.tags);
    }
    w.close(element);
}

fn write_policy(w: &mut XmlWriter, element: &str, p: &ManagedPolicy<'_>, detail: PolicyDetail) {
    w.open(element);
    w.text("PolicyName", p.policy_name);
    w.text("PolicyId", p.policy_id);
    w.text("Arn", p.arn);
    w.text("Path", p.path);
    w.text("DefaultVersionId", p.default_version_id);
    w.u64("AttachmentCount", p.attachment_count);
    w.u64(
        "PermissionsBoundaryUsageCount",
        p.permissions_boundary_usage_count,
    );
    w.bool("IsAttachable", p.is_attachable);
    if let PolicyDetail::Full = detail
        && let Some(d) = p.description.filter(|d| !d.is_empty())
    {
        w.text("Description", d);
    }
    w.date("CreateDate", p.create_date);
    w.date("UpdateDate", p.update_date);
    if let PolicyDetail::Full | PolicyDetail::Created = detail {
        write_tags(w, &p.tags);
    }
    w.close(element);
}
