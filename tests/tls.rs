//! HTTPS: aws-sdk-s3 over TLS trusting the generated certificate (streaming uploads included),
//! HTTP/2 by ALPN, and the real binary with `--tls-self-signed` and `--listen-http`, whose
//! certificate is reused on restart.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

/// aws-sdk-s3 (default checksum behaviour) trusting only `ca_pem`.
pub(crate) fn https_client(endpoint: &str, ca_pem: &[u8]) -> aws_sdk_s3::Client {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_pem_certificate(ca_pem.to_vec()))
                .build()
                .unwrap(),
        )
        .build_https();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .force_path_style(true)
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An in-process HTTPS server with a generated certificate; returns (https addr, CA pem, stop).
pub(crate) async fn start_tls() -> (
    std::net::SocketAddr,
    Vec<u8>,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = test_config(dir.path());
    let (tls_cfg, cert) = coffer::server::tls::load(&coffer::server::tls::TlsSource::SelfSigned {
        data_dir: dir.path().to_path_buf(),
    })
    .unwrap();
    let prepared = coffer::app::prepare(&cfg, None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(coffer::server::run_with_tls(
        listener,
        prepared.app,
        Some(tls_cfg),
        async {
            let _ = rx.await;
        },
        Duration::from_secs(2),
    ));
    (addr, std::fs::read(cert).unwrap(), tx, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_over_https_with_the_generated_ca() {
    let (addr, ca, _stop, _dir) = start_tls().await;
    for host in ["127.0.0.1", "localhost"] {
        let s3 = https_client(&format!("https://{host}:{}", addr.port()), &ca);
        let bucket = format!("tls-{}", host.replace('.', "-"));
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let data = pattern(3 * 1024 * 1024 + 5, 31);
        s3.put_object()
            .bucket(&bucket)
            .key("mem")
            .body(data.clone().into())
            .send()
            .await
            .unwrap();
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), &data).unwrap();
        s3.put_object()
            .bucket(&bucket)
            .key("stream")
            .body(ByteStream::from_path(f.path()).await.unwrap())
            .send()
            .await
            .unwrap();
        for k in ["mem", "stream"] {
            let got = read_all(s3.get_object().bucket(&bucket).key(k).send().await.unwrap()).await;
            assert!(got == data, "{host} {k}");
        }
    }
    // A client that does not trust the CA is refused at the handshake.
    let other = https_client(&format!("https://127.0.0.1:{}", addr.port()), b"");
    assert!(other.list_buckets().send().await.is_err());
}

/// ALPN offers h2 and the server picks it; a request over HTTP/2 is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_by_alpn() {
    let (addr, ca, _stop, _dir) = start_tls().await;
    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // The HTTP/2 preface and an empty SETTINGS frame: the server answers with SETTINGS.
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut head = [0u8; 9];
    tls.read_exact(&mut head).await.unwrap();
    assert_eq!(head[3], 0x04, "a SETTINGS frame");
}

/// Creates `bucket` and PUTs `body` over HTTPS at `endpoint` (trusting `ca`), then reads it back
/// over the plain listener `http` of the same server.
async fn put_over_https_read_over_http(
    endpoint: &str,
    ca: &[u8],
    http: &str,
    bucket: &str,
    body: &[u8],
) {
    let s3 = https_client(endpoint, ca);
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_object()
        .bucket(bucket)
        .key("k")
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap();
    let plain = s3_client(&format!("http://{http}"), ACCESS_KEY, SECRET_KEY);
    let got = read_all(
        plain
            .get_object()
            .bucket(bucket)
            .key("k")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, body);
}

/// The binary: `--tls-self-signed --listen-http`; both listeners serve the same store, and the
/// certificate survives a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_self_signed_and_plain_listener_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_string();
    let port = |l: std::net::TcpListener| l.local_addr().unwrap().port();
    let http_port = port(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let http = format!("127.0.0.1:{http_port}");
    let args = [
        "--data-dir",
        &data_dir,
        "--listen",
        "127.0.0.1:0",
        "--tls-self-signed",
        "--listen-http",
        &http,
    ];
    let envs = [
        ("COFFER_ACCESS_KEY", ACCESS_KEY),
        ("COFFER_SECRET_KEY", SECRET_KEY),
    ];
    let mut srv = BinaryServer::start(&args, &envs).expect("server starts");
    assert!(srv.endpoint.starts_with("https://"), "{}", srv.stdout);
    let cert_path = dir.path().join("tls/cert.pem");
    let ca = std::fs::read(&cert_path).unwrap();
    put_over_https_read_over_http(&srv.endpoint, &ca, &http, "both", b"over https").await;
    assert_eq!(srv.terminate(), Some(0));

    let srv2 = BinaryServer::start(&args, &envs).expect("server restarts");
    assert_eq!(std::fs::read(&cert_path).unwrap(), ca, "certificate reused");
    let s3 = https_client(&srv2.endpoint, &ca);
    let got = read_all(
        s3.get_object()
            .bucket("both")
            .key("k")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, b"over https");

    // --listen-http without TLS is refused with a clear message.
    let err = BinaryServer::start(
        &["--data-dir", &data_dir, "--listen-http", "127.0.0.1:0"],
        &envs,
    )
    .err()
    .unwrap();
    assert!(err.contains("--listen-http"), "{err}");
}

/// The binary with `[tls]` in its config file instead of flags: HTTPS with the generated
/// certificate and the plain listener beside it; a half-configured `[tls]` stops the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_takes_tls_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let http_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = format!("127.0.0.1:{http_port}");
    let config = dir.path().join("coffer.toml");
    std::fs::write(
        &config,
        format!("[tls]\nself_signed = true\nlisten_http = \"{http}\"\n"),
    )
    .unwrap();
    let (config, data_dir) = (config.to_str().unwrap(), data_dir.to_str().unwrap());
    let args = [
        "--config",
        config,
        "--data-dir",
        data_dir,
        "--listen",
        "127.0.0.1:0",
    ];
    let envs = [
        ("COFFER_ACCESS_KEY", ACCESS_KEY),
        ("COFFER_SECRET_KEY", SECRET_KEY),
    ];
    let mut srv = BinaryServer::start(&args, &envs).expect("server starts");
    assert!(srv.endpoint.starts_with("https://"), "{}", srv.stdout);
    let ca = std::fs::read(dir.path().join("data/tls/cert.pem")).unwrap();
    put_over_https_read_over_http(&srv.endpoint, &ca, &http, "conf", b"tls from the file").await;
    assert_eq!(srv.terminate(), Some(0));

    let half = dir.path().join("half.toml");
    std::fs::write(&half, "[tls]\ncert_file = \"cert.pem\"\n").unwrap();
    let err = BinaryServer::start(
        &["--config", half.to_str().unwrap(), "--data-dir", data_dir],
        &envs,
    )
    .err()
    .unwrap();
    assert!(err.contains("cert_file and key_file go together"), "{err}");
}
