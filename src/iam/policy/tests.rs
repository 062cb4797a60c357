//! The engine's table of AWS's documented examples is still to be written (see the issue note).
