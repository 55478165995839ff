//! `credtray-login --saml-login <session id>`: the login window of a federated session, run as a
//! child process (the contract is `credtray::saml_login`). A hidden window loads the session's
//! SAML 2.0 URL with the IdP cookies of that URL; it shows itself when the page waits for the
//! person, or after a few seconds; a page with a live IdP login posts its SAMLResponse without
//! ever showing. The injected script (`saml_hook.js`) takes the SAMLResponse before the
//! request leaves the machine; the navigation handler is the safety net (an ACS navigation is
//! cancelled and the page's SAMLResponse field read back). The assertion goes to standard
//! output, nowhere else; how the login ended is the exit code, and why, on standard output too
//! (after [`saml_login::REASON`]).
//!
//! The pages are not trusted. The window loads only `https` (plain `http` only on this machine,
//! [`saml_login::may_load`]), in its view, its frames and the windows pages open; it acts only
//! on messages of the main frame's document (`saml_sender.js` holds this run's nonce, see
//! there for why a nonce); a navigation to AWS that document did not announce (a frame's)
//! ends nothing, and a new window opens in the view only on the main view's origin; whatever
//! a page says is escaped before it is logged
//! ([`saml_login::loggable`]), so it can't forge a line of credtray's own.

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

use credtray::net::Policy;
use credtray::saml_login::{self, Exit};
use credtray::session::{SamlUrl, SessionId};

#[cfg(target_os = "linux")]
use crate::network;

/// The capture script, injected into every frame at document start.
const HOOK: &str = include_str!("saml_hook.js");
/// The main frame's sender, injected there alone, before [`HOOK`]; `@NONCE@` is replaced by
/// this run's nonce.
const SENDER: &str = include_str!("saml_sender.js");
/// How many ignored page messages are logged (a page could post them in a loop, and the parent
/// keeps standard error in memory).
const LOGGED_IGNORED: u32 = 10;
/// How long the window stays hidden when the page neither posts nor waits for input.
const SHOW_AFTER: Duration = Duration::from_secs(3);
/// How long a hidden-only login (a rotation) waits for a silent answer.
const HIDDEN_FOR: Duration = Duration::from_secs(30);
/// How long a read-back after a cancelled ACS navigation may take.
const READBACK_WITHIN: Duration = Duration::from_secs(2);
const TICK: Duration = Duration::from_millis(200);

/// What the login needs to know before a window opens: all of it given by the engine's
/// process (`saml_login::Login`), so the window reads no store and no setting itself (the one
/// door, see ARCHITECTURE.md), but for the network policy every process reads for itself
/// (`credtray::net`: the proxy's password can't travel on a command line).
struct Target {
    alias: String,
    url: SamlUrl,
    /// WebKit's data directory for this identity provider: the engine names it (and alone
    /// removes it, Forget IdP login); WebKit keeps the cookies in it.
    cookies: PathBuf,
    timeout: Duration,
    hidden_only: bool,
}

impl Target {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let usage = "usage: credtray-login --saml-login <session id> --alias <alias> --url <SAML 2.0 URL> --timeout <seconds> --cookies <directory> [--hidden-only]";
        let mut args = args.iter();
        // The session's id comes first, for the logs and the process list.
        let _: SessionId = args
            .next()
            .context(usage)?
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}; {usage}"))?;
        let (mut alias, mut url, mut timeout, mut cookies) = (None, None, None, None);
        let mut hidden_only = false;
        while let Some(arg) = args.next() {
            let mut value = || args.next().context(usage);
            match arg.as_str() {
                "--alias" => alias = Some(value()?.clone()),
                "--url" => url = Some(value()?.parse::<SamlUrl>()?),
                "--timeout" => {
                    let seconds: u64 = value()?.parse().context(usage)?;
                    timeout = Some(Duration::from_secs(seconds));
                }
                "--cookies" => cookies = Some(PathBuf::from(value()?)),
                "--hidden-only" => hidden_only = true,
                other => anyhow::bail!("unknown option {other:?}; {usage}"),
            }
        }
        let target = Self {
            alias: alias.context(usage)?,
            url: url.context(usage)?,
            cookies: cookies.context(usage)?,
            timeout: timeout.context(usage)?,
            hidden_only,
        };
        // Private before WebKit writes a cookie into it.
        credtray::atomic::create_dir(&target.cookies, 0o700)
            .with_context(|| format!("cannot create {}", target.cookies.display()))?;
        #[cfg(unix)]
        std::fs::set_permissions(
            &target.cookies,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        Ok(target)
    }
}

/// What wakes the login's event loop.
enum Wake {
    /// A message posted to the IPC handler (untrusted: any frame can post one), with the URL
    /// the main view showed then.
    Page {
        shown: String,
        body: Zeroizing<String>,
    },
    /// A navigation to an AWS sign-in endpoint was cancelled, of the main frame or of any other
    /// (WebKit's policy decision doesn't say which).
    Blocked(String),
    /// A page asked for a new window: opened in this one instead, under the same scripts, if it
    /// is of the main view's origin (any frame may have asked).
    Open(String),
    /// A page could not load (the URL is wrong, the network is down): said at once instead of
    /// waiting for the timeout behind an error page. (WebKitGTK's signals only: Linux.)
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    LoadFailed(String, String),
    /// The network refused the login, in this sentence: the proxy refused its credentials, or
    /// a certificate that only the configured CA bundle would vouch for. (Linux only.)
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Refused(String),
    Tick,
}

/// A message of `saml_sender.js`.
#[derive(serde::Deserialize)]
struct Message {
    /// This run's nonce: only the main frame's sender has it.
    #[serde(default)]
    nonce: Zeroizing<String>,
    kind: String,
    #[serde(default)]
    via: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    saml: Zeroizing<String>,
}

/// Runs the login; returns only when it fails before its window runs (the event loop ends the
/// process with the exit code).
pub fn run(args: &[String]) -> ExitCode {
    let mut out = match keep_stdout() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("credtray-login: cannot set standard output aside: {e}");
            return Exit::Failed.into();
        }
    };
    match Target::parse(args).and_then(|target| Ok((target, read_policy()?))) {
        Ok((target, policy)) => window(target, &policy, out),
        Err(e) => said(
            &mut out,
            Exit::Failed,
            &credtray::error_sentence(e.as_ref()),
        ),
    }
}

/// The process's network policy, read before any page loads (the settings, the proxy's
/// password from the keychain, the CA bundle, the environment), like every other `main`'s; one
/// that can't be used is the login's error.
fn read_policy() -> anyhow::Result<std::sync::Arc<Policy>> {
    credtray::cli::parts()?;
    Ok(credtray::net::policy()?)
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

/// Says why the login ended without an assertion: on the kept standard output after
/// [`saml_login::REASON`] (the parent's reason, which nothing else can write) and on standard
/// error (for a person running it).
fn say(out: &mut dyn Write, reason: &str) {
    eprintln!("credtray-login: {reason}");
    let _ = writeln!(out, "{}{reason}", saml_login::REASON).and_then(|()| out.flush());
}

fn said(out: &mut dyn Write, exit: Exit, reason: &str) -> ExitCode {
    say(out, reason);
    exit.into()
}

fn window(target: Target, policy: &Policy, mut out: impl Write + 'static) -> ExitCode {
    let hidden_only = target.hidden_only;
    let event_loop = EventLoopBuilder::<Wake>::with_user_event().build();
    let mut context = WebContext::new(Some(target.cookies.clone()));
    let nonce = match credtray::loopback::random_token() {
        Ok(nonce) => nonce,
        Err(e) => return said(&mut out, Exit::Failed, &format!("cannot draw a nonce: {e}")),
    };
    let (window, webview) = match open(&target, policy, &event_loop, &mut context, &nonce) {
        Ok(opened) => opened,
        Err(e) => {
            return said(
                &mut out,
                Exit::Failed,
                &credtray::error_sentence(e.as_ref()),
            );
        }
    };
    tick(event_loop.create_proxy());

    let started = Instant::now();
    let mut blocked: Option<Instant> = None;
    // Whether the main frame's document said it sends a form to AWS without a SAMLResponse
    // (`fieldless`): only then is a read-back's "none" the login's end. WebKit's navigation
    // policy names no frame, so a cancelled navigation to AWS may be a frame's of another
    // origin (an ad's form, window.open, its click sending the main frame there), and on its
    // own it ends nothing: the real assertion may still come, or the timeout ends the login.
    let mut announced = false;
    let mut ignored = 0u32;
    // Set once: what is already queued behind the end (another message, a tick) must not write
    // a second assertion or a reason after the first.
    let mut ended: Option<Exit> = None;
    // A page that can't load names the proxy it went through, if any (one that can't be
    // reached looks like a page that can't).
    let route = policy.route().clone();
    tracing::info!(
        hidden_only,
        timeout_s = target.timeout.as_secs(),
        "SAML login window loading"
    );
    event_loop.run(move |event, _, control_flow| {
        if let Some(exit) = ended {
            *control_flow = ControlFlow::ExitWithCode(exit.code());
            return;
        }
        *control_flow = ControlFlow::Wait;
        let mut end = |out: &mut dyn Write, exit: Exit, reason: Option<&str>| {
            if let Some(reason) = reason {
                say(out, reason);
            }
            tracing::info!(?exit, elapsed_ms = started.elapsed().as_millis() as u64, "SAML login ended");
            ended = Some(exit);
            *control_flow = ControlFlow::ExitWithCode(exit.code());
        };
        match event {
            Event::NewEvents(StartCause::Init) => {}
            Event::WindowEvent {
                event: WindowEvent::CloseRequested,
                ..
            } => end(&mut out, Exit::Cancelled, Some("the login window was closed")),
            Event::UserEvent(Wake::Page { shown, body }) => {
                let message = match authentic(&body, &nonce, &shown) {
                    Ok(message) => message,
                    Err(why) => {
                        ignored += 1;
                        if ignored <= LOGGED_IGNORED {
                            tracing::warn!("ignoring a page message: {why}");
                        }
                        return;
                    }
                };
                let via = saml_login::loggable(&message.via);
                match message.kind.as_str() {
                    "saml" => match assertion(&message) {
                        Some(saml) => {
                            tracing::info!(%via, "captured the SAMLResponse before it left");
                            match out.write_all(saml.as_bytes()).and_then(|()| out.flush()) {
                                Ok(()) => end(&mut out, Exit::Captured, None),
                                // Said on standard error only: standard output may hold a
                                // part of the assertion, which the parent must not mistake
                                // for a reason (it reads none there that does not begin it).
                                Err(e) => {
                                    eprintln!("credtray-login: cannot hand the assertion over: {e}");
                                    end(&mut out, Exit::Failed, None);
                                }
                            }
                        }
                        None => tracing::warn!(%via, "ignoring a SAMLResponse that is not for AWS or not base64"),
                    },
                    "input" if hidden_only => end(&mut out, Exit::NeedsUser, Some("the identity provider wants you to log in")),
                    "input" => show(&window),
                    "fieldless" => {
                        tracing::debug!(%via, "the page sends a form to AWS without a SAMLResponse field");
                        announced = true;
                    }
                    // Only the read-back says "none", and only after a navigation was cancelled.
                    "none" if blocked.is_some() && announced => end(
                        &mut out,
                        Exit::Failed,
                        Some("the identity provider sent the login to AWS in a way credtray can't read (the page has no SAMLResponse field)"),
                    ),
                    "none" if blocked.is_some() => {
                        tracing::warn!("a navigation to AWS's sign-in that the page did not announce (a frame's, perhaps) found no SAMLResponse on the page: the login goes on");
                        blocked = None;
                    }
                    other => tracing::debug!(kind = %saml_login::loggable(other), "ignoring a page message of no use now"),
                }
            }
            Event::UserEvent(Wake::Blocked(url)) => {
                tracing::warn!(url = %saml_login::loggable(&url), "cancelled a navigation to AWS's sign-in: reading the SAMLResponse back");
                blocked.get_or_insert_with(Instant::now);
                if let Err(e) = webview.evaluate_script(&readback(&url)) {
                    tracing::warn!(error = %e, "could not read the SAMLResponse back");
                }
            }
            Event::UserEvent(Wake::Open(url)) => {
                let shown = webview.url().unwrap_or_default();
                if !same_origin(&url, &shown) {
                    tracing::warn!(
                        url = %saml_login::loggable(&url),
                        shown = %saml_login::loggable(&shown),
                        "refused a new window of another origin than the page's (a frame may have asked for it, and in the main view its page would hold credtray's sender)"
                    );
                } else if let Err(e) = webview.load_url(&url) {
                    tracing::warn!(error = %e, "could not open a page the identity provider asked for");
                }
            }
            Event::UserEvent(Wake::Refused(reason)) => end(&mut out, Exit::Failed, Some(&reason)),
            Event::UserEvent(Wake::LoadFailed(url, error)) => end(
                &mut out,
                Exit::Failed,
                Some(&format!(
                    "cannot load the identity provider's page {}{}: {}",
                    saml_login::loggable(&url),
                    through(&route, &url),
                    saml_login::loggable(&error)
                )),
            ),
            Event::UserEvent(Wake::Tick) => {
                let elapsed = started.elapsed();
                if blocked.is_some_and(|b| b.elapsed() > READBACK_WITHIN) {
                    if announced {
                        end(&mut out, Exit::Failed, Some("the identity provider sent the login to AWS in a way credtray can't read"));
                        return;
                    }
                    tracing::warn!("no read-back after a navigation to AWS's sign-in that the page did not announce: the login goes on");
                    blocked = None;
                }
                if elapsed > target.timeout {
                    end(
                        &mut out,
                        Exit::TimedOut,
                        Some(&format!("the login did not finish within {} seconds", target.timeout.as_secs())),
                    );
                } else if hidden_only && elapsed > HIDDEN_FOR {
                    end(&mut out, Exit::NeedsUser, Some("the identity provider did not answer without you"));
                } else if !hidden_only && elapsed > SHOW_AFTER && !window.is_visible() {
                    show(&window);
                }
            }
            _ => {}
        }
    })
}

/// The hidden window and its web view on the target's URL, with the scripts and handlers that
/// keep the page in bounds.
fn open(
    target: &Target,
    policy: &Policy,
    event_loop: &tao::event_loop::EventLoop<Wake>,
    context: &mut WebContext,
    nonce: &str,
) -> anyhow::Result<(tao::window::Window, wry::WebView)> {
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
        .build(event_loop)
        .context("cannot create the login window")?;
    let sender = SENDER.replace("@NONCE@", &serde_json::to_string(nonce)?);
    let (ipc, guard, opener) = (
        event_loop.create_proxy(),
        event_loop.create_proxy(),
        event_loop.create_proxy(),
    );
    // No URL yet: the first load waits for the proxy settings (below).
    let builder = WebViewBuilder::new_with_web_context(context)
        // The sender first: the hook, which runs in every frame, finds it in the main frame.
        .with_initialization_script_for_main_only(sender, true)
        .with_initialization_script_for_main_only(HOOK, false)
        .with_ipc_handler(move |request| {
            let shown = request.uri().to_string();
            let body = Zeroizing::new(request.into_body());
            let _ = ipc.send_event(Wake::Page { shown, body });
        })
        // Every navigation, of the view and of its frames (WebKit asks for both).
        .with_navigation_handler(move |url| {
            if saml_login::is_aws_acs(&url) {
                let _ = guard.send_event(Wake::Blocked(url));
                false
            } else if saml_login::may_load(&url) {
                true
            } else {
                refused(&url, "a navigation");
                false
            }
        })
        // On Linux, [`decide_new_windows_early`] decides first and lets none reach this.
        .with_new_window_req_handler(move |url, _| {
            new_window(url, &opener);
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
    {
        use wry::WebViewExtUnix;
        report_load_failures(&webview, event_loop.create_proxy());
        decide_new_windows_early(&webview, event_loop.create_proxy());
        let view = webview.webview();
        network::apply(&view, &network::proxying(policy.route()))
            .map_err(|why| anyhow::anyhow!("cannot give the login window its proxy: {why}"))?;
        let refused = event_loop.create_proxy();
        network::answer_the_proxy(&view, policy.route().clone(), move |reason| {
            let _ = refused.send_event(Wake::Refused(reason));
        });
        let refused = event_loop.create_proxy();
        network::refuse_untrusted(&view, policy.bundle().cloned(), move |reason| {
            let _ = refused.send_event(Wake::Refused(reason));
        });
    }
    // WKWebView (macOS) and WebView2 (Windows) take the system's proxy and trust: the
    // policy's proxy is not given to them yet.
    #[cfg(not(target_os = "linux"))]
    let _ = policy;
    webview
        .load_url(target.url.as_str())
        .context("cannot load the identity provider's page")?;
    Ok((window, webview))
}

/// ` through the proxy …` when the route sends `url` through one (its password masked).
fn through(route: &credtray::net::Route, url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|uri| route.proxy_for(&uri).cloned())
        .map_or_else(String::new, |p| {
            format!(" through the proxy {} (from {})", p.shown(), p.from)
        })
}

fn refused(url: &str, what: &str) {
    tracing::warn!(
        url = %saml_login::loggable(url),
        "refused {what}: the login window loads only https, and plain http only on this machine"
    );
}

/// A page message the window may act on: sent by the main frame's document (it carries this
/// run's nonce, which only the main frame's sender holds) while the main view shows a page it
/// may load. Else why not, fit for the log (escaped, and never the assertion).
fn authentic(body: &str, nonce: &str, shown: &str) -> Result<Message, String> {
    let message: Message =
        serde_json::from_str(body).map_err(|_| "not credtray's (not its JSON)".to_owned())?;
    let what = || {
        format!(
            "kind \"{}\", via \"{}\"",
            saml_login::loggable(&message.kind),
            saml_login::loggable(&message.via)
        )
    };
    if message.nonce.as_bytes() != nonce.as_bytes() {
        return Err(format!(
            "not sent by the main frame's document ({}); a frame of another origin can't end the login",
            what()
        ));
    }
    if !saml_login::may_load(shown) {
        return Err(format!(
            "the main view shows {}, a page it may not load ({})",
            saml_login::loggable(shown),
            what()
        ));
    }
    Ok(message)
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

/// The script that reads a SAMLResponse field back after its form's navigation was cancelled
/// (run in the main frame, through its sender).
fn readback(url: &str) -> String {
    let url = serde_json::to_string(url).unwrap_or_else(|_| "\"\"".to_owned());
    format!(
        "(() => {{ const f = document.querySelector('input[name=\"SAMLResponse\"]'); \
         window.__credtray_send(f && f.value \
         ? {{ kind: 'saml', via: 'readback', url: {url}, saml: f.value }} : {{ kind: 'none' }}); }})()"
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

/// What becomes of a page's new window (one verdict, wherever it is asked): AWS's sign-in is
/// read back as a cancelled navigation; a page the window may load opens in this view instead
/// (under the same scripts and rules, and only if of the main view's origin, see [`Wake::Open`]),
/// never an empty one, which would only blank the identity provider's page; the rest is
/// refused.
fn new_window(url: String, proxy: &EventLoopProxy<Wake>) {
    if saml_login::is_aws_acs(&url) {
        let _ = proxy.send_event(Wake::Blocked(url));
    } else if saml_login::may_load(&url) && !url.starts_with("about:") {
        let _ = proxy.send_event(Wake::Open(url));
    } else {
        refused(&url, "a new window");
    }
}

/// Whether `url` is of the origin of `shown` (scheme, host and port): a page may open its own
/// origin's pages in the main view. A frame of another origin can still ask for one of the
/// main view's origin, so it gets none of its own pages there; an identity provider page
/// that redirects elsewhere is the rest (as when such a frame sends the main frame away,
/// see saml_sender.js).
fn same_origin(url: &str, shown: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(shown)) {
        (Ok(url), Ok(shown)) => url.origin().is_tuple() && url.origin() == shown.origin(),
        _ => false,
    }
}

/// Decides every new window at WebKit's policy decision ([`new_window`]) and refuses it
/// there: wry's new-window handler runs only once WebKit has said yes, and by then it has
/// already opened a connection to the URL (a preconnect), which a refusal must not let
/// happen.
#[cfg(target_os = "linux")]
fn decide_new_windows_early(webview: &wry::WebView, proxy: EventLoopProxy<Wake>) {
    use webkit2gtk::glib::Cast;
    use webkit2gtk::{
        NavigationPolicyDecision, NavigationPolicyDecisionExt, PolicyDecisionExt,
        PolicyDecisionType, URIRequestExt, WebViewExt,
    };
    use wry::WebViewExtUnix;
    webview
        .webview()
        .connect_decide_policy(move |_, decision, kind| {
            if kind != PolicyDecisionType::NewWindowAction {
                return false;
            }
            let url = decision
                .dynamic_cast_ref::<NavigationPolicyDecision>()
                .and_then(NavigationPolicyDecisionExt::navigation_action)
                .and_then(|action| action.request())
                .and_then(|request| request.uri())
                .map(|uri| uri.to_string())
                .unwrap_or_default();
            new_window(url, &proxy);
            decision.ignore();
            true
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
            nonce: Zeroizing::new(String::new()),
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
        let dir = tempfile::tempdir().unwrap();
        let cookies = dir.path().join("idp").join("abc");
        let cookies = cookies.to_str().unwrap();
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let given = [
            id.as_str(),
            "--alias",
            "Dev/Admin",
            "--url",
            "https://idp.example.com/x",
            "--timeout",
            "9",
            "--cookies",
            cookies,
        ];
        let t = Target::parse(&args(&[&given[..], &["--hidden-only"]].concat())).unwrap();
        assert!(t.hidden_only);
        assert_eq!(t.alias, "Dev/Admin");
        assert_eq!(t.timeout, Duration::from_secs(9));
        assert_eq!(t.url.as_str(), "https://idp.example.com/x");
        let mode = std::fs::metadata(cookies).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700,
            "made private"
        );
        assert!(!Target::parse(&args(&given)).unwrap().hidden_only);
        // Everything but --hidden-only is needed: the window reads nothing itself.
        for missing in [1, 3, 5, 7] {
            let mut short = given.to_vec();
            short.drain(missing..missing + 2);
            assert!(
                Target::parse(&args(&short)).is_err(),
                "without {}",
                given[missing]
            );
        }
        assert!(Target::parse(&args(&[&given[..], &["--bogus"]].concat())).is_err());
        assert!(Target::parse(&args(&["not-an-id"])).is_err());
        assert!(Target::parse(&args(&[])).is_err());
    }

    #[test]
    fn only_the_main_frames_sender_is_heard() {
        let shown = "https://idp.example.com/login";
        let body = |nonce: &str| {
            serde_json::json!({
                "nonce": nonce,
                "kind": "saml",
                "via": "x\ncredtray-login: forged",
                "url": "https://signin.aws.amazon.com/saml",
                "saml": "PHg+",
            })
            .to_string()
        };
        let message = authentic(&body("n0nce"), "n0nce", shown).unwrap();
        assert_eq!(message.kind, "saml");
        // No nonce, another nonce: another frame (or the page) posting on its own.
        for forged in [body("guess"), body(""), r#"{"kind":"input"}"#.to_owned()] {
            let why = authentic(&forged, "n0nce", shown).err().unwrap();
            assert!(
                why.contains("not sent by the main frame's document"),
                "{why}"
            );
            assert!(!why.contains('\n'), "{why}");
        }
        // The main view on a page it may not load: nothing it says counts.
        assert!(authentic(&body("n0nce"), "n0nce", "data:text/html,x").is_err());
        assert!(authentic("not json", "n0nce", shown).is_err());
    }

    #[test]
    fn the_sender_gets_the_nonce_as_a_string() {
        let nonce = "a\"b";
        let sender = SENDER.replace("@NONCE@", &serde_json::to_string(nonce).unwrap());
        assert!(sender.contains(r#"const nonce = "a\"b";"#), "{sender}");
    }

    #[test]
    fn only_the_main_views_origin_opens_in_it() {
        let shown = "http://127.0.0.1:8080/post?x=1";
        assert!(same_origin("http://127.0.0.1:8080/other", shown));
        for url in [
            "http://127.0.0.1:8081/forged",
            "https://127.0.0.1:8080/other",
            "http://localhost:8080/other",
            "about:blank",
            "not a url",
        ] {
            assert!(!same_origin(url, shown), "{url}");
        }
        assert!(!same_origin("http://127.0.0.1:8080/x", ""));
    }

    #[test]
    fn the_readback_quotes_the_url() {
        let script = readback("https://signin.aws.amazon.com/saml?a=\"b\"");
        assert!(script.contains(r#"url: "https://signin.aws.amazon.com/saml?a=\"b\"""#));
    }
}
