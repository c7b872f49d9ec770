//! The durable outbox of offline messages: records, the state machine, the retry schedule and
//! the engine. Pure: storage, transport and time come in through traits.

pub mod engine;
pub mod machine;
pub mod record;
pub mod schedule;
pub mod store;
mod wave;

pub use engine::{Clock, EventDetail, NewMessage, Spool, SpoolConfig, SpoolEvent};
pub use machine::{Outcome, Settled};
pub use record::{normalize_sender, LastError, SpoolRecord, State};
/// The transport contract lives beside the mailbox interface (`crate::transport`).
pub use crate::transport::{Transport, TransportError, TransportReply};
pub use schedule::RetryPolicy;
pub use store::{MemoryStore, SpoolStore};
pub use wave::pack;
