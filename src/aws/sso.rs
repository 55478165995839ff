//! AWS IAM Identity Center behind a trait: its OIDC service (RegisterClient,
//! StartDeviceAuthorization, CreateToken for the device and refresh grants) and its portal
//! (ListAccounts, ListAccountRoles, GetRoleCredentials, Logout), with the `aws-sdk-ssooidc` and
//! `aws-sdk-sso` implementation and AWS's errors mapped to causes. Endpoints come from the
//! SDK's resolution (`AWS_ENDPOINT_URL_SSO_OIDC`, `AWS_ENDPOINT_URL_SSO`), so a local stub can
//! stand in. The SDK's own retries are off: the caller paces and retries (every call of an
//! integration goes through the integration's pace, see `super::pace`).

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_sso::config::http::HttpResponse;
use aws_sdk_sso::config::{BehaviorVersion, Region as SdkRegion};
use aws_sdk_sso::error::{ProvideErrorMetadata, SdkError};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::Credentials;
use crate::session::{AccountId, Region, RoleName, StartUrl};

/// The scope that makes IAM Identity Center hand out refresh tokens.
pub const SCOPE: &str = "sso:account:access";

/// Why IAM Identity Center said no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The device login is not approved yet: poll again after the interval.
    AuthorizationPending,
    /// Polled too fast: add 5 seconds to the interval.
    SlowDown,
    /// The device code (or a token) expired.
    ExpiredToken,
    /// The person refused the login in the browser.
    AccessDenied,
    /// The refresh token (or device code) is no longer valid: log in again.
    InvalidGrant,
    /// The client registration is unknown or its secret wrong: register again.
    InvalidClient,
    /// The access token is not (or no longer) valid (401).
    Unauthorized,
    /// The role is not assigned to the user (403).
    Forbidden,
    /// No such account or role (404).
    NotFound,
    /// Too many requests (429), with the server's `Retry-After` when it sent one.
    Throttled { retry_after: Option<Duration> },
    /// IAM Identity Center could not be reached.
    Unreachable,
    /// Its TLS certificate is not one this machine trusts (a company CA inspecting TLS,
    /// without its bundle): the endpoint, and what TLS said.
    Untrusted(String),
    /// The proxy refused the call (a 407, a tunnel it would not open, or it could not be
    /// reached): the sentence naming it.
    Proxy(String),
    /// Anything else, with its code or HTTP status.
    Other(String),
}

/// A failed call: the cause and AWS's own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct Error {
    pub call: &'static str,
    pub cause: Cause,
    pub message: String,
}

impl Error {
    /// Whether the call may well succeed if tried again shortly: the service could not be
    /// reached or failed on its side (a 5xx: the portal's and OIDC's `InternalServer`
    /// error, or a status without a code).
    pub fn is_passing(&self) -> bool {
        match &self.cause {
            Cause::Unreachable => true,
            Cause::Other(code) => code == "InternalServer" || code.starts_with("HTTP 5"),
            _ => false,
        }
    }

    fn sentence(&self) -> String {
        let detail = super::said(&self.message);
        let what = match &self.cause {
            Cause::AuthorizationPending => "the login is not approved yet".to_owned(),
            Cause::SlowDown => "IAM Identity Center asked to poll more slowly".to_owned(),
            Cause::ExpiredToken => "the login code expired before it was approved".to_owned(),
            Cause::AccessDenied => "the login was refused in the browser".to_owned(),
            Cause::InvalidGrant => "the IAM Identity Center session has ended".to_owned(),
            Cause::InvalidClient => {
                "IAM Identity Center no longer knows credtray's registration".to_owned()
            }
            Cause::Unauthorized => "the IAM Identity Center access token is not valid".to_owned(),
            Cause::Forbidden => "the role is not assigned to you".to_owned(),
            Cause::NotFound => "no such account or role".to_owned(),
            Cause::Throttled { .. } => format!("IAM Identity Center throttled {}", self.call),
            Cause::Unreachable => "IAM Identity Center could not be reached".to_owned(),
            Cause::Untrusted(why) => format!("IAM Identity Center's {why}"),
            Cause::Proxy(sentence) => sentence.clone(),
            Cause::Other(code) => format!("{} failed with {code}", self.call),
        };
        format!("{what}{detail}")
    }
}

/// credtray's registration with an IAM Identity Center's OIDC service.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Registration {
    pub client_id: String,
    pub client_secret: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
}

/// A device login under way: what the person is shown, and what credtray polls with.
pub struct DeviceLogin {
    pub device_code: SecretString,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires: OffsetDateTime,
    pub interval: Duration,
}

/// An access token (and the refresh token that renews it).
#[derive(Clone)]
pub struct Token {
    pub access_token: SecretString,
    pub expires: OffsetDateTime,
    pub refresh_token: Option<SecretString>,
}

/// An account the user may sign in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
}

/// One page of a listing and the token of the next, if any.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// The IAM Identity Center calls credtray makes; `region` is the instance's.
pub trait Sso: Send + Sync {
    fn register_client(&self, region: &Region, name: &str) -> Result<Registration, Error>;

    fn start_device_login(
        &self,
        region: &Region,
        registration: &Registration,
        start_url: &StartUrl,
    ) -> Result<DeviceLogin, Error>;

    /// One poll of a device login: the token once the person approved it.
    fn device_token(
        &self,
        region: &Region,
        registration: &Registration,
        device_code: &SecretString,
    ) -> Result<Token, Error>;

    /// A new access token from the refresh token (which the answer may replace).
    fn refresh(
        &self,
        region: &Region,
        registration: &Registration,
        refresh_token: &SecretString,
    ) -> Result<Token, Error>;

    fn list_accounts(
        &self,
        region: &Region,
        access_token: &SecretString,
        next: Option<&str>,
    ) -> Result<Page<Account>, Error>;

    fn list_account_roles(
        &self,
        region: &Region,
        access_token: &SecretString,
        account: &AccountId,
        next: Option<&str>,
    ) -> Result<Page<RoleName>, Error>;

    fn role_credentials(
        &self,
        region: &Region,
        access_token: &SecretString,
        account: &AccountId,
        role: &RoleName,
    ) -> Result<Credentials, Error>;

    fn logout(&self, region: &Region, access_token: &SecretString) -> Result<(), Error>;
}

/// The largest page the portal serves (`max_result` must be 1–100).
const PAGE_SIZE: i32 = 100;

/// IAM Identity Center through the AWS SDK, on a small runtime of its own, started on first
/// use (most commands never call it). Its two worker threads let a sync's calls from several
/// threads be in flight at once.
#[derive(Default)]
pub struct Sdk {
    inner: OnceLock<Result<Inner, String>>,
}

struct Inner {
    runtime: tokio::runtime::Runtime,
    base: aws_types::SdkConfig,
}

impl Sdk {
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self, call: &'static str) -> Result<&Inner, Error> {
        // A network policy that can't be used fails every call, before any is made.
        if let Err(e) = crate::net::policy() {
            return Err(Error {
                call,
                cause: Cause::Other("an unusable network setting".to_owned()),
                message: e.to_string(),
            });
        }
        self.inner
            .get_or_init(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("credtray-sso")
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                let timeouts = aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_timeout(Duration::from_secs(30))
                    .build();
                let loader = aws_config::defaults(BehaviorVersion::latest())
                    // Every call is unsigned (the portal takes the access token in a
                    // header).
                    .no_credentials()
                    .region(SdkRegion::from_static("us-east-1"))
                    .timeout_config(timeouts)
                    // The caller paces and retries.
                    .retry_config(aws_config::retry::RetryConfig::disabled());
                let loader = loader.http_client(crate::net::sdk_http_client());
                let base = runtime.block_on(loader.load());
                Ok(Inner { runtime, base })
            })
            .as_ref()
            .map_err(|e| Error {
                call,
                cause: Cause::Other("no async runtime".to_owned()),
                message: e.clone(),
            })
    }

    fn oidc(
        &self,
        call: &'static str,
        region: &Region,
    ) -> Result<(Caller<'_>, aws_sdk_ssooidc::Client), Error> {
        let inner = self.inner(call)?;
        let config = aws_sdk_ssooidc::config::Builder::from(&inner.base)
            .region(aws_sdk_ssooidc::config::Region::new(region.to_string()));
        let endpoint = super::endpoint("SSO_OIDC", format!("https://oidc.{region}.amazonaws.com"));
        Ok((
            Caller { inner, endpoint },
            aws_sdk_ssooidc::Client::from_conf(config.build()),
        ))
    }

    fn portal(
        &self,
        call: &'static str,
        region: &Region,
    ) -> Result<(Caller<'_>, aws_sdk_sso::Client), Error> {
        let inner = self.inner(call)?;
        let config = aws_sdk_sso::config::Builder::from(&inner.base)
            .region(SdkRegion::new(region.to_string()));
        let endpoint = super::endpoint("SSO", format!("https://portal.sso.{region}.amazonaws.com"));
        Ok((
            Caller { inner, endpoint },
            aws_sdk_sso::Client::from_conf(config.build()),
        ))
    }
}

/// What a CreateToken call trades for a token.
enum Grant<'a> {
    DeviceCode(&'a SecretString),
    Refresh(&'a SecretString),
}

impl Sdk {
    fn create_token(
        &self,
        region: &Region,
        registration: &Registration,
        grant: Grant<'_>,
    ) -> Result<Token, Error> {
        const CALL: &str = "CreateToken";
        let (inner, client) = self.oidc(CALL, region)?;
        let call = client
            .create_token()
            .client_id(&registration.client_id)
            .client_secret(&registration.client_secret);
        let call = match grant {
            Grant::DeviceCode(code) => call
                .grant_type("urn:ietf:params:oauth:grant-type:device_code")
                .device_code(code.expose_secret()),
            Grant::Refresh(token) => call
                .grant_type("refresh_token")
                .refresh_token(token.expose_secret()),
        };
        let out = inner.send(CALL, call.send())?;
        token(CALL, &out)
    }
}

/// The runtime and the endpoint of one call (named when its certificate or proxy fails).
struct Caller<'a> {
    inner: &'a Inner,
    endpoint: String,
}

impl Caller<'_> {
    fn send<O, E>(
        &self,
        call: &'static str,
        request: impl std::future::Future<Output = Result<O, SdkError<E, HttpResponse>>>,
    ) -> Result<O, Error>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.inner
            .runtime
            .block_on(request)
            .map_err(|e| map_error(call, &self.endpoint, e))
    }
}

fn missing(call: &'static str, what: &str) -> Error {
    Error {
        call,
        cause: Cause::Other(format!("an answer without {what}")),
        message: String::new(),
    }
}

fn epoch(call: &'static str, seconds: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|_| missing(call, "a valid time"))
}

fn from_now(seconds: i32) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

impl Sso for Sdk {
    fn register_client(&self, region: &Region, name: &str) -> Result<Registration, Error> {
        const CALL: &str = "RegisterClient";
        let (inner, client) = self.oidc(CALL, region)?;
        let out = inner.send(
            CALL,
            client
                .register_client()
                .client_name(name)
                .client_type("public")
                .scopes(SCOPE)
                .grant_types("urn:ietf:params:oauth:grant-type:device_code")
                .grant_types("refresh_token")
                .send(),
        )?;
        Ok(Registration {
            client_id: out
                .client_id()
                .ok_or_else(|| missing(CALL, "a client id"))?
                .to_owned(),
            client_secret: out
                .client_secret()
                .ok_or_else(|| missing(CALL, "a client secret"))?
                .to_owned(),
            expires: epoch(CALL, out.client_secret_expires_at())?,
        })
    }

    fn start_device_login(
        &self,
        region: &Region,
        registration: &Registration,
        start_url: &StartUrl,
    ) -> Result<DeviceLogin, Error> {
        const CALL: &str = "StartDeviceAuthorization";
        let (inner, client) = self.oidc(CALL, region)?;
        let out = inner.send(
            CALL,
            client
                .start_device_authorization()
                .client_id(&registration.client_id)
                .client_secret(&registration.client_secret)
                .start_url(start_url.as_str())
                .send(),
        )?;
        let text = |v: Option<&str>, what| v.map(str::to_owned).ok_or_else(|| missing(CALL, what));
        Ok(DeviceLogin {
            device_code: SecretString::from(text(out.device_code(), "a device code")?),
            user_code: text(out.user_code(), "a user code")?,
            verification_uri: text(out.verification_uri(), "a verification URI")?,
            verification_uri_complete: text(out.verification_uri_complete(), "a verification URI")?,
            expires: from_now(out.expires_in()),
            // AWS's default when it says nothing.
            interval: Duration::from_secs(match out.interval() {
                i if i > 0 => u64::try_from(i).unwrap_or(5),
                _ => 5,
            }),
        })
    }

    fn device_token(
        &self,
        region: &Region,
        registration: &Registration,
        device_code: &SecretString,
    ) -> Result<Token, Error> {
        self.create_token(region, registration, Grant::DeviceCode(device_code))
    }

    fn refresh(
        &self,
        region: &Region,
        registration: &Registration,
        refresh_token: &SecretString,
    ) -> Result<Token, Error> {
        self.create_token(region, registration, Grant::Refresh(refresh_token))
    }

    fn list_accounts(
        &self,
        region: &Region,
        access_token: &SecretString,
        next: Option<&str>,
    ) -> Result<Page<Account>, Error> {
        const CALL: &str = "ListAccounts";
        let (inner, client) = self.portal(CALL, region)?;
        let out = inner.send(
            CALL,
            client
                .list_accounts()
                .access_token(access_token.expose_secret())
                .max_results(PAGE_SIZE)
                .set_next_token(next.map(str::to_owned))
                .send(),
        )?;
        let mut items = Vec::new();
        for a in out.account_list() {
            let id = a
                .account_id()
                .ok_or_else(|| missing(CALL, "an account id"))?;
            items.push(Account {
                id: id
                    .parse()
                    .map_err(|_| missing(CALL, "a 12-digit account id"))?,
                name: a.account_name().unwrap_or(id).to_owned(),
            });
        }
        Ok(Page {
            items,
            next: out.next_token().map(str::to_owned),
        })
    }

    fn list_account_roles(
        &self,
        region: &Region,
        access_token: &SecretString,
        account: &AccountId,
        next: Option<&str>,
    ) -> Result<Page<RoleName>, Error> {
        const CALL: &str = "ListAccountRoles";
        let (inner, client) = self.portal(CALL, region)?;
        let out = inner.send(
            CALL,
            client
                .list_account_roles()
                .access_token(access_token.expose_secret())
                .account_id(account.as_str())
                .max_results(PAGE_SIZE)
                .set_next_token(next.map(str::to_owned))
                .send(),
        )?;
        let items = out
            .role_list()
            .iter()
            .filter_map(|r| r.role_name())
            .map(|name| name.parse().map_err(|_| missing(CALL, "a valid role name")))
            .collect::<Result<Vec<RoleName>, Error>>()?;
        Ok(Page {
            items,
            next: out.next_token().map(str::to_owned),
        })
    }

    fn role_credentials(
        &self,
        region: &Region,
        access_token: &SecretString,
        account: &AccountId,
        role: &RoleName,
    ) -> Result<Credentials, Error> {
        const CALL: &str = "GetRoleCredentials";
        let (inner, client) = self.portal(CALL, region)?;
        let out = inner.send(
            CALL,
            client
                .get_role_credentials()
                .access_token(access_token.expose_secret())
                .account_id(account.as_str())
                .role_name(role.as_str())
                .send(),
        )?;
        let c = out
            .role_credentials()
            .ok_or_else(|| missing(CALL, "role credentials"))?;
        let secret = |v: Option<&str>, what| {
            v.map(|s| SecretString::from(s.to_owned()))
                .ok_or_else(|| missing(CALL, what))
        };
        let expiration =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(c.expiration()) * 1_000_000)
                .map_err(|_| missing(CALL, "a valid expiration"))?;
        Ok(Credentials {
            access_key_id: secret(c.access_key_id(), "an access key id")?,
            secret_access_key: secret(c.secret_access_key(), "a secret access key")?,
            session_token: secret(c.session_token(), "a session token")?,
            expiration,
            issued: None,
        })
    }

    fn logout(&self, region: &Region, access_token: &SecretString) -> Result<(), Error> {
        let (inner, client) = self.portal("Logout", region)?;
        inner
            .send(
                "Logout",
                client
                    .logout()
                    .access_token(access_token.expose_secret())
                    .send(),
            )
            .map(drop)
    }
}

fn token(
    call: &'static str,
    out: &aws_sdk_ssooidc::operation::create_token::CreateTokenOutput,
) -> Result<Token, Error> {
    Ok(Token {
        access_token: SecretString::from(
            out.access_token()
                .ok_or_else(|| missing(call, "an access token"))?
                .to_owned(),
        ),
        expires: from_now(out.expires_in()),
        refresh_token: out
            .refresh_token()
            .map(|t| SecretString::from(t.to_owned())),
    })
}

fn map_error<E>(call: &'static str, endpoint: &str, error: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    // `Retry-After` in seconds, or AWS's `x-amz-retry-after` in milliseconds.
    let header = |name: &str| {
        error
            .raw_response()
            .and_then(|r| r.headers().get(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let retry_after = header("retry-after")
        .map(Duration::from_secs)
        .or_else(|| header("x-amz-retry-after").map(Duration::from_millis));
    let message = crate::redact::scrub(error.message().unwrap_or_default());
    let code = error.code().unwrap_or_default().to_owned();
    let cause = match (&error, code.trim_end_matches("Exception"), status) {
        (SdkError::DispatchFailure(failure), _, _) => super::transport_cause(
            failure
                .as_connector_error()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            endpoint,
        )
        .map_or(Cause::Unreachable, |c| match c {
            super::Transport::Proxy(sentence) => Cause::Proxy(sentence),
            super::Transport::Untrusted(why) => Cause::Untrusted(why),
        }),
        (SdkError::TimeoutError(_), _, _) => Cause::Unreachable,
        (_, _, Some(429)) | (_, "TooManyRequests", _) => Cause::Throttled { retry_after },
        (_, "AuthorizationPending", _) => Cause::AuthorizationPending,
        (_, "SlowDown", _) => Cause::SlowDown,
        (_, "ExpiredToken", _) => Cause::ExpiredToken,
        (_, "AccessDenied", _) => Cause::AccessDenied,
        (_, "InvalidGrant", _) => Cause::InvalidGrant,
        (_, "InvalidClient" | "UnauthorizedClient", _) => Cause::InvalidClient,
        (_, "Unauthorized", _) | (_, _, Some(401)) => Cause::Unauthorized,
        (_, "Forbidden", _) | (_, _, Some(403)) => Cause::Forbidden,
        (_, "ResourceNotFound", _) | (_, _, Some(404)) => Cause::NotFound,
        (_, "", Some(status)) => Cause::Other(format!("HTTP {status}")),
        (_, "", None) => Cause::Other("an unreadable answer".to_owned()),
        (_, code, _) => Cause::Other(code.to_owned()),
    };
    Error {
        call,
        cause,
        message,
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}
