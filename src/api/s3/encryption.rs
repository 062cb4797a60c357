//! Bucket default encryption: PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption.
//!
//! The default applies to PUT, Copy and CreateMultipartUpload requests that carry no SSE
//! headers of their own (see `Service::resolve_sse`). A bucket without a configuration answers
//! GetBucketEncryption with AWS's default: SSE-S3.

use http::{Response, StatusCode};

use super::error::{S3Error, S3ErrorCode};
use super::handlers::read_xml_body;
use super::xml::{self, Xmlns};
use super::{Ctx, RequestBody, S3Api, service_error};
use crate::storage::records::BucketEncryption;
use crate::transport::body::{self, ResBody};

/// SSE algorithms a bucket default may name.
const ALGORITHMS: [&str; 3] = ["AES256", "aws:kms", "aws:kms:dsse"];

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

/// Validates a configuration document as AWS does: exactly one rule with a default.
fn parse_config(doc: xml::ServerSideEncryptionConfiguration) -> Result<BucketEncryption, S3Error> {
    let malformed = || S3Error::from_code(S3ErrorCode::MalformedXML);
    let [rule] =
        <[xml::ServerSideEncryptionRule; 1]>::try_from(doc.rules).map_err(|_| malformed())?;
    let default = rule
        .apply_server_side_encryption_by_default
        .ok_or_else(malformed)?;
    let algorithm = default.sse_algorithm.trim().to_string();
    if !ALGORITHMS.contains(&algorithm.as_str()) {
        return Err(malformed());
    }
    // AWS: S3 Bucket Keys are not supported for DSSE-KMS.
    if algorithm == "aws:kms:dsse" && rule.bucket_key_enabled == Some(true) {
        return Err(S3Error::invalid_argument(
            "Bucket Key is not supported for DSSE-KMS (aws:kms:dsse)",
            "BucketKeyEnabled",
            "true",
        ));
    }
    let kms_key_id = default
        .kms_master_key_id
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    if kms_key_id.is_some() && algorithm == "AES256" {
        return Err(S3Error::invalid_argument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            "ApplyServerSideEncryptionByDefault",
            "",
        ));
    }
    Ok(BucketEncryption {
        algorithm,
        kms_key_id,
        bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
    })
}

impl S3Api {
    pub(crate) async fn put_bucket_encryption(
        &self,
        ctx: &Ctx<'_>,
        bucket: &str,
        body: &mut RequestBody,
    ) -> Result<Response<ResBody>, S3Error> {
        let raw = read_xml_body(ctx, body).await?;
        let config = parse_config(xml::parse_xml(&raw)?)?;
        self.service
            .set_bucket_encryption(bucket, Some(config))
            .await
            .map_err(bucket_error(bucket))?;
        Ok(Response::new(body::empty()))
    }

    pub(crate) fn get_bucket_encryption(&self, bucket: &str) -> Result<Response<ResBody>, S3Error> {
        let rec = self
            .service
            .head_bucket(bucket)
            .map_err(bucket_error(bucket))?;
        let enc = rec.encryption.unwrap_or(BucketEncryption {
            algorithm: "AES256".into(),
            kms_key_id: None,
            bucket_key_enabled: false,
        });
        let doc = xml::ServerSideEncryptionConfiguration {
            xmlns: Xmlns,
            rules: vec![xml::ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: Some(xml::ServerSideEncryptionByDefault {
                    sse_algorithm: enc.algorithm,
                    kms_master_key_id: enc.kms_key_id,
                }),
                bucket_key_enabled: Some(enc.bucket_key_enabled),
            }],
        };
        let mut r = Response::new(body::full(xml::to_xml(
            "ServerSideEncryptionConfiguration",
            &doc,
        )?));
        super::headers::insert(r.headers_mut(), "content-type", "application/xml");
        Ok(r)
    }

    pub(crate) async fn delete_bucket_encryption(
        &self,
        bucket: &str,
    ) -> Result<Response<ResBody>, S3Error> {
        self.service
            .set_bucket_encryption(bucket, None)
            .await
            .map_err(bucket_error(bucket))?;
        let mut r = Response::new(body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        Ok(r)
    }
}
