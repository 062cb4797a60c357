//! The engine checked against AWS's own documentation.
//!
//! Four parts:
//! 1. [`documented_examples`]: a table of policy examples from the AWS guides, each row naming
//!    the page it comes from, the documents, the request and the decision AWS documents.
//! 2. Parse and refusal tests: every refusal asserts its [`PolicyErrorKind`] and the reason.
//! 3. The wildcard matcher, policy variables and the limits, tested on their own.
//! 4. Property tests: no input panics the parser, mutated policies stay total, and the
//!    wildcard matcher agrees with a plain dynamic-programming reference.
//!
//! Accounts follow AWS's documentation convention: 111122223333 owns the bucket and the key,
//! 444455556666 is "another account".

use std::collections::HashSet;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::pattern::{arn_match, glob_str, wild};
use super::vars::{Template, VarSource};
use super::*;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The resource owner's account.
const A: &str = "111122223333";
/// Another account.
const B: &str = "444455556666";

const BUCKET: &str = "arn:aws:s3:::amzn-s3-demo-bucket";
const OBJECT: &str = "arn:aws:s3:::amzn-s3-demo-bucket/photo.jpg";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// IAM's largest inline role policy; the S3 bucket policy quota; the KMS key policy quota.
const IDENTITY_MAX: usize = 10_240;
const BUCKET_POLICY_MAX: usize = 20_480;
const KEY_POLICY_MAX: usize = 32_768;

/// Who makes the request.
#[derive(Debug, Clone, Copy)]
enum Who {
    Root(&'static str),
    /// Account and `path/name` (the path may be empty).
    User(&'static str, &'static str),
    Anonymous,
}

const ALICE: Who = Who::User(A, "Alice");
const BOB: Who = Who::User(A, "Bob");
const DAVE_DEV: Who = Who::User(A, "dev/Dave");
const JOHN_DOE: Who = Who::User(A, "JohnDoe");
const CAROL_B: Who = Who::User(B, "Carol");
const BOB_B: Who = Who::User(B, "Bob");
const ROOT_A: Who = Who::Root(A);
const ROOT_B: Who = Who::Root(B);
const ANONYMOUS: Who = Who::Anonymous;

/// Owned strings behind a [`Principal`].
struct Caller {
    kind: PrincipalKind,
    account: String,
    arn: String,
    user_id: String,
    username: Option<String>,
}

impl Caller {
    fn new(who: Who) -> Caller {
        match who {
            Who::Root(account) => Caller {
                kind: PrincipalKind::Root,
                account: account.to_owned(),
                arn: format!("arn:aws:iam::{account}:root"),
                user_id: account.to_owned(),
                username: None,
            },
            Who::User(account, path_and_name) => {
                let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
                Caller {
                    kind: PrincipalKind::User,
                    account: account.to_owned(),
                    arn: format!("arn:aws:iam::{account}:user/{path_and_name}"),
                    // Alice is AIDAALICEEXAMPLE: the shape of a real IAM user id.
                    user_id: format!("AIDA{}EXAMPLE", name.to_uppercase()),
                    username: Some(name.to_owned()),
                }
            }
            Who::Anonymous => Caller {
                kind: PrincipalKind::Anonymous,
                account: String::new(),
                arn: "*".to_owned(),
                user_id: "anonymous".to_owned(),
                username: None,
            },
        }
    }

    fn principal(&self) -> Principal<'_> {
        Principal {
            kind: self.kind,
            account: &self.account,
            arn: &self.arn,
            user_id: &self.user_id,
            username: self.username.as_deref(),
        }
    }
}

fn context_of(pairs: &[(&str, &[&str])]) -> Context {
    let mut ctx = Context::new();
    for (key, values) in pairs {
        ctx.insert_many(key, values.iter().map(|v| (*v).to_owned()).collect());
    }
    ctx
}

fn parse_as(doc: &str, kind: PolicyKind, max_len: usize) -> Result<Policy, PolicyError> {
    Policy::parse(doc, &ParseOptions { kind, max_len })
}

fn identity(doc: &str) -> Result<Policy, PolicyError> {
    parse_as(doc, PolicyKind::Identity, IDENTITY_MAX)
}

fn resource(doc: &str) -> Result<Policy, PolicyError> {
    parse_as(doc, PolicyKind::Resource, BUCKET_POLICY_MAX)
}

/// A 2012-10-17 identity policy holding `statement`.
fn identity_doc(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
}

/// One policy's verdict on `who` asking for `action` on `resource_arn`.
fn outcome(policy: &Policy, who: Who, action: &str, resource_arn: &str, ctx: &Context) -> Outcome {
    let caller = Caller::new(who);
    let principal = caller.principal();
    policy.evaluate(&Request {
        principal: &principal,
        action,
        resource: resource_arn,
        context: ctx,
    })
}

fn is_allow(o: Outcome) -> bool {
    matches!(o, Outcome::Allow { .. })
}

// ---------------------------------------------------------------------------------------------
// Part 1: the table of documented examples
// ---------------------------------------------------------------------------------------------

/// What AWS documents for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

use Expect::{Allowed, ExplicitDeny, ImplicitDeny};

type Ctx = &'static [(&'static str, &'static [&'static str])];

#[derive(Debug, Clone, Copy)]
struct Row {
    /// "<guide>: <page or example>" and what the row shows.
    name: &'static str,
    /// The caller's identity policies.
    identity: &'static [&'static str],
    /// The bucket policy or key policy.
    resource_policy: Option<&'static str>,
    who: Who,
    action: &'static str,
    resource: &'static str,
    context: Ctx,
    resource_account: &'static str,
    service: Service,
    expect: Expect,
}

/// A row with the defaults most rows share: Alice of the owning account reads an object of
/// the bucket, no policies, no context. Name and expectation are always written out.
const fn row(name: &'static str, expect: Expect) -> Row {
    Row {
        name,
        identity: &[],
        resource_policy: None,
        who: ALICE,
        action: "s3:GetObject",
        resource: OBJECT,
        context: &[],
        resource_account: A,
        service: Service::S3,
        expect,
    }
}

/// The KMS defaults: a request for `kms:Decrypt` on [`KEY`].
const fn kms_row(name: &'static str, expect: Expect) -> Row {
    Row {
        action: "kms:Decrypt",
        resource: KEY,
        service: Service::Kms,
        ..row(name, expect)
    }
}

// Documents several rows share.

const ID_GET_OBJECTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;

const ID_PUT_OBJECTS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;

const BUCKET_ALLOW_ALICE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowAlice",
    "Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},
    "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;

const BUCKET_ALLOW_CAROL_B: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AllowCarol",
    "Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/Carol"},
    "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;

const BUCKET_ALLOW_ACCOUNT_B_ARN: &str = r#"{"Version":"2012-10-17","Statement":[{
    "Sid":"Delegate to account 444455556666","Effect":"Allow",
    "Principal":{"AWS":"arn:aws:iam::444455556666:root"},
    "Action":["s3:GetObject","s3:ListBucket"],
    "Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"]}]}"#;

const BUCKET_ALLOW_ACCOUNT_B_BARE: &str = r#"{"Version":"2012-10-17","Statement":[{
    "Effect":"Allow","Principal":{"AWS":"444455556666"},
    "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;

const BUCKET_PUBLIC_READ_STAR: &str = r#"{"Version":"2012-10-17","Statement":[{
    "Sid":"PublicRead","Effect":"Allow","Principal":"*",
    "Action":["s3:GetObject","s3:GetObjectVersion"],
    "Resource":["arn:aws:s3:::amzn-s3-demo-bucket/*"]}]}"#;

const BUCKET_PUBLIC_READ_AWS_STAR: &str = r#"{"Version":"2012-10-17","Statement":[{
    "Sid":"PublicRead","Effect":"Allow","Principal":{"AWS":"*"},
    "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;

/// IAM User Guide, NotPrincipal: "all principals except the user named Bob in AWS account
/// 444455556666 are explicitly denied", plus the Allow that the page says Bob still needs.
const BUCKET_NOTPRINCIPAL_BOB_B: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::444455556666:user/Bob",
        "arn:aws:iam::444455556666:root"]},
     "Action":"s3:*",
     "Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"]},
    {"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:GetObject",
     "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;

/// The same Deny with only Bob's user ARN: the page warns that this "might deny access to the
/// entire account containing the principal".
const BUCKET_NOTPRINCIPAL_BOB_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::444455556666:user/Bob"},
     "Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"},
    {"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:GetObject",
     "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#;

/// S3 User Guide, bucket policy examples: require SSE-KMS (the classic two-statement pair).
const BUCKET_REQUIRE_SSE_KMS: &str = r#"{"Version":"2012-10-17","Id":"PutObjectPolicy",
  "Statement":[
    {"Sid":"DenyIncorrectEncryptionHeader","Effect":"Deny","Principal":"*",
     "Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
     "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
    {"Sid":"DenyUnencryptedObjectUploads","Effect":"Deny","Principal":"*",
     "Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
     "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}]}"#;

/// S3 User Guide: require a specific KMS key for SSE-KMS.
const BUCKET_REQUIRE_KMS_KEY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"RequireSpecificKey","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
     "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
     "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption-aws-kms-key-id":
       "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}}]}"#;

/// S3 User Guide: enforce encryption in transit (deny when aws:SecureTransport is false).
const BUCKET_DENY_INSECURE: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"AllowAlice","Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},
     "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"},
    {"Sid":"RestrictToTLSRequestsOnly","Effect":"Deny","Principal":"*","Action":"s3:*",
     "Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/*"],
     "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

/// KMS Developer Guide, default key policy: "Enable IAM User Permissions".
const KEY_POLICY_DEFAULT: &str = r#"{"Version":"2012-10-17","Id":"key-default-1",
  "Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",
    "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;

/// A key policy without the root statement: only Bob may use the key, and Bob may
/// administer it only through the listed administrative actions.
const KEY_POLICY_BOB_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Allow access for Key Administrators","Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::111122223333:user/Bob"},
     "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*",
       "kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*",
       "kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion",
       "kms:CancelKeyDeletion"],
     "Resource":"*"}]}"#;

/// KMS Developer Guide, allowing users in other accounts to use a KMS key.
const KEY_POLICY_CROSS_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Enable IAM User Permissions","Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
    {"Sid":"Allow use of the key","Effect":"Allow",
     "Principal":{"AWS":"arn:aws:iam::444455556666:root"},
     "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*",
       "kms:DescribeKey"],
     "Resource":"*"}]}"#;

const ID_KMS_DECRYPT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Action":"kms:Decrypt",
    "Resource":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}]}"#;

/// The key policy of an AWS managed key for S3: everyone in the account, via S3 only.
const KEY_POLICY_AWS_MANAGED_S3: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Allow access through S3 for all principals in the account that are authorized to use S3",
     "Effect":"Allow","Principal":{"AWS":"*"},
     "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*",
       "kms:DescribeKey"],
     "Resource":"*",
     "Condition":{"StringEquals":{"kms:CallerAccount":"111122223333",
       "kms:ViaService":"s3.us-east-1.amazonaws.com"}}}]}"#;

/// Account 444455556666 may read the bucket, but only inside each caller's home folder.
const BUCKET_HOME_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"s3:GetObject",
     "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"},
    {"Effect":"Deny","Principal":"*","Action":"s3:GetObject",
     "NotResource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}]}"#;

/// The home-folder policy of the IAM User Guide (policy variables).
const ID_HOME_FOLDER: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"AllowListingOfUserFolder","Action":["s3:ListBucket"],"Effect":"Allow",
     "Resource":["arn:aws:s3:::amzn-s3-demo-bucket"],
     "Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}},
    {"Sid":"AllowAllS3ActionsInUserFolder","Effect":"Allow","Action":["s3:*"],
     "Resource":["arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"]}]}"#;

const ID_TAG_KEYS_FOR_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Action":"s3:PutObjectTagging","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
    "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["Department","Project"]}}}]}"#;

const ID_TAG_KEYS_FOR_ANY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Action":"s3:PutObjectTagging","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
    "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"Department"}}}]}"#;

const KEY_POLICY_CONTEXT_KEYS_FOR_ALL: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},
     "Action":"kms:Encrypt","Resource":"*",
     "Condition":{"ForAllValues:StringEquals":{
       "kms:EncryptionContextKeys":["Department","Project"]}}}]}"#;

const KEY_POLICY_CONTEXT_KEYS_FOR_ANY: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},
     "Action":"kms:Encrypt","Resource":"*",
     "Condition":{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":"Department"}}}]}"#;

fn table() -> Vec<Row> {
    vec![
        // --- Policy evaluation logic ------------------------------------------------------
        Row {
            identity: &[ID_GET_OBJECTS],
            ..row(
                "IAM User Guide: Policy evaluation logic – an identity-policy Allow allows",
                Allowed,
            )
        },
        row(
            "IAM User Guide: Policy evaluation logic – no policies: implicit deny (the default)",
            ImplicitDeny,
        ),
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
                "Action":"s3:ListBucket","Resource":"arn:aws:s3:::amzn-s3-demo-bucket"}}"#],
            ..row(
                "IAM User Guide: Policy evaluation logic – no statement matches the action: implicit deny",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:*","Resource":"*"},
                {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#],
            action: "s3:DeleteObject",
            ..row(
                "IAM User Guide: Policy evaluation logic – explicit Deny beats Allow in the same policy",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"},
                {"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#],
            action: "s3:GetObject",
            ..row(
                "IAM User Guide: Policy evaluation logic – a Deny for another action does not block",
                Allowed,
            )
        },
        Row {
            identity: &[
                ID_GET_OBJECTS,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/photo.jpg"}]}"#,
            ],
            ..row(
                "IAM User Guide: Policy evaluation logic – a Deny in a second identity policy beats the first's Allow",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
                "Action":"s3:GetObject","Resource":"*"}]}"#],
            resource_policy: Some(BUCKET_ALLOW_ALICE),
            ..row(
                "IAM User Guide: Policy evaluation logic – identity-policy Deny beats bucket-policy Allow",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
                "Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#,
            ),
            ..row(
                "IAM User Guide: Policy evaluation logic – bucket-policy Deny beats identity-policy Allow",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
                "Principal":{"AWS":"111122223333"},"Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#,
            ),
            ..row(
                "IAM User Guide: Principal – a Deny naming an account denies every principal in it",
                ExplicitDeny,
            )
        },
        // --- NotAction / NotResource / NotPrincipal ---------------------------------------
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "NotAction":"iam:*","Resource":"*"}]}"#],
            ..row(
                "IAM: NotAction – Allow with NotAction iam:* allows S3",
                Allowed,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "NotAction":"iam:*","Resource":"*"}]}"#],
            action: "iam:CreateUser",
            resource: "arn:aws:iam::111122223333:user/Mallory",
            service: Service::Iam,
            ..row(
                "IAM: NotAction – Allow with NotAction iam:* does not allow iam:CreateUser",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:*","Resource":"*"},
                {"Sid":"DenyAllButRead","Effect":"Deny","NotAction":["s3:GetObject","s3:ListBucket"],
                 "Resource":"*"}]}"#],
            action: "s3:PutObject",
            ..row(
                "IAM: NotAction – Deny with NotAction denies every other action",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:*","Resource":"*"},
                {"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::amzn-s3-demo-bucket",
                  "arn:aws:s3:::amzn-s3-demo-bucket/*"]}]}"#],
            resource: "arn:aws:s3:::other-bucket/photo.jpg",
            ..row(
                "IAM: NotResource – Deny outside the named bucket denies other buckets",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:*","Resource":"*"},
                {"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::amzn-s3-demo-bucket",
                  "arn:aws:s3:::amzn-s3-demo-bucket/*"]}]}"#],
            ..row(
                "IAM: NotResource – Deny outside the named bucket leaves the bucket allowed",
                Allowed,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(BUCKET_NOTPRINCIPAL_BOB_B),
            who: BOB_B,
            ..row(
                "IAM: NotPrincipal with Deny – Bob (user and account ARN listed) is not denied",
                Allowed,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(BUCKET_NOTPRINCIPAL_BOB_B),
            who: CAROL_B,
            ..row(
                "IAM: NotPrincipal with Deny – everyone else in Bob's account is denied",
                ExplicitDeny,
            )
        },
        Row {
            resource_policy: Some(BUCKET_NOTPRINCIPAL_BOB_B),
            who: ANONYMOUS,
            ..row(
                "IAM: NotPrincipal with Deny – anonymous callers are denied too",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(BUCKET_NOTPRINCIPAL_BOB_ONLY),
            who: BOB_B,
            ..row(
                "IAM: NotPrincipal with Deny – without the account ARN the named user may be denied too",
                ExplicitDeny,
            )
        },
        // --- Same account and cross account -----------------------------------------------
        Row {
            resource_policy: Some(BUCKET_ALLOW_ALICE),
            ..row(
                "S3 User Guide: bucket policy naming the user's ARN suffices in the same account",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(BUCKET_ALLOW_ALICE),
            who: BOB,
            ..row(
                "S3 User Guide: bucket policy naming Alice does not allow Bob",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(BUCKET_ALLOW_CAROL_B),
            who: CAROL_B,
            ..row(
                "IAM User Guide: Cross-account policy evaluation – resource policy alone is not enough",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            who: CAROL_B,
            ..row(
                "IAM User Guide: Cross-account policy evaluation – identity policy alone is not enough",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(BUCKET_ALLOW_CAROL_B),
            who: CAROL_B,
            ..row(
                "IAM User Guide: Cross-account policy evaluation – both sides allow",
                Allowed,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(BUCKET_ALLOW_ACCOUNT_B_ARN),
            who: CAROL_B,
            ..row(
                "S3 User Guide: bucket owner grants cross-account permissions – account root ARN delegates to that account's identity policies",
                Allowed,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(BUCKET_ALLOW_ACCOUNT_B_BARE),
            who: CAROL_B,
            ..row(
                "IAM: Principal – bare account id 444455556666 behaves like the account root ARN",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(BUCKET_ALLOW_ACCOUNT_B_ARN),
            who: CAROL_B,
            ..row(
                "S3 User Guide: cross-account delegation – a user without an identity policy is denied",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(BUCKET_ALLOW_ACCOUNT_B_ARN),
            who: ROOT_B,
            ..row(
                "S3 User Guide: cross-account delegation – the other account's root needs no identity policy",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#,
            ),
            ..row(
                "IAM: Principal – naming one's own account delegates to IAM; a user without an identity policy is denied",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"AIDAALICEEXAMPLE"},"Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#,
            ),
            ..row(
                "IAM: Principal – a user's unique id (as shown after the user is deleted) names the user",
                Allowed,
            )
        },
        Row {
            who: ROOT_A,
            action: "s3:DeleteBucket",
            resource: BUCKET,
            ..row(
                "IAM User Guide: AWS account root user – full access to the account's own resources",
                Allowed,
            )
        },
        // --- KMS key policies -------------------------------------------------------------
        Row {
            identity: &[ID_KMS_DECRYPT],
            resource_policy: Some(KEY_POLICY_DEFAULT),
            ..kms_row(
                "KMS Developer Guide: default key policy – root kms:* enables IAM policies",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_DEFAULT),
            ..kms_row(
                "KMS Developer Guide: default key policy – without an identity policy the user is denied",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_KMS_DECRYPT],
            resource_policy: Some(KEY_POLICY_BOB_ONLY),
            ..kms_row(
                "KMS Developer Guide: key policies – without the root statement an identity policy alone does not allow",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_KMS_DECRYPT],
            ..kms_row(
                "KMS Developer Guide: key policies – every key needs a key policy; IAM alone never allows",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_BOB_ONLY),
            who: BOB,
            action: "kms:ScheduleKeyDeletion",
            ..kms_row(
                "KMS Developer Guide: default key policy – key administrators listed by ARN need no IAM policy",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_BOB_ONLY),
            who: BOB,
            ..kms_row(
                "KMS Developer Guide: default key policy – key administrators cannot use the key (kms:Decrypt)",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_DEFAULT),
            who: ROOT_A,
            action: "kms:ScheduleKeyDeletion",
            ..kms_row(
                "KMS Developer Guide: default key policy – the account root has kms:*",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_BOB_ONLY),
            who: ROOT_A,
            ..kms_row(
                "KMS Developer Guide: key policies – a key policy without the root statement excludes even the root",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*",
                "Resource":"arn:aws:kms:*:111122223333:key/*"}]}"#,
            ],
            resource_policy: Some(KEY_POLICY_DEFAULT),
            action: "kms:GenerateDataKey",
            ..kms_row(
                "KMS Developer Guide: IAM policies – kms:* on keys of any Region in the account",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*",
                "Resource":"arn:aws:kms:us-west-2:111122223333:key/*"}]}"#,
            ],
            resource_policy: Some(KEY_POLICY_DEFAULT),
            ..kms_row(
                "IAM: Resource – every ARN segment must match: a us-west-2 pattern does not cover a us-east-1 key",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_KMS_DECRYPT],
            resource_policy: Some(KEY_POLICY_CROSS_ACCOUNT),
            who: CAROL_B,
            ..kms_row(
                "KMS Developer Guide: allowing users in other accounts – key policy and external identity policy",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_CROSS_ACCOUNT),
            who: CAROL_B,
            ..kms_row(
                "KMS Developer Guide: allowing users in other accounts – the external account must also grant the user",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_KMS_DECRYPT],
            resource_policy: Some(KEY_POLICY_DEFAULT),
            who: CAROL_B,
            ..kms_row(
                "KMS Developer Guide: allowing users in other accounts – the key policy must name the external account",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_KMS_DECRYPT],
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[
                {"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":"444455556666"},
                 "Action":"kms:Decrypt","Resource":"*"}]}"#,
            ),
            who: CAROL_B,
            ..kms_row(
                "KMS Developer Guide: allowing users in other accounts – bare account id in the key policy",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_CROSS_ACCOUNT),
            who: ROOT_B,
            ..kms_row(
                "KMS Developer Guide: allowing users in other accounts – the external root is allowed by the key policy",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#,
            ),
            who: ANONYMOUS,
            ..kms_row(
                "KMS Developer Guide: authentication – KMS requires signed requests, Principal * does not admit anonymous",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"kms:Decrypt",
                "Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}}]}"#,
            ),
            context: &[("kms:EncryptionContext:Department", &["IT"])],
            ..kms_row(
                "KMS Developer Guide: kms:EncryptionContext:context-key – StringEquals matches",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"kms:Decrypt",
                "Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}}]}"#,
            ),
            context: &[("kms:EncryptionContext:Department", &["HR"])],
            ..kms_row(
                "KMS Developer Guide: kms:EncryptionContext:context-key – another value does not match",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},"Action":"kms:Decrypt",
                "Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}}]}"#,
            ),
            ..kms_row(
                "KMS Developer Guide: kms:EncryptionContext:context-key – no encryption context, no match",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},
                "Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*",
                "Condition":{"StringEquals":{"kms:ViaService":["s3.us-east-1.amazonaws.com",
                  "rds.us-east-1.amazonaws.com"]}}}]}"#,
            ),
            context: &[("kms:ViaService", &["s3.us-east-1.amazonaws.com"])],
            ..kms_row(
                "KMS Developer Guide: kms:ViaService – use through S3 is allowed",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"arn:aws:iam::111122223333:user/Alice"},
                "Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*",
                "Condition":{"StringEquals":{"kms:ViaService":["s3.us-east-1.amazonaws.com",
                  "rds.us-east-1.amazonaws.com"]}}}]}"#,
            ),
            ..kms_row(
                "KMS Developer Guide: kms:ViaService – direct use (no ViaService) is not",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_AWS_MANAGED_S3),
            context: &[
                ("kms:CallerAccount", &["111122223333"]),
                ("kms:ViaService", &["s3.us-east-1.amazonaws.com"]),
            ],
            ..kms_row(
                "KMS Developer Guide: kms:CallerAccount – AWS managed key, caller in the account via S3",
                Allowed,
            )
        },
        Row {
            identity: &[ID_KMS_DECRYPT],
            resource_policy: Some(KEY_POLICY_AWS_MANAGED_S3),
            who: CAROL_B,
            context: &[
                ("kms:CallerAccount", &["444455556666"]),
                ("kms:ViaService", &["s3.us-east-1.amazonaws.com"]),
            ],
            ..kms_row(
                "KMS Developer Guide: kms:CallerAccount – a caller from another account does not match",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_CONTEXT_KEYS_FOR_ANY),
            action: "kms:Encrypt",
            context: &[("kms:EncryptionContextKeys", &["Project", "Department"])],
            ..kms_row(
                "KMS Developer Guide: kms:EncryptionContextKeys – ForAnyValue matches when one key is listed",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_CONTEXT_KEYS_FOR_ANY),
            action: "kms:Encrypt",
            ..kms_row(
                "KMS Developer Guide: kms:EncryptionContextKeys – ForAnyValue with no encryption context is false",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_CONTEXT_KEYS_FOR_ALL),
            action: "kms:Encrypt",
            context: &[("kms:EncryptionContextKeys", &["Department"])],
            ..kms_row(
                "KMS Developer Guide: kms:EncryptionContextKeys – ForAllValues with a subset is true",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_CONTEXT_KEYS_FOR_ALL),
            action: "kms:Encrypt",
            context: &[("kms:EncryptionContextKeys", &["Department", "Owner"])],
            ..kms_row(
                "KMS Developer Guide: kms:EncryptionContextKeys – ForAllValues with an unlisted key is false",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(KEY_POLICY_CONTEXT_KEYS_FOR_ALL),
            action: "kms:Encrypt",
            ..kms_row(
                "KMS Developer Guide: kms:EncryptionContextKeys – pitfall: ForAllValues with no encryption context is true",
                Allowed,
            )
        },
        // --- Anonymous access -------------------------------------------------------------
        Row {
            resource_policy: Some(BUCKET_PUBLIC_READ_STAR),
            who: ANONYMOUS,
            ..row(
                "S3 User Guide: bucket policy examples – public read (Principal \"*\") allows anonymous GetObject",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(BUCKET_PUBLIC_READ_AWS_STAR),
            who: ANONYMOUS,
            ..row(
                "IAM: Principal – {\"AWS\":\"*\"} is the same as \"*\": anonymous GetObject allowed",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(BUCKET_PUBLIC_READ_STAR),
            who: ANONYMOUS,
            action: "s3:PutObject",
            ..row(
                "S3 User Guide: bucket policy examples – public read does not allow anonymous PutObject",
                ImplicitDeny,
            )
        },
        Row {
            who: ANONYMOUS,
            ..row(
                "S3 User Guide: anonymous request with no bucket policy is denied",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(BUCKET_ALLOW_ALICE),
            who: ANONYMOUS,
            ..row(
                "S3 User Guide: anonymous request, bucket policy names only a user: denied",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(BUCKET_ALLOW_ACCOUNT_B_BARE),
            who: ANONYMOUS,
            ..row(
                "IAM: Principal – an account principal never matches an anonymous caller",
                ImplicitDeny,
            )
        },
        // --- Wildcards in Action and Resource ---------------------------------------------
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:Get*","Resource":"*"}]}"#],
            action: "s3:GetObjectVersion",
            ..row("IAM: Action – s3:Get* covers s3:GetObjectVersion", Allowed)
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:Get*","Resource":"*"}]}"#],
            action: "s3:PutObject",
            ..row(
                "IAM: Action – s3:Get* does not cover s3:PutObject",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:*Object","Resource":"*"}]}"#],
            action: "s3:DeleteObject",
            ..row("IAM: Action – s3:*Object covers s3:DeleteObject", Allowed)
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:*Object","Resource":"*"}]}"#],
            action: "s3:GetObjectAcl",
            ..row(
                "IAM: Action – s3:*Object does not cover s3:GetObjectAcl (the * must end in Object)",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"*","Resource":"*"}]}"#],
            action: "s3:PutBucketPolicy",
            resource: BUCKET,
            ..row(
                "IAM: AdministratorAccess – Action * Resource * allows anything",
                Allowed,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"S3:GETOBJECT","Resource":"*"}]}"#],
            action: "s3:getObject",
            ..row("IAM: Action – action names are case-insensitive", Allowed)
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/Photos/*"}]}"#],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/photos/cat.jpg",
            ..row(
                "IAM: Resource – ARN matching is case-sensitive",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/file?.txt"}]}"#],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/file1.txt",
            ..row(
                "IAM: Resource wildcards – ? matches exactly one character",
                Allowed,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/file?.txt"}]}"#],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/file10.txt",
            ..row(
                "IAM: Resource wildcards – ? does not match two characters",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            action: "s3:GetObject",
            resource: BUCKET,
            ..row(
                "S3 User Guide: bucket/* covers the objects, not the bucket ARN itself",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:*","Resource":"arn:aws:s3:::amzn-s3-demo-bucket"}]}"#],
            ..row(
                "S3 User Guide: the bucket ARN does not cover the bucket's objects",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*/test/*"}]}"#],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/1/2/3/test/4/object.jpg",
            ..row(
                "IAM: Resource wildcards – * expands across / within a segment",
                Allowed,
            )
        },
        // --- Policy variables -------------------------------------------------------------
        Row {
            identity: &[ID_HOME_FOLDER],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/Alice/notes.txt",
            ..row(
                "IAM: policy variables ${aws:username} – home folder: Alice reads her own folder",
                Allowed,
            )
        },
        Row {
            identity: &[ID_HOME_FOLDER],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/Bob/notes.txt",
            ..row(
                "IAM: policy variables ${aws:username} – home folder: Alice cannot read Bob's folder",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_HOME_FOLDER],
            action: "s3:ListBucket",
            resource: BUCKET,
            context: &[("s3:prefix", &["home/Alice/photos/"])],
            ..row(
                "IAM: policy variables – s3:prefix StringLike home/${aws:username}/* lists her folder",
                Allowed,
            )
        },
        Row {
            identity: &[ID_HOME_FOLDER],
            action: "s3:ListBucket",
            resource: BUCKET,
            context: &[("s3:prefix", &["home/Bob/"])],
            ..row(
                "IAM: policy variables – s3:prefix StringLike does not list another user's folder",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_HOME_FOLDER],
            action: "s3:ListBucket",
            resource: BUCKET,
            context: &[("s3:prefix", &[""])],
            ..row(
                "IAM: policy variables – s3:prefix \"\" lists the bucket's top level",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:userid}/*"}]}"#,
            ],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/AIDAALICEEXAMPLE/notes.txt",
            ..row(
                "IAM: policy variables ${aws:userid} – the unique id substitutes",
                Allowed,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":["iam:*AccessKey*"],"Resource":["arn:aws:iam::111122223333:user/${aws:username}"]}]}"#],
            action: "iam:CreateAccessKey",
            resource: "arn:aws:iam::111122223333:user/Alice",
            service: Service::Iam,
            ..row(
                "IAM: policy variables – users manage their own access keys",
                Allowed,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":["iam:*AccessKey*"],"Resource":["arn:aws:iam::111122223333:user/${aws:username}"]}]}"#],
            action: "iam:CreateAccessKey",
            resource: "arn:aws:iam::111122223333:user/Bob",
            service: Service::Iam,
            ..row(
                "IAM: policy variables – ... but not someone else's",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"444455556666"},"Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}]}"#,
            ),
            who: ROOT_B,
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/home//notes.txt",
            ..row(
                "IAM: policy variables with no value – root has no aws:username; the Resource matches nothing",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(BUCKET_HOME_ONLY),
            who: BOB_B,
            identity: &[ID_GET_OBJECTS],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/Bob/notes.txt",
            ..row(
                "IAM: NotResource with ${aws:username} – Deny outside the caller's home folder spares the folder",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(BUCKET_HOME_ONLY),
            who: ROOT_B,
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/Bob/notes.txt",
            ..row(
                "IAM: policy variables with no value in NotResource – the pattern matches nothing, so the Deny covers everything",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"StringEquals":{"s3:ExistingObjectTag/Team":"${aws:PrincipalTag/Team}"}}}]}"#,
            ],
            context: &[("s3:ExistingObjectTag/Team", &["blue"])],
            ..row(
                "IAM: policy variables with no value – StringEquals against a missing variable does not match",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
                {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                 "Condition":{"StringNotEquals":{"s3:ExistingObjectTag/Team":"${aws:PrincipalTag/Team}"}}}]}"#],
            context: &[("s3:ExistingObjectTag/Team", &["blue"])],
            ..row(
                "IAM: policy variables with no value – StringNotEquals matches: access denied when the principal tag is absent",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
                {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                 "Condition":{"StringNotEquals":{"s3:ExistingObjectTag/Team":"${aws:PrincipalTag/Team}"}}}]}"#],
            context: &[
                ("s3:ExistingObjectTag/Team", &["blue"]),
                ("aws:PrincipalTag/Team", &["blue"]),
            ],
            ..row(
                "IAM: policy variables – tag of the principal equals the object's tag: not denied",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket-${aws:PrincipalTag/team, 'company-wide'}/*"}]}"#,
            ],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket-company-wide/report.pdf",
            ..row(
                "IAM: policy variables – default value ${aws:PrincipalTag/team, 'company-wide'} applies when the tag is absent",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket-${aws:PrincipalTag/team, 'company-wide'}/*"}]}"#,
            ],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket-company-wide/report.pdf",
            context: &[("aws:PrincipalTag/team", &["yellow"])],
            ..row(
                "IAM: policy variables – the default value does not apply when the tag is present",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/${*}"}]}"#,
            ],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/*",
            ..row(
                "IAM: policy variables – special characters: ${*} is a literal asterisk (matches the key \"*\")",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/${*}"}]}"#,
            ],
            ..row(
                "IAM: policy variables – special characters: ${*} is not a wildcard",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/what${?}-${$}5"}]}"#,
            ],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/what?-$5",
            ..row(
                "IAM: policy variables – special characters: ${?} and ${$} are literal",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/what${?}-${$}5"}]}"#,
            ],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/whatX-$5",
            ..row(
                "IAM: policy variables – special characters: ${?} is not a one-character wildcard",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}]}"#],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/Alice/notes.txt",
            ..row(
                "IAM: Version – without Version 2012-10-17 ${aws:username} is not substituted",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/*"}]}"#],
            resource: "arn:aws:s3:::amzn-s3-demo-bucket/home/${aws:username}/notes.txt",
            ..row(
                "IAM: Version – without Version the variable is literal text",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket",
                "Resource":"*","Condition":{"StringLike":{"s3:prefix":"${aws:PrincipalTag/team}/*"}}}]}"#,
            ],
            action: "s3:ListBucket",
            resource: BUCKET,
            context: &[
                ("aws:PrincipalTag/team", &["*"]),
                ("s3:prefix", &["other/"]),
            ],
            ..row(
                "IAM: policy variables – a substituted value is literal: a tag value \"*\" is no wildcard",
                ImplicitDeny,
            )
        },
        // --- Condition operators ----------------------------------------------------------
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"StringEquals":{"aws:username":"johndoe"}}}]}"#,
            ],
            who: JOHN_DOE,
            ..row(
                "IAM: Condition – StringEquals is case-sensitive: johndoe does not match JohnDoe",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"StringEqualsIgnoreCase":{"aws:username":"johndoe"}}}]}"#,
            ],
            who: JOHN_DOE,
            ..row(
                "IAM: Condition – StringEqualsIgnoreCase johndoe matches JohnDoe",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"StringEquals":{"AWS:USERNAME":["Bob","Alice"]}}}]}"#,
            ],
            ..row(
                "IAM: Condition – several values for one key are OR (key names case-insensitive)",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"yellow",
                  "aws:RequestedRegion":"us-east-1"}}}]}"#,
            ],
            context: &[
                ("aws:PrincipalTag/team", &["yellow"]),
                ("aws:RequestedRegion", &["eu-west-1"]),
            ],
            ..row(
                "IAM: Condition – several keys under one operator are AND",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"yellow"},
                  "Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
            ],
            context: &[
                ("aws:PrincipalTag/team", &["yellow"]),
                ("aws:MultiFactorAuthPresent", &["true"]),
            ],
            ..row(
                "IAM: Condition – several operators are AND: all hold",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"yellow"},
                  "Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
            ],
            context: &[("aws:PrincipalTag/team", &["yellow"])],
            ..row(
                "IAM: Condition – several operators are AND: a missing key fails its operator",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
                {"Effect":"Deny","Action":"s3:GetObject","Resource":"*",
                 "Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"yellow"}}}]}"#],
            ..row(
                "IAM: Condition operators – StringNotEquals with the key missing is true",
                ExplicitDeny,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Sid":"Allow get requests originating from www.example.com",
                "Effect":"Allow","Principal":"*","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition":{"StringLike":{"aws:Referer":["https://www.example.com/*","https://example.com/*"]}}}]}"#,
            ),
            who: ANONYMOUS,
            context: &[("aws:Referer", &["https://www.example.com/gallery.html"])],
            ..row(
                "S3 User Guide: restricting access to a specific HTTP referer – StringLike matches",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Sid":"Allow get requests originating from www.example.com",
                "Effect":"Allow","Principal":"*","Action":"s3:GetObject",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition":{"StringLike":{"aws:Referer":["https://www.example.com/*","https://example.com/*"]}}}]}"#,
            ),
            who: ANONYMOUS,
            ..row(
                "S3 User Guide: restricting access to a specific HTTP referer – no referer, no match",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition":{"StringNotLike":{"aws:Referer":["https://www.example.com/*"]}}}]}"#,
            ),
            context: &[("aws:Referer", &["https://attacker.example.net/"])],
            ..row(
                "IAM: Condition operators – StringNotLike denies a referer outside the pattern",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition":{"StringNotLike":{"aws:Referer":["https://www.example.com/*"]}}}]}"#,
            ),
            context: &[("aws:Referer", &["https://www.example.com/index.html"])],
            ..row(
                "IAM: Condition operators – StringNotLike does not deny a matching referer",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket",
                "Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"}}}]}"#,
            ],
            action: "s3:ListBucket",
            resource: BUCKET,
            context: &[("s3:max-keys", &["10"])],
            ..row(
                "IAM: Condition operators – NumericLessThanEquals s3:max-keys 10 allows 10",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket",
                "Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"}}}]}"#,
            ],
            action: "s3:ListBucket",
            resource: BUCKET,
            context: &[("s3:max-keys", &["1000"])],
            ..row(
                "IAM: Condition operators – NumericLessThanEquals s3:max-keys 10 refuses 1000",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket",
                "Resource":"arn:aws:s3:::amzn-s3-demo-bucket",
                "Condition":{"NumericLessThanEquals":{"s3:max-keys":10}}}]}"#,
            ],
            action: "s3:ListBucket",
            resource: BUCKET,
            ..row(
                "IAM: Condition operators – NumericLessThanEquals with s3:max-keys absent does not match",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},
                  "DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}]}"#,
            ],
            context: &[("aws:CurrentTime", &["2020-05-15T12:00:00Z"])],
            ..row(
                "IAM: Condition operators – DateGreaterThan/DateLessThan window on aws:CurrentTime: inside",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},
                  "DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}]}"#,
            ],
            context: &[("aws:CurrentTime", &["2020-07-01T00:00:00Z"])],
            ..row(
                "IAM: Condition operators – DateGreaterThan/DateLessThan window on aws:CurrentTime: after",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"1585699200"}}}]}"#,
            ],
            context: &[("aws:CurrentTime", &["2020-05-15T12:00:00Z"])],
            ..row(
                "IAM: Condition operators – Date operators take epoch seconds (1585699200 = 2020-04-01)",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"DateLessThan":{"aws:EpochTime":1585699200}}}]}"#,
            ],
            context: &[("aws:EpochTime", &["1590000000"])],
            ..row(
                "IAM: Condition operators – DateLessThan on aws:EpochTime: later request does not match",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(BUCKET_DENY_INSECURE),
            context: &[("aws:SecureTransport", &["false"])],
            ..row(
                "S3 User Guide: enforce encryption in transit – Bool aws:SecureTransport false is denied",
                ExplicitDeny,
            )
        },
        Row {
            resource_policy: Some(BUCKET_DENY_INSECURE),
            context: &[("aws:SecureTransport", &["true"])],
            ..row(
                "S3 User Guide: enforce encryption in transit – TLS requests are allowed",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"BinaryEquals":{"aws:RequestTag/blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}}]}"#,
            ],
            context: &[("aws:RequestTag/blob", &["QmluYXJ5VmFsdWVJbkJhc2U2NA=="])],
            ..row(
                "IAM: Condition operators – BinaryEquals compares the decoded bytes",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"BinaryEquals":{"aws:RequestTag/blob":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}}]}"#,
            ],
            context: &[("aws:RequestTag/blob", &["b3RoZXI="])],
            ..row(
                "IAM: Condition operators – BinaryEquals with other bytes does not match",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}}]}"#,
            ],
            context: &[("aws:SourceIp", &["203.0.113.7"])],
            ..row(
                "IAM: Condition operators – IpAddress IPv4 CIDR contains the caller",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}}]}"#,
            ],
            context: &[("aws:SourceIp", &["2001:db8:1234:5678:abcd::1"])],
            ..row(
                "IAM: Condition operators – IpAddress IPv6 CIDR contains the caller",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}}}]}"#,
            ],
            context: &[("aws:SourceIp", &["2001:db8:1234:5679::1"])],
            ..row(
                "IAM: Condition operators – IpAddress outside both CIDRs does not match",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
                {"Effect":"Deny","Action":"*","Resource":"*",
                 "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]},
                   "Bool":{"aws:ViaAWSService":"false"}}}]}"#],
            context: &[
                ("aws:SourceIp", &["198.51.100.1"]),
                ("aws:ViaAWSService", &["false"]),
            ],
            ..row(
                "IAM: example policy – deny access based on source IP (NotIpAddress): outside is denied",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
                {"Effect":"Deny","Action":"*","Resource":"*",
                 "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]},
                   "Bool":{"aws:ViaAWSService":"false"}}}]}"#],
            context: &[
                ("aws:SourceIp", &["192.0.2.10"]),
                ("aws:ViaAWSService", &["false"]),
            ],
            ..row(
                "IAM: example policy – deny access based on source IP (NotIpAddress): inside is allowed",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/dev/*"}}}]}"#,
            ),
            who: DAVE_DEV,
            ..row(
                "IAM: Condition operators – ArnLike aws:PrincipalArn with a path wildcard matches",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/dev/*"}}}]}"#,
            ),
            who: ANONYMOUS,
            ..row(
                "IAM: Condition operators – ArnLike aws:PrincipalArn: anonymous has no PrincipalArn",
                ImplicitDeny,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"*"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::amzn-s3-demo-source-bucket"},
                  "StringEquals":{"aws:SourceAccount":"111122223333"}}}]}"#,
            ),
            action: "s3:PutObject",
            context: &[
                (
                    "aws:SourceArn",
                    &["arn:aws:s3:::amzn-s3-demo-source-bucket"],
                ),
                ("aws:SourceAccount", &["111122223333"]),
            ],
            ..row(
                "IAM: Condition operators – ArnEquals aws:SourceArn with aws:SourceAccount",
                Allowed,
            )
        },
        Row {
            resource_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Principal":{"AWS":"*"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
                "Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::amzn-s3-demo-source-bucket"},
                  "StringEquals":{"aws:SourceAccount":"111122223333"}}}]}"#,
            ),
            action: "s3:PutObject",
            context: &[
                ("aws:SourceArn", &["arn:aws:s3:::some-other-bucket"]),
                ("aws:SourceAccount", &["111122223333"]),
            ],
            ..row(
                "IAM: Condition operators – ArnEquals aws:SourceArn: another source does not match",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}}]}"#,
            ],
            ..row(
                "IAM: Null operator – Null true holds when the key is absent (long-term credentials)",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}}]}"#,
            ],
            context: &[("aws:TokenIssueTime", &["2024-01-01T00:00:00Z"])],
            ..row(
                "IAM: Null operator – Null true fails when the key is present",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":false}}}]}"#,
            ],
            ..row(
                "IAM: Null operator – Null false fails when the key is absent",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject",
                "Resource":"*","Condition":{"StringEqualsIfExists":{"s3:x-amz-storage-class":["STANDARD","STANDARD_IA"]}}}]}"#,
            ],
            action: "s3:PutObject",
            ..row(
                "IAM: Condition operators – ...IfExists with the key absent is true",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject",
                "Resource":"*","Condition":{"StringEqualsIfExists":{"s3:x-amz-storage-class":["STANDARD","STANDARD_IA"]}}}]}"#,
            ],
            action: "s3:PutObject",
            context: &[("s3:x-amz-storage-class", &["GLACIER"])],
            ..row(
                "IAM: Condition operators – ...IfExists with the key present applies the test",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                ID_PUT_OBJECTS,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
                "Action":"s3:PutObject","Resource":"*",
                "Condition":{"StringNotEqualsIfExists":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]}"#,
            ],
            action: "s3:PutObject",
            ..row(
                "IAM: Condition operators – Deny with StringNotEqualsIfExists and the key absent still denies",
                ExplicitDeny,
            )
        },
        // --- Multivalued keys -------------------------------------------------------------
        Row {
            identity: &[ID_TAG_KEYS_FOR_ALL],
            action: "s3:PutObjectTagging",
            context: &[("aws:TagKeys", &["Department"])],
            ..row(
                "IAM: multivalued context keys – ForAllValues with a subset of the allowed tag keys",
                Allowed,
            )
        },
        Row {
            identity: &[ID_TAG_KEYS_FOR_ALL],
            action: "s3:PutObjectTagging",
            context: &[("aws:TagKeys", &["Department", "Owner"])],
            ..row(
                "IAM: multivalued context keys – ForAllValues with one unlisted tag key fails",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_TAG_KEYS_FOR_ALL],
            action: "s3:PutObjectTagging",
            ..row(
                "IAM: multivalued context keys – pitfall: ForAllValues with aws:TagKeys absent is true",
                Allowed,
            )
        },
        Row {
            identity: &[ID_TAG_KEYS_FOR_ALL],
            action: "s3:PutObjectTagging",
            context: &[("aws:TagKeys", &[])],
            ..row(
                "IAM: multivalued context keys – ForAllValues with an empty set (null data set) is true",
                Allowed,
            )
        },
        Row {
            identity: &[ID_TAG_KEYS_FOR_ANY],
            action: "s3:PutObjectTagging",
            context: &[("aws:TagKeys", &["Owner", "Department"])],
            ..row(
                "IAM: multivalued context keys – ForAnyValue with one listed tag key is true",
                Allowed,
            )
        },
        Row {
            identity: &[ID_TAG_KEYS_FOR_ANY],
            action: "s3:PutObjectTagging",
            ..row(
                "IAM: multivalued context keys – ForAnyValue with aws:TagKeys absent is false",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[ID_TAG_KEYS_FOR_ANY],
            action: "s3:PutObjectTagging",
            context: &[("aws:TagKeys", &[])],
            ..row(
                "IAM: multivalued context keys – ForAnyValue with an empty set is false",
                ImplicitDeny,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:RequestedRegion":"us-east-1"}}}]}"#,
            ],
            context: &[("aws:RequestedRegion", &["us-east-1"])],
            ..row(
                "IAM: single-valued key under ForAnyValue behaves like the plain operator",
                Allowed,
            )
        },
        Row {
            identity: &[
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
                "Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:RequestedRegion":"us-east-1"}}}]}"#,
            ],
            ..row(
                "IAM: single-valued key under ForAllValues – absent key is true (why AWS warns against it)",
                Allowed,
            )
        },
        // --- S3 encryption examples -------------------------------------------------------
        Row {
            identity: &[ID_PUT_OBJECTS],
            resource_policy: Some(BUCKET_REQUIRE_SSE_KMS),
            action: "s3:PutObject",
            context: &[("s3:x-amz-server-side-encryption", &["aws:kms"])],
            ..row(
                "S3 User Guide: bucket policy examples – require SSE-KMS: aws:kms upload allowed",
                Allowed,
            )
        },
        Row {
            identity: &[ID_PUT_OBJECTS],
            resource_policy: Some(BUCKET_REQUIRE_SSE_KMS),
            action: "s3:PutObject",
            context: &[("s3:x-amz-server-side-encryption", &["AES256"])],
            ..row(
                "S3 User Guide: bucket policy examples – require SSE-KMS: AES256 upload denied",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[ID_PUT_OBJECTS],
            resource_policy: Some(BUCKET_REQUIRE_SSE_KMS),
            action: "s3:PutObject",
            ..row(
                "S3 User Guide: bucket policy examples – require SSE-KMS: upload without the header denied",
                ExplicitDeny,
            )
        },
        Row {
            identity: &[ID_GET_OBJECTS],
            resource_policy: Some(BUCKET_REQUIRE_SSE_KMS),
            ..row(
                "S3 User Guide: bucket policy examples – require SSE-KMS does not affect GetObject",
                Allowed,
            )
        },
        Row {
            identity: &[ID_PUT_OBJECTS],
            resource_policy: Some(BUCKET_REQUIRE_KMS_KEY),
            action: "s3:PutObject",
            context: &[
                ("s3:x-amz-server-side-encryption", &["aws:kms"]),
                ("s3:x-amz-server-side-encryption-aws-kms-key-id", &[KEY]),
            ],
            ..row(
                "S3 User Guide: require a specific KMS key – the named key is allowed",
                Allowed,
            )
        },
        Row {
            identity: &[ID_PUT_OBJECTS],
            resource_policy: Some(BUCKET_REQUIRE_KMS_KEY),
            action: "s3:PutObject",
            context: &[
                ("s3:x-amz-server-side-encryption", &["aws:kms"]),
                (
                    "s3:x-amz-server-side-encryption-aws-kms-key-id",
                    &["arn:aws:kms:us-east-1:111122223333:key/another-key"],
                ),
            ],
            ..row(
                "S3 User Guide: require a specific KMS key – another key is denied",
                ExplicitDeny,
            )
        },
    ]
}

fn expectation(d: &Decision) -> Expect {
    match (d.allowed, d.explicit_deny) {
        (true, _) => Allowed,
        (false, true) => ExplicitDeny,
        (false, false) => ImplicitDeny,
    }
}

/// Parses a row's documents and asks [`decide`].
fn run_row(row: &Row) -> Decision {
    let parse = |doc: &str, kind: PolicyKind, max_len: usize, what: &str| {
        parse_as(doc, kind, max_len)
            .unwrap_or_else(|e| panic!("row {:?}: the {what} does not parse: {e}", row.name))
    };
    let identity: Vec<Policy> = row
        .identity
        .iter()
        .map(|doc| parse(doc, PolicyKind::Identity, IDENTITY_MAX, "identity policy"))
        .collect();
    let identity_refs: Vec<&Policy> = identity.iter().collect();
    let resource_max = match row.service {
        Service::Kms => KEY_POLICY_MAX,
        Service::S3 | Service::Iam => BUCKET_POLICY_MAX,
    };
    let resource_policy = row
        .resource_policy
        .map(|doc| parse(doc, PolicyKind::Resource, resource_max, "resource policy"));
    let caller = Caller::new(row.who);
    let principal = caller.principal();
    let context = context_of(row.context);
    let request = Request {
        principal: &principal,
        action: row.action,
        resource: row.resource,
        context: &context,
    };
    decide(
        &request,
        &identity_refs,
        resource_policy.as_ref(),
        row.resource_account,
        row.service,
    )
}

#[test]
fn documented_examples() {
    let rows = table();
    assert!(
        rows.len() >= 45,
        "the table must hold at least 45 rows, has {}",
        rows.len()
    );
    let mut names = HashSet::new();
    let mut failures = Vec::new();
    for row in &rows {
        assert!(names.insert(row.name), "two rows are named {:?}", row.name);
        let decision = run_row(row);
        let got = expectation(&decision);
        if got != row.expect {
            failures.push(format!(
                "  {}\n    expected {:?}, got {:?} (reason {:?})",
                row.name, row.expect, got, decision.reason
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} documented examples disagree with the engine:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The table exercises all three outcomes and all three services, so that a broken
/// `decide` that always answers the same cannot pass it.
#[test]
fn the_table_covers_every_outcome_and_service() {
    let rows = table();
    for expect in [Allowed, ExplicitDeny, ImplicitDeny] {
        let n = rows.iter().filter(|r| r.expect == expect).count();
        assert!(n >= 10, "only {n} rows expect {expect:?}");
    }
    for service in [Service::S3, Service::Kms, Service::Iam] {
        assert!(
            rows.iter().any(|r| r.service == service),
            "no row for {service:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Part 2: parsing and refusals
// ---------------------------------------------------------------------------------------------

/// Asserts that `result` is a refusal of `kind` whose message mentions `needle`, so that a
/// document refused for some other reason cannot pass the test.
#[track_caller]
fn assert_refused(result: Result<Policy, PolicyError>, kind: PolicyErrorKind, needle: &str) {
    match result {
        Ok(p) => panic!(
            "expected a {kind:?} refusal mentioning {needle:?}, but the document parsed ({} statements)",
            p.statements().len()
        ),
        Err(e) => {
            assert_eq!(e.kind, kind, "wrong error kind; message: {:?}", e.message);
            assert!(
                e.message.contains(needle),
                "message {:?} does not mention {needle:?}",
                e.message
            );
        }
    }
}

#[track_caller]
fn assert_malformed(result: Result<Policy, PolicyError>, needle: &str) {
    assert_refused(result, PolicyErrorKind::Malformed, needle);
}

#[track_caller]
fn assert_parses(result: Result<Policy, PolicyError>) -> Policy {
    result.unwrap_or_else(|e| {
        panic!(
            "expected the document to parse, got {:?}: {}",
            e.kind, e.message
        )
    })
}

/// A resource policy statement with `extra` members added to a valid Allow.
fn resource_statement(extra: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*",
        "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"{extra}}}]}}"#
    )
}

/// An identity policy with one condition `"OP": {"KEY": VALUE}` (VALUE is raw JSON).
fn with_condition(op: &str, key: &str, value: &str) -> String {
    identity_doc(&format!(
        r#"{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
            "Condition":{{"{op}":{{"{key}":{value}}}}}}}"#
    ))
}

#[test]
fn malformed_json_is_refused_for_both_kinds() {
    for doc in [
        r#"{"Version":"2012-10-17","Statement":["#,
        r#"{"Version":"2012-10-17",}"#,
        r#"{'Version':'2012-10-17'}"#,
        "",
        "{} trailing",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]} {}"#,
    ] {
        assert_malformed(identity(doc), "Syntax errors");
        assert_malformed(resource(doc), "Syntax errors");
    }
}

#[test]
fn a_document_must_be_an_object_with_statements() {
    assert_malformed(identity("[]"), "must be a JSON object");
    assert_malformed(identity(r#""policy""#), "must be a JSON object");
    assert_malformed(
        identity(r#"{"Version":"2012-10-17"}"#),
        "Missing required field Statement",
    );
    assert_malformed(
        identity(r#"{"Version":"2012-10-17","Statement":[]}"#),
        "at least one statement",
    );
    assert_malformed(
        identity(r#"{"Version":"2012-10-17","Statement":"Allow"}"#),
        "Statement must be an object or an array",
    );
    assert_malformed(
        identity(r#"{"Version":"2012-10-17","Statement":["Allow"]}"#),
        "Each statement must be an object",
    );
    assert_malformed(
        identity(r#"{"Version":"2012-10-17","Statements":[]}"#),
        "Unknown field Statements",
    );
}

#[test]
fn duplicate_keys_are_refused_at_every_level() {
    // Two readers of {"Effect":"Allow","Effect":"Deny"} must not disagree.
    assert_malformed(
        identity(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Effect":"Deny",
            "Action":"s3:*","Resource":"*"}]}"#,
        ),
        "duplicate key \"Effect\"",
    );
    assert_malformed(
        identity(
            r#"{"Version":"2012-10-17","Version":"2008-10-17","Statement":[{"Effect":"Allow",
            "Action":"s3:*","Resource":"*"}]}"#,
        ),
        "duplicate key \"Version\"",
    );
    assert_malformed(
        identity(&with_condition(
            "StringEquals",
            "aws:username",
            r#""a","aws:username":"b""#,
        )),
        "duplicate key \"aws:username\"",
    );
}

#[test]
fn effect_is_required_and_exactly_allow_or_deny() {
    assert_malformed(
        identity(&identity_doc(r#"{"Action":"s3:*","Resource":"*"}"#)),
        "Missing required field Effect",
    );
    for bad in ["allow", "ALLOW", "Permit", ""] {
        assert_malformed(
            identity(&identity_doc(&format!(
                r#"{{"Effect":"{bad}","Action":"s3:*","Resource":"*"}}"#
            ))),
            "Invalid effect",
        );
    }
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":true,"Action":"s3:*","Resource":"*"}"#,
        )),
        "Effect must be a string",
    );
}

#[test]
fn action_and_resource_are_required_and_exclusive_with_their_not_forms() {
    assert_malformed(
        identity(&identity_doc(r#"{"Effect":"Allow","Resource":"*"}"#)),
        "Missing required field Action",
    );
    assert_malformed(
        identity(&identity_doc(r#"{"Effect":"Allow","Action":"s3:*"}"#)),
        "Missing required field Resource",
    );
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":"Allow","Action":"s3:*","NotAction":"iam:*","Resource":"*"}"#,
        )),
        "both Action and NotAction",
    );
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","NotResource":"*"}"#,
        )),
        "both Resource and NotResource",
    );
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#,
        )),
        "non-empty array",
    );
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":7}"#,
        )),
        "Resource must be a string",
    );
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":"Allow","Actions":"s3:*","Resource":"*"}"#,
        )),
        "Unknown field Actions",
    );
}

#[test]
fn actions_need_a_service_prefix_and_a_name() {
    for (action, needle) in [
        ("GetObject", "prefaced by a vendor"),
        (":GetObject", "prefaced by a vendor"),
        ("s 3:GetObject", "prefaced by a vendor"),
        ("s3:", "invalid name"),
        ("s3:Get Object", "invalid name"),
        ("s3:Get:Object", "invalid name"),
    ] {
        assert_malformed(
            identity(&identity_doc(&format!(
                r#"{{"Effect":"Allow","Action":"{action}","Resource":"*"}}"#
            ))),
            needle,
        );
    }
}

#[test]
fn principal_is_forbidden_in_identity_policies() {
    for element in ["Principal", "NotPrincipal"] {
        assert_malformed(
            identity(&identity_doc(&format!(
                r#"{{"Effect":"Allow","{element}":{{"AWS":"111122223333"}},"Action":"s3:*","Resource":"*"}}"#
            ))),
            "should not specify a principal",
        );
    }
}

#[test]
fn principal_is_required_in_resource_policies_and_checked() {
    assert_malformed(
        resource(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}]}"#,
        ),
        "Missing required field Principal",
    );
    for bad in [
        r#""arn:aws:iam::111122223333:root""#,
        r#"{}"#,
        r#"{"AWS":"arn:aws:iam::111122223333:user/*"}"#,
        r#"{"AWS":"arn:aws:iam::1111:root"}"#,
        r#"{"AWS":"alice"}"#,
        r#"{"AWS":[]}"#,
        r#"{"Service":"s3.*.amazonaws.com"}"#,
        r#"{"CanonicalUser":"not-hex"}"#,
        r#"{"Group":"everyone"}"#,
    ] {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{bad},
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/*"}}]}}"#
        );
        assert_malformed(resource(&doc), "Invalid principal");
    }
    assert_malformed(
        resource(&resource_statement(
            r#","NotPrincipal":{"AWS":"111122223333"}"#,
        )),
        "both Principal and NotPrincipal",
    );
}

#[test]
fn resource_must_be_an_arn_or_star() {
    for (bad, needle) in [
        ("amzn-s3-demo-bucket", "must be in ARN format"),
        ("arn:aws:s3", "must be in ARN format"),
        ("urn:aws:s3:::amzn-s3-demo-bucket", "must be in ARN format"),
        ("**", "must be in ARN format"),
        (
            "arn:aws:*:::amzn-s3-demo-bucket",
            "vendor must be fully qualified",
        ),
        (
            "arn:aws::::amzn-s3-demo-bucket",
            "vendor must be fully qualified",
        ),
        (
            "arn:aws:s?:::amzn-s3-demo-bucket",
            "vendor must be fully qualified",
        ),
        (
            "arn:aws:iam::${aws:PrincipalAccount}:user/Alice",
            "only in the resource part",
        ),
    ] {
        assert_malformed(
            identity(&identity_doc(&format!(
                r#"{{"Effect":"Allow","Action":"s3:*","Resource":"{bad}"}}"#
            ))),
            needle,
        );
    }
}

#[test]
fn version_must_be_one_of_the_two_documented_dates() {
    for bad in [r#""2012-10-18""#, r#""2012-10-17 ""#, r#""latest""#] {
        let doc = format!(
            r#"{{"Version":{bad},"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*"}}]}}"#
        );
        assert_malformed(identity(&doc), "unsupported Version");
    }
    assert_malformed(
        identity(
            r#"{"Version":20121017,"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        ),
        "Version must be a string",
    );
    let old = assert_parses(identity(
        r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    ));
    assert_eq!(old.version(), Some(Version::V2008_10_17));
    let none = assert_parses(identity(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    ));
    assert_eq!(none.version(), None);
}

#[test]
fn unknown_condition_operators_are_refused() {
    for op in [
        "StringEqualz",
        "StringEqualsIfExist",
        "ForSomeValues:StringEquals",
        "ForAnyValue:",
        "NullIfExists",
        "ForAnyValue:Null",
        "IpAddressNot",
    ] {
        assert_malformed(
            identity(&with_condition(op, "aws:username", r#""Alice""#)),
            "Invalid Condition type",
        );
    }
}

#[test]
fn condition_keys_need_a_prefix_at_parse_time() {
    for key in ["SecureTransport", ":SecureTransport", "aws:", "a b:c"] {
        assert_malformed(
            identity(&with_condition("Bool", key, r#""true""#)),
            "Invalid condition key format",
        );
    }
}

#[test]
fn unknown_condition_keys_are_refused_by_validate_condition_keys() {
    // The parser takes any `prefix:name`; services that refuse undocumented keys call
    // validate_condition_keys with their list.
    let policy = assert_parses(identity(&with_condition(
        "StringEquals",
        "aws:NoSuchKey",
        r#""x""#,
    )));
    let err = policy
        .validate_condition_keys(&|k| is_known_key(Service::S3, k))
        .expect_err("aws:NoSuchKey is not a documented key");
    assert_eq!(err.kind, PolicyErrorKind::Malformed);
    assert!(
        err.message.contains("aws:NoSuchKey"),
        "message: {}",
        err.message
    );

    // An S3 key is known to S3 and unknown to KMS.
    let sse = assert_parses(identity(&with_condition(
        "StringEquals",
        "s3:x-amz-server-side-encryption",
        r#""aws:kms""#,
    )));
    sse.validate_condition_keys(&|k| is_known_key(Service::S3, k))
        .expect("s3:x-amz-server-side-encryption is an S3 key");
    let err = sse
        .validate_condition_keys(&|k| is_known_key(Service::Kms, k))
        .expect_err("an S3 key in a key policy");
    assert_eq!(err.kind, PolicyErrorKind::Malformed);
}

#[test]
fn is_known_key_follows_the_documented_lists() {
    // Names are case-insensitive.
    assert!(is_known_key(Service::S3, "AWS:SourceIp"));
    assert!(is_known_key(Service::Kms, "aws:securetransport"));
    assert!(is_known_key(Service::S3, "s3:max-keys"));
    assert!(!is_known_key(Service::Iam, "s3:max-keys"));
    // Prefix keys need a tail.
    assert!(is_known_key(
        Service::Kms,
        "kms:EncryptionContext:Department"
    ));
    assert!(!is_known_key(Service::Kms, "kms:EncryptionContext:"));
    assert!(is_known_key(Service::S3, "aws:RequestTag/team"));
    assert!(!is_known_key(Service::S3, "aws:RequestTag/"));
    assert!(is_known_key(Service::S3, "s3:ExistingObjectTag/Team"));
    // Nitro Enclaves PCRs: one or two digits.
    assert!(is_known_key(Service::Kms, "kms:RecipientAttestation:PCR0"));
    assert!(is_known_key(Service::Kms, "kms:RecipientAttestation:PCR15"));
    assert!(!is_known_key(
        Service::Kms,
        "kms:RecipientAttestation:PCR123"
    ));
    assert!(!is_known_key(Service::Kms, "kms:RecipientAttestation:PCRx"));
    assert!(!is_known_key(Service::S3, "kms:RecipientAttestation:PCR0"));
    assert!(!is_known_key(Service::S3, "aws:NoSuchKey"));
}

#[test]
fn condition_values_are_typed_at_parse_time() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // IP addresses and CIDRs.
        (
            "IpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/33""#,
            "Invalid IP address value",
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""not-an-ip""#,
            "Invalid IP address value",
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/""#,
            "Invalid IP address value",
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/8/8""#,
            "Invalid IP address value",
        ),
        (
            "IpAddress",
            "aws:SourceIp",
            r#""10.0.0.256""#,
            "Invalid IP address value",
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            r#""::1/129""#,
            "Invalid IP address value",
        ),
        (
            "NotIpAddress",
            "aws:SourceIp",
            r#""10.0.0.0/-1""#,
            "Invalid IP address value",
        ),
        // Numbers.
        (
            "NumericLessThan",
            "s3:max-keys",
            r#""ten""#,
            "Invalid numeric value",
        ),
        (
            "NumericLessThan",
            "s3:max-keys",
            r#""1e3""#,
            "Invalid numeric value",
        ),
        (
            "NumericLessThan",
            "s3:max-keys",
            r#""NaN""#,
            "Invalid numeric value",
        ),
        (
            "NumericLessThan",
            "s3:max-keys",
            r#""inf""#,
            "Invalid numeric value",
        ),
        (
            "NumericEquals",
            "s3:max-keys",
            r#""""#,
            "Invalid numeric value",
        ),
        (
            "NumericEquals",
            "s3:max-keys",
            r#""0x10""#,
            "Invalid numeric value",
        ),
        (
            "NumericEquals",
            "s3:max-keys",
            r#""1,000""#,
            "Invalid numeric value",
        ),
        // Dates.
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#""2024-13-01T00:00:00Z""#,
            "Invalid date value",
        ),
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#""2024-02-30""#,
            "Invalid date value",
        ),
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#""2024-01-01T25:00:00Z""#,
            "Invalid date value",
        ),
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#""yesterday""#,
            "Invalid date value",
        ),
        // Variables are for string and ARN operators only.
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#""${aws:CurrentTime}""#,
            "Invalid date value",
        ),
        // Base64.
        (
            "BinaryEquals",
            "aws:RequestTag/blob",
            r#""not base64!""#,
            "Invalid base64 value",
        ),
        // Booleans and Null.
        (
            "Bool",
            "aws:SecureTransport",
            r#""yes""#,
            "Invalid boolean value",
        ),
        (
            "Bool",
            "aws:SecureTransport",
            r#""1""#,
            "Invalid boolean value",
        ),
        (
            "Null",
            "aws:TokenIssueTime",
            r#""maybe""#,
            "Invalid Null value",
        ),
        // ARNs.
        (
            "ArnLike",
            "aws:SourceArn",
            r#""amzn-s3-demo-bucket""#,
            "Invalid ARN value",
        ),
        // Value lists.
        ("StringEquals", "aws:username", "[]", "empty value list"),
        (
            "StringEquals",
            "aws:username",
            "null",
            "must be a string, number or boolean",
        ),
        (
            "StringEquals",
            "aws:username",
            r#"{"a":"b"}"#,
            "must be a string, number or boolean",
        ),
    ];
    for (op, key, value, needle) in cases {
        assert_malformed(identity(&with_condition(op, key, value)), needle);
    }
    // The same operators accept well-formed values, including the JSON number and boolean
    // forms ("the string version" of each).
    for (op, key, value) in [
        (
            "IpAddress",
            "aws:SourceIp",
            r#"["10.0.0.0/8","2001:DB8::/32","192.0.2.1"]"#,
        ),
        (
            "NumericLessThan",
            "s3:max-keys",
            r#"["10", 10, "2.5", ".5", "-3"]"#,
        ),
        (
            "DateLessThan",
            "aws:CurrentTime",
            r#"["2024-01-01T00:00:00Z","2024-01-01","1704067200"]"#,
        ),
        (
            "BinaryEquals",
            "aws:RequestTag/blob",
            r#""QmluYXJ5VmFsdWVJbkJhc2U2NA==""#,
        ),
        ("Bool", "aws:SecureTransport", "true"),
        ("Null", "aws:TokenIssueTime", "false"),
        ("ArnLike", "aws:SourceArn", r#"["*","arn:aws:s3:::*"]"#),
    ] {
        assert_parses(identity(&with_condition(op, key, value)));
    }
}

#[test]
fn condition_blocks_must_be_objects_with_keys() {
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":["Bool"]}"#,
        )),
        "Condition must be an object",
    );
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":{}}}"#,
        )),
        "has no condition keys",
    );
    assert_malformed(
        identity(&identity_doc(
            r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"Bool":"true"}}"#,
        )),
        "must map condition keys to values",
    );
}

#[test]
fn identity_policies_follow_iam_sid_and_character_rules() {
    assert_malformed(
        identity(&identity_doc(
            r#"{"Sid":"Allow Read","Effect":"Allow","Action":"s3:*","Resource":"*"}"#,
        )),
        "alpha-numeric",
    );
    assert_malformed(
        identity(&identity_doc(
            r#"{"Sid":"One","Effect":"Allow","Action":"s3:*","Resource":"*"},
               {"Sid":"One","Effect":"Deny","Action":"iam:*","Resource":"*"}"#,
        )),
        "must be unique",
    );
    // A character outside U+0009, U+000A, U+000D, U+0020..=U+00FF.
    let euro = identity_doc(r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/€"}"#);
    assert_malformed(identity(&euro), "U+20AC");
    // Resource policies are free text: S3's own examples use spaces and periods in Sid.
    assert_parses(resource(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Allow get requests from www.example.com",
        "Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/€"}]}"#,
    ));
}

#[test]
fn variable_syntax_errors_are_refused_in_2012_policies_only() {
    for (resource_arn, needle) in [
        ("arn:aws:s3:::b/${aws:username", "closing brace"),
        ("arn:aws:s3:::b/${}", "empty name"),
        ("arn:aws:s3:::b/${aws:user name}", "unsupported character"),
        ("arn:aws:s3:::b/${aws:username, x}", "single-quoted"),
        ("arn:aws:s3:::b/${aws:username, 'x}", "closing brace"),
        ("arn:aws:s3:::b/${*, 'x'}", "no default"),
    ] {
        assert_malformed(
            identity(&identity_doc(&format!(
                r#"{{"Effect":"Allow","Action":"s3:*","Resource":"{resource_arn}"}}"#
            ))),
            needle,
        );
        // Without Version 2012-10-17 the text is literal and nothing is checked.
        assert_parses(identity(&format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"{resource_arn}"}}]}}"#
        )));
    }
}

/// A valid bucket policy of at least `min_bytes`, made of many object ARNs.
fn big_bucket_policy(min_bytes: usize) -> String {
    let mut resources = Vec::new();
    let mut len = 0;
    let mut i = 0;
    while len < min_bytes {
        let arn = format!(r#""arn:aws:s3:::amzn-s3-demo-bucket/reports/{i:06}/*""#);
        len += arn.len() + 1;
        resources.push(arn);
        i += 1;
    }
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*",
        "Action":"s3:GetObject","Resource":[{}]}}]}}"#,
        resources.join(",")
    )
}

#[test]
fn a_100_kib_policy_exceeds_the_bucket_policy_quota() {
    let doc = big_bucket_policy(100 * 1024);
    assert!(doc.len() >= 100 * 1024);
    assert_refused(
        parse_as(&doc, PolicyKind::Resource, BUCKET_POLICY_MAX),
        PolicyErrorKind::TooLarge,
        "maximum length of 20480",
    );
    // The same document is valid: it is refused for its size alone.
    let p = assert_parses(parse_as(&doc, PolicyKind::Resource, 131_072));
    assert_eq!(p.statements().len(), 1);
}

fn thousand_statements() -> String {
    let statements: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{{"Sid":"User{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:user/user{i}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::amzn-s3-demo-bucket/user{i}/*"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

#[test]
fn a_thousand_statements_exceed_20_kib_and_are_refused_as_too_large() {
    let doc = thousand_statements();
    assert!(
        doc.len() > BUCKET_POLICY_MAX,
        "the document is {} bytes",
        doc.len()
    );
    assert_refused(
        parse_as(&doc, PolicyKind::Resource, BUCKET_POLICY_MAX),
        PolicyErrorKind::TooLarge,
        "maximum length",
    );
}

#[test]
fn a_thousand_statements_within_max_len_parse_and_evaluate() {
    // The engine has no statement-count limit of its own; size is the only bound.
    let doc = thousand_statements();
    let p = assert_parses(parse_as(&doc, PolicyKind::Resource, MAX_DOCUMENT_BYTES));
    assert_eq!(p.statements().len(), 1000);
    let ctx = Context::new();
    let user999 = Who::User(A, "user999");
    let own = "arn:aws:s3:::amzn-s3-demo-bucket/user999/a.txt";
    let other = "arn:aws:s3:::amzn-s3-demo-bucket/user998/a.txt";
    assert!(is_allow(outcome(&p, user999, "s3:GetObject", own, &ctx)));
    assert_eq!(
        outcome(&p, user999, "s3:GetObject", other, &ctx),
        Outcome::NotApplicable
    );
}

#[test]
fn max_len_counts_characters_whitespace_included() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Zugriff für Prüfer","Effect":"Allow",
        "Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    let chars = doc.chars().count();
    assert!(
        doc.len() > chars,
        "the document must hold multi-byte characters"
    );
    assert_parses(parse_as(doc, PolicyKind::Resource, chars));
    assert_refused(
        parse_as(doc, PolicyKind::Resource, chars - 1),
        PolicyErrorKind::TooLarge,
        "maximum length",
    );
    // Whitespace counts: padding a valid document past max_len refuses it.
    let padded = format!("{doc}{}", " ".repeat(100));
    assert_refused(
        parse_as(&padded, PolicyKind::Resource, chars + 99),
        PolicyErrorKind::TooLarge,
        "maximum length",
    );
    // non_whitespace_len is the measure for IAM's quotas, which ignore white space.
    assert_eq!(non_whitespace_len(" {\t\"a\" :\r\n1 } "), 7);
}

#[test]
fn max_document_bytes_is_a_backstop_whatever_max_len_says() {
    let doc = format!(
        "{}{}",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        " ".repeat(MAX_DOCUMENT_BYTES)
    );
    assert_refused(
        parse_as(&doc, PolicyKind::Resource, usize::MAX),
        PolicyErrorKind::TooLarge,
        "bytes",
    );
}

/// `n` nested arrays: `[[[...]]]`.
fn nested_arrays(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn nesting_deeper_than_max_json_depth_is_refused() {
    let opts = |kind| ParseOptions {
        kind,
        max_len: MAX_DOCUMENT_BYTES,
    };
    for kind in [PolicyKind::Identity, PolicyKind::Resource] {
        // At the limit the JSON is read, and refused for not being a policy.
        assert_refused(
            Policy::parse(&nested_arrays(MAX_JSON_DEPTH), &opts(kind)),
            PolicyErrorKind::Malformed,
            "must be a JSON object",
        );
        // One deeper is refused by the depth bound.
        assert_refused(
            Policy::parse(&nested_arrays(MAX_JSON_DEPTH + 1), &opts(kind)),
            PolicyErrorKind::Malformed,
            "nested deeper than 16",
        );
    }
    // Inside a policy: a condition value sits at depth 6, so 11 extra arrays reach the limit
    // (refused as a bad value) and 12 exceed it (refused as too deep).
    let deep_value = |extra: usize| {
        with_condition(
            "StringEquals",
            "aws:username",
            &format!("{}\"x\"{}", "[".repeat(extra), "]".repeat(extra)),
        )
    };
    assert_malformed(
        identity(&deep_value(MAX_JSON_DEPTH - 5)),
        "must be a string, number or boolean",
    );
    assert_malformed(identity(&deep_value(MAX_JSON_DEPTH - 4)), "nested deeper");
}

#[test]
fn a_hundred_thousand_open_brackets_are_refused_without_deep_recursion() {
    // On a thread with a small stack: a parser recursing once per level would overflow it.
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let docs = [
                "[".repeat(100_000),
                nested_arrays(100_000),
                r#"{"a":"#.repeat(100_000),
                format!(
                    r#"{{"Version":"2012-10-17","Statement":{}"#,
                    "[".repeat(100_000)
                ),
            ];
            let mut kinds = Vec::new();
            for doc in &docs {
                for kind in [PolicyKind::Identity, PolicyKind::Resource] {
                    let opts = ParseOptions {
                        kind,
                        max_len: MAX_DOCUMENT_BYTES,
                    };
                    match Policy::parse(doc, &opts) {
                        Ok(_) => kinds.push(None),
                        Err(e) => kinds.push(Some((e.kind, e.message.contains("nested deeper")))),
                    }
                }
            }
            kinds
        })
        .expect("spawn the parsing thread");
    let results = handle
        .join()
        .expect("parsing 100,000 brackets must not overflow the stack");
    for r in results {
        assert_eq!(r, Some((PolicyErrorKind::Malformed, true)));
    }
}

#[test]
fn error_messages_quote_at_most_a_short_excerpt() {
    let long = "X".repeat(1000);
    let err = identity(&identity_doc(&format!(
        r#"{{"Effect":"{long}","Action":"s3:*","Resource":"*"}}"#
    )))
    .expect_err("the Effect is invalid");
    assert_eq!(err.kind, PolicyErrorKind::Malformed);
    assert!(err.message.contains(&"X".repeat(MAX_ERROR_EXCERPT_CHARS)));
    assert!(
        !err.message
            .contains(&"X".repeat(MAX_ERROR_EXCERPT_CHARS + 1))
    );
    assert!(err.message.ends_with("..."), "message: {}", err.message);
}

// ---------------------------------------------------------------------------------------------
// Part 3: the wildcard matcher, policy variables, the compiled policy
// ---------------------------------------------------------------------------------------------

fn glob(pattern: &str, value: &str) -> bool {
    glob_str(&wild(pattern), value)
}

#[test]
fn glob_a_star_b_star_c() {
    for yes in ["abc", "aXbYc", "abbc", "aabbcc", "abcbc", "a/b/c", "ab€c"] {
        assert!(glob("a*b*c", yes), "a*b*c should match {yes:?}");
    }
    for no in ["ac", "abcx", "xabc", "ab", "acb", "", "ABC", "bc"] {
        assert!(!glob("a*b*c", no), "a*b*c should not match {no:?}");
    }
}

#[test]
fn glob_star_question_mark_and_the_empty_string() {
    assert!(glob("*", ""));
    assert!(glob("*", "anything/at:all"));
    assert!(glob("**", ""));
    assert!(glob("", ""));
    assert!(!glob("", "a"));
    // `?` is exactly one character, not one byte and not zero.
    assert!(glob("?", "x"));
    assert!(glob("?", "é"));
    assert!(glob("??", "é€"));
    assert!(!glob("?", ""));
    assert!(!glob("?", "xy"));
    assert!(glob("*?", "x"));
    assert!(!glob("*?", ""));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    // Literal matching is exact.
    assert!(!glob("Photos/*", "photos/cat.jpg"));
}

#[test]
fn many_stars_against_a_long_string_take_linear_time() {
    // A naive backtracking matcher needs time exponential in the number of stars here.
    let long = "a".repeat(50_000);
    let pattern = "a*a*a*a*a*a*a*b";
    let started = Instant::now();
    assert!(!glob(pattern, &long));
    assert!(glob(pattern, &format!("{long}b")));
    assert!(!glob("*aaaaaaaaaaaaaaaaaaaab", &long));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "matching took {:?}",
        started.elapsed()
    );
}

#[test]
fn many_stars_in_a_policy_resource_and_condition_are_fast() {
    let policy = assert_parses(identity(&identity_doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/a*a*a*a*a*a*a*a*a*a*b",
            "Condition":{"StringLike":{"aws:Referer":"*a*a*a*a*a*a*a*a*a*a*b"}}}"#,
    )));
    // S3 object keys are at most 1,024 bytes; the referer is longer.
    let key = format!("arn:aws:s3:::amzn-s3-demo-bucket/{}", "a".repeat(1024));
    let referer = "a".repeat(20_000);
    let ctx = context_of(&[("aws:Referer", &[referer.as_str()])]);
    let started = Instant::now();
    assert_eq!(
        outcome(&policy, ALICE, "s3:GetObject", &key, &ctx),
        Outcome::NotApplicable
    );
    let key_b = format!("{key}b");
    let ctx_b = context_of(&[("aws:Referer", &[format!("{referer}b").as_str()])]);
    assert!(is_allow(outcome(
        &policy,
        ALICE,
        "s3:GetObject",
        &key_b,
        &ctx_b
    )));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn arn_matching_is_per_segment() {
    let key = "arn:aws:kms:us-east-1:111122223333:key/k";
    assert!(arn_match(&wild("arn:aws:kms:*:111122223333:key/*"), key));
    assert!(arn_match(&wild("arn:aws:kms:us-*-1:*:key/?"), key));
    // A `*` in the account segment cannot swallow the colon after it, as a whole-string
    // glob would.
    let odd = "arn:aws:kms:us-east-1:1:key:k";
    assert!(glob("arn:aws:kms:us-east-1:*:k", odd));
    assert!(!arn_match(&wild("arn:aws:kms:us-east-1:*:k"), odd));
    // The resource segment keeps its colons and `*` spans them there.
    assert!(arn_match(&wild("arn:aws:s3:::b/*"), "arn:aws:s3:::b/x:y:z"));
    // Every segment must match, not only the resource part.
    let same_tail = [
        "arn:aws:kms:us-east-1:444455556666:key/k",
        "arn:aws:kms:us-west-2:111122223333:key/k",
        "arn:aws:sqs:us-east-1:111122223333:key/k",
        "arn:aws-cn:kms:us-east-1:111122223333:key/k",
        "urn:aws:kms:us-east-1:111122223333:key/k",
    ];
    for other in same_tail {
        assert!(
            !arn_match(&wild(key), other),
            "{key} must not match {other}"
        );
    }
    // Not an ARN: no match.
    assert!(!arn_match(&wild("arn:aws:s3:::*"), "amzn-s3-demo-bucket"));
}

#[test]
fn resource_star_matches_anything_even_non_arns() {
    let policy = assert_parses(identity(&identity_doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#,
    )));
    let ctx = Context::new();
    assert!(is_allow(outcome(
        &policy,
        ALICE,
        "s3:GetObject",
        "not-an-arn",
        &ctx
    )));
    assert!(is_allow(outcome(&policy, ALICE, "s3:GetObject", "", &ctx)));
}

#[test]
fn arn_like_star_alone_matches_any_value() {
    let policy = assert_parses(identity(&with_condition(
        "ArnLike",
        "aws:SourceArn",
        r#""*""#,
    )));
    let ctx = context_of(&[(
        "aws:SourceArn",
        &["arn:aws:sns:us-east-1:111122223333:topic"],
    )]);
    assert!(is_allow(outcome(
        &policy,
        ALICE,
        "s3:GetObject",
        OBJECT,
        &ctx
    )));
    assert_eq!(
        outcome(&policy, ALICE, "s3:GetObject", OBJECT, &Context::new()),
        Outcome::NotApplicable,
        "a missing key still fails"
    );
}

/// Variable values for [`Template`] tests; keys are lowercase, as [`VarSource`] asks.
struct Vars(&'static [(&'static str, &'static str)]);

impl VarSource for Vars {
    fn single(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

fn substitute(template: &str, vars: &'static [(&'static str, &'static str)]) -> Option<String> {
    Template::parse(template)
        .unwrap_or_else(|e| panic!("{template:?} should parse: {e}"))
        .text(&Vars(vars))
}

#[test]
fn variables_substitute_once_and_case_insensitively() {
    assert_eq!(
        substitute("home/${aws:username}/*", &[("aws:username", "Alice")]).as_deref(),
        Some("home/Alice/*")
    );
    assert_eq!(
        substitute("${AWS:UserName}", &[("aws:username", "Alice")]).as_deref(),
        Some("Alice")
    );
    // One round only: a value that looks like a variable stays text.
    assert_eq!(
        substitute(
            "${aws:username}",
            &[("aws:username", "${aws:userid}"), ("aws:userid", "X")]
        )
        .as_deref(),
        Some("${aws:userid}")
    );
    // No value, no default: the string has no value at all.
    assert_eq!(substitute("home/${aws:username}/*", &[]), None);
    // A lone `$` or `{` is text.
    assert_eq!(substitute("$5 {x} $", &[]).as_deref(), Some("$5 {x} $"));
}

#[test]
fn variable_defaults_and_escapes() {
    assert_eq!(
        substitute("${aws:PrincipalTag/team, 'company-wide'}", &[]).as_deref(),
        Some("company-wide")
    );
    assert_eq!(
        substitute(
            "${aws:PrincipalTag/team, 'company-wide'}",
            &[("aws:principaltag/team", "yellow")]
        )
        .as_deref(),
        Some("yellow")
    );
    // Spaces around the parts are allowed; '' inside the quotes is one quote, and a `}`
    // inside the quotes does not end the variable.
    assert_eq!(
        substitute("${ aws:username , 'it''s {me}' }", &[]).as_deref(),
        Some("it's {me}")
    );
    // A default is text too: not re-scanned.
    assert_eq!(
        substitute("${aws:username, '${aws:userid}'}", &[("aws:userid", "X")]).as_deref(),
        Some("${aws:userid}")
    );
    assert_eq!(substitute("${*}${?}${$}", &[]).as_deref(), Some("*?$"));
}

#[test]
fn escaped_and_substituted_wildcards_are_literal_in_patterns() {
    let template = Template::parse("a${*}b*${aws:username}").expect("valid template");
    let tokens = template
        .tokens(&Vars(&[("aws:username", "?")]))
        .expect("the variable has a value");
    // "a" literal-* "b" wildcard-* literal-?
    assert!(glob_str(&tokens, "a*bXYZ?"));
    assert!(glob_str(&tokens, "a*b?"));
    assert!(!glob_str(&tokens, "aXbXYZ?"), "${{*}} is not a wildcard");
    assert!(
        !glob_str(&tokens, "a*bXYZQ"),
        "a substituted ? is not a wildcard"
    );
}

#[test]
fn multivalued_keys_are_not_variables() {
    // "multivalued keys cannot be variables": aws:TagKeys with two values resolves to
    // nothing, so a statement using it as a variable does not apply.
    let policy = assert_parses(identity(&identity_doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:TagKeys}/*"}"#,
    )));
    let two = context_of(&[("aws:TagKeys", &["x", "y"])]);
    let one = context_of(&[("aws:TagKeys", &["x"])]);
    assert_eq!(
        outcome(&policy, ALICE, "s3:GetObject", "arn:aws:s3:::b/x/1", &two),
        Outcome::NotApplicable
    );
    assert!(is_allow(outcome(
        &policy,
        ALICE,
        "s3:GetObject",
        "arn:aws:s3:::b/x/1",
        &one
    )));
}

#[test]
fn principal_keys_come_from_the_principal_not_the_context() {
    // A request header cannot restate who the caller is.
    let policy = assert_parses(identity(&with_condition(
        "StringEquals",
        "aws:username",
        r#""Bob""#,
    )));
    let forged = context_of(&[("aws:username", &["Bob"]), ("aws:PrincipalArn", &["x"])]);
    assert_eq!(
        outcome(&policy, ALICE, "s3:GetObject", OBJECT, &forged),
        Outcome::NotApplicable
    );
    assert!(is_allow(outcome(
        &policy,
        BOB,
        "s3:GetObject",
        OBJECT,
        &Context::new()
    )));

    // The documented principal key values: root has no aws:username and its aws:userid is
    // the account id; anonymous callers are "anonymous" / "Anonymous".
    let cases: &[(Who, &str, &str)] = &[
        (ROOT_A, "aws:userid", A),
        (ROOT_A, "aws:PrincipalType", "Account"),
        (ALICE, "aws:PrincipalType", "User"),
        (ALICE, "aws:PrincipalAccount", A),
        (
            ALICE,
            "aws:PrincipalArn",
            "arn:aws:iam::111122223333:user/Alice",
        ),
        (ANONYMOUS, "aws:userid", "anonymous"),
        (ANONYMOUS, "aws:PrincipalType", "Anonymous"),
    ];
    for (who, key, value) in cases {
        let p = assert_parses(identity(&with_condition(
            "StringEquals",
            key,
            &format!("{value:?}"),
        )));
        assert!(
            is_allow(outcome(&p, *who, "s3:GetObject", OBJECT, &Context::new())),
            "{who:?} should have {key} = {value}"
        );
    }
    let has_username = assert_parses(identity(&with_condition(
        "Null",
        "aws:username",
        r#""false""#,
    )));
    assert!(is_allow(outcome(
        &has_username,
        ALICE,
        "s3:GetObject",
        OBJECT,
        &Context::new()
    )));
    let claims_a_name = context_of(&[("aws:username", &["Alice"])]);
    for nameless in [ROOT_A, ANONYMOUS] {
        assert_eq!(
            outcome(
                &has_username,
                nameless,
                "s3:GetObject",
                OBJECT,
                &claims_a_name
            ),
            Outcome::NotApplicable,
            "{nameless:?} has no aws:username, whatever the context says"
        );
    }
}

#[test]
fn context_keys_are_case_insensitive_and_values_are_not() {
    let mut ctx = Context::new();
    ctx.insert("AWS:SourceIp", "192.0.2.1");
    assert_eq!(ctx.get("aws:sourceip"), Some(&["192.0.2.1".to_owned()][..]));
    let policy = assert_parses(identity(&with_condition(
        "StringEquals",
        "aws:RequestTag/Team",
        r#""Blue""#,
    )));
    let exact = context_of(&[("aws:requesttag/team", &["Blue"])]);
    let other_case = context_of(&[("aws:RequestTag/Team", &["blue"])]);
    assert!(is_allow(outcome(
        &policy,
        ALICE,
        "s3:GetObject",
        OBJECT,
        &exact
    )));
    assert_eq!(
        outcome(&policy, ALICE, "s3:GetObject", OBJECT, &other_case),
        Outcome::NotApplicable
    );
}

#[test]
fn a_request_value_of_the_wrong_type_matches_no_policy_value() {
    let lt = assert_parses(identity(&with_condition(
        "NumericLessThan",
        "s3:max-keys",
        "10",
    )));
    let ne = assert_parses(identity(&with_condition(
        "NumericNotEquals",
        "s3:max-keys",
        "10",
    )));
    let ctx = context_of(&[("s3:max-keys", &["five"])]);
    assert_eq!(
        outcome(&lt, ALICE, "s3:GetObject", OBJECT, &ctx),
        Outcome::NotApplicable
    );
    assert!(is_allow(outcome(&ne, ALICE, "s3:GetObject", OBJECT, &ctx)));
    let ip = assert_parses(identity(&with_condition(
        "IpAddress",
        "aws:SourceIp",
        r#""0.0.0.0/0""#,
    )));
    let garbage = context_of(&[("aws:SourceIp", &["not-an-ip"])]);
    assert_eq!(
        outcome(&ip, ALICE, "s3:GetObject", OBJECT, &garbage),
        Outcome::NotApplicable
    );
    // An IPv4 client seen through an IPv6 socket is the IPv4 address.
    let mapped = context_of(&[("aws:SourceIp", &["::ffff:192.0.2.1"])]);
    assert!(is_allow(outcome(
        &ip,
        ALICE,
        "s3:GetObject",
        OBJECT,
        &mapped
    )));
}

#[test]
fn date_operators_compare_instants_across_formats() {
    let p = assert_parses(identity(&with_condition(
        "DateEquals",
        "aws:CurrentTime",
        r#""2020-04-01T02:00:00+02:00""#,
    )));
    for same in [
        "2020-04-01T00:00:00Z",
        "1585699200",
        "2020-04-01T00:00:00.000Z",
        "2020-04-01",
    ] {
        let ctx = context_of(&[("aws:CurrentTime", &[same])]);
        assert!(
            is_allow(outcome(&p, ALICE, "s3:GetObject", OBJECT, &ctx)),
            "{same} is the same instant"
        );
    }
    let later = context_of(&[("aws:CurrentTime", &["2020-04-01T00:00:01Z"])]);
    assert_eq!(
        outcome(&p, ALICE, "s3:GetObject", OBJECT, &later),
        Outcome::NotApplicable
    );
}

#[test]
fn decide_reports_why() {
    let allow = assert_parses(identity(ID_GET_OBJECTS));
    let deny = assert_parses(identity(&identity_doc(
        r#"{"Effect":"Deny","Action":"s3:*","Resource":"*"}"#,
    )));
    let caller = Caller::new(ALICE);
    let principal = caller.principal();
    let ctx = Context::new();
    let req = Request {
        principal: &principal,
        action: "s3:GetObject",
        resource: OBJECT,
        context: &ctx,
    };
    let d = decide(&req, &[&allow, &deny], None, A, Service::S3);
    assert_eq!(d.reason, Reason::ExplicitDeny(PolicySource::Identity(1)));
    assert!(d.explicit_deny && !d.allowed);
    assert_eq!(
        decide(&req, &[&allow], None, A, Service::S3).reason,
        Reason::IdentityPolicy
    );
    assert_eq!(
        decide(&req, &[&allow], None, A, Service::Kms).reason,
        Reason::NoKeyPolicy
    );
    assert_eq!(
        decide(&req, &[&allow], None, B, Service::S3).reason,
        Reason::ResourceAllowMissing
    );

    let bad = Principal {
        account: "12345",
        ..principal
    };
    let req_bad = Request {
        principal: &bad,
        ..req
    };
    let d = decide(&req_bad, &[&allow], None, "12345", Service::S3);
    assert_eq!(d.reason, Reason::InvalidPrincipal);
    assert!(!d.allowed);

    let anon_caller = Caller::new(ANONYMOUS);
    let anon = anon_caller.principal();
    let key_policy = assert_parses(parse_as(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
        PolicyKind::Resource,
        KEY_POLICY_MAX,
    ));
    // An anonymous caller has no identity: identity policies handed in for it grant nothing.
    let s3_anon = Request {
        principal: &anon,
        ..req
    };
    let d = decide(&s3_anon, &[&allow], None, A, Service::S3);
    assert!(
        !d.allowed && !d.explicit_deny,
        "anonymous allowed by an identity policy: {d:?}"
    );
    let req_anon = Request {
        principal: &anon,
        action: "kms:Decrypt",
        resource: KEY,
        context: &ctx,
    };
    assert_eq!(
        decide(&req_anon, &[], Some(&key_policy), A, Service::Kms).reason,
        Reason::AnonymousNotAccepted
    );
}

#[test]
fn compiled_policies_expose_what_services_validate() {
    let p = assert_parses(resource(
        r#"{"Version":"2012-10-17","Id":"ExamplePolicy","Statement":[
            {"Sid":"Public","Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject","s3:Get*"],
             "Resource":"arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/*",
             "Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"},"Bool":{"aws:SecureTransport":"true"}}},
            {"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"*","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}]}"#,
    ));
    assert_eq!(p.kind(), PolicyKind::Resource);
    assert_eq!(p.id(), Some("ExamplePolicy"));
    assert_eq!(p.version().map(Version::as_str), Some("2012-10-17"));
    let [first, second, third] = p.statements() else {
        panic!("expected three statements, got {}", p.statements().len());
    };
    assert_eq!(first.sid.as_deref(), Some("Public"));
    assert_eq!(
        first.condition_keys(),
        vec!["aws:SourceVpce", "aws:SecureTransport"]
    );
    assert!(first.grants_everyone());
    assert!(
        second.grants_everyone(),
        "NotPrincipal applies to everyone it does not list"
    );
    assert!(!third.grants_everyone());
    assert!(first.actions_all_match(|a| a.starts_with("s3:Get")));
    assert!(!second.actions_all_match(|a| a.starts_with("s3:")));
    assert!(first.resources_all_match(|r| r.contains("${aws:username}")));
    let pattern = &first.resources.patterns()[0];
    assert!(pattern.has_variables() && !pattern.is_any());
    assert_eq!(pattern.service(), Some("s3"));
    assert!(second.resources.patterns()[0].is_any());
    assert_eq!(second.resources.patterns()[0].service(), None);
    let action = &first.actions.patterns()[1];
    assert_eq!(action.service(), Some("s3"));
    assert!(action.matches("S3:GETOBJECTTAGGING") && !action.matches("s3:PutObject"));
    assert_eq!(
        third.principals.as_ref().map(|p| p.entries().to_vec()),
        Some(vec![PrincipalEntry::Account(A.to_owned())])
    );
    let conditions = &first.conditions;
    assert_eq!(conditions[1].operator(), "Bool");
    assert!(!conditions[1].is_negated() && !conditions[1].if_exists());
    assert_eq!(conditions[1].qualifier(), None);

    // Cheap to clone, shareable across threads.
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Policy>();
    let clone = p.clone();
    assert!(std::ptr::eq(clone.statements(), p.statements()));
}

#[test]
fn principal_forms_normalize() {
    let p = assert_parses(resource(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{
            "AWS":["*","111122223333","arn:aws:iam::444455556666:root",
                   "arn:aws:iam::111122223333:user/division/Alice","AIDAALICEEXAMPLE",
                   "arn:aws:iam::111122223333:role/Admin",
                   "arn:aws:sts::111122223333:assumed-role/Admin/session"],
            "Service":"logging.s3.amazonaws.com",
            "CanonicalUser":"79A59DF900B949E55D96A1E698FBACEDFD6E09D98EACF8F8D5218E7CD47EF2BE"},
            "Action":"s3:GetObject","Resource":"*"}]}"#,
    ));
    let entries = p.statements()[0]
        .principals
        .as_ref()
        .expect("a resource policy statement has principals")
        .entries();
    assert_eq!(entries[0], PrincipalEntry::Everyone);
    assert_eq!(entries[1], PrincipalEntry::Account(A.to_owned()));
    assert_eq!(entries[2], PrincipalEntry::Account(B.to_owned()));
    assert!(matches!(&entries[3], PrincipalEntry::User { account, .. } if account == A));
    assert_eq!(
        entries[4],
        PrincipalEntry::UserId("AIDAALICEEXAMPLE".to_owned())
    );
    assert!(matches!(&entries[5], PrincipalEntry::Role { .. }));
    assert!(matches!(&entries[6], PrincipalEntry::AssumedRole { .. }));
    assert_eq!(
        entries[7],
        PrincipalEntry::Service("logging.s3.amazonaws.com".to_owned())
    );
    assert!(
        matches!(&entries[8], PrincipalEntry::CanonicalUser(c) if c.chars().all(|c| !c.is_ascii_uppercase()))
    );
}

// ---------------------------------------------------------------------------------------------
// Part 4: properties
// ---------------------------------------------------------------------------------------------

/// A textbook dynamic-programming glob: `*` any run, `?` one character, all else literal.
fn reference_glob(pattern: &[char], value: &[char]) -> bool {
    // row[j]: whether the pattern read so far matches value[..j].
    let mut row = vec![false; value.len() + 1];
    row[0] = true;
    for &p in pattern {
        let mut next = vec![p == '*' && row[0]; 1];
        for (j, &v) in value.iter().enumerate() {
            let m = match p {
                '*' => row[j + 1] || next[j],
                '?' => row[j],
                c => row[j] && v == c,
            };
            next.push(m);
        }
        row = next;
    }
    row[value.len()]
}

#[test]
fn the_reference_glob_is_itself_right() {
    let check = |p: &str, v: &str| {
        reference_glob(
            &p.chars().collect::<Vec<_>>(),
            &v.chars().collect::<Vec<_>>(),
        )
    };
    assert!(check("a*b*c", "aXbYc"));
    assert!(!check("a*b*c", "acb"));
    assert!(check("*", ""));
    assert!(!check("?", ""));
    assert!(check("?€", "a€"));
}

/// The policies the mutation property starts from: between them every element, operator
/// family, qualifier, variable form and principal form.
const MUTATION_SEEDS: &[&str] = &[
    r#"{"Version":"2012-10-17","Id":"Seed","Statement":[
      {"Sid":"Public read","Effect":"Allow","Principal":"*","Action":["s3:Get*","s3:List*"],
       "Resource":["arn:aws:s3:::amzn-s3-demo-bucket","arn:aws:s3:::amzn-s3-demo-bucket/${aws:username, 'x'}/*"],
       "Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*","${*}${?}${$}"]},
         "IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8::/32"]},
         "NumericLessThanEquals":{"s3:max-keys":10},
         "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
         "BoolIfExists":{"aws:SecureTransport":true},
         "BinaryEquals":{"aws:RequestTag/b":"QmluYXJ5"},
         "ArnLike":{"aws:SourceArn":"arn:aws:s3:::*"},
         "ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]},
         "ForAnyValue:StringNotLike":{"kms:EncryptionContextKeys":"x*"},
         "Null":{"aws:TokenIssueTime":"true"}}},
      {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::444455556666:user/Bob","444455556666"]},
       "NotAction":"s3:GetObject","NotResource":"arn:aws:s3:::amzn-s3-demo-bucket/*",
       "Condition":{"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/team":"${aws:PrincipalTag/team}"}}},
      {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root","Service":"s3.amazonaws.com"},
       "Action":"kms:*","Resource":"*"}]}"#,
    r#"{"Version":"2012-10-17","Statement":[
      {"Sid":"Home","Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:userid}/*"},
      {"Effect":"Deny","NotAction":["iam:*","sts:*"],"Resource":"*",
       "Condition":{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"},"DateGreaterThan":{"aws:EpochTime":"1700000000"}}}]}"#,
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(i, m)| Mutation::Flip(i, m)),
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (
            any::<prop::sample::Index>(),
            prop::sample::select(vec![b'{', b'[', b'"'])
        )
            .prop_map(|(i, c)| Mutation::Insert(i, c)),
    ]
}

fn mutate(seed: &str, mutations: &[Mutation]) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Flip(i, mask) if len > 0 => bytes[i.index(len)] ^= mask,
            Mutation::Truncate(i) if len > 0 => bytes.truncate(i.index(len)),
            Mutation::Insert(i, c) => bytes.insert(i.index(len + 1), *c),
            Mutation::Flip(..) | Mutation::Truncate(_) => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Replaces alphanumeric characters of `seed` (so the JSON stays well-formed while actions,
/// ARNs, operators, keys and values change) with characters that matter to the policy
/// language.
fn rewrite(seed: &str, edits: &[(prop::sample::Index, u8)]) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    let spots: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i].is_ascii_alphanumeric())
        .collect();
    for (i, c) in edits {
        bytes[spots[i.index(spots.len())]] = *c;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn rewrite_edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8)>> {
    let replacements = b"aZ09*?$:{}/'_- ,".to_vec();
    prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            prop::sample::select(replacements),
        ),
        1..4,
    )
}

/// Parses `doc` both ways and, where it parses, evaluates and decides a spread of requests.
/// Returns the number of kinds it parsed as. Panics only through the engine.
fn exercise(doc: &str) -> Result<usize, TestCaseError> {
    let ctx = context_of(&[
        ("aws:SourceIp", &["203.0.113.9"]),
        ("s3:prefix", &["home/Alice/x"]),
        ("s3:max-keys", &["5"]),
        ("aws:CurrentTime", &["2024-01-01T00:00:00Z"]),
        ("aws:EpochTime", &["1704067200"]),
        ("aws:TagKeys", &["a"]),
        ("kms:EncryptionContextKeys", &[]),
        ("aws:RequestTag/b", &["QmluYXJ5"]),
        ("aws:SourceArn", &["arn:aws:s3:::x"]),
    ]);
    let mut parsed = 0;
    for kind in [PolicyKind::Identity, PolicyKind::Resource] {
        match parse_as(doc, kind, 1 << 16) {
            Ok(policy) => {
                parsed += 1;
                prop_assert!(!policy.statements().is_empty(), "a policy has statements");
                prop_assert_eq!(policy.kind(), kind);
                for who in [ALICE, CAROL_B, ROOT_A, ANONYMOUS] {
                    let caller = Caller::new(who);
                    let principal = caller.principal();
                    for (action, res) in [
                        ("s3:GetObject", OBJECT),
                        ("kms:Decrypt", KEY),
                        ("s3:ListBucket", BUCKET),
                    ] {
                        let req = Request {
                            principal: &principal,
                            action,
                            resource: res,
                            context: &ctx,
                        };
                        let one = policy.evaluate(&req);
                        for service in [Service::S3, Service::Kms, Service::Iam] {
                            let d = match kind {
                                PolicyKind::Identity => decide(&req, &[&policy], None, A, service),
                                PolicyKind::Resource => {
                                    decide(&req, &[], Some(&policy), A, service)
                                }
                            };
                            prop_assert!(
                                !(d.allowed && d.explicit_deny),
                                "allowed and denied: {:?}",
                                d
                            );
                            if one == Outcome::Deny {
                                prop_assert!(
                                    d.explicit_deny,
                                    "a Deny outcome must deny explicitly"
                                );
                            }
                        }
                    }
                }
            }
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                prop_assert!(
                    e.message.chars().count() <= 512,
                    "error messages stay short: {} chars",
                    e.message.chars().count()
                );
            }
        }
    }
    Ok(parsed)
}

#[test]
fn the_mutation_seeds_are_valid() {
    // Without this the mutation property could be exercising nothing but refusals.
    for (i, seed) in MUTATION_SEEDS.iter().enumerate() {
        let parsed = exercise(seed).unwrap_or_else(|e| panic!("seed {i}: {e}"));
        assert!(parsed >= 1, "seed {i} must parse as at least one kind");
        assert_eq!(mutate(seed, &[]), *seed);
    }
}

/// JSON and policy fragments, so that random documents get past the tokenizer.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\"",
        " ",
        "\"Version\"",
        "\"2012-10-17\"",
        "\"Statement\"",
        "\"Effect\"",
        "\"Allow\"",
        "\"Deny\"",
        "\"Action\"",
        "\"NotAction\"",
        "\"s3:*\"",
        "\"Resource\"",
        "\"*\"",
        "\"arn:aws:s3:::b/${aws:username}\"",
        "\"Principal\"",
        "\"NotPrincipal\"",
        "{\"AWS\":\"111122223333\"}",
        "\"Condition\"",
        "\"StringLike\"",
        "\"ForAllValues:StringEquals\"",
        "\"IpAddress\"",
        "\"aws:SourceIp\"",
        "\"10.0.0.0/8\"",
        "\"aws:username\"",
        "\"${\"",
        "\"${aws:username, '\"",
        "1",
        "-0.5",
        "true",
        "null",
    ];
    prop::collection::vec(prop::sample::select(tokens), 0..80).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn arbitrary_strings_never_panic(doc in any::<String>()) {
        exercise(&doc)?;
    }

    #[test]
    fn policy_shaped_noise_never_panics(doc in token_soup()) {
        exercise(&doc)?;
    }

    #[test]
    fn mutated_policies_never_panic(
        seed in prop::sample::select(MUTATION_SEEDS),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        exercise(&mutate(seed, &mutations))?;
    }

    #[test]
    fn rewritten_policies_never_panic(
        seed in prop::sample::select(MUTATION_SEEDS),
        edits in rewrite_edits(),
    ) {
        exercise(&rewrite(seed, &edits))?;
    }

    #[test]
    fn glob_agrees_with_the_reference(pattern in "[ab€*?]{0,12}", value in "[ab€]{0,16}") {
        let p: Vec<char> = pattern.chars().collect();
        let v: Vec<char> = value.chars().collect();
        prop_assert_eq!(glob_str(&wild(&pattern), &value), reference_glob(&p, &v));
    }

    #[test]
    fn resource_and_string_like_agree_with_the_reference(
        pattern in "[ab€*?]{0,10}",
        value in "[ab€]{0,12}",
    ) {
        let expected = reference_glob(
            &pattern.chars().collect::<Vec<_>>(),
            &value.chars().collect::<Vec<_>>(),
        );
        let by_resource = assert_parses(resource(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*",
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/{pattern}"}}]}}"#
        )));
        let got = outcome(&by_resource, ALICE, "s3:GetObject", &format!("arn:aws:s3:::bkt/{value}"), &Context::new());
        prop_assert_eq!(is_allow(got), expected, "Resource arn:aws:s3:::bkt/{} vs {}", pattern, value);

        let by_condition = assert_parses(resource(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*",
            "Action":"s3:GetObject","Resource":"*","Condition":{{"StringLike":{{"aws:Referer":"{pattern}"}}}}}}]}}"#
        )));
        let ctx = context_of(&[("aws:Referer", &[value.as_str()])]);
        let got = outcome(&by_condition, ALICE, "s3:GetObject", OBJECT, &ctx);
        prop_assert_eq!(is_allow(got), expected, "StringLike {} vs {}", pattern, value);
    }

    #[test]
    fn actions_match_case_insensitively(pattern in "[aB*?]{0,8}", value in "[Ab]{1,10}") {
        let expected = reference_glob(
            &pattern.to_lowercase().chars().collect::<Vec<_>>(),
            &value.to_lowercase().chars().collect::<Vec<_>>(),
        );
        let action = ActionPattern::compile(&format!("s3:{pattern}x"))
            .map_err(|e| TestCaseError::fail(e.message))?;
        prop_assert_eq!(action.matches(&format!("S3:{value}X")), expected);
    }

    #[test]
    fn ipv4_cidrs_agree_with_bit_arithmetic(
        net in any::<u32>(),
        prefix in 0u32..=32,
        noise in any::<u32>(),
        near in any::<bool>(),
    ) {
        // Half the cases keep the network bits, so that both answers are common.
        let addr = if near { net ^ noise.checked_shr(prefix).unwrap_or(0) } else { noise };
        let expected = prefix == 0 || (net ^ addr) >> (32 - prefix) == 0;
        let policy = assert_parses(identity(&with_condition(
            "IpAddress",
            "aws:SourceIp",
            &format!("\"{}/{prefix}\"", std::net::Ipv4Addr::from(net)),
        )));
        let ip = std::net::Ipv4Addr::from(addr).to_string();
        let ctx = context_of(&[("aws:SourceIp", &[ip.as_str()])]);
        prop_assert_eq!(is_allow(outcome(&policy, ALICE, "s3:GetObject", OBJECT, &ctx)), expected);
    }

    #[test]
    fn ipv6_cidrs_agree_with_bit_arithmetic(
        net in any::<u128>(),
        prefix in 0u32..=128,
        noise in any::<u128>(),
        near in any::<bool>(),
    ) {
        let addr = if near { net ^ noise.checked_shr(prefix).unwrap_or(0) } else { noise };
        let expected = prefix == 0 || (net ^ addr) >> (128 - prefix) == 0;
        let policy = assert_parses(identity(&with_condition(
            "IpAddress",
            "aws:SourceIp",
            &format!("\"{}/{prefix}\"", std::net::Ipv6Addr::from(net)),
        )));
        let addr = std::net::Ipv6Addr::from(addr);
        // An IPv4-mapped request address is read as IPv4 and cannot be in an IPv6 network.
        prop_assume!(addr.to_ipv4_mapped().is_none());
        let ip = addr.to_string();
        let ctx = context_of(&[("aws:SourceIp", &[ip.as_str()])]);
        prop_assert_eq!(is_allow(outcome(&policy, ALICE, "s3:GetObject", OBJECT, &ctx)), expected);
    }

    #[test]
    fn numeric_and_date_operators_agree_with_integer_order(a in 0i64..4_000_000_000, b in 0i64..4_000_000_000) {
        let ctx = context_of(&[("s3:max-keys", &[a.to_string().as_str()]), ("aws:EpochTime", &[a.to_string().as_str()])]);
        let numeric = assert_parses(identity(&with_condition("NumericLessThan", "s3:max-keys", &b.to_string())));
        prop_assert_eq!(is_allow(outcome(&numeric, ALICE, "s3:GetObject", OBJECT, &ctx)), a < b);
        let date = assert_parses(identity(&with_condition("DateGreaterThanEquals", "aws:EpochTime", &format!("\"{b}\""))));
        prop_assert_eq!(is_allow(outcome(&date, ALICE, "s3:GetObject", OBJECT, &ctx)), a >= b);
    }
}

#[test]
fn a_context_over_a_base_reads_through_and_overrides() {
    let base = std::sync::Arc::new(context_of(&[
        ("aws:SourceIp", &["10.0.0.1"]),
        ("s3:prefix", &["home/"]),
    ]));
    let mut ctx = Context::over(base.clone());
    ctx.insert("S3:Prefix", "other/");
    ctx.insert("s3:max-keys", "5");
    assert_eq!(ctx.get("aws:sourceip"), Some(&["10.0.0.1".to_owned()][..]));
    assert_eq!(ctx.get("s3:prefix"), Some(&["other/".to_owned()][..]));
    assert_eq!(base.get("s3:prefix"), Some(&["home/".to_owned()][..]));
    let keys: Vec<&str> = ctx.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["aws:sourceip", "s3:max-keys", "s3:prefix"]);
    assert!(
        Context::over(std::sync::Arc::new(Context::new()))
            .get("x:y")
            .is_none()
    );
    assert!(Context::over(std::sync::Arc::new(Context::new())).is_empty());
    // Moving a layered context into another brings its base's keys too.
    let mut flat = Context::new();
    flat.extend(ctx);
    assert_eq!(flat.get("aws:SourceIp"), Some(&["10.0.0.1".to_owned()][..]));
    // And conditions read the base.
    let p = identity(&identity_doc(
        r#"{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
    ))
    .unwrap();
    let layered = Context::over(base);
    assert!(is_allow(outcome(
        &p,
        ALICE,
        "s3:ListBucket",
        "arn:aws:s3:::b",
        &layered
    )));
}

#[test]
fn resource_literal_prefixes_stop_before_wildcards_and_variables() {
    let prefix = |s: &str| Template::compile(s, true).unwrap().literal_prefix();
    assert_eq!(
        prefix("arn:aws:s3:::b/${aws:username}/*"),
        "arn:aws:s3:::b/"
    );
    assert_eq!(prefix("arn:aws:s3:::b/x?y"), "arn:aws:s3:::b/x");
    assert_eq!(prefix("arn:aws:s3:::b/a${*}b*"), "arn:aws:s3:::b/a*b");
    assert_eq!(prefix("arn:aws:s3:::b/k"), "arn:aws:s3:::b/k");
    assert_eq!(Template::literal("arn:*:s3:::b").literal_prefix(), "arn:");
    // The prefix only prunes: an escaped star stays literal, a real one a wildcard.
    let p = identity(&identity_doc(
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/a${*}b*"}"#,
    ))
    .unwrap();
    let ctx = Context::new();
    assert!(is_allow(outcome(
        &p,
        ALICE,
        "s3:GetObject",
        "arn:aws:s3:::b/a*bc",
        &ctx
    )));
    assert!(!is_allow(outcome(
        &p,
        ALICE,
        "s3:GetObject",
        "arn:aws:s3:::b/axbc",
        &ctx
    )));
}
