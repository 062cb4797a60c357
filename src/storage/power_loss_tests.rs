//! Power loss, not only kill -9: a store over the memory backends with durability frozen at
//! the Nth sync, for every N a workload reaches, then reopened from what the "disk" kept (the
//! redb crash-test pattern). Every write whose flush returned within the first N syncs must be
//! there, whole; nothing written later may be half there; nothing leaks past the sweep.

use std::collections::BTreeMap;

use super::chunks::{Chunks, MemChunks};
use super::meta::{MemMeta, Meta};
use super::multipart::{CompleteCommit, PartCommit, PartRecord, UploadRecord};
use super::records::{BucketRecord, CipherParams, ObjectRecord, SseRecord, StreamRecord};
use super::{Store, StreamId};

const BUCKET: &str = "b";

/// What the store must hold: object key -> the chunks of each of its streams.
type Expected = BTreeMap<String, Vec<Vec<Vec<u8>>>>;

fn sse() -> SseRecord {
    SseRecord::s3_for_tests()
}

fn stream_record(id: StreamId, part_number: u32) -> StreamRecord {
    StreamRecord {
        stream_id: id,
        salt: vec![0; 32],
        size: 8,
        part_number,
        etag: String::new(),
        checksums: Default::default(),
    }
}

fn object(parts: Vec<StreamRecord>) -> ObjectRecord {
    ObjectRecord {
        size: 8 * parts.len() as u64,
        etag: "e".into(),
        last_modified_ms: 0,
        content_type: None,
        headers: Default::default(),
        user_meta: Vec::new(),
        checksums: Default::default(),
        sse: sse(),
        cipher: CipherParams {
            scheme: "AES-256-GCM/HKDF-SHA256/v1".into(),
            chunk_size: 65536,
        },
        parts,
        acl: None,
    }
}

/// Writes a stream of two chunks as a PUT does (in `orphans` from the start).
fn write_stream(store: &Store, tag: u8) -> (StreamId, Vec<Vec<u8>>) {
    let id = store.begin_stream(0).unwrap();
    let chunks = vec![vec![tag; 5], vec![tag ^ 0xFF; 3]];
    for (i, c) in chunks.iter().enumerate() {
        store.put_chunk(&id, i as u64, c).unwrap();
    }
    (id, chunks)
}

/// The workload: after each step, a flush; `states[k]` is what the store holds after the
/// k-th flush returned. Replaced and removed streams are deleted after the flush that made
/// their replacement durable, as the service does.
async fn workload(store: &Store) -> Vec<Expected> {
    let mut states = Vec::new();
    let mut now = Expected::new();
    let mut to_delete: Vec<StreamId> = Vec::new();
    macro_rules! flushed {
        () => {
            store.flush().await.unwrap();
            for s in to_delete.drain(..) {
                store.delete_stream(&s).unwrap();
            }
            states.push(now.clone());
        };
    }
    let bucket = BucketRecord {
        created_ms: 0,
        region: "us-east-1".into(),
        ..Default::default()
    };
    store.create_bucket(BUCKET, &bucket).unwrap();
    flushed!();
    for i in 0..6u8 {
        let key = format!("k{}", i % 3);
        let (id, chunks) = write_stream(store, i);
        let old = store
            .commit_object(BUCKET, &key, &object(vec![stream_record(id, 0)]), &|_| {
                Ok(())
            })
            .unwrap();
        to_delete.extend(old.iter().flat_map(ObjectRecord::stream_ids));
        now.insert(key, vec![chunks]);
        flushed!();
    }
    // A multipart upload of two parts, one re-uploaded, completed over k1.
    let upload_id = Store::new_upload_id(1).unwrap();
    let upload = UploadRecord {
        initiated_ms: 0,
        content_type: None,
        headers: Default::default(),
        user_meta: Vec::new(),
        sse: sse(),
        checksum_algorithm: None,
        checksum_type: None,
        acl: None,
    };
    store
        .create_upload(BUCKET, "k1", &upload_id, &upload)
        .unwrap();
    flushed!();
    let mut parts = Vec::new();
    for (n, tag) in [(1u32, 100u8), (2, 101), (2, 102)] {
        let (id, chunks) = write_stream(store, tag);
        let part = PartRecord {
            stream: stream_record(id, n),
            last_modified_ms: 0,
            md5_hex: String::new(),
            checksums: Default::default(),
        };
        match store.commit_part(BUCKET, "k1", &upload_id, &part).unwrap() {
            PartCommit::Recorded { replaced } => {
                to_delete.extend(replaced.map(|r| r.stream.stream_id));
            }
            PartCommit::NoSuchUpload => panic!("the upload is there"),
        }
        parts.retain(|(p, _): &(PartRecord, _)| p.stream.part_number != n);
        parts.push((part, chunks));
        flushed!();
    }
    let records: Vec<PartRecord> = parts.iter().map(|(p, _)| p.clone()).collect();
    let obj = object(records.iter().map(|p| p.stream.clone()).collect());
    match store
        .complete_upload(BUCKET, "k1", &upload_id, &obj, &records)
        .unwrap()
    {
        CompleteCommit::Completed { replaced, unused } => {
            assert!(unused.is_empty());
            to_delete.extend(replaced.iter().flat_map(|r| r.stream_ids()));
        }
        other => panic!("completing: {other:?}"),
    }
    now.insert("k1".into(), parts.into_iter().map(|(_, c)| c).collect());
    flushed!();
    let old = store.remove_object(BUCKET, "k0").unwrap();
    to_delete.extend(old.iter().flat_map(ObjectRecord::stream_ids));
    now.remove("k0");
    flushed!();
    states
}

/// Whether `store` holds exactly `expected`, each object whole, and no chunk outside it.
fn assert_holds(store: &Store, expected: &Expected, when: &str) {
    let listed: Vec<(String, ObjectRecord)> = match store.list_objects_from(BUCKET, b"") {
        Ok(it) => it.collect::<Result<_, _>>().unwrap(),
        // Power lost before the bucket's creation was durable.
        Err(super::StorageError::NoSuchBucket) => Vec::new(),
        Err(e) => panic!("{when}: {e}"),
    };
    let keys: Vec<&String> = listed.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, expected.keys().collect::<Vec<_>>(), "{when}: keys");
    let mut referenced = Vec::new();
    for (key, rec) in &listed {
        let want = &expected[key];
        assert_eq!(rec.parts.len(), want.len(), "{when}: {key} parts");
        for (part, chunks) in rec.parts.iter().zip(want) {
            let mut cursor = store.chunk_cursor(&part.stream_id, 0).unwrap();
            let mut got = Vec::new();
            while let Some((_, c)) = cursor.next_chunk().unwrap() {
                got.push(c);
            }
            assert_eq!(&got, chunks, "{when}: {key} chunks");
            referenced.push(part.stream_id);
        }
    }
    // Upload parts in progress are referenced too.
    referenced.extend(store.part_streams().unwrap().in_progress);
    for s in store.all_chunk_streams().unwrap() {
        assert!(
            referenced.contains(&s),
            "{when}: stream {s:?} has chunks but nothing refers to it"
        );
    }
    assert!(
        store.orphan_streams().unwrap().is_empty(),
        "{when}: orphans left"
    );
}

#[test]
fn power_loss_at_every_sync_loses_no_acknowledged_write() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let open = |m: &MemMeta, c: &MemChunks| {
        Store::over(Meta::new(m.clone()), Chunks::new(c.clone())).unwrap()
    };
    // A run without a power cut: how many syncs the workload makes, and its states.
    let (m, c) = (MemMeta::new(), MemChunks::new());
    let states = rt.block_on(workload(&open(&m, &c)));
    assert_eq!(m.syncs(), states.len() as u64, "one sync per flush");
    assert_holds(
        &open(&m.after_power_loss(), &c.after_power_loss()),
        &states[states.len() - 1],
        "no cut",
    );
    for n in 0..=states.len() as u64 {
        let (m, c) = (MemMeta::new(), MemChunks::new());
        m.freeze_durability_after(n);
        c.freeze_durability_after(n);
        rt.block_on(workload(&open(&m, &c)));
        let reopened = open(&m.after_power_loss(), &c.after_power_loss());
        let expected = match n {
            0 => Expected::new(),
            n => states[n as usize - 1].clone(),
        };
        assert_holds(&reopened, &expected, &format!("power cut after sync {n}"));
    }
}
