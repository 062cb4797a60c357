//! Tamper evidence for what `at_rest` does not cover: chunks swapped between two objects, the
//! last chunk dropped, a chunk appended past the final one, each for a multi-chunk object
//! (full and range GETs) and for zero-byte objects. A GET either fails (a clean error before
//! the response, or an aborted body once it started) or returns exactly the right bytes: a
//! range that does not touch the damage still reads, one that does never completes.

use aws_sdk_s3::primitives::ByteStream;
use coffer::sse::chunk::CHUNK_SIZE;
use coffer::storage::{Store, StoreOptions, StreamId};

use crate::common::*;

const B: &str = "tamper2";
/// Four chunks, the last one short.
const SIZE: usize = 3 * CHUNK_SIZE + 100;

#[derive(Debug)]
enum Outcome {
    Bytes(Vec<u8>),
    Error(String),
    Aborted,
}

async fn get(s3: &aws_sdk_s3::Client, key: &str, range: Option<&str>) -> Outcome {
    let mut req = s3.get_object().bucket(B).key(key);
    if let Some(r) = range {
        req = req.range(r);
    }
    match req.send().await {
        Err(e) => Outcome::Error(code(&e)),
        Ok(out) => match out.body.collect().await {
            Ok(b) => Outcome::Bytes(b.into_bytes().to_vec()),
            Err(_) => Outcome::Aborted,
        },
    }
}

/// The GET must not deliver a complete body.
async fn must_fail(s3: &aws_sdk_s3::Client, key: &str, range: Option<&str>) {
    match get(s3, key, range).await {
        Outcome::Bytes(b) => panic!(
            "GET {key} {range:?} of a tampered object completed with {} bytes",
            b.len()
        ),
        Outcome::Error(c) => assert!(
            c == "InternalError" || c == "InvalidRange",
            "GET {key} {range:?}: unexpected error {c}"
        ),
        Outcome::Aborted => {}
    }
}

/// The GET must deliver exactly `want`.
async fn must_read(s3: &aws_sdk_s3::Client, key: &str, range: &str, want: &[u8]) {
    match get(s3, key, Some(range)).await {
        Outcome::Bytes(b) => assert!(b == want, "GET {key} {range}: wrong bytes"),
        other => panic!("GET {key} {range} of an untouched range failed: {other:?}"),
    }
}

fn stream(store: &Store, key: &str) -> StreamId {
    store.get_object(B, key).unwrap().unwrap().parts[0].stream_id
}

fn range(from: usize, to: usize) -> String {
    format!("bytes={from}-{to}")
}

#[tokio::test]
async fn tamper_swap_between_objects_drop_last_append_chunk() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket(B).send().await.unwrap();
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("swap-a", pattern(SIZE, 1)),
        ("swap-b", pattern(SIZE, 2)),
        ("dropped", pattern(SIZE, 3)),
        ("appended", pattern(SIZE, 4)),
        ("empty-a", Vec::new()),
        ("empty-b", Vec::new()),
        ("empty-dropped", Vec::new()),
        ("empty-appended", Vec::new()),
    ];
    for (k, body) in &bodies {
        s3.put_object()
            .bucket(B)
            .key(*k)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
    }
    drop(s3);
    let dir = srv.stop();
    {
        let store = Store::open(&dir.path().join("db"), &StoreOptions::default()).unwrap();
        // Chunk 1 of two same-sized objects (same position, same length) swapped.
        let (a, b) = (stream(&store, "swap-a"), stream(&store, "swap-b"));
        let (ca, cb) = (
            store.get_chunk(&a, 1).unwrap().unwrap(),
            store.get_chunk(&b, 1).unwrap().unwrap(),
        );
        store.put_chunk(&a, 1, &cb).unwrap();
        store.put_chunk(&b, 1, &ca).unwrap();
        // The only chunks of two empty objects swapped.
        let (a, b) = (stream(&store, "empty-a"), stream(&store, "empty-b"));
        let (ca, cb) = (
            store.get_chunk(&a, 0).unwrap().unwrap(),
            store.get_chunk(&b, 0).unwrap().unwrap(),
        );
        store.put_chunk(&a, 0, &cb).unwrap();
        store.put_chunk(&b, 0, &ca).unwrap();
        // The last chunk dropped (and the only chunk of an empty object).
        for (key, last) in [("dropped", 3u64), ("empty-dropped", 0)] {
            let s = stream(&store, key);
            let mut batch_keep = Vec::new();
            for i in 0..last {
                batch_keep.push((i, store.get_chunk(&s, i).unwrap().unwrap()));
            }
            store.delete_stream(&s).unwrap();
            for (i, c) in batch_keep {
                store.put_chunk(&s, i, &c).unwrap();
            }
        }
        // A chunk appended past the final one: a copy of the final chunk, and a copy of
        // chunk 0 after an empty object's only chunk.
        let s = stream(&store, "appended");
        let c = store.get_chunk(&s, 3).unwrap().unwrap();
        store.put_chunk(&s, 4, &c).unwrap();
        let s = stream(&store, "empty-appended");
        let c = store.get_chunk(&s, 0).unwrap().unwrap();
        store.put_chunk(&s, 1, &c).unwrap();
    }

    let srv = TestServer::start_in(dir, |_| {}).await;
    let s3 = srv.s3();
    let body = |k: &str| bodies.iter().find(|(n, _)| *n == k).unwrap().1.clone();
    let c = CHUNK_SIZE;

    for key in ["swap-a", "swap-b"] {
        must_fail(&s3, key, None).await;
        must_fail(&s3, key, Some(&range(c + 10, c + 20))).await;
        must_fail(&s3, key, Some(&range(c - 5, c + 5))).await;
        must_read(&s3, key, &range(0, 99), &body(key)[..100]).await;
        must_read(
            &s3,
            key,
            &range(2 * c, 2 * c + 9),
            &body(key)[2 * c..2 * c + 10],
        )
        .await;
    }
    // The final chunk is gone: anything touching it fails, including a suffix range.
    must_fail(&s3, "dropped", None).await;
    must_fail(&s3, "dropped", Some("bytes=-1")).await;
    must_fail(&s3, "dropped", Some(&range(3 * c, 3 * c + 5))).await;
    must_read(&s3, "dropped", &range(5, 50), &body("dropped")[5..51]).await;
    // A chunk past the final one: the read of the final chunk notices it.
    must_fail(&s3, "appended", None).await;
    must_fail(&s3, "appended", Some("bytes=-10")).await;
    must_fail(&s3, "appended", Some(&range(3 * c, SIZE - 1))).await;
    must_read(
        &s3,
        "appended",
        &range(c, c + 9),
        &body("appended")[c..c + 10],
    )
    .await;
    // Zero-byte objects: a plain GET fails; a range GET has no bytes to give.
    for key in ["empty-a", "empty-b", "empty-dropped", "empty-appended"] {
        must_fail(&s3, key, None).await;
        must_fail(&s3, key, Some("bytes=0-")).await;
        must_fail(&s3, key, Some("bytes=-1")).await;
    }
}
