//! The shared test suite every [`MetaStore`] backend passes ([`conformance`]), run here
//! against sled and memory, and the power-loss behaviour of [`MemMeta`].

use std::ops::Bound;

use proptest::prelude::*;

use super::*;

/// Everything the module docs promise, against one empty store.
pub(crate) fn conformance(meta: &Meta) {
    point_operations(meta);
    trees_are_separate(meta);
    scans(meta);
    commits_are_all_or_nothing(meta);
    concurrent_compare_and_swap(meta);
    paging(meta);
    clear_tree(meta);
    meta.sync().unwrap();
}

fn point_operations(m: &Meta) {
    let t = "c/point";
    assert_eq!(m.get(t, b"k").unwrap(), None);
    m.put(t, b"k", b"v1").unwrap();
    assert_eq!(m.get(t, b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(
        m.insert(t, b"k", b"v2").unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    assert!(!m.insert_if_absent(t, b"k", b"v3").unwrap());
    assert!(m.insert_if_absent(t, b"k2", b"v3").unwrap());
    assert!(
        !m.compare_and_swap(t, b"k", Some(b"v1"), Some(b"x"))
            .unwrap()
    );
    assert!(
        m.compare_and_swap(t, b"k", Some(b"v2"), Some(b"v4"))
            .unwrap()
    );
    assert!(m.compare_and_swap(t, b"k2", Some(b"v3"), None).unwrap());
    assert_eq!(m.get(t, b"k2").unwrap(), None);
    assert_eq!(m.remove(t, b"k").unwrap().as_deref(), Some(&b"v4"[..]));
    assert_eq!(m.remove(t, b"k").unwrap(), None);
    // Empty keys and values, binary bytes and large values are values like any other.
    m.put(t, b"", b"").unwrap();
    assert_eq!(m.get(t, b"").unwrap().as_deref(), Some(&b""[..]));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    m.put(t, &[0, 0xFF, 0], &big).unwrap();
    assert_eq!(m.get(t, &[0, 0xFF, 0]).unwrap(), Some(big));
    assert!(!m.is_empty(t).unwrap());
    assert!(m.is_empty("c/never-written").unwrap());
}

fn trees_are_separate(m: &Meta) {
    m.put("c/a", b"k", b"a").unwrap();
    m.put("c/b", b"k", b"b").unwrap();
    assert_eq!(m.get("c/a", b"k").unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(m.get("c/b", b"k").unwrap().as_deref(), Some(&b"b"[..]));
    // A tree whose name extends another's shares none of its keys.
    m.put("c/ab", b"k", b"ab").unwrap();
    assert_eq!(m.scan("c/a", &Scan::all(10)).unwrap().len(), 1);
}

fn keys(v: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    v.iter().map(|(k, _)| k.clone()).collect()
}

fn scans(m: &Meta) {
    let t = "c/scan";
    // Unsigned byte order: 0x80 sorts after 0x7F, a shorter key before its extensions.
    let ks: Vec<&[u8]> = vec![b"a", b"ab", b"b", &[0x7F], &[0x80], &[0xFF, 0xFF], b"a\0"];
    for k in &ks {
        m.put(t, k, k).unwrap();
    }
    let mut sorted: Vec<Vec<u8>> = ks.iter().map(|k| k.to_vec()).collect();
    sorted.sort();
    assert_eq!(keys(&m.scan(t, &Scan::all(100)).unwrap()), sorted);
    let mut rev = sorted.clone();
    rev.reverse();
    let all_rev = Scan {
        reverse: true,
        ..Scan::all(100)
    };
    assert_eq!(keys(&m.scan(t, &all_rev).unwrap()), rev);
    // Limits take from the start of the direction read.
    assert_eq!(keys(&m.scan(t, &Scan::all(2)).unwrap()), sorted[..2]);
    let two_rev = Scan {
        reverse: true,
        ..Scan::all(2)
    };
    assert_eq!(keys(&m.scan(t, &two_rev).unwrap()), rev[..2]);
    // Bounds of each kind.
    let range = |start, end, reverse| Scan {
        start,
        end,
        reverse,
        limit: 100,
    };
    let got = m
        .scan(
            t,
            &range(
                Bound::Excluded(b"a".to_vec()),
                Bound::Included(b"b".to_vec()),
                false,
            ),
        )
        .unwrap();
    assert_eq!(
        keys(&got),
        vec![b"a\0".to_vec(), b"ab".to_vec(), b"b".to_vec()]
    );
    let got = m
        .scan(
            t,
            &range(
                Bound::Included(b"a".to_vec()),
                Bound::Excluded(b"b".to_vec()),
                true,
            ),
        )
        .unwrap();
    assert_eq!(
        keys(&got),
        vec![b"ab".to_vec(), b"a\0".to_vec(), b"a".to_vec()]
    );
    assert_eq!(
        keys(&m.scan(t, &Scan::prefix(b"a", 100)).unwrap()),
        vec![b"a".to_vec(), b"a\0".to_vec(), b"ab".to_vec()]
    );
    assert_eq!(
        keys(&m.scan(t, &Scan::prefix(&[0xFF], 100)).unwrap()),
        vec![vec![0xFF, 0xFF]]
    );
    // Inverted and empty ranges are empty, not errors.
    for (s, e) in [
        (
            Bound::Included(b"b".to_vec()),
            Bound::Included(b"a".to_vec()),
        ),
        (
            Bound::Excluded(b"a".to_vec()),
            Bound::Excluded(b"a".to_vec()),
        ),
        (
            Bound::Included(b"a".to_vec()),
            Bound::Excluded(b"a".to_vec()),
        ),
    ] {
        assert!(m.scan(t, &range(s, e, false)).unwrap().is_empty());
    }
    assert!(m.scan(t, &Scan::all(0)).unwrap().is_empty());
}

fn commits_are_all_or_nothing(m: &Meta) {
    let (a, b) = ("c/tx-a", "c/tx-b");
    m.put(a, b"x", b"1").unwrap();
    // A failed check anywhere leaves every tree as it was.
    let refused = Commit::new()
        .check(a, b"x", Some(b"1"))
        .check(b, b"y", Some(b"missing"))
        .put(a, b"x", b"2")
        .put(b, b"y", b"2")
        .delete(a, b"x");
    assert!(!m.commit(&refused).unwrap());
    assert_eq!(m.get(a, b"x").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(m.get(b, b"y").unwrap(), None);
    // Checks hold: every write lands, in order (a later write to a key wins).
    let ok = Commit::new()
        .check(a, b"x", Some(b"1"))
        .check(b, b"y", None)
        .put(a, b"x", b"2")
        .put(b, b"y", b"2")
        .put(b, b"z", b"first")
        .put(b, b"z", b"second")
        .delete(a, b"gone");
    assert!(m.commit(&ok).unwrap());
    assert_eq!(m.get(a, b"x").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(m.get(b, b"y").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(m.get(b, b"z").unwrap().as_deref(), Some(&b"second"[..]));
    // Checks only, and nothing at all.
    assert!(m.commit(&Commit::new().check(a, b"x", Some(b"2"))).unwrap());
    assert!(!m.commit(&Commit::new().check(a, b"x", None)).unwrap());
    assert!(m.commit(&Commit::new()).unwrap());
}

/// Threads incrementing one counter by compare-and-swap lose no increment, and commits moving
/// value between two keys, each guarded by checks on both, keep the sum. (Scans are not
/// snapshots on every backend: sled's iterators are not, so no test asks for it.)
fn concurrent_compare_and_swap(m: &Meta) {
    let t = "c/counter";
    m.put(t, b"n", &0u64.to_be_bytes()).unwrap();
    m.put(t, b"left", &1000u64.to_be_bytes()).unwrap();
    m.put(t, b"right", &0u64.to_be_bytes()).unwrap();
    let read = |k: &[u8]| {
        let v = m.get(t, k).unwrap().unwrap();
        u64::from_be_bytes(v.try_into().unwrap())
    };
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    loop {
                        let old = m.get(t, b"n").unwrap().unwrap();
                        let n = u64::from_be_bytes(old.clone().try_into().unwrap());
                        if m.compare_and_swap(t, b"n", Some(&old), Some(&(n + 1).to_be_bytes()))
                            .unwrap()
                        {
                            break;
                        }
                    }
                    loop {
                        let (l, r) = (m.get(t, b"left").unwrap(), m.get(t, b"right").unwrap());
                        let (l, r) = (l.unwrap(), r.unwrap());
                        let lv = u64::from_be_bytes(l.clone().try_into().unwrap());
                        let rv = u64::from_be_bytes(r.clone().try_into().unwrap());
                        let c = Commit::new()
                            .check(t, b"left", Some(&l))
                            .check(t, b"right", Some(&r))
                            .put(t, b"left", &(lv - 1).to_be_bytes())
                            .put(t, b"right", &(rv + 1).to_be_bytes());
                        if m.commit(&c).unwrap() {
                            break;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(read(b"n"), 200);
    assert_eq!((read(b"left"), read(b"right")), (800, 200));
}

fn paging(m: &Meta) {
    let t = "c/pages";
    let n = PAGE * 2 + 7;
    for i in 0..n as u32 {
        m.put(t, &i.to_be_bytes(), &[1]).unwrap();
    }
    m.put("c/pages-next", b"\0", b"other tree").unwrap();
    let all: Vec<_> = m.iter_prefix(t, b"").map(|kv| kv.unwrap().0).collect();
    assert_eq!(all.len(), n);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    let from: Vec<_> = m
        .iter_from(t, &(PAGE as u32).to_be_bytes())
        .map(|kv| kv.unwrap().0)
        .collect();
    assert_eq!(from.len(), n - PAGE);
    let bounded: Vec<_> = m
        .iter_range(
            t,
            Bound::Excluded(3u32.to_be_bytes().to_vec()),
            Bound::Excluded((PAGE as u32 + 3).to_be_bytes().to_vec()),
        )
        .map(|kv| kv.unwrap().0)
        .collect();
    assert_eq!(bounded.len(), PAGE - 1);
    // Exactly a page: the iterator ends after one more, empty, scan.
    let t2 = "c/one-page";
    for i in 0..PAGE as u32 {
        m.put(t2, &i.to_be_bytes(), &[]).unwrap();
    }
    assert_eq!(m.iter_prefix(t2, b"").count(), PAGE);
}

fn clear_tree(m: &Meta) {
    m.put("c/clear", b"1", b"1").unwrap();
    m.put("c/clear", b"2", b"2").unwrap();
    m.put("c/kept", b"1", b"1").unwrap();
    m.clear_tree("c/clear").unwrap();
    assert!(m.is_empty("c/clear").unwrap());
    assert_eq!(m.get("c/kept", b"1").unwrap().as_deref(), Some(&b"1"[..]));
    m.put("c/clear", b"3", b"3").unwrap();
    assert_eq!(m.scan("c/clear", &Scan::all(10)).unwrap().len(), 1);
}

#[test]
fn sled_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    conformance(&Meta::new(SledMeta::new(db)));
}

#[test]
fn memory_backend_conforms() {
    conformance(&Meta::new(MemMeta::new()));
}

#[test]
fn sled_backend_keeps_what_it_synced_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let m = Meta::new(SledMeta::new(db));
        m.put("t", b"k", b"v").unwrap();
        m.sync().unwrap();
    }
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    // The trees are sled's own: a store written without the seam reads the same.
    assert_eq!(
        db.open_tree("t").unwrap().get(b"k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
    let m = Meta::new(SledMeta::new(db));
    assert_eq!(m.get("t", b"k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn memory_backend_loses_exactly_what_was_not_synced_when_power_is_cut() {
    let mem = MemMeta::new();
    let m = Meta::new(mem.clone());
    m.put("t", b"a", b"1").unwrap();
    m.sync().unwrap();
    m.put("t", b"b", b"2").unwrap();
    let after = Meta::new(mem.after_power_loss());
    assert_eq!(after.get("t", b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(after.get("t", b"b").unwrap(), None);
    // Frozen after the 2nd sync: the 3rd "succeeds" and keeps nothing new.
    mem.freeze_durability_after(2);
    m.sync().unwrap();
    m.put("t", b"c", b"3").unwrap();
    m.sync().unwrap();
    assert_eq!(mem.syncs(), 3);
    let after = Meta::new(mem.after_power_loss());
    assert_eq!(after.get("t", b"b").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(after.get("t", b"c").unwrap(), None);
}

#[test]
fn prefix_end_is_the_first_key_past_the_prefix() {
    assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
    assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
    assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
    assert_eq!(prefix_end(b""), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random commits and scans give the same answers on sled as on a plain ordered map.
    #[test]
    fn sled_agrees_with_a_model(
        ops in proptest::collection::vec(
            (0u8..4, proptest::collection::vec(0u8..4, 0..3), proptest::collection::vec(any::<u8>(), 0..4)),
            1..60,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let sled = Meta::new(SledMeta::new(db));
        let model = Meta::new(MemMeta::new());
        for (op, key, value) in &ops {
            for m in [&sled, &model] {
                match op {
                    0 => { m.put("t", key, value).unwrap(); }
                    1 => { m.remove("t", key).unwrap(); }
                    2 => { m.insert_if_absent("t", key, value).unwrap(); }
                    _ => {
                        let c = Commit::new().check("t", key, Some(value)).delete("t", key);
                        m.commit(&c).unwrap();
                    }
                }
            }
            let start = Bound::Included(key.clone());
            for reverse in [false, true] {
                let s = Scan { start: start.clone(), end: Bound::Unbounded, reverse, limit: 5 };
                prop_assert_eq!(sled.scan("t", &s).unwrap(), model.scan("t", &s).unwrap());
            }
        }
    }
}
