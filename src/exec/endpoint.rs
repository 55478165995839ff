//! The loopback ECS container-credentials endpoint of one `credtray exec`: `GET
//! /credtray/credentials` on `127.0.0.1:<free port>`, answered from the [`Supplier`]'s memory
//! with `{"AccessKeyId","SecretAccessKey","Token","Expiration"}` to a request that carries the
//! bearer token in `Authorization` (compared in constant time); 401 without it, 404 elsewhere,
//! 503/502/500 with `{"code","message"}` when there are no credentials to give. The HTTP is
//! the small subset the SDKs speak: one request per connection, then `Connection: close`.
//!
//! Any local user can connect to a loopback port, so what a connection may hold is bounded:
//! its whole request head within `READ_WITHIN`, at most `MAX_CONNECTIONS` of our own user's
//! served at once and `MAX_OTHERS` of all other users' together (one more is answered 503 and
//! closed), a pause that grows after a failed accept (out of file descriptors, say) instead of
//! a retry that spins, and a connection whose thread can't be started is closed, not a panic.
//!
//! Other users are not refused (as at the console's sign-in link): the bearer token guards the
//! credentials, and the child may rightly run as another user (`sudo -u`, a container on the
//! host's network). But their room is their own, so another user holding every connection they
//! can get never keeps our own clients out. One room for all of them rather than one per uid:
//! an unprivileged user has thousands of uids at hand (their subordinate uids, in a user
//! namespace), so rooms per uid would not bound what they hold; a child running as another user
//! shares its room with whoever else connects, and an SDK retries a 503. Whose a connection is
//! comes from [`loopback::peer`]; where it can't be told (a platform without the kernel's
//! table, the table unreadable, no descriptor left to read it with) the connection counts as
//! ours, the room shared as before, and that is logged when it starts.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{Supplier, Unavailable};
use crate::loopback;

/// The path the credentials are served on (a path, not `/`: the Ruby SDK ignores a full URI
/// without one).
pub const PATH: &str = "/credtray/credentials";
/// How long a client may take to send its whole request head (an SDK sends it at once).
const READ_WITHIN: Duration = Duration::from_secs(5);
/// The most connections of our own user served at once. An SDK holds one for a moment per
/// credentials read, so this is room for a burst of clients; beyond it a connection is
/// answered 503, which the SDKs retry.
const MAX_CONNECTIONS: usize = 64;
/// The most connections of all other users together served at once: room for a child run as
/// another user, and all another user can hold of this endpoint.
const MAX_OTHERS: usize = 8;
/// Below this many open connections, a new one is taken as ours without asking whose it is
/// (see `accept`).
const UNASKED: usize = 4;
/// The pauses after a failed accept: the first, and the most it doubles to. Failures such as
/// `EMFILE` last until a connection closes, and retrying at once would spin a core meanwhile.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);

/// The bearer token of one endpoint: 32 random bytes, base64url, wiped when dropped.
pub struct Token(Zeroizing<String>);

impl Token {
    pub fn random() -> io::Result<Self> {
        crate::loopback::random_token().map(Self)
    }

    /// The `Authorization` header value the child is given (`AWS_CONTAINER_AUTHORIZATION_TOKEN`).
    pub fn header(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("Bearer {}", self.0.as_str()))
    }
}

/// A running endpoint; it stops accepting when dropped (the process ends soon after).
pub struct Endpoint {
    addr: SocketAddr,
}

impl Endpoint {
    /// Binds a free loopback port and serves `supplier` to requests bearing `token`.
    pub fn start(supplier: Arc<Supplier>, token: Token) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let expected = Arc::new(token.header());
        std::thread::Builder::new()
            .name("credtray-endpoint".to_owned())
            .spawn(move || accept(&listener, &supplier, &expected))?;
        tracing::info!(%addr, "serving credentials");
        Ok(Self { addr })
    }

    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`: a literal loopback address (the Rust SDK checks
    /// that every address a name resolves to is loopback; `localhost` may be `::1`).
    pub fn uri(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }
}

/// Takes connections for as long as the process lives, each served on a thread of its own
/// while its user's [`Room`] has a slot for it.
fn accept(listener: &TcpListener, supplier: &Arc<Supplier>, expected: &Arc<Zeroizing<String>>) {
    let mut ours = Room::new(MAX_CONNECTIONS, "our own user's");
    let mut others = Room::new(MAX_OTHERS, "other users'");
    let mut backoff = Backoff::default();
    // Logged once: an unreadable table fails every time, and stderr is the user's terminal.
    let mut untold = false;
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::NotConnected
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                backoff.failed(
                    &e,
                    "cannot take connections to the credentials endpoint; retrying",
                );
                continue;
            }
        };
        let deadline = Instant::now() + READ_WITHIN;
        // Whose a connection is costs a read of the kernel's whole socket table (which any
        // user can grow), so it is asked only once a few are open: a lone request, the usual
        // case, reads nothing, and the few taken unasked count as ours, where they can't
        // crowd out more than those few of our 64.
        if ours.open() + others.open() < UNASKED {
            match ours.take() {
                Some(slot) => {
                    serve_on_thread(stream, slot, deadline, supplier, expected, &mut backoff)
                }
                None => busy(stream),
            }
            continue;
        }
        let room = match loopback::peer(&stream) {
            Ok(peer) => {
                match peer {
                    loopback::Peer::Us => &mut ours,
                    loopback::Peer::Other { .. } => &mut others,
                    // The client is gone: there is no one to answer.
                    loopback::Peer::Gone => continue,
                }
            }
            Err(e) => {
                if !untold {
                    tracing::warn!(
                        error = %e,
                        "cannot tell whose connections to the credentials endpoint are; counting them as this user's, so other users share their room"
                    );
                }
                untold = true;
                &mut ours
            }
        };
        match room.take() {
            Some(slot) => serve_on_thread(stream, slot, deadline, supplier, expected, &mut backoff),
            None => busy(stream),
        }
    }
}

/// Serves `stream` on a thread of its own, holding `slot` until it is done.
fn serve_on_thread(
    stream: TcpStream,
    slot: Slot,
    deadline: Instant,
    supplier: &Arc<Supplier>,
    expected: &Arc<Zeroizing<String>>,
    backoff: &mut Backoff,
) {
    let (supplier, expected) = (supplier.clone(), expected.clone());
    let spawned = std::thread::Builder::new()
        .name("credtray-request".to_owned())
        .spawn(move || {
            let _slot = slot;
            serve(stream, deadline, &supplier, expected.as_bytes());
        });
    match spawned {
        Ok(_) => backoff.succeeded(),
        // The closure is dropped, the connection and its slot with it: the client sees the
        // connection closed.
        Err(e) => backoff.failed(
            &e,
            "cannot start a thread for a credentials request; closed it",
        ),
    }
}

/// The pause after a failure (of accept, of a thread's start), doubled by each failure in a
/// row up to [`ACCEPT_PAUSE_MAX`]; a failure is logged only when a run of them starts: stderr
/// is the user's terminal, shared with the command's output.
struct Backoff {
    pause: Duration,
    failing: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            pause: ACCEPT_PAUSE,
            failing: false,
        }
    }
}

impl Backoff {
    fn failed(&mut self, error: &io::Error, what: &str) {
        if !self.failing {
            tracing::warn!(error = %error, "{what}");
        }
        self.failing = true;
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(ACCEPT_PAUSE_MAX);
    }

    fn succeeded(&mut self) {
        *self = Self::default();
    }
}

/// The connections of some users served at once, at most `max`.
struct Room {
    open: Arc<AtomicUsize>,
    max: usize,
    whose: &'static str,
    /// Whether being full was logged: once per process, since another user can fill and free
    /// it at will and stderr is the user's terminal.
    told: bool,
}

impl Room {
    fn new(max: usize, whose: &'static str) -> Self {
        Self {
            open: Arc::new(AtomicUsize::new(0)),
            max,
            whose,
            told: false,
        }
    }

    /// A slot, or `None` when `max` connections are being served.
    fn take(&mut self) -> Option<Slot> {
        let max = self.max;
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if !taken && !self.told {
            tracing::warn!(
                max,
                "the credentials endpoint is serving as many of {} connections as it serves at once; answering more of them 503",
                self.whose
            );
            self.told = true;
        }
        taken.then(|| Slot(self.open.clone()))
    }

    /// How many of its connections are being served.
    fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// One connection of a [`Room`]; given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers a connection beyond the cap at once, without reading it or waiting on it.
fn busy(mut stream: TcpStream) {
    // A fresh connection's send buffer takes the whole answer; never block the accept loop.
    if stream.set_nonblocking(true).is_ok() {
        let _ = respond_error(
            &mut stream,
            503,
            "Busy",
            "the credentials endpoint is serving as many connections as it can; try again",
        );
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
}

/// Answers one connection, whose whole request head must arrive by `deadline`.
fn serve(mut stream: TcpStream, deadline: Instant, supplier: &Supplier, expected: &[u8]) {
    let _ = stream.set_write_timeout(Some(READ_WITHIN));
    let _ = stream.set_nodelay(true);
    let Some(head) = loopback::read_head(&mut stream, deadline) else {
        return;
    };
    let request = loopback::Request::parse(&head);
    let result = match request {
        None => respond_error(&mut stream, 400, "BadRequest", "not an HTTP request"),
        Some(r) if r.method != "GET" || r.path != PATH => respond_error(
            &mut stream,
            404,
            "NotFound",
            "credtray serves only GET /credtray/credentials",
        ),
        Some(r)
            if !r
                .authorization
                .is_some_and(|a| constant_time_eq(a, expected)) =>
        {
            tracing::warn!("refused a credentials request without the right token");
            respond_error(
                &mut stream,
                401,
                "Unauthorized",
                "missing or wrong Authorization token",
            )
        }
        Some(_) => match supplier.current() {
            Ok(c) => respond_credentials(&mut stream, &c),
            Err(Unavailable { status, message }) => {
                respond_error(&mut stream, status, "Unavailable", &message)
            }
        },
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "could not answer a credentials request");
    }
}

/// Equality whose time does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The credentials document, built in one wiped buffer sized up front and written straight to
/// the socket.
fn respond_credentials(stream: &mut TcpStream, c: &crate::aws::Credentials) -> io::Result<()> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Document<'a> {
        access_key_id: &'a str,
        secret_access_key: &'a str,
        token: &'a str,
        expiration: String,
    }
    let document = Document {
        access_key_id: c.access_key_id.expose_secret(),
        secret_access_key: c.secret_access_key.expose_secret(),
        token: c.session_token.expose_secret(),
        expiration: crate::aws::rfc3339(c.expiration),
    };
    let secrets =
        document.access_key_id.len() + document.secret_access_key.len() + document.token.len();
    let mut body = Zeroizing::new(Vec::with_capacity(6 * secrets + 256));
    serde_json::to_writer(&mut *body, &document).map_err(io::Error::other)?;
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut response = Zeroizing::new(Vec::with_capacity(head.len() + body.len()));
    response.extend_from_slice(head.as_bytes());
    response.extend_from_slice(&body);
    stream.write_all(&response)
}

fn respond_error(stream: &mut TcpStream, status: u16, code: &str, message: &str) -> io::Result<()> {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;
    use std::io::Read;

    struct Never;

    impl super::super::Source for Never {
        fn fetch(&mut self) -> Result<crate::aws::Credentials, Unavailable> {
            Err(Unavailable::other("not in this test"))
        }
    }

    fn endpoint() -> (Endpoint, Zeroizing<String>) {
        let credentials = crate::aws::Credentials {
            access_key_id: SecretString::from("ASIATESTTESTTEST"),
            secret_access_key: SecretString::from("se/cret+\"key"),
            session_token: SecretString::from("to/ken=="),
            expiration: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            issued: Some(time::OffsetDateTime::now_utc()),
        };
        let supplier = Arc::new(Supplier::start(credentials, Never));
        let token = Token::random().unwrap();
        let header = token.header();
        (Endpoint::start(supplier, token).unwrap(), header)
    }

    fn get(endpoint: &Endpoint, path: &str, authorization: Option<&str>) -> (u16, String) {
        let mut stream = TcpStream::connect(endpoint.addr).unwrap();
        let auth = authorization.map_or_else(String::new, |a| format!("Authorization: {a}\r\n"));
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Accept: */*\r\n\r\n"
        )
        .unwrap();
        // An answer given without reading the request (503 beyond the cap) may be followed by a
        // reset instead of the end: read up to either.
        let mut response = Vec::new();
        let mut buffer = [0u8; 1024];
        while let Ok(n @ 1..) = stream.read(&mut buffer) {
            response.extend_from_slice(&buffer[..n]);
        }
        let response = String::from_utf8(response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap().to_owned();
        (status, body)
    }

    #[test]
    fn the_token_is_32_random_bytes_base64url() {
        let a = Token::random().unwrap();
        let b = Token::random().unwrap();
        assert_eq!(a.0.len(), 43);
        assert_ne!(a.0.as_str(), b.0.as_str());
        assert!(
            a.0.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert!(a.header().starts_with("Bearer "));
    }

    #[test]
    fn credentials_go_only_to_the_bearer_of_the_token_on_the_path() {
        let (endpoint, header) = endpoint();
        let (status, body) = get(&endpoint, PATH, Some(&header));
        assert_eq!(status, 200, "{body}");
        let document: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(document["AccessKeyId"], "ASIATESTTESTTEST");
        assert_eq!(document["SecretAccessKey"], "se/cret+\"key");
        assert_eq!(document["Token"], "to/ken==");
        assert!(document["Expiration"].as_str().unwrap().ends_with('Z'));

        let (status, body) = get(&endpoint, PATH, None);
        assert_eq!(status, 401);
        assert!(!body.contains("ASIA"));
        let wrong = format!("{}x", &header[..header.len() - 1]);
        assert_eq!(get(&endpoint, PATH, Some(&wrong)).0, 401);
        assert_eq!(
            get(&endpoint, PATH, Some(&header[7..])).0,
            401,
            "Bearer is part of it"
        );
        assert_eq!(get(&endpoint, "/", Some(&header)).0, 404);
        assert_eq!(get(&endpoint, &format!("{PATH}?x=1"), Some(&header)).0, 200);
        assert!(endpoint.uri().starts_with("http://127.0.0.1:"));
    }

    #[test]
    fn beyond_the_connections_served_at_once_one_is_answered_busy_until_one_ends() {
        let (endpoint, header) = endpoint();
        // Idle connections take every slot (they are taken in the order they came).
        let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| TcpStream::connect(endpoint.addr).unwrap())
            .collect();
        let started = std::time::Instant::now();
        let (status, body) = get(&endpoint, PATH, Some(&header));
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("\"code\":\"Busy\""), "{body}");
        assert!(!body.contains("ASIA"), "{body}");
        assert!(started.elapsed() < READ_WITHIN, "answered at once");
        drop(idle);
        // Their threads see them closed and give their slots back.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = get(&endpoint, PATH, Some(&header));
            if status == 200 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{status} {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_room_holds_its_most_and_takes_one_more_once_a_slot_is_given_back() {
        let mut room = Room::new(2, "test");
        let (a, _b) = (room.take().unwrap(), room.take().unwrap());
        assert!(room.take().is_none());
        assert!(room.told, "being full was logged");
        assert_eq!(room.open(), 2);
        drop(a);
        assert_eq!(room.open(), 1);
        let _c = room.take().expect("a slot given back is taken again");
        assert_eq!(room.open(), 2);
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
