//! `--principals root,iam-user`: what authorization costs. The in-process server gets an IAM
//! user with [`ATTACHED_POLICIES`] managed policies attached (one of them grants the bench
//! bucket; the others are the kind of unrelated grants, denies and conditions real accounts
//! carry), and the bench bucket gets a bucket policy of [`BUCKET_POLICY_STATEMENTS`]
//! statements; the same phases then run as the account root (who needs no policy) and as the
//! user, so the report shows the ratio in one run.

use crate::config::{AccountConfig, Config, CredentialConfig, PolicyConfig, UserConfig};

/// Managed policies attached to the bench user.
pub const ATTACHED_POLICIES: usize = 10;
/// Statements in the bench bucket's policy.
pub const BUCKET_POLICY_STATEMENTS: usize = 20;
/// The bench user's name.
pub const USER: &str = "bench-user";

/// Who the phases run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalChoice {
    Root,
    IamUser,
}

impl PrincipalChoice {
    pub fn name(self) -> &'static str {
        match self {
            PrincipalChoice::Root => "root",
            PrincipalChoice::IamUser => "iam-user",
        }
    }

    pub fn parse(s: &str) -> Option<PrincipalChoice> {
        match s.trim() {
            "root" => Some(PrincipalChoice::Root),
            "iam-user" | "user" => Some(PrincipalChoice::IamUser),
            _ => None,
        }
    }
}

/// The `i`th managed policy: the last grants the bench bucket, the others other things.
fn managed_policy(i: usize, bucket: &str) -> String {
    if i + 1 == ATTACHED_POLICIES {
        return format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Bench","Effect":"Allow","Action":["s3:PutObject","s3:GetObject","s3:DeleteObject","s3:ListBucket","s3:CreateBucket"],"Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}},{{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}}]}}"#
        );
    }
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Other{i}","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::team-{i}","arn:aws:s3:::team-{i}/*"],"Condition":{{"StringLike":{{"s3:prefix":["home/${{aws:username}}/*"]}}}}}},
        {{"Sid":"DenyOther{i}","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::archive-{i}"}},
        {{"Sid":"Kms{i}","Effect":"Allow","Action":"kms:Encrypt","Resource":"arn:aws:kms:*:*:key/*","Condition":{{"StringEquals":{{"kms:EncryptionContext:team":"team-{i}"}}}}}}]}}"#
    )
}

/// A bucket policy of [`BUCKET_POLICY_STATEMENTS`] statements, none of which denies the
/// bench's requests.
pub fn bucket_policy(bucket: &str) -> String {
    let mut statements = Vec::with_capacity(BUCKET_POLICY_STATEMENTS);
    for i in 0..BUCKET_POLICY_STATEMENTS {
        statements.push(match i % 4 {
            0 => format!(
                r#"{{"Sid":"DenyOtherSse{i}","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::{bucket}/locked-{i}/*","Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption":"aws:kms"}}}}}}"#
            ),
            1 => format!(
                r#"{{"Sid":"Partner{i}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::12345678901{}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/shared-{i}/*"}}"#,
                i % 10
            ),
            2 => format!(
                r#"{{"Sid":"Ips{i}","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::{bucket}/restricted-{i}/*","Condition":{{"NotIpAddress":{{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}}}}}"#
            ),
            _ => format!(
                r#"{{"Sid":"Dated{i}","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/expired-{i}/*","Condition":{{"DateGreaterThan":{{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}}}}"#
            ),
        });
    }
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    )
}

/// Adds the bench user, its access key and its policies to `cfg`'s default account.
pub fn add_user(cfg: &mut Config, access: &str, secret: &str, bucket: &str) {
    let account = cfg.kms.account_id.clone();
    let policies: Vec<PolicyConfig> = (0..ATTACHED_POLICIES)
        .map(|i| PolicyConfig {
            name: format!("bench-{i}"),
            document: managed_policy(i, bucket),
        })
        .collect();
    let attached = policies
        .iter()
        .map(|p| crate::iam::policy_arn(&account, "/", &p.name))
        .collect();
    cfg.accounts.push(AccountConfig {
        id: account,
        name: None,
        credentials: Vec::new(),
        users: vec![UserConfig {
            name: USER.into(),
            path: None,
            credentials: vec![CredentialConfig {
                access_key_id: access.into(),
                secret_access_key: secret.into(),
            }],
            policies: Vec::new(),
            attached_policies: attached,
        }],
        policies,
    });
}
