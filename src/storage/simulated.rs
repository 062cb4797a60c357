//! The state of a memory backend that simulates power loss, shared by
//! [`super::meta::MemMeta`] and [`super::chunks::MemChunks`]: what reads see (`live`, every
//! write so far) apart from what a power cut would leave (the state at the last sync that
//! reached the "disk"). Durability can be frozen at the Nth sync: later syncs still return, as
//! a disk that lost power after acknowledging would have it.

use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) struct State<T> {
    pub live: T,
    durable: T,
    syncs: u64,
    freeze_after: Option<u64>,
}

/// A shared [`State`]. Clones share it.
#[derive(Clone, Default)]
pub(crate) struct Simulated<T> {
    state: Arc<Mutex<State<T>>>,
}

impl<T: Default> Default for State<T> {
    fn default() -> Self {
        State {
            live: T::default(),
            durable: T::default(),
            syncs: 0,
            freeze_after: None,
        }
    }
}

impl<T: Clone + Default> Simulated<T> {
    pub fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every step leaves the state whole, so a panic elsewhere leaves nothing half-done.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn freeze_durability_after(&self, n: u64) {
        self.lock().freeze_after = Some(n);
    }

    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Makes `live` durable, unless durability is frozen.
    pub fn sync(&self) {
        let mut st = self.lock();
        st.syncs += 1;
        if st.freeze_after.is_none_or(|n| st.syncs <= n) {
            st.durable = st.live.clone();
        }
    }

    /// What a restart after a power cut now would find: only what reached the disk.
    pub fn after_power_loss(&self) -> Simulated<T> {
        let durable = self.lock().durable.clone();
        Simulated {
            state: Arc::new(Mutex::new(State {
                live: durable.clone(),
                durable,
                ..State::default()
            })),
        }
    }
}
