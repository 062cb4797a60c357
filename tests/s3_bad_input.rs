//! See tests.rs for what goes here.
use crate::common::*;
