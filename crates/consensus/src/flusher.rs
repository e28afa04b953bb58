//! Group commit: one background thread owns every sync of one store.
//!
//! Writers put their data into the store first (readable at once) and then hand a
//! completion to this thread. The thread takes every completion queued so far, runs the
//! store's sync once, and completes them all in submission order. So a batch of entries
//! costs one fsync, several writers waiting together share one, and no tokio worker ever
//! blocks on disk. A completion submitted after its writes is covered by the sync that runs
//! it, because each store's sync makes every earlier write of that store durable (the Raft
//! log's: `wal::sync` writes the pending frame, then `fdatasync`s; sled's: [`DiskSync`]).
//!
//! [`DiskSync`]: crate::disk_sync::DiskSync

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

use std::time::Duration;

/// What to run once the flush covering a write has finished (or failed).
pub(crate) type Completion = Box<dyn FnOnce(Result<(), io::Error>) + Send + 'static>;

/// Handle to the flusher thread; dropping it drains the queue, syncs once more and joins the
/// thread.
pub(crate) struct Flusher {
    tx: Option<mpsc::Sender<Completion>>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread `name`; `sync` makes every write made before it was called
    /// durable. With `every`, the thread also syncs after that long without a request (the
    /// deliberately broken test build's periodic sync, see `broken`).
    pub(crate) fn start(
        name: &str,
        sync: impl FnMut() -> io::Result<()> + Send + 'static,
        every: Option<Duration>,
    ) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Completion>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(sync, rx, every))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues `done` to run after a sync that covers every write made before this call.
    pub(crate) fn submit(&self, done: Completion) {
        self.enqueue(done);
    }

    /// Hands `done` to the flusher thread, to run after its next flush.
    fn enqueue(&self, done: Completion) {
        let Some(tx) = &self.tx else {
            done(Err(io::Error::other("raft storage flusher is shut down")));
            return;
        };
        if let Err(mpsc::SendError(done)) = tx.send(done) {
            // The thread is gone (it only stops when the sender is dropped, or if it
            // panicked); the write is not known durable, so say so.
            done(Err(io::Error::other(
                "raft storage flusher thread has stopped",
            )));
        }
    }

    /// Waits, without blocking the async runtime, until every earlier write is durable.
    pub(crate) async fn flush(&self) -> io::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(Box::new(move |res| {
            // The waiter may have been cancelled; nothing to do then.
            let _ = tx.send(res);
        }));
        rx.await
            .map_err(|_| io::Error::other("raft storage flusher dropped a flush request"))?
    }
}

impl Flusher {
    /// Like [`Flusher::flush`], blocking the calling thread (start-up only).
    pub(crate) fn flush_blocking(&self) -> io::Result<()> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(Box::new(move |res| {
            let _ = tx.send(res);
        }));
        rx.recv()
            .map_err(|_| io::Error::other("raft storage flusher dropped a flush request"))?
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        // Closing the channel lets the thread finish what is queued and release the database,
        // so the directory can be opened again as soon as the last handle is gone.
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("raft storage flusher thread panicked");
            }
        }
    }
}

fn run(
    mut sync: impl FnMut() -> io::Result<()>,
    rx: mpsc::Receiver<Completion>,
    every: Option<Duration>,
) {
    let mut batch: Vec<Completion> = Vec::new();
    loop {
        let closed = match every {
            None => match rx.recv() {
                Ok(first) => {
                    batch.push(first);
                    false
                }
                Err(mpsc::RecvError) => true,
            },
            Some(every) => match rx.recv_timeout(every) {
                Ok(first) => {
                    batch.push(first);
                    false
                }
                Err(mpsc::RecvTimeoutError::Timeout) => false,
                Err(mpsc::RecvTimeoutError::Disconnected) => true,
            },
        };
        // On the way out (the store is being dropped) one more sync: a clean stop keeps
        // what was written without a sync of its own (the committed id), as sled's did.
        // Everything queued while the previous sync ran rides on this one.
        batch.extend(rx.try_iter());
        let res = sync();
        if let Err(e) = &res {
            tracing::error!(error = %e, "raft storage sync failed");
        }
        for done in batch.drain(..) {
            done(match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            });
        }
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn completions_run_once_each_in_submission_order_after_a_sync() {
        let synced = Arc::new(Mutex::new(0u32));
        let done = Arc::new(Mutex::new(Vec::new()));
        {
            let counter = synced.clone();
            let sync = move || {
                *counter.lock().unwrap() += 1;
                Ok(())
            };
            let flusher = Flusher::start("test-flush", sync, None).unwrap();
            for i in 0..500u32 {
                let done = done.clone();
                let synced = synced.clone();
                flusher.submit(Box::new(move |res| {
                    res.unwrap();
                    assert!(*synced.lock().unwrap() > 0, "completed before any sync");
                    done.lock().unwrap().push(i);
                }));
            }
            // Dropping drains the queue before joining.
        }
        assert_eq!(*done.lock().unwrap(), (0..500).collect::<Vec<_>>());
        assert!(
            *synced.lock().unwrap() <= 500,
            "at most one sync per completion"
        );
    }

    #[test]
    fn a_failed_sync_fails_every_completion_it_covers() {
        let flusher =
            Flusher::start("test-flush", || Err(io::Error::other("disk gone")), None).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..3 {
            let tx = tx.clone();
            flusher.submit(Box::new(move |res| tx.send(res.is_err()).unwrap()));
        }
        drop(flusher);
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![true; 3]);
    }
}
