//! The chunk seam: ciphertext chunks stored, read and deleted by stream id and chunk index.
//!
//! [`ChunkStore`] is what a backend implements; [`Chunks`] is the facade the store holds. A
//! chunk is written once and never changes (a stream id is never reused), so a backend needs
//! no overwrite semantics beyond "the last put wins", and readers may cache freely. Only
//! ciphertext and the opaque 16-byte stream id ever reach a backend: no bucket name, object
//! key, metadata or plaintext.
//!
//! Backends: [`SledChunks`] (the default: the `chunks` tree of the one sled database, keys
//! `stream id ‖ u64be index`, as every store written so far holds them). The shared test
//! suite (`conformance` in this module's tests) is what a backend must pass.
//!
//! Like the metadata seam the trait is synchronous (the body pipeline calls it from the
//! encrypting and decrypting loops); see [`super::meta`].

mod s3;
pub use s3::{S3Chunks, S3Options, SEGMENT_CHUNKS};

use bytes::BytesMut;

use super::simulated::{Simulated, State};
use super::{Result, STREAM_ID_LEN, StorageError, StreamId};

/// A stream's chunks in index order, from the index the cursor was opened at; indexes with no
/// chunk are skipped.
pub trait ChunkCursor: Send {
    /// The next chunk that exists, as `(index, ciphertext)`; `None` past the last. The buffer
    /// is the caller's to decrypt in place (a backend may hand out pieces of one larger read).
    fn next_chunk(&mut self) -> Result<Option<(u64, BytesMut)>>;
}

/// Where ciphertext chunks live: what a chunk backend implements.
pub trait ChunkStore: Send + Sync {
    /// The backend's name, for logs and errors (`sled`, `s3`).
    fn backend(&self) -> &'static str;

    fn put(&self, stream: &StreamId, index: u64, chunk: &[u8]) -> Result<()>;

    /// Appends chunks `first, first + 1, …` of `stream`, as the stream's one writer does:
    /// streams are written once, in index order, and their ids are never reused, so a backend
    /// may assume no chunk of `stream` exists at or after `first`. `ends_stream`: these are the
    /// stream's last chunks (a backend may note it, so readers need not look further).
    fn append(
        &self,
        stream: &StreamId,
        first: u64,
        chunks: &[Vec<u8>],
        ends_stream: bool,
    ) -> Result<()> {
        let _ = ends_stream;
        for (i, c) in chunks.iter().enumerate() {
            self.put(stream, first + i as u64, c)?;
        }
        Ok(())
    }

    fn get(&self, stream: &StreamId, index: u64) -> Result<Option<Vec<u8>>>;

    /// Whether the chunk exists (without reading it where the backend can).
    fn contains(&self, stream: &StreamId, index: u64) -> Result<bool> {
        Ok(self.get(stream, index)?.is_some())
    }

    /// Reads `stream` in index order from `first`. Sequential readers use this rather than
    /// [`ChunkStore::get`]: a backend may read ahead or keep what it fetched together.
    fn cursor(&self, stream: &StreamId, first: u64) -> Result<Box<dyn ChunkCursor>>;

    /// Deletes every chunk of `stream` (none is an answer too).
    fn delete_stream(&self, stream: &StreamId) -> Result<()>;

    /// Number of chunks `stream` has (tests and `coffer verify`).
    fn count(&self, stream: &StreamId) -> Result<u64>;

    /// Every distinct stream that has chunks, ascending (a full scan: tests and `verify`).
    fn streams(&self) -> Result<Vec<StreamId>>;

    /// Makes every put before this call durable.
    fn sync(&self) -> Result<()>;
}

/// The chunk store as the store holds it. Cheap to clone.
#[derive(Clone)]
pub struct Chunks {
    inner: std::sync::Arc<dyn ChunkStore>,
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunks")
            .field("backend", &self.inner.backend())
            .finish()
    }
}

impl std::ops::Deref for Chunks {
    type Target = dyn ChunkStore;

    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}

impl Chunks {
    pub fn new(store: impl ChunkStore + 'static) -> Chunks {
        Chunks {
            inner: std::sync::Arc::new(store),
        }
    }
}

// ---- sled ----

/// The key of one chunk: stream id, then the index big-endian (so a stream's chunks are
/// adjacent and in order). Do not change: every stored chunk is keyed so.
fn chunk_key(stream: &StreamId, index: u64) -> [u8; STREAM_ID_LEN + 8] {
    let mut k = [0u8; STREAM_ID_LEN + 8];
    k[..STREAM_ID_LEN].copy_from_slice(&stream.0);
    k[STREAM_ID_LEN..].copy_from_slice(&index.to_be_bytes());
    k
}

/// [`ChunkStore`] over one sled tree (the default backend).
pub struct SledChunks {
    tree: sled::Tree,
}

impl SledChunks {
    pub fn new(tree: sled::Tree) -> SledChunks {
        SledChunks { tree }
    }
}

/// Chunks are written once and never change, and a reader's stream pin keeps them from being
/// deleted, so the leaf the iterator holds stays current: each leaf (several chunks) is
/// fetched once per reader even when the page cache evicted it meanwhile.
struct SledCursor {
    iter: sled::Iter,
}

impl ChunkCursor for SledCursor {
    fn next_chunk(&mut self) -> Result<Option<(u64, BytesMut)>> {
        let Some((key, value)) = self.iter.next().transpose()? else {
            return Ok(None);
        };
        let index = key
            .get(STREAM_ID_LEN..)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| StorageError::Corrupt("chunk key has the wrong length".into()))?;
        Ok(Some((index, BytesMut::from(&value[..]))))
    }
}

impl ChunkStore for SledChunks {
    fn backend(&self) -> &'static str {
        "sled"
    }

    fn put(&self, stream: &StreamId, index: u64, chunk: &[u8]) -> Result<()> {
        self.tree.insert(chunk_key(stream, index), chunk)?;
        Ok(())
    }

    fn get(&self, stream: &StreamId, index: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(chunk_key(stream, index))?.map(|v| v.to_vec()))
    }

    fn contains(&self, stream: &StreamId, index: u64) -> Result<bool> {
        Ok(self.tree.contains_key(chunk_key(stream, index))?)
    }

    fn cursor(&self, stream: &StreamId, first: u64) -> Result<Box<dyn ChunkCursor>> {
        Ok(Box::new(SledCursor {
            iter: self
                .tree
                .range(chunk_key(stream, first)..=chunk_key(stream, u64::MAX)),
        }))
    }

    /// One remove per chunk, not a `Batch`: sled 0.34 batches and transactions take a global
    /// write lock, and with streams being written concurrently that lock can deadlock against
    /// sled's own flusher (observed under a multi-GiB multipart upload).
    fn delete_stream(&self, stream: &StreamId) -> Result<()> {
        for k in self.tree.scan_prefix(stream.0).keys() {
            self.tree.remove(k?)?;
        }
        Ok(())
    }

    fn count(&self, stream: &StreamId) -> Result<u64> {
        let mut n = 0;
        for k in self.tree.scan_prefix(stream.0).keys() {
            k?;
            n += 1;
        }
        Ok(n)
    }

    fn streams(&self) -> Result<Vec<StreamId>> {
        let mut out: Vec<StreamId> = Vec::new();
        for k in self.tree.iter().keys() {
            let k = k?;
            let id = k
                .get(..STREAM_ID_LEN)
                .filter(|_| k.len() == STREAM_ID_LEN + 8)
                .and_then(|b| <[u8; STREAM_ID_LEN]>::try_from(b).ok())
                .ok_or_else(|| StorageError::Corrupt("chunk key of wrong length".into()))?;
            if out.last().map(|l| l.0) != Some(id) {
                out.push(StreamId(id));
            }
        }
        Ok(out)
    }

    fn sync(&self) -> Result<()> {
        self.tree.flush()?;
        Ok(())
    }
}

// ---- memory, with simulated power loss ----

type ChunkMap = std::collections::BTreeMap<(StreamId, u64), Vec<u8>>;

/// [`ChunkStore`] in memory, for tests, with the power-loss simulation of
/// [`super::meta::MemMeta`]. Clones share the state.
#[derive(Clone, Default)]
pub struct MemChunks {
    disk: Simulated<ChunkMap>,
}

impl MemChunks {
    pub fn new() -> MemChunks {
        MemChunks::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<ChunkMap>> {
        self.disk.lock()
    }

    /// Syncs after the `n`th stop making anything durable.
    pub fn freeze_durability_after(&self, n: u64) {
        self.disk.freeze_durability_after(n);
    }

    pub fn syncs(&self) -> u64 {
        self.disk.syncs()
    }

    /// What a restart after a power cut now would find.
    pub fn after_power_loss(&self) -> MemChunks {
        MemChunks {
            disk: self.disk.after_power_loss(),
        }
    }

    fn stream(&self, stream: &StreamId, first: u64) -> Vec<(u64, BytesMut)> {
        self.lock()
            .live
            .range((*stream, first)..=(*stream, u64::MAX))
            .map(|((_, i), v)| (*i, BytesMut::from(&v[..])))
            .collect()
    }
}

/// A snapshot of a stream's chunks taken when the cursor opened.
struct MemCursor {
    chunks: std::vec::IntoIter<(u64, BytesMut)>,
}

impl ChunkCursor for MemCursor {
    fn next_chunk(&mut self) -> Result<Option<(u64, BytesMut)>> {
        Ok(self.chunks.next())
    }
}

impl ChunkStore for MemChunks {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn put(&self, stream: &StreamId, index: u64, chunk: &[u8]) -> Result<()> {
        self.lock().live.insert((*stream, index), chunk.to_vec());
        Ok(())
    }

    fn get(&self, stream: &StreamId, index: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().live.get(&(*stream, index)).cloned())
    }

    fn cursor(&self, stream: &StreamId, first: u64) -> Result<Box<dyn ChunkCursor>> {
        Ok(Box::new(MemCursor {
            chunks: self.stream(stream, first).into_iter(),
        }))
    }

    fn delete_stream(&self, stream: &StreamId) -> Result<()> {
        self.lock().live.retain(|(s, _), _| s != stream);
        Ok(())
    }

    fn count(&self, stream: &StreamId) -> Result<u64> {
        Ok(self.stream(stream, 0).len() as u64)
    }

    fn streams(&self) -> Result<Vec<StreamId>> {
        let mut out: Vec<StreamId> = self.lock().live.keys().map(|(s, _)| *s).collect();
        out.dedup();
        Ok(out)
    }

    fn sync(&self) -> Result<()> {
        self.disk.sync();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
