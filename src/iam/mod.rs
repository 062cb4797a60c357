//! Who a request is and what it may do: accounts, IAM users, access keys, identity policies.
//!
//! Principals. Every account has a 12-digit id, a name and root credentials; inside it live IAM
//! users, each with up to two access keys, inline policies and attached managed policies. The
//! accounts, their root credentials and any users written in the config file come from the
//! config at every start and cannot be changed through the API (`UnmodifiableEntity`); users,
//! keys and policies made through the IAM API are stored in the `iam` table, secret access keys
//! sealed under the root key (AAD names the access key id, so a sealed secret cannot be moved to
//! another key's record). The single credential of older configs is the root of the default
//! account, whose id is `kms.account_id`: existing configs and data keep working unchanged.
//!
//! The in-memory index ([`Iam`]) answers the per-request questions (which secret, which
//! principal, which compiled identity policies) without touching storage. Every change goes to
//! the table first and then to the index under one writer lock, so a change is in effect from
//! the next request on. Policies are compiled ([`policy::Policy`]) once, when stored or loaded;
//! bucket and key policies are compiled on first use and kept in a [`PolicyCache`] keyed by the
//! document's hash, so a changed document is a new entry and the old one simply ages out.
//! Nodes sharing a metadata store see each other's changes through the table's generation
//! token: every change rewrites it, and [`Iam::refresh`], run every [`REFRESH_INTERVAL`],
//! rebuilds the index when it moved.

pub mod keys;
pub mod policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{SharedClock, unix_millis};
use crate::kms::RootKey;
use crate::secret::SecretString;
use crate::storage::{Store, Table};
pub use policy::PrincipalKind;
use policy::{ParseOptions, Policy, PolicyError, PolicyKind};

/// The name of the table IAM records live in.
const TABLE: &str = "iam";
/// Record format version 1 (`0x01 || JSON`). Do not change; add a version.
const RECORD_V1: u8 = 0x01;
/// AAD prefix of a sealed secret access key (followed by the access key id).
const SECRET_AAD: &[u8] = b"coffer/v1/iam-secret-key/";

/// AWS's quota on the aggregate size of a user's inline policies, in characters not counting
/// whitespace (IAM User Guide, "IAM and AWS STS quotas").
pub const MAX_INLINE_POLICY_CHARS_PER_USER: usize = 2_048;
/// AWS's quota on a managed policy document, in characters not counting whitespace.
pub const MAX_MANAGED_POLICY_CHARS: usize = 6_144;
/// Largest policy document accepted at all (the wire limit: 131,072 characters).
pub const MAX_POLICY_DOCUMENT_LEN: usize = 131_072;
/// Managed policies attached to one user (AWS's raised quota; the default is 10).
pub const MAX_ATTACHED_POLICIES_PER_USER: usize = 20;
/// Access keys per user, active or not (AWS's fixed quota).
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;
/// Users per account (AWS's quota).
pub const MAX_USERS_PER_ACCOUNT: usize = 5_000;
/// Customer managed policies per account (AWS's default quota).
pub const MAX_MANAGED_POLICIES_PER_ACCOUNT: usize = 1_500;
/// Compiled resource policies kept by a [`PolicyCache`] before it starts over.
pub const POLICY_CACHE_ENTRIES: usize = 4_096;

/// An authenticated (or anonymous) caller.
#[derive(Clone)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// 12 digits; empty for anonymous.
    pub account: String,
    /// `arn:aws:iam::ACCOUNT:root`, `arn:aws:iam::ACCOUNT:user/PATH/NAME`, or `*` (anonymous).
    pub arn: String,
    /// `AIDA...` for a user, the account id for root, `anonymous` for anonymous.
    pub user_id: String,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    /// The user's identity policies, compiled (empty for root and anonymous).
    pub policies: Arc<Vec<Policy>>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("arn", &self.arn)
            .field("access_key_id", &self.access_key_id)
            .finish()
    }
}

impl Principal {
    pub fn anonymous() -> Principal {
        Principal {
            kind: PrincipalKind::Anonymous,
            account: String::new(),
            arn: "*".into(),
            user_id: "anonymous".into(),
            user_name: None,
            access_key_id: None,
            policies: Arc::default(),
        }
    }

    pub fn root(account: &str) -> Principal {
        Principal {
            kind: PrincipalKind::Root,
            account: account.to_string(),
            arn: root_arn(account),
            user_id: account.to_string(),
            user_name: None,
            access_key_id: None,
            policies: Arc::default(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        self.kind == PrincipalKind::Anonymous
    }

    /// The engine's borrowed view.
    pub fn as_policy(&self) -> policy::Principal<'_> {
        policy::Principal {
            kind: self.kind,
            account: &self.account,
            arn: &self.arn,
            user_id: &self.user_id,
            username: self.user_name.as_deref(),
        }
    }

    /// `aws:PrincipalType` as AWS fills it.
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Root => "Account",
            PrincipalKind::User => "User",
            PrincipalKind::Anonymous => "Anonymous",
        }
    }

    /// CloudTrail's `userIdentity.type`.
    pub fn identity_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Root => "Root",
            PrincipalKind::User => "IAMUser",
            PrincipalKind::Anonymous => "AWSAccount",
        }
    }
}

pub fn root_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

pub fn user_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

pub fn policy_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:policy{path}{name}")
}

/// Failures of IAM operations, named after the IAM error codes they become.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    UnmodifiableEntity(String),
    #[error("IAM internal error: {0}")]
    Internal(String),
    /// The store's backend is down or did not answer in time (`ServiceUnavailable`, 503).
    #[error("IAM store unavailable: {0}")]
    Unavailable(String),
}

impl From<crate::storage::StorageError> for IamError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::Unavailable(m) => IamError::Unavailable(m),
            e => IamError::Internal(e.to_string()),
        }
    }
}

impl From<PolicyError> for IamError {
    fn from(e: PolicyError) -> Self {
        match e.kind {
            policy::PolicyErrorKind::TooLarge => IamError::LimitExceeded(e.message),
            policy::PolicyErrorKind::Malformed => IamError::MalformedPolicyDocument(e.message),
        }
    }
}

// ---- stored records ----

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserRecord {
    name: String,
    user_id: String,
    path: String,
    created_ms: u64,
    #[serde(default)]
    inline: BTreeMap<String, String>,
    #[serde(default)]
    attached: Vec<String>,
    #[serde(default)]
    tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessKeyRecord {
    account: String,
    /// `None`: a root access key of the account.
    user: Option<String>,
    active: bool,
    created_ms: u64,
    /// base64 of the secret sealed under the root key.
    sealed_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManagedPolicyRecord {
    name: String,
    policy_id: String,
    path: String,
    document: String,
    #[serde(default)]
    description: String,
    created_ms: u64,
    updated_ms: u64,
    #[serde(default)]
    tags: Vec<(String, String)>,
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, IamError> {
    let mut out = vec![RECORD_V1];
    serde_json::to_writer(&mut out, v).map_err(|e| IamError::Internal(e.to_string()))?;
    Ok(out)
}

fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8], what: &str) -> Result<T, IamError> {
    match bytes.split_first() {
        Some((&RECORD_V1, rest)) => serde_json::from_slice(rest)
            .map_err(|e| IamError::Internal(format!("stored {what} record is corrupt: {e}"))),
        _ => Err(IamError::Internal(format!(
            "stored {what} record has an unknown format version"
        ))),
    }
}

fn user_key(account: &str, name: &str) -> Vec<u8> {
    format!("u/{account}/{}", name.to_ascii_lowercase()).into_bytes()
}

fn access_key_key(id: &str) -> Vec<u8> {
    format!("k/{id}").into_bytes()
}

fn policy_key(account: &str, name: &str) -> Vec<u8> {
    format!("p/{account}/{}", name.to_ascii_lowercase()).into_bytes()
}

// ---- what the API sees ----

/// A user as the IAM API shows it.
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub name: String,
    pub user_id: String,
    pub path: String,
    pub arn: String,
    pub created_ms: u64,
    pub tags: Vec<(String, String)>,
}

/// An access key's metadata (never the secret).
#[derive(Debug, Clone)]
pub struct AccessKeyInfo {
    pub access_key_id: String,
    pub user_name: Option<String>,
    pub active: bool,
    pub created_ms: u64,
}

/// A managed policy as the IAM API shows it.
#[derive(Debug, Clone)]
pub struct ManagedPolicyInfo {
    pub name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub description: String,
    pub document: String,
    pub attachment_count: usize,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub aws_managed: bool,
}

/// A user-to-be, from the config file.
#[derive(Clone)]
pub struct ConfigUser {
    pub name: String,
    pub path: String,
    pub keys: Vec<(String, SecretString)>,
    /// (policy name, document)
    pub inline: Vec<(String, String)>,
    /// Managed policy ARNs (AWS-managed or this account's config policies).
    pub attached: Vec<String>,
}

/// The config's access keys (key id, secret) and accounts.
type ConfigPrincipals = (Vec<(String, SecretString)>, Vec<ConfigAccount>);

/// An account from the config file.
#[derive(Clone)]
pub struct ConfigAccount {
    pub id: String,
    pub name: String,
    pub root_keys: Vec<(String, SecretString)>,
    pub users: Vec<ConfigUser>,
    /// (name, document) of customer managed policies.
    pub policies: Vec<(String, String)>,
}

// ---- the index ----

struct UserEntry {
    account: String,
    rec: UserRecord,
    from_config: bool,
    principal: Arc<Principal>,
}

struct KeyEntry {
    account: String,
    user: Option<String>,
    secret: SecretString,
    active: bool,
    created_ms: u64,
    from_config: bool,
}

struct ManagedEntry {
    /// `aws` for AWS-managed policies.
    account: String,
    rec: ManagedPolicyRecord,
    compiled: Policy,
    from_config: bool,
}

#[derive(Default)]
struct State {
    /// id -> name
    accounts: BTreeMap<String, String>,
    /// (account, lower-case name) -> user
    users: BTreeMap<(String, String), UserEntry>,
    keys: HashMap<String, KeyEntry>,
    /// ARN -> policy
    managed: BTreeMap<String, ManagedEntry>,
}

/// How often nodes sharing a metadata store check for IAM changes made by other nodes.
pub const REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Accounts, users, keys and identity policies: the store and its in-memory index.
pub struct Iam {
    table: Option<Table>,
    store: Option<Store>,
    root: Option<RootKey>,
    clock: SharedClock,
    default_account: String,
    state: RwLock<State>,
    /// Serializes changes (check, write, index update).
    writer: Mutex<()>,
    /// The config principals, for rebuilding the index.
    config: Mutex<ConfigPrincipals>,
    /// The table's generation token the index was built from (see [`Iam::refresh`]).
    seen: Mutex<Option<Vec<u8>>>,
}

/// The IAM table's generation token: rewritten (random) after every change, so a node that
/// shares the metadata store with others sees that its index is stale by reading one key.
const GENERATION: &[u8] = b"#generation";

fn bump_generation(t: &Table) -> Result<(), IamError> {
    let mut token = [0u8; 16];
    crate::secret::fill_random(&mut token).map_err(|e| IamError::Internal(e.to_string()))?;
    t.insert(GENERATION, &token)?;
    Ok(())
}

/// AWS-managed policies Coffer knows (the documents as AWS publishes them, for the services
/// Coffer serves).
const AWS_MANAGED: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "Provides full access to AWS services and resources.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "AmazonS3FullAccess",
        "Provides full access to all buckets via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        "Provides read only access to all buckets via the AWS Management Console.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    ),
];

fn identity_opts(max_len: usize) -> ParseOptions {
    ParseOptions {
        kind: PolicyKind::Identity,
        max_len,
    }
}

/// Characters of `doc` that are not whitespace: what AWS's policy size quotas count.
pub fn policy_chars(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

fn random_id(prefix: &str, len: usize) -> Result<String, IamError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut b = vec![0u8; len];
    crate::secret::fill_random(&mut b).map_err(|e| IamError::Internal(e.to_string()))?;
    let mut s = String::with_capacity(prefix.len() + len);
    s.push_str(prefix);
    for x in b {
        s.push(char::from(ALPHABET[usize::from(x) % ALPHABET.len()]));
    }
    Ok(s)
}

fn random_secret() -> Result<SecretString, IamError> {
    use base64::Engine;
    let mut b = zeroize::Zeroizing::new([0u8; 30]);
    crate::secret::fill_random(b.as_mut_slice()).map_err(|e| IamError::Internal(e.to_string()))?;
    Ok(SecretString::new(
        base64::engine::general_purpose::STANDARD.encode(b.as_slice()),
    ))
}

impl Iam {
    /// Opens the IAM store: config principals first, then what the API stored.
    /// `default_account` holds `default_root_keys` (the classic single credential).
    pub fn open(
        store: &Store,
        root: RootKey,
        clock: SharedClock,
        default_account: &str,
        default_root_keys: Vec<(String, SecretString)>,
        accounts: Vec<ConfigAccount>,
    ) -> Result<Iam, IamError> {
        let table = store.table(TABLE)?;
        let iam = Iam {
            table: Some(table),
            store: Some(store.clone()),
            root: Some(root),
            clock,
            default_account: default_account.to_string(),
            state: RwLock::new(State::default()),
            writer: Mutex::new(()),
            config: Mutex::new((default_root_keys, accounts)),
            seen: Mutex::new(None),
        };
        iam.reload()?;
        Ok(iam)
    }

    /// Rebuilds the index when another node changed the table since it was built (its
    /// generation token moved); `true` when it did. Nodes sharing a metadata store call this
    /// every [`REFRESH_INTERVAL`], which bounds how long another node's IAM change takes to
    /// hold here. A node's own changes hold at once.
    pub fn refresh(&self) -> Result<bool, IamError> {
        let Some(t) = &self.table else {
            return Ok(false);
        };
        let now = t.get(GENERATION)?;
        if *self.seen.lock().unwrap_or_else(|p| p.into_inner()) == now {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    /// Builds the index from the config principals and the table.
    fn reload(&self) -> Result<(), IamError> {
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // The token first: a change landing during the load moves it again, so the next
        // refresh loads again.
        let token = match &self.table {
            Some(t) => t.get(GENERATION)?,
            None => None,
        };
        let (keys, accounts) = self
            .config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        self.load(keys, accounts)?;
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = token;
        Ok(())
    }

    /// An index with the given config principals and no store (unit tests, the bench).
    pub fn in_memory(
        clock: SharedClock,
        default_account: &str,
        default_root_keys: Vec<(String, SecretString)>,
        accounts: Vec<ConfigAccount>,
    ) -> Result<Iam, IamError> {
        let iam = Iam {
            table: None,
            store: None,
            root: None,
            clock,
            default_account: default_account.to_string(),
            state: RwLock::new(State::default()),
            writer: Mutex::new(()),
            config: Mutex::new((default_root_keys, accounts)),
            seen: Mutex::new(None),
        };
        iam.reload()?;
        Ok(iam)
    }

    pub fn default_account(&self) -> &str {
        &self.default_account
    }

    /// The clock policies see (`aws:CurrentTime`).
    pub fn clock_now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A poisoned lock means a writer panicked between two consistent states; every write
        // below replaces whole entries, so the state is still usable.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        unix_millis(self.clock.now())
    }

    fn load(
        &self,
        default_root_keys: Vec<(String, SecretString)>,
        accounts: Vec<ConfigAccount>,
    ) -> Result<(), IamError> {
        let now = self.now_ms();
        let mut st = State::default();
        for (name, description, doc) in AWS_MANAGED {
            let compiled = Policy::parse(doc, &identity_opts(MAX_POLICY_DOCUMENT_LEN))?;
            st.managed.insert(
                policy_arn("aws", "/", name),
                ManagedEntry {
                    account: "aws".into(),
                    rec: ManagedPolicyRecord {
                        name: (*name).into(),
                        policy_id: format!("ANPA{}", hex::encode_upper(&Sha256::digest(name)[..8])),
                        path: "/".into(),
                        document: (*doc).into(),
                        description: (*description).into(),
                        created_ms: 0,
                        updated_ms: 0,
                        tags: Vec::new(),
                    },
                    compiled,
                    from_config: true,
                },
            );
        }
        let mut all = vec![ConfigAccount {
            id: self.default_account.clone(),
            name: "default".into(),
            root_keys: default_root_keys,
            users: Vec::new(),
            policies: Vec::new(),
        }];
        for a in accounts {
            if a.id == self.default_account {
                // The default account may be named in [[accounts]] to give it users.
                let first = &mut all[0];
                first.name = a.name;
                first.root_keys.extend(a.root_keys);
                first.users.extend(a.users);
                first.policies.extend(a.policies);
            } else {
                all.push(a);
            }
        }
        for a in all {
            if st.accounts.insert(a.id.clone(), a.name.clone()).is_some() {
                return Err(IamError::InvalidInput(format!(
                    "account {} is configured twice",
                    a.id
                )));
            }
            for (ak, sk) in a.root_keys {
                add_config_key(&mut st, &a.id, None, ak, sk, now)?;
            }
            for (name, doc) in a.policies {
                check_managed_size(&doc)?;
                let compiled = Policy::parse(&doc, &identity_opts(MAX_POLICY_DOCUMENT_LEN))?;
                let arn = policy_arn(&a.id, "/", &name);
                st.managed.insert(
                    arn,
                    ManagedEntry {
                        account: a.id.clone(),
                        rec: ManagedPolicyRecord {
                            policy_id: format!(
                                "ANPA{}",
                                hex::encode_upper(&Sha256::digest(format!("{}/{name}", a.id))[..8])
                            ),
                            name,
                            path: "/".into(),
                            document: doc,
                            description: String::new(),
                            created_ms: now,
                            updated_ms: now,
                            tags: Vec::new(),
                        },
                        compiled,
                        from_config: true,
                    },
                );
            }
            for u in a.users {
                let rec = UserRecord {
                    user_id: format!(
                        "AIDA{}",
                        hex::encode_upper(&Sha256::digest(format!("{}/{}", a.id, u.name))[..8])
                    ),
                    name: u.name.clone(),
                    path: u.path,
                    created_ms: now,
                    inline: u.inline.into_iter().collect(),
                    attached: u.attached,
                    tags: Vec::new(),
                };
                check_inline_size(&rec.inline)?;
                for (ak, sk) in u.keys {
                    add_config_key(&mut st, &a.id, Some(&u.name), ak, sk, now)?;
                }
                let entry = UserEntry {
                    account: a.id.clone(),
                    principal: Arc::new(Principal::root(&a.id)),
                    rec,
                    from_config: true,
                };
                st.users
                    .insert((a.id.clone(), u.name.to_ascii_lowercase()), entry);
            }
        }
        if let Some(table) = &self.table {
            self.load_stored(table, &mut st)?;
        }
        let names: Vec<(String, String)> = st.users.keys().cloned().collect();
        for (account, name) in names {
            Self::refresh_user(&mut st, &account, &name)?;
        }
        *self.write() = st;
        Ok(())
    }

    fn load_stored(&self, table: &Table, st: &mut State) -> Result<(), IamError> {
        for kv in table.scan_prefix(b"p/") {
            let (k, v) = kv?;
            let account = key_account(&k)?;
            let rec: ManagedPolicyRecord = decode(&v, "managed policy")?;
            let compiled = Policy::parse(&rec.document, &identity_opts(MAX_POLICY_DOCUMENT_LEN))?;
            st.managed.insert(
                policy_arn(&account, &rec.path, &rec.name),
                ManagedEntry {
                    account,
                    rec,
                    compiled,
                    from_config: false,
                },
            );
        }
        for kv in table.scan_prefix(b"u/") {
            let (k, v) = kv?;
            let account = key_account(&k)?;
            let rec: UserRecord = decode(&v, "user")?;
            let id = (account.clone(), rec.name.to_ascii_lowercase());
            if st.users.contains_key(&id) {
                // A config user of the same name wins; the stored one stays untouched.
                tracing::warn!(user = %rec.name, account = %account,
                    "a stored IAM user has the name of a config user; the config user is used");
                continue;
            }
            st.users.insert(
                id,
                UserEntry {
                    principal: Arc::new(Principal::root(&account)),
                    account,
                    rec,
                    from_config: false,
                },
            );
        }
        let root = self
            .root
            .as_ref()
            .ok_or_else(|| IamError::Internal("no root key".into()))?;
        for kv in table.scan_prefix(b"k/") {
            let (k, v) = kv?;
            let id = String::from_utf8(k.get(2..).unwrap_or_default().to_vec())
                .map_err(|_| IamError::Internal("stored access key id is not UTF-8".into()))?;
            let rec: AccessKeyRecord = decode(&v, "access key")?;
            let secret = unseal_secret(root, &id, &rec.sealed_secret)?;
            if st.keys.contains_key(&id) {
                tracing::warn!(access_key = %id, "a stored access key is also in the config; the config one is used");
                continue;
            }
            st.keys.insert(
                id,
                KeyEntry {
                    account: rec.account,
                    user: rec.user,
                    secret,
                    active: rec.active,
                    created_ms: rec.created_ms,
                    from_config: false,
                },
            );
        }
        Ok(())
    }
}

/// The account segment of a `u/ACCOUNT/...` or `p/ACCOUNT/...` table key.
fn key_account(k: &[u8]) -> Result<String, IamError> {
    let s = std::str::from_utf8(k).map_err(|_| IamError::Internal("bad IAM table key".into()))?;
    s.split('/')
        .nth(1)
        .map(str::to_string)
        .ok_or_else(|| IamError::Internal("bad IAM table key".into()))
}

fn seal_secret(root: &RootKey, id: &str, secret: &SecretString) -> Result<String, IamError> {
    use base64::Engine;
    let aad = [SECRET_AAD, id.as_bytes()].concat();
    let sealed = root
        .seal(&aad, secret.expose().as_bytes())
        .map_err(|e| IamError::Internal(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

fn unseal_secret(root: &RootKey, id: &str, sealed: &str) -> Result<SecretString, IamError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| IamError::Internal(format!("the stored secret of {id} is corrupt")))?;
    let aad = [SECRET_AAD, id.as_bytes()].concat();
    let plain = root.unseal(&aad, &bytes).map_err(|_| {
        IamError::Internal(format!(
            "the stored secret of {id} does not unseal under this root key"
        ))
    })?;
    let text = std::str::from_utf8(plain.expose())
        .map_err(|_| IamError::Internal(format!("the stored secret of {id} is corrupt")))?;
    Ok(SecretString::new(text.to_string()))
}

fn add_config_key(
    st: &mut State,
    account: &str,
    user: Option<&str>,
    ak: String,
    sk: SecretString,
    now: u64,
) -> Result<(), IamError> {
    if st.keys.contains_key(&ak) {
        return Err(IamError::InvalidInput(format!(
            "access key {ak} is configured twice"
        )));
    }
    st.keys.insert(
        ak,
        KeyEntry {
            account: account.to_string(),
            user: user.map(str::to_string),
            secret: sk,
            active: true,
            created_ms: now,
            from_config: true,
        },
    );
    Ok(())
}

fn check_inline_size(inline: &BTreeMap<String, String>) -> Result<(), IamError> {
    let total: usize = inline.values().map(|d| policy_chars(d)).sum();
    if total > MAX_INLINE_POLICY_CHARS_PER_USER {
        return Err(IamError::LimitExceeded(format!(
            "Maximum policy size of {MAX_INLINE_POLICY_CHARS_PER_USER} bytes exceeded for user"
        )));
    }
    Ok(())
}

fn check_managed_size(doc: &str) -> Result<(), IamError> {
    if policy_chars(doc) > MAX_MANAGED_POLICY_CHARS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {MAX_MANAGED_POLICY_CHARS}"
        )));
    }
    Ok(())
}

type ManagedView<'a> = &'a BTreeMap<String, ManagedEntry>;

/// The principal of a user, with its inline and attached policies compiled.
fn build_principal(managed: ManagedView<'_>, e: &UserEntry) -> Result<Principal, IamError> {
    let mut policies = Vec::with_capacity(e.rec.inline.len() + e.rec.attached.len());
    for doc in e.rec.inline.values() {
        policies.push(Policy::parse(doc, &identity_opts(MAX_POLICY_DOCUMENT_LEN))?);
    }
    for arn in &e.rec.attached {
        match managed.get(arn) {
            Some(m) => policies.push(m.compiled.clone()),
            None => {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} does not exist or is not attachable."
                )));
            }
        }
    }
    Ok(Principal {
        kind: PrincipalKind::User,
        account: e.account.clone(),
        arn: user_arn(&e.account, &e.rec.path, &e.rec.name),
        user_id: e.rec.user_id.clone(),
        user_name: Some(e.rec.name.clone()),
        access_key_id: None,
        policies: Arc::new(policies),
    })
}

fn user_info(e: &UserEntry) -> UserInfo {
    UserInfo {
        name: e.rec.name.clone(),
        user_id: e.rec.user_id.clone(),
        path: e.rec.path.clone(),
        arn: user_arn(&e.account, &e.rec.path, &e.rec.name),
        created_ms: e.rec.created_ms,
        tags: e.rec.tags.clone(),
    }
}

fn no_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

fn unmodifiable(what: &str) -> IamError {
    IamError::UnmodifiableEntity(format!(
        "{what} is defined in the configuration file and cannot be changed through the API."
    ))
}

impl Iam {
    // ---- per request ----

    /// The secret and principal of an active access key.
    pub fn authenticate(&self, access_key_id: &str) -> Option<(SecretString, Arc<Principal>)> {
        let st = self.read();
        let k = st.keys.get(access_key_id).filter(|k| k.active)?;
        let principal = match &k.user {
            None => Principal::root(&k.account),
            Some(u) => {
                let e = st.users.get(&(k.account.clone(), u.to_ascii_lowercase()))?;
                (*e.principal).clone()
            }
        };
        let principal = Principal {
            access_key_id: Some(access_key_id.to_string()),
            ..principal
        };
        Some((k.secret.clone(), Arc::new(principal)))
    }

    pub fn account_exists(&self, id: &str) -> bool {
        self.read().accounts.contains_key(id)
    }

    /// The root access keys of `account` (the bench and tests sign as it).
    pub fn account_ids(&self) -> Vec<String> {
        self.read().accounts.keys().cloned().collect()
    }

    // ---- users ----

    fn persist_user(&self, account: &str, rec: &UserRecord) -> Result<(), IamError> {
        if let Some(t) = &self.table {
            t.insert(&user_key(account, &rec.name), &encode(rec)?)?;
            bump_generation(t)?;
        }
        Ok(())
    }

    /// Rebuilds the compiled principal of one user after a change.
    fn refresh_user(st: &mut State, account: &str, name: &str) -> Result<(), IamError> {
        let id = (account.to_string(), name.to_ascii_lowercase());
        let principal = match st.users.get(&id) {
            Some(e) => build_principal(&st.managed, e)?,
            None => return Ok(()),
        };
        if let Some(e) = st.users.get_mut(&id) {
            e.principal = Arc::new(principal);
        }
        Ok(())
    }

    pub async fn flush(&self) -> Result<(), IamError> {
        if let Some(s) = &self.store {
            s.flush().await?;
        }
        Ok(())
    }

    pub fn create_user(
        &self,
        account: &str,
        name: &str,
        path: &str,
        tags: Vec<(String, String)>,
    ) -> Result<UserInfo, IamError> {
        let _w = self.lock_writer();
        {
            let st = self.read();
            if st
                .users
                .contains_key(&(account.to_string(), name.to_ascii_lowercase()))
            {
                return Err(IamError::EntityAlreadyExists(format!(
                    "User with name {name} already exists."
                )));
            }
            if st.users.keys().filter(|(a, _)| a == account).count() >= MAX_USERS_PER_ACCOUNT {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for UsersPerAccount: {MAX_USERS_PER_ACCOUNT}"
                )));
            }
        }
        let rec = UserRecord {
            name: name.to_string(),
            user_id: random_id("AIDA", 17)?,
            path: path.to_string(),
            created_ms: self.now_ms(),
            inline: BTreeMap::new(),
            attached: Vec::new(),
            tags,
        };
        self.persist_user(account, &rec)?;
        let mut st = self.write();
        let entry = UserEntry {
            account: account.to_string(),
            principal: Arc::new(Principal::root(account)),
            rec,
            from_config: false,
        };
        let info = user_info(&entry);
        st.users
            .insert((account.to_string(), name.to_ascii_lowercase()), entry);
        Self::refresh_user(&mut st, account, name)?;
        Ok(info)
    }

    pub fn get_user(&self, account: &str, name: &str) -> Result<UserInfo, IamError> {
        let st = self.read();
        st.users
            .get(&(account.to_string(), name.to_ascii_lowercase()))
            .map(user_info)
            .ok_or_else(|| no_user(name))
    }

    /// Users of `account` whose path starts with `path_prefix`, in name order.
    pub fn list_users(&self, account: &str, path_prefix: &str) -> Vec<UserInfo> {
        let st = self.read();
        st.users
            .iter()
            .filter(|((a, _), e)| a == account && e.rec.path.starts_with(path_prefix))
            .map(|(_, e)| user_info(e))
            .collect()
    }

    pub fn delete_user(&self, account: &str, name: &str) -> Result<(), IamError> {
        let _w = self.lock_writer();
        let id = (account.to_string(), name.to_ascii_lowercase());
        {
            let st = self.read();
            let e = st.users.get(&id).ok_or_else(|| no_user(name))?;
            if e.from_config {
                return Err(unmodifiable(&format!("User {name}")));
            }
            let has_keys = st.keys.values().any(|k| {
                k.account == account
                    && k.user
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(name))
            });
            if has_keys || !e.rec.inline.is_empty() || !e.rec.attached.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies and access keys first.".into(),
                ));
            }
        }
        if let Some(t) = &self.table {
            t.remove(&user_key(account, name))?;
            bump_generation(t)?;
        }
        self.write().users.remove(&id);
        Ok(())
    }

    fn with_user<T>(
        &self,
        account: &str,
        name: &str,
        change: impl FnOnce(&mut UserRecord, &State) -> Result<T, IamError>,
    ) -> Result<T, IamError> {
        let _w = self.lock_writer();
        let id = (account.to_string(), name.to_ascii_lowercase());
        let (rec, out) = {
            let st = self.read();
            let e = st.users.get(&id).ok_or_else(|| no_user(name))?;
            if e.from_config {
                return Err(unmodifiable(&format!("User {name}")));
            }
            let mut rec = e.rec.clone();
            let out = change(&mut rec, &st)?;
            // Compile before storing: nothing invalid is ever stored.
            build_principal(
                &st.managed,
                &UserEntry {
                    account: account.to_string(),
                    rec: rec.clone(),
                    from_config: false,
                    principal: Arc::new(Principal::root(account)),
                },
            )?;
            (rec, out)
        };
        self.persist_user(account, &rec)?;
        let mut st = self.write();
        if let Some(e) = st.users.get_mut(&id) {
            e.rec = rec;
        }
        Self::refresh_user(&mut st, account, name)?;
        Ok(out)
    }

    // ---- inline policies ----

    pub fn put_user_policy(
        &self,
        account: &str,
        user: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        let compiled = Policy::parse(document, &identity_opts(MAX_POLICY_DOCUMENT_LEN))?;
        validate_identity_keys(&compiled)?;
        self.with_user(account, user, |rec, _| {
            rec.inline
                .insert(policy_name.to_string(), document.to_string());
            check_inline_size(&rec.inline)
        })
    }

    pub fn get_user_policy(
        &self,
        account: &str,
        user: &str,
        policy_name: &str,
    ) -> Result<String, IamError> {
        let st = self.read();
        let e = st
            .users
            .get(&(account.to_string(), user.to_ascii_lowercase()))
            .ok_or_else(|| no_user(user))?;
        e.rec.inline.get(policy_name).cloned().ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The user policy with name {policy_name} cannot be found."
            ))
        })
    }

    pub fn list_user_policies(&self, account: &str, user: &str) -> Result<Vec<String>, IamError> {
        let st = self.read();
        let e = st
            .users
            .get(&(account.to_string(), user.to_ascii_lowercase()))
            .ok_or_else(|| no_user(user))?;
        Ok(e.rec.inline.keys().cloned().collect())
    }

    pub fn delete_user_policy(
        &self,
        account: &str,
        user: &str,
        policy_name: &str,
    ) -> Result<(), IamError> {
        self.with_user(account, user, |rec, _| {
            rec.inline.remove(policy_name).map(|_| ()).ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "The user policy with name {policy_name} cannot be found."
                ))
            })
        })
    }

    // ---- managed policies ----

    pub fn create_policy(
        &self,
        account: &str,
        name: &str,
        path: &str,
        document: &str,
        description: &str,
        tags: Vec<(String, String)>,
    ) -> Result<ManagedPolicyInfo, IamError> {
        check_managed_size(document)?;
        let compiled = Policy::parse(document, &identity_opts(MAX_POLICY_DOCUMENT_LEN))?;
        validate_identity_keys(&compiled)?;
        let _w = self.lock_writer();
        let arn = policy_arn(account, path, name);
        {
            let st = self.read();
            if st
                .managed
                .values()
                .any(|m| m.account == account && m.rec.name.eq_ignore_ascii_case(name))
            {
                return Err(IamError::EntityAlreadyExists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            if st.managed.values().filter(|m| m.account == account).count()
                >= MAX_MANAGED_POLICIES_PER_ACCOUNT
            {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for PoliciesPerAccount: {MAX_MANAGED_POLICIES_PER_ACCOUNT}"
                )));
            }
        }
        let now = self.now_ms();
        let rec = ManagedPolicyRecord {
            name: name.to_string(),
            policy_id: random_id("ANPA", 17)?,
            path: path.to_string(),
            document: document.to_string(),
            description: description.to_string(),
            created_ms: now,
            updated_ms: now,
            tags,
        };
        if let Some(t) = &self.table {
            t.insert(&policy_key(account, name), &encode(&rec)?)?;
            bump_generation(t)?;
        }
        let mut st = self.write();
        st.managed.insert(
            arn.clone(),
            ManagedEntry {
                account: account.to_string(),
                rec,
                compiled,
                from_config: false,
            },
        );
        Ok(managed_info(&st, &arn))
            .and_then(|o| o.ok_or_else(|| IamError::Internal("policy vanished".into())))
    }

    /// A managed policy visible to `account`: its own or an AWS-managed one.
    pub fn get_policy(&self, account: &str, arn: &str) -> Result<ManagedPolicyInfo, IamError> {
        let st = self.read();
        match st.managed.get(arn) {
            Some(m) if m.account == account || m.account == "aws" => {
                managed_info(&st, arn).ok_or_else(|| no_policy(arn))
            }
            _ => Err(no_policy(arn)),
        }
    }

    /// `scope`: `All`, `AWS` or `Local`; `only_attached`: only policies attached to a user.
    pub fn list_policies(
        &self,
        account: &str,
        scope: &str,
        only_attached: bool,
        path_prefix: &str,
    ) -> Vec<ManagedPolicyInfo> {
        let st = self.read();
        st.managed
            .iter()
            .filter(|(_, m)| match scope {
                "AWS" => m.account == "aws",
                "Local" => m.account == account,
                _ => m.account == "aws" || m.account == account,
            })
            .filter(|(_, m)| m.rec.path.starts_with(path_prefix))
            .filter_map(|(arn, _)| managed_info(&st, arn))
            .filter(|i| !only_attached || i.attachment_count > 0)
            .collect()
    }

    pub fn delete_policy(&self, account: &str, arn: &str) -> Result<(), IamError> {
        let _w = self.lock_writer();
        let name = {
            let st = self.read();
            let m = st
                .managed
                .get(arn)
                .filter(|m| m.account == account || m.account == "aws")
                .ok_or_else(|| no_policy(arn))?;
            if m.from_config {
                return Err(unmodifiable(&format!("Policy {arn}")));
            }
            if attachment_count(&st, arn) > 0 {
                return Err(IamError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            m.rec.name.clone()
        };
        if let Some(t) = &self.table {
            t.remove(&policy_key(account, &name))?;
            bump_generation(t)?;
        }
        self.write().managed.remove(arn);
        Ok(())
    }

    pub fn attach_user_policy(&self, account: &str, user: &str, arn: &str) -> Result<(), IamError> {
        self.with_user(account, user, |rec, st| {
            match st.managed.get(arn) {
                Some(m) if m.account == account || m.account == "aws" => {}
                _ => {
                    return Err(IamError::NoSuchEntity(format!(
                        "Policy {arn} does not exist or is not attachable."
                    )));
                }
            }
            if !rec.attached.iter().any(|a| a == arn) {
                if rec.attached.len() >= MAX_ATTACHED_POLICIES_PER_USER {
                    return Err(IamError::LimitExceeded(format!(
                        "Cannot exceed quota for PoliciesPerUser: {MAX_ATTACHED_POLICIES_PER_USER}"
                    )));
                }
                rec.attached.push(arn.to_string());
            }
            Ok(())
        })
    }

    pub fn detach_user_policy(&self, account: &str, user: &str, arn: &str) -> Result<(), IamError> {
        self.with_user(account, user, |rec, _| {
            let before = rec.attached.len();
            rec.attached.retain(|a| a != arn);
            if rec.attached.len() == before {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} was not found."
                )));
            }
            Ok(())
        })
    }

    /// (policy name, ARN) of the policies attached to `user`.
    pub fn list_attached_user_policies(
        &self,
        account: &str,
        user: &str,
    ) -> Result<Vec<(String, String)>, IamError> {
        let st = self.read();
        let e = st
            .users
            .get(&(account.to_string(), user.to_ascii_lowercase()))
            .ok_or_else(|| no_user(user))?;
        Ok(e.rec
            .attached
            .iter()
            .map(|arn| {
                let name = st
                    .managed
                    .get(arn)
                    .map(|m| m.rec.name.clone())
                    .unwrap_or_default();
                (name, arn.clone())
            })
            .collect())
    }

    // ---- access keys ----

    /// A new access key for `user` (or, with `None`, for the account root). The secret is
    /// returned once and stored only sealed.
    pub fn create_access_key(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<(AccessKeyInfo, SecretString), IamError> {
        let _w = self.lock_writer();
        let user_name = match user {
            Some(u) => {
                let st = self.read();
                let e = st
                    .users
                    .get(&(account.to_string(), u.to_ascii_lowercase()))
                    .ok_or_else(|| no_user(u))?;
                let n = st
                    .keys
                    .values()
                    .filter(|k| {
                        k.account == account
                            && k.user.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(u))
                    })
                    .count();
                if n >= MAX_ACCESS_KEYS_PER_USER {
                    return Err(IamError::LimitExceeded(format!(
                        "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
                    )));
                }
                Some(e.rec.name.clone())
            }
            None => None,
        };
        let id = random_id("AKIA", 16)?;
        let secret = random_secret()?;
        let created_ms = self.now_ms();
        if let (Some(t), Some(root)) = (&self.table, &self.root) {
            let rec = AccessKeyRecord {
                account: account.to_string(),
                user: user_name.clone(),
                active: true,
                created_ms,
                sealed_secret: seal_secret(root, &id, &secret)?,
            };
            t.insert(&access_key_key(&id), &encode(&rec)?)?;
            bump_generation(t)?;
        }
        self.write().keys.insert(
            id.clone(),
            KeyEntry {
                account: account.to_string(),
                user: user_name.clone(),
                secret: secret.clone(),
                active: true,
                created_ms,
                from_config: false,
            },
        );
        Ok((
            AccessKeyInfo {
                access_key_id: id,
                user_name,
                active: true,
                created_ms,
            },
            secret,
        ))
    }

    /// Keys of `user` (or of the root with `None`), oldest first.
    pub fn list_access_keys(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKeyInfo>, IamError> {
        let st = self.read();
        if let Some(u) = user
            && !st
                .users
                .contains_key(&(account.to_string(), u.to_ascii_lowercase()))
        {
            return Err(no_user(u));
        }
        let mut out: Vec<AccessKeyInfo> = st
            .keys
            .iter()
            .filter(|(_, k)| {
                k.account == account
                    && match (user, &k.user) {
                        (None, None) => true,
                        (Some(u), Some(x)) => u.eq_ignore_ascii_case(x),
                        _ => false,
                    }
            })
            .map(|(id, k)| AccessKeyInfo {
                access_key_id: id.clone(),
                user_name: k.user.clone(),
                active: k.active,
                created_ms: k.created_ms,
            })
            .collect();
        out.sort_by(|a, b| (a.created_ms, &a.access_key_id).cmp(&(b.created_ms, &b.access_key_id)));
        Ok(out)
    }

    fn key_of(st: &State, account: &str, user: Option<&str>, id: &str) -> Result<(), IamError> {
        let not_found =
            || IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."));
        let k = st.keys.get(id).ok_or_else(not_found)?;
        let same_owner = k.account == account
            && match (user, &k.user) {
                (None, None) => true,
                (Some(u), Some(x)) => u.eq_ignore_ascii_case(x),
                _ => false,
            };
        if !same_owner {
            return Err(not_found());
        }
        if k.from_config {
            return Err(unmodifiable(&format!("Access key {id}")));
        }
        Ok(())
    }

    pub fn update_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
        active: bool,
    ) -> Result<(), IamError> {
        let _w = self.lock_writer();
        Self::key_of(&self.read(), account, user, id)?;
        if let (Some(t), Some(_)) = (&self.table, &self.root) {
            let Some(v) = t.get(&access_key_key(id))? else {
                return Err(IamError::Internal(format!("access key {id} is not stored")));
            };
            let mut rec: AccessKeyRecord = decode(&v, "access key")?;
            rec.active = active;
            t.insert(&access_key_key(id), &encode(&rec)?)?;
            bump_generation(t)?;
        }
        if let Some(k) = self.write().keys.get_mut(id) {
            k.active = active;
        }
        Ok(())
    }

    pub fn delete_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
    ) -> Result<(), IamError> {
        let _w = self.lock_writer();
        Self::key_of(&self.read(), account, user, id)?;
        if let Some(t) = &self.table {
            t.remove(&access_key_key(id))?;
            bump_generation(t)?;
        }
        self.write().keys.remove(id);
        Ok(())
    }

    /// The user an access key belongs to, for `UpdateAccessKey`/`DeleteAccessKey` without a
    /// `UserName` (AWS: the caller's own keys).
    pub fn key_owner(&self, id: &str) -> Option<(String, Option<String>)> {
        let st = self.read();
        st.keys.get(id).map(|k| (k.account.clone(), k.user.clone()))
    }
}

fn no_policy(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

fn attachment_count(st: &State, arn: &str) -> usize {
    st.users
        .values()
        .filter(|e| e.rec.attached.iter().any(|a| a == arn))
        .count()
}

fn managed_info(st: &State, arn: &str) -> Option<ManagedPolicyInfo> {
    let m = st.managed.get(arn)?;
    Some(ManagedPolicyInfo {
        name: m.rec.name.clone(),
        policy_id: m.rec.policy_id.clone(),
        arn: arn.to_string(),
        path: m.rec.path.clone(),
        description: m.rec.description.clone(),
        document: m.rec.document.clone(),
        attachment_count: attachment_count(st, arn),
        created_ms: m.rec.created_ms,
        updated_ms: m.rec.updated_ms,
        aws_managed: m.account == "aws",
    })
}

/// IAM refuses identity policies whose condition keys no service defines.
fn validate_identity_keys(p: &Policy) -> Result<(), IamError> {
    p.validate_condition_keys(&|k| {
        policy::is_known_key(policy::Service::S3, k)
            || policy::is_known_key(policy::Service::Kms, k)
            || policy::is_known_key(policy::Service::Iam, k)
    })?;
    Ok(())
}

impl crate::api::auth::CredentialStore for Iam {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretString> {
        let st = self.read();
        st.keys
            .get(access_key_id)
            .filter(|k| k.active)
            .map(|k| k.secret.clone())
    }
}

/// Compiled resource policies (bucket and key policies), keyed by the SHA-256 of the document:
/// a changed document is a new entry, so nothing needs invalidating; the map starts over once
/// it holds [`POLICY_CACHE_ENTRIES`].
pub struct PolicyCache {
    opts: ParseOptions,
    map: RwLock<HashMap<[u8; 32], Policy>>,
}

impl PolicyCache {
    pub fn new(opts: ParseOptions) -> PolicyCache {
        PolicyCache {
            opts,
            map: RwLock::new(HashMap::new()),
        }
    }

    /// The compiled form of `doc` (a document that was validated when it was stored).
    pub fn get(&self, doc: &str) -> Result<Policy, PolicyError> {
        let h: [u8; 32] = Sha256::digest(doc.as_bytes()).into();
        if let Some(p) = self.map.read().unwrap_or_else(|p| p.into_inner()).get(&h) {
            return Ok(p.clone());
        }
        let p = Policy::parse(doc, &self.opts)?;
        let mut m = self.map.write().unwrap_or_else(|p| p.into_inner());
        if m.len() >= POLICY_CACHE_ENTRIES {
            m.clear();
        }
        m.insert(h, p.clone());
        Ok(p)
    }
}

#[cfg(test)]
mod tests;
