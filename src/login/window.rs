//! `credtray-login --saml-login <session id>`: the login window of a federated session, run as a
//! child process (the contract is `credtray::saml_login`). A hidden window loads the session's
//! SAML 2.0 URL with the IdP cookies of that URL; it shows itself when the page waits for the
//! person, or after a few seconds; a page with a live IdP login posts its SAMLResponse without
//! ever showing. The injected script (`saml_hook.js`) takes the SAMLResponse before the
//! request leaves the machine; the navigation handler is the safety net (an ACS navigation is
//! cancelled and the page's SAMLResponse field read back). The assertion goes to standard
//! output, nowhere else; how the login ended is the exit code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use tao::event::{Event, StartCause, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tao::window::WindowBuilder;
use wry::{NewWindowResponse, WebContext, WebViewBuilder};
use zeroize::Zeroizing;

use credtray::saml_login::{self, Exit};
use credtray::session::{SamlUrl, SessionId, SessionKind};
use credtray::store::Store;

/// The capture script, injected into every frame at document start.
const HOOK: &str = include_str!("saml_hook.js");
/// How long the window stays hidden when the page neither posts nor waits for input.
const SHOW_AFTER: Duration = Duration::from_secs(3);
/// How long a hidden-only login (a rotation) waits for a silent answer.
const HIDDEN_FOR: Duration = Duration::from_secs(30);
/// How long a read-back after a cancelled ACS navigation may take.
const READBACK_WITHIN: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(200);

/// What the login was asked for.
struct Options {
    session: SessionId,
    url: Option<SamlUrl>,
    hidden_only: bool,
    timeout: Option<Duration>,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let usage = "usage: credtray-login --saml-login <session id> [--url <SAML 2.0 URL>] [--hidden-only] [--timeout <seconds>]";
        let mut args = args.iter();
        let session = args
            .next()
            .context(usage)?
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}; {usage}"))?;
        let mut options = Self {
            session,
            url: None,
            hidden_only: false,
            timeout: None,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--url" => options.url = Some(args.next().context(usage)?.parse()?),
                "--hidden-only" => options.hidden_only = true,
                "--timeout" => {
                    let seconds: u64 = args.next().context(usage)?.parse().context(usage)?;
                    options.timeout = Some(Duration::from_secs(seconds));
                }
                other => anyhow::bail!("unknown option {other:?}; {usage}"),
            }
        }
        Ok(options)
    }
}

/// What the login needs to know before a window opens.
struct Target {
    alias: String,
    url: SamlUrl,
    cookies: PathBuf,
    timeout: Duration,
    hidden_only: bool,
}

impl Target {
    fn of(options: Options) -> anyhow::Result<Self> {
        let catalog = Store::from_env()?.load()?;
        let session = catalog
            .get(options.session)
            .with_context(|| format!("there is no session {}", options.session))?;
        let url = match (options.url, &session.kind) {
            (Some(url), _) => url,
            (None, SessionKind::IamRoleFederated { saml_url, .. }) => saml_url.clone(),
            (None, _) => anyhow::bail!(
                "session {:?} is not a federated session",
                session.alias.as_str()
            ),
        };
        let idp = saml_login::idp_dir().context("cannot find the data directory")?;
        let cookies = saml_login::cookie_dir(&idp, &url);
        credtray::atomic::create_dir(&cookies, 0o700)
            .with_context(|| format!("cannot create {}", cookies.display()))?;
        #[cfg(unix)]
        std::fs::set_permissions(
            &cookies,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        Ok(Self {
            alias: session.alias.to_string(),
            url,
            cookies,
            timeout: options
                .timeout
                .unwrap_or(catalog.settings.saml_login_timeout),
            hidden_only: options.hidden_only,
        })
    }
}

/// What wakes the login's event loop.
enum Wake {
    /// A message from the page's script (untrusted: any page can send one).
    Page(Zeroizing<String>),
    /// A navigation to an AWS sign-in endpoint was cancelled.
    Blocked(String),
    /// The page asked for a new window: opened in this one instead, under the same script.
    Open(String),
    /// A page could not load (the URL is wrong, the network is down): said at once instead of
    /// waiting for the timeout behind an error page.
    LoadFailed(String, String),
    Tick,
}

/// A message of `saml_hook.js`.
#[derive(serde::Deserialize)]
struct Message {
    kind: String,
    #[serde(default)]
    via: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    saml: Zeroizing<String>,
}

/// Runs the login; never returns (the event loop ends the process with the exit code).
pub fn run(args: &[String]) -> ExitCode {
    let out = match keep_stdout() {
        Ok(out) => out,
        Err(e) => return fail(&format!("cannot set standard output aside: {e}")),
    };
    let target = match Options::parse(args).and_then(Target::of) {
        Ok(target) => target,
        Err(e) => return fail(&format!("{e:#}")),
    };
    match window(target, out) {
        Ok(never) => match never {},
        Err(e) => fail(&format!("{e:#}")),
    }
}

/// The assertion's way out: standard output as given, set aside (close-on-exec); fd 1 itself
/// then points to standard error, so nothing WebKit's processes print can mix into the pipe,
/// and none of them holds it open after this process ends.
#[cfg(unix)]
fn keep_stdout() -> std::io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    let kept = rustix::io::fcntl_dupfd_cloexec(std::io::stdout().as_fd(), 3)?;
    rustix::stdio::dup2_stdout(std::io::stderr().as_fd())?;
    Ok(std::fs::File::from(kept))
}

#[cfg(not(unix))]
fn keep_stdout() -> std::io::Result<std::io::Stdout> {
    Ok(std::io::stdout())
}

fn fail(reason: &str) -> ExitCode {
    eprintln!("credtray-login: {reason}");
    ExitCode::from(1)
}

fn window(
    target: Target,
    mut out: impl Write + 'static,
) -> anyhow::Result<std::convert::Infallible> {
    let hidden_only = target.hidden_only;
    let event_loop = EventLoopBuilder::<Wake>::with_user_event().build();
    let host = url::Url::parse(target.url.as_str())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let window = WindowBuilder::new()
        .with_title(format!(
            "credtray — log in to {host} for session {}",
            target.alias
        ))
        .with_inner_size(tao::dpi::LogicalSize::new(900.0, 720.0))
        .with_visible(false)
        .build(&event_loop)
        .context("cannot create the login window")?;
    let mut context = WebContext::new(Some(target.cookies.clone()));
    let (ipc, guard, opener) = (
        event_loop.create_proxy(),
        event_loop.create_proxy(),
        event_loop.create_proxy(),
    );
    let builder = WebViewBuilder::new_with_web_context(&mut context)
        .with_url(target.url.as_str())
        .with_initialization_script_for_main_only(HOOK, false)
        .with_ipc_handler(move |request| {
            let _ = ipc.send_event(Wake::Page(Zeroizing::new(request.into_body())));
        })
        .with_navigation_handler(move |url| {
            if saml_login::is_aws_acs(&url) {
                let _ = guard.send_event(Wake::Blocked(url));
                false
            } else {
                true
            }
        })
        .with_new_window_req_handler(move |url, _| {
            if !saml_login::is_aws_acs(&url) {
                let _ = opener.send_event(Wake::Open(url));
            }
            NewWindowResponse::Deny
        });
    #[cfg(target_os = "linux")]
    let webview = {
        use tao::platform::unix::WindowExtUnix;
        use wry::WebViewBuilderExtUnix;
        let vbox = window
            .default_vbox()
            .context("the login window has no container")?;
        builder.build_gtk(vbox)
    };
    #[cfg(not(target_os = "linux"))]
    let webview = builder.build(&window);
    let webview = webview.context("cannot create the web view")?;
    #[cfg(target_os = "linux")]
    report_load_failures(&webview, event_loop.create_proxy());
    tick(event_loop.create_proxy());

    let started = Instant::now();
    let mut blocked: Option<Instant> = None;
    tracing::info!(
        hidden_only,
        timeout_s = target.timeout.as_secs(),
        "SAML login window loading"
    );
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        let end = |exit: Exit, control_flow: &mut ControlFlow| {
            tracing::info!(?exit, elapsed_ms = started.elapsed().as_millis() as u64, "SAML login ended");
            *control_flow = ControlFlow::ExitWithCode(exit.code());
        };
        match event {
            Event::NewEvents(StartCause::Init) => {}
            Event::WindowEvent {
                event: WindowEvent::CloseRequested,
                ..
            } => {
                eprintln!("credtray-login: the login window was closed");
                end(Exit::Cancelled, control_flow);
            }
            Event::UserEvent(Wake::Page(body)) => {
                let Ok(message) = serde_json::from_str::<Message>(&body) else {
                    tracing::debug!("ignoring a page message that is not credtray's");
                    return;
                };
                match message.kind.as_str() {
                    "saml" => match assertion(&message) {
                        Some(saml) => {
                            tracing::info!(via = %message.via, "captured the SAMLResponse before it left");
                            let written = out.write_all(saml.as_bytes()).and_then(|()| out.flush());
                            match written {
                                Ok(()) => end(Exit::Captured, control_flow),
                                Err(e) => {
                                    eprintln!("credtray-login: cannot hand the assertion over: {e}");
                                    end(Exit::Failed, control_flow);
                                }
                            }
                        }
                        None => tracing::warn!(via = %message.via, "ignoring a SAMLResponse that is not for AWS or not base64"),
                    },
                    "input" if hidden_only => {
                        eprintln!("credtray-login: the identity provider wants you to log in");
                        end(Exit::NeedsUser, control_flow);
                    }
                    "input" => show(&window),
                    "none" => {
                        eprintln!(
                            "credtray-tray: the identity provider sent the login to AWS in a way credtray can't read (the page has no SAMLResponse field)"
                        );
                        end(Exit::Failed, control_flow);
                    }
                    _ => {}
                }
            }
            Event::UserEvent(Wake::Blocked(url)) => {
                tracing::warn!(%url, "cancelled a navigation to AWS's sign-in: reading the SAMLResponse back");
                blocked.get_or_insert_with(Instant::now);
                if let Err(e) = webview.evaluate_script(&readback(&url)) {
                    tracing::warn!(error = %e, "could not read the SAMLResponse back");
                }
            }
            Event::UserEvent(Wake::Open(url)) => {
                if let Err(e) = webview.load_url(&url) {
                    tracing::warn!(error = %e, "could not open a page the identity provider asked for");
                }
            }
            Event::UserEvent(Wake::LoadFailed(url, error)) => {
                eprintln!("credtray-login: cannot load the identity provider's page {url}: {error}");
                end(Exit::Failed, control_flow);
            }
            Event::UserEvent(Wake::Tick) => {
                let elapsed = started.elapsed();
                if blocked.is_some_and(|b| b.elapsed() > READBACK_WITHIN) {
                    eprintln!("credtray-login: the identity provider sent the login to AWS in a way credtray can't read");
                    end(Exit::Failed, control_flow);
                } else if elapsed > target.timeout {
                    eprintln!("credtray-login: the login did not finish within {} seconds", target.timeout.as_secs());
                    end(Exit::TimedOut, control_flow);
                } else if hidden_only && elapsed > HIDDEN_FOR {
                    eprintln!("credtray-login: the identity provider did not answer without you");
                    end(Exit::NeedsUser, control_flow);
                } else if !hidden_only && elapsed > SHOW_AFTER && !window.is_visible() {
                    show(&window);
                }
            }
            _ => {}
        }
    })
}

fn show(window: &tao::window::Window) {
    if !window.is_visible() {
        tracing::info!("the identity provider needs the person: showing the login window");
        window.set_visible(true);
        window.set_focus();
    }
}

/// The assertion of a `saml` message, if it is one for AWS (checked here again: the page's
/// word is not taken for it) and shaped as base64.
fn assertion(message: &Message) -> Option<&str> {
    let saml = message.saml.trim();
    let base64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '\r' | '\n');
    (saml_login::is_aws_acs(&message.url) && !saml.is_empty() && saml.chars().all(base64))
        .then_some(saml)
}

/// The script that reads a SAMLResponse field back after its form's navigation was cancelled.
fn readback(url: &str) -> String {
    let url = serde_json::to_string(url).unwrap_or_else(|_| "\"\"".to_owned());
    format!(
        "(() => {{ const f = document.querySelector('input[name=\"SAMLResponse\"]'); \
         window.webkit.messageHandlers.ipc.postMessage(JSON.stringify(f && f.value \
         ? {{ kind: 'saml', via: 'readback', url: {url}, saml: f.value }} : {{ kind: 'none' }})); }})()"
    )
}

/// Sends [`Wake::LoadFailed`] for a page that can't load; not for a load cancelled on purpose
/// (an ACS navigation refused, a page replaced by the next one).
#[cfg(target_os = "linux")]
fn report_load_failures(webview: &wry::WebView, proxy: EventLoopProxy<Wake>) {
    use webkit2gtk::{NetworkError, PolicyError, WebViewExt};
    use wry::WebViewExtUnix;
    webview
        .webview()
        .connect_load_failed(move |_, _, url, error| {
            let on_purpose = error.kind::<PolicyError>()
                == Some(PolicyError::FrameLoadInterruptedByPolicyChange)
                || error.kind::<NetworkError>() == Some(NetworkError::Cancelled);
            if !on_purpose {
                let _ =
                    proxy.send_event(Wake::LoadFailed(url.to_owned(), error.message().to_owned()));
            }
            false
        });
}

/// Wakes the loop every [`TICK`] (tao's `WaitUntil` arms no timer on Linux).
fn tick(proxy: EventLoopProxy<Wake>) {
    std::thread::spawn(move || {
        while proxy.send_event(Wake::Tick).is_ok() {
            std::thread::sleep(TICK);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(url: &str, saml: &str) -> Message {
        Message {
            kind: "saml".to_owned(),
            via: "test".to_owned(),
            url: url.to_owned(),
            saml: Zeroizing::new(saml.to_owned()),
        }
    }

    #[test]
    fn only_base64_bound_for_aws_is_taken() {
        let aws = "https://signin.aws.amazon.com/saml";
        assert_eq!(assertion(&message(aws, " PHg+/w== ")), Some("PHg+/w=="));
        assert_eq!(
            assertion(&message("https://evil.example/saml", "PHg=")),
            None
        );
        assert_eq!(assertion(&message(aws, "<xml/>")), None);
        assert_eq!(assertion(&message(aws, "")), None);
    }

    #[test]
    fn options_parse_and_refuse_what_they_do_not_know() {
        let id = SessionId::new().to_string();
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = Options::parse(&args(&[
            &id,
            "--hidden-only",
            "--timeout",
            "9",
            "--url",
            "https://idp.example.com/x",
        ]))
        .unwrap();
        assert!(o.hidden_only);
        assert_eq!(o.timeout, Some(Duration::from_secs(9)));
        assert_eq!(o.url.unwrap().as_str(), "https://idp.example.com/x");
        assert!(Options::parse(&args(&[&id, "--bogus"])).is_err());
        assert!(Options::parse(&args(&["not-an-id"])).is_err());
        assert!(Options::parse(&args(&[])).is_err());
    }

    #[test]
    fn the_readback_quotes_the_url() {
        let script = readback("https://signin.aws.amazon.com/saml?a=\"b\"");
        assert!(script.contains(r#"url: "https://signin.aws.amazon.com/saml?a=\"b\"""#));
    }
}
