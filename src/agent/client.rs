//! The client side: one blocking request over the agent's socket (no async runtime), with
//! `None` meaning "no agent is running" so the caller does the work itself.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use zeroize::Zeroizing;

use super::protocol::{Answer, Ask, ErrorKind, MAX_MESSAGE, PROTOCOL, Reply, Request, Secrets};

/// How long a reply may take: the tray agent may be waiting on an MFA dialog, which it bounds
/// itself (see `agent::MFA_WAIT`); this only guards against an agent that hangs.
pub const REPLY_WAIT: Duration = Duration::from_secs(150);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the credtray agent at {path} did not answer: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("the credtray agent sent a reply this credtray can't read: {0}")]
    Garbled(String),
    #[error("the credtray agent speaks protocol version {0}, this credtray {PROTOCOL}")]
    Version(u32),
}

/// Sends `ask` to the agent at `path`; `Ok(None)` when no agent is listening there.
pub fn request(path: &Path, ask: Ask) -> Result<Option<Reply>, Error> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut stream = match UnixStream::connect(path) {
        Ok(stream) => stream,
        // No socket, or one left by an agent that is gone.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(io(e)),
    };
    stream.set_read_timeout(Some(REPLY_WAIT)).map_err(io)?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .map_err(io)?;
    let text = serde_json::to_vec(&Request::new(ask)).map_err(|e| Error::Garbled(e.to_string()))?;
    stream.write_all(&text).map_err(io)?;
    stream.shutdown(std::net::Shutdown::Write).map_err(io)?;
    // Sized up front, so the buffer holding the credentials never reallocates and leaves a copy
    // behind; wiped when dropped.
    let mut buffer = Zeroizing::new(Vec::with_capacity(MAX_MESSAGE + 1));
    (&mut stream)
        .take(MAX_MESSAGE as u64 + 1)
        .read_to_end(&mut buffer)
        .map_err(io)?;
    if buffer.len() > MAX_MESSAGE {
        return Err(Error::Garbled("the reply is too long".into()));
    }
    let reply: Reply =
        serde_json::from_slice(&buffer).map_err(|e| Error::Garbled(e.to_string()))?;
    if reply.version != PROTOCOL {
        return Err(Error::Version(reply.version));
    }
    Ok(Some(reply))
}

/// The credentials of `session` (its id or alias) from the running agent, or the kind and
/// message of its refusal; `None` when no agent answers usefully (none runs, it speaks another
/// protocol, asking failed): the caller then does the work itself.
pub fn credentials(session: &str) -> Option<Result<Secrets, (ErrorKind, String)>> {
    let ask = Ask::Credentials {
        session: session.to_owned(),
    };
    let reply = match request(&super::socket::path(), ask) {
        Ok(reply) => reply?,
        Err(e) => {
            tracing::warn!(error = %e, "asking the agent failed; doing the work here");
            return None;
        }
    };
    match reply.body {
        Answer::Credentials(secrets) => Some(Ok(secrets)),
        Answer::Error {
            kind: ErrorKind::Protocol,
            message,
        } => {
            tracing::warn!(%message, "the agent speaks another protocol; doing the work here");
            None
        }
        Answer::Error { kind, message } => Some(Err((kind, message))),
        Answer::Hello { .. } | Answer::HandingOver => None,
    }
}
