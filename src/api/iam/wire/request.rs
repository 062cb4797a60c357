//! Typed IAM and STS requests, parsed from a request's [`Params`].
//!
//! `Action` picks the variant, `Version` (when present) must be the service's, and every
//! member is checked against its model constraint ([`super::constraints`]) before a request
//! value exists. Once parsed, the types carry the guarantee: a [`UserName`] matches
//! `[\w+=,.@-]+` and is 1..=128 characters (1..=64 where the operation creates or attaches), a
//! [`PolicyDocument`] is Latin-1 text of at most 131,072 characters, and so on; the handler and
//! the store never re-check the wire constraints. Defaults AWS applies to absent members
//! (`Path` `/`, `MaxItems` 100, `Scope` `All`) are applied here, so the request says what is
//! meant. Parameters no action knows (the signature's `X-Amz-*` among them) are ignored, as
//! AWS ignores them.

use std::fmt;

use super::constraints::{
    ACCESS_KEY_ID_RULE, ARN_RULE, Checker, DESCRIPTION_RULE, EXISTING_USER_NAME_RULE, MARKER_RULE,
    MAX_ITEMS_DEFAULT, MAX_ITEMS_MAX, MAX_ITEMS_MIN, MAX_TAGS, PATH_PREFIX_RULE, PATH_RULE,
    POLICY_DOCUMENT_RULE, POLICY_NAME_RULE, POLICY_PATH_RULE, POLICY_USAGE_VALUES,
    POLICY_VERSION_ID_RULE, SCOPE_VALUES, STATUS_VALUES, Shown, StrRule, TAG_KEY_RULE,
    TAG_VALUE_RULE, USER_NAME_RULE, check_one,
};
use super::error::{ErrorCode, WireError};
use super::form::Params;
use super::{IAM_VERSION, STS_VERSION};

macro_rules! wire_string {
    ($(#[$doc:meta])* $name:ident, $rule:expr, $member:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks `s` against the member's constraint, failing with AWS's
            /// `ValidationError` for the member
            #[doc = concat!("`", $member, "`.")]
            pub fn parse(s: &str) -> Result<Self, WireError> {
                check_one($member, s, &$rule)?;
                Ok($name(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

wire_string!(
    /// A user name: `[\w+=,.@-]+`, 1..=128 characters; from CreateUser, AttachUserPolicy,
    /// DetachUserPolicy and ListAttachedUserPolicies at most 64. IAM compares user names
    /// case-insensitively for uniqueness; that is the store's rule, not this type's.
    UserName, EXISTING_USER_NAME_RULE, "userName"
);
wire_string!(
    /// An inline or managed policy name: `[\w+=,.@-]+`, 1..=128 characters.
    PolicyName, POLICY_NAME_RULE, "policyName"
);
wire_string!(
    /// A user's path: `/` or `/.../` of printable ASCII, at most 512 characters.
    UserPath, PATH_RULE, "path"
);
wire_string!(
    /// ListUsers' path prefix: `/` followed by printable ASCII, at most 512 characters.
    UserPathPrefix, PATH_PREFIX_RULE, "pathPrefix"
);
wire_string!(
    /// A managed policy's path or a policy listing's path prefix: `/` or `/seg/.../` with
    /// segments of `[A-Za-z0-9.,+@=_-]`, at most 512 characters.
    PolicyPath, POLICY_PATH_RULE, "path"
);
wire_string!(
    /// A policy ARN: 20..=2048 characters. The model has no pattern: whether it is a
    /// well-formed ARN of an existing policy is the handler's question (`InvalidInput`,
    /// `NoSuchEntity`).
    PolicyArn, ARN_RULE, "policyArn"
);
wire_string!(
    /// An access key ID: `[\w]+`, 16..=128 characters.
    AccessKeyId, ACCESS_KEY_ID_RULE, "accessKeyId"
);
wire_string!(
    /// An opaque pagination marker from a previous truncated listing: Latin-1, 1..=320.
    Marker, MARKER_RULE, "marker"
);
wire_string!(
    /// A policy document as sent: tab, newline, carriage return and Latin-1 characters,
    /// 1..=131,072 of them. Whether it is a valid policy, and within the content quotas, is
    /// the store's question (`MalformedPolicyDocument`, `LimitExceeded`).
    PolicyDocument, POLICY_DOCUMENT_RULE, "policyDocument"
);
wire_string!(
    /// A managed policy description: any text of at most 1,000 characters.
    Description, DESCRIPTION_RULE, "description"
);
wire_string!(
    /// A policy version ID, `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?` (e.g. `v1`).
    PolicyVersionId, POLICY_VERSION_ID_RULE, "versionId"
);
wire_string!(
    /// A tag key: letters, digits, separators and `_.:/=+-@`, 1..=128 characters.
    TagKey, TAG_KEY_RULE, "key"
);
wire_string!(
    /// A tag value: as a key, but 0..=256 characters.
    TagValue, TAG_VALUE_RULE, "value"
);

impl UserPath {
    /// `/`, the default path.
    pub fn root() -> Self {
        UserPath("/".to_owned())
    }
}

impl Default for UserPath {
    fn default() -> Self {
        Self::root()
    }
}

impl UserPathPrefix {
    /// `/`: every user.
    pub fn root() -> Self {
        UserPathPrefix("/".to_owned())
    }
}

impl Default for UserPathPrefix {
    fn default() -> Self {
        Self::root()
    }
}

impl PolicyPath {
    /// `/`, the default path, and the prefix that lists every policy.
    pub fn root() -> Self {
        PolicyPath("/".to_owned())
    }
}

impl Default for PolicyPath {
    fn default() -> Self {
        Self::root()
    }
}

/// A tag of CreateUser or CreatePolicy. Keys of one request are unique ignoring case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag {
    pub key: TagKey,
    pub value: TagValue,
}

/// `MaxItems`: 1..=1000, 100 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaxItems(u16);

impl MaxItems {
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for MaxItems {
    fn default() -> Self {
        MaxItems(MAX_ITEMS_DEFAULT)
    }
}

/// Where a listing starts and how long a page may be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pagination {
    pub marker: Option<Marker>,
    pub max_items: MaxItems,
}

/// An access key's status. The model's `statusType` also has `Expired`, which AWS sets
/// itself; a request that asks for it is refused (`InvalidInput`), so a key's status here is
/// always one a caller may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

impl AccessKeyStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }
}

/// ListPolicies' `Scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PolicyScope {
    /// Every policy (the default).
    #[default]
    All,
    /// AWS-managed policies only.
    Aws,
    /// The account's own policies only.
    Local,
}

/// ListPolicies' `PolicyUsageFilter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyUsage {
    PermissionsPolicy,
    PermissionsBoundary,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateUser {
    /// At most [`super::USER_NAME_MAX_LEN`] characters.
    pub user_name: UserName,
    pub path: UserPath,
    pub permissions_boundary: Option<PolicyArn>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetUser {
    /// `None`: the caller.
    pub user_name: Option<UserName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUsers {
    pub path_prefix: UserPathPrefix,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteUser {
    pub user_name: UserName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAccessKey {
    /// `None`: the caller.
    pub user_name: Option<UserName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAccessKeys {
    /// `None`: the caller.
    pub user_name: Option<UserName>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateAccessKey {
    /// `None`: the caller.
    pub user_name: Option<UserName>,
    pub access_key_id: AccessKeyId,
    pub status: AccessKeyStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAccessKey {
    /// `None`: the caller.
    pub user_name: Option<UserName>,
    pub access_key_id: AccessKeyId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutUserPolicy {
    pub user_name: UserName,
    pub policy_name: PolicyName,
    pub policy_document: PolicyDocument,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetUserPolicy {
    pub user_name: UserName,
    pub policy_name: PolicyName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUserPolicies {
    pub user_name: UserName,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteUserPolicy {
    pub user_name: UserName,
    pub policy_name: PolicyName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePolicy {
    pub policy_name: PolicyName,
    pub path: PolicyPath,
    pub policy_document: PolicyDocument,
    pub description: Option<Description>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPolicy {
    pub policy_arn: PolicyArn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetPolicyVersion {
    pub policy_arn: PolicyArn,
    pub version_id: PolicyVersionId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPolicies {
    pub scope: PolicyScope,
    /// Only policies attached to some user, group or role.
    pub only_attached: bool,
    pub path_prefix: PolicyPath,
    pub policy_usage_filter: Option<PolicyUsage>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePolicy {
    pub policy_arn: PolicyArn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachUserPolicy {
    /// At most [`super::USER_NAME_MAX_LEN`] characters.
    pub user_name: UserName,
    pub policy_arn: PolicyArn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachUserPolicy {
    /// At most [`super::USER_NAME_MAX_LEN`] characters.
    pub user_name: UserName,
    pub policy_arn: PolicyArn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAttachedUserPolicies {
    /// At most [`super::USER_NAME_MAX_LEN`] characters.
    pub user_name: UserName,
    pub path_prefix: PolicyPath,
    pub pagination: Pagination,
}

macro_rules! iam_actions {
    ($($name:ident),+ $(,)?) => {
        /// An IAM action this endpoint serves; its name is AWS's (`iam:<name>` in policies).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum IamAction {
            $($name),+
        }

        impl IamAction {
            /// Every action served.
            pub const ALL: &'static [IamAction] = &[$(IamAction::$name),+];

            /// The `Action` parameter's value, and the root element's prefix.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(IamAction::$name => stringify!($name)),+
                }
            }

            /// The action named exactly `name` (AWS's names are case-sensitive).
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($name) => Some(IamAction::$name),)+
                    _ => None,
                }
            }
        }

        /// A parsed IAM request: one variant per action.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum IamRequest {
            $($name($name)),+
        }

        impl IamRequest {
            pub fn action(&self) -> IamAction {
                match self {
                    $(IamRequest::$name(_) => IamAction::$name),+
                }
            }
        }
    };
}

iam_actions!(
    CreateUser,
    GetUser,
    ListUsers,
    DeleteUser,
    CreateAccessKey,
    ListAccessKeys,
    UpdateAccessKey,
    DeleteAccessKey,
    PutUserPolicy,
    GetUserPolicy,
    ListUserPolicies,
    DeleteUserPolicy,
    CreatePolicy,
    GetPolicy,
    GetPolicyVersion,
    ListPolicies,
    DeletePolicy,
    AttachUserPolicy,
    DetachUserPolicy,
    ListAttachedUserPolicies,
);

impl fmt::Display for IamAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An STS action this endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StsAction {
    GetCallerIdentity,
}

impl StsAction {
    pub const ALL: &'static [StsAction] = &[StsAction::GetCallerIdentity];

    pub const fn as_str(self) -> &'static str {
        match self {
            StsAction::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "GetCallerIdentity" => Some(StsAction::GetCallerIdentity),
            _ => None,
        }
    }
}

impl fmt::Display for StsAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed STS request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsRequest {
    /// Takes no parameters.
    GetCallerIdentity,
}

impl StsRequest {
    pub fn action(&self) -> StsAction {
        match self {
            StsRequest::GetCallerIdentity => StsAction::GetCallerIdentity,
        }
    }
}

/// `Action` and `Version`: the action's name once both are acceptable.
fn action_name<'p>(params: &'p Params, version: &str) -> Result<&'p str, WireError> {
    let action = match params.get("Action") {
        Some(a) if !a.is_empty() => a,
        _ => {
            return Err(WireError::new(
                ErrorCode::MissingAction,
                "The request is missing an action or a required parameter.",
            ));
        }
    };
    // AWS looks an operation up by name and version together: a wrong version reads as an
    // unknown operation, with the version the request named.
    if let Some(v) = params.get("Version")
        && v != version
    {
        return Err(unknown_action(action, v));
    }
    Ok(action)
}

fn unknown_action(action: &str, version: &str) -> WireError {
    WireError::new(
        ErrorCode::InvalidAction,
        format!("Could not find operation {action} for version {version}"),
    )
}

/// Parses an IAM request.
pub fn parse_iam(params: &Params) -> Result<IamRequest, WireError> {
    let name = action_name(params, IAM_VERSION)?;
    let action = IamAction::from_name(name).ok_or_else(|| unknown_action(name, IAM_VERSION))?;
    let mut c = Checker::new(params);
    // Each arm reads the members in the shape's order, which is the order AWS lists
    // violations in; a `None` left after `finish` succeeded is a member that was absent.
    macro_rules! done {
        ($value:expr) => {{
            c.finish()?;
            $value
        }};
    }
    let request = match action {
        IamAction::CreateUser => {
            let path = c.string("Path", "path", &PATH_RULE, false);
            let user_name = c.string("UserName", "userName", &USER_NAME_RULE, true);
            let boundary = c.string(
                "PermissionsBoundary",
                "permissionsBoundary",
                &ARN_RULE,
                false,
            );
            let tags = tags(&mut c);
            done!(IamRequest::CreateUser(CreateUser {
                user_name: UserName(present(user_name)?),
                path: path.map_or_else(UserPath::root, |p| UserPath(p.to_owned())),
                permissions_boundary: boundary.map(|b| PolicyArn(b.to_owned())),
                tags,
            }))
        }
        IamAction::GetUser => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, false);
            done!(IamRequest::GetUser(GetUser {
                user_name: user_name.map(|u| UserName(u.to_owned())),
            }))
        }
        IamAction::ListUsers => {
            let prefix = c.string("PathPrefix", "pathPrefix", &PATH_PREFIX_RULE, false);
            let pagination = pagination(&mut c);
            done!(IamRequest::ListUsers(ListUsers {
                path_prefix: prefix
                    .map_or_else(UserPathPrefix::root, |p| UserPathPrefix(p.to_owned())),
                pagination,
            }))
        }
        IamAction::DeleteUser => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, true);
            done!(IamRequest::DeleteUser(DeleteUser {
                user_name: UserName(present(user_name)?),
            }))
        }
        IamAction::CreateAccessKey => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, false);
            done!(IamRequest::CreateAccessKey(CreateAccessKey {
                user_name: user_name.map(|u| UserName(u.to_owned())),
            }))
        }
        IamAction::ListAccessKeys => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, false);
            let pagination = pagination(&mut c);
            done!(IamRequest::ListAccessKeys(ListAccessKeys {
                user_name: user_name.map(|u| UserName(u.to_owned())),
                pagination,
            }))
        }
        IamAction::UpdateAccessKey => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, false);
            let key = c.string("AccessKeyId", "accessKeyId", &ACCESS_KEY_ID_RULE, true);
            let status = c.enumeration("Status", "status", &STATUS_VALUES, true);
            let status = match status {
                Some(0) => Some(AccessKeyStatus::Active),
                Some(1) => Some(AccessKeyStatus::Inactive),
                Some(_) => {
                    c.defer(WireError::new(
                        ErrorCode::InvalidInput,
                        "The status Expired cannot be set; use Active or Inactive.",
                    ));
                    None
                }
                None => None,
            };
            done!(IamRequest::UpdateAccessKey(UpdateAccessKey {
                user_name: user_name.map(|u| UserName(u.to_owned())),
                access_key_id: AccessKeyId(present(key)?),
                status: present_value(status)?,
            }))
        }
        IamAction::DeleteAccessKey => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, false);
            let key = c.string("AccessKeyId", "accessKeyId", &ACCESS_KEY_ID_RULE, true);
            done!(IamRequest::DeleteAccessKey(DeleteAccessKey {
                user_name: user_name.map(|u| UserName(u.to_owned())),
                access_key_id: AccessKeyId(present(key)?),
            }))
        }
        IamAction::PutUserPolicy => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, true);
            let policy_name = c.string("PolicyName", "policyName", &POLICY_NAME_RULE, true);
            let document = c.string(
                "PolicyDocument",
                "policyDocument",
                &POLICY_DOCUMENT_RULE,
                true,
            );
            done!(IamRequest::PutUserPolicy(PutUserPolicy {
                user_name: UserName(present(user_name)?),
                policy_name: PolicyName(present(policy_name)?),
                policy_document: PolicyDocument(present(document)?),
            }))
        }
        IamAction::GetUserPolicy => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, true);
            let policy_name = c.string("PolicyName", "policyName", &POLICY_NAME_RULE, true);
            done!(IamRequest::GetUserPolicy(GetUserPolicy {
                user_name: UserName(present(user_name)?),
                policy_name: PolicyName(present(policy_name)?),
            }))
        }
        IamAction::ListUserPolicies => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, true);
            let pagination = pagination(&mut c);
            done!(IamRequest::ListUserPolicies(ListUserPolicies {
                user_name: UserName(present(user_name)?),
                pagination,
            }))
        }
        IamAction::DeleteUserPolicy => {
            let user_name = c.string("UserName", "userName", &EXISTING_USER_NAME_RULE, true);
            let policy_name = c.string("PolicyName", "policyName", &POLICY_NAME_RULE, true);
            done!(IamRequest::DeleteUserPolicy(DeleteUserPolicy {
                user_name: UserName(present(user_name)?),
                policy_name: PolicyName(present(policy_name)?),
            }))
        }
        IamAction::CreatePolicy => {
            let policy_name = c.string("PolicyName", "policyName", &POLICY_NAME_RULE, true);
            let path = c.string("Path", "path", &POLICY_PATH_RULE, false);
            let document = c.string(
                "PolicyDocument",
                "policyDocument",
                &POLICY_DOCUMENT_RULE,
                true,
            );
            let description = c.string("Description", "description", &DESCRIPTION_RULE, false);
            let tags = tags(&mut c);
            done!(IamRequest::CreatePolicy(CreatePolicy {
                policy_name: PolicyName(present(policy_name)?),
                path: path.map_or_else(PolicyPath::root, |p| PolicyPath(p.to_owned())),
                policy_document: PolicyDocument(present(document)?),
                description: description.map(|d| Description(d.to_owned())),
                tags,
            }))
        }
        IamAction::GetPolicy => {
            let arn = c.string("PolicyArn", "policyArn", &ARN_RULE, true);
            done!(IamRequest::GetPolicy(GetPolicy {
                policy_arn: PolicyArn(present(arn)?),
            }))
        }
        IamAction::GetPolicyVersion => {
            let arn = c.string("PolicyArn", "policyArn", &ARN_RULE, true);
            let version = c.string("VersionId", "versionId", &POLICY_VERSION_ID_RULE, true);
            done!(IamRequest::GetPolicyVersion(GetPolicyVersion {
                policy_arn: PolicyArn(present(arn)?),
                version_id: PolicyVersionId(present(version)?),
            }))
        }
        IamAction::ListPolicies => {
            let scope = c.enumeration("Scope", "scope", &SCOPE_VALUES, false);
            let only_attached = c.boolean("OnlyAttached");
            let prefix = c.string("PathPrefix", "pathPrefix", &POLICY_PATH_RULE, false);
            let usage = c.enumeration(
                "PolicyUsageFilter",
                "policyUsageFilter",
                &POLICY_USAGE_VALUES,
                false,
            );
            let pagination = pagination(&mut c);
            done!(IamRequest::ListPolicies(ListPolicies {
                scope: match scope {
                    Some(1) => PolicyScope::Aws,
                    Some(2) => PolicyScope::Local,
                    _ => PolicyScope::All,
                },
                only_attached: only_attached.unwrap_or(false),
                path_prefix: prefix.map_or_else(PolicyPath::root, |p| PolicyPath(p.to_owned())),
                policy_usage_filter: usage.map(|u| {
                    if u == 0 {
                        PolicyUsage::PermissionsPolicy
                    } else {
                        PolicyUsage::PermissionsBoundary
                    }
                }),
                pagination,
            }))
        }
        IamAction::DeletePolicy => {
            let arn = c.string("PolicyArn", "policyArn", &ARN_RULE, true);
            done!(IamRequest::DeletePolicy(DeletePolicy {
                policy_arn: PolicyArn(present(arn)?),
            }))
        }
        IamAction::AttachUserPolicy => {
            let user_name = c.string("UserName", "userName", &USER_NAME_RULE, true);
            let arn = c.string("PolicyArn", "policyArn", &ARN_RULE, true);
            done!(IamRequest::AttachUserPolicy(AttachUserPolicy {
                user_name: UserName(present(user_name)?),
                policy_arn: PolicyArn(present(arn)?),
            }))
        }
        IamAction::DetachUserPolicy => {
            let user_name = c.string("UserName", "userName", &USER_NAME_RULE, true);
            let arn = c.string("PolicyArn", "policyArn", &ARN_RULE, true);
            done!(IamRequest::DetachUserPolicy(DetachUserPolicy {
                user_name: UserName(present(user_name)?),
                policy_arn: PolicyArn(present(arn)?),
            }))
        }
        IamAction::ListAttachedUserPolicies => {
            let user_name = c.string("UserName", "userName", &USER_NAME_RULE, true);
            let prefix = c.string("PathPrefix", "pathPrefix", &POLICY_PATH_RULE, false);
            let pagination = pagination(&mut c);
            done!(IamRequest::ListAttachedUserPolicies(
                ListAttachedUserPolicies {
                    user_name: UserName(present(user_name)?),
                    path_prefix: prefix.map_or_else(PolicyPath::root, |p| PolicyPath(p.to_owned())),
                    pagination,
                }
            ))
        }
    };
    Ok(request)
}

/// Parses an STS request.
pub fn parse_sts(params: &Params) -> Result<StsRequest, WireError> {
    let name = action_name(params, STS_VERSION)?;
    match StsAction::from_name(name) {
        Some(StsAction::GetCallerIdentity) => Ok(StsRequest::GetCallerIdentity),
        None => Err(unknown_action(name, STS_VERSION)),
    }
}

/// A required member after [`Checker::finish`] succeeded. `None` cannot happen then (the
/// checker recorded it as null); the error keeps the parser total without a panic path.
fn present(v: Option<&str>) -> Result<String, WireError> {
    present_value(v).map(str::to_owned)
}

fn present_value<T>(v: Option<T>) -> Result<T, WireError> {
    v.ok_or_else(|| {
        WireError::new(
            ErrorCode::InternalFailure,
            "A required parameter was lost after validation.",
        )
    })
}

/// `Marker` and `MaxItems`, in that order (the shapes' order).
fn pagination(c: &mut Checker<'_>) -> Pagination {
    let marker = c.string("Marker", "marker", &MARKER_RULE, false);
    let max = c.integer("MaxItems", "maxItems", MAX_ITEMS_MIN, MAX_ITEMS_MAX);
    Pagination {
        marker: marker.map(|m| Marker(m.to_owned())),
        max_items: max
            .and_then(|n| u16::try_from(n).ok())
            .map_or_else(MaxItems::default, MaxItems),
    }
}

/// `Tags.member.N.Key` / `Tags.member.N.Value`, N from 1, in the order of N. botocore sends
/// an empty list as `Tags=` alone. A `Tags.` parameter of any other shape is refused rather
/// than ignored, so a tag is never dropped silently.
fn tags(c: &mut Checker<'_>) -> Vec<Tag> {
    let params = c.params();
    if let Some(v) = params.get("Tags")
        && !v.is_empty()
    {
        c.fail(WireError::new(
            ErrorCode::InvalidParameterValue,
            "The parameter Tags must be given as Tags.member.N.Key and Tags.member.N.Value.",
        ));
        return Vec::new();
    }
    // index -> (key, value); MAX_PARAMS bounds the entries.
    let mut entries: std::collections::BTreeMap<u32, (Option<&str>, Option<&str>)> =
        std::collections::BTreeMap::new();
    for (name, value) in params.with_prefix("Tags.") {
        let parsed = name
            .strip_prefix("Tags.member.")
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(n, field)| Some((list_index(n)?, field)));
        match parsed {
            Some((n, "Key")) => entries.entry(n).or_default().0 = Some(value),
            Some((n, "Value")) => entries.entry(n).or_default().1 = Some(value),
            _ => {
                c.fail(WireError::new(
                    ErrorCode::InvalidParameterValue,
                    format!("The parameter {name} is not a member of Tags."),
                ));
                return Vec::new();
            }
        }
    }
    if entries.len() > MAX_TAGS {
        let limit = format!("Member must have length less than or equal to {MAX_TAGS}");
        c.violate(Shown::Omitted, "tags", &limit);
    }
    let mut out = Vec::with_capacity(entries.len());
    let mut valid = true;
    for (position, (key, value)) in (1..).zip(entries.values()) {
        let key = checked(
            c,
            &format!("tags.{position}.member.key"),
            *key,
            &TAG_KEY_RULE,
        );
        let value = checked(
            c,
            &format!("tags.{position}.member.value"),
            *value,
            &TAG_VALUE_RULE,
        );
        match (key, value) {
            (Some(k), Some(v)) => out.push(Tag {
                key: TagKey(k.to_owned()),
                value: TagValue(v.to_owned()),
            }),
            _ => valid = false,
        }
    }
    if valid {
        let mut seen = std::collections::HashSet::with_capacity(out.len());
        if !out.iter().all(|t| seen.insert(t.key.0.to_lowercase())) {
            c.defer(WireError::new(
                ErrorCode::InvalidInput,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    out
}

/// A required member found by name rather than through [`Checker::string`].
fn checked<'v>(
    c: &mut Checker<'_>,
    member: &str,
    value: Option<&'v str>,
    rule: &StrRule,
) -> Option<&'v str> {
    match value {
        Some(v) => c.check_value(member, v, rule).then_some(v),
        None => {
            c.violate(Shown::Null, member, "Member must not be null");
            None
        }
    }
}

/// A query-protocol list index: a decimal integer from 1, without leading zeros.
fn list_index(s: &str) -> Option<u32> {
    if s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&n| n >= 1)
}
