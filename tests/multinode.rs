//! Several `coffer serve` processes over one PostgreSQL database and one SeaweedFS cluster
//! (master, three volume servers with `001` replication, filer, S3 gateway), all started by the
//! test itself on loopback (`tests/services/`). Skipped, with a printed reason, only where
//! PostgreSQL or SeaweedFS cannot be installed here.
//!
//! What it shows: any node reads, lists and heads what another acknowledged, at once; a
//! multipart upload created on one node gets parts on two others and completes on a fourth;
//! KMS rotation, disabling and deletion done through one node hold on the others at their next
//! request, and an IAM user made on one node signs on another within the refresh bound; aws-cli
//! and aws-sdk-rust share the nodes; a node killed with SIGKILL under load and a volume server
//! stopped lose no acknowledged object; a database restart under load is survived; no
//! plaintext marker (bodies, keys, metadata) is in SeaweedFS's files, no body marker in
//! PostgreSQL's; bad backend settings stop a node at start-up with an error that says which.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};

use crate::common::*;
use crate::services::{Postgres, SeaweedFs, postgres, seaweedfs};

const BUCKET: &str = "shared";
/// Plaintext markers: none may appear in a backend's files.
const BODY_MARKER: &[u8] = b"COFFER-PLAINTEXT-BODY-MARKER-7f3a";
const KEY_MARKER: &str = "coffer-plaintext-key-marker-91c2";
const META_MARKER: &str = "coffer-plaintext-meta-marker-5d08";

/// A body of `len` bytes that holds the body marker every 4 KiB.
fn marked_body(len: usize, seed: u64) -> Vec<u8> {
    let mut b = pattern(len, seed);
    let mut at = 0;
    while at + BODY_MARKER.len() <= len {
        b[at..at + BODY_MARKER.len()].copy_from_slice(BODY_MARKER);
        at += 4096;
    }
    b
}

/// What every node of one cluster shares: backends, root key, credentials.
struct Cluster {
    pg: &'static Postgres,
    sw: &'static SeaweedFs,
    db_url: String,
    dir: tempfile::TempDir,
    /// Upstream key prefix of this cluster's chunks.
    prefix: String,
}

impl Cluster {
    fn new(pg: &'static Postgres, sw: &'static SeaweedFs) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let key: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        std::fs::write(dir.path().join("root.key"), key).unwrap();
        Cluster {
            pg,
            sw,
            db_url: pg.fresh_database(),
            dir,
            prefix: format!("mn{:08x}/", rand::random::<u32>()),
        }
    }

    fn env(&self, node: usize) -> Vec<(String, String)> {
        let data = self.dir.path().join(format!("node{node}"));
        vec![
            (
                "COFFER_DATA_DIR".into(),
                data.to_string_lossy().into_owned(),
            ),
            ("COFFER_ROOT_KEY_FILE".into(), self.root_key_file()),
            ("COFFER_ACCESS_KEY".into(), ACCESS_KEY.into()),
            ("COFFER_SECRET_KEY".into(), SECRET_KEY.into()),
            ("COFFER_LOG_LEVEL".into(), "warn".into()),
            ("COFFER_METADATA_BACKEND".into(), "postgres".into()),
            ("COFFER_METADATA_URL".into(), self.db_url.clone()),
            ("COFFER_CHUNKS_BACKEND".into(), "s3".into()),
            ("COFFER_CHUNKS_ENDPOINT".into(), self.sw.endpoint()),
            ("COFFER_CHUNKS_BUCKET".into(), self.sw.bucket.clone()),
            (
                "COFFER_CHUNKS_ACCESS_KEY_ID".into(),
                self.sw.access_key.clone(),
            ),
            (
                "COFFER_CHUNKS_SECRET_ACCESS_KEY".into(),
                self.sw.secret_key.clone(),
            ),
        ]
    }

    fn root_key_file(&self) -> String {
        self.dir
            .path()
            .join("root.key")
            .to_string_lossy()
            .into_owned()
    }

    /// Starts node `n` with the shared settings, `extra` overriding them.
    fn start_with(&self, n: usize, extra: &[(&str, &str)]) -> Result<BinaryServer, String> {
        let mut env = self.env(n);
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push((k.to_string(), v.to_string()));
        }
        // The prefix has no env override: a config file carries it.
        let cfg = self.dir.path().join(format!("node{n}.toml"));
        std::fs::write(
            &cfg,
            format!("[storage.chunks]\nprefix = \"{}\"\n", self.prefix),
        )
        .unwrap();
        let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        BinaryServer::start(
            &[
                "--listen",
                "127.0.0.1:0",
                "--config",
                &cfg.to_string_lossy(),
            ],
            &refs,
        )
    }

    fn start(&self, n: usize) -> BinaryServer {
        self.start_with(n, &[])
            .unwrap_or_else(|e| panic!("node {n} did not start: {e}"))
    }
}

fn kms_client(endpoint: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

fn iam_client(endpoint: &str) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

async fn get_bytes(c: &aws_sdk_s3::Client, key: &str) -> Result<Vec<u8>, String> {
    let out = c
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .map_err(|e| code(&e))?;
    Ok(read_all(out).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_over_postgres_and_seaweedfs_are_interchangeable() {
    let (Some(pg), Some(sw)) = (postgres(), seaweedfs()) else {
        return;
    };
    let cluster = Cluster::new(pg, sw);
    let mut nodes: Vec<BinaryServer> = (0..3).map(|n| cluster.start(n)).collect();
    let s3: Vec<aws_sdk_s3::Client> = nodes
        .iter()
        .map(|n| s3_client(&n.endpoint, ACCESS_KEY, SECRET_KEY))
        .collect();
    s3[0].create_bucket().bucket(BUCKET).send().await.unwrap();

    // Read-after-write across nodes: PUT on one, HEAD, GET and LIST on the next at once.
    let sizes = [0usize, 1, 4096, 65_537, 1 << 20, 3 * (1 << 20) + 5];
    let mut written: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (i, size) in sizes.iter().enumerate() {
        let key = format!("raw/{KEY_MARKER}/{i}");
        let body = marked_body(*size, i as u64);
        let mut put = s3[i % 3]
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .metadata("note", META_MARKER)
            .body(ByteStream::from(body.clone()));
        if i % 2 == 1 {
            put = put.server_side_encryption(ServerSideEncryption::AwsKms);
        }
        put.send().await.unwrap();
        let next = &s3[(i + 1) % 3];
        let head = next
            .head_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(*size as i64));
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("note"))
                .map(String::as_str),
            Some(META_MARKER)
        );
        assert_eq!(
            get_bytes(next, &key).await.unwrap(),
            body,
            "{key} via node {}",
            (i + 1) % 3
        );
        let listed = s3[(i + 2) % 3]
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("raw/")
            .send()
            .await
            .unwrap();
        assert!(
            listed
                .contents()
                .iter()
                .any(|o| o.key() == Some(key.as_str()))
        );
        written.insert(key, body);
    }
    // A range read on a third node.
    let big = format!("raw/{KEY_MARKER}/5");
    let r = s3[2]
        .get_object()
        .bucket(BUCKET)
        .key(&big)
        .range("bytes=1048570-2097160")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(r).await, written[&big][1_048_570..=2_097_160]);

    // Multipart: created on node 0, parts from nodes 1 and 2, completed on a fourth node.
    let key = format!("multipart/{KEY_MARKER}");
    let up = s3[0]
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(&key)
        .metadata("note", META_MARKER)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let p1 = marked_body(5 << 20, 11);
    let p2 = marked_body(1 << 20, 12);
    let mut parts = Vec::new();
    for (n, (node, body)) in [(1usize, &p1), (2, &p2)].into_iter().enumerate() {
        let r = s3[node]
            .upload_part()
            .bucket(BUCKET)
            .key(&key)
            .upload_id(&id)
            .part_number(n as i32 + 1)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    let fourth = cluster.start(3);
    let s3_fourth = s3_client(&fourth.endpoint, ACCESS_KEY, SECRET_KEY);
    let listed = s3_fourth
        .list_parts()
        .bucket(BUCKET)
        .key(&key)
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 2);
    s3_fourth
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(&key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let whole = [p1.clone(), p2.clone()].concat();
    for c in &s3 {
        assert_eq!(get_bytes(c, &key).await.unwrap(), whole);
    }
    written.insert(key, whole);
    drop(fourth);

    kms_holds_on_every_node(&nodes, &s3).await;
    iam_user_made_on_one_node_signs_on_another(&nodes).await;
    aws_cli_and_the_sdk_share_the_nodes(&nodes, &s3, &mut written).await;
    let acked = kill_a_node_and_a_volume_server_under_load(&cluster, &mut nodes, &s3).await;
    written.extend(acked);
    database_restart_under_load(&cluster, &s3, &mut written).await;

    // Every acknowledged object, through every live node, byte for byte.
    for (key, body) in &written {
        for (n, c) in s3.iter().enumerate() {
            if n == 1 {
                continue; // killed above
            }
            assert_eq!(
                &get_bytes(c, key).await.unwrap(),
                body,
                "{key} via node {n}"
            );
        }
    }
    println!(
        "multinode: {} acknowledged objects read back through every live node",
        written.len()
    );

    // The scan finds a marker where there is one.
    let probe = tempfile::tempdir().unwrap();
    std::fs::write(probe.path().join("f"), marked_body(10_000, 1)).unwrap();
    assert_eq!(scan_for(probe.path(), &[BODY_MARKER]).len(), 1);
    let hits = scan_for(
        &sw.dir,
        &[BODY_MARKER, KEY_MARKER.as_bytes(), META_MARKER.as_bytes()],
    );
    assert!(hits.is_empty(), "plaintext in SeaweedFS's files: {hits:?}");
    let hits = scan_for(&pg.dir.join("data"), &[BODY_MARKER]);
    assert!(
        hits.is_empty(),
        "body plaintext in PostgreSQL's files: {hits:?}"
    );
    drop(nodes);

    // `coffer verify` over the same backends: every object decrypts against its checksums
    // (streams the SIGKILL left in flight are reported as orphans, not failures).
    let cfg = cluster.dir.path().join("node0.toml");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"));
    cmd.arg("verify").arg("--config").arg(&cfg);
    for (k, v) in cluster.env(0) {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains(" 0 failed"), "verify: {text}");
    assert!(!text.contains("FAIL "), "verify: {text}");
    println!("multinode: {}", text.lines().last().unwrap_or_default());
}

/// A key made, used, rotated, disabled and deleted through different nodes: each change holds
/// on the others at their next request.
async fn kms_holds_on_every_node(nodes: &[BinaryServer], s3: &[aws_sdk_s3::Client]) {
    let kms: Vec<aws_sdk_kms::Client> = nodes.iter().map(|n| kms_client(&n.endpoint)).collect();
    let key = kms[0].create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    let put = |node: usize, name: &str| {
        s3[node]
            .put_object()
            .bucket(BUCKET)
            .key(name)
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&key_id)
            .body(ByteStream::from(marked_body(70_000, 3)))
            .send()
    };
    put(1, "kms/a").await.unwrap();
    assert!(get_bytes(&s3[2], "kms/a").await.is_ok());

    kms[2]
        .rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    let rotations = kms[0]
        .list_key_rotations()
        .key_id(&key_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        rotations.rotations().len(),
        1,
        "node 0 sees node 2's rotation"
    );
    put(0, "kms/after-rotation").await.unwrap();
    assert!(
        get_bytes(&s3[1], "kms/a").await.is_ok(),
        "old objects still open"
    );

    kms[1].disable_key().key_id(&key_id).send().await.unwrap();
    let e = put(2, "kms/while-disabled")
        .await
        .expect_err("disabled on node 2 too");
    assert_eq!(code(&e), "KMS.DisabledException");
    let e = s3[0]
        .get_object()
        .bucket(BUCKET)
        .key("kms/a")
        .send()
        .await
        .err();
    assert_eq!(
        e.map(|e| code(&e)).as_deref(),
        Some("KMS.DisabledException")
    );
    kms[0].enable_key().key_id(&key_id).send().await.unwrap();
    put(2, "kms/enabled-again").await.unwrap();

    kms[0]
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let d = kms[1].describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(
        d.key_metadata().unwrap().key_state(),
        Some(&aws_sdk_kms::types::KeyState::PendingDeletion)
    );
    let e = put(2, "kms/pending-deletion")
        .await
        .expect_err("refused on node 2");
    assert_eq!(code(&e), "KMS.KMSInvalidStateException");
    for k in ["kms/a", "kms/after-rotation", "kms/enabled-again"] {
        s3[0]
            .delete_object()
            .bucket(BUCKET)
            .key(k)
            .send()
            .await
            .unwrap();
    }
}

/// A user and access key made through node 0 sign on node 2 within the refresh bound.
async fn iam_user_made_on_one_node_signs_on_another(nodes: &[BinaryServer]) {
    let iam = iam_client(&nodes[0].endpoint);
    iam.create_user()
        .user_name("shared-user")
        .send()
        .await
        .unwrap();
    iam.attach_user_policy()
        .user_name("shared-user")
        .policy_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
        .send()
        .await
        .unwrap();
    let k = iam
        .create_access_key()
        .user_name("shared-user")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let other = s3_client(&nodes[2].endpoint, k.access_key_id(), k.secret_access_key());
    let started = Instant::now();
    loop {
        match other.list_objects_v2().bucket(BUCKET).send().await {
            Ok(_) => break,
            Err(e) if started.elapsed() < Duration::from_secs(5) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("node 2 never learned node 0's user: {}", code(&e)),
        }
    }
    println!(
        "multinode: node 2 accepted node 0's new key after {:?}",
        started.elapsed()
    );
    // Its policy holds there too: read-only.
    let e = other
        .put_object()
        .bucket(BUCKET)
        .key("denied")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("read-only user");
    assert_eq!(code(&e), "AccessDenied");
}

/// aws-cli uploads through one node and lists and downloads through another.
async fn aws_cli_and_the_sdk_share_the_nodes(
    nodes: &[BinaryServer],
    s3: &[aws_sdk_s3::Client],
    written: &mut BTreeMap<String, Vec<u8>>,
) {
    let venv = crate::cli::python_env();
    let dir = tempfile::tempdir().unwrap();
    let body = marked_body(2 * (1 << 20) + 17, 21);
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, &body).unwrap();
    let aws = |endpoint: &str, args: &[&str]| {
        let out = std::process::Command::new(venv.join("bin/aws"))
            .arg("--endpoint-url")
            .arg(endpoint)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("running aws");
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let key = format!("cli/{KEY_MARKER}.bin");
    let target = format!("s3://{BUCKET}/{key}");
    // Above aws-cli's 8 MiB threshold it would upload in parts; this one is a single PUT.
    aws(
        &nodes[0].endpoint,
        &["s3", "cp", &file.to_string_lossy(), &target],
    );
    let listing = aws(
        &nodes[2].endpoint,
        &["s3", "ls", &format!("s3://{BUCKET}/cli/")],
    );
    assert!(listing.contains(&format!("{KEY_MARKER}.bin")), "{listing}");
    let back = dir.path().join("back.bin");
    aws(
        &nodes[1].endpoint,
        &["s3", "cp", &target, &back.to_string_lossy()],
    );
    assert_eq!(std::fs::read(&back).unwrap(), body);
    assert_eq!(get_bytes(&s3[2], &key).await.unwrap(), body);
    written.insert(key, body);
}

/// Writers spread over nodes 0..2; node 1 is killed with SIGKILL mid-load and a SeaweedFS
/// volume server is stopped. Returns what was acknowledged.
async fn kill_a_node_and_a_volume_server_under_load(
    cluster: &Cluster,
    nodes: &mut [BinaryServer],
    s3: &[aws_sdk_s3::Client],
) -> BTreeMap<String, Vec<u8>> {
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..6usize {
        let clients = s3.to_vec();
        let acked = acked.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let key = format!("load/{w}/{i}");
                let size = [100usize, 70_000, 300_000][(i % 3) as usize];
                let body = marked_body(size, w as u64 * 1000 + i);
                let node = (w + i as usize) % clients.len();
                let r = clients[node]
                    .put_object()
                    .bucket(BUCKET)
                    .key(&key)
                    .body(ByteStream::from(body.clone()))
                    .send()
                    .await;
                if r.is_ok() {
                    acked.lock().unwrap().insert(key, body);
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    nodes[1].kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.sw.stop_volume(1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 30,
        "the load acknowledged only {} PUTs",
        acked.len()
    );
    // With a volume server down, everything acknowledged still reads through nodes 0 and 2.
    for (key, body) in &acked {
        for n in [0, 2] {
            assert_eq!(
                &get_bytes(&s3[n], key).await.unwrap(),
                body,
                "{key} via node {n}"
            );
        }
    }
    println!(
        "multinode: {} PUTs acknowledged around a SIGKILL of node 1 and a stopped volume server",
        acked.len()
    );
    cluster.sw.restart_volume(1);
    acked
}

/// PostgreSQL stopped at once and started again while clients PUT through two nodes: requests
/// fail fast with a retryable error while it is down (never hang past the timeout), succeed
/// again once it is back, and nothing acknowledged is lost.
async fn database_restart_under_load(
    cluster: &Cluster,
    s3: &[aws_sdk_s3::Client],
    written: &mut BTreeMap<String, Vec<u8>>,
) {
    let no_retry = |c: &aws_sdk_s3::Client| {
        let conf = c
            .config()
            .to_builder()
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    };
    let clients = [no_retry(&s3[0]), no_retry(&s3[2])];
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut i = 0u64;
    let mut round = |phase: &'static str| {
        i += 1;
        let key = format!("dbrestart/{phase}/{i}");
        let body = marked_body(5000 + i as usize, 9000 + i);
        let c = clients[(i % 2) as usize].clone();
        async move {
            let started = Instant::now();
            let r = c
                .put_object()
                .bucket(BUCKET)
                .key(&key)
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            (key, body, r.map_err(|e| code(&e)), started.elapsed())
        }
    };
    for _ in 0..10 {
        let (key, body, r, _) = round("before").await;
        r.unwrap();
        written.insert(key, body);
    }
    cluster.pg.stop();
    for _ in 0..6 {
        let (key, body, r, took) = round("down").await;
        // The node's database deadline is 10 s; a refused connection answers sooner.
        assert!(took < Duration::from_secs(15), "a request hung {took:?}");
        match r {
            Ok(_) => {
                written.insert(key, body);
            }
            Err(c) => *codes.entry(c).or_default() += 1,
        }
    }
    cluster.pg.start();
    let back = Instant::now();
    let mut recovered = None;
    while back.elapsed() < Duration::from_secs(30) {
        let (key, body, r, _) = round("after").await;
        if r.is_ok() {
            written.insert(key, body);
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered = recovered.expect("no PUT succeeded within 30 s of the database's return");
    for _ in 0..10 {
        let (key, body, r, _) = round("after").await;
        r.unwrap();
        written.insert(key, body);
    }
    assert!(
        codes
            .keys()
            .all(|c| c == "ServiceUnavailable" || c == "InternalError"),
        "errors while the database was down: {codes:?}"
    );
    assert!(
        !codes.is_empty(),
        "no request failed while the database was down"
    );
    println!("multinode: database down: {codes:?}; first PUT through after {recovered:?}");
}

/// Files under `dir` (recursively) holding any of `needles`: (file, needle index).
fn scan_for(dir: &Path, needles: &[&[u8]]) -> Vec<(PathBuf, usize)> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut files = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() {
                let Ok(bytes) = std::fs::read(&p) else {
                    continue;
                };
                files += 1;
                for (i, n) in needles.iter().enumerate() {
                    if bytes.windows(n.len()).any(|w| w == *n) {
                        hits.push((p.clone(), i));
                    }
                }
            }
        }
    }
    assert!(files > 0, "nothing to scan under {}", dir.display());
    hits
}

/// Wrong database credentials, wrong upstream credentials and a missing upstream bucket stop
/// a node at start-up with an error that names the problem (and never the secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_backend_settings_are_start_up_errors() {
    let (Some(pg), Some(sw)) = (postgres(), seaweedfs()) else {
        return;
    };
    let cluster = Cluster::new(pg, sw);
    let wrong_db = format!(
        "postgres://coffer:wrong-db-secret@127.0.0.1:{}/postgres",
        pg.port
    );
    let cases: [(&str, &str, &str); 3] = [
        (
            "COFFER_METADATA_URL",
            wrong_db.as_str(),
            "password authentication failed",
        ),
        (
            "COFFER_CHUNKS_SECRET_ACCESS_KEY",
            "wrong-upstream-secret",
            "SignatureDoesNotMatch",
        ),
        (
            "COFFER_CHUNKS_BUCKET",
            "no-such-upstream-bucket",
            "NoSuchBucket",
        ),
    ];
    for (name, value, expect) in cases {
        let err = match cluster.start_with(0, &[(name, value)]) {
            Ok(_) => panic!("started with a bad {name}"),
            Err(e) => e,
        };
        assert!(err.contains(expect), "{name}: {err}");
        assert!(
            !err.contains("wrong-db-secret") && !err.contains("wrong-upstream-secret"),
            "{err}"
        );
    }
}
