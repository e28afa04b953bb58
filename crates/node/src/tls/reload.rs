//! Certificates reloaded without a restart: the key store and trust store are stamped
//! (modification time, size, inode); when a stamp changes the files are loaded again and,
//! if they make a configuration, new connections get it. A broken new file keeps the old
//! configuration and logs an error once; the next change is tried again. Connections already
//! open keep the configuration they were accepted with.
//!
//! [`Reloader::check`] is the whole rule, called directly by the tests; [`run`] calls it
//! every `reload_every`.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::RwLock;
use std::time::SystemTime;

use rustls::ServerConfig;
use tokio::sync::watch;

use super::config::server_config;
use super::config::TlsError;
use super::settings::TlsSettings;

/// The configuration new connections are accepted with, swapped on a reload.
#[derive(Debug)]
pub(crate) struct Current {
    config: RwLock<Arc<ServerConfig>>,
    /// Counts reloads (0 at start), for the logs and the tests.
    generation: watch::Sender<u64>,
}

impl Current {
    pub(crate) fn new(config: Arc<ServerConfig>) -> Current {
        Current {
            config: RwLock::new(config),
            generation: watch::channel(0).0,
        }
    }

    /// The configuration to accept a new connection with.
    pub(crate) fn get(&self) -> Arc<ServerConfig> {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, config: Arc<ServerConfig>) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
        self.generation.send_modify(|g| *g += 1);
    }

    /// How many times the configuration was replaced.
    #[cfg(test)]
    pub(crate) fn generation(&self) -> u64 {
        *self.generation.borrow()
    }
}

/// What a reload replaces: the secure client port's [`Current`], or the peer link's
/// configurations.
pub(crate) trait Target: Send + Sync {
    /// Loads `settings`' files into use; on an error the old configuration stays.
    fn load(&self, settings: &TlsSettings) -> Result<(), TlsError>;
}

impl Target for Current {
    fn load(&self, settings: &TlsSettings) -> Result<(), TlsError> {
        self.set(server_config(settings)?);
        Ok(())
    }
}

/// What one file looked like at the last check: `None` if it could not be read.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &PathBuf) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// What a check did.
#[derive(Debug)]
pub(crate) enum Checked {
    /// No file changed.
    Unchanged,
    /// A file changed and the new configuration is in use.
    Reloaded,
    /// A file changed and does not make a configuration: the old one stays.
    Failed(TlsError),
}

/// Watches the files of one [`TlsSettings`].
pub(crate) struct Reloader {
    settings: TlsSettings,
    stamps: Vec<Stamp>,
    current: Arc<dyn Target>,
}

impl Reloader {
    /// Starts watching from the files as they are now (the ones `current` was loaded from).
    pub(crate) fn new(settings: TlsSettings, current: Arc<dyn Target>) -> Reloader {
        let stamps = Self::stamps_of(&settings);
        Reloader {
            settings,
            stamps,
            current,
        }
    }

    fn stamps_of(s: &TlsSettings) -> Vec<Stamp> {
        std::iter::once(&s.key_store)
            .chain(s.trust_store.as_ref())
            .map(stamp)
            .collect()
    }

    /// Loads the files again if any changed since the last check.
    pub(crate) fn check(&mut self) -> Checked {
        let now = Self::stamps_of(&self.settings);
        if now == self.stamps {
            return Checked::Unchanged;
        }
        // Recorded even when the load fails: a broken file is reported once, and its next
        // change is tried again.
        self.stamps = now;
        match self.current.load(&self.settings) {
            Ok(()) => Checked::Reloaded,
            Err(e) => Checked::Failed(e),
        }
    }
}

/// Checks every `reload_every` until shutdown.
pub(crate) async fn run(mut reloader: Reloader, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(reloader.settings.reload_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = crate::shutdown::stopped(&mut shutdown) => return,
            _ = every.tick() => {}
        }
        match reloader.check() {
            Checked::Unchanged => {}
            Checked::Reloaded => tracing::info!(
                key_store = %reloader.settings.key_store.display(),
                "TLS certificates reloaded: new connections use them"
            ),
            Checked::Failed(e) => tracing::error!(
                "TLS certificates changed but cannot be loaded, keeping the previous ones: {e}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use zk_testkit::tls::Pki;

    use super::*;
    use crate::tls::settings::ClientAuth;

    /// A changed file is loaded; an unchanged one is not; a broken one keeps the old
    /// configuration, and the file fixed afterwards is loaded.
    #[test]
    fn changed_files_are_reloaded_and_broken_ones_kept_out() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (key_store, ca) = Pki::new("one").write_server(dir.path());
        let settings = TlsSettings {
            key_store: key_store.clone(),
            key_store_password: None,
            trust_store: Some(ca),
            client_auth: ClientAuth::Need,
            reload_every: Duration::from_secs(5),
        };
        let first = server_config(&settings).unwrap_or_else(|e| panic!("{e}"));
        let current = Arc::new(Current::new(first.clone()));
        let mut r = Reloader::new(settings, current.clone());
        assert!(matches!(r.check(), Checked::Unchanged));

        Pki::new("two").write_server(dir.path());
        assert!(matches!(r.check(), Checked::Reloaded));
        assert_eq!(current.generation(), 1);
        assert!(!Arc::ptr_eq(&current.get(), &first));
        assert!(matches!(r.check(), Checked::Unchanged));

        let before = current.get();
        zk_testkit::tls::write(&key_store, "-----BEGIN CERTIFICATE-----\ngarbage\n");
        assert!(matches!(r.check(), Checked::Failed(_)));
        assert!(Arc::ptr_eq(&current.get(), &before), "the old one stays");
        assert!(matches!(r.check(), Checked::Unchanged), "reported once");

        std::fs::remove_file(&key_store).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(r.check(), Checked::Failed(_)), "a removed file");
        Pki::new("three").write_server(dir.path());
        assert!(matches!(r.check(), Checked::Reloaded));
        assert_eq!(current.generation(), 2);
    }
}
