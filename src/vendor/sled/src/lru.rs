#![allow(unsafe_code)]

use std::convert::TryFrom;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::{
    atomic_shim::AtomicU64,
    debug_delay,
    dll::{DoublyLinkedList, Node},
    fastlock::FastLock,
    Guard, PageId,
};

#[cfg(any(test, feature = "lock_free_delays"))]
const MAX_QUEUE_ITEMS: usize = 4;

// Coffer patch (see ../README.md): 4 instead of upstream's 64. Accesses are applied to the LRU
// only once a shard has queued this many, so pages touched fewer times stay resident unaccounted.
#[cfg(not(any(test, feature = "lock_free_delays")))]
const MAX_QUEUE_ITEMS: usize = 4;

#[cfg(any(test, feature = "lock_free_delays"))]
const N_SHARDS: usize = 2;

/// Coffer patch (see ../README.md): pages at least this large (as accounted: sizes are rounded
/// up to a power of two) are bulk data, leaves of 64 KiB chunk values, and are cached within
/// their own share of the capacity so that streaming a large object neither grows the cache
/// past that share nor pushes out the small, hot pages of records and indexes.
const LARGE_PAGE: u64 = 512 * 1024;

/// Coffer patch: the share of `cache_capacity` that large pages may use, as a divisor.
const LARGE_PAGE_SHARE: u64 = 32;

// Coffer patch (see ../README.md): 8 instead of upstream's 256. Each shard keeps at least its
// most recently used page whatever its size, and a leaf of 64 KiB chunk values is ~1 MiB, so 256
// shards pinned hundreds of MiB regardless of `cache_capacity`.
#[cfg(not(any(test, feature = "lock_free_delays")))]
const N_SHARDS: usize = 8;

struct AccessBlock {
    len: AtomicUsize,
    block: [AtomicU64; MAX_QUEUE_ITEMS],
    next: AtomicPtr<AccessBlock>,
}

impl Default for AccessBlock {
    fn default() -> AccessBlock {
        AccessBlock {
            len: AtomicUsize::new(0),
            block: unsafe { MaybeUninit::zeroed().assume_init() },
            next: AtomicPtr::default(),
        }
    }
}

struct AccessQueue {
    writing: AtomicPtr<AccessBlock>,
    full_list: AtomicPtr<AccessBlock>,
}

impl Default for AccessQueue {
    fn default() -> AccessQueue {
        AccessQueue {
            writing: AtomicPtr::new(Box::into_raw(Box::new(
                AccessBlock::default(),
            ))),
            full_list: AtomicPtr::default(),
        }
    }
}

impl AccessQueue {
    fn push(&self, item: CacheAccess) -> bool {
        let mut filled = false;
        loop {
            debug_delay();
            let head = self.writing.load(Ordering::Acquire);
            let block = unsafe { &*head };

            debug_delay();
            let offset = block.len.fetch_add(1, Ordering::Release);

            if offset < MAX_QUEUE_ITEMS {
                debug_delay();
                unsafe {
                    block
                        .block
                        .get_unchecked(offset)
                        .store(item.0, Ordering::Release);
                }
                return filled;
            } else {
                // install new writer
                let new = Box::into_raw(Box::new(AccessBlock::default()));
                debug_delay();
                let prev =
                    self.writing.compare_and_swap(head, new, Ordering::Release);
                if prev != head {
                    // we lost the CAS, free the new item that was
                    // never published to other threads
                    unsafe {
                        drop(Box::from_raw(new));
                    }
                    continue;
                }

                // push the now-full item to the full list for future
                // consumption
                let mut ret;
                let mut full_list_ptr = self.full_list.load(Ordering::Acquire);
                while {
                    // we loop because maybe other threads are pushing stuff too
                    block.next.store(full_list_ptr, Ordering::Release);
                    debug_delay();
                    ret = self.full_list.compare_and_swap(
                        full_list_ptr,
                        head,
                        Ordering::Release,
                    );
                    ret != full_list_ptr
                } {
                    full_list_ptr = ret;
                }
                filled = true;
            }
        }
    }

    fn take<'a>(&self, guard: &'a Guard) -> CacheAccessIter<'a> {
        debug_delay();
        let ptr = self.full_list.swap(std::ptr::null_mut(), Ordering::AcqRel);

        CacheAccessIter { guard, current_offset: 0, current_block: ptr }
    }
}

impl Drop for AccessQueue {
    fn drop(&mut self) {
        debug_delay();
        let writing = self.writing.load(Ordering::Acquire);
        unsafe {
            Box::from_raw(writing);
        }
        debug_delay();
        let mut head = self.full_list.load(Ordering::Acquire);
        while !head.is_null() {
            unsafe {
                debug_delay();
                let next =
                    (*head).next.swap(std::ptr::null_mut(), Ordering::Release);
                Box::from_raw(head);
                head = next;
            }
        }
    }
}

struct CacheAccessIter<'a> {
    guard: &'a Guard,
    current_offset: usize,
    current_block: *mut AccessBlock,
}

impl<'a> Iterator for CacheAccessIter<'a> {
    type Item = CacheAccess;

    fn next(&mut self) -> Option<CacheAccess> {
        while !self.current_block.is_null() {
            let current_block = unsafe { &*self.current_block };

            debug_delay();
            if self.current_offset >= MAX_QUEUE_ITEMS {
                let to_drop_ptr = self.current_block;
                debug_delay();
                self.current_block = current_block.next.load(Ordering::Acquire);
                self.current_offset = 0;
                debug_delay();
                let to_drop = unsafe { Box::from_raw(to_drop_ptr) };
                self.guard.defer(|| to_drop);
                continue;
            }

            let mut next = 0;
            while next == 0 {
                // we spin here because there's a race between bumping
                // the offset and setting the value to something other
                // than 0 (and 0 is an invalid value)
                debug_delay();
                next = current_block.block[self.current_offset]
                    .load(Ordering::Acquire);
            }
            self.current_offset += 1;
            return Some(CacheAccess(next));
        }

        None
    }
}

#[derive(Clone, Copy)]
struct CacheAccess(u64);

impl CacheAccess {
    fn new(pid: PageId, sz: u64) -> CacheAccess {
        let rounded_up_power_of_2 =
            u64::from(sz.next_power_of_two().trailing_zeros());

        assert!(rounded_up_power_of_2 < 256);

        CacheAccess(pid | (rounded_up_power_of_2 << 56))
    }

    const fn decompose(self) -> (PageId, u64) {
        let sz = 1 << (self.0 >> 56);
        let pid = self.0 << 8 >> 8;
        (pid, sz)
    }
}

/// A simple LRU cache.
pub struct Lru {
    shards: Vec<(AccessQueue, FastLock<Shard>)>,
}

unsafe impl Sync for Lru {}

impl Lru {
    /// Instantiates a new `Lru` cache.
    pub(crate) fn new(cache_capacity: u64) -> Self {
        assert!(
            cache_capacity >= 256,
            "Please configure the cache \
             capacity to be at least 256 bytes"
        );
        let shard_capacity = cache_capacity / N_SHARDS as u64;
        let large_capacity = shard_capacity / LARGE_PAGE_SHARE;

        let mut shards = Vec::with_capacity(N_SHARDS);
        shards.resize_with(N_SHARDS, || {
            (
                AccessQueue::default(),
                FastLock::new(Shard::new(shard_capacity, large_capacity)),
            )
        });

        Self { shards }
    }

    /// Called when an item is accessed. Returns a Vec of items to be
    /// evicted. Uses flat-combining to avoid blocking on what can
    /// be an asynchronous operation.
    ///
    /// layout:
    ///   items:   1 2 3 4 5 6 7 8 9 10
    ///   shards:  1 0 1 0 1 0 1 0 1 0
    ///   shard 0:   2   4   6   8   10
    ///   shard 1: 1   3   5   7   9
    pub(crate) fn accessed(
        &self,
        id: PageId,
        item_size: u64,
        guard: &Guard,
    ) -> Vec<PageId> {
        let mut ret = vec![];
        let shards = self.shards.len() as u64;
        let (shard_idx, item_pos) = (id % shards, id / shards);
        let (stack, shard_mu) = &self.shards[safe_usize(shard_idx)];

        let filled = stack.push(CacheAccess::new(item_pos, item_size));

        if filled {
            // only try to acquire this if
            if let Some(mut shard) = shard_mu.try_lock() {
                let accesses = stack.take(guard);
                for item in accesses {
                    let (item_pos, item_size) = item.decompose();
                    let to_evict =
                        shard.accessed(safe_usize(item_pos), item_size);
                    // map shard internal offsets to global items ids
                    for pos in to_evict {
                        let item = (pos * shards) + shard_idx;
                        ret.push(item);
                    }
                }
            }
        }
        ret
    }
}

#[derive(Clone)]
struct Entry {
    ptr: *mut Node,
    size: u64,
    /// Coffer patch: which list `ptr` is in (`Shard::large`).
    large: bool,
}

impl Default for Entry {
    fn default() -> Self {
        Self { ptr: ptr::null_mut(), size: 0, large: false }
    }
}

struct Shard {
    list: DoublyLinkedList,
    /// Coffer patch: pages of at least `LARGE_PAGE`, in their own recency order.
    large: DoublyLinkedList,
    entries: Vec<Entry>,
    capacity: u64,
    /// Coffer patch: at most this much of `size` is large pages.
    large_capacity: u64,
    size: u64,
    large_size: u64,
}

impl Shard {
    fn new(capacity: u64, large_capacity: u64) -> Self {
        assert!(capacity > 0, "shard capacity must be non-zero");

        Self {
            list: DoublyLinkedList::default(),
            large: DoublyLinkedList::default(),
            entries: vec![],
            capacity,
            large_capacity,
            size: 0,
            large_size: 0,
        }
    }

    /// `PageId`s in the shard list are indexes of the entries.
    ///
    /// Coffer patch: a page is kept in the small or the large list by its size (moving when
    /// it crosses `LARGE_PAGE`); large pages are evicted first, whenever they exceed their
    /// share or the shard its capacity, and count against small pages only up to their share.
    /// The page just accessed is never evicted.
    fn accessed(&mut self, pos: usize, size: u64) -> Vec<PageId> {
        if pos >= self.entries.len() {
            self.entries.resize(pos + 1, Entry::default());
        }

        let large = size >= LARGE_PAGE;
        {
            let entry = &mut self.entries[pos];

            self.size -= entry.size;
            if entry.large {
                self.large_size -= entry.size;
            }
            if !entry.ptr.is_null() && entry.large != large {
                if entry.large {
                    self.large.remove(entry.ptr);
                } else {
                    self.list.remove(entry.ptr);
                }
                entry.ptr = ptr::null_mut();
            }
            entry.size = size;
            entry.large = large;
            self.size += size;
            if large {
                self.large_size += size;
            }

            let list = if large { &mut self.large } else { &mut self.list };
            if entry.ptr.is_null() {
                // pos came from a PageId (`decompose`), so it converts back
                entry.ptr = list.push_head(PageId::try_from(pos).unwrap());
            } else {
                entry.ptr = list.promote(entry.ptr);
            }
        }

        let mut to_evict = vec![];
        loop {
            // the list holding what we just added must keep it: only pop
            // from it while something else is left
            let large_evictable = self.large.len() > usize::from(large);
            let small_evictable = self.list.len() > usize::from(!large);
            // large pages count against small ones only up to their share
            let small_pressure = self.size - self.large_size
                + self.large_size.min(self.large_capacity);
            let victim = if large_evictable
                && (self.large_size > self.large_capacity
                    || self.size > self.capacity)
            {
                self.large.pop_tail()
            } else if small_evictable && small_pressure > self.capacity {
                self.list.pop_tail()
            } else {
                None
            };
            let Some(min_pid) = victim else { break };
            let min_pid_idx = safe_usize(min_pid);
            let entry = &mut self.entries[min_pid_idx];

            entry.ptr = ptr::null_mut();
            self.size -= entry.size;
            if entry.large {
                self.large_size -= entry.size;
            }
            entry.size = 0;
            entry.large = false;

            to_evict.push(min_pid);
        }

        to_evict
    }
}

#[inline]
fn safe_usize(value: PageId) -> usize {
    usize::try_from(value).unwrap()
}

#[test]
fn lru_large_pages_keep_to_their_share() {
    // one shard of 64 KiB: large pages may use 8 KiB of it
    let mut shard = Shard::new(64 * 1024, 8 * 1024);
    let small = 1024;
    for pos in 0..16 {
        assert!(shard.accessed(pos, small).is_empty());
    }
    // large pages (here: anything of at least LARGE_PAGE) never push out small ones, and each
    // new one evicts the previous because the share holds only one
    for pos in 16..20 {
        let evicted = shard.accessed(pos, LARGE_PAGE);
        if pos > 16 {
            assert_eq!(evicted, vec![pos as PageId - 1]);
        }
    }
    assert_eq!(shard.size, 16 * small + LARGE_PAGE);
    // a small page growing past LARGE_PAGE moves to the large list and displaces the other
    assert_eq!(shard.accessed(0, LARGE_PAGE), vec![19]);
    assert_eq!(shard.large.len(), 1);
    assert_eq!(shard.list.len(), 15);
    // and back
    assert!(shard.accessed(0, small).is_empty());
    assert_eq!(
        (shard.large.len(), shard.list.len(), shard.large_size),
        (0, 16, 0)
    );
}

#[test]
fn lru_smoke_test() {
    use crate::pin;

    let lru = Lru::new(256);
    for i in 0..1000 {
        let guard = pin();
        lru.accessed(i, 16, &guard);
    }
}
