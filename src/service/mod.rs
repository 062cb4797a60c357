//! Buckets and objects: the store logic, no HTTP types.
