//! Storage: the only module that names sled.
//!
//! Everything is stored through two seams: records through the metadata store ([`meta`]: an
//! ordered key-value store of named trees with atomic, check-guarded commits) and ciphertext
//! through the chunk store ([`chunks`]). [`Store`] builds buckets, objects, uploads and the
//! orphan bookkeeping on those two traits only, so it runs over any pair of backends
//! ([`Store::over`], [`Store::open_backends`]); [`Store::open`] uses sled for both. Backends:
//! sled, PostgreSQL ([`meta::PgMeta`]) and memory for records; sled, any S3-compatible store
//! ([`chunks::S3Chunks`]) and memory for chunks. Multi-key changes are optimistic: read, then
//! commit with checks that the keys read are unchanged, and judge again when another writer
//! came between. Several nodes may share the PostgreSQL and S3 backends: nothing a node keeps
//! in memory decides a commit (caches are keyed by the stored bytes they decoded, or bounded
//! in time), and a bucket being deleted is marked in its record, which every commit adding to
//! the bucket checks.
//!
//! Layout (the trees; with sled, 0.34.7 vendored with a memory patch,
//! `src/vendor/sled/README.md`, one database under `DATA_DIR/db`):
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
//!   commit that makes a record reference it; the commit that replaces or deletes a record
//!   puts the old record's streams back into `orphans`. So a crash leaves at worst streams
//!   listed in `orphans`, and [`Store::open`] deletes their chunks before anything is served:
//!   there is never a need to scan `chunks`.
//!   (Multipart parts are the exception that the sweep knows about: see [`multipart`].)
//! - A write is durable only after [`Store::flush`]: callers acknowledge nothing before it. A
//!   flush syncs the chunks before the records, so a durable record never names a chunk that
//!   is not. `power_loss_tests` cuts the power at every sync of a workload and checks this.
//! - Every record starts with a format version byte (see [`records`]).

pub mod chunks;
pub mod meta;
pub mod multipart;
pub mod records;
mod remote;
mod simulated;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::clock::unix_millis;
use records::{BucketRecord, ObjectRecord};

/// sled's log segment size. Values larger than about half a segment go to separate blob files
/// that sled 0.34 does not fsync, so this must stay well above the 64 KiB chunk size.
pub const SEGMENT_SIZE: usize = 8 << 20;

/// How long [`Store::open`] waits for a database lock held within this process.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// sled's I/O threads are shared by the whole process, and a write task can hold a database
/// that was just closed for a moment after its last handle is gone. Reopening in the same
/// process (an in-process restart, `verify` after a stop) waits for that instead of failing; a
/// database locked by another process is still refused, after [`LOCK_WAIT`].
fn open_waiting_for_lock(config: &sled::Config) -> Result<sled::Db> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

/// Length of a stream id. Do not change: it is part of every chunk key.
pub const STREAM_ID_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O error: {0}")]
    Io(String),
    /// A shared backend (database, object store) is down, slow or refusing: worth retrying.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
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

/// Identifies one encrypted stream (a PUT body or one uploaded part). Never reused. Any 16
/// bytes are a valid id (older stores hold fully random ones).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub [u8; STREAM_ID_LEN]);

impl StreamId {
    /// A new id: the creation time (nanoseconds since the Unix epoch, big-endian) followed by
    /// 8 random bytes. Chunk keys start with the stream id, so new streams begin at the end of
    /// the chunk tree instead of at random places in it: with random ids a new stream's first
    /// chunk often landed in front of a finished stream's chunks in the same leaf, and the
    /// split that followed moved (rewrote) up to half a MiB of them.
    pub fn fresh() -> std::result::Result<Self, crate::secret::RandomError> {
        let mut b = [0u8; STREAM_ID_LEN];
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b[..8].copy_from_slice(&nanos.to_be_bytes());
        crate::secret::fill_random(&mut b[8..])?;
        Ok(StreamId(b))
    }

    /// A fully random id (tests: ids as older stores hold them).
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

/// A stream's chunks in index order; see [`Store::chunk_cursor`].
pub struct ChunkCursor {
    inner: Box<dyn chunks::ChunkCursor>,
}

impl ChunkCursor {
    /// The next chunk of the stream that exists, as `(index, ciphertext)`; `None` past the last.
    pub fn next_chunk(&mut self) -> Result<Option<(u64, bytes::BytesMut)>> {
        self.inner.next_chunk()
    }
}

/// The tree of a bucket's object records.
fn objects_tree_name(bucket: &str) -> String {
    format!("obj/{bucket}")
}

const BUCKETS: &str = "buckets";
const ORPHANS: &str = "orphans";

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
    /// Every record (buckets, objects, uploads, orphans, KMS keys, IAM) behind the metadata
    /// seam (see [`meta`]).
    meta: meta::Meta,
    /// Ciphertext chunks, behind the chunk seam (see [`chunks`]).
    chunks: chunks::Chunks,
    /// Whether syncing the metadata also makes chunks durable (both in one sled database).
    chunks_synced_with_meta: bool,
    /// Replaced streams are deleted off the request path (a remote chunk store: each delete
    /// is a listing and a request per segment). Their `orphans` entries keep them safe.
    background_deletes: bool,
    /// Commits take it shared, bucket deletion exclusive: a commit cannot check that a tree is
    /// empty, so this keeps an object from landing in a bucket being deleted. In this process
    /// only: nodes sharing a metadata store need a bucket state in the record instead.
    bucket_gate: RwLock<()>,
    /// Group commit: see [`Store::flush`].
    flush: FlushState,
    /// Streams open for reading: see [`Store::pin_streams`].
    pins: Mutex<Pins>,
    /// Decoded bucket records with the bytes they were decoded from: every request reads its
    /// bucket's record, and a record with a bucket policy is kilobytes of escaped JSON. A hit
    /// needs the stored bytes to be equal, so a change made by anyone is seen at once.
    decoded_buckets: DecodedCache<BucketRecord>,
}

/// Decoded records kept with the bytes they were decoded from, for records read on every
/// request (a bucket's, with its policy; a KMS key's). A hit needs the stored bytes to be
/// equal, so a change made by anyone is seen at once; the map starts over at [`Self::MAX`].
pub struct DecodedCache<T> {
    map: RwLock<Decoded<T>>,
}

/// Key -> (the stored bytes, what they decode to).
type Decoded<T> = HashMap<Vec<u8>, (Vec<u8>, T)>;

impl<T: Clone> Default for DecodedCache<T> {
    fn default() -> Self {
        DecodedCache {
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<T: Clone> DecodedCache<T> {
    const MAX: usize = 4096;

    /// The record stored under `key` as `raw`, decoded by `decode` unless cached.
    pub fn get_or_decode<E>(
        &self,
        key: &[u8],
        raw: &[u8],
        decode: impl FnOnce(&[u8]) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        if let Some((bytes, rec)) = self.map.read().unwrap_or_else(|p| p.into_inner()).get(key)
            && bytes.as_slice() == raw
        {
            return Ok(rec.clone());
        }
        let rec = decode(raw)?;
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(key.to_vec(), (raw.to_vec(), rec.clone()));
        Ok(rec)
    }
}

/// Readers pin the streams they read, so a replaced or deleted object's chunks are not deleted
/// under a GET that is still sending them (S3 keeps serving the version a GET started on).
/// A pinned stream's deletion waits for its last reader; it stays listed in `orphans` until
/// then, so a crash in between still sweeps it.
#[derive(Default)]
struct Pins {
    readers: HashMap<StreamId, u32>,
    /// Deletions waiting for the last reader.
    deferred: HashSet<StreamId>,
    /// Deletions under way: a new reader must not pin these.
    deleting: HashSet<StreamId>,
}

/// Held by a reader for as long as it reads; dropping it runs deletions that waited for it.
pub struct StreamPins {
    store: Store,
    ids: Vec<StreamId>,
}

impl Drop for StreamPins {
    fn drop(&mut self) {
        let due: Vec<StreamId> = {
            let mut p = self.store.lock_pins();
            let mut due = Vec::new();
            for id in &self.ids {
                let left = match p.readers.get_mut(id) {
                    Some(n) => {
                        *n = n.saturating_sub(1);
                        *n
                    }
                    None => 0,
                };
                if left == 0 {
                    p.readers.remove(id);
                    if p.deferred.remove(id) {
                        due.push(*id);
                    }
                }
            }
            due
        };
        for id in due {
            if let Err(e) = self.store.delete_stream(&id) {
                // Still listed in `orphans`: the next start-up sweep removes it.
                tracing::warn!(error = %e, "could not delete a stream after its last reader");
            }
        }
    }
}

/// Group commit for [`Store::flush`]. sled 0.34.7's own `flush_async` can deadlock when several
/// callers await it at once (sled issues #1241, #1308: fixed upstream, never released), so
/// flushes are ours: one synchronous `Db::flush` at a time on a blocking thread, and a caller
/// whose writes a flush already covered returns without flushing again.
struct FlushState {
    /// Tickets handed out: a caller's writes happened before it took its ticket.
    requested: AtomicU64,
    /// Every ticket up to this value is durable.
    durable: AtomicU64,
    /// Held while a flush runs.
    running: tokio::sync::Mutex<()>,
}

/// A generic ordered key-value table, for modules (the KMS) that keep their own records.
#[derive(Clone)]
pub struct Table {
    meta: meta::Meta,
    name: String,
}

impl Store {
    /// Opens (or creates) the database at `dir` and removes chunks of streams left unreferenced
    /// by a crash.
    pub fn open(dir: &Path, opts: &StoreOptions) -> Result<Store> {
        let store = Self::open_unswept(dir, opts)?;
        let swept = store.sweep_orphans()?;
        if swept > 0 {
            tracing::info!(
                streams = swept,
                "removed unreferenced streams left by an interrupted write"
            );
        }
        Ok(store)
    }

    /// Opens the database without sweeping, so `coffer verify` can report what a crash left.
    /// Not for serving: streams listed in `orphans` still have their chunks.
    pub fn open_unswept(dir: &Path, opts: &StoreOptions) -> Result<Store> {
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(opts.cache_capacity)
            .segment_size(SEGMENT_SIZE)
            .mode(sled::Mode::HighThroughput);
        let db = open_waiting_for_lock(&config)?;
        let chunks = chunks::Chunks::new(chunks::SledChunks::new(db.open_tree("chunks")?));
        Ok(Store::assemble(
            meta::Meta::new(meta::SledMeta::new(db)),
            chunks,
            true,
        ))
    }

    /// A store over the given backends, swept as [`Store::open`] sweeps.
    pub fn over(meta: meta::Meta, chunks: chunks::Chunks) -> Result<Store> {
        let store = Store::assemble(meta, chunks, false);
        store.sweep_orphans()?;
        Ok(store)
    }

    /// A store over the backends the config names: `None` is the sled database at `dir`
    /// (opened once, whichever of the two uses it). Not swept: see
    /// [`Store::sweep_orphans_older_than`].
    pub fn open_backends(
        dir: &Path,
        opts: &StoreOptions,
        meta: Option<meta::Meta>,
        chunks: Option<chunks::Chunks>,
    ) -> Result<Store> {
        let sled_db = || -> Result<sled::Db> {
            let config = sled::Config::new()
                .path(dir)
                .cache_capacity(opts.cache_capacity)
                .segment_size(SEGMENT_SIZE)
                .mode(sled::Mode::HighThroughput);
            open_waiting_for_lock(&config)
        };
        let (meta, chunks) = match (meta, chunks) {
            (Some(m), Some(c)) => (m, c),
            (Some(m), None) => {
                let db = sled_db()?;
                let c = chunks::Chunks::new(chunks::SledChunks::new(db.open_tree("chunks")?));
                (m, c)
            }
            (None, Some(c)) => (meta::Meta::new(meta::SledMeta::new(sled_db()?)), c),
            (None, None) => return Self::open_unswept(dir, opts),
        };
        let mut store = Store::assemble(meta, chunks, false);
        if let Some(inner) = Arc::get_mut(&mut store.inner) {
            inner.background_deletes = inner.chunks.backend() != "sled";
        }
        Ok(store)
    }

    /// Deletes the chunks of streams that became unreferenced (or started and never
    /// committed) before `cutoff_ms`; answers how many. On a store other nodes share, a young
    /// orphan may be another node's write in progress: sweep only those older than any write
    /// can take.
    pub fn sweep_orphans_older_than(&self, cutoff_ms: u64) -> Result<usize> {
        let parts = self.part_stream_ids()?;
        let mut swept = 0;
        for kv in self.meta().iter_prefix(ORPHANS, b"") {
            let (k, v) = kv?;
            let (Ok(id), Ok(at)) = (
                <[u8; STREAM_ID_LEN]>::try_from(k.as_slice()),
                <[u8; 8]>::try_from(v.as_slice()),
            ) else {
                continue;
            };
            let s = StreamId(id);
            if u64::from_be_bytes(at) >= cutoff_ms {
                continue;
            }
            if parts.contains(&s) {
                self.meta().remove(ORPHANS, &s.0)?;
            } else {
                self.delete_stream(&s)?;
                swept += 1;
            }
        }
        Ok(swept)
    }

    fn assemble(meta: meta::Meta, chunks: chunks::Chunks, chunks_synced_with_meta: bool) -> Store {
        Store {
            inner: Arc::new(Inner {
                meta,
                chunks,
                chunks_synced_with_meta,
                background_deletes: false,
                bucket_gate: RwLock::new(()),
                pins: Mutex::new(Pins::default()),
                decoded_buckets: DecodedCache::default(),
                flush: FlushState {
                    requested: AtomicU64::new(0),
                    durable: AtomicU64::new(0),
                    running: tokio::sync::Mutex::new(()),
                },
            }),
        }
    }

    /// Makes every write before this call durable.
    pub async fn flush(&self) -> Result<()> {
        let f = &self.inner.flush;
        let ticket = f.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = f.running.lock().await;
        if f.durable.load(Ordering::SeqCst) >= ticket {
            // A flush that started after our writes finished while we waited.
            return Ok(());
        }
        // Every ticket taken so far belongs to writes that are already in sled's log.
        let covers = f.requested.load(Ordering::SeqCst);
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.sync())
            .await
            .map_err(|e| StorageError::Io(format!("flush task failed: {e}")))??;
        f.durable.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }

    /// Chunks first, then records: a record made durable never names a chunk that is not.
    fn sync(&self) -> Result<()> {
        if !self.inner.chunks_synced_with_meta {
            self.inner.chunks.sync()?;
        }
        self.inner.meta.sync()
    }

    /// A named table for records owned by another module. Names starting with `obj/` and the
    /// names of the trees in the module docs are reserved.
    pub fn table(&self, name: &str) -> Result<Table> {
        debug_assert!(!name.starts_with("obj/"));
        Ok(Table {
            meta: self.inner.meta.clone(),
            name: name.to_owned(),
        })
    }

    /// The metadata store (the seam every record kind moves behind; see [`meta`]).
    pub fn meta(&self) -> &meta::Meta {
        &self.inner.meta
    }

    // ---- streams and chunks ----

    /// Registers a new stream as in flight (in `orphans`) and returns its id.
    pub fn begin_stream(&self, now_millis: u64) -> Result<StreamId> {
        let id = StreamId::fresh().map_err(|e| StorageError::Io(e.to_string()))?;
        self.meta().put(ORPHANS, &id.0, &now_millis.to_be_bytes())?;
        Ok(id)
    }

    pub fn put_chunk(&self, stream: &StreamId, index: u64, value: &[u8]) -> Result<()> {
        self.inner.chunks.put(stream, index, value)
    }

    /// Appends a batch of a stream's chunks (see [`chunks::ChunkStore::append`]).
    pub fn append_chunks(
        &self,
        stream: &StreamId,
        first: u64,
        chunks: &[Vec<u8>],
        ends_stream: bool,
    ) -> Result<()> {
        self.inner.chunks.append(stream, first, chunks, ends_stream)
    }

    pub fn get_chunk(&self, stream: &StreamId, index: u64) -> Result<Option<Vec<u8>>> {
        self.inner.chunks.get(stream, index)
    }

    /// Reads a stream's chunks in index order starting at `first`. Sequential readers (GET)
    /// use this rather than [`Store::get_chunk`]: sled's cursor keeps the leaf it is reading
    /// (a leaf holds several chunks), so each leaf is fetched once per reader even when the
    /// page cache has evicted it meanwhile, and a reader costs one page lookup per leaf instead
    /// of one per chunk.
    pub fn chunk_cursor(&self, stream: &StreamId, first: u64) -> Result<ChunkCursor> {
        Ok(ChunkCursor {
            inner: self.inner.chunks.cursor(stream, first)?,
        })
    }

    /// Deletes the streams (as [`Store::delete_stream`]), on a blocking thread when the chunk
    /// store is remote and a runtime is at hand, so the request that replaced them does not
    /// wait. Failures are logged: the streams stay in `orphans` and a later start sweeps them.
    pub fn delete_streams_soon(&self, streams: Vec<StreamId>) {
        let run = |store: &Store, streams: &[StreamId]| {
            for s in streams {
                if let Err(e) = store.delete_stream(s) {
                    tracing::warn!(error = %e, "could not delete an unreferenced stream");
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if self.inner.background_deletes => {
                let store = self.clone();
                h.spawn_blocking(move || run(&store, &streams));
            }
            _ => run(self, &streams),
        }
    }

    /// Deletes every chunk of a stream, then its `orphans` entry. The stream stays in `orphans`
    /// until its last chunk is gone, so an interrupted delete is finished at start-up.
    pub fn delete_stream(&self, stream: &StreamId) -> Result<()> {
        {
            let mut p = self.lock_pins();
            if p.readers.get(stream).is_some_and(|n| *n > 0) {
                p.deferred.insert(*stream);
                return Ok(());
            }
            p.deleting.insert(*stream);
        }
        let result = self.delete_stream_chunks(stream);
        self.lock_pins().deleting.remove(stream);
        result
    }

    fn delete_stream_chunks(&self, stream: &StreamId) -> Result<()> {
        self.inner.chunks.delete_stream(stream)?;
        self.meta().remove(ORPHANS, &stream.0)?;
        Ok(())
    }

    fn lock_pins(&self) -> std::sync::MutexGuard<'_, Pins> {
        // The registry holds only counters and sets that every step leaves consistent, so a
        // panic elsewhere while it was locked leaves nothing half-done: go on with it.
        self.inner.pins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pins `ids` for reading. `None` when any of them is being or has been deleted (the
    /// record the caller read was replaced meanwhile: read it again).
    pub fn pin_streams(&self, ids: &[StreamId]) -> Result<Option<StreamPins>> {
        {
            let mut p = self.lock_pins();
            if ids
                .iter()
                .any(|id| p.deleting.contains(id) || p.deferred.contains(id))
            {
                return Ok(None);
            }
            for id in ids {
                *p.readers.entry(*id).or_insert(0) += 1;
            }
        }
        let pins = StreamPins {
            store: self.clone(),
            ids: ids.to_vec(),
        };
        // Deleted completely before we pinned: every stream has a chunk 0 while it exists.
        for id in ids {
            if !self.inner.chunks.contains(id, 0)? {
                return Ok(None);
            }
        }
        Ok(Some(pins))
    }

    /// Number of chunks stored for a stream (tests and `verify`).
    pub fn count_chunks(&self, stream: &StreamId) -> Result<u64> {
        self.inner.chunks.count(stream)
    }

    /// Streams currently listed as unreferenced or in flight.
    pub fn orphan_streams(&self) -> Result<Vec<StreamId>> {
        let mut out = Vec::new();
        for kv in self.meta().iter_prefix(ORPHANS, b"") {
            let (k, _) = kv?;
            if let Ok(arr) = <[u8; STREAM_ID_LEN]>::try_from(k.as_ref()) {
                out.push(StreamId(arr));
            }
        }
        Ok(out)
    }

    /// Every distinct stream id that has chunks (a full scan: tests and `verify` only).
    pub fn all_chunk_streams(&self) -> Result<Vec<StreamId>> {
        self.inner.chunks.streams()
    }

    fn sweep_orphans(&self) -> Result<usize> {
        // Multipart parts are recorded without a transaction: an orphan a part still references
        // is kept (see `multipart::Store::commit_part`). Listed first: stray part entries move
        // their streams into `orphans` here.
        let parts = self.part_stream_ids()?;
        let orphans = self.orphan_streams()?;
        let mut swept = 0;
        for s in &orphans {
            if parts.contains(s) {
                self.meta().remove(ORPHANS, &s.0)?;
            } else {
                self.delete_stream(s)?;
                swept += 1;
            }
        }
        Ok(swept)
    }

    // ---- buckets ----

    pub fn create_bucket(&self, name: &str, record: &BucketRecord) -> Result<()> {
        let _gate = self.gate_exclusive();
        if !self
            .meta()
            .insert_if_absent(BUCKETS, name.as_bytes(), &record.encode())?
        {
            return Err(StorageError::BucketExists);
        }
        Ok(())
    }

    pub fn get_bucket(&self, name: &str) -> Result<Option<BucketRecord>> {
        let Some(v) = self.meta().get(BUCKETS, name.as_bytes())? else {
            return Ok(None);
        };
        self.inner
            .decoded_buckets
            .get_or_decode(name.as_bytes(), &v, BucketRecord::decode)
            .map(Some)
    }

    pub fn list_buckets(&self) -> Result<Vec<(String, BucketRecord)>> {
        let mut out = Vec::new();
        for kv in self.meta().iter_prefix(BUCKETS, b"") {
            let (k, v) = kv?;
            let name = String::from_utf8(k)
                .map_err(|_| StorageError::Corrupt("bucket name is not UTF-8".into()))?;
            out.push((name, BucketRecord::decode(&v)?));
        }
        Ok(out)
    }

    /// Replaces a bucket's record (configuration changes); fails if the bucket is gone.
    pub fn update_bucket(&self, name: &str, record: &BucketRecord) -> Result<()> {
        let _gate = self.gate_shared();
        let old = self.bucket_bytes(name)?;
        if self.meta().compare_and_swap(
            BUCKETS,
            name.as_bytes(),
            Some(&old),
            Some(&record.encode()),
        )? {
            Ok(())
        } else {
            Err(StorageError::PreconditionFailed)
        }
    }

    /// Deletes a bucket that holds no object (`BucketNotEmpty` otherwise). Uploads in progress
    /// do not keep it (as in AWS): they go with the bucket record in one commit that puts
    /// their parts' streams into `orphans` (see [`multipart`]). Returns what to reclaim after a
    /// flush.
    pub fn delete_bucket(&self, name: &str) -> Result<multipart::DiscardedUploads> {
        // Exclusive: on this node, no object lands and no upload starts in the bucket until it
        // is gone. Other nodes sharing the metadata store are kept out by the mark below.
        let _gate = self.gate_exclusive();
        for _ in 0..8 {
            if let Some(done) = self.try_delete_bucket(name)? {
                return Ok(done);
            }
        }
        Err(StorageError::PreconditionFailed)
    }

    /// One attempt; `None` when a concurrent change of the record came between.
    fn try_delete_bucket(&self, name: &str) -> Result<Option<multipart::DiscardedUploads>> {
        let Some(old) = self.meta().get(BUCKETS, name.as_bytes())? else {
            return Err(StorageError::NoSuchBucket);
        };
        // Mark the record first: every commit that adds to the bucket checks the record's
        // bytes and refuses a marked one, so once the mark is stored, whatever the scan below
        // does not see cannot land any more.
        let mut rec = BucketRecord::decode(&old)?;
        rec.deleting_since_ms = Some(unix_millis(std::time::SystemTime::now()));
        let marked = rec.encode();
        if !self
            .meta()
            .compare_and_swap(BUCKETS, name.as_bytes(), Some(&old), Some(&marked))?
        {
            return Ok(None);
        }
        let tree = objects_tree_name(name);
        if !self.meta().is_empty(&tree)? {
            // Not ours to delete: take the mark back (if it is still ours).
            self.meta()
                .compare_and_swap(BUCKETS, name.as_bytes(), Some(&marked), Some(&old))?;
            return Err(StorageError::BucketNotEmpty);
        }
        let Some(discarded) = self.remove_bucket_with_uploads(name, &marked)? else {
            return Ok(None);
        };
        self.meta().clear_tree(&tree)?;
        Ok(Some(discarded))
    }

    /// The bucket's record as stored, or `NoSuchBucket` (also while a DeleteBucket runs):
    /// commits that need the bucket to stand check these bytes.
    fn bucket_bytes(&self, bucket: &str) -> Result<Vec<u8>> {
        let v = self
            .meta()
            .get(BUCKETS, bucket.as_bytes())?
            .ok_or(StorageError::NoSuchBucket)?;
        let rec = self.inner.decoded_buckets.get_or_decode(
            bucket.as_bytes(),
            &v,
            BucketRecord::decode,
        )?;
        if rec.is_being_deleted(unix_millis(std::time::SystemTime::now())) {
            return Err(StorageError::NoSuchBucket);
        }
        Ok(v)
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
        // A stored object means its bucket stands (a bucket is deleted only empty, and its
        // tree with it), so only a miss asks which error it is: one read per hit, not two.
        match self
            .meta()
            .get(&objects_tree_name(bucket), key.as_bytes())?
        {
            Some(v) => Ok(Some(ObjectRecord::decode(&v)?)),
            None => {
                self.bucket_bytes(bucket)?;
                Ok(None)
            }
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
        let _gate = self.gate_shared();
        let tree = objects_tree_name(bucket);
        let encoded = record.encode();
        let new_streams = record.stream_ids();
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        loop {
            let bucket_now = self.bucket_bytes(bucket)?;
            let old_bytes = self.meta().get(&tree, key.as_bytes())?;
            let old = old_bytes.as_deref().map(ObjectRecord::decode).transpose()?;
            check(old.as_ref())?;
            let mut c = meta::Commit::new()
                .check(BUCKETS, bucket.as_bytes(), Some(&bucket_now))
                .check(&tree, key.as_bytes(), old_bytes.as_deref())
                .put(&tree, key.as_bytes(), &encoded);
            for s in &new_streams {
                c = c.delete(ORPHANS, &s.0);
            }
            for s in old.iter().flat_map(ObjectRecord::stream_ids) {
                if !new_streams.contains(&s) {
                    c = c.put(ORPHANS, &s.0, &now);
                }
            }
            if self.meta().commit(&c)? {
                return Ok(old);
            }
            // Another writer came between the reads and the commit: judge again.
        }
    }

    /// Atomically removes `bucket/key`, putting its streams into `orphans`. Returns the removed
    /// record (`None` if there was none); the caller deletes its streams after flushing.
    pub fn remove_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>> {
        let _gate = self.gate_shared();
        self.bucket_bytes(bucket)?;
        let tree = objects_tree_name(bucket);
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        loop {
            let Some(old_bytes) = self.meta().get(&tree, key.as_bytes())? else {
                return Ok(None);
            };
            let old = ObjectRecord::decode(&old_bytes)?;
            let mut c = meta::Commit::new()
                .check(&tree, key.as_bytes(), Some(&old_bytes))
                .delete(&tree, key.as_bytes());
            for s in old.stream_ids() {
                c = c.put(ORPHANS, &s.0, &now);
            }
            if self.meta().commit(&c)? {
                return Ok(Some(old));
            }
        }
    }

    /// Object records of a bucket in key order, starting at the first key `>= start`.
    pub fn list_objects_from(
        &self,
        bucket: &str,
        start: &[u8],
    ) -> Result<impl Iterator<Item = Result<(String, ObjectRecord)>> + use<>> {
        self.bucket_bytes(bucket)?;
        let pages = self.meta().iter_from(&objects_tree_name(bucket), start);
        Ok(pages.map(|kv| {
            let (k, v) = kv?;
            let key = String::from_utf8(k)
                .map_err(|_| StorageError::Corrupt("object key is not UTF-8".into()))?;
            Ok((key, ObjectRecord::decode(&v)?))
        }))
    }
}

impl Table {
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.meta.get(&self.name, key)
    }

    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.meta.insert(&self.name, key, value)
    }

    /// Inserts only if `key` is absent; `true` when it inserted.
    pub fn insert_if_absent(&self, key: &[u8], value: &[u8]) -> Result<bool> {
        self.meta.insert_if_absent(&self.name, key, value)
    }

    /// Replaces `old` with `new` atomically (either may be `None`); `false` if the current
    /// value was not `old`.
    pub fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        self.meta.compare_and_swap(&self.name, key, old, new)
    }

    pub fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.meta.remove(&self.name, key)
    }

    /// All entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> meta::Pages {
        self.meta.iter_prefix(&self.name, prefix)
    }

    /// Entries with key `>= start`, in key order.
    pub fn range_from(&self, start: &[u8]) -> meta::Pages {
        self.meta.iter_from(&self.name, start)
    }
}

#[cfg(test)]
mod power_loss_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks the size Coffer writes, interleaved across streams: leaves split by bytes (the
    /// vendored sled's patch), and a cursor reads one stream in order from any chunk, stops at
    /// the stream's end and yields gaps as they are; all of it again after a reopen.
    #[test]
    fn chunk_cursors_read_streams_of_large_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = |s: u8, i: u64| vec![s ^ (i as u8); 64 * 1024 + 16];
        let ids: Vec<StreamId> = {
            let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
            let ids: Vec<StreamId> = (0..3).map(|n| store.begin_stream(n).unwrap()).collect();
            for i in 0..40u64 {
                for (s, id) in ids.iter().enumerate() {
                    if !(s == 1 && i == 7) {
                        store.put_chunk(id, i, &chunk(s as u8, i)).unwrap();
                    }
                }
            }
            store.sync().unwrap();
            ids
        };
        // Unswept: `open` would reclaim these streams, which no object refers to.
        let store = Store::open_unswept(dir.path(), &StoreOptions::default()).unwrap();
        let read_all = |s: usize, first: u64| {
            let mut cursor = store.chunk_cursor(&ids[s], first).unwrap();
            let mut out = Vec::new();
            while let Some((i, v)) = cursor.next_chunk().unwrap() {
                assert_eq!(v, chunk(s as u8, i), "stream {s} chunk {i}");
                out.push(i);
            }
            out
        };
        assert_eq!(read_all(0, 0), (0..40).collect::<Vec<_>>());
        assert_eq!(read_all(2, 33), (33..40).collect::<Vec<_>>());
        let gap: Vec<u64> = (5..40).filter(|i| *i != 7).collect();
        assert_eq!(read_all(1, 5), gap);
        assert_eq!(store.get_chunk(&ids[1], 8).unwrap(), Some(chunk(1, 8)));
        assert_eq!(store.get_chunk(&ids[1], 7).unwrap(), None);
    }

    /// New stream ids sort by creation time (so new chunks go to the end of the chunk tree)
    /// and stay unique within one clock tick.
    #[test]
    fn fresh_stream_ids_sort_by_creation_and_are_unique() {
        let first = StreamId::fresh().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let burst: Vec<StreamId> = (0..1000).map(|_| StreamId::fresh().unwrap()).collect();
        assert!(burst.iter().all(|id| *id > first));
        let distinct: std::collections::HashSet<_> = burst.iter().collect();
        assert_eq!(distinct.len(), burst.len());
    }

    /// Regression: a leaf of full chunks ending in a short one (a stream's last chunk) must
    /// split so that neither half merges straight back. The first version of the split-link
    /// patch moved only the short chunk right, the new leaf merged back at once, and one
    /// insert or delete after it split and merged forever, writing the log until the disk was
    /// full (seen in the crash test's orphan sweep). Bounded so a regression fails, not hangs.
    #[test]
    fn appends_after_a_short_chunk_split_once() {
        let dir = tempfile::tempdir().unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let path = dir.path().to_owned();
        std::thread::spawn(move || {
            let store = Store::open(&path, &StoreOptions::default()).unwrap();
            let full = vec![1u8; 64 * 1024 + 16];
            let ids: Vec<StreamId> = (0..4).map(|n| store.begin_stream(n).unwrap()).collect();
            for id in &ids {
                // A leaf of chunks 0-7 (full) and 8 (short), then an insert after them all.
                for i in 0..7u64 {
                    store.put_chunk(id, i, &full).unwrap();
                }
                store.put_chunk(id, 8, b"short").unwrap();
                store.put_chunk(id, 7, &full).unwrap();
                store.put_chunk(id, 9, &full).unwrap();
            }
            for id in &ids {
                store.delete_stream(id).unwrap();
            }
            let left: u64 = ids.iter().map(|id| store.count_chunks(id).unwrap()).sum();
            done.send(left).unwrap();
        });
        let left = finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("inserts and deletes around a short chunk finish");
        assert_eq!(left, 0);
    }

    /// Regression: with sled's `flush_async`, concurrent flushes could hang forever (seen as
    /// `aws s3 rm --recursive` timing out: ten DELETEs flushing at once).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flushes_all_complete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        let mut tasks = Vec::new();
        for i in 0..64u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for j in 0..8u64 {
                    let s = store.begin_stream(i * 100 + j).unwrap();
                    store.put_chunk(&s, 0, &[i as u8; 1000]).unwrap();
                    store.flush().await.unwrap();
                }
            }));
        }
        let all = async {
            for t in tasks {
                t.await.unwrap();
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(120), all)
            .await
            .expect("every flush completes");
        let f = &store.inner.flush;
        assert_eq!(
            f.durable.load(Ordering::SeqCst),
            f.requested.load(Ordering::SeqCst)
        );
    }
}
