//! Server-side encryption: SSE modes, envelopes, the chunk cipher.
