//! SigV4 authentication, shared by the S3 and KMS protocols.
