//! The AWS web console sign-in (federation): temporary credentials exchanged for a sign-in
//! token at the partition's federation endpoint (`getSigninToken`), and the login URL that
//! carries it. The token and the URL are bearer credentials: kept as secrets, never logged.
//! `CREDTRAY_FEDERATION_ENDPOINT` replaces the endpoint (tests point it at a local stub).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::Credentials;
use crate::session::Region;

/// How long the federation endpoint may take.
const WITHIN: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the AWS sign-in endpoint {endpoint} could not be reached: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error(
        "the AWS sign-in endpoint {endpoint} refused the credentials (HTTP {status}); AWS said: {message}"
    )]
    Refused {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("the AWS sign-in endpoint {endpoint} answered without a sign-in token")]
    NoToken { endpoint: String },
}

/// The federation endpoint of `region`'s partition.
pub fn endpoint(region: &Region) -> String {
    if let Some(over) = std::env::var_os("CREDTRAY_FEDERATION_ENDPOINT").filter(|v| !v.is_empty()) {
        return over.to_string_lossy().into_owned();
    }
    let host = match super::region(region.as_str()).map(|r| r.partition) {
        Some("aws-cn") => "signin.amazonaws.cn",
        Some("aws-us-gov") => "signin.amazonaws-us-gov.com",
        _ => "signin.aws.amazon.com",
    };
    format!("https://{host}/federation")
}

/// The console page to land on: `service`'s home (the console's home without one) in
/// `region`, on the partition's console.
pub fn console_url(region: &Region, service: Option<&str>) -> String {
    let host = match super::region(region.as_str()).map(|r| r.partition) {
        Some("aws-cn") => "console.amazonaws.cn",
        Some("aws-us-gov") => "console.amazonaws-us-gov.com",
        _ => "console.aws.amazon.com",
    };
    let service = service.unwrap_or("console");
    format!("https://{host}/{service}/home?region={region}")
}

/// A sign-in token for `credentials` from `endpoint`.
pub fn signin_token(endpoint: &str, credentials: &Credentials) -> Result<SecretString, Error> {
    let session = Zeroizing::new(
        serde_json::json!({
            "sessionId": credentials.access_key_id.expose_secret(),
            "sessionKey": credentials.secret_access_key.expose_secret(),
            "sessionToken": credentials.session_token.expose_secret(),
        })
        .to_string(),
    );
    let query = Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "getSigninToken")
            .append_pair("Session", &session)
            .finish(),
    );
    let uri = Zeroizing::new(format!("{endpoint}?{}", query.as_str()));
    let unreachable = |reason: String| Error::Unreachable {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let super::https::Response { status, body, .. } =
        super::https::get(&uri, WITHIN).map_err(unreachable)?;
    if status != 200 {
        let message: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(Error::Refused {
            endpoint: endpoint.to_owned(),
            status,
            message: crate::redact::scrub(&message),
        });
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "SigninToken")]
        signin_token: Zeroizing<String>,
    }
    let answer: Answer = serde_json::from_slice(&body).map_err(|_| Error::NoToken {
        endpoint: endpoint.to_owned(),
    })?;
    Ok(SecretString::from(answer.signin_token.as_str()))
}

/// The sign-in URL for `credentials`: a token from `region`'s partition's federation
/// endpoint, landing on `service`'s console (the console's home without one) in `region`.
/// The URL it returns is a credential.
pub fn sign_in(
    credentials: &Credentials,
    region: &Region,
    service: Option<&str>,
) -> Result<SecretString, Error> {
    let endpoint = endpoint(region);
    let token = signin_token(&endpoint, credentials)?;
    Ok(login_url(&endpoint, &console_url(region, service), &token))
}

/// The login URL: opening it signs the browser in to `destination`.
pub fn login_url(endpoint: &str, destination: &str, token: &SecretString) -> SecretString {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "login")
        .append_pair("Issuer", "credtray")
        .append_pair("Destination", destination)
        .append_pair("SigninToken", token.expose_secret())
        .finish();
    SecretString::from(format!("{endpoint}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_partition_has_its_sign_in_and_console() {
        let r = |s: &str| Region::parse(s, &[]).unwrap();
        assert_eq!(
            endpoint(&r("eu-west-1")),
            "https://signin.aws.amazon.com/federation"
        );
        assert_eq!(
            endpoint(&r("cn-north-1")),
            "https://signin.amazonaws.cn/federation"
        );
        assert_eq!(
            endpoint(&r("us-gov-west-1")),
            "https://signin.amazonaws-us-gov.com/federation"
        );
        assert_eq!(
            console_url(&r("eu-west-1"), Some("s3")),
            "https://console.aws.amazon.com/s3/home?region=eu-west-1"
        );
        assert_eq!(
            console_url(&r("cn-north-1"), None),
            "https://console.amazonaws.cn/console/home?region=cn-north-1"
        );
    }

    #[test]
    fn the_login_url_carries_the_token_and_the_destination_encoded() {
        let url = login_url(
            "https://signin.aws.amazon.com/federation",
            "https://console.aws.amazon.com/s3/home?region=eu-west-1",
            &SecretString::from("tok+en/="),
        );
        let parsed = url::Url::parse(url.expose_secret()).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("Action".into(), "login".into())));
        assert!(pairs.contains(&("SigninToken".into(), "tok+en/=".into())));
        assert!(pairs.contains(&(
            "Destination".into(),
            "https://console.aws.amazon.com/s3/home?region=eu-west-1".into()
        )));
    }
}
