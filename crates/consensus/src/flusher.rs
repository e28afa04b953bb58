//! Group commit: one background thread owns every `flush` of the database.
//!
//! Writers put their data into sled (visible to readers at once) and then hand a completion
//! to this thread. The thread takes every completion queued so far, calls sled's blocking
//! `flush` once, made durable ([`DiskSync`]: sled's flush alone is no fsync), and completes
//! them all in submission order. So a batch of entries costs one fsync, several appends
//! waiting together share one, and no tokio worker ever blocks on disk.
//! A completion submitted after its writes is covered by the flush that runs it, because sled's
//! flush makes every earlier write of the whole database durable.

use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::disk_sync::DiskSync;

/// What to run once the flush covering a write has finished (or failed).
pub(crate) type Completion = Box<dyn FnOnce(Result<(), io::Error>) + Send + 'static>;

/// Handle to the flusher thread; dropping it drains the queue and joins the thread.
pub(crate) struct Flusher {
    tx: Option<mpsc::Sender<Completion>>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread; it keeps its own handle on the database (and `sync`'s files) until
    /// it stops.
    pub(crate) fn start(db: sled::Db, sync: DiskSync) -> io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Completion>();
        let thread = std::thread::Builder::new()
            .name("raft-sled-flush".into())
            .spawn(move || {
                if cfg!(feature = "unsafe-ack-before-flush") {
                    // It models what a machine crash loses itself (see `broken`).
                    drop(sync);
                    crate::broken::run_flusher(db, rx);
                } else {
                    run(db, sync, rx);
                }
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues `done` to run after a flush that covers every write made before this call.
    pub(crate) fn submit(&self, done: Completion) {
        if cfg!(feature = "unsafe-ack-before-flush") {
            // The deliberately broken test build (see `broken`): log appends are "durable" at
            // once, i.e. only after its next periodic flush.
            done(Ok(()));
            return;
        }
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

fn run(db: sled::Db, mut sync: DiskSync, rx: mpsc::Receiver<Completion>) {
    let mut batch: Vec<Completion> = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        // Everything queued while the previous flush ran rides on this one.
        batch.extend(rx.try_iter());
        let res = sync.flush(&db);
        if let Err(e) = &res {
            tracing::error!(error = %e, "raft storage flush failed");
        }
        for done in batch.drain(..) {
            done(match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn completions_run_once_each_in_submission_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let done = Arc::new(Mutex::new(Vec::new()));
        {
            let sync = DiskSync::open(dir.path()).unwrap();
            let flusher = Flusher::start(db.clone(), sync).unwrap();
            for i in 0..500u32 {
                db.insert(b"k", &i.to_be_bytes()).unwrap();
                let done = done.clone();
                flusher.submit(Box::new(move |res| {
                    res.unwrap();
                    done.lock().unwrap().push(i);
                }));
            }
            // Dropping drains the queue before joining.
        }
        assert_eq!(*done.lock().unwrap(), (0..500).collect::<Vec<_>>());
    }
}
