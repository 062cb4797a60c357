//! The shared test suite every [`ChunkStore`] backend passes ([`conformance`]).

use super::*;

fn id(first: u8, last: u8) -> StreamId {
    let mut b = [first; STREAM_ID_LEN];
    b[STREAM_ID_LEN - 1] = last;
    StreamId(b)
}

fn read_all(c: &Chunks, s: &StreamId, first: u64) -> Vec<(u64, Vec<u8>)> {
    let mut cur = c.cursor(s, first).unwrap();
    let mut out = Vec::new();
    while let Some((i, chunk)) = cur.next_chunk().unwrap() {
        out.push((i, chunk.to_vec()));
    }
    out
}

/// Everything the module docs promise, against one empty store.
pub(crate) fn conformance(c: &Chunks) {
    // Streams whose ids are neighbours in byte order, the last of all 0xFF.
    let (a, b, z) = (id(1, 0), id(1, 1), id(0xFF, 0xFF));
    let big: Vec<u8> = (0..(64 << 10) + 16).map(|i: u32| (i % 253) as u8).collect();
    for i in [0u64, 1, 2, 5] {
        c.put(&a, i, &[i as u8; 3]).unwrap();
    }
    c.put(&b, 0, &big).unwrap();
    c.put(&z, u64::MAX, b"last").unwrap();
    c.put(&z, 0, b"").unwrap();

    assert_eq!(c.get(&a, 1).unwrap(), Some(vec![1; 3]));
    assert_eq!(c.get(&a, 3).unwrap(), None);
    assert_eq!(c.get(&b, 0).unwrap(), Some(big.clone()));
    assert_eq!(c.get(&z, 0).unwrap(), Some(Vec::new()));
    assert!(c.contains(&a, 5).unwrap());
    assert!(!c.contains(&a, 4).unwrap());

    // Cursors: in order, holes skipped, from any index, never into the next stream.
    let idx = |v: Vec<(u64, Vec<u8>)>| v.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
    assert_eq!(idx(read_all(c, &a, 0)), vec![0, 1, 2, 5]);
    assert_eq!(idx(read_all(c, &a, 2)), vec![2, 5]);
    assert_eq!(idx(read_all(c, &a, 3)), vec![5]);
    assert!(read_all(c, &a, 6).is_empty());
    assert_eq!(read_all(c, &b, 0), vec![(0, big)]);
    assert_eq!(idx(read_all(c, &z, 0)), vec![0, u64::MAX]);
    assert!(read_all(c, &id(7, 7), 0).is_empty());

    // The last put of an index wins.
    c.put(&a, 2, b"again").unwrap();
    assert_eq!(c.get(&a, 2).unwrap().as_deref(), Some(&b"again"[..]));

    assert_eq!(c.count(&a).unwrap(), 4);
    assert_eq!(c.count(&id(7, 7)).unwrap(), 0);
    assert_eq!(c.streams().unwrap(), vec![a, b, z]);

    // Deleting one stream leaves its neighbours; deleting nothing is fine.
    c.delete_stream(&a).unwrap();
    c.delete_stream(&id(7, 7)).unwrap();
    assert_eq!(c.count(&a).unwrap(), 0);
    assert!(read_all(c, &a, 0).is_empty());
    assert_eq!(c.count(&b).unwrap(), 1);
    assert_eq!(c.streams().unwrap(), vec![b, z]);
    appends(c);
    c.sync().unwrap();
}

/// A stream's writer appends batches in order; the last one ends the stream.
fn appends(c: &Chunks) {
    let s = id(3, 3);
    let chunk = |i: u64| vec![(i % 251) as u8; 100 + i as usize];
    let batch = |r: std::ops::Range<u64>| r.map(chunk).collect::<Vec<_>>();
    // Whole batches of 16, then a short last one: 37 chunks.
    c.append(&s, 0, &batch(0..16), false).unwrap();
    c.append(&s, 16, &batch(16..32), false).unwrap();
    c.append(&s, 32, &batch(32..37), true).unwrap();
    let want: Vec<(u64, Vec<u8>)> = (0..37).map(|i| (i, chunk(i))).collect();
    assert_eq!(read_all(c, &s, 0), want);
    assert_eq!(read_all(c, &s, 17), want[17..].to_vec());
    assert_eq!(read_all(c, &s, 36), want[36..].to_vec());
    assert!(read_all(c, &s, 37).is_empty());
    assert_eq!(c.get(&s, 20).unwrap(), Some(chunk(20)));
    assert_eq!(c.count(&s).unwrap(), 37);
    // A batch that does not start at a multiple of 16, and a stream of exactly 16 chunks.
    let t = id(3, 4);
    c.append(&t, 0, &batch(0..3), false).unwrap();
    c.append(&t, 3, &batch(3..20), true).unwrap();
    assert_eq!(
        read_all(c, &t, 0),
        (0..20).map(|i| (i, chunk(i))).collect::<Vec<_>>()
    );
    let u = id(3, 5);
    c.append(&u, 0, &batch(0..16), true).unwrap();
    assert_eq!(read_all(c, &u, 0).len(), 16);
    for x in [s, t, u] {
        c.delete_stream(&x).unwrap();
        assert!(read_all(c, &x, 0).is_empty());
    }
}

#[test]
fn sled_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    conformance(&Chunks::new(SledChunks::new(
        db.open_tree("chunks").unwrap(),
    )));
}

#[test]
fn memory_backend_conforms() {
    conformance(&Chunks::new(MemChunks::new()));
}
