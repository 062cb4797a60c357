//! Objects: the encrypted write path, the decrypting read path, deletes.
//!
//! Write: resolve SSE -> fresh data key from the KMS -> stream the body through the digests and
//! the chunk cipher into chunks under a new stream id -> verify digests -> commit the record in
//! one transaction -> flush -> acknowledge -> delete the replaced streams.
//!
//! Read: unwrap the data key (key state enforced by the KMS) -> decrypt only the chunks the
//! range covers, checking each chunk's position and the final-chunk flag.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes, BytesMut};

use super::digest::{BodyChecks, ChecksumAlgorithm, DigestPipe, Digests, PIPELINE_MIN_LEN};
use super::{MAX_KEY_LEN, MAX_PUT_SIZE, MAX_USER_METADATA, Service, ServiceError};
use crate::sse::chunk::{
    self, CHUNK_SIZE, ChunkCipher, DataKeys, SALT_LEN, SCHEME_DSSE_V1, SCHEME_V1, TAG_LEN,
};
use crate::sse::{self, SseSpec};
use crate::storage::records::{CipherParams, ObjectRecord, SseMode, StreamRecord};
use crate::storage::{ChunkCursor, Store, StreamId};

/// A request body, already de-framed by the protocol layer.
pub trait BodySource: Send {
    /// The next piece of the body; `None` at its end.
    fn next(&mut self) -> impl Future<Output = Option<Result<Bytes, ServiceError>>> + Send;

    /// A flexible checksum that arrived after the body (an aws-chunked trailer such as
    /// `x-amz-checksum-crc32`), known once [`BodySource::next`] returned `None`. The value is
    /// verified against the body before anything is committed.
    fn trailing_checksum(&self) -> Option<(ChecksumAlgorithm, String)> {
        None
    }
}

/// Conditions on the object being replaced (conditional PUT).
#[derive(Debug, Clone, Default)]
pub struct WriteConditions {
    /// `If-None-Match: *`: fail if the key exists.
    pub if_none_match_star: bool,
    /// `If-Match: "etag"`: fail unless the current ETag matches.
    pub if_match: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PutObjectInput {
    pub bucket: String,
    pub key: String,
    pub content_type: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub user_meta: Vec<(String, String)>,
    /// `None`: the bucket default, else SSE-S3.
    pub sse: Option<SseSpec>,
    pub checks: BodyChecks,
    pub conditions: WriteConditions,
    /// The new object's owner and ACL when not the default (see [`ObjectRecord::acl`]).
    pub acl: Option<crate::storage::records::Acl>,
}

/// Deletes a stream's chunks unless disarmed: an abandoned or failed write leaves nothing.
pub(super) struct StreamGuard<'a> {
    pub(super) store: &'a Store,
    pub(super) id: StreamId,
    pub(super) armed: bool,
}

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = self.store.delete_stream(&self.id)
        {
            // The stream stays in `orphans`; the next start-up sweep removes it.
            tracing::warn!(error = %e, "could not delete an abandoned stream");
        }
    }
}

/// A body encrypted into a new stream that no record references yet.
pub(super) struct WrittenStream<'a> {
    pub(super) guard: StreamGuard<'a>,
    pub(super) salt: [u8; SALT_LEN],
    /// Plaintext size.
    pub(super) size: u64,
}

fn normalize_etag(s: &str) -> &str {
    s.trim().trim_start_matches("W/").trim_matches('"')
}

/// Does an `If-Match` / `If-None-Match` list match this ETag?
pub fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|c| c == "*" || normalize_etag(c) == etag)
}

impl Service {
    pub(super) fn check_key(&self, key: &str) -> Result<(), ServiceError> {
        if key.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "Object key must not be empty".into(),
            ));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(ServiceError::KeyTooLong);
        }
        Ok(())
    }

    /// The SSE a write gets: the request's, else the bucket's default, else SSE-S3.
    pub(super) fn resolve_sse(
        &self,
        bucket: &str,
        requested: Option<&SseSpec>,
    ) -> Result<SseSpec, ServiceError> {
        if let Some(s) = requested {
            return Ok(s.clone());
        }
        let rec = self.head_bucket(bucket)?;
        Ok(match rec.encryption {
            Some(enc) if enc.algorithm == "aws:kms:dsse" => SseSpec::Dsse {
                key_id: enc.kms_key_id,
                context: None,
            },
            Some(enc) if enc.algorithm.starts_with("aws:kms") => SseSpec::Kms {
                key_id: enc.kms_key_id,
                context: None,
                bucket_key: enc.bucket_key_enabled,
            },
            _ => SseSpec::S3,
        })
    }

    /// Stores an object. Returns the committed record.
    pub async fn put_object<B: BodySource>(
        &self,
        input: PutObjectInput,
        body: &mut B,
    ) -> Result<ObjectRecord, ServiceError> {
        self.check_key(&input.key)?;
        let meta_size: usize = input.user_meta.iter().map(|(k, v)| k.len() + v.len()).sum();
        if meta_size > MAX_USER_METADATA {
            return Err(ServiceError::MetadataTooLarge);
        }
        if input
            .checks
            .content_length
            .is_some_and(|l| l > MAX_PUT_SIZE)
        {
            return Err(ServiceError::EntityTooLarge);
        }
        let spec = self.resolve_sse(&input.bucket, input.sse.as_ref())?;
        // Refuse conditional writes early when they already fail (re-checked at commit).
        if let Some(cur) = self.store.get_object(&input.bucket, &input.key)? {
            check_write_conditions(&input.conditions, Some(&cur))?;
        } else {
            check_write_conditions(&input.conditions, None)?;
        }
        let (sse_record, data_key) = self.make_envelope(&spec, &input.bucket, &input.key)?;
        let scheme = data_key.scheme();
        let want_md5 = sse_record.mode == SseMode::S3;
        let mut digests = Digests::new(input.checks.clone(), want_md5);

        let mut written = self
            .encrypt_to_new_stream(data_key, body, &mut digests, MAX_PUT_SIZE)
            .await?;
        let (stream, salt, size) = (written.guard.id, written.salt, written.size);
        let result = digests.finish()?;

        let etag = match (sse_record.mode, result.md5) {
            (SseMode::S3, Some(md5)) => hex::encode(md5),
            _ => {
                let mut r = [0u8; 16];
                crate::secret::fill_random(&mut r)?;
                hex::encode(r)
            }
        };
        let record = ObjectRecord {
            size,
            etag,
            last_modified_ms: self.now_millis(),
            content_type: input.content_type,
            headers: input.headers,
            user_meta: input.user_meta,
            checksums: result.checksums,
            sse: sse_record,
            cipher: CipherParams {
                scheme: scheme.to_string(),
                chunk_size: CHUNK_SIZE as u32,
            },
            parts: vec![StreamRecord {
                stream_id: stream,
                salt: salt.to_vec(),
                size,
                part_number: 0,
                etag: String::new(),
                checksums: Default::default(),
            }],
            acl: input.acl,
        };
        let conditions = input.conditions;
        let old = self
            .store
            .commit_object(&input.bucket, &input.key, &record, &|cur| {
                check_write_conditions(&conditions, cur)
                    .map_err(|_| crate::storage::StorageError::PreconditionFailed)
            })?;
        written.guard.armed = false;
        // One flush makes the chunks and the record durable together: sled recovers a prefix
        // of its log, and every chunk was written before the commit.
        self.store.flush().await?;
        if let Some(old) = old {
            self.delete_streams(&old);
        }
        Ok(record)
    }

    /// Encrypts `body` under `data_key` into a new stream (fresh id and salt) while `digests`
    /// see the plaintext. The stream stays guarded (deleted on drop) until the caller commits it
    /// and disarms the guard; the data key is dropped as soon as the body is written.
    pub(super) async fn encrypt_to_new_stream<B: BodySource>(
        &self,
        data_key: DataKeys,
        body: &mut B,
        digests: &mut Digests,
        max_size: u64,
    ) -> Result<WrittenStream<'_>, ServiceError> {
        let (stream, salt) = self.new_stream()?;
        let guard = StreamGuard {
            store: &self.store,
            id: stream,
            armed: true,
        };
        let size = write_stream(
            &self.store,
            &data_key,
            stream,
            &salt,
            body,
            digests,
            max_size,
        )
        .await?;
        Ok(WrittenStream { guard, salt, size })
    }

    fn new_stream(&self) -> Result<(StreamId, [u8; SALT_LEN]), ServiceError> {
        let stream = self.store.begin_stream(self.now_millis())?;
        let mut salt = [0u8; SALT_LEN];
        crate::secret::fill_random(&mut salt)?;
        Ok((stream, salt))
    }

    /// Deletes the streams of a replaced or deleted record. They are in `orphans` already, so a
    /// failure here is repaired by the next start-up sweep.
    fn delete_streams(&self, old: &ObjectRecord) {
        self.store.delete_streams_soon(old.stream_ids());
    }

    /// The current record of an object.
    pub fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, ServiceError> {
        self.store
            .get_object(bucket, key)?
            .ok_or(ServiceError::NoSuchKey)
    }

    /// Opens an object for reading `range` (resolved, inclusive) of its plaintext: unwraps the
    /// data key now, so key-state errors surface before any byte is sent.
    pub fn open_object(
        &self,
        record: &ObjectRecord,
        range: Option<(u64, u64)>,
        customer: Option<&sse::CustomerKey>,
    ) -> Result<ObjectReader, ServiceError> {
        if (record.cipher.scheme != SCHEME_V1 && record.cipher.scheme != SCHEME_DSSE_V1)
            || record.cipher.chunk_size as usize != CHUNK_SIZE
        {
            return Err(ServiceError::Integrity(format!(
                "unknown cipher scheme {} / chunk size {}",
                record.cipher.scheme, record.cipher.chunk_size
            )));
        }
        let (start, end_excl) = match range {
            Some((s, e)) => (s, e + 1),
            None => (0, record.size),
        };
        // Only the parts the range covers are pinned (and looked up): a ranged GET of one part
        // of a large multipart object must not touch every part's first leaf.
        let (parts, parts_start) = covered_parts(&record.parts, start, end_excl);
        let ids: Vec<StreamId> = parts.iter().map(|p| p.stream_id).collect();
        let pins = self
            .store
            .pin_streams(&ids)?
            .ok_or(ServiceError::ObjectChanged)?;
        let data_key = self.envelope_key(&record.sse, customer)?;
        if data_key.scheme() != record.cipher.scheme {
            return Err(ServiceError::Integrity(format!(
                "cipher scheme {} does not match the {:?} envelope",
                record.cipher.scheme, record.sse.mode
            )));
        }
        Ok(ObjectReader::new(
            self.store.clone(),
            pins,
            data_key,
            parts.to_vec(),
            start - parts_start,
            end_excl - parts_start,
        ))
    }

    /// Replaces an object's ACL (PutObjectAcl), leaving its data and metadata as they are. The
    /// write applies only to the version `change` saw: if the object was replaced meanwhile,
    /// the new version is read and changed again.
    pub async fn set_object_acl(
        &self,
        bucket: &str,
        key: &str,
        change: impl Fn(&ObjectRecord) -> Result<Option<crate::storage::records::Acl>, ServiceError>,
    ) -> Result<(), ServiceError> {
        for _ in 0..8 {
            let current = self.head_object(bucket, key)?;
            let mut next = current.clone();
            next.acl = change(&current)?;
            let streams = current.stream_ids();
            let same = move |old: Option<&ObjectRecord>| match old {
                Some(o) if o.stream_ids() == streams => Ok(()),
                _ => Err(crate::storage::StorageError::PreconditionFailed),
            };
            match self.store.commit_object(bucket, key, &next, &same) {
                Ok(_) => {
                    self.store.flush().await?;
                    return Ok(());
                }
                Err(crate::storage::StorageError::PreconditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::ObjectChanged)
    }

    /// Deletes an object; deleting a missing key succeeds, as in S3.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), ServiceError> {
        let old = self.store.remove_object(bucket, key)?;
        if let Some(old) = old {
            self.store.flush().await?;
            self.delete_streams(&old);
        }
        Ok(())
    }

    /// Deletes many objects; one flush covers them all. Per-key results in input order.
    pub async fn delete_objects(
        &self,
        bucket: &str,
        keys: &[String],
    ) -> Result<Vec<Result<(), ServiceError>>, ServiceError> {
        self.head_bucket(bucket)?;
        let mut results = Vec::with_capacity(keys.len());
        let mut removed = Vec::new();
        for k in keys {
            match self.store.remove_object(bucket, k) {
                Ok(Some(old)) => {
                    removed.push(old);
                    results.push(Ok(()));
                }
                Ok(None) => results.push(Ok(())),
                Err(e) => results.push(Err(e.into())),
            }
        }
        self.store.flush().await?;
        for old in &removed {
            self.delete_streams(old);
        }
        Ok(results)
    }
}

/// Checks conditional-write preconditions against the current record.
fn check_write_conditions(
    c: &WriteConditions,
    cur: Option<&ObjectRecord>,
) -> Result<(), ServiceError> {
    if c.if_none_match_star && cur.is_some() {
        return Err(ServiceError::PreconditionFailed);
    }
    if let Some(m) = &c.if_match {
        match cur {
            Some(r) if etag_matches(m, &r.etag) => {}
            Some(_) => return Err(ServiceError::PreconditionFailed),
            None => return Err(ServiceError::NoSuchKey),
        }
    }
    Ok(())
}

/// Streams `body` into chunks of `stream`: digests over the plaintext, then the chunk cipher.
/// Returns the plaintext size.
async fn write_stream<B: BodySource>(
    store: &Store,
    data_key: &DataKeys,
    stream: StreamId,
    salt: &[u8; SALT_LEN],
    body: &mut B,
    digests: &mut Digests,
    max_size: u64,
) -> Result<u64, ServiceError> {
    let cipher = ChunkCipher::new(data_key, salt);
    let mut buf = ChunkBatch::chunk_buffer();
    let mut pending = ChunkBatch::default();
    let mut index = 0u64;
    let mut received = 0u64;
    // Large bodies: the digests run on their own thread while this task encrypts and stores.
    let pipe = (digests.declared_len().unwrap_or(0) >= PIPELINE_MIN_LEN).then(|| {
        DigestPipe::start(std::mem::replace(
            digests,
            Digests::new(BodyChecks::default(), false),
        ))
    });
    while let Some(piece) = body.next().await {
        let mut piece = piece?;
        received += piece.len() as u64;
        if received > max_size {
            return Err(ServiceError::EntityTooLarge);
        }
        match &pipe {
            Some(p) => p.update(piece.clone()).await?,
            None => digests.update(&piece),
        }
        while piece.has_remaining() {
            if buf.len() == CHUNK_SIZE {
                // More data follows, so this full chunk is not the final one.
                cipher.encrypt_chunk(index, false, &mut buf);
                pending.push(&mut buf);
                index += 1;
                if pending.is_full() {
                    pending.store(store, &stream, index)?;
                }
            }
            let take = (CHUNK_SIZE - buf.len()).min(piece.len());
            buf.extend_from_slice(&piece[..take]);
            piece.advance(take);
        }
    }
    cipher.encrypt_chunk(index, true, &mut buf);
    let size = index * CHUNK_SIZE as u64 + (buf.len() - cipher.overhead()) as u64;
    pending.push(&mut buf);
    pending.store_last(store, &stream, index + 1)?;
    if let Some(p) = pipe {
        *digests = p.finish().await?;
    }
    if let Some((alg, value)) = body.trailing_checksum() {
        digests.expect_trailing_checksum(alg, value)?;
    }
    Ok(size)
}

/// Encrypted chunks a PUT stores together: 1 MiB of ciphertext per connection at most.
///
/// Concurrent PUTs that stored each chunk as soon as it was encrypted took turns on sled's leaves:
/// every insert touched its stream's leaf again after the other streams had touched theirs, and
/// sled's cache keeps only a small share for leaves of chunk values (8 MiB of a 256 MiB cache,
/// so that large uploads and downloads do not grow the server), fewer leaves than there are
/// writers. Nearly every insert then read its leaf back from the log first: 15,430 reads for
/// 20,994 inserts in 5 s of 1 MiB PUTs on 16 connections, 7.1 s spent reading. Inserting a
/// stream's chunks back to back reads each leaf once: 1,740 reads, 1.5 s.
#[derive(Default)]
struct ChunkBatch {
    chunks: Vec<Vec<u8>>,
    /// Buffers of chunks already stored, reused for the next ones.
    spare: Vec<Vec<u8>>,
}

// A batch fills one upstream segment of the S3 chunk backend whole (see its module docs).
const _: () = assert!(ChunkBatch::CHUNKS as u64 == crate::storage::chunks::SEGMENT_CHUNKS);

impl ChunkBatch {
    /// Chunks per batch: 1 MiB of plaintext, a whole object of the most common large size.
    const CHUNKS: usize = (1 << 20) / CHUNK_SIZE;

    fn chunk_buffer() -> Vec<u8> {
        Vec::with_capacity(CHUNK_SIZE + 2 * TAG_LEN)
    }

    /// Takes the encrypted chunk out of `buf`, leaving an empty buffer in its place.
    fn push(&mut self, buf: &mut Vec<u8>) {
        let empty = self.spare.pop().unwrap_or_else(Self::chunk_buffer);
        self.chunks.push(std::mem::replace(buf, empty));
    }

    fn is_full(&self) -> bool {
        self.chunks.len() >= Self::CHUNKS
    }

    /// Stores the batch: the chunks just before chunk `next`.
    fn store(&mut self, store: &Store, stream: &StreamId, next: u64) -> Result<(), ServiceError> {
        self.append(store, stream, next, false)
    }

    /// Stores the stream's last batch (its final chunk included).
    fn store_last(
        &mut self,
        store: &Store,
        stream: &StreamId,
        next: u64,
    ) -> Result<(), ServiceError> {
        self.append(store, stream, next, true)
    }

    fn append(
        &mut self,
        store: &Store,
        stream: &StreamId,
        next: u64,
        ends_stream: bool,
    ) -> Result<(), ServiceError> {
        let first = next - self.chunks.len() as u64;
        store.append_chunks(stream, first, &self.chunks, ends_stream)?;
        for mut chunk in self.chunks.drain(..) {
            chunk.clear();
            self.spare.push(chunk);
        }
        Ok(())
    }
}

/// The parts holding the plaintext range `[start, end)`, and the offset where the first of them
/// begins. An empty range at the end (a zero-byte object) keeps the last part, whose single
/// chunk still carries a tag to verify.
fn covered_parts(parts: &[StreamRecord], start: u64, end: u64) -> (&[StreamRecord], u64) {
    let mut offset = 0;
    let mut first = None;
    for (i, p) in parts.iter().enumerate() {
        let part_end = offset + p.size;
        let last = i + 1 == parts.len();
        if first.is_none() && (part_end > start || last) {
            first = Some((i, offset));
        }
        if let Some((lo, lo_offset)) = first
            && (part_end >= end || last)
        {
            return (&parts[lo..=i], lo_offset);
        }
        offset = part_end;
    }
    (parts, 0)
}

/// Reads a plaintext range of an object, chunk by chunk, decrypting only the chunks it covers.
pub struct ObjectReader {
    store: Store,
    /// Keeps the streams from being deleted while this reader reads them.
    _pins: crate::storage::StreamPins,
    data_key: DataKeys,
    parts: Vec<StreamRecord>,
    /// Absolute plaintext offsets still to send: [pos, end).
    pos: u64,
    end: u64,
    /// Plaintext offset where `parts[part]` begins.
    part: usize,
    part_start: u64,
    cipher: Option<ChunkCipher>,
    /// Where the current part is being read from; reset with `cipher` when the part changes.
    cursor: Option<PartCursor>,
}

/// A chunk cursor on one part and the chunk index it yields next.
struct PartCursor {
    next: u64,
    chunks: ChunkCursor,
}

impl ObjectReader {
    fn new(
        store: Store,
        pins: crate::storage::StreamPins,
        data_key: DataKeys,
        parts: Vec<StreamRecord>,
        start: u64,
        end: u64,
    ) -> Self {
        ObjectReader {
            store,
            _pins: pins,
            data_key,
            parts,
            pos: start,
            end,
            part: 0,
            part_start: 0,
            cipher: None,
            cursor: None,
        }
    }

    /// Reads and authenticates the whole chunk list of an empty object (a zero-byte object still
    /// carries a tag that must verify), or of an empty range, without producing bytes.
    pub fn verify_empty(&mut self) -> Result<(), ServiceError> {
        if let Some(p) = self.parts.first().cloned()
            && p.size == 0
        {
            self.read_chunk(&p, 0)?;
        }
        Ok(())
    }

    /// The next piece of plaintext, `None` at the end of the range.
    pub fn next_chunk(&mut self) -> Result<Option<Bytes>, ServiceError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        // Find the part holding `pos`.
        while self.part < self.parts.len()
            && self.pos >= self.part_start + self.parts[self.part].size
        {
            self.part_start += self.parts[self.part].size;
            self.part += 1;
            self.cipher = None;
            self.cursor = None;
        }
        let Some(p) = self.parts.get(self.part).cloned() else {
            return Err(ServiceError::Integrity(
                "range beyond the object's parts".into(),
            ));
        };
        let in_part = self.pos - self.part_start;
        let index = in_part / CHUNK_SIZE as u64;
        let plain = self.read_chunk(&p, index)?;
        let chunk_start = index * CHUNK_SIZE as u64;
        let from = (in_part - chunk_start) as usize;
        let avail = plain.len() - from;
        let want = (self.end - self.pos).min(avail as u64) as usize;
        self.pos += want as u64;
        let mut bytes = plain.freeze();
        bytes.advance(from);
        bytes.truncate(want);
        Ok(Some(bytes))
    }

    fn read_chunk(&mut self, p: &StreamRecord, index: u64) -> Result<BytesMut, ServiceError> {
        let salt: [u8; SALT_LEN] = p
            .salt
            .as_slice()
            .try_into()
            .map_err(|_| ServiceError::Integrity("stream salt has the wrong length".into()))?;
        let cipher = self
            .cipher
            .get_or_insert_with(|| ChunkCipher::new(&self.data_key, &salt));
        let count = chunk::chunk_count(p.size);
        let is_final = index + 1 == count;
        let cursor = match self.cursor.take() {
            Some(c) if c.next == index => self.cursor.insert(c),
            _ => self.cursor.insert(PartCursor {
                next: index,
                chunks: self.store.chunk_cursor(&p.stream_id, index)?,
            }),
        };
        let mut buf = match cursor.chunks.next_chunk()? {
            Some((i, v)) if i == index => v,
            _ => return Err(ServiceError::Integrity(format!("chunk {index} is missing"))),
        };
        cursor.next = index + 1;
        cipher
            .decrypt_chunk(index, is_final, &mut buf)
            .map_err(|e| ServiceError::Integrity(e.to_string()))?;
        if buf.len() != chunk::chunk_plain_len(p.size, index) {
            return Err(ServiceError::Integrity(format!(
                "chunk {index} has the wrong length"
            )));
        }
        if is_final && cursor.chunks.next_chunk()?.is_some() {
            return Err(ServiceError::Integrity(
                "stream has chunks past its final chunk".into(),
            ));
        }
        Ok(buf)
    }
}

/// Which bytes a Range header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `bytes=a-` or `bytes=a-b`.
    From { start: u64, end: Option<u64> },
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl RangeSpec {
    /// Parses a single-range `Range` header. `Ok(None)` for forms S3 ignores (multiple ranges,
    /// other units); `Err` for a syntactically bad byte range.
    pub fn parse(header: &str) -> Result<Option<RangeSpec>, ServiceError> {
        let Some(spec) = header.trim().strip_prefix("bytes=") else {
            return Ok(None);
        };
        if spec.contains(',') {
            return Ok(None);
        }
        let bad = || ServiceError::InvalidArgument("Invalid Range header".into());
        let (a, b) = spec.split_once('-').ok_or_else(bad)?;
        let (a, b) = (a.trim(), b.trim());
        let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
        if a.is_empty() {
            return Ok(Some(RangeSpec::Suffix(num(b)?)));
        }
        let start = num(a)?;
        let end = if b.is_empty() { None } else { Some(num(b)?) };
        if let Some(e) = end
            && e < start
        {
            // S3 ignores an invalid range and returns the whole object.
            return Ok(None);
        }
        Ok(Some(RangeSpec::From { start, end }))
    }

    /// The inclusive byte range for an object of `size` bytes, or InvalidRange (416).
    pub fn resolve(self, size: u64) -> Result<(u64, u64), ServiceError> {
        match self {
            RangeSpec::From { start, end } => {
                if start >= size {
                    return Err(ServiceError::InvalidRange { size });
                }
                let end = end.map_or(size - 1, |e| e.min(size - 1));
                Ok((start, end))
            }
            RangeSpec::Suffix(n) => {
                if n == 0 || size == 0 {
                    return Err(ServiceError::InvalidRange { size });
                }
                Ok((size.saturating_sub(n), size - 1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |s| RangeSpec::parse(s).unwrap();
        assert_eq!(r("bytes=0-9").unwrap().resolve(100).unwrap(), (0, 9));
        assert_eq!(r("bytes=90-").unwrap().resolve(100).unwrap(), (90, 99));
        assert_eq!(r("bytes=-10").unwrap().resolve(100).unwrap(), (90, 99));
        assert_eq!(r("bytes=-1000").unwrap().resolve(100).unwrap(), (0, 99));
        assert_eq!(r("bytes=50-1000").unwrap().resolve(100).unwrap(), (50, 99));
        assert!(r("bytes=100-").unwrap().resolve(100).is_err());
        assert!(r("bytes=-0").unwrap().resolve(100).is_err());
        assert!(r("bytes=0-").unwrap().resolve(0).is_err());
        assert!(r("bytes=5-1").is_none());
        assert!(r("bytes=0-1,3-4").is_none());
        assert!(r("items=0-1").is_none());
        assert!(RangeSpec::parse("bytes=a-b").is_err());
        assert!(RangeSpec::parse("bytes=1").is_err());
    }

    #[test]
    fn covered_parts_pick_the_parts_a_range_touches() {
        let part = |n: u8, size| StreamRecord {
            stream_id: StreamId([n; crate::storage::STREAM_ID_LEN]),
            salt: Vec::new(),
            size,
            part_number: u32::from(n),
            etag: String::new(),
            checksums: Default::default(),
        };
        let parts = [part(1, 10), part(2, 10), part(3, 5)];
        let numbers = |start, end| {
            let (p, offset) = covered_parts(&parts, start, end);
            (p.iter().map(|p| p.part_number).collect::<Vec<_>>(), offset)
        };
        assert_eq!(numbers(0, 25), (vec![1, 2, 3], 0));
        assert_eq!(numbers(0, 10), (vec![1], 0));
        assert_eq!(numbers(9, 11), (vec![1, 2], 0));
        assert_eq!(numbers(10, 20), (vec![2], 10));
        assert_eq!(numbers(19, 21), (vec![2, 3], 10));
        assert_eq!(numbers(24, 25), (vec![3], 20));
        // A zero-byte object (one empty part) keeps its part: its tag is still checked.
        let empty = [part(1, 0)];
        let (p, offset) = covered_parts(&empty, 0, 0);
        assert_eq!((p.len(), offset), (1, 0));
        // A range past the parts (a corrupt record) ends at the last part; the reader reports it.
        assert_eq!(numbers(24, 40), (vec![3], 20));
    }

    #[test]
    fn etag_lists() {
        assert!(etag_matches("\"abc\"", "abc"));
        assert!(etag_matches("\"x\", \"abc\"", "abc"));
        assert!(etag_matches("*", "abc"));
        assert!(etag_matches("W/\"abc\"", "abc"));
        assert!(!etag_matches("\"abd\"", "abc"));
    }
}
