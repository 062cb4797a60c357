//! Multipart upload state: uploads in progress and their parts, in two trees of their own.
//!
//! | tree          | key                                          | value                  |
//! |---------------|----------------------------------------------|------------------------|
//! | `mpu/uploads` | bucket ‖ 0x00 ‖ object key ‖ 0x00 ‖ upload id | [`UploadRecord`]       |
//! | `mpu/parts`   | upload id ‖ u32be part number                 | [`PartRecord`]         |
//!
//! Upload ids are [`UPLOAD_ID_LEN`] ASCII hex characters that start with the initiation time,
//! so a prefix scan of one bucket lists uploads in key order, then in initiation order (what
//! ListMultipartUploads returns), and the key of an upload decodes from both ends even if an
//! object key contains 0x00.
//!
//! Invariants (extending those in the parent module):
//! - A part's stream leaves `orphans` right after the part is recorded, and a replaced part's
//!   stream enters `orphans` right before it is replaced (no transaction: see
//!   [`Store::commit_part`]); the start-up sweep keeps orphans that a part record references.
//! - Completing or aborting removes the upload and its part entries in one transaction that also
//!   puts every stream the object does not reference into `orphans`. So a crash at any point
//!   leaves every stream either referenced (by an object or a recorded part) or listed in
//!   `orphans`, and an upload that was in progress survives a restart intact.
//! - A part entry whose upload is gone (recorded while the upload was completed or aborted,
//!   then a crash before the sweep of such late parts) is stray: the start-up sweep reclaims it.
//! - Deleting a bucket removes the bucket record, every upload of the bucket and their part
//!   entries in one transaction that puts every part stream into `orphans` (AWS discards
//!   uploads in progress with their bucket): a crash leaves either the bucket with its uploads
//!   intact or neither, with the streams for the sweep. So a bucket created later under the
//!   same name never sees an earlier bucket's uploads.

use serde::{Deserialize, Serialize};

use super::records::{ObjectRecord, SseRecord, StreamRecord, decode_json, encode_json};
use std::ops::Bound;

use super::meta::{Commit, prefix_end};
use super::{BUCKETS, ORPHANS, Result, StorageError, Store, StreamId, objects_tree_name};
use crate::clock::unix_millis;

/// Length of an upload id: 12 hex digits of initiation millis, then 20 random hex digits.
/// Do not change: it is part of the keys of both trees.
pub const UPLOAD_ID_LEN: usize = 32;

const UPLOADS_TREE: &str = "mpu/uploads";
const PARTS_TREE: &str = "mpu/parts";

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UploadRecord {
    pub initiated_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// As [`ObjectRecord::headers`].
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// As [`ObjectRecord::user_meta`].
    #[serde(default)]
    pub user_meta: Vec<(String, String)>,
    /// The upload's envelope: one data key for every part, wrapped by the KMS.
    pub sse: SseRecord,
    /// `x-amz-checksum-algorithm` given at creation (`CRC32`, ...), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    /// `COMPOSITE` or `FULL_OBJECT` when an algorithm is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// The completed object's owner and ACL (as [`super::records::ObjectRecord::acl`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<super::records::Acl>,
}

impl UploadRecord {
    pub fn encode(&self) -> Vec<u8> {
        encode_json(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        decode_json(bytes, "upload")
    }
}

/// One uploaded part: its stream (with part number and ETag) and what ListParts shows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartRecord {
    pub stream: StreamRecord,
    pub last_modified_ms: u64,
    /// Hex MD5 of the part's plaintext (the ETag is also in `stream.etag`).
    #[serde(default)]
    pub md5_hex: String,
    /// Algorithm name -> base64 checksum of the part's plaintext.
    #[serde(default)]
    pub checksums: std::collections::BTreeMap<String, String>,
}

impl PartRecord {
    pub fn encode(&self) -> Vec<u8> {
        encode_json(self)
    }
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        decode_json(bytes, "part")
    }
}

/// An upload as listed: where it is and what it is.
#[derive(Debug, Clone)]
pub struct ListedUpload {
    pub key: String,
    pub upload_id: String,
    pub record: UploadRecord,
}

/// Outcome of recording a part.
#[derive(Debug)]
pub enum PartCommit {
    /// Recorded; the replaced part (if any) has its stream in `orphans` now.
    Recorded { replaced: Option<PartRecord> },
    /// The upload does not exist (never did, or completed or aborted meanwhile).
    NoSuchUpload,
}

/// What deleting a bucket discarded: every part stream (in `orphans` now; delete them after a
/// flush) and the upload ids (to sweep for parts recorded while the bucket was deleted, as
/// after an abort).
#[derive(Debug, Default)]
pub struct DiscardedUploads {
    pub streams: Vec<StreamId>,
    pub upload_ids: Vec<String>,
}

/// Outcome of completing an upload.
#[derive(Debug)]
pub enum CompleteCommit {
    /// The object is in place. `unused` (streams of parts not in the object) and the replaced
    /// object's streams are in `orphans`; delete them after a flush.
    Completed {
        replaced: Option<Box<ObjectRecord>>,
        unused: Vec<StreamId>,
    },
    NoSuchUpload,
    /// A listed part changed (re-uploaded) while completing: the caller's view is stale.
    PartChanged,
}

fn upload_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + key.len() + upload_id.len() + 2);
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k.push(0);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

fn bucket_prefix(bucket: &str) -> Vec<u8> {
    let mut k = bucket.as_bytes().to_vec();
    k.push(0);
    k
}

fn part_key(upload_id: &str, part_number: u32) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.extend_from_slice(&part_number.to_be_bytes());
    k
}

/// Splits an `mpu/uploads` key (without the bucket prefix) into object key and upload id.
fn split_upload_key(rest: &[u8]) -> Result<(String, String)> {
    let bad = || StorageError::Corrupt("malformed upload key".into());
    if rest.len() < UPLOAD_ID_LEN + 1 {
        return Err(bad());
    }
    let (key, id) = rest.split_at(rest.len() - UPLOAD_ID_LEN);
    let key = key.strip_suffix(&[0]).ok_or_else(bad)?;
    Ok((
        String::from_utf8(key.to_vec()).map_err(|_| bad())?,
        String::from_utf8(id.to_vec()).map_err(|_| bad())?,
    ))
}

/// The result of [`Store::part_streams`].
#[derive(Debug, Default)]
pub struct PartStreams {
    /// Streams of parts of uploads in progress.
    pub in_progress: std::collections::HashSet<StreamId>,
    /// Part entries (key, stream) whose upload is gone.
    pub stray: Vec<(Vec<u8>, StreamId)>,
}

/// Is `s` shaped like an upload id this store hands out? (Anything else cannot exist.)
pub fn valid_upload_id(s: &str) -> bool {
    s.len() == UPLOAD_ID_LEN && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Store {
    /// A fresh upload id, ordered by `now_millis`.
    pub fn new_upload_id(now_millis: u64) -> std::result::Result<String, StorageError> {
        let mut r = [0u8; 10];
        crate::secret::fill_random(&mut r).map_err(|e| StorageError::Io(e.to_string()))?;
        Ok(format!(
            "{:012x}{}",
            now_millis & 0xffff_ffff_ffff,
            hex::encode(r)
        ))
    }

    /// Records a new upload; fails with `NoSuchBucket` if the bucket is gone.
    pub fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        record: &UploadRecord,
    ) -> Result<()> {
        let _gate = self.gate_shared();
        let ukey = upload_key(bucket, key, upload_id);
        loop {
            let c = Commit::new()
                .check(
                    BUCKETS,
                    bucket.as_bytes(),
                    Some(&self.bucket_bytes(bucket)?),
                )
                .put(UPLOADS_TREE, &ukey, &record.encode());
            if self.meta().commit(&c)? {
                return Ok(());
            }
        }
    }

    pub fn get_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>> {
        self.bucket_bytes(bucket)?;
        match self
            .meta()
            .get(UPLOADS_TREE, &upload_key(bucket, key, upload_id))?
        {
            Some(v) => Ok(Some(UploadRecord::decode(&v)?)),
            None => Ok(None),
        }
    }

    /// Records a part: the part's stream leaves `orphans`, a replaced part's stream enters it.
    ///
    /// Deliberately single-key steps, no multi-key commit: parts are committed while other
    /// parts stream their chunks in, and a sled 0.34 transaction (a global write lock) waiting
    /// behind an insert that waits for the log, which waits for the flusher, which waits behind
    /// the transaction, is a deadlock seen under load. Instead the steps are ordered so that a
    /// crash between any two leaves every stream referenced or in `orphans`, and the start-up
    /// sweep keeps orphans still referenced by a part record ([`Store::part_stream_ids`]).
    pub fn commit_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: &PartRecord,
    ) -> Result<PartCommit> {
        let meta = self.meta();
        let ukey = upload_key(bucket, key, upload_id);
        let pkey = part_key(upload_id, part.stream.part_number);
        let encoded = part.encode();
        let stream = part.stream.stream_id.0;
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        let replaced = loop {
            if meta.get(UPLOADS_TREE, &ukey)?.is_none() {
                return Ok(PartCommit::NoSuchUpload);
            }
            let old = meta.get(PARTS_TREE, &pkey)?;
            let old_record = old.as_deref().map(PartRecord::decode).transpose()?;
            // Orphaned before it is unreferenced: the sweep keeps it while the record stands.
            if let Some(o) = &old_record {
                meta.put(ORPHANS, &o.stream.stream_id.0, &now)?;
            }
            if meta.compare_and_swap(PARTS_TREE, &pkey, old.as_deref(), Some(&encoded))? {
                break old_record;
            }
            // A concurrent upload of the same part number won; it orphaned what it replaced.
        };
        meta.remove(ORPHANS, &stream)?;
        if meta.get(UPLOADS_TREE, &ukey)?.is_none() {
            // Completed or aborted meanwhile, possibly after its sweep of late parts: undo.
            meta.put(ORPHANS, &stream, &now)?;
            meta.compare_and_swap(PARTS_TREE, &pkey, Some(&encoded), None)?;
            return Ok(PartCommit::NoSuchUpload);
        }
        Ok(PartCommit::Recorded { replaced })
    }

    /// Every recorded part's stream, split into those of uploads in progress and stray ones:
    /// parts recorded while their upload was completed or aborted or its bucket deleted, with a
    /// crash before the sweep of late parts ([`Store::sweep_upload_parts`]). Reads only.
    pub fn part_streams(&self) -> Result<PartStreams> {
        let mut live_uploads = std::collections::HashSet::new();
        for kv in self.meta().iter_prefix(UPLOADS_TREE, b"") {
            let (k, _) = kv?;
            if let Some(id) = k
                .len()
                .checked_sub(UPLOAD_ID_LEN)
                .and_then(|at| k.get(at..))
            {
                live_uploads.insert(id.to_vec());
            }
        }
        let mut out = PartStreams::default();
        for kv in self.meta().iter_prefix(PARTS_TREE, b"") {
            let (k, v) = kv?;
            let stream = PartRecord::decode(&v)?.stream.stream_id;
            if k.get(..UPLOAD_ID_LEN)
                .is_some_and(|id| live_uploads.contains(id))
            {
                out.in_progress.insert(stream);
            } else {
                out.stray.push((k, stream));
            }
        }
        Ok(out)
    }

    /// For the start-up sweep only: the streams of parts of uploads in progress (the sweep keeps
    /// these). Stray parts' streams go into `orphans` and their entries are removed, so the
    /// sweep reclaims them.
    pub(super) fn part_stream_ids(&self) -> Result<std::collections::HashSet<StreamId>> {
        let PartStreams { in_progress, stray } = self.part_streams()?;
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        for (key, stream) in stray {
            // Orphaned before it is unreferenced, as everywhere.
            self.meta().put(ORPHANS, &stream.0, &now)?;
            self.meta().remove(PARTS_TREE, &key)?;
        }
        Ok(in_progress)
    }

    /// The recorded parts of an upload with part number `> after`, in part-number order.
    pub fn list_parts(
        &self,
        upload_id: &str,
        after: u32,
    ) -> Result<impl Iterator<Item = Result<PartRecord>> + use<>> {
        let prefix = upload_id.as_bytes().to_vec();
        let start = if after == u32::MAX {
            // Nothing can follow: an empty range.
            Bound::Excluded(prefix_end(&prefix).unwrap_or_default())
        } else {
            Bound::Included(part_key(upload_id, after + 1))
        };
        let end = prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .meta()
            .iter_range(PARTS_TREE, start, end)
            .map(|kv| PartRecord::decode(&kv?.1)))
    }

    /// Completes an upload in one commit: `record` becomes the object at `bucket/key` (its
    /// streams are the `expected` parts' streams, already out of `orphans`), the upload and its
    /// part entries go, every part stream the object does not use enters `orphans`, and a
    /// replaced object's streams enter it. `all_parts` is every part recorded for the upload.
    pub fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        record: &ObjectRecord,
        all_parts: &[PartRecord],
    ) -> Result<CompleteCommit> {
        let _gate = self.gate_shared();
        let meta = self.meta();
        let objects = objects_tree_name(bucket);
        let ukey = upload_key(bucket, key, upload_id);
        let encoded = record.encode();
        let used = record.stream_ids();
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        loop {
            let bucket_now = self.bucket_bytes(bucket)?;
            let Some(upload_now) = meta.get(UPLOADS_TREE, &ukey)? else {
                return Ok(CompleteCommit::NoSuchUpload);
            };
            let mut c = Commit::new()
                .check(BUCKETS, bucket.as_bytes(), Some(&bucket_now))
                .check(UPLOADS_TREE, &ukey, Some(&upload_now))
                .delete(UPLOADS_TREE, &ukey);
            let mut unused = Vec::new();
            for p in all_parts {
                let pkey = part_key(upload_id, p.stream.part_number);
                let current = meta.get(PARTS_TREE, &pkey)?;
                match current.as_deref().map(PartRecord::decode).transpose()? {
                    Some(cur) if cur.stream.stream_id == p.stream.stream_id => {}
                    _ => return Ok(CompleteCommit::PartChanged),
                }
                c = c
                    .check(PARTS_TREE, &pkey, current.as_deref())
                    .delete(PARTS_TREE, &pkey);
                if !used.contains(&p.stream.stream_id) {
                    c = c.put(ORPHANS, &p.stream.stream_id.0, &now);
                    unused.push(p.stream.stream_id);
                }
            }
            let old = meta.get(&objects, key.as_bytes())?;
            let replaced = old
                .as_deref()
                .map(ObjectRecord::decode)
                .transpose()?
                .map(Box::new);
            c = c.check(&objects, key.as_bytes(), old.as_deref()).put(
                &objects,
                key.as_bytes(),
                &encoded,
            );
            for s in replaced.iter().flat_map(|r| r.stream_ids()) {
                if !used.contains(&s) {
                    c = c.put(ORPHANS, &s.0, &now);
                }
            }
            if meta.commit(&c)? {
                return Ok(CompleteCommit::Completed { replaced, unused });
            }
            // Something changed between the reads and the commit: judge again.
        }
    }

    /// Removes an upload and its parts in one commit, putting every part stream into
    /// `orphans`. Returns the streams to delete after a flush, or `None` if there was no upload.
    pub fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<StreamId>>> {
        self.bucket_bytes(bucket)?;
        let meta = self.meta();
        let ukey = upload_key(bucket, key, upload_id);
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        loop {
            let Some(upload_now) = meta.get(UPLOADS_TREE, &ukey)? else {
                return Ok(None);
            };
            let mut c = Commit::new()
                .check(UPLOADS_TREE, &ukey, Some(&upload_now))
                .delete(UPLOADS_TREE, &ukey);
            let mut streams = Vec::new();
            c = self.discard_parts(c, upload_id, &now, &mut streams)?;
            if meta.commit(&c)? {
                return Ok(Some(streams));
            }
        }
    }

    /// Adds to `c` the removal of every part entry of `upload_id` as stored now (checked
    /// unchanged by the commit) with its stream into `orphans`; the streams go to `streams`.
    fn discard_parts(
        &self,
        mut c: Commit,
        upload_id: &str,
        now: &[u8],
        streams: &mut Vec<StreamId>,
    ) -> Result<Commit> {
        for kv in self.meta().iter_prefix(PARTS_TREE, upload_id.as_bytes()) {
            let (pkey, pval) = kv?;
            let p = PartRecord::decode(&pval)?;
            c = c
                .check(PARTS_TREE, &pkey, Some(&pval))
                .delete(PARTS_TREE, &pkey)
                .put(ORPHANS, &p.stream.stream_id.0, now);
            streams.push(p.stream.stream_id);
        }
        Ok(c)
    }

    /// Removes the record of `bucket` with every upload in progress in it, in one commit that
    /// also removes their part entries and puts every part stream into `orphans`.
    ///
    /// The caller holds the bucket gate exclusively (so no upload starts meanwhile) and has
    /// checked that the bucket holds no object. The uploads and their parts are listed first
    /// and checked unchanged by the commit; a part recorded after that listing is left to
    /// [`Store::sweep_upload_parts`] with the returned upload ids, as after an abort.
    /// `marked`: the bucket's record as the deleter marked it; `None` when the record no
    /// longer is that (another change replaced the mark).
    pub(super) fn remove_bucket_with_uploads(
        &self,
        bucket: &str,
        marked: &[u8],
    ) -> Result<Option<DiscardedUploads>> {
        let meta = self.meta();
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        loop {
            let mut c = Commit::new()
                .check(BUCKETS, bucket.as_bytes(), Some(marked))
                .delete(BUCKETS, bucket.as_bytes());
            let mut streams = Vec::new();
            let mut upload_ids = Vec::new();
            for kv in meta.iter_prefix(UPLOADS_TREE, &bucket_prefix(bucket)) {
                let (ukey, uval) = kv?;
                let rest = ukey.get(bucket_prefix_len(&ukey)..).unwrap_or_default();
                let (_, upload_id) = split_upload_key(rest)?;
                c = c
                    .check(UPLOADS_TREE, &ukey, Some(&uval))
                    .delete(UPLOADS_TREE, &ukey);
                c = self.discard_parts(c, &upload_id, &now, &mut streams)?;
                upload_ids.push(upload_id);
            }
            if meta.commit(&c)? {
                return Ok(Some(DiscardedUploads {
                    streams,
                    upload_ids,
                }));
            }
            if meta.get(BUCKETS, bucket.as_bytes())?.as_deref() != Some(marked) {
                return Ok(None);
            }
        }
    }

    /// Part entries left behind by a part recorded while its upload was being completed or
    /// aborted, or its bucket deleted: moves their streams into `orphans`, removes the entries,
    /// and returns the streams to delete.
    pub fn sweep_upload_parts(&self, upload_id: &str) -> Result<Vec<StreamId>> {
        let now = unix_millis(std::time::SystemTime::now()).to_be_bytes();
        let mut out = Vec::new();
        for kv in self.meta().iter_prefix(PARTS_TREE, upload_id.as_bytes()) {
            let (k, v) = kv?;
            let p = PartRecord::decode(&v)?;
            self.meta().put(ORPHANS, &p.stream.stream_id.0, &now)?;
            self.meta().remove(PARTS_TREE, &k)?;
            out.push(p.stream.stream_id);
        }
        Ok(out)
    }

    /// Uploads in a bucket in (key, initiation) order, starting at the first upload whose key
    /// is `>= start_key`.
    pub fn list_uploads_from(
        &self,
        bucket: &str,
        start_key: &str,
    ) -> Result<impl Iterator<Item = Result<ListedUpload>> + use<>> {
        self.bucket_bytes(bucket)?;
        let prefix = bucket_prefix(bucket);
        let mut start = prefix.clone();
        start.extend_from_slice(start_key.as_bytes());
        let end = prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .meta()
            .iter_range(UPLOADS_TREE, Bound::Included(start), end)
            .map(move |kv| {
                let (k, v) = kv?;
                let rest = k.get(bucket_prefix_len(&k)..).unwrap_or_default();
                let (key, upload_id) = split_upload_key(rest)?;
                Ok(ListedUpload {
                    key,
                    upload_id,
                    record: UploadRecord::decode(&v)?,
                })
            }))
    }
}

/// Length of the `bucket ‖ 0x00` prefix of an upload key (bucket names hold no 0x00).
fn bucket_prefix_len(k: &[u8]) -> usize {
    k.iter().position(|b| *b == 0).map_or(k.len(), |p| p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_keys_split_from_both_ends() {
        let id = "0123456789abcdef0123456789abcdef";
        let k = upload_key("b", "a\0b/c", id);
        let rest = &k[bucket_prefix_len(&k)..];
        let (key, uid) = split_upload_key(rest).unwrap();
        assert_eq!(key, "a\0b/c");
        assert_eq!(uid, id);
        assert!(valid_upload_id(id));
        assert!(!valid_upload_id("../x"));
    }

    /// A crash between recording a part and taking its stream out of `orphans` must not lose
    /// the part: the start-up sweep keeps orphans that a part record references.
    #[test]
    fn sweep_keeps_orphans_referenced_by_parts() {
        let dir = tempfile::tempdir().unwrap();
        let opts = super::super::StoreOptions::default();
        let (kept, swept) = {
            let store = Store::open(dir.path(), &opts).unwrap();
            let kept = store.begin_stream(0).unwrap();
            let swept = store.begin_stream(0).unwrap();
            store.put_chunk(&kept, 0, b"kept").unwrap();
            store.put_chunk(&swept, 0, b"swept").unwrap();
            let part = PartRecord {
                stream: StreamRecord {
                    stream_id: kept,
                    salt: vec![0; 32],
                    size: 4,
                    part_number: 1,
                    etag: String::new(),
                    checksums: Default::default(),
                },
                last_modified_ms: 0,
                md5_hex: String::new(),
                checksums: Default::default(),
            };
            // The part record is in; its stream is still listed in `orphans` (the crash).
            let id = "0123456789abcdef0123456789abcdef";
            store
                .meta()
                .insert(
                    UPLOADS_TREE,
                    &upload_key("b", "k", id),
                    &test_upload().encode(),
                )
                .unwrap();
            store
                .meta()
                .insert(PARTS_TREE, &part_key(id, 1), &part.encode())
                .unwrap();
            store.sync().unwrap();
            (kept, swept)
        };
        let store = Store::open(dir.path(), &opts).unwrap();
        assert_eq!(store.count_chunks(&kept).unwrap(), 1);
        assert_eq!(store.count_chunks(&swept).unwrap(), 0);
        assert!(store.orphan_streams().unwrap().is_empty());
    }

    fn test_upload() -> UploadRecord {
        UploadRecord {
            initiated_ms: 0,
            content_type: None,
            headers: Default::default(),
            user_meta: Vec::new(),
            sse: super::super::records::SseRecord::s3_for_tests(),
            checksum_algorithm: None,
            checksum_type: None,
            acl: None,
        }
    }

    /// Writes a one-chunk part the way UploadPart does and records it.
    fn test_part(store: &Store, bucket: &str, key: &str, id: &str, n: u32) -> StreamId {
        let s = store.begin_stream(0).unwrap();
        store.put_chunk(&s, 0, b"part").unwrap();
        let part = PartRecord {
            stream: StreamRecord {
                stream_id: s,
                salt: vec![0; 32],
                size: 4,
                part_number: n,
                etag: String::new(),
                checksums: Default::default(),
            },
            last_modified_ms: 0,
            md5_hex: String::new(),
            checksums: Default::default(),
        };
        match store.commit_part(bucket, key, id, &part).unwrap() {
            PartCommit::Recorded { .. } => s,
            PartCommit::NoSuchUpload => panic!("no upload"),
        }
    }

    fn test_bucket() -> super::super::records::BucketRecord {
        super::super::records::BucketRecord {
            created_ms: 0,
            region: "us-east-1".into(),
            encryption: None,
            ..Default::default()
        }
    }

    /// A crash right after deleting a bucket (its transaction durable, no chunk deleted yet)
    /// loses nothing and leaks nothing: the uploads are gone with the bucket, and the start-up
    /// sweep reclaims their parts. Another bucket whose name extends this one's is untouched.
    #[test]
    fn bucket_deletion_discards_uploads_crash_safely() {
        let dir = tempfile::tempdir().unwrap();
        let opts = super::super::StoreOptions::default();
        let bucket = test_bucket();
        let (gone, kept) = {
            let store = Store::open(dir.path(), &opts).unwrap();
            store.create_bucket("bkt", &bucket).unwrap();
            store.create_bucket("bkt2", &bucket).unwrap();
            let a = Store::new_upload_id(1).unwrap();
            let b = Store::new_upload_id(2).unwrap();
            let c = Store::new_upload_id(3).unwrap();
            store.create_upload("bkt", "a", &a, &test_upload()).unwrap();
            store
                .create_upload("bkt", "b\0x", &b, &test_upload())
                .unwrap();
            store
                .create_upload("bkt2", "a", &c, &test_upload())
                .unwrap();
            let gone = vec![
                test_part(&store, "bkt", "a", &a, 1),
                test_part(&store, "bkt", "a", &a, 2),
                test_part(&store, "bkt", "b\0x", &b, 1),
            ];
            let kept = test_part(&store, "bkt2", "a", &c, 1);
            let discarded = store.delete_bucket("bkt").unwrap();
            let mut streams = discarded.streams.clone();
            streams.sort();
            let mut want = gone.clone();
            want.sort();
            assert_eq!(streams, want);
            let mut ids = discarded.upload_ids.clone();
            ids.sort();
            assert_eq!(ids, vec![a, b]);
            store.sync().unwrap();
            (gone, kept)
        };
        let store = Store::open(dir.path(), &opts).unwrap();
        for s in &gone {
            assert_eq!(store.count_chunks(s).unwrap(), 0);
        }
        assert_eq!(store.count_chunks(&kept).unwrap(), 1);
        assert!(store.orphan_streams().unwrap().is_empty());
        store.create_bucket("bkt", &bucket).unwrap();
        assert_eq!(store.list_uploads_from("bkt", "").unwrap().count(), 0);
        assert_eq!(store.list_uploads_from("bkt2", "").unwrap().count(), 1);
    }

    /// A part recorded while its upload was being aborted (or completed, or its bucket
    /// deleted) can miss that transaction; a crash before the sweep of late parts then leaves
    /// a part entry without its upload and its stream out of `orphans`. Start-up reclaims it.
    #[test]
    fn stray_part_of_a_gone_upload_is_reclaimed_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let opts = super::super::StoreOptions::default();
        let bucket = test_bucket();
        let (stray, kept) = {
            let store = Store::open(dir.path(), &opts).unwrap();
            store.create_bucket("bkt", &bucket).unwrap();
            let gone = Store::new_upload_id(1).unwrap();
            let live = Store::new_upload_id(2).unwrap();
            store
                .create_upload("bkt", "a", &gone, &test_upload())
                .unwrap();
            store
                .create_upload("bkt", "b", &live, &test_upload())
                .unwrap();
            let listed = test_part(&store, "bkt", "a", &gone, 1);
            let kept = test_part(&store, "bkt", "b", &live, 1);
            // The abort's transaction saw part 1 only; part 2 was recorded after its listing
            // and passed its own re-check of the upload just before the transaction.
            let stray = test_part(&store, "bkt", "a", &gone, 2);
            // What the abort's transaction does with what it listed.
            store.meta().put(ORPHANS, &listed.0, &[0u8; 8]).unwrap();
            store
                .meta()
                .remove(PARTS_TREE, &part_key(&gone, 1))
                .unwrap();
            store
                .meta()
                .remove(UPLOADS_TREE, &upload_key("bkt", "a", &gone))
                .unwrap();
            // The crash: nothing deleted, no late-part sweep.
            store.sync().unwrap();
            (stray, kept)
        };
        let store = Store::open(dir.path(), &opts).unwrap();
        assert_eq!(store.count_chunks(&stray).unwrap(), 0);
        assert_eq!(store.count_chunks(&kept).unwrap(), 1);
        assert!(store.orphan_streams().unwrap().is_empty());
        let left: Vec<_> = store.meta().iter_prefix(PARTS_TREE, b"").collect();
        assert_eq!(left.len(), 1, "only the live upload's part entry is left");
    }

    #[test]
    fn upload_ids_sort_by_time() {
        let a = Store::new_upload_id(1_000).unwrap();
        let b = Store::new_upload_id(2_000).unwrap();
        assert!(a < b);
        assert!(valid_upload_id(&a));
    }
}
