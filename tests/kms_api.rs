//! The KMS JSON API through aws-sdk-kms: every operation and AWS's errors, key states as S3
//! sees them (GET of objects under a disabled / pending-deletion / deleted key), rotation,
//! crypto-shredding with the test clock, import, and the audit log.
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    AlgorithmSpec, DataKeySpec, ExpirationModelType, KeyManagerType, KeyState, OriginType,
    RotationType, Tag, WrappingKeySpec,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::common::*;

const DAY: Duration = Duration::from_secs(86_400);

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().unwrap()
}

async fn new_key(kms: &aws_sdk_kms::Client, desc: &str) -> (String, String) {
    let out = kms.create_key().description(desc).send().await.unwrap();
    let m = out.key_metadata().unwrap();
    (m.key_id().to_string(), m.arn().unwrap().to_string())
}

fn audit_lines(srv: &TestServer) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(srv.data_dir().join("audit.log")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

#[tokio::test]
async fn kms_keys_aliases_and_every_key_id_form() {
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let out = kms
        .create_key()
        .description("first")
        .tags(tag("team", "storage"))
        .send()
        .await
        .unwrap();
    let m = out.key_metadata().unwrap();
    let id = m.key_id().to_string();
    let arn = m.arn().unwrap().to_string();
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:000000000000:key/{id}"));
    assert_eq!(m.key_state(), Some(&KeyState::Enabled));
    assert_eq!(m.key_manager(), Some(&KeyManagerType::Customer));
    assert_eq!(m.origin(), Some(&OriginType::AwsKms));
    assert!(m.enabled());

    kms.create_alias()
        .alias_name("alias/first")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let alias_arn = "arn:aws:kms:us-east-1:000000000000:alias/first";
    for form in [id.as_str(), arn.as_str(), "alias/first", alias_arn] {
        let d = kms.describe_key().key_id(form).send().await.unwrap();
        assert_eq!(
            d.key_metadata().unwrap().arn(),
            Some(arn.as_str()),
            "{form}"
        );
    }
    // Errors: unknown key, alias taken, reserved and malformed names.
    let e = kms
        .describe_key()
        .key_id("11111111-2222-3333-4444-555555555555")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "NotFoundException");
    let e = kms
        .describe_key()
        .key_id("alias/nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "NotFoundException");
    let e = kms
        .create_alias()
        .alias_name("alias/first")
        .target_key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AlreadyExistsException");
    for bad in ["alias/aws/mine", "alias/has space", "noprefix"] {
        let e = kms
            .create_alias()
            .alias_name(bad)
            .target_key_id(&id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(kms_code(&e), "InvalidAliasNameException", "{bad}");
    }
    kms.update_key_description()
        .key_id("alias/first")
        .description("renamed")
        .send()
        .await
        .unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(d.key_metadata().unwrap().description(), Some("renamed"));

    // More keys, paging through ListKeys and ListAliases.
    let (id2, arn2) = new_key(&kms, "second").await;
    let (_id3, _) = new_key(&kms, "third").await;
    kms.create_alias()
        .alias_name("alias/second")
        .target_key_id(&arn2)
        .send()
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = kms
            .list_keys()
            .limit(2)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        assert!(page.keys().len() <= 2);
        seen.extend(page.keys().iter().map(|k| {
            (
                k.key_id().unwrap().to_string(),
                k.key_arn().unwrap().to_string(),
            )
        }));
        if !page.truncated() {
            break;
        }
        marker = page.next_marker().map(str::to_string);
    }
    assert_eq!(seen.len(), 3);
    assert!(seen.contains(&(id.clone(), arn.clone())));
    let e = kms.list_keys().marker("!!bogus").send().await.unwrap_err();
    assert_eq!(kms_code(&e), "InvalidMarkerException");
    let a = kms.list_aliases().limit(1).send().await.unwrap();
    assert_eq!(a.aliases().len(), 1);
    assert!(a.truncated());
    let a2 = kms
        .list_aliases()
        .marker(a.next_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(a2.aliases().len(), 1);
    assert!(!a2.truncated());
    let only = kms.list_aliases().key_id(&id2).send().await.unwrap();
    assert_eq!(only.aliases().len(), 1);
    assert_eq!(only.aliases()[0].alias_name(), Some("alias/second"));
    assert_eq!(only.aliases()[0].target_key_id(), Some(id2.as_str()));

    // UpdateAlias retargets; DeleteAlias removes.
    kms.update_alias()
        .alias_name("alias/second")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let d = kms
        .describe_key()
        .key_id("alias/second")
        .send()
        .await
        .unwrap();
    assert_eq!(d.key_metadata().unwrap().key_id(), id);
    kms.delete_alias()
        .alias_name("alias/second")
        .send()
        .await
        .unwrap();
    let e = kms
        .delete_alias()
        .alias_name("alias/second")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "NotFoundException");
}

#[tokio::test]
async fn kms_crypto_operations_and_their_errors() {
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let (id, arn) = new_key(&kms, "crypto").await;
    let (other, _) = new_key(&kms, "other").await;

    let enc = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"hello kms".to_vec()))
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "a")
        .send()
        .await
        .unwrap();
    assert_eq!(enc.key_id(), Some(arn.as_str()));
    let blob = enc.ciphertext_blob().unwrap().clone();
    // Decrypt with and without KeyId.
    for key in [None, Some(id.clone()), Some(arn.clone())] {
        let d = kms
            .decrypt()
            .set_key_id(key)
            .ciphertext_blob(blob.clone())
            .encryption_context("purpose", "test")
            .encryption_context("tenant", "a")
            .send()
            .await
            .unwrap();
        assert_eq!(d.plaintext().unwrap().as_ref(), b"hello kms");
        assert_eq!(d.key_id(), Some(arn.as_str()));
    }
    // The context is AAD: missing, extra or changed pairs all fail.
    let contexts: [&[(&str, &str)]; 4] = [
        &[],
        &[("purpose", "test")],
        &[("purpose", "test"), ("tenant", "a"), ("extra", "x")],
        &[("purpose", "test"), ("tenant", "b")],
    ];
    for c in contexts {
        let mut req = kms.decrypt().ciphertext_blob(blob.clone());
        for (k, v) in c {
            req = req.encryption_context(*k, *v);
        }
        let e = req.send().await.unwrap_err();
        assert_eq!(kms_code(&e), "InvalidCiphertextException", "{c:?}");
    }
    // Tampered blob.
    let mut bad = blob.as_ref().to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let e = kms
        .decrypt()
        .ciphertext_blob(Blob::new(bad))
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "InvalidCiphertextException");
    // Wrong KeyId.
    let e = kms
        .decrypt()
        .key_id(&other)
        .ciphertext_blob(blob.clone())
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "IncorrectKeyException");
    // Plaintext limit.
    kms.encrypt()
        .key_id(&id)
        .plaintext(Blob::new(vec![1u8; 4096]))
        .send()
        .await
        .unwrap();
    let e = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(vec![1u8; 4097]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");

    // Data keys.
    let dk = kms
        .generate_data_key()
        .key_id("alias/../bad")
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&dk), "NotFoundException");
    let dk = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes128)
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(dk.plaintext().unwrap().as_ref().len(), 16);
    let back = kms
        .decrypt()
        .ciphertext_blob(dk.ciphertext_blob().unwrap().clone())
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.plaintext().unwrap().as_ref(),
        dk.plaintext().unwrap().as_ref()
    );
    let dk = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(64)
        .send()
        .await
        .unwrap();
    assert_eq!(dk.plaintext().unwrap().as_ref().len(), 64);
    let e = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(32)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");
    let e = kms
        .generate_data_key()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");
    let e = kms
        .generate_data_key()
        .key_id(&id)
        .number_of_bytes(1025)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");
    let np = kms
        .generate_data_key_without_plaintext()
        .key_id("alias/aws/s3")
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    let back = kms
        .decrypt()
        .ciphertext_blob(np.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(back.plaintext().unwrap().as_ref().len(), 32);

    // ReEncrypt moves a blob to another key and context.
    let re = kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("purpose", "test")
        .source_encryption_context("tenant", "a")
        .destination_key_id(&other)
        .destination_encryption_context("moved", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(re.source_key_id(), Some(arn.as_str()));
    let d = kms
        .decrypt()
        .key_id(&other)
        .ciphertext_blob(re.ciphertext_blob().unwrap().clone())
        .encryption_context("moved", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext().unwrap().as_ref(), b"hello kms");

    // GenerateRandom.
    let r = kms
        .generate_random()
        .number_of_bytes(48)
        .send()
        .await
        .unwrap();
    assert_eq!(r.plaintext().unwrap().as_ref().len(), 48);
    let e = kms
        .generate_random()
        .number_of_bytes(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");
}

#[tokio::test]
async fn kms_key_states_are_enforced_for_the_api_and_for_s3_gets() {
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let s3 = srv.s3();
    let (id, arn) = new_key(&kms, "state").await;
    kms.create_alias()
        .alias_name("alias/state")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    s3.create_bucket().bucket("states").send().await.unwrap();
    let put = s3
        .put_object()
        .bucket("states")
        .key("obj")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/state")
        .body(ByteStream::from_static(b"stateful data"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.ssekms_key_id(), Some(arn.as_str()));
    let get = |s3: aws_sdk_s3::Client| async move {
        match s3.get_object().bucket("states").key("obj").send().await {
            Ok(o) => Ok(read_all(o).await),
            Err(e) => Err(code(&e)),
        }
    };
    assert_eq!(get(s3.clone()).await.unwrap(), b"stateful data");
    let blob = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob()
        .unwrap()
        .clone();

    // Disabled: API and S3 refuse; enabling restores both.
    kms.disable_key().key_id(&id).send().await.unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&KeyState::Disabled)
    );
    let e = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "DisabledException");
    let e = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "DisabledException");
    assert_eq!(get(s3.clone()).await.unwrap_err(), "KMS.DisabledException");
    kms.enable_key().key_id(&id).send().await.unwrap();
    assert_eq!(get(s3.clone()).await.unwrap(), b"stateful data");

    // Pending deletion: KMSInvalidState; cancel leaves it Disabled.
    let e = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(6)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");
    let sched = kms
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(sched.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(sched.pending_window_in_days(), Some(7));
    assert_eq!(sched.key_id(), Some(arn.as_str()));
    let e = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "KMSInvalidStateException");
    assert_eq!(
        get(s3.clone()).await.unwrap_err(),
        "KMS.KMSInvalidStateException"
    );
    let e = kms.enable_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(kms_code(&e), "KMSInvalidStateException");
    kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&KeyState::Disabled)
    );
    kms.enable_key().key_id(&id).send().await.unwrap();
    assert_eq!(get(s3.clone()).await.unwrap(), b"stateful data");

    // Crypto-shredding: schedule, pass the window on the test clock, and the object is gone.
    kms.schedule_key_deletion()
        .key_id("alias/state")
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    srv.clock.advance(7 * DAY + Duration::from_secs(60));
    assert_eq!(get(s3.clone()).await.unwrap_err(), "KMS.NotFoundException");
    let e = kms.describe_key().key_id(&id).send().await.unwrap_err();
    assert_eq!(kms_code(&e), "NotFoundException");
    let e = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "NotFoundException");
    let aliases = kms.list_aliases().send().await.unwrap();
    assert!(
        aliases
            .aliases()
            .iter()
            .all(|a| a.alias_name() != Some("alias/state"))
    );

    // Audit: the S3 GET that worked, the one refused while disabled, the shredding.
    let lines = audit_lines(&srv);
    let by_s3 = |l: &serde_json::Value| l["userIdentity"]["invokedBy"] == "s3.amazonaws.com";
    let key_of = |l: &serde_json::Value| l["requestParameters"]["keyId"].clone();
    let s3_ok = lines
        .iter()
        .filter(|l| by_s3(l) && l.get("errorCode").is_none() && key_of(l) == arn.as_str())
        .count();
    assert!(s3_ok >= 4, "PUT + three GETs: {lines:#?}");
    assert!(lines.iter().any(|l| by_s3(l)
        && l["eventName"] == "Decrypt"
        && l["errorCode"] == "DisabledException"
        && l["userIdentity"]["accessKeyId"] == ACCESS_KEY
        && l["requestParameters"]["encryptionContext"]["aws:s3:arn"] == "arn:aws:s3:::states/obj"));
    assert!(lines.iter().any(|l| !by_s3(l)
        && l["eventType"] == "AwsApiCall"
        && l["eventName"] == "DisableKey"
        && key_of(l) == arn.as_str()
        && l["requestID"].is_string()
        && l["sourceIPAddress"] == "127.0.0.1"));
    assert!(lines.iter().any(|l| l["eventType"] == "AwsServiceEvent"
        && l["eventName"] == "DeleteKey"
        && key_of(l) == arn.as_str()));
    let text = std::fs::read_to_string(srv.data_dir().join("audit.log")).unwrap();
    assert!(!text.contains("stateful data"));
    assert!(!text.contains(SECRET_KEY));
}

#[tokio::test]
async fn kms_rotation_automatic_and_on_demand_keeps_old_data_readable() {
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let s3 = srv.s3();
    let (id, arn) = new_key(&kms, "rotating").await;
    s3.create_bucket().bucket("rot").send().await.unwrap();
    s3.put_object()
        .bucket("rot")
        .key("old")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&id)
        .body(ByteStream::from_static(b"before rotation"))
        .send()
        .await
        .unwrap();
    let old = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"v1".to_vec()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob()
        .unwrap()
        .clone();

    let st = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!st.key_rotation_enabled());
    let e = kms
        .enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(30)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");
    kms.enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let st = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(st.key_rotation_enabled());
    assert_eq!(st.rotation_period_in_days(), Some(90));
    assert!(st.next_rotation_date().is_some());

    srv.clock.advance(91 * DAY);
    let r = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(r.rotations().len(), 1);
    assert_eq!(
        r.rotations()[0].rotation_type(),
        Some(&RotationType::Automatic)
    );
    assert_eq!(r.rotations()[0].key_id(), Some(arn.as_str()));

    let od = kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    assert_eq!(od.key_id(), Some(arn.as_str()));
    let r = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(r.rotations().len(), 2);
    assert_eq!(
        r.rotations()[1].rotation_type(),
        Some(&RotationType::OnDemand)
    );
    let r1 = kms
        .list_key_rotations()
        .key_id(&id)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert!(r1.truncated());

    // Old material still decrypts, KMS blobs and S3 objects alike; new data uses the newest.
    let d = kms.decrypt().ciphertext_blob(old).send().await.unwrap();
    assert_eq!(d.plaintext().unwrap().as_ref(), b"v1");
    let o = s3
        .get_object()
        .bucket("rot")
        .key("old")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(o).await, b"before rotation");
    s3.put_object()
        .bucket("rot")
        .key("new")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&id)
        .body(ByteStream::from_static(b"after rotation"))
        .send()
        .await
        .unwrap();
    let o = s3
        .get_object()
        .bucket("rot")
        .key("new")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(o).await, b"after rotation");

    kms.disable_key_rotation().key_id(&id).send().await.unwrap();
    let st = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!st.key_rotation_enabled());
}

#[tokio::test]
async fn kms_aws_managed_key_refuses_lifecycle_changes_and_service_key_is_hidden() {
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let s3 = srv.s3();
    s3.create_bucket().bucket("managed").send().await.unwrap();
    s3.put_object()
        .bucket("managed")
        .key("sse-s3")
        .body(ByteStream::from_static(b"service key data"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("managed")
        .key("sse-kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from_static(b"aws managed data"))
        .send()
        .await
        .unwrap();
    let d = kms
        .describe_key()
        .key_id("alias/aws/s3")
        .send()
        .await
        .unwrap();
    let m = d.key_metadata().unwrap();
    assert_eq!(m.key_manager(), Some(&KeyManagerType::Aws));
    let aws_id = m.key_id().to_string();
    // Only the AWS-managed key is listed: the SSE-S3 service key is not.
    let keys = kms.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.keys()[0].key_id(), Some(aws_id.as_str()));

    let e = kms.disable_key().key_id(&aws_id).send().await.unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    let e = kms
        .schedule_key_deletion()
        .key_id("alias/aws/s3")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    let e = kms
        .rotate_key_on_demand()
        .key_id(&aws_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    let e = kms
        .delete_alias()
        .alias_name("alias/aws/s3")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    let e = kms
        .create_alias()
        .alias_name("alias/mine")
        .target_key_id(&aws_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    let e = kms
        .put_key_policy()
        .key_id(&aws_id)
        .policy_name("default")
        .policy("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");

    // The SSE-S3 object's wrapped data key names the service key: the API does not know it.
    let head = s3
        .head_object()
        .bucket("managed")
        .key("sse-s3")
        .send()
        .await
        .unwrap();
    let meta = head.metadata().cloned().unwrap_or_default();
    let b64 = meta
        .get("coffer-encrypted-data-key")
        .expect("SSE-S3 objects show their wrapped data key");
    {
        use base64::Engine;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let e = kms
            .decrypt()
            .ciphertext_blob(Blob::new(blob))
            .encryption_context("aws:s3:arn", "arn:aws:s3:::managed/sse-s3")
            .send()
            .await
            .unwrap_err();
        assert_eq!(kms_code(&e), "NotFoundException");
    }
    let o = s3
        .get_object()
        .bucket("managed")
        .key("sse-kms")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(o).await, b"aws managed data");
}

#[tokio::test]
async fn kms_tags_and_key_policies() {
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let (id, _) = new_key(&kms, "tagged").await;
    kms.tag_resource()
        .key_id(&id)
        .tags(tag("b", "2"))
        .tags(tag("a", "1"))
        .send()
        .await
        .unwrap();
    kms.tag_resource()
        .key_id(&id)
        .tags(tag("a", "one"))
        .send()
        .await
        .unwrap();
    let t = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    let got: Vec<(&str, &str)> = t
        .tags()
        .iter()
        .map(|t| (t.tag_key(), t.tag_value()))
        .collect();
    assert_eq!(got, [("a", "one"), ("b", "2")]);
    let e = kms
        .tag_resource()
        .key_id(&id)
        .tags(tag("aws:reserved", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "TagException");
    kms.untag_resource()
        .key_id(&id)
        .tag_keys("b")
        .send()
        .await
        .unwrap();
    let t = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    assert_eq!(t.tags().len(), 1);

    let p = kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert!(
        p.policy()
            .unwrap()
            .contains("arn:aws:iam::000000000000:root")
    );
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"kms:*","Resource":"*"}]}"#;
    kms.put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy(policy)
        .send()
        .await
        .unwrap();
    let p = kms
        .get_key_policy()
        .key_id(&id)
        .policy_name("default")
        .send()
        .await
        .unwrap();
    assert_eq!(p.policy(), Some(policy));
    let e = kms
        .put_key_policy()
        .key_id(&id)
        .policy_name("default")
        .policy("not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "MalformedPolicyDocumentException");
    let l = kms.list_key_policies().key_id(&id).send().await.unwrap();
    assert_eq!(l.policy_names(), ["default"]);
}

#[tokio::test]
async fn kms_import_key_material_round_trip_and_expired_token() {
    use rsa::pkcs8::DecodePublicKey;
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let out = kms
        .create_key()
        .origin(OriginType::External)
        .description("byok")
        .send()
        .await
        .unwrap();
    let m = out.key_metadata().unwrap();
    assert_eq!(m.key_state(), Some(&KeyState::PendingImport));
    assert_eq!(m.origin(), Some(&OriginType::External));
    let id = m.key_id().to_string();
    let e = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "KMSInvalidStateException");

    let material = [0x5Au8; 32];
    let params = |kms: aws_sdk_kms::Client, id: String| async move {
        kms.get_parameters_for_import()
            .key_id(id)
            .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
            .wrapping_key_spec(WrappingKeySpec::Rsa2048)
            .send()
            .await
            .unwrap()
    };
    let wrap = |public: &[u8]| {
        let pk = rsa::RsaPublicKey::from_public_key_der(public).unwrap();
        pk.encrypt(
            &mut rsa::rand_core::OsRng,
            rsa::Oaep::new::<rsa::sha2::Sha256>(),
            &material,
        )
        .unwrap()
    };
    // An expired token is refused.
    let p = params(kms.clone(), id.clone()).await;
    assert!(p.parameters_valid_to().is_some());
    srv.clock.advance(DAY + Duration::from_secs(60));
    let e = kms
        .import_key_material()
        .key_id(&id)
        .import_token(p.import_token().unwrap().clone())
        .encrypted_key_material(Blob::new(wrap(p.public_key().unwrap().as_ref())))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ExpiredImportTokenException");

    let p = params(kms.clone(), id.clone()).await;
    kms.import_key_material()
        .key_id(&id)
        .import_token(p.import_token().unwrap().clone())
        .encrypted_key_material(Blob::new(wrap(p.public_key().unwrap().as_ref())))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&KeyState::Enabled)
    );
    assert_eq!(
        d.key_metadata().unwrap().expiration_model(),
        Some(&ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    // S3 objects under the imported key read while it has material, not after it is deleted.
    let s3 = srv.s3();
    s3.create_bucket().bucket("byok").send().await.unwrap();
    s3.put_object()
        .bucket("byok")
        .key("obj")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&id)
        .body(ByteStream::from_static(b"byok object"))
        .send()
        .await
        .unwrap();
    let o = s3
        .get_object()
        .bucket("byok")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(o).await, b"byok object");
    let enc = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"imported".to_vec()))
        .send()
        .await
        .unwrap();
    let dec = kms
        .decrypt()
        .ciphertext_blob(enc.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"imported");
    // Rotation is not for imported keys; deleting the material makes the key PendingImport.
    let e = kms
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "UnsupportedOperationException");
    kms.delete_imported_key_material()
        .key_id(&id)
        .send()
        .await
        .unwrap();
    let e = kms
        .decrypt()
        .ciphertext_blob(enc.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "KMSInvalidStateException");
    let e = s3
        .get_object()
        .bucket("byok")
        .key("obj")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMS.KMSInvalidStateException");
    // Parameters for an AWS_KMS key are refused.
    let (own, _) = new_key(&kms, "own").await;
    let e = kms
        .get_parameters_for_import()
        .key_id(own)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "UnsupportedOperationException");
}

#[tokio::test]
async fn kms_wrong_credentials_are_refused_with_aws_exceptions() {
    let srv = TestServer::start().await;
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(REGION))
        .endpoint_url(srv.endpoint())
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            ACCESS_KEY, "wrong", None, None, "test",
        ))
        .build();
    let bad = aws_sdk_kms::Client::from_conf(conf);
    let e = bad.list_keys().send().await.unwrap_err();
    assert_eq!(kms_code(&e), "InvalidSignatureException");
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(REGION))
        .endpoint_url(srv.endpoint())
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "AKIDUNKNOWN",
            SECRET_KEY,
            None,
            None,
            "test",
        ))
        .build();
    let e = aws_sdk_kms::Client::from_conf(conf)
        .list_keys()
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "UnrecognizedClientException");
}

/// A raw KMS request over a fresh connection, signed with SigV4 (service `kms`) when `sign`.
async fn raw_kms(
    srv: &TestServer,
    target: &str,
    body: &[u8],
    sign: bool,
) -> (u16, http::HeaderMap, serde_json::Value) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sigv4};
    use aws_sigv4::sign::v4;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = format!("{}/", srv.endpoint());
    let mut req = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("host", srv.addr.to_string())
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .body(body.to_vec())
        .unwrap();
    if sign {
        let identity =
            aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "t").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("kms")
            .time(coffer::clock::Clock::now(&*srv.clock))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let signable = SignableRequest::new(
            "POST",
            url.clone(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sigv4(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut req);
    }
    let mut wire = format!(
        "POST / HTTP/1.1\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in req.headers() {
        wire.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    wire.push_str("\r\n");
    let mut s = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    s.write_all(wire.as_bytes()).await.unwrap();
    // A refused oversized body may be cut short by the server; the answer is what matters.
    let _ = s.write_all(body).await;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut headers = http::HeaderMap::new();
    for l in lines {
        let (k, v) = l.split_once(':').unwrap();
        headers.insert(
            http::HeaderName::from_bytes(k.trim().as_bytes()).unwrap(),
            http::HeaderValue::from_str(v.trim()).unwrap(),
        );
    }
    let json = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.to_string()))
    };
    (status, headers, json)
}

#[tokio::test]
async fn kms_protocol_errors_on_the_wire() {
    let srv = TestServer::start().await;
    // A good request: JSON 1.1 content type, a request id, key ARN in the answer.
    let (st, h, v) = raw_kms(
        &srv,
        "TrentService.CreateKey",
        br#"{"Description":"raw"}"#,
        true,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(h["content-type"], "application/x-amz-json-1.1");
    assert_eq!(h["x-amzn-requestid"].len(), 16);
    let arn = v["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    assert!(v["KeyMetadata"]["CreationDate"].is_number());
    let cases: [(&str, &[u8], u16, &str); 7] = [
        (
            "TrentService.NoSuchThing",
            b"{}",
            400,
            "UnknownOperationException",
        ),
        (
            "TrentService.DescribeKey",
            b"{not json",
            400,
            "SerializationException",
        ),
        (
            "TrentService.DescribeKey",
            b"{}",
            400,
            "ValidationException",
        ),
        (
            "TrentService.DescribeKey",
            br#"{"KeyId":""}"#,
            400,
            "ValidationException",
        ),
        (
            "TrentService.Encrypt",
            br#"{"KeyId":"alias/x","Plaintext":"***"}"#,
            400,
            "SerializationException",
        ),
        (
            "TrentService.DescribeKey",
            br#"{"KeyId":"not-a-key"}"#,
            400,
            "NotFoundException",
        ),
        (
            "TrentService.ListKeys",
            br#"{"Limit":0}"#,
            400,
            "ValidationException",
        ),
    ];
    for (target, body, status, ty) in cases {
        let (st, h, v) = raw_kms(&srv, target, body, true).await;
        assert_eq!(
            (st, v["__type"].as_str()),
            (status, Some(ty)),
            "{target} {v}"
        );
        assert!(v["message"].is_string());
        assert!(h.contains_key("x-amzn-requestid"));
    }
    // Unsigned: refused before anything runs.
    let (st, _, v) = raw_kms(&srv, "TrentService.ListKeys", b"{}", false).await;
    assert_eq!(
        (st, v["__type"].as_str()),
        (403, Some("MissingAuthenticationTokenException"))
    );
    // A body over the limit is refused.
    let big = format!(
        r#"{{"KeyId":"{arn}","Description":"{}"}}"#,
        "x".repeat(coffer::api::kms::MAX_BODY_LEN)
    );
    let (st, _, v) = raw_kms(
        &srv,
        "TrentService.UpdateKeyDescription",
        big.as_bytes(),
        true,
    )
    .await;
    assert_eq!(
        (st, v["__type"].as_str()),
        (413, Some("ValidationException"))
    );
    // An empty success body for operations without output.
    let (st, _, v) = raw_kms(
        &srv,
        "TrentService.DisableKey",
        format!(r#"{{"KeyId":"{arn}"}}"#).as_bytes(),
        true,
    )
    .await;
    assert_eq!((st, v), (200, serde_json::Value::Null));
}

#[tokio::test]
async fn kms_key_changes_survive_a_restart_and_shredding_still_happens_after_it() {
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let s3 = srv.s3();
    let (id, arn) = new_key(&kms, "durable").await;
    s3.create_bucket().bucket("durable").send().await.unwrap();
    s3.put_object()
        .bucket("durable")
        .key("obj")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&arn)
        .body(ByteStream::from_static(b"durable data"))
        .send()
        .await
        .unwrap();
    kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    kms.disable_key().key_id(&id).send().await.unwrap();
    let lines_before = audit_lines(&srv).len();

    let srv = srv.restart().await;
    let kms = srv.kms();
    let s3 = srv.s3();
    let d = kms.describe_key().key_id(&id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&KeyState::Disabled)
    );
    let e = s3
        .get_object()
        .bucket("durable")
        .key("obj")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMS.DisabledException");
    kms.enable_key().key_id(&id).send().await.unwrap();
    let o = s3
        .get_object()
        .bucket("durable")
        .key("obj")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(o).await, b"durable data");
    let r = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(r.rotations().len(), 1);
    kms.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(30)
        .send()
        .await
        .unwrap();

    let srv = srv.restart().await;
    srv.clock.advance(30 * DAY + Duration::from_secs(1));
    let e = srv
        .s3()
        .get_object()
        .bucket("durable")
        .key("obj")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMS.NotFoundException");
    // The audit log is appended to across restarts, never truncated.
    assert!(audit_lines(&srv).len() > lines_before + 5);
}
