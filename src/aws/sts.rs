//! STS behind a trait: the calls credtray makes (GetSessionToken, AssumeRole,
//! AssumeRoleWithSAML, GetCallerIdentity, GetFederationToken), the `aws-sdk-sts` implementation, and AWS errors
//! mapped to sentences. The endpoint comes from the SDK's standard resolution, so
//! `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL` point it at a local emulator; calls go to the
//! session's region (regional endpoints).

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_sts::config::{BehaviorVersion, Region as SdkRegion};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use super::Credentials;
use crate::session::{
    ExternalId, IamUserKeys, IdpArn, MfaCode, MfaDevice, Region, RoleArn, RoleSessionName,
};

/// Why STS said no, in the user's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The access key id does not exist or the signature does not match the secret key.
    InvalidKey,
    /// The credentials used have expired.
    ExpiredToken,
    /// The MFA code was rejected.
    MfaRejected,
    /// The principal may not do this (e.g. assume the role).
    AccessDenied,
    /// Too many requests.
    Throttled,
    /// STS could not be reached.
    Unreachable,
    /// STS's TLS certificate is not one this machine trusts (a company CA inspecting TLS,
    /// without its bundle); what TLS said.
    Untrusted(String),
    /// The network policy can't be used (an unusable CA bundle): its sentence.
    Network(String),
    /// Anything else AWS answered, with its code.
    Other(String),
}

/// A failed STS call: the cause and AWS's own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct Error {
    pub call: &'static str,
    pub cause: Cause,
    pub message: String,
}

impl Error {
    fn sentence(&self) -> String {
        let detail = super::said(&self.message);
        let what = match &self.cause {
            Cause::InvalidKey => "STS rejected the access key: the key id is unknown or the secret access key does not match".to_owned(),
            Cause::ExpiredToken => "the credentials used to call STS have expired".to_owned(),
            Cause::MfaRejected => "the MFA code was rejected (wrong, expired or already used)".to_owned(),
            Cause::AccessDenied => format!("access denied by AWS on {}", self.call),
            Cause::Throttled => "STS is throttling requests; try again in a moment".to_owned(),
            Cause::Unreachable => "the STS endpoint could not be reached".to_owned(),
            Cause::Untrusted(why) => format!("STS's {why}"),
            Cause::Network(sentence) => sentence.clone(),
            Cause::Other(code) => format!("{} failed with {code}", self.call),
        };
        format!("{what}{detail}")
    }
}

/// The STS calls credtray makes. Durations are what we ask for; AWS may cap them.
pub trait Sts: Send + Sync {
    fn get_session_token(
        &self,
        region: &Region,
        keys: &IamUserKeys,
        duration: Duration,
        mfa: Option<(&MfaDevice, &MfaCode)>,
    ) -> Result<Credentials, Error>;

    fn assume_role(
        &self,
        region: &Region,
        with: &Credentials,
        role_arn: &RoleArn,
        session_name: &RoleSessionName,
        external_id: Option<&ExternalId>,
        duration: Duration,
    ) -> Result<Credentials, Error>;

    fn assume_role_with_saml(
        &self,
        region: &Region,
        role_arn: &RoleArn,
        idp_arn: &IdpArn,
        assertion: &SecretString,
        duration: Duration,
    ) -> Result<Credentials, Error>;

    /// The ARN of the caller the credentials belong to.
    fn get_caller_identity(&self, region: &Region, with: &Credentials) -> Result<String, Error>;

    /// Federated-user credentials from an IAM user's long-term keys (the AWS web console won't
    /// take session-token credentials), limited to what `policy` and the user both allow.
    fn get_federation_token(
        &self,
        region: &Region,
        keys: &IamUserKeys,
        name: &str,
        policy: &str,
        duration: Duration,
    ) -> Result<Credentials, Error>;
}

/// STS through `aws-sdk-sts`, on a small runtime of its own so callers stay synchronous.
pub struct Sdk {
    runtime: tokio::runtime::Runtime,
    base: OnceLock<aws_types::SdkConfig>,
}

impl Sdk {
    pub fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self {
            runtime,
            base: OnceLock::new(),
        })
    }

    /// The shared SDK configuration (endpoint overrides, retry, timeouts), loaded once.
    fn base(&self) -> &aws_types::SdkConfig {
        self.base.get_or_init(|| {
            let timeouts = aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(30))
                .build();
            let loader = aws_config::defaults(BehaviorVersion::latest())
                // Credentials are always given per call: never let the default chain
                // wander (environment, profiles, instance metadata).
                .no_credentials()
                .region(SdkRegion::from_static("us-east-1"))
                .timeout_config(timeouts);
            let loader = loader.http_client(crate::net::sdk_http_client());
            self.runtime.block_on(loader.load())
        })
    }

    /// Runs one SDK call to completion on this client's runtime, its error as a sentence.
    fn send<O, E, R>(
        &self,
        call: &'static str,
        region: &Region,
        with_mfa: bool,
        request: impl std::future::Future<Output = Result<O, SdkError<E, R>>>,
    ) -> Result<O, Error>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        // A network policy that can't be used fails every call, before any is made.
        if let Err(e) = crate::net::policy() {
            return Err(Error {
                call,
                cause: Cause::Network(e.to_string()),
                message: String::new(),
            });
        }
        self.runtime.block_on(request).map_err(|e| {
            let endpoint = super::endpoint("STS", format!("https://sts.{region}.amazonaws.com"));
            map_error(call, &endpoint, with_mfa, e)
        })
    }

    /// A client for `region`, signing with `credentials` (unsigned without).
    fn client(
        &self,
        region: &Region,
        credentials: Option<aws_sdk_sts::config::Credentials>,
    ) -> aws_sdk_sts::Client {
        let mut config = aws_sdk_sts::config::Builder::from(self.base())
            .region(SdkRegion::new(region.to_string()));
        if let Some(c) = credentials {
            config = config.credentials_provider(c);
        }
        aws_sdk_sts::Client::from_conf(config.build())
    }
}

/// Temporary credentials as the SDK takes them.
fn temporary(c: &Credentials) -> aws_sdk_sts::config::Credentials {
    sdk_credentials(
        c.access_key_id.expose_secret(),
        c.secret_access_key.expose_secret(),
        Some(c.session_token.expose_secret()),
    )
}

/// An IAM user's long-term keys as the SDK takes them.
fn long_term(keys: &IamUserKeys) -> aws_sdk_sts::config::Credentials {
    sdk_credentials(
        keys.access_key_id.secret().expose_secret(),
        keys.secret_access_key.secret().expose_secret(),
        None,
    )
}

fn sdk_credentials(
    access_key_id: &str,
    secret: &str,
    token: Option<&str>,
) -> aws_sdk_sts::config::Credentials {
    aws_sdk_sts::config::Credentials::new(
        access_key_id,
        secret,
        token.map(str::to_owned),
        None,
        "credtray",
    )
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

impl Sts for Sdk {
    fn get_session_token(
        &self,
        region: &Region,
        keys: &IamUserKeys,
        duration: Duration,
        mfa: Option<(&MfaDevice, &MfaCode)>,
    ) -> Result<Credentials, Error> {
        let client = self.client(region, Some(long_term(keys)));
        let mut call = client
            .get_session_token()
            .duration_seconds(seconds(duration));
        if let Some((device, code)) = mfa {
            call = call
                .serial_number(device.as_str())
                .token_code(code.as_str());
        }
        let out = self.send("GetSessionToken", region, mfa.is_some(), call.send())?;
        convert("GetSessionToken", out.credentials)
    }

    fn assume_role(
        &self,
        region: &Region,
        with: &Credentials,
        role_arn: &RoleArn,
        session_name: &RoleSessionName,
        external_id: Option<&ExternalId>,
        duration: Duration,
    ) -> Result<Credentials, Error> {
        let call = self
            .client(region, Some(temporary(with)))
            .assume_role()
            .role_arn(role_arn.as_str())
            .role_session_name(session_name.as_str())
            .set_external_id(external_id.map(|e| e.as_str().to_owned()))
            .duration_seconds(seconds(duration));
        let out = self.send("AssumeRole", region, false, call.send())?;
        convert("AssumeRole", out.credentials)
    }

    fn assume_role_with_saml(
        &self,
        region: &Region,
        role_arn: &RoleArn,
        idp_arn: &IdpArn,
        assertion: &SecretString,
        duration: Duration,
    ) -> Result<Credentials, Error> {
        let call = self
            .client(region, None)
            .assume_role_with_saml()
            .role_arn(role_arn.as_str())
            .principal_arn(idp_arn.as_str())
            .saml_assertion(assertion.expose_secret())
            .duration_seconds(seconds(duration));
        let out = self.send("AssumeRoleWithSAML", region, false, call.send())?;
        convert("AssumeRoleWithSAML", out.credentials)
    }

    fn get_federation_token(
        &self,
        region: &Region,
        keys: &IamUserKeys,
        name: &str,
        policy: &str,
        duration: Duration,
    ) -> Result<Credentials, Error> {
        let call = self
            .client(region, Some(long_term(keys)))
            .get_federation_token()
            .name(name)
            .policy(policy)
            .duration_seconds(seconds(duration));
        let out = self.send("GetFederationToken", region, false, call.send())?;
        convert("GetFederationToken", out.credentials)
    }

    fn get_caller_identity(&self, region: &Region, with: &Credentials) -> Result<String, Error> {
        let call = self
            .client(region, Some(temporary(with)))
            .get_caller_identity();
        let out = self.send("GetCallerIdentity", region, false, call.send())?;
        out.arn.ok_or_else(|| Error {
            call: "GetCallerIdentity",
            cause: Cause::Other("an answer without an ARN".to_owned()),
            message: String::new(),
        })
    }
}

fn convert(
    call: &'static str,
    credentials: Option<aws_sdk_sts::types::Credentials>,
) -> Result<Credentials, Error> {
    let c = credentials.ok_or_else(|| Error {
        call,
        cause: Cause::Other("an answer without credentials".to_owned()),
        message: String::new(),
    })?;
    let expiration =
        OffsetDateTime::from_unix_timestamp(c.expiration.secs()).map_err(|_| Error {
            call,
            cause: Cause::Other("an answer with an impossible expiry".to_owned()),
            message: String::new(),
        })?;
    Ok(Credentials {
        access_key_id: SecretString::from(c.access_key_id),
        secret_access_key: SecretString::from(c.secret_access_key),
        session_token: SecretString::from(c.session_token),
        expiration,
        issued: None,
    })
}

fn map_error<E, R>(
    call: &'static str,
    endpoint: &str,
    with_mfa: bool,
    error: SdkError<E, R>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    let message = error.message().unwrap_or_default().to_owned();
    let cause = match &error {
        SdkError::DispatchFailure(failure) => super::transport_cause(
            failure
                .as_connector_error()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            endpoint,
        )
        .map_or(Cause::Unreachable, |c| match c {
            super::Transport::Proxy(sentence) => Cause::Network(sentence),
            super::Transport::Untrusted(why) => Cause::Untrusted(why),
        }),
        SdkError::TimeoutError(_) => Cause::Unreachable,
        SdkError::ServiceError(_) => match error.code().unwrap_or_default() {
            "InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException" => {
                Cause::InvalidKey
            }
            "ExpiredToken" | "ExpiredTokenException" | "TokenRefreshRequired" => {
                Cause::ExpiredToken
            }
            "AccessDenied" if with_mfa && message.contains("MultiFactorAuthentication") => {
                Cause::MfaRejected
            }
            "AccessDenied" | "AccessDeniedException" => Cause::AccessDenied,
            "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException" => Cause::Throttled,
            "" => Cause::Other("an error without a code".to_owned()),
            code => Cause::Other(code.to_owned()),
        },
        _ => Cause::Other("an unreadable answer".to_owned()),
    };
    let message = match (&cause, message.is_empty()) {
        (Cause::Unreachable, _) => source_text(&error),
        (_, _) => message,
    };
    // AWS's text can quote what it was sent (a key id, a signed header with the session
    // token); this message goes on to stores, toasts and logs.
    let message = crate::redact::scrub(&message);
    Error {
        call,
        cause,
        message,
    }
}

/// The innermost cause of a transport failure ("Connection refused", "timed out").
fn source_text(error: &dyn std::error::Error) -> String {
    let mut last = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

#[cfg(test)]
mod tests {
    use aws_sdk_sts::error::ErrorMetadata;
    use aws_sdk_sts::operation::get_session_token::GetSessionTokenError;

    use super::*;

    fn answer(code: &str, message: &str) -> SdkError<GetSessionTokenError, ()> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(GetSessionTokenError::generic(meta), ())
    }

    #[test]
    fn aws_messages_lose_the_keys_and_tokens_they_quote() {
        let token =
            "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7Kq2+9zWb3f1".repeat(3);
        let e = map_error(
            "GetSessionToken",
            "https://sts.test",
            false,
            answer(
                "SignatureDoesNotMatch",
                &format!(
                    "Credential=AKIAIOSFODNN7EXAMPLE/20261128/us-east-1/sts/aws4_request\nx-amz-security-token:{token}\n"
                ),
            ),
        );
        assert_eq!(e.cause, Cause::InvalidKey);
        assert_eq!(
            e.message,
            "Credential=<redacted>/20261128/us-east-1/sts/aws4_request\nx-amz-security-token:<redacted>\n"
        );
        let sentence = e.to_string();
        assert!(!sentence.contains("AKIAIOSFODNN7EXAMPLE") && !sentence.contains(&token[..40]));
        // The MFA check still sees AWS's words, and ARNs stay readable.
        let e = map_error(
            "GetSessionToken",
            "https://sts.test",
            true,
            answer(
                "AccessDenied",
                "MultiFactorAuthentication failed for arn:aws:iam::123456789012:user/dev",
            ),
        );
        assert_eq!(e.cause, Cause::MfaRejected);
        assert_eq!(
            e.message,
            "MultiFactorAuthentication failed for arn:aws:iam::123456789012:user/dev"
        );
    }
}
