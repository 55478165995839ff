//! The engine's thread: it owns the engine, runs the commands the menu sends (every change
//! the tray makes, sessions or not: the autostart entry, the IdP cookies, the import offer's
//! marker, goes through it), watches the store (so CLI changes reach the menu within a
//! second) and the autostart entry, rotates credentials on a timer, and shows notifications. The GUI thread never waits for it; it talks back through the event
//! loop proxy. When the engine needs an MFA code or a SAML assertion, it asks the GUI thread
//! for a dialog and waits for the answer. A sync tells the menu how far it got, and marks its
//! apply, which Quit waits for ([`Applying`]).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use tao::event_loop::EventLoopProxy;

use super::UserEvent;
use credtray::awsfiles;
use credtray::engine::{
    self, Chain, Engine, MfaAsk, MfaNotice, NoAssertion, Prompt, ProposedKeys, SamlLogin,
    SyncPhase, SyncProgress, SyncReport,
};
use credtray::saml_login;
use credtray::session::{
    Edit, IamUserKeys, IntegrationEdit, IntegrationId, MfaCode, MfaDevice, NewIntegration,
    NewSession, Session, SessionId,
};

/// How often the store is looked at for changes made by other processes.
const WATCH_EVERY: Duration = Duration::from_millis(400);
/// How often active sessions are checked for credentials about to expire.
const ROTATE_EVERY: Duration = Duration::from_secs(60);
/// How long a dialog may stay open before the engine gives up on the answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(600);
/// The toast's title when credentials sit in a file others can read.
const READABLE_TITLE: &str = "Others can read your AWS credentials";
/// Within a phase of a sync, how often the menu hears how far it got: each time it rebuilds
/// the whole menu (2,000 sessions' worth of nodes), so a few times a second is what a person
/// can read and all it should cost.
const TELL_EVERY: Duration = Duration::from_millis(250);

/// What the menu asks the engine to do.
pub enum Command {
    Start(SessionId),
    Stop(SessionId),
    StopAll,
    Test(SessionId),
    /// A dry run of an edit not saved (Edit session…'s Test): the result's sentence goes back
    /// to the form, and to a toast.
    TestEdit(SessionId, Box<Edit>, std::sync::mpsc::Sender<String>),
    Console(SessionId),
    Edit(SessionId, Box<Edit>),
    Chain {
        assumer: SessionId,
        chain: Chain,
        start: bool,
    },
    Add(Box<NewSession>, Option<IamUserKeys>),
    Delete(SessionId),
    Login(IntegrationId),
    Logout(IntegrationId),
    Sync(IntegrationId),
    AddIntegration(NewIntegration),
    EditIntegration(IntegrationId, IntegrationEdit),
    DeleteIntegration(IntegrationId),
    /// Offer to import `~/.aws`: on a first run once (`asked: false`), or from the first-run
    /// menu's Import item, which also says when there is nothing to import.
    OfferImport {
        asked: bool,
    },
    /// The person answered the import offer: it is remembered either way, and if `accepted`
    /// the import runs (`credtray import aws-config`), ending with a toast.
    ImportOffered {
        accepted: bool,
    },
    /// Start at login on or off: the engine writes or removes the autostart entry.
    SetStartAtLogin(bool),
    /// Network… saved: the settings and what becomes of the proxy's password.
    SetNetwork(Box<credtray::net::Settings>, engine::network::Password),
    /// Forget IdP login (the menu's dialog asked already): the engine removes the cookies.
    ForgetLogin(SessionId),
    Pin(SessionId, bool),
    Quit,
}

/// What the engine asks the person, through a dialog on the GUI thread.
#[derive(Debug, Clone)]
pub enum Question {
    MfaCode {
        alias: String,
        device: String,
        /// Why the person is asked (again): shown on the form as its error line.
        note: Option<String>,
    },
    TakeOver {
        alias: String,
        message: String,
    },
    /// Deleting the session would destroy the only copy of the long-term keys `import
    /// --move-keys` took off the disk: their section is gone.
    DiscardKeys {
        alias: String,
        message: String,
    },
    /// A device login is waiting for approval in the browser: shown until `finished` is set
    /// (the dialog then closes by itself); cancelling it cancels the login.
    LoginCode {
        integration: String,
        code: String,
        url: String,
        finished: Arc<AtomicBool>,
    },
    /// The file keychain's passphrase (`new`: none is set yet, so it is chosen and typed
    /// twice; `retry`: the last one was wrong).
    Passphrase {
        path: String,
        new: bool,
        retry: bool,
    },
}

/// What the person answered: a secret typed into a dialog (an MFA code, a SAML assertion),
/// or a yes to a question that asks for nothing more.
pub enum Answer {
    Secret(SecretString),
    Yes,
}

pub fn run(
    mut engine: Engine,
    proxy: EventLoopProxy<UserEvent>,
    commands: Receiver<Command>,
    quitting: Arc<AtomicBool>,
    applying: Arc<Applying>,
    shown_start_at_login: Arc<AtomicBool>,
) {
    // State changes (a session starting) reach the menu as they happen, not only at the end.
    let events = proxy.clone();
    engine.on_event(move |event| {
        let engine::Event::StateChanged { id, state } = event;
        let _ = events.send_event(UserEvent::State(*id, state.clone()));
    });
    let mut worker = Worker {
        proxy,
        last_seen: None,
        failed_rotation: Vec::new(),
        quitting,
        applying,
        warned_readable: false,
        shown_start_at_login,
    };
    worker.send_catalog(&engine);
    let mut last_rotation = Instant::now();
    loop {
        match commands.recv_timeout(WATCH_EVERY) {
            Ok(Command::Quit) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(command) => {
                worker.handle(&mut engine, command);
                worker.send_catalog(&engine);
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if worker.store_changed(&engine) {
            worker.send_catalog(&engine);
        }
        worker.watch_start_at_login(&engine);
        if last_rotation.elapsed() >= ROTATE_EVERY {
            last_rotation = Instant::now();
            worker.rotate(&mut engine);
        }
    }
}

struct Worker {
    proxy: EventLoopProxy<UserEvent>,
    last_seen: Option<(SystemTime, u64)>,
    /// Sessions whose refresh failed and were notified about, so it is said once.
    failed_rotation: Vec<SessionId>,
    /// Set by the GUI when the person quits: a question still waiting is given up, a sync
    /// still listing is cancelled.
    quitting: Arc<AtomicBool>,
    /// Whether a sync is applying what it listed, which Quit waits for.
    applying: Arc<Applying>,
    /// Whether the credentials file being readable by others was toasted (once per run: the
    /// tray keeps the file's mode, so saying it at every write would only nag).
    warned_readable: bool,
    /// What Start at login's check mark shows.
    shown_start_at_login: Arc<AtomicBool>,
}

impl Worker {
    fn prompt(&self) -> TrayPrompt {
        TrayPrompt::new(self.proxy.clone(), self.quitting.clone(), ANSWER_WITHIN)
    }

    fn store_changed(&mut self, engine: &Engine) -> bool {
        engine.store_stamp() != self.last_seen
    }

    /// The check mark follows the autostart entry, whoever changed it.
    fn watch_start_at_login(&self, engine: &Engine) {
        let start_at_login = engine.starts_at_login();
        if start_at_login
            != self
                .shown_start_at_login
                .swap(start_at_login, Ordering::SeqCst)
        {
            tracing::info!(start_at_login, "the autostart entry changed");
            let _ = self.proxy.send_event(UserEvent::StartAtLogin);
        }
    }

    /// Sends the catalog to the GUI (always after a command, so radio items clicked but not
    /// applied are put back). Whatever changed it may have written credentials, so the
    /// credentials file's mode is looked at too.
    fn send_catalog(&mut self, engine: &Engine) {
        self.warn_if_readable(engine);
        self.last_seen = engine.store_stamp();
        match engine.catalog() {
            Ok(catalog) => {
                let _ = self.proxy.send_event(UserEvent::Catalog(Box::new(catalog)));
            }
            Err(e) => notify(
                "credtray can't read its store",
                &credtray::error_sentence(&e),
            ),
        }
    }

    /// Toasts, once per run, that the credentials file credtray writes sections into can be
    /// read by others, with its mode and the `chmod` to run.
    fn warn_if_readable(&mut self, engine: &Engine) {
        if self.warned_readable {
            return;
        }
        if let Ok(Some(readable)) = engine.credentials_readable_by_others() {
            self.warned_readable = true;
            notify(READABLE_TITLE, &readable.to_string());
        }
    }

    fn handle(&mut self, engine: &mut Engine, command: Command) {
        let mut prompt = self.prompt();
        match command {
            Command::Start(id) => self.start(engine, id),
            Command::Stop(id) => {
                let result = engine.stop(id).map(drop);
                report_on(engine, id, "stop", result);
            }
            Command::StopAll => report(engine.stop_all().map(drop), "Could not stop every session"),
            Command::Test(id) => {
                let session = engine.catalog().ok().and_then(|c| c.get(id).cloned());
                let Some(session) = session else { return };
                let result = engine.test(&session, &ProposedKeys::default(), &mut prompt);
                report_test(&session.alias.to_string(), &result);
            }
            Command::TestEdit(id, edit, reply) => {
                let alias = alias_of(engine, id);
                let result = engine.test_edit(id, *edit, &mut prompt);
                let _ = reply.send(report_test(&alias, &result));
            }
            Command::Console(id) => self.console(engine, id),
            Command::Edit(id, edit) => match engine.edit(id, *edit, &mut prompt) {
                Ok((outcome, Some(Ok(s)))) => {
                    notify(
                        &format!("Restarted {}", outcome.session.alias),
                        &format!("Now on profile {} in {}.", s.profile, s.region),
                    );
                }
                Ok((outcome, Some(Err(e)))) => {
                    notify(
                        &format!("Edited {}, but restarting it failed", outcome.session.alias),
                        &credtray::error_sentence(&e),
                    );
                }
                Ok(_) => {}
                Err(e) => notify(
                    &format!("Could not edit {}", alias_of(engine, id)),
                    &credtray::error_sentence(&e),
                ),
            },
            Command::Chain {
                assumer,
                chain,
                start,
            } => match engine.chain(assumer, chain) {
                Ok(session) if start => self.start(engine, session.id),
                Ok(_) => {}
                Err(e) => notify(
                    "Could not create the chained session",
                    &credtray::error_sentence(&e),
                ),
            },
            Command::Add(new, keys) => {
                let title = format!("Could not add {}", new.alias);
                report(engine.add(*new, keys).map(drop), &title);
            }
            Command::Delete(id) => self.delete(engine, id),
            Command::Login(id) => self.login(engine, id),
            Command::Logout(id) => logout(engine, id),
            Command::Sync(id) => {
                let quitting = &self.quitting;
                let cancelled = || quitting.load(Ordering::Relaxed);
                let result = self.syncing(id, |progress| engine.sync(id, progress, &cancelled));
                self.report_sync(engine, id, "Synced", result);
            }
            Command::AddIntegration(new) => report(
                engine.add_integration(new).map(drop),
                "Could not add the integration",
            ),
            Command::EditIntegration(id, edit) => report(
                engine.edit_integration(id, &edit).map(drop),
                "Could not change the integration",
            ),
            Command::DeleteIntegration(id) => report(
                engine.delete_integration(id, false).map(drop),
                "Could not delete the integration",
            ),
            Command::OfferImport { asked } => self.offer_import(engine, asked),
            Command::ImportOffered { accepted } => {
                if let Err(e) = engine.mark_import_offered() {
                    tracing::warn!(error = %e, "could not remember that the import was offered");
                }
                if accepted {
                    import(engine);
                }
            }
            Command::SetStartAtLogin(on) => {
                if let Err(e) = engine.set_start_at_login(on) {
                    notify(
                        "Could not change Start at login",
                        &credtray::error_sentence(&e),
                    );
                }
                self.watch_start_at_login(engine);
            }
            Command::SetNetwork(settings, password) => {
                self.set_network(engine, *settings, password)
            }
            Command::ForgetLogin(id) => match engine.forget_login(id) {
                Ok(forgotten) => notify("Forgot the IdP login", &forgotten.sentence()),
                Err(e) => notify(
                    "Could not forget the IdP login",
                    &credtray::error_sentence(&e),
                ),
            },
            Command::Pin(id, pinned) => report_on(
                engine,
                id,
                if pinned { "pin" } else { "unpin" },
                engine.pin(id, pinned).map(drop),
            ),
            Command::Quit => {}
        }
    }

    /// Integrations ▸ Log in…: the browser opens at the verification page and a dialog shows the
    /// code while the login is polled; answering "no" there (or quitting) cancels it. Ends with
    /// a toast of what the sync found.
    fn login(&mut self, engine: &mut Engine, id: IntegrationId) {
        let alias = engine
            .catalog()
            .ok()
            .and_then(|c| c.integration(id).map(|i| i.alias.to_string()))
            .unwrap_or_default();
        let waiting: RefCell<Option<Receiver<Option<Answer>>>> = RefCell::new(None);
        let finished = Arc::new(AtomicBool::new(false));
        let proxy = self.proxy.clone();
        let mut show = |device: &credtray::aws::sso::DeviceLogin| {
            if let Err(e) = credtray::browser::open(&device.verification_uri_complete) {
                tracing::warn!(error = %e, "could not open a browser");
            }
            let (reply, answer) = mpsc::channel();
            let question = Question::LoginCode {
                integration: alias.clone(),
                code: device.user_code.clone(),
                url: device.verification_uri_complete.clone(),
                finished: finished.clone(),
            };
            if proxy.send_event(UserEvent::Ask(question, reply)).is_ok() {
                *waiting.borrow_mut() = Some(answer);
            }
        };
        let quitting = self.quitting.clone();
        let cancelled = || {
            quitting.load(Ordering::Relaxed)
                || waiting
                    .borrow()
                    .as_ref()
                    .is_some_and(|answer| matches!(answer.try_recv(), Ok(None)))
        };
        let result = self.syncing(id, |progress| {
            engine.login(id, &mut show, &cancelled, progress)
        });
        // The code's dialog closes by itself.
        finished.store(true, Ordering::SeqCst);
        match result {
            Err(engine::Error::LoginCancelled) => {}
            result => self.report_sync(engine, id, "Logged in to", result),
        }
    }

    /// Network… saved: a toast says what is in effect now (never the password); a refusal
    /// (a CA bundle that can't be used, a keychain that can't be written) opens the form again
    /// with the sentence, the password to be typed again.
    fn set_network(
        &self,
        engine: &Engine,
        settings: credtray::net::Settings,
        password: engine::network::Password,
    ) {
        let typed = matches!(password, engine::network::Password::Set(_));
        match engine.set_network(settings.clone(), password) {
            Ok(()) => notify(
                "Network settings saved",
                &super::forms::network_saved(&settings),
            ),
            Err(e) => {
                let mut form = super::forms::network(&settings);
                let mut why = credtray::error_sentence(&e);
                if typed {
                    why.push_str(" (type the proxy password again)");
                }
                tracing::info!(reason = %why, "the network settings were refused; the form opens again");
                form.error = Some(why);
                let _ = self
                    .proxy
                    .send_event(UserEvent::NetworkRefused(Box::new(form)));
            }
        }
    }

    /// The engine's import offer, shown by the GUI in a dialog; asked for, a toast says when
    /// there is nothing to import or `~/.aws` can't be read.
    fn offer_import(&self, engine: &Engine, asked: bool) {
        match engine.import_offer(asked) {
            Ok(Some(offer)) => {
                let _ = self.proxy.send_event(UserEvent::OfferImport(offer));
            }
            Ok(None) if asked => notify(
                "Nothing to import",
                "Every profile of ~/.aws that credtray can make a session of has one already, or there is none.",
            ),
            Ok(None) => {}
            Err(e) if asked => notify("Could not read ~/.aws", &credtray::error_sentence(&e)),
            Err(e) => tracing::info!(error = %e, "no import offered: ~/.aws can't be read"),
        }
    }

    /// Open web console: the session's credentials (an IAM user's through GetFederationToken)
    /// exchanged by the engine for a sign-in link, opened in the browser through a one-time
    /// loopback link on a thread of its own (it waits for the browser; the engine does not).
    fn console(&mut self, engine: &mut Engine, id: SessionId) {
        let title = format!(
            "Could not open the web console for {}",
            alias_of(engine, id)
        );
        let url = match engine.console(id, &mut self.prompt()) {
            Ok(console) => console.url,
            Err(e) => return notify(&title, &credtray::error_sentence(&e)),
        };
        let spawned = std::thread::Builder::new()
            .name("credtray-console".to_owned())
            .spawn(move || {
                if let Err(e) = credtray::browser::open_secret(&url) {
                    notify(&title, &e.to_string());
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot open the web console");
        }
    }

    /// Runs `sync` (a sync, or a login that ends with one) telling the menu how it gets on
    /// (every phase, and within one at most every [`TELL_EVERY`]) and that it ended; its apply
    /// is marked in [`Applying`] so that Quit waits for it.
    fn syncing<T>(
        &self,
        id: IntegrationId,
        sync: impl FnOnce(&(dyn Fn(&SyncProgress) + Sync)) -> T,
    ) -> T {
        // The engine tells from its listing threads too, and the proxy need not be `Sync` on
        // every platform: both go behind one lock.
        let told = Mutex::new((self.proxy.clone(), Throttle::default()));
        let applying = &*self.applying;
        let progress = |p: &SyncProgress| {
            if p.phase == SyncPhase::Applying && !applying.begin() {
                // Quit gave up waiting and the process is ending: an apply started now could
                // be cut in half, so this thread waits here for the end instead.
                loop {
                    std::thread::park();
                }
            }
            let mut told = told.lock().unwrap_or_else(PoisonError::into_inner);
            if told.1.lets_through(&p.phase, Instant::now()) {
                let _ = told.0.send_event(UserEvent::Syncing(id, Some(p.clone())));
            }
        };
        let result = sync(&progress);
        applying.end();
        let (proxy, throttle) = told.into_inner().unwrap_or_else(PoisonError::into_inner);
        if throttle.told_any() {
            let _ = proxy.send_event(UserEvent::Syncing(id, None));
        }
        result
    }

    /// A toast for a sync (or a login, which ends with one); none for a sync that Quit
    /// cancelled.
    fn report_sync(
        &self,
        engine: &Engine,
        id: IntegrationId,
        done: &str,
        result: Result<SyncReport, engine::Error>,
    ) {
        let alias = engine
            .catalog()
            .ok()
            .and_then(|c| c.integration(id).map(|i| i.alias.to_string()))
            .unwrap_or_default();
        match result {
            Ok(r) => notify(&format!("{done} {alias}"), &synced_sentence(&r)),
            Err(engine::Error::SyncCancelled { .. }) if self.quitting.load(Ordering::Relaxed) => {
                tracing::info!(%alias, "the sync was cancelled: the tray is quitting");
            }
            Err(e) => notify(
                &format!("Could not sync {alias}"),
                &credtray::error_sentence(&e),
            ),
        }
    }

    /// Starts a session; a profile credtray does not own is taken over only if the person
    /// agrees in a dialog.
    fn start(&mut self, engine: &mut Engine, id: SessionId) {
        let mut prompt = self.prompt();
        let result = match engine.start(id, &mut prompt, false) {
            Err(engine::Error::Files(e @ awsfiles::Error::NotOwned { .. })) => {
                let question = Question::TakeOver {
                    alias: alias_of(engine, id),
                    message: e.to_string(),
                };
                if matches!(prompt.ask(question), Some(Answer::Yes)) {
                    engine.start(id, &mut prompt, true)
                } else {
                    return;
                }
            }
            other => other,
        };
        report_on(engine, id, "start", result.map(drop));
    }

    /// Deletes a session (the menu's dialog asked already); moved keys with no section left to
    /// go back to are destroyed only if the person agrees in a second dialog. What became of
    /// moved keys is told in a toast.
    fn delete(&mut self, engine: &mut Engine, id: SessionId) {
        let mut result = engine.delete(id, false, engine::HomelessKeys::Refuse);
        if let Err(engine::Error::KeysWouldBeLost {
            alias,
            path,
            section,
        }) = &result
        {
            let question = Question::DiscardKeys {
                alias: alias.clone(),
                message: format!(
                    "Its long-term keys were moved off the disk by the import, and [{section}] of {}, where they came from, is gone: the keychain holds their only copy, and deleting the session destroys them.\n\nTo keep them instead, put the section back (even empty: the keys are written into it) and delete the session again.",
                    path.display()
                ),
            };
            if !matches!(self.prompt().ask(question), Some(Answer::Yes)) {
                return;
            }
            result = engine.delete(id, false, engine::HomelessKeys::Discard);
        }
        match result {
            Ok(deleted) => {
                for moved in &deleted.moved_keys {
                    notify(&format!("Deleted {}", moved.alias), &moved.sentence());
                }
            }
            Err(e) => report_on(engine, id, "delete", Err(e)),
        }
    }

    fn rotate(&mut self, engine: &mut Engine) {
        let mut prompt = self.prompt().unattended().quiet(&self.failed_rotation);
        let Ok(results) = engine.rotate(&mut prompt) else {
            return;
        };
        for (id, result) in results {
            match result {
                Ok(()) => self.failed_rotation.retain(|f| *f != id),
                Err(engine::Error::SamlLogin {
                    reason: NoAssertion::NeedsUser,
                    ..
                }) => {
                    let _ = self.proxy.send_event(UserEvent::OfferSamlLogin(id));
                }
                Err(e) if !self.failed_rotation.contains(&id) => {
                    self.failed_rotation.push(id);
                    notify(
                        &format!("Could not refresh {}", alias_of(engine, id)),
                        &credtray::error_sentence(&e),
                    );
                }
                Err(_) => {}
            }
        }
        self.send_catalog(engine);
    }
}

/// Whether the engine is applying a sync (changing the sessions to match what it listed), which
/// must not be cut in half: Quit, having waited [`QUIT_WITHIN`](super::QUIT_WITHIN) for the
/// worker, waits on for an apply that runs ([`Applying::leave`]), and once it has left none
/// starts ([`Applying::begin`]).
#[derive(Default)]
pub struct Applying {
    stage: Mutex<Stage>,
    changed: Condvar,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    #[default]
    Idle,
    Applying,
    /// The GUI left: the process is ending.
    Left,
}

impl Applying {
    /// A sync is about to apply what it listed: false if the GUI has left (it must not start).
    fn begin(&self) -> bool {
        let mut stage = self.stage.lock().unwrap_or_else(PoisonError::into_inner);
        if *stage == Stage::Left {
            return false;
        }
        *stage = Stage::Applying;
        true
    }

    /// The sync ended (applied or not).
    fn end(&self) {
        let mut stage = self.stage.lock().unwrap_or_else(PoisonError::into_inner);
        if *stage == Stage::Applying {
            *stage = Stage::Idle;
            self.changed.notify_all();
        }
    }

    /// The GUI is leaving: waits for an apply that runs to end, and lets none start after.
    pub fn leave(&self) {
        let stage = self.stage.lock().unwrap_or_else(PoisonError::into_inner);
        if *stage == Stage::Applying {
            tracing::info!("quitting once the sync running has applied what it listed");
        }
        let mut stage = self
            .changed
            .wait_while(stage, |s| *s == Stage::Applying)
            .unwrap_or_else(PoisonError::into_inner);
        *stage = Stage::Left;
    }
}

/// Which of a sync's progress reports reach the menu: each new phase, and within a phase one
/// every [`TELL_EVERY`].
#[derive(Debug, Default)]
struct Throttle {
    last: Option<(std::mem::Discriminant<SyncPhase>, Instant)>,
}

impl Throttle {
    fn lets_through(&mut self, phase: &SyncPhase, now: Instant) -> bool {
        let phase = std::mem::discriminant(phase);
        let through = match self.last {
            Some((last, at)) => last != phase || now.duration_since(at) >= TELL_EVERY,
            None => true,
        };
        if through {
            self.last = Some((phase, now));
        }
        through
    }

    fn told_any(&self) -> bool {
        self.last.is_some()
    }
}

/// What a sync's toast says: `1,500 sessions from 500 accounts: 12 added, 1,488 kept, 0
/// removed, in 27 s.`, then the accounts that could not be listed and whose sync it was.
fn synced_sentence(r: &SyncReport) -> String {
    let mut body = format!(
        "{} from {}: {} added, {} kept, {} removed, in {}.",
        counted(r.sessions, "session"),
        counted(r.accounts, "account"),
        thousands(r.added.len()),
        thousands(r.kept),
        thousands(r.removed.len()),
        took(r.took)
    );
    if !r.failed.is_empty() {
        body.push_str(&format!(
            " {} could not be listed; sync again later.",
            counted(r.failed.len(), "account")
        ));
    }
    if let Some(holder) = &r.ran_by {
        body.push_str(&format!(
            " It is the result of another command's sync, which ran meanwhile: {holder}."
        ));
    }
    body
}

/// `1 account`, `1,500 accounts`.
fn counted(n: usize, what: &str) -> String {
    format!("{} {what}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// `1,488`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `0.4 s`, `27 s`, `1 min 42 s`.
fn took(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 9.95 {
        return format!("{secs:.1} s");
    }
    let whole = secs.round() as u64;
    if whole < 60 {
        format!("{whole} s")
    } else {
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

/// How long the passphrase dialog waits for the person: as long as an MFA code's, under the
/// time a `credential-process` client waits for the agent's reply.
const PASSPHRASE_WAIT: Duration = super::agent::MFA_WAIT;

/// Asks for the file keychain's passphrase in the tray's dialog, from whichever thread needs
/// the keychain first, never from the GUI thread (which shows the dialog: waiting there would
/// hang the tray). Connected to the event loop once it exists (the store is opened before).
pub struct TrayAsker {
    proxy: std::sync::OnceLock<std::sync::Mutex<EventLoopProxy<UserEvent>>>,
    quitting: Arc<AtomicBool>,
    gui: std::thread::ThreadId,
}

impl TrayAsker {
    /// An asker whose dialogs the calling thread (the GUI's) will show.
    pub fn new(quitting: Arc<AtomicBool>) -> Self {
        Self {
            proxy: std::sync::OnceLock::new(),
            quitting,
            gui: std::thread::current().id(),
        }
    }

    pub fn connect(&self, proxy: EventLoopProxy<UserEvent>) {
        let _ = self.proxy.set(std::sync::Mutex::new(proxy));
    }
}

impl credtray::secrets::chosen::Asker for TrayAsker {
    fn passphrase(
        &self,
        path: &std::path::Path,
        new: bool,
        retry: bool,
    ) -> Result<Option<SecretString>, String> {
        if std::thread::current().id() == self.gui {
            return Ok(None);
        }
        let Some(proxy) = self.proxy.get() else {
            return Ok(None);
        };
        let proxy = proxy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let prompt = TrayPrompt::new(proxy, self.quitting.clone(), PASSPHRASE_WAIT);
        match prompt.ask(Question::Passphrase {
            path: path.display().to_string(),
            new,
            retry,
        }) {
            Some(Answer::Secret(passphrase)) => Ok(Some(passphrase)),
            _ => Err(format!(
                "no passphrase was given for credtray's file keychain {}; nothing was changed",
                path.display()
            )),
        }
    }
}

/// Asks the GUI thread, and waits for the answer (at most `within`); logs in to identity
/// providers through the login window (`credtray-login --saml-login`), a child process.
pub struct TrayPrompt {
    proxy: EventLoopProxy<UserEvent>,
    quitting: Arc<AtomicBool>,
    within: Duration,
    /// A rotation: the login window never shows.
    unattended: bool,
    /// Why the MFA source gave no code, said on the dialog that asks for it instead.
    source_failure: Option<String>,
    /// Sessions whose rotation failed already: no toast about their MFA source every minute.
    quiet: Vec<SessionId>,
}

impl TrayPrompt {
    pub fn new(
        proxy: EventLoopProxy<UserEvent>,
        quitting: Arc<AtomicBool>,
        within: Duration,
    ) -> Self {
        Self {
            proxy,
            quitting,
            within,
            unattended: false,
            source_failure: None,
            quiet: Vec::new(),
        }
    }

    /// A prompt for a rotation, which nobody asked for: no login window.
    fn unattended(mut self) -> Self {
        self.unattended = true;
        self
    }

    /// No MFA source toasts for these sessions (their last rotation failed, and said so).
    fn quiet(mut self, sessions: &[SessionId]) -> Self {
        self.quiet = sessions.to_vec();
        self
    }

    /// Waits for the answer, giving up when the person quits (the GUI is then waiting for this
    /// thread, so waiting on would deadlock) or after `within`.
    fn ask(&self, question: Question) -> Option<Answer> {
        let (reply, answer) = mpsc::channel();
        self.proxy
            .send_event(UserEvent::Ask(question, reply))
            .ok()?;
        let asked = Instant::now();
        while asked.elapsed() < self.within && !self.quitting.load(Ordering::Relaxed) {
            match answer.recv_timeout(Duration::from_millis(200)) {
                Ok(answer) => return answer,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
        None
    }
}

impl Prompt for TrayPrompt {
    fn mfa_code(&mut self, session: &Session, device: &MfaDevice, ask: MfaAsk) -> Option<MfaCode> {
        let note = match ask {
            MfaAsk::First => None,
            MfaAsk::AlreadyUsed => {
                Some("That code was just used. Wait for the next one.".to_owned())
            }
            MfaAsk::SourceFailed => Some(format!(
                "Its MFA source gave no code: {}. Type the code instead.",
                self.source_failure.take().unwrap_or_default()
            )),
        };
        let question = Question::MfaCode {
            alias: session.alias.to_string(),
            device: device.to_string(),
            note,
        };
        match self.ask(question)? {
            Answer::Secret(code) => code.expose_secret().parse().ok(),
            Answer::Yes => None,
        }
    }

    fn mfa_notice(&mut self, session: &Session, notice: MfaNotice<'_>) {
        let alias = &session.alias;
        if self.quiet.contains(&session.id) && !matches!(notice, MfaNotice::SourceFailed(_)) {
            return;
        }
        match notice {
            MfaNotice::Touch => notify(
                &format!("Touch your YubiKey for {alias}"),
                "credtray is reading the MFA code from your YubiKey.",
            ),
            MfaNotice::NextCode { seconds } => notify(
                &format!("Waiting for the next MFA code for {alias}"),
                &format!(
                    "The code of this 30-second window was used already; asking again in {seconds} s."
                ),
            ),
            MfaNotice::SourceFailed(why) => {
                self.source_failure = Some(why.trim_end_matches('.').to_owned())
            }
        }
    }

    fn cancelled(&self) -> bool {
        self.quitting.load(Ordering::Relaxed)
    }

    fn saml_assertion(&mut self, login: &SamlLogin<'_>) -> Result<SecretString, NoAssertion> {
        let window = saml_login::login_beside_me().ok_or_else(|| {
            NoAssertion::Failed("cannot find the tray's own executable".to_owned())
        })?;
        let quitting = self.quitting.clone();
        saml_login::Login {
            window: &window,
            login,
            hidden_only: self.unattended,
        }
        .run(&|| quitting.load(Ordering::Relaxed))
    }
}

/// The toast of Test credential generation, named after the session; its body, which an
/// Edit session… form shows too.
fn report_test(alias: &str, result: &Result<engine::Tested, engine::Error>) -> String {
    let body = match result {
        Ok(t) => format!(
            "Credentials work.\nCaller: {}\nThey would expire {}.",
            t.caller_arn,
            credtray::aws::rfc3339(t.expiration)
        ),
        Err(e) => format!("Failed: {}", credtray::error_sentence(e)),
    };
    notify(&format!("Test credential generation: {alias}"), &body);
    body
}

/// A session's alias for a toast's title (its id, should it be gone).
fn alias_of(engine: &Engine, id: SessionId) -> String {
    engine
        .catalog()
        .ok()
        .and_then(|c| c.get(id).map(|s| s.alias.to_string()))
        .unwrap_or_else(|| id.to_string())
}

/// The first-run import, and a toast of what it made.
fn import(engine: &mut Engine) {
    match engine.import(false, false) {
        Ok(report) => {
            let count = |status: &str| report.rows.iter().filter(|r| r.status == status).count();
            let failed: Vec<String> = report
                .rows
                .iter()
                .filter(|r| r.status == "failed")
                .map(|r| format!("{}: {}", r.profile, r.reason))
                .collect();
            let mut body = format!(
                "{} created, {} remembered for IAM Identity Center, {} left as they are.",
                count("created"),
                count("remembered"),
                count("skipped")
            );
            for line in failed {
                body.push('\n');
                body.push_str(&line);
            }
            notify("Imported your AWS profiles", &body);
        }
        Err(e) => notify(
            "Could not import your AWS profiles",
            &credtray::error_sentence(&e),
        ),
    }
}

/// A failure's toast titled "Could not <verb> <alias>", the alias read only when there is one.
fn report_on(engine: &Engine, id: SessionId, verb: &str, result: Result<(), engine::Error>) {
    if let Err(e) = result {
        notify(
            &format!("Could not {verb} {}", alias_of(engine, id)),
            &credtray::error_sentence(&e),
        );
    }
}

/// Integrations ▸ Log out (the menu's dialog asked already): a toast names the sessions it
/// stopped.
fn logout(engine: &mut Engine, id: IntegrationId) {
    let alias = engine
        .catalog()
        .ok()
        .and_then(|c| c.integration(id).map(|i| i.alias.to_string()))
        .unwrap_or_default();
    match engine.logout(id) {
        Ok(stopped) => notify(
            &format!("Logged out of {alias}"),
            &stopped_sentence(&stopped),
        ),
        Err(e) => notify("Could not log out", &credtray::error_sentence(&e)),
    }
}

/// What a logout's toast says about the sessions it stopped.
fn stopped_sentence(stopped: &[credtray::session::Session]) -> String {
    if stopped.is_empty() {
        return "No session of it was running.".to_owned();
    }
    let names: Vec<String> = stopped.iter().map(|s| format!("\"{}\"", s.alias)).collect();
    format!("Stopped {}.", names.join(", "))
}

fn report(result: Result<(), engine::Error>, title: &str) {
    if let Err(e) = result {
        notify(title, &credtray::error_sentence(&e));
    }
}

/// A notification toast. One that can't be shown (no notification daemon) is logged, never
/// fatal.
pub fn notify(summary: &str, body: &str) {
    let toast = toast(summary, body);
    tracing::info!(summary = %toast.summary, body = %toast.body, "notification");
    if let Err(e) = toast.show() {
        tracing::warn!(error = %e, summary = %toast.summary, "could not show a notification");
    }
}

/// A toast with one action: `act` runs if the person clicks it (waits, so call it from a
/// thread of its own).
pub fn offer(summary: &str, body: &str, action: &str, act: impl FnOnce()) {
    let mut toast = toast(summary, body);
    toast.action("act", action);
    tracing::info!(summary = %toast.summary, "notification with an action");
    match toast.show() {
        Ok(handle) => handle.wait_for_action(|chosen| {
            if chosen == "act" {
                act();
            }
        }),
        Err(e) => tracing::warn!(error = %e, "could not show a notification"),
    }
}

/// A toast's text, scrubbed of anything shaped like a key or token: its errors may quote AWS.
fn toast(summary: &str, body: &str) -> notify_rust::Notification {
    notify_rust::Notification::new()
        .appname("credtray")
        .summary(&credtray::redact::scrub(summary))
        .body(&credtray::redact::scrub(body))
        .timeout(notify_rust::Timeout::Milliseconds(10_000))
        .finalize()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::{Applying, SyncPhase, SyncReport, Throttle, synced_sentence};

    fn report(sessions: usize, accounts: usize, added: usize, removed: usize) -> SyncReport {
        SyncReport {
            accounts,
            added: (0..added).map(|i| format!("a/{i}")).collect(),
            kept: sessions - added,
            removed: (0..removed).map(|i| format!("r/{i}")).collect(),
            sessions,
            took: Duration::from_millis(27_300),
            ..SyncReport::default()
        }
    }

    #[test]
    fn a_syncs_toast_says_what_was_added_kept_and_removed_and_how_long_it_took() {
        assert_eq!(
            synced_sentence(&report(1500, 500, 12, 0)),
            "1,500 sessions from 500 accounts: 12 added, 1,488 kept, 0 removed, in 27 s."
        );
        let mut r = report(1, 1, 1, 2);
        r.took = Duration::from_millis(420);
        assert_eq!(
            synced_sentence(&r),
            "1 session from 1 account: 1 added, 0 kept, 2 removed, in 0.4 s."
        );
        r.took = Duration::from_secs(102);
        assert!(synced_sentence(&r).ends_with(", in 1 min 42 s."));
    }

    #[test]
    fn a_syncs_toast_names_the_accounts_not_listed_and_another_commands_sync() {
        let mut r = report(6, 3, 0, 0);
        r.failed = vec![("prod (222222222222)".to_owned(), "throttled".to_owned())];
        r.ran_by = Some("process 4242 (credtray integration sync)".to_owned());
        assert_eq!(
            synced_sentence(&r),
            "6 sessions from 3 accounts: 0 added, 6 kept, 0 removed, in 27 s. \
             1 account could not be listed; sync again later. \
             It is the result of another command's sync, which ran meanwhile: process 4242 (credtray integration sync)."
        );
    }

    #[test]
    fn the_menu_hears_each_phase_of_a_sync_and_within_one_a_few_times_a_second() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert!(!throttle.told_any());
        assert!(throttle.lets_through(&SyncPhase::Accounts, at(0)));
        assert!(!throttle.lets_through(&SyncPhase::Accounts, at(100)));
        assert!(
            throttle.lets_through(&SyncPhase::Roles, at(120)),
            "a new phase"
        );
        // 1,000 reports over two seconds: 8 reach the menu.
        let told = (1..=1000)
            .filter(|i| throttle.lets_through(&SyncPhase::Roles, at(120 + i * 2)))
            .count();
        assert_eq!(told, 8);
        assert!(
            throttle.lets_through(&SyncPhase::Applying, at(2121)),
            "a new phase"
        );
        assert!(throttle.told_any());
    }

    #[test]
    fn quit_waits_for_an_apply_that_runs_and_none_starts_after_it_left() {
        let applying = Arc::new(Applying::default());
        assert!(applying.begin());
        let (left, leaving) = std::sync::mpsc::channel();
        let gui = {
            let applying = applying.clone();
            std::thread::spawn(move || {
                applying.leave();
                let _ = left.send(());
            })
        };
        assert!(
            leaving.recv_timeout(Duration::from_millis(300)).is_err(),
            "the GUI left while a sync was applying"
        );
        applying.end();
        leaving.recv_timeout(Duration::from_secs(30)).unwrap();
        gui.join().unwrap();
        assert!(!applying.begin(), "an apply started after the GUI left");
    }

    #[test]
    fn toasts_do_not_show_the_keys_or_tokens_an_error_quotes() {
        let toast = super::toast(
            "Could not start the session",
            "session \"dev\": GetSessionToken failed (AWS said: key AKIAIOSFODNN7EXAMPLE, secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY)",
        );
        assert_eq!(
            toast.body,
            "session \"dev\": GetSessionToken failed (AWS said: key <redacted>, secret <redacted>)"
        );
    }
}
