//! Start-up: from a [`Config`] to a ready [`App`], shared by `coffer serve` and the tests.
//!
//! Order matters: the store opens first (sweeping what a crash left), then the root key is
//! found, then the KMS checks that the root key is the one the store was created with. A dev
//! root key is created only for a store that holds no keys yet, never over existing data.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::api::auth::CredentialStore;
use crate::api::iam::IamApi;
use crate::api::kms::KmsApi;
use crate::api::s3::S3Api;
use crate::clock::{FileOffsetClock, SharedClock, SystemClock};
use crate::config::Config;
use crate::iam::keys::{GovernedKeys, KeyGuard};
use crate::iam::{ConfigAccount, ConfigUser, Iam, PolicyCache};
use crate::kms::{Kms, KmsOptions, RootKey, SeedKey};
use crate::secret::{Key32, SecretString};
use crate::server::App;
use crate::service::Service;
use crate::storage::chunks::{Chunks, S3Chunks, S3Options};
use crate::storage::meta::{Meta, PgMeta, PgOptions};
use crate::storage::{Store, StoreOptions};

/// The dev root key's file name inside the data directory (dev mode only).
pub const DEV_ROOT_KEY_FILE: &str = "root.key";
const DEV_CREDENTIALS_META: &[u8] = b"dev-credentials";
const DEV_CREDENTIALS_AAD: &[u8] = b"coffer/v1/dev-credentials";
const SSE_C_MAC_META: &[u8] = b"sse-c-mac-key";
const SSE_C_MAC_AAD: &[u8] = b"coffer/v1/sse-c-mac-key";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store in {path}: {message}")]
    Store { path: PathBuf, message: String },
    #[error("{0}")]
    Backend(String),
    #[error("root key: {0}")]
    RootKey(String),
    #[error("{0}")]
    Kms(#[from] crate::kms::KmsOpenError),
    #[error("credentials: {0}")]
    Credentials(String),
}

/// The config file's `[[accounts]]`, as the IAM index takes them.
fn config_accounts(cfg: &Config) -> Vec<ConfigAccount> {
    let keys = |c: &[crate::config::CredentialConfig]| {
        c.iter()
            .map(|c| {
                (
                    c.access_key_id.clone(),
                    SecretString::new(c.secret_access_key.clone()),
                )
            })
            .collect::<Vec<_>>()
    };
    cfg.accounts
        .iter()
        .map(|a| ConfigAccount {
            id: a.id.clone(),
            name: a.name.clone().unwrap_or_else(|| a.id.clone()),
            root_keys: keys(&a.credentials),
            users: a
                .users
                .iter()
                .map(|u| ConfigUser {
                    name: u.name.clone(),
                    path: u.path.clone().unwrap_or_else(|| "/".into()),
                    keys: keys(&u.credentials),
                    inline: u
                        .policies
                        .iter()
                        .map(|p| (p.name.clone(), p.document.clone()))
                        .collect(),
                    attached: u.attached_policies.clone(),
                })
                .collect(),
            policies: a
                .policies
                .iter()
                .map(|p| (p.name.clone(), p.document.clone()))
                .collect(),
        })
        .collect()
}

/// A ready server: what `run` serves, plus what the banner shows.
pub struct Prepared {
    pub app: Arc<App>,
    pub kms: Arc<Kms>,
    pub store: Store,
    /// The first access key (for the banner), and whether it was generated here.
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub dev_credentials: bool,
    pub dev_root_key: Option<PathBuf>,
}

/// Opens everything a server needs. `clock`: `None` for the system clock.
pub fn prepare(cfg: &Config, clock: Option<SharedClock>) -> Result<Prepared, StartError> {
    cfg.validate()?;
    let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| StartError::DataDir {
        path: cfg.data_dir.clone(),
        source,
    })?;
    let store = open_store(cfg, true)?;
    let (kms, root, dev_root_key) = open_kms(cfg, &store, clock.clone(), DevRootKey::Create)?;
    let mut creds = cfg.configured_credentials();
    let dev_credentials = creds.is_empty();
    if dev_credentials {
        creds.push(dev_credentials_for(&store, &root)?);
    }
    let (access_key_id, secret_access_key) = creds[0].clone();
    let iam = Arc::new(
        Iam::open(
            &store,
            root.clone(),
            clock.clone(),
            &cfg.kms.account_id,
            creds,
            config_accounts(cfg),
        )
        .map_err(|e| StartError::Credentials(e.to_string()))?,
    );
    if !cfg.storage.is_local() {
        follow_other_nodes(&iam);
    }
    let guard = Arc::new(KeyGuard::new(kms.clone(), iam.clone(), &cfg.region));
    let service = Service::new(
        store.clone(),
        Arc::new(GovernedKeys {
            guard: guard.clone(),
        }),
        clock.clone(),
        cfg.region.clone(),
    )
    .with_default_account(&cfg.kms.account_id)
    .with_customer_mac_key(sse_c_mac_key_for(&store, &root)?);
    let creds: Arc<dyn CredentialStore> = iam.clone();
    let app = Arc::new(App {
        iam: IamApi {
            iam: iam.clone(),
            kms: kms.clone(),
            region: cfg.region.clone(),
            clock: clock.clone(),
            body_read_timeout: Duration::from_secs(cfg.limits.body_read_timeout_secs),
        },
        kms: KmsApi {
            kms: kms.clone(),
            guard: guard.clone(),
            creds: creds.clone(),
            region: cfg.region.clone(),
            clock: clock.clone(),
            body_read_timeout: Duration::from_secs(cfg.limits.body_read_timeout_secs),
        },
        s3: S3Api {
            service,
            creds,
            iam,
            kms: kms.clone(),
            bucket_policies: PolicyCache::new(crate::iam::policy::ParseOptions {
                kind: crate::iam::policy::PolicyKind::Resource,
                max_len: crate::api::s3::MAX_BUCKET_POLICY_LEN,
            }),
            acl_policies: PolicyCache::new(crate::iam::policy::ParseOptions {
                kind: crate::iam::policy::PolicyKind::Resource,
                max_len: crate::api::s3::MAX_ACL_POLICY_LEN,
            }),
            region: cfg.region.clone(),
            vhost_domains: cfg.vhost_domains.clone(),
            clock,
            body_read_timeout: Duration::from_secs(cfg.limits.body_read_timeout_secs),
            allow_sse_c_over_http: cfg.allow_sse_c_over_http,
        },
        limits: cfg.limits.clone(),
    });
    Ok(Prepared {
        app,
        kms,
        store,
        access_key_id,
        secret_access_key,
        dev_credentials,
        dev_root_key,
    })
}

/// Opens the store under `cfg.data_dir`. `sweep`: remove what a crash left (serving); `false`
/// leaves it for `coffer verify` to report.
pub fn open_store(cfg: &Config, sweep: bool) -> Result<Store, StartError> {
    let db_path = cfg.data_dir.join("db");
    let opts = StoreOptions {
        cache_capacity: cfg.storage.cache_capacity_mib << 20,
    };
    let failed = |message: String| StartError::Store {
        path: db_path.clone(),
        message,
    };
    if cfg.storage.is_local() {
        let opened = if sweep {
            Store::open(&db_path, &opts)
        } else {
            Store::open_unswept(&db_path, &opts)
        };
        return opened.map_err(|e| failed(e.to_string()));
    }
    let (meta, chunks) = shared_backends(&cfg.storage).map_err(StartError::Backend)?;
    let store =
        Store::open_backends(&db_path, &opts, meta, chunks).map_err(|e| failed(e.to_string()))?;
    if sweep {
        // Other nodes' writes in progress are young orphans: leave them (see the constant).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let swept = store
            .sweep_orphans_older_than(now.saturating_sub(SHARED_ORPHAN_GRACE.as_millis() as u64))
            .map_err(|e| failed(e.to_string()))?;
        if swept > 0 {
            tracing::info!(
                streams = swept,
                "removed unreferenced streams older than a day"
            );
        }
    }
    Ok(store)
}

/// On a metadata store other nodes share: rebuilds the IAM index when another node changed
/// users, keys or policies, every [`crate::iam::REFRESH_INTERVAL`] (the bound on how stale
/// this node's view is). KMS keys and bucket records need no such task: they are read from
/// the store on every use. Runs on the caller's runtime until the index is dropped.
fn follow_other_nodes(iam: &Arc<Iam>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(iam);
    handle.spawn(async move {
        let mut tick = tokio::time::interval(crate::iam::REFRESH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(iam) = weak.upgrade() else { return };
            match tokio::task::spawn_blocking(move || iam.refresh()).await {
                Ok(Ok(true)) => tracing::debug!("IAM index rebuilt after another node's change"),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "could not check for IAM changes"),
                Err(e) => tracing::warn!(error = %e, "the IAM refresh task failed"),
            }
        }
    });
}

/// How old an unreferenced stream on shared backends must be before a starting node deletes
/// it: longer than any write (a 5 GiB PUT, a multipart part) takes, since a young one may be
/// another node's write in progress. Crash leftovers are removed a day late.
pub const SHARED_ORPHAN_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The shared backends the config names (`None`: the data directory's sled database), each
/// connected and checked, so a wrong URL, refused credentials or a missing bucket stop the
/// start with an error that says which.
fn shared_backends(
    s: &crate::config::StorageConfig,
) -> Result<(Option<Meta>, Option<Chunks>), String> {
    use crate::config::{ChunksBackend, MetadataBackend};
    let meta = match s.metadata.backend {
        MetadataBackend::Sled => None,
        MetadataBackend::Postgres => {
            let opts = PgOptions {
                url: s.metadata.url.clone().unwrap_or_default(),
                pool_size: s.metadata.pool_size,
                deadline: Duration::from_secs(s.metadata.timeout_secs.max(1)),
            };
            let pg = PgMeta::connect(&opts)
                .map_err(|e| format!("metadata database (storage.metadata): {e}"))?;
            Some(Meta::new(pg))
        }
    };
    let chunks = match s.chunks.backend {
        ChunksBackend::Sled => None,
        ChunksBackend::S3 => {
            let c = &s.chunks;
            let opts = S3Options {
                endpoint: c.endpoint.clone().unwrap_or_default(),
                bucket: c.bucket.clone().unwrap_or_default(),
                region: c.region.clone(),
                access_key_id: c.access_key_id.clone().unwrap_or_default(),
                secret_access_key: SecretString::new(
                    c.secret_access_key.clone().unwrap_or_default(),
                ),
                prefix: c.prefix.clone(),
                connections: c.connections,
                deadline: Duration::from_secs(c.timeout_secs.max(1)),
            };
            let s3 = S3Chunks::connect(&opts)
                .map_err(|e| format!("chunk store (storage.chunks): {e}"))?;
            Some(Chunks::new(s3))
        }
    };
    Ok((meta, chunks))
}

/// Writes sled's recovery snapshot after a clean stop, so the next start does not replay
/// the log of everything the stopped run wrote. sled recovers by reading its newest snapshot
/// and replaying the log after it, and writes a snapshot only while opening; so this opens the
/// store once more (unswept: it changes nothing) and closes it. Call it only once every
/// handle on the store is gone (the server's runtime dropped): sled allows one opener.
/// Returns how long it took (about what the next start would otherwise have taken).
pub fn write_recovery_snapshot(cfg: &Config) -> Result<Duration, StartError> {
    use crate::config::{ChunksBackend, MetadataBackend};
    let started = std::time::Instant::now();
    let s = &cfg.storage;
    if s.metadata.backend != MetadataBackend::Sled && s.chunks.backend != ChunksBackend::Sled {
        // No sled database to snapshot.
        return Ok(started.elapsed());
    }
    drop(open_store(cfg, false)?);
    Ok(started.elapsed())
}

/// Whether a missing dev root key may be created (serving a new store) or not (`verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevRootKey {
    Create,
    MustExist,
}

/// Finds the root key as `coffer serve` does and opens the KMS, which checks that the key is
/// the one the store was created with. Returns the KMS, the root key, and the dev key file's
/// path when the key came from there.
pub fn open_kms(
    cfg: &Config,
    store: &Store,
    clock: SharedClock,
    dev: DevRootKey,
) -> Result<(Arc<Kms>, RootKey, Option<PathBuf>), StartError> {
    let (root, dev_root_key) = find_root_key(cfg, store, dev)?;
    let kms_clock: SharedClock = match &cfg.kms.test_clock_offset_file {
        Some(path) => {
            tracing::warn!(path = %path.display(), "the KMS clock follows a test offset file");
            Arc::new(FileOffsetClock {
                base: clock,
                path: path.clone(),
            })
        }
        None => clock,
    };
    let kms = Arc::new(Kms::open(
        store,
        root.clone(),
        KmsOptions {
            region: cfg.region.clone(),
            account_id: cfg.kms.account_id.clone(),
            seed_keys: cfg
                .kms
                .keys
                .iter()
                .map(|k| SeedKey {
                    key_id: k.key_id.clone(),
                    alias: k.alias.clone(),
                    description: k.description.clone(),
                })
                .collect(),
            clock: kms_clock,
            audit_log: Some(cfg.audit_log_path()),
        },
    )?);
    Ok((kms, root, dev_root_key))
}

/// The configured root key, or in dev mode the one in the data directory (created only for a
/// store without keys, and only when `dev` allows it).
fn find_root_key(
    cfg: &Config,
    store: &Store,
    dev: DevRootKey,
) -> Result<(RootKey, Option<PathBuf>), StartError> {
    let env_hex = std::env::var("COFFER_ROOT_KEY")
        .ok()
        .filter(|v| !v.is_empty());
    if cfg.root_key_file.is_some() || env_hex.is_some() {
        let key = RootKey::load(cfg.root_key_file.as_deref(), env_hex.as_deref())
            .map_err(|e| StartError::RootKey(e.to_string()))?;
        return Ok((key, None));
    }
    let path = cfg.data_dir.join(DEV_ROOT_KEY_FILE);
    if path.exists() {
        let key =
            RootKey::load(Some(&path), None).map_err(|e| StartError::RootKey(e.to_string()))?;
        return Ok((key, Some(path)));
    }
    if Kms::is_initialized(store)? {
        return Err(StartError::RootKey(format!(
            "this data directory holds keys, but its root key file {} is missing and no \
             root_key_file / COFFER_ROOT_KEY_FILE is set; refusing to start (a new root key \
             would make every object unreadable)",
            path.display()
        )));
    }
    if dev == DevRootKey::MustExist {
        return Err(StartError::RootKey(format!(
            "no root key: {} does not exist and no root_key_file / COFFER_ROOT_KEY_FILE / \
             COFFER_ROOT_KEY is set",
            path.display()
        )));
    }
    let key =
        RootKey::create_dev_key_file(&path).map_err(|e| StartError::RootKey(e.to_string()))?;
    Ok((key, Some(path)))
}

/// The dev access key pair: generated on first start, kept sealed under the root key.
fn dev_credentials_for(
    store: &Store,
    root: &RootKey,
) -> Result<(String, SecretString), StartError> {
    let err = |m: String| StartError::Credentials(m);
    let meta = store.table("meta").map_err(|e| err(e.to_string()))?;
    if let Some(sealed) = meta
        .get(DEV_CREDENTIALS_META)
        .map_err(|e| err(e.to_string()))?
    {
        let plain = root
            .unseal(DEV_CREDENTIALS_AAD, &sealed)
            .map_err(|_| err("stored dev credentials do not unseal under this root key".into()))?;
        let text = std::str::from_utf8(plain.expose())
            .map_err(|_| err("stored dev credentials are corrupt".into()))?;
        let (ak, sk) = text
            .split_once('\n')
            .ok_or_else(|| err("stored dev credentials are corrupt".into()))?;
        return Ok((ak.to_string(), SecretString::new(sk.to_string())));
    }
    let mut id = [0u8; 8];
    let mut secret = [0u8; 30];
    crate::secret::fill_random(&mut id).map_err(|e| err(e.to_string()))?;
    crate::secret::fill_random(&mut secret).map_err(|e| err(e.to_string()))?;
    let ak = format!("CF{}", hex::encode_upper(id));
    let sk = zeroize::Zeroizing::new(base64_secret(&secret));
    let record = zeroize::Zeroizing::new(format!("{ak}\n{}", sk.as_str()));
    let sealed = root
        .seal(DEV_CREDENTIALS_AAD, record.as_bytes())
        .map_err(|e| err(e.to_string()))?;
    meta.insert(DEV_CREDENTIALS_META, &sealed)
        .map_err(|e| err(e.to_string()))?;
    Ok((ak, SecretString::new(sk.to_string())))
}

/// The server-side key SSE-C key MACs are computed under: random on first start, kept sealed
/// under the root key in `meta`.
pub fn sse_c_mac_key_for(store: &Store, root: &RootKey) -> Result<Key32, StartError> {
    let err = |m: String| StartError::Credentials(m);
    let meta = store.table("meta").map_err(|e| err(e.to_string()))?;
    if let Some(sealed) = meta.get(SSE_C_MAC_META).map_err(|e| err(e.to_string()))? {
        let plain = root.unseal(SSE_C_MAC_AAD, &sealed).map_err(|_| {
            err("the stored SSE-C MAC key does not unseal under this root key".into())
        })?;
        return Key32::from_slice(plain.expose())
            .ok_or_else(|| err("the stored SSE-C MAC key is corrupt".into()));
    }
    let key = Key32::random().map_err(|e| err(e.to_string()))?;
    let sealed = root
        .seal(SSE_C_MAC_AAD, key.expose())
        .map_err(|e| err(e.to_string()))?;
    meta.insert(SSE_C_MAC_META, &sealed)
        .map_err(|e| err(e.to_string()))?;
    Ok(key)
}

fn base64_secret(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .replace(['+', '/'], "x")
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// True when `path` is inside `dir` (used to warn about a root key beside its data).
pub fn is_inside(path: &Path, dir: &Path) -> bool {
    match (path.canonicalize(), dir.canonicalize()) {
        (Ok(p), Ok(d)) => p.starts_with(d),
        _ => false,
    }
}
