//! `credtray exec`, `credtray env` and `credtray console`: a session's credentials used
//! directly, outside the named profiles. The first credentials come from the agent when one runs (the tray asks for
//! an MFA code or a login in its own dialogs), else from this process's engine with the CLI's
//! prompt (`--mfa-code`, a terminal prompt, the login window); `exec`'s endpoint then keeps
//! them fresh in the background (`crate::exec`), never asking anyone: what needs a person is
//! a 503 that says so.

use std::ffi::OsString;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::args::{Answers, ConsoleArgs, EnvFormat, ExecArgs};
use super::prompt::CliPrompt;
use super::{UsageError, print_secret};
use crate::agent::client::Asked;
use crate::agent::protocol::ErrorKind;
use crate::aws::Credentials;
use crate::engine::{self, Engine, NoPrompt};
use crate::exec::{Source, Supplier, Unavailable, child, endpoint, environment};
use crate::session::{Session, SessionId, SessionKind};

/// Asks the running agent; `None` when none answers usefully, or its socket is refused (said
/// once on stderr; the work is then done here, as with no agent).
fn from_agent(id: SessionId, alias: &str) -> Option<Result<Credentials, Unavailable>> {
    Some(match crate::agent::client::credentials(&id.to_string()) {
        Asked::NoAgent => return None,
        Asked::Untrusted(e) => {
            super::agent_refused(&e);
            return None;
        }
        Asked::Credentials(secrets) => secrets
            .credentials()
            .ok_or_else(|| Unavailable::other("the agent sent an expiry that does not parse")),
        Asked::Refused(ErrorKind::NeedsMfa | ErrorKind::NeedsLogin, message) => {
            Err(needs_person(alias, &message))
        }
        Asked::Refused(ErrorKind::Aws, message) => Err(Unavailable::aws(message)),
        Asked::Refused(_, message) => Err(Unavailable::other(message)),
    })
}

fn needs_person(alias: &str, why: &str) -> Unavailable {
    Unavailable::needs_person(format!(
        "{why} (start session {alias:?} from the tray, or run `credtray session start {alias:?}`; the command is then served again)"
    ))
}

fn unavailable(alias: &str, e: &engine::Error) -> Unavailable {
    let why = crate::error_sentence(e);
    match e {
        engine::Error::NeedsMfaCode { .. }
        | engine::Error::MfaCodeReused { .. }
        | engine::Error::MfaSource { .. }
        | engine::Error::NeedsSamlAssertion { .. }
        | engine::Error::SamlLogin { .. }
        | engine::Error::LoggedOut { .. } => needs_person(alias, &why),
        engine::Error::Sts { .. } | engine::Error::Sso { .. } => Unavailable::aws(why),
        _ => Unavailable::other(why),
    }
}

/// The background refresh of `exec`: the agent when one runs, else this engine, never asking.
struct Refresh {
    engine: Engine,
    id: SessionId,
    alias: String,
}

impl Source for Refresh {
    fn fetch(&mut self) -> Result<Credentials, Unavailable> {
        if let Some(answer) = from_agent(self.id, &self.alias) {
            return answer;
        }
        self.engine
            .credentials_for(self.id, &mut NoPrompt)
            .map_err(|e| unavailable(&self.alias, &e))
    }
}

/// The first credentials, which may ask the person: the agent (unless an MFA code was given
/// here), else (or when a headless agent can't ask) the engine with the CLI's prompt.
fn first_credentials(
    engine: &mut Engine,
    session: &Session,
    answers: Answers,
) -> anyhow::Result<Credentials> {
    let alias = session.alias.as_str();
    if answers.mfa_code.is_none() && answers.saml_assertion.is_none() {
        match from_agent(session.id, alias) {
            Some(Ok(c)) => return Ok(c),
            Some(Err(e)) if e.status != 503 => return Err(anyhow::anyhow!(e.message)),
            Some(Err(_)) | None => {}
        }
    }
    let mut prompt = CliPrompt::new(answers)?;
    Ok(engine.credentials_for(session.id, &mut prompt)?)
}

/// The static variables of `credentials` in `region` (`exec --env`, `env`).
fn static_vars(credentials: &Credentials, region: &str) -> Vec<(&'static str, Zeroizing<String>)> {
    let text = |s: &str| Zeroizing::new(s.to_owned());
    vec![
        (
            "AWS_ACCESS_KEY_ID",
            text(credentials.access_key_id.expose_secret()),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            text(credentials.secret_access_key.expose_secret()),
        ),
        (
            "AWS_SESSION_TOKEN",
            text(credentials.session_token.expose_secret()),
        ),
        (
            "AWS_CREDENTIAL_EXPIRATION",
            text(&crate::aws::rfc3339(credentials.expiration)),
        ),
        ("AWS_REGION", text(region)),
        ("AWS_DEFAULT_REGION", text(region)),
    ]
}

/// `credtray exec SESSION -- CMD…`: CMD's exit code.
pub(super) fn exec(mut engine: Engine, args: ExecArgs) -> anyhow::Result<i32> {
    // It holds credentials in memory: see `crate::harden`.
    crate::harden::keep_debuggers_out();
    let session = engine.catalog()?.resolve(&args.session)?.clone();
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| UsageError("give the command to run after `--`".to_owned()))?;
    let first = first_credentials(&mut engine, &session, args.answers)?;
    let region = session.region.to_string();
    // The child reaches AWS as credtray does (and its credentials endpoint directly).
    let network = crate::net::child::child_env(
        &*crate::net::policy()?,
        &engine.network()?,
        crate::net::env_var,
    );
    if let Some(warning) = &network.warning {
        eprintln!("credtray: {warning}");
    }
    let mut remove = environment::removed();
    remove.extend(network.remove.iter().map(OsString::from));
    let launch = |mut set: Vec<(OsString, OsString)>| {
        set.extend(
            network
                .set
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        );
        child::run(child::Launch {
            program,
            args: rest,
            set,
            remove: remove.clone(),
        })
        .context("cannot run the command")
    };
    if args.env {
        let set = static_vars(&first, &region)
            .into_iter()
            .map(|(k, v)| (k.into(), v.as_str().into()))
            .collect();
        drop(first);
        return launch(set);
    }
    let files = environment::SharedFiles::create(engine.aws_config_path())
        .context("cannot prepare the command's AWS files")?;
    let supplier = Arc::new(Supplier::start(
        first,
        Refresh {
            engine,
            id: session.id,
            alias: session.alias.to_string(),
        },
    ));
    let token = endpoint::Token::random().context("cannot make the endpoint's token")?;
    let authorization = token.header();
    let served = endpoint::Endpoint::start(supplier, token)
        .context("cannot start the credentials endpoint")?;
    let mut set: Vec<(OsString, OsString)> = vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
            served.uri().into(),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN".into(),
            authorization.as_str().into(),
        ),
        ("AWS_REGION".into(), region.clone().into()),
        ("AWS_DEFAULT_REGION".into(), region.into()),
    ];
    set.extend(files.vars().into_iter().map(|(k, v)| (k.into(), v)));
    let code = launch(set);
    drop(files);
    code
}

/// `credtray console SESSION`: the sign-in URL opened in the browser through a one-time
/// loopback link (never on a command line), or printed.
pub(super) fn console(engine: &mut Engine, args: ConsoleArgs) -> anyhow::Result<()> {
    let catalog = engine.catalog()?;
    let session = catalog.resolve(&args.session)?.clone();
    let region = match &args.region {
        Some(r) => catalog.parse_region(r)?,
        None => session.region.clone(),
    };
    let credentials = if matches!(session.kind, SessionKind::IamUser { .. }) {
        engine.console_credentials(session.id, &mut CliPrompt::new(args.answers)?)?
    } else {
        first_credentials(engine, &session, args.answers)?
    };
    let engine::desktop::Console { url, destination } =
        engine.console_link(&credentials, &region, args.service.as_deref())?;
    if args.print {
        let mut line = Zeroizing::new(url.expose_secret().to_owned());
        line.push('\n');
        return print_secret(line.as_bytes());
    }
    eprintln!(
        "credtray: opening the AWS console for session {:?} in your browser ({destination})",
        session.alias.as_str()
    );
    crate::browser::open_secret(&url).context("cannot open the browser")
}

/// `credtray env SESSION`: the variables for a shell, with a warning that they are plaintext.
pub(super) fn env(
    engine: &mut Engine,
    session: &str,
    format: EnvFormat,
    answers: Answers,
) -> anyhow::Result<()> {
    let session = engine.catalog()?.resolve(session)?.clone();
    let credentials = first_credentials(engine, &session, answers)?;
    let vars = static_vars(&credentials, session.region.as_str());
    let text = render(&vars, format)?;
    eprintln!(
        "credtray: these credentials are plaintext in your shell's environment and every process it starts (they expire {}); `credtray exec` serves them without that",
        crate::aws::rfc3339(credentials.expiration)
    );
    print_secret(text.as_bytes())
}

/// The variables in `format`, in one wiped buffer.
pub fn render(
    vars: &[(&str, Zeroizing<String>)],
    format: EnvFormat,
) -> anyhow::Result<Zeroizing<String>> {
    let mut out = Zeroizing::new(String::with_capacity(4096));
    if let EnvFormat::Json = format {
        /// The variables as one JSON object, in their order, borrowing the values.
        struct Object<'a>(&'a [(&'a str, Zeroizing<String>)]);
        impl serde::Serialize for Object<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(k, v)| (k, v.as_str())))
            }
        }
        // Sized up front: a buffer that grows leaves its old copy unwiped.
        let mut text = Zeroizing::new(Vec::with_capacity(16 * 1024));
        serde_json::to_writer_pretty(&mut *text, &Object(vars))?;
        out.push_str(std::str::from_utf8(&text)?);
        out.push('\n');
        return Ok(out);
    }
    for (name, value) in vars {
        let line = match format {
            EnvFormat::Sh => format!("export {name}='{}'\n", value.replace('\'', r"'\''")),
            EnvFormat::Fish => format!(
                "set -gx {name} '{}';\n",
                value.replace('\\', r"\\").replace('\'', r"\'")
            ),
            EnvFormat::Powershell => format!("$Env:{name} = '{}'\n", value.replace('\'', "''")),
            EnvFormat::Dotenv => format!(
                "{name}=\"{}\"\n",
                value.replace('\\', r"\\").replace('"', "\\\"")
            ),
            EnvFormat::Json => unreachable!("handled above"),
        };
        let line = Zeroizing::new(line);
        out.push_str(&line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vec<(&'static str, Zeroizing<String>)> {
        vec![
            ("AWS_ACCESS_KEY_ID", Zeroizing::new("ASIA1".to_owned())),
            (
                "AWS_SECRET_ACCESS_KEY",
                Zeroizing::new("a'b\"c\\d$e".to_owned()),
            ),
        ]
    }

    #[test]
    fn each_format_quotes_what_its_reader_would_misread() {
        let sh = render(&vars(), EnvFormat::Sh).unwrap();
        assert_eq!(
            sh.as_str(),
            "export AWS_ACCESS_KEY_ID='ASIA1'\nexport AWS_SECRET_ACCESS_KEY='a'\\''b\"c\\d$e'\n"
        );
        let fish = render(&vars(), EnvFormat::Fish).unwrap();
        assert!(
            fish.contains("set -gx AWS_SECRET_ACCESS_KEY 'a\\'b\"c\\\\d$e';"),
            "{}",
            fish.as_str()
        );
        let ps = render(&vars(), EnvFormat::Powershell).unwrap();
        assert!(
            ps.contains("$Env:AWS_SECRET_ACCESS_KEY = 'a''b\"c\\d$e'"),
            "{}",
            ps.as_str()
        );
        let dotenv = render(&vars(), EnvFormat::Dotenv).unwrap();
        assert!(
            dotenv.contains("AWS_SECRET_ACCESS_KEY=\"a'b\\\"c\\\\d$e\""),
            "{}",
            dotenv.as_str()
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&vars(), EnvFormat::Json).unwrap()).unwrap();
        assert_eq!(json["AWS_SECRET_ACCESS_KEY"], "a'b\"c\\d$e");
    }
}
