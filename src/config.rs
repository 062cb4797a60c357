//! Typed configuration: defaults that work with zero configuration, a TOML file, and
//! environment overrides for the common settings. `config/coffer.example.toml` documents every
//! field; keep the two in step.
//!
//! Precedence, lowest to highest: built-in defaults, the config file, `COFFER_*` environment
//! variables, command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secret::SecretString;

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
pub const DEFAULT_DATA_DIR: &str = "./coffer-data";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub region: String,
    /// File holding the 32-byte root key as 64 hex characters. Unset: a dev key in the data dir.
    pub root_key_file: Option<PathBuf>,
    /// Base domains for virtual-host-style addressing (`bucket.DOMAIN`).
    pub vhost_domains: Vec<String>,
    pub credentials: Vec<CredentialConfig>,
    /// More accounts (and users of the default one): `[[accounts]]` with `[[accounts.users]]`.
    pub accounts: Vec<AccountConfig>,
    pub log: LogConfig,
    pub storage: StorageConfig,
    pub kms: KmsConfig,
    pub limits: LimitsConfig,
    pub tls: TlsConfig,
    /// Accept SSE-C (customer-provided keys) over plain HTTP. Local testing only: the key
    /// travels in the clear. AWS, and Coffer by default, refuse it.
    pub allow_sse_c_over_http: bool,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for CredentialConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialConfig")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter directive.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// sled page cache size, MiB.
    pub cache_capacity_mib: u64,
    /// Where records live: buckets, objects, uploads, KMS keys, IAM.
    pub metadata: MetadataConfig,
    /// Where ciphertext chunks live.
    pub chunks: ChunksConfig,
}

/// `[storage.metadata]`: `backend = "sled"` (default: the data directory's database) or
/// `"postgres"` (shared by several nodes).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataConfig {
    pub backend: MetadataBackend,
    /// `postgres://user:password@host:port/database` (env COFFER_METADATA_URL).
    pub url: Option<String>,
    /// Connections per node at most.
    pub pool_size: usize,
    /// Seconds one database call may take before the request fails with 503.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetadataBackend {
    #[default]
    Sled,
    Postgres,
}

/// `[storage.chunks]`: `backend = "sled"` (default) or `"s3"` (any S3-compatible store).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunksConfig {
    pub backend: ChunksBackend,
    /// `http://host:port` of the S3 API.
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Prepended to every upstream key.
    pub prefix: String,
    /// Upstream connections per node at most.
    pub connections: usize,
    /// Seconds one upstream call may take before the request fails with 503.
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChunksBackend {
    #[default]
    Sled,
    S3,
}

impl std::fmt::Debug for MetadataConfig {
    /// Never prints the URL: it carries the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataConfig")
            .field("backend", &self.backend)
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("pool_size", &self.pool_size)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl std::fmt::Debug for ChunksConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunksConfig")
            .field("backend", &self.backend)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("prefix", &self.prefix)
            .field("connections", &self.connections)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            backend: MetadataBackend::Sled,
            url: None,
            pool_size: 16,
            timeout_secs: 10,
        }
    }
}

impl Default for ChunksConfig {
    fn default() -> Self {
        ChunksConfig {
            backend: ChunksBackend::Sled,
            endpoint: None,
            bucket: None,
            region: DEFAULT_REGION.into(),
            access_key_id: None,
            secret_access_key: None,
            prefix: String::new(),
            connections: 64,
            timeout_secs: 30,
        }
    }
}

impl StorageConfig {
    /// Whether every record and chunk lives in the data directory's own database (so one
    /// process owns it), rather than in a backend other nodes may share.
    pub fn is_local(&self) -> bool {
        self.metadata.backend == MetadataBackend::Sled && self.chunks.backend == ChunksBackend::Sled
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let missing = |setting: &'static str| ConfigError::Invalid {
            setting,
            message: "must be set for this backend".into(),
        };
        if self.metadata.backend == MetadataBackend::Postgres && self.metadata.url.is_none() {
            return Err(missing("storage.metadata.url"));
        }
        if self.chunks.backend == ChunksBackend::S3 {
            let c = &self.chunks;
            for (setting, v) in [
                ("storage.chunks.endpoint", &c.endpoint),
                ("storage.chunks.bucket", &c.bucket),
                ("storage.chunks.access_key_id", &c.access_key_id),
                ("storage.chunks.secret_access_key", &c.secret_access_key),
            ] {
                if v.as_deref().is_none_or(str::is_empty) {
                    return Err(missing(setting));
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KmsConfig {
    /// The account id in key ARNs.
    pub account_id: String,
    /// Keys created on first start with fixed ids (never overwritten).
    pub keys: Vec<SeedKeyConfig>,
    /// The KMS audit log (JSON lines). Unset: `DATA_DIR/audit.log`.
    pub audit_log: Option<PathBuf>,
    /// Testing only: a file holding a number of seconds added to the KMS's clock (deletion
    /// windows, rotation periods, import expiry), re-read on every use, so a test driving the
    /// real binary can reach a deletion date. SigV4 keeps the real clock. Never set this in
    /// production.
    pub test_clock_offset_file: Option<PathBuf>,
}

/// HTTPS on `listen`. The `serve` flags `--tls-cert`/`--tls-key`, `--tls-self-signed` and
/// `--listen-http` replace these settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<PathBuf>,
    /// A certificate generated once into `DATA_DIR/tls/` and reused.
    pub self_signed: bool,
    /// With TLS on: also serve plain HTTP on this address.
    pub listen_http: Option<String>,
}

impl TlsConfig {
    /// Where the certificate comes from; `None` for plain HTTP. Call after `Config::validate`.
    pub fn source(&self, data_dir: &Path) -> Option<crate::transport::TlsSource> {
        use crate::transport::TlsSource;
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ if self.self_signed => Some(TlsSource::SelfSigned {
                data_dir: data_dir.to_path_buf(),
            }),
            _ => None,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: &str| ConfigError::Invalid {
            setting: "tls",
            message: message.into(),
        };
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(invalid("cert_file and key_file go together"));
        }
        if self.self_signed && self.cert_file.is_some() {
            return Err(invalid(
                "self_signed and cert_file/key_file exclude each other",
            ));
        }
        if let Some(addr) = &self.listen_http {
            if self.cert_file.is_none() && !self.self_signed {
                return Err(invalid(
                    "listen_http adds a plain-HTTP listener beside HTTPS: it needs cert_file and \
                     key_file, or self_signed",
                ));
            }
            addr.parse::<SocketAddr>()
                .map_err(|_| invalid("listen_http must be an IP:PORT address"))?;
        }
        Ok(())
    }
}

/// An account: its id and name, root credentials, users and customer managed policies. The
/// account whose id is `kms.account_id` is the default one, whose root is `credentials`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Root credentials of the account.
    #[serde(default)]
    pub credentials: Vec<CredentialConfig>,
    #[serde(default)]
    pub users: Vec<UserConfig>,
    #[serde(default)]
    pub policies: Vec<PolicyConfig>,
}

/// An IAM user of an account, with its access keys and policies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub credentials: Vec<CredentialConfig>,
    /// Inline policies.
    #[serde(default)]
    pub policies: Vec<PolicyConfig>,
    /// ARNs of managed policies: `arn:aws:iam::aws:policy/...` or the account's own.
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

/// A named policy document (JSON text).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    pub document: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedKeyConfig {
    pub key_id: String,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers; also how long a new connection may
    /// stay silent, and how long a keep-alive connection waits for its next request.
    pub header_read_timeout_secs: u64,
    /// Seconds a request body may stall between two reads.
    pub body_read_timeout_secs: u64,
    /// Seconds a connection may make no progress at all (neither reads nor writes, e.g. a
    /// client that stops reading a response) before it is closed.
    pub idle_timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.into(),
            data_dir: DEFAULT_DATA_DIR.into(),
            region: DEFAULT_REGION.into(),
            root_key_file: None,
            vhost_domains: vec!["localhost".into()],
            credentials: Vec::new(),
            accounts: Vec::new(),
            log: LogConfig::default(),
            storage: StorageConfig::default(),
            kms: KmsConfig::default(),
            limits: LimitsConfig::default(),
            tls: TlsConfig::default(),
            allow_sse_c_over_http: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            cache_capacity_mib: 256,
            metadata: MetadataConfig::default(),
            chunks: ChunksConfig::default(),
        }
    }
}

impl Default for KmsConfig {
    fn default() -> Self {
        KmsConfig {
            account_id: DEFAULT_ACCOUNT_ID.into(),
            keys: Vec::new(),
            audit_log: None,
            test_clock_offset_file: None,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_connections: 4096,
            header_read_timeout_secs: 30,
            body_read_timeout_secs: 60,
            idle_timeout_secs: 120,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// Where an environment variable comes from: the process, or a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Config {
    /// Loads the file (if any), then applies environment overrides, then validates.
    pub fn load(file: Option<&Path>, env: &dyn Env) -> Result<Config, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(env)?;
        Ok(cfg)
    }

    fn apply_env(&mut self, env: &dyn Env) -> Result<(), ConfigError> {
        if let Some(v) = env.var("COFFER_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env.var("COFFER_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = env.var("COFFER_ROOT_KEY_FILE") {
            self.root_key_file = Some(v.into());
        }
        if let Some(v) = env.var("COFFER_REGION") {
            self.region = v;
        }
        if let Some(v) = env.var("COFFER_LOG_LEVEL") {
            self.log.level = v;
        }
        if let Some(v) = env.var("COFFER_LOG_FORMAT") {
            self.log.format = v;
        }
        if let Some(v) = env.var("COFFER_AUDIT_LOG") {
            self.kms.audit_log = Some(v.into());
        }
        let backend = |setting: &'static str, v: String| ConfigError::Invalid {
            setting,
            message: format!("{v:?} is not a backend this build knows"),
        };
        if let Some(v) = env.var("COFFER_METADATA_BACKEND") {
            self.storage.metadata.backend = match v.as_str() {
                "sled" => MetadataBackend::Sled,
                "postgres" => MetadataBackend::Postgres,
                _ => return Err(backend("COFFER_METADATA_BACKEND", v)),
            };
        }
        if let Some(v) = env.var("COFFER_METADATA_URL") {
            self.storage.metadata.url = Some(v);
        }
        if let Some(v) = env.var("COFFER_CHUNKS_BACKEND") {
            self.storage.chunks.backend = match v.as_str() {
                "sled" => ChunksBackend::Sled,
                "s3" => ChunksBackend::S3,
                _ => return Err(backend("COFFER_CHUNKS_BACKEND", v)),
            };
        }
        let chunks = &mut self.storage.chunks;
        for (name, field) in [
            ("COFFER_CHUNKS_ENDPOINT", &mut chunks.endpoint),
            ("COFFER_CHUNKS_BUCKET", &mut chunks.bucket),
            ("COFFER_CHUNKS_ACCESS_KEY_ID", &mut chunks.access_key_id),
            (
                "COFFER_CHUNKS_SECRET_ACCESS_KEY",
                &mut chunks.secret_access_key,
            ),
        ] {
            if let Some(v) = env.var(name) {
                *field = Some(v);
            }
        }
        if let Some(v) = env.var("COFFER_CHUNKS_REGION") {
            chunks.region = v;
        }
        if let Some(v) = env.var("COFFER_KMS_TEST_CLOCK_OFFSET_FILE") {
            self.kms.test_clock_offset_file = Some(v.into());
        }
        match (env.var("COFFER_ACCESS_KEY"), env.var("COFFER_SECRET_KEY")) {
            (Some(a), Some(s)) => {
                self.credentials = vec![CredentialConfig {
                    access_key_id: a,
                    secret_access_key: s,
                }]
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid {
                    setting: "COFFER_ACCESS_KEY/COFFER_SECRET_KEY",
                    message: "set both or neither".into(),
                });
            }
        }
        Ok(())
    }

    /// Where the KMS audit log goes.
    pub fn audit_log_path(&self) -> PathBuf {
        self.kms
            .audit_log
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit.log"))
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|e| ConfigError::Invalid {
            setting: "listen",
            message: format!("{:?} is not ADDR:PORT ({e})", self.listen),
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.storage.validate()?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid {
                setting: "log.format",
                message: "must be \"text\" or \"json\"".into(),
            });
        }
        for c in &self.credentials {
            if c.access_key_id.is_empty() || c.secret_access_key.len() < 8 {
                return Err(ConfigError::Invalid {
                    setting: "credentials",
                    message:
                        "access_key_id must be set and secret_access_key at least 8 characters"
                            .into(),
                });
            }
        }
        for a in &self.accounts {
            if a.id.len() != 12 || !a.id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::Invalid {
                    setting: "accounts.id",
                    message: format!("{:?} is not a 12-digit account id", a.id),
                });
            }
            let creds = a
                .credentials
                .iter()
                .chain(a.users.iter().flat_map(|u| u.credentials.iter()));
            for c in creds {
                if c.access_key_id.is_empty() || c.secret_access_key.len() < 8 {
                    return Err(ConfigError::Invalid {
                        setting: "accounts.credentials",
                        message: "access_key_id must be set and secret_access_key at least 8 \
                                  characters"
                            .into(),
                    });
                }
            }
        }
        if self.limits.max_connections == 0 {
            return Err(ConfigError::Invalid {
                setting: "limits.max_connections",
                message: "must be at least 1".into(),
            });
        }
        self.tls.validate()
    }

    pub fn configured_credentials(&self) -> Vec<(String, SecretString)> {
        self.credentials
            .iter()
            .map(|c| {
                (
                    c.access_key_id.clone(),
                    SecretString::new(c.secret_access_key.clone()),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    #[test]
    fn example_config_parses_and_env_wins() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/coffer.example.toml");
        let env = MapEnv(HashMap::from([
            ("COFFER_LISTEN", "127.0.0.1:1234"),
            ("COFFER_ACCESS_KEY", "AKIDTEST"),
            ("COFFER_SECRET_KEY", "secretsecret"),
        ]));
        let cfg = Config::load(Some(&path), &env).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:1234");
        assert_eq!(cfg.credentials.len(), 1);
        assert_eq!(cfg.credentials[0].access_key_id, "AKIDTEST");
        assert!(!format!("{cfg:?}").contains("secretsecret"));
    }

    /// The example's commented `[[accounts]]` block, uncommented, is a valid config.
    #[test]
    fn example_accounts_parse() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/coffer.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find("# [[accounts]]").unwrap();
        let end = start + text[start..].find("\n[tls]").unwrap();
        let block: Vec<&str> = text[start..end]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect();
        let cfg: Config = toml::from_str(&block.join("\n")).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.accounts[0].id, "111111111111");
        assert_eq!(cfg.accounts[0].users[0].attached_policies.len(), 1);
        assert_eq!(cfg.accounts[0].users[0].policies.len(), 1);
        let mut bad = cfg.clone();
        bad.accounts[0].id = "12345".into();
        assert!(bad.validate().is_err());
        let mut bad = cfg;
        bad.accounts[0].users[0].credentials[0].secret_access_key = "short".into();
        assert!(bad.validate().is_err());
    }

    fn tls_from(toml: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(toml).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("test.toml"),
            message: e.to_string(),
        })?;
        cfg.validate().map(|()| cfg)
    }

    #[test]
    fn tls_section_chooses_the_certificate_and_rejects_half_settings() {
        use crate::transport::TlsSource;
        let dir = Path::new("/data");
        assert!(Config::default().tls.source(dir).is_none());

        let cfg = tls_from("[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n").unwrap();
        assert!(matches!(
            cfg.tls.source(dir),
            Some(TlsSource::Files { cert, key }) if cert == Path::new("c.pem") && key == Path::new("k.pem")
        ));
        let cfg =
            tls_from("[tls]\nself_signed = true\nlisten_http = \"127.0.0.1:9001\"\n").unwrap();
        assert!(matches!(
            cfg.tls.source(dir),
            Some(TlsSource::SelfSigned { data_dir }) if data_dir == dir
        ));
        assert_eq!(cfg.tls.listen_http.as_deref(), Some("127.0.0.1:9001"));

        for (bad, says) in [
            ("[tls]\ncert_file = \"c.pem\"\n", "go together"),
            ("[tls]\nkey_file = \"k.pem\"\n", "go together"),
            (
                "[tls]\nself_signed = true\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n",
                "exclude",
            ),
            ("[tls]\nlisten_http = \"127.0.0.1:9001\"\n", "needs"),
            (
                "[tls]\nself_signed = true\nlisten_http = \"nowhere\"\n",
                "IP:PORT",
            ),
            ("[tls]\ncertificate = \"c.pem\"\n", "unknown field"),
        ] {
            let err = tls_from(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn half_credentials_rejected() {
        let env = MapEnv(HashMap::from([("COFFER_ACCESS_KEY", "AKID")]));
        assert!(Config::load(None, &env).is_err());
    }
}
