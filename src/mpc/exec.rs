//! Running protocol futures.
//!
//! [`block_on_local`] is a minimal single-threaded executor for programs whose every wake-up
//! comes from inside (both parties joined over in-memory channels): it polls until the future
//! completes and reports [`Error::Protocol`] instead of hanging when the future is pending and
//! nothing woke it (both parties waiting for a message that will never come: a lost message, a
//! party that stopped on an error). It works unchanged in wasm (no threads, no parking).
//! Programs woken from outside (TCP reader threads, timers of [`super::transport::Shaped`])
//! need a parking executor instead: natively `futures::executor::block_on`, in a page
//! `wasm_bindgen_futures::spawn_local`.
//!
//! [`run_joined`] runs party 0's and party 1's programs concurrently in one thread.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::{Error, Result};

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls `fut` to completion on this thread; an error if it stalls with no wake-up pending.
pub fn block_on_local<F: Future>(fut: F) -> Result<F::Output> {
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        flag.0.store(false, Ordering::SeqCst);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Ok(v);
        }
        if !flag.0.load(Ordering::SeqCst) {
            return Err(Error::Protocol(
                "deadlock: every party is waiting for a message that was never sent \
                 (lost message, or the peer stopped)"
                    .into(),
            ));
        }
    }
}

/// Runs two parties' programs concurrently in this thread (with [`block_on_local`]); the first
/// error of either party is returned.
pub fn run_joined<A, B>(
    p0: impl Future<Output = Result<A>>,
    p1: impl Future<Output = Result<B>>,
) -> Result<(A, B)> {
    block_on_local(futures::future::try_join(p0, p1))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_deadlock() {
        let (_tx, mut rx) = futures::channel::mpsc::unbounded::<u8>();
        let r = block_on_local(async move {
            use futures::StreamExt;
            rx.next().await
        });
        assert_err!(r, crate::Error::Protocol(m) if m.contains("deadlock"));
        assert_eq!(block_on_local(async { 7 }).unwrap(), 7);
    }
}
