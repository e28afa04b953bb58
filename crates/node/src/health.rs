//! `zk-node --health-check ADDR`: asks a running node `ruok` and exits 0 on `imok`. It is
//! the container healthcheck: the image is `FROM scratch`, with no shell or `nc` to ask.

use std::io::Read;
use std::io::Write;
use std::net::SocketAddr;
use std::net::TcpStream;
use std::time::Duration;

/// Why a node is not healthy.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// Nothing answered on the address (refused, timed out, reset).
    #[error("no answer from {addr}: {source}")]
    Io {
        /// The address asked.
        addr: SocketAddr,
        /// What failed.
        source: std::io::Error,
    },
    /// Something answered, but not `imok` (e.g. `ruok` is not in the node's `--4lw` list).
    #[error("{addr} answered {answer:?} to ruok, not \"imok\"")]
    Answer {
        /// The address asked.
        addr: SocketAddr,
        /// The first bytes of the answer.
        answer: String,
    },
}

/// Sends `ruok` to `addr`; Ok if the answer is `imok`. Every step is bounded by `timeout`.
pub fn check(addr: SocketAddr, timeout: Duration) -> Result<(), HealthError> {
    let io = |source| HealthError::Io { addr, source };
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    s.write_all(b"ruok").map_err(io)?;
    let mut answer = Vec::new();
    // The node closes after answering; a longer answer than this is not `imok` anyway.
    s.take(64).read_to_end(&mut answer).map_err(io)?;
    if answer == b"imok" {
        Ok(())
    } else {
        Err(HealthError::Answer {
            addr,
            answer: String::from_utf8_lossy(&answer).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn answering(reply: &'static [u8]) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut word = [0u8; 4];
                if s.read_exact(&mut word).is_ok() && &word == b"ruok" {
                    let _ = s.write_all(reply);
                }
            }
        });
        addr
    }

    #[test]
    fn imok_is_healthy_anything_else_is_not() {
        let t = Duration::from_secs(2);
        assert!(check(answering(b"imok"), t).is_ok());
        let err = check(
            answering(b"ruok is not executed because it is not in the whitelist.\n"),
            t,
        );
        assert!(matches!(err, Err(HealthError::Answer { .. })), "{err:?}");
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        assert!(matches!(check(closed, t), Err(HealthError::Io { .. })));
    }
}
