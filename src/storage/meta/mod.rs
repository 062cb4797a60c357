//! The metadata seam: an ordered key-value store of named trees, with range scans in both
//! directions and atomic commits of several writes guarded by compare-and-set checks.
//!
//! [`MetaStore`] is what a backend implements; [`Meta`] is the facade the rest of Coffer
//! holds (one trait object, cheap to clone), with the conveniences built once on the trait's
//! four operations: insert-if-absent, compare-and-swap, remove and paged iteration are all
//! [`Commit`]s and [`Scan`]s. So a record kind written through [`Meta`] works on every
//! backend, and the shared test suite (`conformance` in this module's tests) is what a backend
//! must pass.
//!
//! Backends: [`SledMeta`] (the default; the trees are sled trees of the one database, so data
//! written before this seam existed reads unchanged) and [`MemMeta`] (memory only, for tests:
//! it keeps what the last [`MetaStore::sync`] made durable apart from what is merely
//! committed, and can freeze durability at the Nth sync, so a test can cut the power and
//! reopen what a disk would have kept).
//!
//! The trait is synchronous: Coffer's KMS, IAM and encryption pipeline call it from ordinary
//! functions (the KMS unwraps data keys inside the body stream), as Garage's `db` layer is
//! called. A backend that talks to a network (PostgreSQL) blocks the calling thread and must
//! tell the async runtime so (`tokio::task::block_in_place`).
//!
//! Semantics every backend keeps:
//! - Keys and values are arbitrary bytes; keys sort as unsigned bytes within a tree; trees do
//!   not see each other's keys, and a tree exists as soon as a key is written to it.
//! - [`MetaStore::commit`] applies all of its writes or none: none when any check fails (the
//!   answer is then `false`) or on error. Checks and writes are evaluated against one state:
//!   no other commit lands between them.
//! - A read sees every commit that returned before it started. A scan is not a snapshot: it
//!   may see some of the commits that land while it runs (sled's iterators are not snapshots).
//! - A commit is durable once a [`MetaStore::sync`] that started after it returned.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock};

mod postgres;
pub use postgres::{PgMeta, PgOptions};

use super::simulated::{Simulated, State};

use super::{Result, StorageError};

/// Entries [`Meta::iter_range`] fetches per scan.
const PAGE: usize = 256;

/// One write of a [`Commit`]: `Some` puts the value, `None` deletes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub tree: String,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A key's required current value: `None` requires the key to be absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub tree: String,
    pub key: Vec<u8>,
    pub expect: Option<Vec<u8>>,
}

/// Writes applied atomically if every check holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    pub checks: Vec<Check>,
    pub writes: Vec<Write>,
}

impl Commit {
    pub fn new() -> Commit {
        Commit::default()
    }

    /// Requires `tree/key` to hold `expect` (`None`: to be absent).
    pub fn check(mut self, tree: &str, key: &[u8], expect: Option<&[u8]>) -> Commit {
        self.checks.push(Check {
            tree: tree.to_owned(),
            key: key.to_vec(),
            expect: expect.map(<[u8]>::to_vec),
        });
        self
    }

    pub fn put(mut self, tree: &str, key: &[u8], value: &[u8]) -> Commit {
        self.writes.push(Write {
            tree: tree.to_owned(),
            key: key.to_vec(),
            value: Some(value.to_vec()),
        });
        self
    }

    pub fn delete(mut self, tree: &str, key: &[u8]) -> Commit {
        self.writes.push(Write {
            tree: tree.to_owned(),
            key: key.to_vec(),
            value: None,
        });
        self
    }

    /// The distinct trees the commit names, in first-named order.
    pub fn trees(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let named = self.checks.iter().map(|c| c.tree.as_str());
        for t in named.chain(self.writes.iter().map(|w| w.tree.as_str())) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }
}

/// A key range of one tree, read in either direction, at most `limit` entries.
#[derive(Debug, Clone)]
pub struct Scan {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
    pub reverse: bool,
    pub limit: usize,
}

impl Scan {
    /// Every key, ascending, at most `limit`.
    pub fn all(limit: usize) -> Scan {
        Scan {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            reverse: false,
            limit,
        }
    }

    /// Keys starting with `prefix`, ascending.
    pub fn prefix(prefix: &[u8], limit: usize) -> Scan {
        Scan {
            start: Bound::Included(prefix.to_vec()),
            end: prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded),
            reverse: false,
            limit,
        }
    }

    /// Whether `key` lies in the range (ignoring the limit).
    pub fn contains(&self, key: &[u8]) -> bool {
        let after_start = match &self.start {
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
            Bound::Unbounded => true,
        };
        let before_end = match &self.end {
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
            Bound::Unbounded => true,
        };
        after_start && before_end
    }

    /// Whether the range holds no key at all (a start past the end).
    pub fn is_empty_range(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e))
            | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
            _ => false,
        }
    }
}

/// The smallest key greater than every key starting with `prefix`; `None` when there is none
/// (an empty prefix, or one of all 0xFF bytes).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// An ordered key-value store of named trees: what a metadata backend implements. See the
/// module docs for the semantics every backend keeps.
pub trait MetaStore: Send + Sync {
    /// The backend's name, for logs and errors (`sled`, `postgres`, `memory`).
    fn backend(&self) -> &'static str;

    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// The entries of `tree` in `scan`'s range and direction, at most `scan.limit`.
    fn scan(&self, tree: &str, scan: &Scan) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Applies `commit` atomically; `false` (nothing written) when a check does not hold.
    fn commit(&self, commit: &Commit) -> Result<bool>;

    /// Makes every commit that returned before this call durable.
    fn sync(&self) -> Result<()>;

    /// Removes every key of `tree`.
    fn clear_tree(&self, tree: &str) -> Result<()>;
}

/// The metadata store as the rest of Coffer holds it. Cheap to clone.
#[derive(Clone)]
pub struct Meta {
    inner: Arc<dyn MetaStore>,
}

impl std::fmt::Debug for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meta")
            .field("backend", &self.inner.backend())
            .finish()
    }
}

impl Meta {
    pub fn new(store: impl MetaStore + 'static) -> Meta {
        Meta {
            inner: Arc::new(store),
        }
    }

    pub fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    pub fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(tree, key)
    }

    pub fn scan(&self, tree: &str, scan: &Scan) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if scan.limit == 0 || scan.is_empty_range() {
            return Ok(Vec::new());
        }
        self.inner.scan(tree, scan)
    }

    pub fn commit(&self, commit: &Commit) -> Result<bool> {
        if commit.checks.is_empty() && commit.writes.is_empty() {
            return Ok(true);
        }
        self.inner.commit(commit)
    }

    pub fn sync(&self) -> Result<()> {
        self.inner.sync()
    }

    pub fn clear_tree(&self, tree: &str) -> Result<()> {
        self.inner.clear_tree(tree)
    }

    /// Sets `tree/key` to `value` unconditionally.
    pub fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<()> {
        self.commit(&Commit::new().put(tree, key, value)).map(drop)
    }

    /// Inserts only if `key` is absent; `true` when it inserted.
    pub fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<bool> {
        self.compare_and_swap(tree, key, None, Some(value))
    }

    /// Replaces `old` with `new` atomically (either may be `None`); `false` if the current
    /// value was not `old`.
    pub fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool> {
        let c = Commit::new().check(tree, key, old);
        let c = match new {
            Some(v) => c.put(tree, key, v),
            None => c.delete(tree, key),
        };
        self.commit(&c)
    }

    /// Sets `tree/key` to `value` and returns what it replaced.
    pub fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.swap(tree, key, Some(value))
    }

    /// Removes `tree/key` and returns what it held.
    pub fn remove(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.swap(tree, key, None)
    }

    /// Read, then compare-and-swap, until no other writer came between.
    fn swap(&self, tree: &str, key: &[u8], new: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
        loop {
            let old = self.get(tree, key)?;
            if old.is_none() && new.is_none() {
                return Ok(None);
            }
            if self.compare_and_swap(tree, key, old.as_deref(), new)? {
                return Ok(old);
            }
        }
    }

    /// Whether `tree` holds no key.
    pub fn is_empty(&self, tree: &str) -> Result<bool> {
        Ok(self.scan(tree, &Scan::all(1))?.is_empty())
    }

    /// The entries of `tree` between `start` and `end`, ascending, fetched [`PAGE`] at a
    /// time as the iterator is consumed (each page sees the store as it is then).
    pub fn iter_range(&self, tree: &str, start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Pages {
        Pages {
            meta: self.clone(),
            tree: tree.to_owned(),
            next: Some(start),
            end,
            page: Vec::new().into_iter(),
        }
    }

    /// Entries whose key starts with `prefix`, ascending (see [`Meta::iter_range`]).
    pub fn iter_prefix(&self, tree: &str, prefix: &[u8]) -> Pages {
        let s = Scan::prefix(prefix, PAGE);
        self.iter_range(tree, s.start, s.end)
    }

    /// Entries with key `>= start`, ascending (see [`Meta::iter_range`]).
    pub fn iter_from(&self, tree: &str, start: &[u8]) -> Pages {
        self.iter_range(tree, Bound::Included(start.to_vec()), Bound::Unbounded)
    }
}

/// Ascending entries of a range, a page per scan; see [`Meta::iter_range`].
pub struct Pages {
    meta: Meta,
    tree: String,
    /// Where the next page starts; `None` once a short page ended the range.
    next: Option<Bound<Vec<u8>>>,
    end: Bound<Vec<u8>>,
    page: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
}

impl Iterator for Pages {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(kv) = self.page.next() {
            return Some(Ok(kv));
        }
        let start = self.next.take()?;
        let scan = Scan {
            start,
            end: self.end.clone(),
            reverse: false,
            limit: PAGE,
        };
        match self.meta.scan(&self.tree, &scan) {
            Err(e) => Some(Err(e)),
            Ok(page) => {
                if page.len() == PAGE {
                    self.next = page.last().map(|(k, _)| Bound::Excluded(k.clone()));
                }
                self.page = page.into_iter();
                self.page.next().map(Ok)
            }
        }
    }
}

// ---- sled ----

/// [`MetaStore`] over the trees of one sled database (the default backend). Trees are sled
/// trees of the same names, so the layout in the storage module docs holds as before.
pub struct SledMeta {
    db: sled::Db,
    trees: RwLock<HashMap<String, sled::Tree>>,
}

impl SledMeta {
    pub fn new(db: sled::Db) -> SledMeta {
        SledMeta {
            db,
            trees: RwLock::new(HashMap::new()),
        }
    }

    fn tree(&self, name: &str) -> Result<sled::Tree> {
        if let Some(t) = self
            .trees
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            return Ok(t.clone());
        }
        let t = self.db.open_tree(name)?;
        self.trees
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), t.clone());
        Ok(t)
    }
}

fn sled_range(scan: &Scan) -> (Bound<&[u8]>, Bound<&[u8]>) {
    (bound_ref(&scan.start), bound_ref(&scan.end))
}

fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl MetaStore for SledMeta {
    fn backend(&self) -> &'static str {
        "sled"
    }

    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree(tree)?.get(key)?.map(|v| v.to_vec()))
    }

    fn scan(&self, tree: &str, scan: &Scan) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let t = self.tree(tree)?;
        let range = t.range::<&[u8], _>(sled_range(scan));
        let pair = |kv: sled::Result<(sled::IVec, sled::IVec)>| {
            kv.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(StorageError::from)
        };
        if scan.reverse {
            range.rev().take(scan.limit).map(pair).collect()
        } else {
            range.take(scan.limit).map(pair).collect()
        }
    }

    fn commit(&self, commit: &Commit) -> Result<bool> {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError as Cte;
        // One write, or one compare-and-swap of one key, without a transaction: sled 0.34's
        // transactions take a global write lock (see the storage module docs for what that
        // costs under concurrent streams), its single-key operations do not.
        match (commit.checks.as_slice(), commit.writes.as_slice()) {
            ([], [w]) => {
                let t = self.tree(&w.tree)?;
                match &w.value {
                    Some(v) => t.insert(w.key.as_slice(), v.as_slice())?,
                    None => t.remove(w.key.as_slice())?,
                };
                return Ok(true);
            }
            ([c], [w]) if c.tree == w.tree && c.key == w.key => {
                let t = self.tree(&w.tree)?;
                let swapped =
                    t.compare_and_swap(w.key.as_slice(), c.expect.as_deref(), w.value.as_deref())?;
                return Ok(swapped.is_ok());
            }
            _ => {}
        }
        let names = commit.trees();
        let trees = names
            .iter()
            .map(|n| self.tree(n))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&sled::Tree> = trees.iter().collect();
        let at = |name: &str| names.iter().position(|n| *n == name).unwrap_or(0);
        let r = refs.as_slice().transaction(|tx| {
            for c in &commit.checks {
                let now = tx[at(&c.tree)].get(&c.key)?;
                if now.as_deref() != c.expect.as_deref() {
                    return Err(Cte::Abort(()));
                }
            }
            for w in &commit.writes {
                let t = &tx[at(&w.tree)];
                match &w.value {
                    Some(v) => t.insert(w.key.as_slice(), v.as_slice())?,
                    None => t.remove(w.key.as_slice())?,
                };
            }
            Ok(())
        });
        match r {
            Ok(()) => Ok(true),
            Err(sled::transaction::TransactionError::Abort(())) => Ok(false),
            Err(sled::transaction::TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    fn sync(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Drops the sled tree (an emptied bucket's tree would otherwise stay in sled's tree
    /// list forever); the next use of the name opens a new, empty one.
    fn clear_tree(&self, tree: &str) -> Result<()> {
        let mut trees = self.trees.write().unwrap_or_else(|p| p.into_inner());
        trees.remove(tree);
        self.db.drop_tree(tree)?;
        Ok(())
    }
}

// ---- memory, with simulated power loss ----

type Trees = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// [`MetaStore`] in memory, for tests; see the module docs. Clones share the state.
#[derive(Clone, Default)]
pub struct MemMeta {
    disk: Simulated<Trees>,
}

impl MemMeta {
    pub fn new() -> MemMeta {
        MemMeta::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<Trees>> {
        self.disk.lock()
    }

    /// Syncs after the `n`th stop making anything durable.
    pub fn freeze_durability_after(&self, n: u64) {
        self.disk.freeze_durability_after(n);
    }

    /// Syncs so far.
    pub fn syncs(&self) -> u64 {
        self.disk.syncs()
    }

    /// The store a restart after a power cut now would find: only what reached the disk.
    pub fn after_power_loss(&self) -> MemMeta {
        MemMeta {
            disk: self.disk.after_power_loss(),
        }
    }
}

impl MetaStore for MemMeta {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.lock().live.get(tree).and_then(|t| t.get(key)).cloned())
    }

    fn scan(&self, tree: &str, scan: &Scan) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let st = self.lock();
        let Some(t) = st.live.get(tree).filter(|_| !scan.is_empty_range()) else {
            return Ok(Vec::new());
        };
        let range = t.range::<Vec<u8>, _>((scan.start.clone(), scan.end.clone()));
        let pair = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), v.clone());
        Ok(if scan.reverse {
            range.rev().take(scan.limit).map(pair).collect()
        } else {
            range.take(scan.limit).map(pair).collect()
        })
    }

    fn commit(&self, commit: &Commit) -> Result<bool> {
        let mut st = self.lock();
        for c in &commit.checks {
            let now = st.live.get(&c.tree).and_then(|t| t.get(&c.key));
            if now.map(Vec::as_slice) != c.expect.as_deref() {
                return Ok(false);
            }
        }
        for w in &commit.writes {
            let t = st.live.entry(w.tree.clone()).or_default();
            match &w.value {
                Some(v) => t.insert(w.key.clone(), v.clone()),
                None => t.remove(&w.key),
            };
        }
        Ok(true)
    }

    fn sync(&self) -> Result<()> {
        self.disk.sync();
        Ok(())
    }

    fn clear_tree(&self, tree: &str) -> Result<()> {
        self.lock().live.remove(tree);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
