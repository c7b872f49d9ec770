//! offline-im: offline instant messaging for browser chat apps, after Skype for Business.
//!
//! The pure core ([`policy`], [`ews`], [`item_class`], [`address`]) does no I/O and knows
//! nothing of JavaScript; it is tested natively with `cargo test`. The wasm shell (`wasm`,
//! compiled only for `wasm32`) exports it to JavaScript.

pub mod address;
pub mod backend;
pub mod datetime;
pub mod error;
pub mod ews;
pub mod graph;
pub mod item_class;
pub mod json_path;
pub mod mailbox;
pub mod message;
pub mod messenger;
pub mod missed;
pub mod policy;
pub mod spool;
pub mod transport;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, Result};
