//! The transport now lives beside the mailbox interface ([`crate::transport`]); re-exported here
//! for the spool's users.

pub use crate::transport::*;
