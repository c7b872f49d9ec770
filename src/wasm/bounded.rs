//! Every await of the shell that could hang (a token, a custom transport, an IndexedDB request)
//! is raced against a timer here. Source of the rule: issue 11 ("every await in a round is
//! bounded"); timers are gloo-timers (`setTimeout`).

use futures_util::future::{select, Either};
use gloo_timers::future::TimeoutFuture;
use std::future::Future;

/// `future`'s output, or `None` when `ms` milliseconds passed first (the future is dropped; a
/// JS promise behind it keeps running but is no longer awaited).
pub async fn within<F: Future>(ms: u32, future: F) -> Option<F::Output> {
    let future = std::pin::pin!(future);
    match select(future, TimeoutFuture::new(ms)).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}
