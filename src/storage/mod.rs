//! Storage: the only module that names sled.
//!
//! Layout (sled 0.34.7, one database under `DATA_DIR/db`):
//!
//! | tree              | key                                 | value                         |
//! |-------------------|-------------------------------------|-------------------------------|
//! | `meta`            | name                                | opaque (root-key check, dev credentials) |
//! | `buckets`         | bucket name                         | [`records::BucketRecord`]     |
//! | `obj/<bucket>`    | object key (UTF-8 bytes, S3 order)  | [`records::ObjectRecord`]     |
//! | `chunks`          | stream id (16) ‖ u64be chunk index  | ciphertext ‖ tag of one chunk |
//! | `orphans`         | stream id (16)                      | u64be unix millis when begun  |
//! | anything else     | owned by the caller of [`Store::table`] (the KMS keeps its keys so) |
//!
//! Invariants:
//! - A stream id is in `orphans` from the moment its first chunk may be written until the
//!   transaction that makes a record reference it; the transaction that replaces or deletes a
//!   record puts the old record's streams back into `orphans`. So a crash leaves at worst streams
//!   listed in `orphans`, and [`Store::open`] deletes their chunks before anything is served:
//!   there is never a need to scan `chunks`.
//! - A write is durable only after [`Store::flush`]: callers acknowledge nothing before it.
//! - Every record starts with a format version byte (see [`records`]).

pub mod records;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::clock::unix_millis;
use records::{BucketRecord, ObjectRecord};

/// sled's log segment size. Values larger than about half a segment go to separate blob files
/// that sled 0.34 does not fsync, so this must stay well above the 64 KiB chunk size.
pub const SEGMENT_SIZE: usize = 8 << 20;

/// Length of a stream id. Do not change: it is part of every chunk key.
pub const STREAM_ID_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O error: {0}")]
    Io(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("bucket already exists")]
    BucketExists,
    #[error("bucket is not empty")]
    BucketNotEmpty,
    #[error("precondition failed")]
    PreconditionFailed,
}

impl From<sled::Error> for StorageError {
    fn from(e: sled::Error) -> Self {
        StorageError::Io(e.to_string())
    }
}

impl From<sled::transaction::TransactionError<StorageError>> for StorageError {
    fn from(e: sled::transaction::TransactionError<StorageError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => e.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// Identifies one encrypted stream (a PUT body or one uploaded part). Random, never reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub [u8; STREAM_ID_LEN]);

impl StreamId {
    pub fn random() -> std::result::Result<Self, crate::secret::RandomError> {
        let mut b = [0u8; STREAM_ID_LEN];
        crate::secret::fill_random(&mut b)?;
        Ok(StreamId(b))
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Option<Self> {
        let v = hex::decode(s).ok()?;
        Some(StreamId(v.try_into().ok()?))
    }
}

impl std::fmt::Debug for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamId({})", self.to_hex())
    }
}

fn chunk_key(stream: &StreamId, index: u64) -> [u8; STREAM_ID_LEN + 8] {
    let mut k = [0u8; STREAM_ID_LEN + 8];
    k[..STREAM_ID_LEN].copy_from_slice(&stream.0);
    k[STREAM_ID_LEN..].copy_from_slice(&index.to_be_bytes());
    k
}

fn objects_tree_name(bucket: &str) -> Vec<u8> {
    let mut n = b"obj/".to_vec();
    n.extend_from_slice(bucket.as_bytes());
    n
}

/// Options for opening the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// sled page cache, bytes.
    pub cache_capacity: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity: 256 << 20,
        }
    }
}

/// The database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    buckets: sled::Tree,
    chunks: sled::Tree,
    orphans: sled::Tree,
    /// Commits take it shared, bucket deletion exclusive: sled transactions cannot check that
    /// a tree is empty, so this keeps an object from landing in a bucket being deleted.
    bucket_gate: RwLock<()>,
    /// Group commit, see [`Store::flush`]: tickets handed out to callers, the ticket number
    /// the last successful flush covers, and the lock that keeps one flush in flight.
    flush_tickets: AtomicU64,
    flushed_upto: AtomicU64,
    flush_lock: tokio::sync::Mutex<()>,
}

/// A generic ordered key-value table, for modules (the KMS) that keep their own records.
#[derive(Clone)]
pub struct Table {
    tree: sled::Tree,
}

impl Store {
    /// Opens (or creates) the database at `dir` and removes chunks of streams left unreferenced
    /// by a crash.
    pub fn open(dir: &Path, opts: &StoreOptions) -> Result<Store> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(opts.cache_capacity)
            .segment_size(SEGMENT_SIZE)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let store = Store {
            inner: Arc::new(Inner {
                buckets: db.open_tree("buckets")?,
                chunks: db.open_tree("chunks")?,
                orphans: db.open_tree("orphans")?,
                db,
                bucket_gate: RwLock::new(()),
                flush_tickets: AtomicU64::new(0),
                flushed_upto: AtomicU64::new(0),
                flush_lock: tokio::sync::Mutex::new(()),
            }),
        };
        let swept = store.sweep_orphans()?;
        if swept > 0 {
            tracing::info!(
                streams = swept,
                "removed unreferenced streams left by an interrupted write"
            );
        }
        Ok(store)
    }

    /// Makes every write before this call durable.
    ///
    /// Group commit: one sled flush is in flight at a time, and every caller that arrived
    /// before it started shares it. A caller takes a ticket, waits for the flush lock, and
    /// returns at once if a flush that *started* after its ticket has completed (that flush
    /// covered its writes); otherwise it flushes for everyone holding a ticket so far.
    ///
    /// Why not `flush_async` per caller: each call parks one thread of sled's own I/O pool in
    /// `flush` until the log buffers are written, and those writes are queued on the same pool;
    /// with 16 concurrent PUTs every pool thread waited and the server stopped for good
    /// (measured with `coffer bench --concurrency 16`: 0 PUT/s, never recovering).
    pub async fn flush(&self) -> Result<()> {
        let inner = &self.inner;
        let ticket = inner.flush_tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let _one_at_a_time = inner.flush_lock.lock().await;
        if inner.flushed_upto.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        // Every ticket up to here was taken before this flush starts, so it covers them all.
        let covers = inner.flush_tickets.load(Ordering::SeqCst);
        inner.db.flush_async().await?;
        inner.flushed_upto.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }

    /// A named table for records owned by another module. Names starting with `obj/` and the
    /// names of the trees in the module docs are reserved.
    pub fn table(&self, name: &str) -> Result<Table> {
        debug_assert!(!name.starts_with("obj/"));
        Ok(Table {
            tree: self.inner.db.open_tree(name)?,
        })
    }

    // ---- streams and chunks ----

    /// Registers a new stream as in flight (in `orphans`) and returns its id.
    pub fn begin_stream(&self, now_millis: u64) -> Result<StreamId> {
        let id = StreamId::random().map_err(|e| StorageError::Io(e.to_string()))?;
        self.inner.orphans.insert(id.0, &now_millis.to_be_bytes())?;
        Ok(id)
    }

    pub fn put_chunk(&self, stream: &StreamId, index: u64, value: &[u8]) -> Result<()> {
        self.inner.chunks.insert(chunk_key(stream, index), value)?;
        Ok(())
    }

    pub fn get_chunk(&self, stream: &StreamId, index: u64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .inner
            .chunks
            .get(chunk_key(stream, index))?
            .map(|v| v.to_vec()))
    }

    /// Deletes every chunk of a stream, then its `orphans` entry.
    pub fn delete_stream(&self, stream: &StreamId) -> Result<()> {
        let mut batch = sled::Batch::default();
        for k in self.inner.chunks.scan_prefix(stream.0).keys() {
            batch.remove(k?);
        }
        self.inner.chunks.apply_batch(batch)?;
        self.inner.orphans.remove(stream.0)?;
        Ok(())
    }

    /// Number of chunks stored for a stream (tests and `verify`).
    pub fn count_chunks(&self, stream: &StreamId) -> Result<u64> {
        let mut n = 0;
        for k in self.inner.chunks.scan_prefix(stream.0).keys() {
            k?;
            n += 1;
        }
        Ok(n)
    }

    /// Streams currently listed as unreferenced or in flight.
    pub fn orphan_streams(&self) -> Result<Vec<StreamId>> {
        let mut out = Vec::new();
        for k in self.inner.orphans.iter().keys() {
            let k = k?;
            if let Ok(arr) = <[u8; STREAM_ID_LEN]>::try_from(k.as_ref()) {
                out.push(StreamId(arr));
            }
        }
        Ok(out)
    }

    /// Every distinct stream id that has chunks (a full scan: tests and `verify` only).
    pub fn all_chunk_streams(&self) -> Result<Vec<StreamId>> {
        let mut out: Vec<StreamId> = Vec::new();
        for k in self.inner.chunks.iter().keys() {
            let k = k?;
            if k.len() != STREAM_ID_LEN + 8 {
                return Err(StorageError::Corrupt("chunk key of wrong length".into()));
            }
            let mut id = [0u8; STREAM_ID_LEN];
            id.copy_from_slice(&k[..STREAM_ID_LEN]);
            if out.last().map(|l| l.0) != Some(id) {
                out.push(StreamId(id));
            }
        }
        Ok(out)
    }

    fn sweep_orphans(&self) -> Result<usize> {
        let orphans = self.orphan_streams()?;
        for s in &orphans {
            self.delete_stream(s)?;
        }
        Ok(orphans.len())
    }

    // ---- buckets ----

    pub fn create_bucket(&self, name: &str, record: &BucketRecord) -> Result<()> {
        let _gate = self.gate_exclusive();
        let res = self.inner.buckets.compare_and_swap(
            name.as_bytes(),
            None as Option<&[u8]>,
            Some(record.encode()),
        )?;
        if res.is_err() {
            return Err(StorageError::BucketExists);
        }
        Ok(())
    }

    pub fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        match self.inner.buckets.get(name.as_bytes())? {
            Some(v) => Ok(Some(BucketRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    pub fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>> {
        let mut out = Vec::new();
        for kv in self.inner.buckets.iter() {
            let (k, v) = kv?;
            let name = String::from_utf8(k.to_vec())
                .map_err(|_| StorageError::Corrupt("bucket name is not UTF-8".into()))?;
            out.push((name, BucketRecord::decode(&v)?));
        }
        Ok(out)
    }

    /// Replaces a bucket's record (configuration changes); fails if the bucket is gone.
    pub fn update_bucket(&self, name: &str, record: &BucketRecord) -> Result<()> {
        let _gate = self.gate_shared();
        let old = self
            .inner
            .buckets
            .get(name.as_bytes())?
            .ok_or(StorageError::NoSuchBucket)?;
        let res = self.inner.buckets.compare_and_swap(
            name.as_bytes(),
            Some(old),
            Some(record.encode()),
        )?;
        res.map_err(|_| StorageError::PreconditionFailed)
    }

    /// Deletes an empty bucket. `BucketNotEmpty` if it holds any object.
    pub fn delete_bucket(&self, name: &str) -> Result<()> {
        let _gate = self.gate_exclusive();
        if self.inner.buckets.get(name.as_bytes())?.is_none() {
            return Err(StorageError::NoSuchBucket);
        }
        let tree = self.objects(name)?;
        if !tree.is_empty() {
            return Err(StorageError::BucketNotEmpty);
        }
        self.inner.buckets.remove(name.as_bytes())?;
        self.inner.db.drop_tree(objects_tree_name(name))?;
        Ok(())
    }

    fn objects(&self, bucket: &str) -> Result<sled::Tree> {
        Ok(self.inner.db.open_tree(objects_tree_name(bucket))?)
    }

    fn gate_shared(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        // A poisoned gate only means another thread panicked while holding it; the gate guards
        // no data of its own, so going on is sound.
        self.inner
            .bucket_gate
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn gate_exclusive(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.inner
            .bucket_gate
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    // ---- objects ----

    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        if self.inner.buckets.get(bucket.as_bytes())?.is_none() {
            return Err(StorageError::NoSuchBucket);
        }
        match self.objects(bucket)?.get(key.as_bytes())? {
            Some(v) => Ok(Some(ObjectRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Atomically makes `record` the current version of `bucket/key`: its streams leave
    /// `orphans`, the replaced record's streams enter it. `check` sees the current record (if
    /// any) and may refuse the write (conditional PUTs). Returns the replaced record; the caller
    /// deletes its streams after flushing.
    pub fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        check: &dyn Fn(Option<&ObjectRecord>) -> Result<()>,
    ) -> Result<Option<ObjectRecord>> {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError as Cte;
        let _gate = self.gate_shared();
        let tree = self.objects(bucket)?;
        let encoded = record.encode();
        let new_streams = record.stream_ids();
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        let old = (&self.inner.buckets, &tree, &self.inner.orphans).transaction(
            |(buckets, objects, orphans)| {
                if buckets.get(bucket.as_bytes())?.is_none() {
                    return Err(Cte::Abort(StorageError::NoSuchBucket));
                }
                let old = match objects.get(key.as_bytes())? {
                    Some(v) => Some(ObjectRecord::decode(&v).map_err(Cte::Abort)?),
                    None => None,
                };
                check(old.as_ref()).map_err(Cte::Abort)?;
                objects.insert(key.as_bytes(), encoded.as_slice())?;
                for s in &new_streams {
                    orphans.remove(&s.0)?;
                }
                if let Some(old) = &old {
                    for s in old.stream_ids() {
                        if !new_streams.contains(&s) {
                            orphans.insert(&s.0, &now)?;
                        }
                    }
                }
                Ok(old)
            },
        )?;
        Ok(old)
    }

    /// Atomically removes `bucket/key`, putting its streams into `orphans`. Returns the removed
    /// record (`None` if there was none); the caller deletes its streams after flushing.
    pub fn remove_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError as Cte;
        let _gate = self.gate_shared();
        if self.inner.buckets.get(bucket.as_bytes())?.is_none() {
            return Err(StorageError::NoSuchBucket);
        }
        let tree = self.objects(bucket)?;
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        let old = (&tree, &self.inner.orphans).transaction(|(objects, orphans)| {
            let old = match objects.remove(key.as_bytes())? {
                Some(v) => ObjectRecord::decode(&v).map_err(Cte::Abort)?,
                None => return Ok(None),
            };
            for s in old.stream_ids() {
                orphans.insert(&s.0, &now)?;
            }
            Ok(Some(old))
        })?;
        Ok(old)
    }

    /// Object records of a bucket in key order, starting at the first key `>= start`.
    pub fn list_objects_from(
        &self,
        bucket: &str,
        start: &[u8],
    ) -> Result<impl Iterator<Item = Result<(String, ObjectRecord)>> + use<>> {
        if self.inner.buckets.get(bucket.as_bytes())?.is_none() {
            return Err(StorageError::NoSuchBucket);
        }
        let tree = self.objects(bucket)?;
        Ok(tree.range(start.to_vec()..).map(|kv| {
            let (k, v) = kv?;
            let key = String::from_utf8(k.to_vec())
                .map_err(|_| StorageError::Corrupt("object key is not UTF-8".into()))?;
            Ok((key, ObjectRecord::decode(&v)?))
        }))
    }
}

impl Table {
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.insert(key, value)?.map(|v| v.to_vec()))
    }

    /// Inserts only if `key` is absent; `true` when it inserted.
    pub fn insert_if_absent(&self, key: &[u8], value: &[u8]) -> Result<bool> {
        Ok(self
            .tree
            .compare_and_swap(key, None as Option<&[u8]>, Some(value))?
            .is_ok())
    }

    /// Replaces `old` with `new` atomically (either may be `None`); `false` if the current
    /// value was not `old`.
    pub fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        Ok(self.tree.compare_and_swap(key, old, new)?.is_ok())
    }

    pub fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.remove(key)?.map(|v| v.to_vec()))
    }

    /// All entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(
        &self,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + use<> {
        self.tree.scan_prefix(prefix).map(|kv| {
            kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(Into::into)
        })
    }

    /// Entries with key `>= start`, in key order.
    pub fn range_from(
        &self,
        start: &[u8],
    ) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + use<> {
        self.tree.range(start.to_vec()..).map(|kv| {
            kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(Into::into)
        })
    }
}
