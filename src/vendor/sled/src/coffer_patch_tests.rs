//! Coffer patch (see ../README.md): a database that splits leaves of large values with
//! `Link::Split` deltas stays correct under concurrent appends, eviction (pages rebuilt from
//! their deltas on disk), deletes (merges) and recovery.

use std::sync::Arc;

use crate::{Config, Db, IVec};

const STREAMS: u8 = 4;
const CHUNKS: u64 = 24;

fn key(stream: u8, index: u64) -> Vec<u8> {
    let mut k = vec![0x5a, stream.wrapping_mul(37), stream];
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn value(stream: u8, index: u64) -> Vec<u8> {
    let mut v = vec![stream; 200 * 1024 + usize::from(stream)];
    v[..8].copy_from_slice(&index.to_be_bytes());
    v
}

fn check(db: &Db, streams: &[u8]) {
    for &s in streams {
        for i in 0..CHUNKS {
            let got = db.get(key(s, i)).unwrap();
            assert_eq!(
                got,
                Some(IVec::from(value(s, i))),
                "stream {} chunk {}",
                s,
                i
            );
        }
        let prefix = &key(s, 0)[..3];
        let scanned: Vec<_> =
            db.scan_prefix(prefix).map(|kv| kv.unwrap().0).collect();
        let expected: Vec<IVec> =
            (0..CHUNKS).map(|i| key(s, i).into()).collect();
        assert_eq!(scanned, expected, "stream {} in order", s);
    }
    assert_eq!(db.len(), streams.len() * CHUNKS as usize);
}

/// Opens the database at `config`, waiting while the previous handle's file lock is still held:
/// sled's flusher thread lets go of it a moment after the last `Db` is dropped (Coffer's
/// `open_waiting_for_lock` does the same for the server).
fn open_when_unlocked(config: &Config) -> Db {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match config.open() {
            Err(crate::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
}

#[test]
fn large_value_appends_survive_eviction_deletes_and_recovery() {
    let dir = std::env::temp_dir().join(format!(
        "sled-coffer-split-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let config = || {
        Config::new()
            .path(&dir)
            .segment_size(8 << 20)
            .cache_capacity(2 * 1024 * 1024)
    };
    {
        let db = Arc::new(open_when_unlocked(&config()));
        let writers: Vec<_> = (0..STREAMS)
            .map(|s| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..CHUNKS {
                        db.insert(key(s, i), value(s, i)).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        check(&db, &(0..STREAMS).collect::<Vec<_>>());
        db.flush().unwrap();
    }
    {
        let db = open_when_unlocked(&config());
        check(&db, &(0..STREAMS).collect::<Vec<_>>());
        for i in 0..CHUNKS {
            db.remove(key(1, i)).unwrap();
        }
        check(&db, &[0, 2, 3]);
        db.flush().unwrap();
    }
    {
        let db = open_when_unlocked(&config());
        check(&db, &[0, 2, 3]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Coffer patch: a value over a quarter of a segment goes to a blob file, now synced (which a
/// test cannot observe short of a power cut); the blob path still round-trips through a reopen.
#[test]
fn blob_values_survive_a_reopen() {
    let dir = std::env::temp_dir().join(format!(
        "sled-coffer-blob-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let config = || Config::new().path(&dir).segment_size(8 << 20);
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    {
        let db = open_when_unlocked(&config());
        db.insert(b"big", big.as_slice()).unwrap();
        db.flush().unwrap();
        let blobs = std::fs::read_dir(dir.join("blobs")).unwrap().count();
        assert!(blobs > 0, "a 3 MiB value should be stored as a blob");
    }
    {
        let db = open_when_unlocked(&config());
        assert_eq!(db.get(b"big").unwrap(), Some(IVec::from(big)));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
