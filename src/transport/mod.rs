//! What the protocol layers and the server share, so neither imports the other: response
//! bodies, the facts the server attaches to each request (peer address, TLS), and where the
//! TLS certificate comes from (the config names it, the server loads it).

pub mod body;
pub mod client;

use std::path::{Path, PathBuf};

/// Request extension: the request arrived over TLS.
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// Request extension: the client's address.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// PEM files: the certificate chain and its private key.
    Files { cert: PathBuf, key: PathBuf },
    /// Generated once into `DATA_DIR/tls/`, reused afterwards.
    SelfSigned { data_dir: PathBuf },
}

/// The files `--tls-self-signed` uses under `data_dir`.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}
