//! [`ChunkStore`] over any S3-compatible object store (SeaweedFS, MinIO, Garage, Ceph RGW,
//! AWS S3), so several Coffer nodes share one chunk store.
//!
//! Chunks are packed: [`SEGMENT_CHUNKS`] consecutive chunks of a stream (1 MiB of plaintext)
//! are one upstream object, so a 1 MiB object costs one upstream PUT and one GET, not sixteen
//! (an object store's cost is mostly per request). Segment `n` of a stream holds chunks
//! `16n .. 16n+15` and is named `<prefix><stream id, 32 hex>/<n, 16 hex>`; nothing else reaches
//! the store: no bucket name, object key, metadata or plaintext, only ciphertext and opaque
//! ids. A segment's bytes ([`Segment`]; do not change, add a version):
//!
//! ```text
//! "CSG" | version 1 (u8) | flags (u8: bit 0 = the stream ends in this segment)
//!       | present (u16 BE: bit i set = chunk 16n+i is here)
//!       | length (u32 BE) of each present chunk, in slot order | the chunks, in slot order
//! ```
//!
//! Writes: the stream's writer appends whole batches ([`ChunkStore::append`]), which start at a
//! segment boundary, so each segment is written whole, once, without reading it first. A single
//! [`ChunkStore::put`] (tests, repairs) reads the segment, changes it and writes it back.
//! An upstream PUT is durable when acknowledged, so [`ChunkStore::sync`] has nothing to do and
//! the record that names a chunk is only committed after the chunk's PUT returned.
//!
//! Requests are SigV4-signed (path-style, `UNSIGNED-PAYLOAD`: every chunk is AES-GCM
//! authenticated, so a corrupted body fails its tag when read) over pooled HTTP/1.1 keep-alive
//! connections ([`crate::transport::client`]). Every call has a deadline; an upstream that is
//! down, slow or answers 5xx gives [`StorageError::Unavailable`] (S3's 503 to the client). The
//! endpoint is plain HTTP: TLS to the upstream is not spoken yet.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::sync::Semaphore;

use super::{ChunkCursor, ChunkStore};
use crate::secret::SecretString;
use crate::storage::remote::Remote;
use crate::storage::{Result, STREAM_ID_LEN, StorageError, StreamId};
use crate::transport::client::{ClientError, Conn, RequestSpec, Response, Signer};

/// Chunks per upstream object (1 MiB of plaintext at 64 KiB chunks).
pub const SEGMENT_CHUNKS: u64 = 16;
const MAGIC: &[u8; 3] = b"CSG";
const VERSION: u8 = 1;
/// Magic, version, flags, presence bits.
const HEADER: usize = 7;
/// Segment deletes in flight at once when a stream is deleted.
const DELETE_PARALLEL: usize = 8;

/// Settings of an S3 chunk store.
#[derive(Clone)]
pub struct S3Options {
    /// `http://host:port` of the S3 API.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Prepended to every upstream key (e.g. `coffer/`); may be empty.
    pub prefix: String,
    /// Connections kept open at most.
    pub connections: usize,
    /// How long one call may take.
    pub deadline: Duration,
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The chunk store in an S3 bucket; see the module docs. Clones share the connections.
#[derive(Clone)]
pub struct S3Chunks {
    remote: Arc<Remote>,
    up: Arc<Upstream>,
}

struct Upstream {
    addr: SocketAddr,
    signer: Signer,
    bucket: String,
    prefix: String,
    idle: Mutex<Vec<Conn>>,
    slots: Semaphore,
    /// Segments fetched to answer [`ChunkStore::contains`], kept for the reader that follows:
    /// a GET checks that chunk 0 exists when it pins the stream, then reads it, and without
    /// this the first segment would cross the network twice. Segments never change, so an
    /// entry is only ever dropped: when taken, when its stream is deleted or the segment
    /// rewritten, when older than [`RECENT_TTL`], or when [`RECENT_MAX`] newer ones came.
    recent: Mutex<std::collections::VecDeque<Recent>>,
}

struct Recent {
    stream: StreamId,
    segment: u64,
    at: std::time::Instant,
    seg: Segment,
}

/// Segments kept for the next reader at most, and for how long.
const RECENT_MAX: usize = 32;
const RECENT_TTL: Duration = Duration::from_secs(2);

impl Upstream {
    fn lock_recent(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<Recent>> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keep_recent(&self, stream: &StreamId, segment: u64, seg: Segment) {
        let mut r = self.lock_recent();
        r.retain(|e| e.at.elapsed() < RECENT_TTL && !(e.stream == *stream && e.segment == segment));
        if r.len() >= RECENT_MAX {
            r.pop_front();
        }
        r.push_back(Recent {
            stream: *stream,
            segment,
            at: std::time::Instant::now(),
            seg,
        });
    }

    fn take_recent(&self, stream: &StreamId, segment: u64) -> Option<Segment> {
        let mut r = self.lock_recent();
        let i = r
            .iter()
            .position(|e| e.stream == *stream && e.segment == segment)?;
        r.remove(i)
            .filter(|e| e.at.elapsed() < RECENT_TTL)
            .map(|e| e.seg)
    }

    fn forget(&self, stream: &StreamId, segment: Option<u64>) {
        self.lock_recent()
            .retain(|e| e.stream != *stream || segment.is_some_and(|s| s != e.segment));
    }
}

impl S3Chunks {
    /// Connects and lists the bucket once, so a wrong endpoint, refused credentials or a
    /// missing bucket are start-up errors that say which.
    pub fn connect(opts: &S3Options) -> Result<S3Chunks> {
        let host = match opts.endpoint.strip_prefix("http://") {
            Some(h) => h.trim_end_matches('/').to_owned(),
            None if opts.endpoint.starts_with("https://") => {
                return Err(StorageError::Io(
                    "the S3 chunk backend speaks plain HTTP only: use an http:// endpoint \
                     (a TLS-terminating proxy in front of a remote store)"
                        .into(),
                ));
            }
            None => {
                return Err(StorageError::Io(format!(
                    "the chunk store endpoint {:?} is not an http://host:port URL",
                    opts.endpoint
                )));
            }
        };
        if host.is_empty() || host.contains('/') {
            return Err(StorageError::Io(format!(
                "the chunk store endpoint {:?} is not an http://host:port URL",
                opts.endpoint
            )));
        }
        if opts.bucket.is_empty() {
            return Err(StorageError::Io("the chunk store bucket is not set".into()));
        }
        let remote = Remote::new("s3 chunks", 2, opts.deadline)?;
        let with_port = if host.contains(':') {
            host.clone()
        } else {
            format!("{host}:80")
        };
        let addr = remote.block(async {
            tokio::net::lookup_host(with_port.as_str())
                .await
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| {
                    StorageError::Io(format!("the chunk store host {host:?} does not resolve"))
                })
        })?;
        let up = Upstream {
            addr,
            signer: Signer {
                access_key_id: opts.access_key_id.clone(),
                secret: opts.secret_access_key.clone(),
                region: opts.region.clone(),
                host,
            },
            bucket: opts.bucket.clone(),
            prefix: opts.prefix.clone(),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(opts.connections.max(1)),
            recent: Mutex::new(std::collections::VecDeque::new()),
        };
        let store = S3Chunks {
            remote: Arc::new(remote),
            up: Arc::new(up),
        };
        let path = format!("/{}", store.up.bucket);
        let r =
            store.remote.block(
                store
                    .up
                    .send("GET", &path, "list-type=2&max-keys=1", &[], true),
            )?;
        if r.status != 200 {
            return Err(StorageError::Io(format!(
                "the chunk store refused to list bucket {:?}: {}",
                store.up.bucket,
                describe(&r)
            )));
        }
        Ok(store)
    }

    fn segment_path(&self, stream: &StreamId, segment: u64) -> String {
        format!(
            "/{}/{}{}/{segment:016x}",
            self.up.bucket,
            self.up.prefix,
            stream.to_hex()
        )
    }

    fn read_segment(&self, stream: &StreamId, segment: u64) -> Result<Option<Segment>> {
        let path = self.segment_path(stream, segment);
        self.remote.block(self.up.read_segment(&path))
    }

    fn write_segment(&self, stream: &StreamId, segment: u64, seg: &Segment) -> Result<()> {
        self.up.forget(stream, Some(segment));
        let path = self.segment_path(stream, segment);
        let body = seg.encode();
        self.remote.block(self.up.write(&path, &body))
    }

    /// Every segment key under `prefix` (relative to the bucket), ascending.
    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.remote.block(self.up.list(prefix, None, None))
    }

    /// The first segment of `stream` at or after `segment`.
    fn next_segment(&self, stream: &StreamId, segment: u64) -> Result<Option<u64>> {
        let prefix = format!("{}{}/", self.up.prefix, stream.to_hex());
        let after = segment.checked_sub(1).map(|s| format!("{prefix}{s:016x}"));
        let keys = self
            .remote
            .block(self.up.list(&prefix, after.as_deref(), Some(1)))?;
        Ok(keys.first().and_then(|k| segment_of(k)))
    }
}

impl Upstream {
    /// Sends one signed request on a pooled connection. A reused keep-alive connection the
    /// upstream closed meanwhile is retried once on a fresh one.
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
        keep_body: bool,
    ) -> Result<Response> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| StorageError::Unavailable("the chunk store pool is closed".into()))?;
        let spec = RequestSpec {
            method,
            path,
            query,
            payload_hash: "UNSIGNED-PAYLOAD",
            content_length: (method == "PUT").then_some(body.len()),
            amz_headers: &[],
        };
        let head = self.signer.head(&spec, std::time::SystemTime::now());
        let mut attempt = 0;
        loop {
            let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(c) => c,
                None => Conn::connect(self.addr).await.map_err(unavailable)?,
            };
            match conn
                .round_trip(&head, body, method == "HEAD", keep_body)
                .await
            {
                Ok(r) => {
                    if conn.is_reusable() {
                        self.idle
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(conn);
                    }
                    if r.status >= 500 {
                        return Err(StorageError::Unavailable(format!(
                            "the chunk store answered {method} with {}",
                            describe(&r)
                        )));
                    }
                    return Ok(r);
                }
                Err(_) if reused && attempt == 0 => attempt += 1,
                Err(e) => return Err(unavailable(e)),
            }
        }
    }

    async fn read_segment(&self, path: &str) -> Result<Option<Segment>> {
        let r = self.send("GET", path, "", &[], true).await?;
        match r.status {
            200 => Segment::decode(r.body.unwrap_or_default()).map(Some),
            404 => Ok(None),
            _ => Err(StorageError::Io(format!(
                "reading a chunk segment: {}",
                describe(&r)
            ))),
        }
    }

    async fn write(&self, path: &str, body: &[u8]) -> Result<()> {
        let r = self.send("PUT", path, "", body, false).await?;
        if r.status != 200 {
            return Err(StorageError::Io(format!(
                "writing a chunk segment: {}",
                describe(&r)
            )));
        }
        Ok(())
    }

    async fn delete(&self, path: String) -> Result<()> {
        let r = self.send("DELETE", &path, "", &[], false).await?;
        if r.status != 204 && r.status != 200 && r.status != 404 {
            return Err(StorageError::Io(format!(
                "deleting a chunk segment: {}",
                describe(&r)
            )));
        }
        Ok(())
    }

    /// Keys under `prefix` after `start_after`, ascending; all of them, or the first `limit`.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<String>> {
        use crate::api::auth::sigv4::uri_encode;
        let path = format!("/{}", self.bucket);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // Parameters in the order SigV4's canonical query sorts them.
            let mut query = String::new();
            if let Some(t) = &token {
                query.push_str("continuation-token=");
                uri_encode(t.as_bytes(), false, &mut query);
                query.push('&');
            }
            query.push_str(&format!("list-type=2&max-keys={}", limit.unwrap_or(1000)));
            query.push_str("&prefix=");
            uri_encode(prefix.as_bytes(), false, &mut query);
            if let Some(a) = start_after {
                query.push_str("&start-after=");
                uri_encode(a.as_bytes(), false, &mut query);
            }
            let r = self.send("GET", &path, &query, &[], true).await?;
            let body = String::from_utf8_lossy(r.body.as_deref().unwrap_or_default()).into_owned();
            if r.status != 200 {
                return Err(StorageError::Io(format!(
                    "listing chunk segments: {}",
                    describe(&r)
                )));
            }
            out.extend(elements(&body, "Key"));
            token = elements(&body, "NextContinuationToken").into_iter().next();
            let truncated =
                elements(&body, "IsTruncated").first().map(String::as_str) == Some("true");
            if !truncated || token.is_none() || limit.is_some_and(|l| out.len() >= l) {
                return Ok(out);
            }
        }
    }
}

/// The text of every `<name>…</name>` element (XML entities decoded: our keys are hex and
/// `/`, a continuation token may hold anything).
fn elements(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(a) = rest.find(&open) {
        let after = &rest[a + open.len()..];
        let Some(b) = after.find(&close) else { break };
        let raw = &after[..b];
        out.push(
            quick_xml::escape::unescape(raw)
                .map(|c| c.into_owned())
                .unwrap_or_else(|_| raw.to_owned()),
        );
        rest = &after[b + close.len()..];
    }
    out
}

/// An upstream answer for an error message: status and S3 error code, never the body whole.
fn describe(r: &Response) -> String {
    let body = String::from_utf8_lossy(r.body.as_deref().unwrap_or_default()).into_owned();
    match elements(&body, "Code").first() {
        Some(code) => format!("HTTP {} {code}", r.status),
        None => format!("HTTP {}", r.status),
    }
}

fn unavailable(e: ClientError) -> StorageError {
    StorageError::Unavailable(format!("the chunk store: {e}"))
}

/// One upstream object: up to [`SEGMENT_CHUNKS`] chunks by slot.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Segment {
    /// The chunks; a decoded segment's chunks are pieces of the one response body.
    slots: [Option<BytesMut>; SEGMENT_CHUNKS as usize],
    /// The stream has no chunk past this segment (so a reader need not ask for the next).
    ends_stream: bool,
}

impl Segment {
    fn encode(&self) -> Vec<u8> {
        let present: u16 = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .fold(0, |m, (i, _)| m | (1 << i));
        let data: usize = self.slots.iter().flatten().map(|c| c.len()).sum();
        let mut out = Vec::with_capacity(HEADER + 4 * SEGMENT_CHUNKS as usize + data);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(u8::from(self.ends_stream));
        out.extend_from_slice(&present.to_be_bytes());
        for c in self.slots.iter().flatten() {
            // A chunk is at most 64 KiB plus tags.
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
        }
        for c in self.slots.iter().flatten() {
            out.extend_from_slice(c);
        }
        out
    }

    /// Splits `b` into its chunks without copying them.
    fn decode(mut b: BytesMut) -> Result<Segment> {
        let corrupt = |why: &str| StorageError::Corrupt(format!("chunk segment: {why}"));
        if b.len() < HEADER || &b[..3] != MAGIC {
            return Err(corrupt("not a segment"));
        }
        if b[3] != VERSION {
            return Err(corrupt(&format!("unknown version {}", b[3])));
        }
        if b[4] > 1 {
            return Err(corrupt("unknown flags"));
        }
        let present = u16::from_be_bytes([b[5], b[6]]);
        let n = present.count_ones() as usize;
        let lens_end = HEADER + 4 * n;
        let lens = b
            .get(HEADER..lens_end)
            .ok_or_else(|| corrupt("truncated header"))?;
        let lens: Vec<usize> = lens
            .chunks_exact(4)
            .map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize)
            .collect();
        let mut seg = Segment {
            ends_stream: b[4] == 1,
            ..Segment::default()
        };
        b.advance(lens_end);
        let mut lens = lens.into_iter();
        for (i, slot) in seg.slots.iter_mut().enumerate() {
            if present & (1 << i) == 0 {
                continue;
            }
            let len = lens.next().ok_or_else(|| corrupt("truncated header"))?;
            if len > b.len() {
                return Err(corrupt("truncated"));
            }
            *slot = Some(b.split_to(len));
        }
        if !b.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(seg)
    }

    fn count(&self) -> u64 {
        self.slots.iter().flatten().count() as u64
    }
}

/// The segment number at the end of an upstream key.
fn segment_of(key: &str) -> Option<u64> {
    key.rsplit('/')
        .next()
        .filter(|s| s.len() == 16)
        .and_then(|s| u64::from_str_radix(s, 16).ok())
}

fn split(index: u64) -> (u64, usize) {
    (index / SEGMENT_CHUNKS, (index % SEGMENT_CHUNKS) as usize)
}

type Fetch = tokio::task::JoinHandle<Result<Option<Segment>>>;

/// A stream read segment by segment; the next segment is fetched while the current one is
/// consumed, unless the current one ends the stream.
struct S3Cursor {
    store: S3Chunks,
    stream: StreamId,
    first: u64,
    /// The segment to read next.
    segment: u64,
    chunks: std::collections::VecDeque<(u64, BytesMut)>,
    ahead: Option<Fetch>,
    done: bool,
}

impl S3Cursor {
    fn fetch(&self, segment: u64) -> Fetch {
        let up = self.store.up.clone();
        let path = self.store.segment_path(&self.stream, segment);
        self.store
            .remote
            .handle()
            .spawn(async move { up.read_segment(&path).await })
    }
}

impl ChunkCursor for S3Cursor {
    fn next_chunk(&mut self) -> Result<Option<(u64, BytesMut)>> {
        loop {
            while let Some((i, c)) = self.chunks.pop_front() {
                if i >= self.first {
                    return Ok(Some((i, c)));
                }
            }
            if self.done {
                return Ok(None);
            }
            let seg = match (
                self.ahead.take(),
                self.store.up.take_recent(&self.stream, self.segment),
            ) {
                (None, Some(kept)) => Some(kept),
                (ahead, _) => {
                    let fetch = ahead.unwrap_or_else(|| self.fetch(self.segment));
                    self.store.remote.block(async {
                        fetch.await.map_err(|e| {
                            StorageError::Io(format!("a chunk read task failed: {e}"))
                        })?
                    })?
                }
            };
            let Some(seg) = seg else {
                // A hole (only streams written by single puts have them): find the next
                // segment there is, if any.
                match self.store.next_segment(&self.stream, self.segment)? {
                    Some(n) => self.segment = n,
                    None => self.done = true,
                }
                continue;
            };
            self.done = seg.ends_stream;
            let base = self.segment * SEGMENT_CHUNKS;
            for (i, c) in seg.slots.into_iter().enumerate() {
                if let Some(c) = c {
                    self.chunks.push_back((base + i as u64, c));
                }
            }
            match self.segment.checked_add(1) {
                Some(n) => self.segment = n,
                None => self.done = true,
            }
            if !self.done {
                self.ahead = Some(self.fetch(self.segment));
            }
        }
    }
}

impl Drop for S3Cursor {
    fn drop(&mut self) {
        if let Some(f) = self.ahead.take() {
            f.abort();
        }
    }
}

impl ChunkStore for S3Chunks {
    fn backend(&self) -> &'static str {
        "s3"
    }

    /// Reads the chunk's segment, sets the chunk, writes the segment back: for single puts
    /// (tests, repairs). The stream's writer appends instead.
    fn put(&self, stream: &StreamId, index: u64, chunk: &[u8]) -> Result<()> {
        let (segment, slot) = split(index);
        let mut seg = self.read_segment(stream, segment)?.unwrap_or_default();
        seg.slots[slot] = Some(BytesMut::from(chunk));
        self.write_segment(stream, segment, &seg)
    }

    /// Writes whole segments without reading them: a stream is appended once, in order, by
    /// its one writer, so nothing of the stream exists at or after `first` yet. A batch that
    /// does not start at a segment boundary falls back to [`ChunkStore::put`] for the chunks
    /// before the next boundary.
    fn append(
        &self,
        stream: &StreamId,
        first: u64,
        chunks: &[Vec<u8>],
        ends_stream: bool,
    ) -> Result<()> {
        let mut index = first;
        let mut rest = chunks;
        while let Some((c, tail)) = rest.split_first() {
            if !index.is_multiple_of(SEGMENT_CHUNKS) {
                self.put(stream, index, c)?;
                index += 1;
                rest = tail;
                continue;
            }
            let n = rest.len().min(SEGMENT_CHUNKS as usize);
            let mut seg = Segment::default();
            for (slot, c) in rest[..n].iter().enumerate() {
                seg.slots[slot] = Some(BytesMut::from(&c[..]));
            }
            seg.ends_stream = ends_stream && n == rest.len();
            self.write_segment(stream, index / SEGMENT_CHUNKS, &seg)?;
            index += n as u64;
            rest = &rest[n..];
        }
        Ok(())
    }

    fn get(&self, stream: &StreamId, index: u64) -> Result<Option<Vec<u8>>> {
        let (segment, slot) = split(index);
        let seg = match self.up.take_recent(stream, segment) {
            Some(s) => Some(s),
            None => self.read_segment(stream, segment)?,
        };
        Ok(seg
            .and_then(|mut s| s.slots[slot].take())
            .map(|c| c.to_vec()))
    }

    /// Fetches the chunk's segment and keeps it for the reader that usually follows (see
    /// `Upstream::recent`).
    fn contains(&self, stream: &StreamId, index: u64) -> Result<bool> {
        let (segment, slot) = split(index);
        let Some(seg) = self.read_segment(stream, segment)? else {
            return Ok(false);
        };
        let present = seg.slots[slot].is_some();
        self.up.keep_recent(stream, segment, seg);
        Ok(present)
    }

    fn cursor(&self, stream: &StreamId, first: u64) -> Result<Box<dyn ChunkCursor>> {
        Ok(Box::new(S3Cursor {
            store: self.clone(),
            stream: *stream,
            first,
            segment: first / SEGMENT_CHUNKS,
            chunks: Default::default(),
            ahead: None,
            done: false,
        }))
    }

    fn delete_stream(&self, stream: &StreamId) -> Result<()> {
        self.up.forget(stream, None);
        let prefix = format!("{}{}/", self.up.prefix, stream.to_hex());
        let up = self.up.clone();
        let bucket = self.up.bucket.clone();
        self.remote.block(async move {
            loop {
                let keys = up.list(&prefix, None, None).await?;
                if keys.is_empty() {
                    return Ok(());
                }
                for batch in keys.chunks(DELETE_PARALLEL) {
                    let mut set = tokio::task::JoinSet::new();
                    for k in batch {
                        let up = up.clone();
                        let path = format!("/{bucket}/{k}");
                        set.spawn(async move { up.delete(path).await });
                    }
                    while let Some(r) = set.join_next().await {
                        r.map_err(|e| StorageError::Io(format!("a delete task failed: {e}")))??;
                    }
                }
            }
        })
    }

    fn count(&self, stream: &StreamId) -> Result<u64> {
        let prefix = format!("{}{}/", self.up.prefix, stream.to_hex());
        let mut n = 0;
        for key in self.list(&prefix)? {
            let segment = segment_of(&key)
                .ok_or_else(|| StorageError::Corrupt(format!("unexpected chunk key {key:?}")))?;
            n += self.read_segment(stream, segment)?.map_or(0, |s| s.count());
        }
        Ok(n)
    }

    fn streams(&self) -> Result<Vec<StreamId>> {
        let mut out: Vec<StreamId> = Vec::new();
        for key in self.list(&self.up.prefix)? {
            let hex = key[self.up.prefix.len()..]
                .split('/')
                .next()
                .unwrap_or_default();
            let id = StreamId::from_hex(hex)
                .filter(|_| hex.len() == 2 * STREAM_ID_LEN)
                .ok_or_else(|| StorageError::Corrupt(format!("unexpected chunk key {key:?}")))?;
            if out.last() != Some(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Nothing to do: an upstream PUT is durable when it returns.
    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::chunks::{Chunks, tests::conformance};
    use crate::test_services::{SeaweedFs, seaweedfs};

    /// Options for a fresh key prefix of the test cluster's bucket (each test sees only its
    /// own streams).
    fn options(sw: &SeaweedFs) -> S3Options {
        S3Options {
            endpoint: sw.endpoint(),
            bucket: sw.bucket.clone(),
            region: "us-east-1".into(),
            access_key_id: sw.access_key.clone(),
            secret_access_key: SecretString::new(sw.secret_key.clone()),
            prefix: format!("t{:016x}/", rand::random::<u64>()),
            connections: 8,
            deadline: Duration::from_secs(30),
        }
    }

    #[test]
    fn s3_backend_conforms_on_seaweedfs() {
        let Some(sw) = seaweedfs() else { return };
        conformance(&Chunks::new(S3Chunks::connect(&options(sw)).unwrap()));
    }

    #[test]
    fn wrong_credentials_a_missing_bucket_and_nothing_listening_are_clear_errors() {
        let Some(sw) = seaweedfs() else { return };
        let mut o = options(sw);
        o.secret_access_key = SecretString::new("not-the-secret".into());
        let e = S3Chunks::connect(&o).err().expect("wrong secret");
        assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
        assert!(!e.to_string().contains("not-the-secret"), "{e}");
        let mut o = options(sw);
        o.bucket = "no-such-bucket-here".into();
        let e = S3Chunks::connect(&o).err().expect("missing bucket");
        assert!(e.to_string().contains("NoSuchBucket"), "{e}");
        let mut o = options(sw);
        o.endpoint = format!("http://127.0.0.1:{}", crate::test_services::free_port());
        let e = S3Chunks::connect(&o).err().expect("nothing listening");
        assert!(matches!(e, StorageError::Unavailable(_)), "{e}");
        o.endpoint = "https://example.invalid".into();
        assert!(S3Chunks::connect(&o).is_err());
    }

    /// Only ciphertext and ids reach the store: segment objects are named by hex ids alone.
    #[test]
    fn upstream_keys_are_opaque() {
        let Some(sw) = seaweedfs() else { return };
        let o = options(sw);
        let c = S3Chunks::connect(&o).unwrap();
        let s = StreamId([0xAB; STREAM_ID_LEN]);
        c.append(&s, 0, &vec![b"x".to_vec(); 17], true).unwrap();
        let keys = c.list(&o.prefix).unwrap();
        let hex = "ab".repeat(STREAM_ID_LEN);
        assert_eq!(
            keys,
            [
                format!("{}{hex}/{:016x}", o.prefix, 0),
                format!("{}{hex}/{:016x}", o.prefix, 1)
            ]
        );
    }

    #[test]
    fn segments_round_trip_and_reject_damage() {
        let mut seg = Segment::default();
        seg.slots[0] = Some(BytesMut::from(&[1; 10][..]));
        seg.slots[3] = Some(BytesMut::new());
        seg.slots[15] = Some(BytesMut::from(&vec![9; 70_000][..]));
        seg.ends_stream = true;
        let bytes = seg.encode();
        let decode = |b: &[u8]| Segment::decode(BytesMut::from(b));
        assert_eq!(decode(&bytes).unwrap(), seg);
        for cut in [0, 3, 6, 7, 10, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut v2 = bytes.clone();
        v2[3] = 2;
        assert!(decode(&v2).is_err());
    }

    #[test]
    fn the_segment_layout_is_fixed() {
        let mut seg = Segment::default();
        seg.slots[1] = Some(BytesMut::from(&b"ab"[..]));
        assert_eq!(
            seg.encode(),
            [b'C', b'S', b'G', 1, 0, 0, 2, 0, 0, 0, 2, b'a', b'b']
        );
    }

    #[test]
    fn list_answers_are_read_with_entities() {
        let xml = "<R><Contents><Key>a&amp;b/1</Key></Contents><Contents><Key>c</Key></Contents>\
                   <IsTruncated>false</IsTruncated></R>";
        assert_eq!(elements(xml, "Key"), ["a&b/1", "c"]);
        assert_eq!(elements(xml, "IsTruncated"), ["false"]);
        assert!(elements(xml, "Nope").is_empty());
    }
}
