//! The loopback ECS container-credentials endpoint of one `credtray exec`: `GET
//! /credtray/credentials` on `127.0.0.1:<free port>`, answered from the [`Supplier`]'s memory
//! with `{"AccessKeyId","SecretAccessKey","Token","Expiration"}` to a request that carries the
//! bearer token in `Authorization` (compared in constant time); 401 without it, 404 elsewhere,
//! 503/502/500 with `{"code","message"}` when there are no credentials to give. The HTTP is
//! the small subset the SDKs speak: one request per connection, then `Connection: close`.

use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{Supplier, Unavailable};
use crate::loopback;

/// The path the credentials are served on (a path, not `/`: the Ruby SDK ignores a full URI
/// without one).
pub const PATH: &str = "/credtray/credentials";
/// How long a client may take to send its request.
const READ_WITHIN: Duration = Duration::from_secs(5);

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
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let (supplier, expected) = (supplier.clone(), expected.clone());
                    let _ = std::thread::Builder::new()
                        .name("credtray-request".to_owned())
                        .spawn(move || serve(stream, &supplier, expected.as_bytes()));
                }
            })?;
        tracing::info!(%addr, "serving credentials");
        Ok(Self { addr })
    }

    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`: a literal loopback address (the Rust SDK checks
    /// that every address a name resolves to is loopback; `localhost` may be `::1`).
    pub fn uri(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }
}

/// Answers one connection.
fn serve(mut stream: TcpStream, supplier: &Supplier, expected: &[u8]) {
    let _ = stream.set_read_timeout(Some(READ_WITHIN));
    let _ = stream.set_nodelay(true);
    let Some(head) = loopback::read_head(&mut stream) else {
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
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
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
    fn constant_time_equality_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
