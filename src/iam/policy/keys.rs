//! The documented condition keys, for callers that refuse policies naming keys their service
//! does not define (S3's "Policy has an invalid condition key", IAM's identity policies).
//!
//! Sources: IAM User Guide "AWS global condition context keys" and "IAM and AWS STS condition
//! context keys"; the Service Authorization Reference pages for Amazon S3 and AWS KMS; KMS
//! Developer Guide "AWS KMS condition keys" and "Condition keys for AWS Nitro Enclaves". Keys
//! that end in a caller-chosen part (`aws:RequestTag/<tag>`, `kms:EncryptionContext:<key>`,
//! `s3:ExistingObjectTag/<tag>`) are prefixes here and need a non-empty tail. Matching is
//! case-insensitive throughout, as key names are. A key missing here is refused by callers,
//! so the lists lean complete: keys AWS added after the guides' 2023 snapshots are included
//! where their documentation names them.

use super::eval::Service;

/// Global keys: valid in every service's policies.
const GLOBAL: &[&str] = &[
    "aws:AssumedRoot",
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:CurrentTime",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:Ec2InstanceSourceVpc",
    "aws:EpochTime",
    "aws:FederatedProvider",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalType",
    "aws:Referer",
    "aws:RequestedRegion",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:SecureTransport",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:SourceIp",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpcArn",
    "aws:SourceVpce",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:UserAgent",
    "aws:userid",
    "aws:username",
    "aws:ViaAWSService",
    "aws:VpcSourceIp",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
];

const GLOBAL_PREFIXES: &[&str] = &["aws:PrincipalTag/", "aws:RequestTag/", "aws:ResourceTag/"];

const S3: &[&str] = &[
    "s3:AccessGrantsInstanceArn",
    "s3:AccessPointNetworkOrigin",
    "s3:authType",
    "s3:DataAccessPointAccount",
    "s3:DataAccessPointArn",
    "s3:delimiter",
    "s3:destinationRegion",
    "s3:ExistingJobOperation",
    "s3:ExistingJobPriority",
    "s3:if-match",
    "s3:if-none-match",
    "s3:InventoryAccessibleOptionalFields",
    "s3:IsReplicationPauseRequest",
    "s3:JobSuspendedCause",
    "s3:LocationConstraint",
    "s3:max-keys",
    "s3:object-lock-legal-hold",
    "s3:object-lock-mode",
    "s3:object-lock-remaining-retention-days",
    "s3:object-lock-retain-until-date",
    "s3:prefix",
    "s3:RequestJobOperation",
    "s3:RequestJobPriority",
    "s3:RequestObjectTagKeys",
    "s3:ResourceAccount",
    "s3:signatureAge",
    "s3:signatureversion",
    "s3:TlsVersion",
    "s3:VersionId",
    "s3:x-amz-acl",
    "s3:x-amz-content-sha256",
    "s3:x-amz-copy-source",
    "s3:x-amz-grant-full-control",
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-object-ownership",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-storage-class",
    "s3:x-amz-website-redirect-location",
];

const S3_PREFIXES: &[&str] = &["s3:ExistingObjectTag/", "s3:RequestObjectTag/"];

const KMS: &[&str] = &[
    "kms:BypassPolicyLockoutSafetyCheck",
    "kms:CallerAccount",
    "kms:CustomerMasterKeySpec",
    "kms:CustomerMasterKeyUsage",
    "kms:DataKeyPairSpec",
    "kms:EncryptionAlgorithm",
    "kms:EncryptionContextKeys",
    "kms:ExpirationModel",
    "kms:GrantConstraintType",
    "kms:GranteePrincipal",
    "kms:GrantIsForAWSResource",
    "kms:GrantOperations",
    "kms:KeyAgreementAlgorithm",
    "kms:KeyOrigin",
    "kms:KeySpec",
    "kms:KeyUsage",
    "kms:MacAlgorithm",
    "kms:MessageType",
    "kms:MultiRegion",
    "kms:MultiRegionKeyType",
    "kms:PrimaryRegion",
    "kms:ReEncryptOnSameKey",
    "kms:RecipientAttestation:ImageSha384",
    "kms:ReplicaRegion",
    "kms:RequestAlias",
    "kms:ResourceAliases",
    "kms:RetiringPrincipal",
    "kms:RotationPeriodInDays",
    "kms:ScheduleKeyDeletionPendingWindowInDays",
    "kms:SigningAlgorithm",
    "kms:ValidTo",
    "kms:ViaService",
    "kms:WrappingAlgorithm",
    "kms:WrappingKeySpec",
];

const KMS_PREFIXES: &[&str] = &["kms:EncryptionContext:"];

/// `kms:RecipientAttestation:PCR<n>`: the Nitro Enclaves platform configuration registers.
const KMS_PCR_PREFIX: &str = "kms:RecipientAttestation:PCR";

const IAM: &[&str] = &[
    "iam:AssociatedResourceArn",
    "iam:AWSServiceName",
    "iam:FIDO-certification",
    "iam:FIDO-FIPS-140-2-certification",
    "iam:FIDO-FIPS-140-3-certification",
    "iam:OrganizationsPolicyId",
    "iam:PassedToService",
    "iam:PermissionsBoundary",
    "iam:PolicyARN",
    "iam:RegisterSecurityKey",
];

const IAM_PREFIXES: &[&str] = &["iam:ResourceTag/"];

/// Whether `key` is a documented condition key usable in `service`'s policies: a global key
/// or one of the service's own. For an identity policy, which may govern any service, check
/// each service in turn.
pub fn is_known_key(service: Service, key: &str) -> bool {
    let (exact, prefixes) = match service {
        Service::S3 => (S3, S3_PREFIXES),
        Service::Kms => (KMS, KMS_PREFIXES),
        Service::Iam => (IAM, IAM_PREFIXES),
    };
    in_list(GLOBAL, GLOBAL_PREFIXES, key)
        || in_list(exact, prefixes, key)
        || (service == Service::Kms && is_pcr_key(key))
}

fn in_list(exact: &[&str], prefixes: &[&str], key: &str) -> bool {
    exact.iter().any(|k| k.eq_ignore_ascii_case(key))
        || prefixes
            .iter()
            .any(|p| tail_after(key, p).is_some_and(|t| !t.is_empty()))
}

/// What follows `prefix` (matched case-insensitively) in `key`.
fn tail_after<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    let head = key.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| key.get(prefix.len()..))
        .flatten()
}

fn is_pcr_key(key: &str) -> bool {
    tail_after(key, KMS_PCR_PREFIX)
        .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}
