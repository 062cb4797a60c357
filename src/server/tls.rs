//! HTTPS: a rustls server configuration from PEM files or from a generated certificate.
//!
//! The crypto provider is chosen here, explicitly (`ring`), and handed to the config builder:
//! rustls panics on `ServerConfig::builder()` when more than one provider is compiled in and
//! none was installed process-wide, which is the case in test builds (the AWS SDK brings
//! aws-lc-rs). ALPN offers `h2` then `http/1.1`; hyper-util's auto builder serves either.
//!
//! `--tls-self-signed` makes a small private CA and a server certificate it signs, for
//! `localhost` and `127.0.0.1`, and writes `DATA_DIR/tls/cert.pem` (the server certificate
//! followed by the CA certificate: the chain the server presents, and a bundle clients can pass
//! as `--ca-bundle`) and `DATA_DIR/tls/key.pem` (0600). Later starts reuse both files, so
//! clients keep trusting the same bundle. The CA's private key is never written: nothing can
//! issue more certificates under it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// ALPN protocols offered, most preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];
/// Names the generated certificate is valid for.
pub const SELF_SIGNED_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];
/// Days the generated certificates are valid for.
pub const SELF_SIGNED_DAYS: i64 = 825;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    #[error("invalid TLS certificate or key: {0}")]
    Config(String),
}

pub use crate::transport::{TlsSource, self_signed_paths};

/// The server configuration for `source`, and the certificate file (for the banner).
pub fn load(source: &TlsSource) -> Result<(Arc<ServerConfig>, PathBuf), TlsError> {
    let (cert, key) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned { data_dir } => ensure_self_signed(data_dir)?,
    };
    let certs = read_certs(&cert)?;
    let key_der = read_key(&key)?;
    Ok((server_config(certs, key_der)?, cert))
}

/// A rustls server config with the ring provider and ALPN h2 + http/1.1.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_path_buf(),
            message: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // The message of a PEM error names the problem, never the key's bytes.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Pem {
        path: path.to_path_buf(),
        message: format!("no usable private key: {e}"),
    })
}

/// Generates the certificate and key under `data_dir/tls/` unless both exist already.
pub fn ensure_self_signed(data_dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = self_signed_paths(data_dir);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let (cert_pem, key_pem) = generate()?;
    let dir = cert.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write_private(&key, key_pem.as_bytes())?;
    std::fs::write(&cert, cert_pem).map_err(|source| TlsError::Write {
        path: cert.clone(),
        source,
    })?;
    Ok((cert, key))
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let err = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(data).map_err(err)?;
    f.sync_all().map_err(err)
}

/// A private CA and a server certificate it signs: (chain PEM = server + CA, server key PEM).
fn generate() -> Result<(String, String), TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let g = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let now = time::OffsetDateTime::now_utc();
    let not_before = now - time::Duration::days(1);
    let not_after = now + time::Duration::days(SELF_SIGNED_DAYS);

    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Coffer local CA");
    dn.push(DnType::OrganizationName, "Coffer");
    ca.distinguished_name = dn;
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate().map_err(g)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(g)?;
    let issuer = Issuer::new(ca, ca_key);

    let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|s| s.to_string()).collect();
    let mut leaf = CertificateParams::new(names).map_err(g)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    leaf.distinguished_name = dn;
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::generate().map_err(g)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(g)?;
    Ok((
        format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        leaf_key.serialize_pem(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_generated_once_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let src = TlsSource::SelfSigned {
            data_dir: dir.path().to_path_buf(),
        };
        let (cfg, cert) = load(&src).unwrap();
        assert_eq!(cfg.alpn_protocols[0], b"h2");
        let first = std::fs::read(&cert).unwrap();
        assert_eq!(read_certs(&cert).unwrap().len(), 2, "server + CA");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let (_, key) = self_signed_paths(dir.path());
            let mode = std::fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        load(&src).unwrap();
        assert_eq!(std::fs::read(&cert).unwrap(), first, "reused on restart");
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a pem").unwrap();
        let src = TlsSource::Files {
            cert: junk.clone(),
            key: junk.clone(),
        };
        assert!(matches!(load(&src), Err(TlsError::Pem { .. })));
        let src = TlsSource::Files {
            cert: dir.path().join("missing.pem"),
            key: junk,
        };
        assert!(matches!(load(&src), Err(TlsError::Read { .. })));
    }
}
