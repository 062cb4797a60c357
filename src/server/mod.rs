//! Listeners, connections, dispatch.
