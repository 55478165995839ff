//! `credtray-tray`, the tray (which `credtray` with no arguments execs): the only executable
//! that links a GUI toolkit; the core it drives is the GUI-free `credtray` library. The tao
//! event loop owns the GTK main thread and sleeps in `ControlFlow::Wait`; the engine runs on
//! its own thread (`worker`) and wakes the loop through an `EventLoopProxy`. The menu is data (`menu`), rendered by one thin layer
//! (`render`); menu ids are typed (`action`); dialogs are a pure model with a GTK view
//! (`dialog`: GTK on Linux, `native_dialog` on macOS and Windows); `icon` draws the three icons; `agent` serves credential-process from the tray;
//! the federated login is another executable, `credtray-login`, run as a child process.

#![forbid(unsafe_code)]

mod action;
mod agent;
mod dialog;
mod forms;
mod icon;
mod menu;
#[cfg(not(target_os = "linux"))]
mod native_dialog;
mod render;
mod worker;

use std::process::ExitCode;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::SecretString;
use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tray_icon::menu::MenuEvent;
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use action::MenuAction;
use credtray::aws::sts::Sdk;
use credtray::engine::{Engine, SyncProgress};
use credtray::session::Field;
use credtray::session::{
    Catalog, Edit, IntegrationId, Kind, MfaCode, ProfileName, SessionId, State, Value,
};
use dialog::{Dialogs, Entry, Form, ask};
use worker::{Answer, Command, Question};

/// How long Quit waits for the engine to finish its current command.
const QUIT_WITHIN: Duration = Duration::from_secs(5);

/// What wakes the event loop.
pub enum UserEvent {
    Menu(MenuEvent),
    Catalog(Box<Catalog>),
    /// A session's state changed while the engine is still working (e.g. now starting).
    State(SessionId, State),
    /// The answer travels as a secret: it may be a SAML assertion or an MFA code.
    Ask(Question, Sender<Option<Answer>>),
    /// A credential_process call needs this integration (its alias) logged in.
    OfferLogin(String),
    /// A rotation found this federated session's identity provider asking for the person.
    OfferSamlLogin(SessionId),
    /// The autostart entry appeared or went (Start at login's check mark follows).
    StartAtLogin,
    /// What importing `~/.aws` would make, to offer in a dialog (the engine read the files).
    OfferImport(String),
    /// How a sync of the integration is getting on (a few times a second at most); `None`
    /// when it ended.
    Syncing(IntegrationId, Option<SyncProgress>),
    /// The engine could not save the network settings: the Network… form again, with why.
    NetworkRefused(Box<Form>),
}

fn main() -> ExitCode {
    credtray::cli::init_logging();
    credtray::cli::install_panic_hook("credtray-tray");
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version" | "-V") => {
            println!("credtray-tray {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            println!(
                "credtray-tray {}: AWS credential sessions in the system tray.\n\nUsage: credtray-tray\n\nIt takes no arguments; `credtray --help` lists the command line.",
                env!("CARGO_PKG_VERSION")
            );
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("credtray-tray: {}", credtray::error_sentence(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// How often a login is offered for the same integration.
const OFFER_LOGIN_EVERY: Duration = Duration::from_secs(600);

/// Runs the tray until Quit.
fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    // It holds credentials (it is the agent too): see `credtray::harden`.
    credtray::harden::keep_debuggers_out();
    if let Some(e) = credtray::cli::no_display() {
        return Err(e);
    }
    // tao panics when GTK can't start (a display that can't be opened): start it here first,
    // so that is an error with its reason.
    #[cfg(target_os = "linux")]
    gtk::init().map_err(|e| {
        anyhow::anyhow!(
            "cannot start GTK on the display {:?}: {e}",
            std::env::var("WAYLAND_DISPLAY")
                .or_else(|_| std::env::var("DISPLAY"))
                .unwrap_or_default()
        )
    })?;
    // The tray is the agent: the file keychain is its own to open, its passphrase asked in a
    // dialog (once the event loop runs), never asked of itself over the socket.
    let quitting = Arc::new(AtomicBool::new(false));
    let asker = Arc::new(worker::TrayAsker::new(quitting.clone()));
    let credtray::cli::Parts {
        store,
        secrets,
        files,
        keychain,
    } = credtray::cli::open_parts(asker.clone(), None)?;
    let sts: Arc<dyn credtray::aws::Sts> =
        Arc::new(Sdk::new().context("cannot start the STS client")?);
    let sso: Arc<dyn credtray::aws::sso::Sso> = Arc::new(credtray::aws::sso::Sdk::new());
    let agent_parts = (
        store.clone(),
        secrets.clone(),
        files.clone(),
        sts.clone(),
        sso.clone(),
        keychain.clone(),
    );
    let engine = Engine::new(store, secrets, files, sts)
        .with_sso(sso)
        .with_keychain(keychain);
    // One tray per user: a second start finds the lock held and says so, before it starts
    // anything.
    let tray_lock = engine.lock_tray()?;
    // A store that can't be read starts an empty menu; the engine thread says why in a toast.
    let catalog = engine.catalog().unwrap_or_default();

    // What Start at login's check mark shows; the worker compares it with the file.
    let start_at_login = Arc::new(AtomicBool::new(engine.starts_at_login()));
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    asker.connect(proxy.clone());
    let menu_proxy = Mutex::new(proxy.clone());
    MenuEvent::set_event_handler(Some(move |event: MenuEvent| {
        // Called on the GUI thread even while a dialog runs its own loop (in which the tray's
        // events wait): Quit answers an open dialog with Cancel so that it reaches the tray now,
        // whoever opened the dialog (an AWS CLI call asking for a passphrase or an MFA code).
        if event.id.0.parse::<MenuAction>() == Ok(MenuAction::Quit) {
            dialog::cancel_open_dialogs();
        }
        if let Ok(proxy) = menu_proxy.lock() {
            let _ = proxy.send_event(UserEvent::Menu(event));
        }
    }));
    let (commands, receiver) = mpsc::channel();
    agent::start(agent_parts, proxy.clone(), quitting.clone());
    let (finished, worker_done) = mpsc::channel();
    let worker_quitting = quitting.clone();
    let shown = start_at_login.clone();
    let applying = Arc::new(worker::Applying::default());
    let worker_applying = applying.clone();
    let worker = std::thread::Builder::new()
        .name("credtray-engine".to_owned())
        .spawn(move || {
            worker::run(
                engine,
                proxy,
                receiver,
                worker_quitting,
                worker_applying,
                shown,
            );
            let _ = finished.send(());
        })
        .context("cannot start the engine thread")?;

    let mut app = App {
        commands,
        worker: Some(worker),
        worker_done,
        quitting,
        applying,
        renderer: std::rc::Rc::new(std::cell::RefCell::new(render::Renderer::new(menu::build(
            &catalog,
            start_at_login.load(Ordering::SeqCst),
            &menu::Syncing::new(),
        )))),
        syncing: menu::Syncing::new(),
        start_at_login,
        catalog,
        tray: None,
        look: None,
        dialogs: dialog::Platform,
        offered: std::collections::HashMap::new(),
        _lock: tray_lock,
        _host_watch: watch_tray_host(),
    };
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            Event::NewEvents(StartCause::Init) => {
                if let Err(e) = app.show() {
                    eprintln!("credtray: {}", credtray::error_sentence(e.as_ref()));
                    *control_flow = ControlFlow::Exit;
                    return;
                }
                tracing::info!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "tray icon and menu registered"
                );
                app.send(Command::OfferImport { asked: false });
            }
            Event::UserEvent(UserEvent::Catalog(catalog)) => app.show_catalog(*catalog),
            Event::UserEvent(UserEvent::State(id, state)) => {
                let mut catalog = app.catalog.clone();
                let expiration = catalog.get(id).and_then(|s| s.expiration);
                catalog.set_state(id, state, expiration);
                app.show_catalog(catalog);
            }
            Event::UserEvent(UserEvent::Menu(event)) => match event.id.0.parse::<MenuAction>() {
                Ok(MenuAction::Quit) => {
                    app.quit();
                    *control_flow = ControlFlow::Exit;
                }
                Ok(action) => app.on_action(action),
                Err(e) => tracing::debug!(error = %e, "ignoring a menu event"),
            },
            Event::UserEvent(UserEvent::Ask(question, reply)) => {
                let _ = reply.send(app.answer(&question));
            }
            Event::UserEvent(UserEvent::OfferLogin(alias)) => app.offer_login(&alias),
            Event::UserEvent(UserEvent::OfferSamlLogin(id)) => app.offer_saml_login(id),
            Event::UserEvent(UserEvent::StartAtLogin) => app.show_catalog(app.catalog.clone()),
            Event::UserEvent(UserEvent::OfferImport(offer)) => app.offer_import(&offer),
            Event::UserEvent(UserEvent::NetworkRefused(form)) => app.network(*form),
            Event::UserEvent(UserEvent::Syncing(id, progress)) => {
                match progress {
                    Some(progress) => app.syncing.insert(id, progress),
                    None => app.syncing.remove(&id),
                };
                app.show_catalog(app.catalog.clone());
            }
            _ => {}
        }
    })
}

struct App {
    commands: Sender<Command>,
    worker: Option<std::thread::JoinHandle<()>>,
    worker_done: Receiver<()>,
    quitting: Arc<AtomicBool>,
    /// Whether the engine is applying a sync, which Quit waits for however long it takes.
    applying: Arc<worker::Applying>,
    /// Shared with the GTK handlers that make lazy submenus' items when they are about to show.
    renderer: std::rc::Rc<std::cell::RefCell<render::Renderer>>,
    /// Whether Start at login is checked: the worker's watch sets it when the entry changed
    /// (by the engine, or by hand).
    start_at_login: Arc<AtomicBool>,
    catalog: Catalog,
    /// The syncs running, as the worker last told: the menu shows how far each has got.
    syncing: menu::Syncing,
    tray: Option<TrayIcon>,
    look: Option<icon::Look>,
    dialogs: dialog::Platform,
    /// When a login was last offered, per integration.
    offered: std::collections::HashMap<credtray::session::IntegrationId, Instant>,
    _lock: credtray::engine::desktop::TrayLock,
    /// Watches the session bus for a tray host (see [`watch_tray_host`]).
    _host_watch: Option<TrayHostWatch>,
}

/// The bus watch, kept for as long as the tray runs.
type TrayHostWatch = Box<dyn std::any::Any>;

/// A tray host shows the icon: without one (no `org.kde.StatusNotifierWatcher` on the session
/// bus, as on GNOME without the AppIndicator extension) nothing shows and nothing says why. Says
/// so once, on stderr and in a notification, and keeps running: libayatana-appindicator
/// registers the icon when a host appears, which is logged.
#[cfg(target_os = "linux")]
fn watch_tray_host() -> Option<TrayHostWatch> {
    use gtk::gio;
    let warned = AtomicBool::new(false);
    Some(Box::new(gio::bus_watch_name(
        gio::BusType::Session,
        "org.kde.StatusNotifierWatcher",
        gio::BusNameWatcherFlags::NONE,
        |_, _, owner| tracing::info!(%owner, "a tray host (StatusNotifierWatcher) is on the session bus"),
        move |_, _| {
            if warned.swap(true, Ordering::SeqCst) {
                return;
            }
            let how = "no system tray was found (no StatusNotifierWatcher on the session bus), so credtray's icon can't show yet; it will as soon as one starts. On GNOME, install and enable the AppIndicator/KStatusNotifierItem extension (gnome-shell-extension-appindicator).";
            eprintln!("credtray-tray: {how}");
            worker::notify("No system tray found", how);
        },
    )))
}

#[cfg(not(target_os = "linux"))]
fn watch_tray_host() -> Option<TrayHostWatch> {
    None
}

impl App {
    fn show(&mut self) -> anyhow::Result<()> {
        let look = icon::Look::of(&self.catalog);
        let runtime =
            std::env::var_os("XDG_RUNTIME_DIR").map_or_else(std::env::temp_dir, Into::into);
        let tray = TrayIconBuilder::new()
            .with_id("credtray")
            .with_menu(Box::new(self.renderer.borrow().menu().clone()))
            .with_tooltip(tooltip(&self.catalog))
            .with_icon(icon_of(look)?)
            .with_temp_dir_path(runtime.join(format!("credtray-{}", std::process::id())))
            .build()
            .context("cannot create the tray icon")?;
        self.tray = Some(tray);
        self.look = Some(look);
        render::hook(&self.renderer);
        Ok(())
    }

    fn show_catalog(&mut self, catalog: Catalog) {
        let started = Instant::now();
        let model = menu::build(
            &catalog,
            self.start_at_login.load(Ordering::SeqCst),
            &self.syncing,
        );
        let built_in = started.elapsed();
        // Only a submenu being made right now holds the renderer (it never yields to the
        // loop, so this is not expected): the menu then catches up with the next update.
        let changes = match self.renderer.try_borrow_mut() {
            Ok(mut renderer) => renderer.update(model),
            Err(_) => {
                tracing::warn!("the menu is busy making a submenu; it is updated next time");
                render::Changes::default()
            }
        };
        render::hook(&self.renderer);
        let rendered_in = started.elapsed() - built_in;
        let icon_started = Instant::now();
        let look = icon::Look::of(&catalog);
        if let Some(tray) = &self.tray {
            if self.look != Some(look) {
                match icon_of(look) {
                    Ok(icon) => {
                        let _ = tray.set_icon(Some(icon));
                    }
                    Err(e) => tracing::warn!(error = %e, "could not draw the icon"),
                }
                self.look = Some(look);
            }
            let _ = tray.set_tooltip(Some(tooltip(&catalog)));
        }
        tracing::debug!(
            icon_us = icon_started.elapsed().as_micros() as u64,
            "icon and tooltip"
        );
        self.catalog = catalog;
        tracing::info!(
            elapsed_us = started.elapsed().as_micros() as u64,
            model_us = built_in.as_micros() as u64,
            render_us = rendered_in.as_micros() as u64,
            updated = changes.updated,
            rebuilt = changes.rebuilt,
            "applied a state change to the menu"
        );
    }

    fn send(&self, command: Command) {
        if self.commands.send(command).is_err() {
            worker::notify("credtray's engine stopped", "Restart credtray.");
        }
    }

    /// Lets the engine finish what it is doing (a write is never cut in half), waiting a few
    /// seconds at most: a slow STS call is not worth a tray that won't quit. A sync still
    /// listing is cancelled (`quitting`), changing nothing; one applying what it listed is
    /// waited for however long it takes, so the store is never left half synced, and once this
    /// gives up waiting no apply starts.
    fn quit(&mut self) {
        self.quitting.store(true, Ordering::Relaxed);
        self.send(Command::Quit);
        if self.worker_done.recv_timeout(QUIT_WITHIN).is_ok() {
            if let Some(worker) = self.worker.take() {
                let _ = worker.join();
            }
        } else {
            self.applying.leave();
        }
        self.tray = None;
    }

    /// Every menu action, mapped to a dialog and an engine command in one place.
    fn on_action(&mut self, action: MenuAction) {
        if matches!(
            action,
            MenuAction::SetProfile(..)
                | MenuAction::SetRegion(..)
                | MenuAction::SetAssumer(..)
                | MenuAction::SetPublish(..)
        ) {
            // A radio item shows the choice once the engine has applied it, not on the click.
            self.renderer.borrow().restore(&action.to_string());
        }
        let alias = |id: SessionId| {
            self.catalog
                .get(id)
                .map(|s| s.alias.to_string())
                .unwrap_or_default()
        };
        match action {
            MenuAction::StartStop(id) => match self.catalog.get(id).map(|s| &s.state) {
                Some(State::Active) => self.send(Command::Stop(id)),
                Some(State::Inactive | State::Error(_)) => self.send(Command::Start(id)),
                Some(State::Pending | State::Deleting) | None => {}
            },
            MenuAction::StopAll => self.send(Command::StopAll),
            MenuAction::Network => self.network(forms::network(&self.catalog.settings.network)),
            MenuAction::Pin(id, pinned) => self.send(Command::Pin(id, pinned)),
            MenuAction::Find => self.find(),
            MenuAction::Test(id) => self.send(Command::Test(id)),
            MenuAction::ForgetLogin(id) => self.forget_login(id),
            MenuAction::EditSession(id) => self.edit_session(id),
            MenuAction::Duplicate(id) => {
                let Some(session) = self.catalog.get(id) else {
                    return;
                };
                let kind = session.kind.tag();
                let Some(form) = forms::duplicate(&self.catalog, session) else {
                    return;
                };
                if let Some((new, keys)) = ask(&self.dialogs, form, |v| {
                    forms::parse_add(&self.catalog, kind, v)
                }) {
                    self.send(Command::Add(Box::new(new), keys));
                }
            }
            MenuAction::StartAtLogin => self.send(Command::SetStartAtLogin(
                !self.start_at_login.load(Ordering::SeqCst),
            )),
            MenuAction::Console(id) => self.send(Command::Console(id)),
            MenuAction::Chain(id) => {
                if let Some(command) = self.chain_form(id) {
                    self.send(command);
                }
            }
            MenuAction::Delete(id) => {
                let message = format!(
                    "Delete session \"{}\"? Its keys are removed from the keychain.",
                    alias(id)
                );
                if self.dialogs.confirm("credtray — Delete session", &message) {
                    self.send(Command::Delete(id));
                }
            }
            MenuAction::Edit(id, param) => {
                if let Some(edit) = self.edit_form(id, param) {
                    self.send(Command::Edit(id, Box::new(edit)));
                }
            }
            MenuAction::SetProfile(id, profile) => match profile.parse::<ProfileName>() {
                Ok(profile) => self.send_edit(
                    id,
                    Edit {
                        profile: Some(profile),
                        ..Edit::default()
                    },
                ),
                Err(e) => worker::notify("Could not change the named profile", &e.to_string()),
            },
            MenuAction::NewProfile(id) => {
                let form = Form::new(
                    format!("credtray — New named profile for \"{}\"", alias(id)),
                    vec![Entry::text("Named profile", "")],
                );
                if let Some(profile) = ask(&self.dialogs, form, |v| {
                    v[0].trim()
                        .parse::<ProfileName>()
                        .map_err(|e| e.to_string())
                }) {
                    self.send_edit(
                        id,
                        Edit {
                            profile: Some(profile),
                            ..Edit::default()
                        },
                    );
                }
            }
            MenuAction::SetRegion(id, region) => self.send_edit(
                id,
                Edit {
                    region: Some(region),
                    ..Edit::default()
                },
            ),
            MenuAction::SetPublish(id, publish) => self.send_edit(
                id,
                Edit {
                    publish: Some(publish),
                    ..Edit::default()
                },
            ),
            MenuAction::SetAssumer(id, assumer) => self.send_edit(
                id,
                Edit {
                    values: vec![Value::Assumer(assumer)],
                    ..Edit::default()
                },
            ),
            MenuAction::Add(kind) => {
                if let Some(command) = self.add_form(kind) {
                    self.send(command);
                }
            }
            MenuAction::Login(id) => self.send(Command::Login(id)),
            MenuAction::Logout(id) => {
                if let Some(question) = forms::logout_question(&self.catalog, id)
                    && self.dialogs.confirm("credtray — Log out", &question)
                {
                    self.send(Command::Logout(id));
                }
            }
            MenuAction::Sync(id) => self.send(Command::Sync(id)),
            MenuAction::Import => self.send(Command::OfferImport { asked: true }),
            MenuAction::AddIntegration => {
                if let Some(new) = ask(
                    &self.dialogs,
                    forms::integration(&self.catalog, None),
                    |v| forms::parse_new_integration(&self.catalog, v),
                ) {
                    self.send(Command::AddIntegration(new));
                }
            }
            MenuAction::EditIntegration(id) => {
                let Some(current) = self.catalog.integration(id) else {
                    return;
                };
                if let Some(edit) = ask(
                    &self.dialogs,
                    forms::integration(&self.catalog, Some(current)),
                    |v| forms::parse_integration_edit(&self.catalog, id, v),
                ) && !edit.is_empty()
                {
                    self.send(Command::EditIntegration(id, edit));
                }
            }
            MenuAction::DeleteIntegration(id) => {
                let Some(integration) = self.catalog.integration(id) else {
                    return;
                };
                let message = format!(
                    "Delete integration \"{}\" and its {} sessions? Its tokens are removed from the keychain.",
                    integration.alias,
                    self.catalog.derived_from(id).count()
                );
                if self
                    .dialogs
                    .confirm("credtray — Delete integration", &message)
                {
                    self.send(Command::DeleteIntegration(id));
                }
            }
            MenuAction::Quit | MenuAction::Info(_) => {}
        }
    }

    /// The import offer the engine made (on a first run, credtray having no session or
    /// integration, or asked for from the first-run menu's Import item): a dialog lists what
    /// it would make; the answer goes back to the engine, which remembers the offer was made
    /// (so a first run offers it once) and imports if accepted.
    fn offer_import(&self, offer: &str) {
        let accepted = self.dialogs.choose(
            "credtray — Import your AWS profiles",
            "Import the profiles of ~/.aws as credtray sessions?",
            &format!(
                "{offer}\n\nYour ~/.aws files stay as they are. To take the long-term keys off the disk afterwards, run: credtray import aws-config --move-keys"
            ),
            "_Import",
        );
        self.send(Command::ImportOffered { accepted });
    }

    /// *Find session…*: the search window over the catalog as it is now; Enter starts or stops
    /// the session chosen, the secondary button opens its edit form.
    fn find(&mut self) {
        let catalog = self.catalog.clone();
        let search = std::rc::Rc::new(move |query: &str| {
            credtray::session::search(&catalog, query)
                .into_iter()
                .map(|s| (s.id, menu::label_of(&catalog, s)))
                .collect()
        });
        match self.dialogs.find(search) {
            Some((id, dialog::Found::StartStop)) => self.on_action(MenuAction::StartStop(id)),
            Some((id, dialog::Found::Edit)) => self.on_action(MenuAction::EditSession(id)),
            None => {}
        }
    }

    /// A toast with a *Log in* action for an integration a credential_process call found logged
    /// out; said once per integration every ten minutes, however often the AWS tools ask.
    fn offer_login(&mut self, alias: &str) {
        let Ok(integration) = self.catalog.resolve_integration(alias) else {
            return;
        };
        let id = integration.id;
        let now = Instant::now();
        if self
            .offered
            .get(&id)
            .is_some_and(|at| now.duration_since(*at) < OFFER_LOGIN_EVERY)
        {
            return;
        }
        self.offered.insert(id, now);
        self.offer(
            format!("Log in to {alias}"),
            format!(
                "An AWS tool asked for credentials of a session of \"{alias}\", which is logged out."
            ),
            Command::Login(id),
        );
    }

    /// A rotation could not refresh a federated session without the person: a toast whose
    /// *Log in* starts it again with the login window (never a window opened unasked).
    fn offer_saml_login(&self, id: SessionId) {
        let Some(session) = self.catalog.get(id) else {
            return;
        };
        self.offer(
            format!("Log in for {}", session.alias),
            format!(
                "Session \"{}\" could not be refreshed: its identity provider wants you to log in again.",
                session.alias
            ),
            Command::Start(id),
        );
    }

    /// Edit session…: the whole form; Test sends a dry run of what is typed (the form shows
    /// its result and stays open), Save sends the edit (an active session restarts).
    fn edit_session(&self, id: SessionId) {
        let Some(session) = self.catalog.get(id).cloned() else {
            return;
        };
        let form = forms::edit_session(&self.catalog, &session);
        let parse = |v: &[zeroize::Zeroizing<String>]| {
            forms::parse_session_edit(&self.catalog, &session, v)
        };
        let test = |v: &[zeroize::Zeroizing<String>]| {
            let edit = parse(v)?;
            let (reply, answer) = mpsc::channel();
            self.send(Command::TestEdit(id, Box::new(edit), reply));
            Ok(answer)
        };
        let Some(values) = self
            .dialogs
            .edit_form(&form, &|v| parse(v).map(drop), &test)
        else {
            return;
        };
        match parse(&values) {
            Ok(edit) if edit.is_empty() => {}
            Ok(edit) => self.send(Command::Edit(id, Box::new(edit))),
            Err(refusal) => tracing::warn!(?refusal, "an edit accepted by the form was refused"),
        }
    }

    /// Network…: `form` until its values are valid or it is cancelled; the engine saves them
    /// (and sends the form back with its reason if it can't: a CA bundle it can't read).
    fn network(&self, form: Form) {
        let before = &self.catalog.settings.network;
        if let Some((settings, password)) =
            ask(&self.dialogs, form, |v| forms::parse_network(before, v))
        {
            self.send(Command::SetNetwork(Box::new(settings), password));
        }
    }

    /// Forget IdP login…: the confirmation names every session that shares the SAML 2.0 URL
    /// (all of them log in again); the engine removes the cookies.
    fn forget_login(&self, id: SessionId) {
        let Some(session) = self.catalog.get(id) else {
            return;
        };
        let credtray::session::SessionKind::IamRoleFederated { saml_url, .. } = &session.kind
        else {
            return;
        };
        let others: Vec<String> = credtray::saml_login::sharing(&self.catalog, saml_url)
            .into_iter()
            .filter(|s| s.id != id)
            .map(|s| format!("\"{}\"", s.alias))
            .collect();
        let mut message = format!(
            "Forget the identity provider login of \"{}\"? Its next start shows the login form of {saml_url} again.",
            session.alias
        );
        if !others.is_empty() {
            message.push_str(&format!(
                "\n\nThe login is shared by every session with that URL, so this logs out {} too.",
                others.join(", ")
            ));
        }
        if self
            .dialogs
            .confirm("credtray — Forget IdP login", &message)
        {
            self.send(Command::ForgetLogin(id));
        }
    }

    /// A toast with a *Log in* action that sends `command` when clicked.
    fn offer(&self, summary: String, body: String, command: Command) {
        let commands = self.commands.clone();
        let spawned = std::thread::Builder::new()
            .name("credtray-offer".to_owned())
            .spawn(move || {
                worker::offer(&summary, &body, "Log in", || {
                    let _ = commands.send(command);
                })
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot offer the login");
        }
    }

    /// An edit that the catalog would refuse is not sent; the refusal is shown instead.
    fn send_edit(&self, id: SessionId, edit: Edit) {
        match self.catalog.clone().edit(id, &edit) {
            Ok(_) => self.send(Command::Edit(id, Box::new(edit))),
            Err(e) => worker::notify("Could not change the session", &e.to_string()),
        }
    }

    /// The dialog for one text or secret parameter, pre-filled with its value (secrets empty
    /// and masked), re-opened until the value is valid for this session.
    fn edit_form(&self, id: SessionId, param: Field) -> Option<Edit> {
        let session = self.catalog.get(id)?;
        ask(
            &self.dialogs,
            forms::edit(&self.catalog, session, param),
            |v| forms::parse_edit(&self.catalog, id, param, &v[0]),
        )
    }

    /// Create chained session…: the role ARN, with alias and role session name pre-filled,
    /// then an offer to start it.
    fn chain_form(&self, id: SessionId) -> Option<Command> {
        let parent = self.catalog.get(id)?;
        let chain = ask(&self.dialogs, forms::chain(parent), |v| {
            forms::parse_chain(&self.catalog, v)
        })?;
        let alias = chain.alias.as_ref().map_or("", |a| a.as_str());
        let start = self.dialogs.confirm(
            "credtray — Chained session created",
            &format!("Start \"{alias}\" now? It writes to the named profile \"default\"."),
        );
        Some(Command::Chain {
            assumer: id,
            chain,
            start,
        })
    }

    /// Add session ▸: every field of the chosen type in one form.
    fn add_form(&self, kind: Kind) -> Option<Command> {
        let form = forms::add(&self.catalog, kind)?;
        let (new, keys) = ask(&self.dialogs, form, |v| {
            forms::parse_add(&self.catalog, kind, v)
        })?;
        Some(Command::Add(Box::new(new), keys))
    }

    /// A dialog for what the engine needs from the person: a secret (kept as one from the
    /// dialog on) or a yes; `None` when cancelled.
    fn answer(&self, question: &Question) -> Option<Answer> {
        match question {
            Question::MfaCode {
                alias,
                device,
                note,
            } => {
                let mut form = Form::new(
                    format!("credtray — MFA code for \"{alias}\""),
                    vec![Entry::text(format!("Code from {device}"), "")],
                );
                form.error = note.clone();
                ask(&self.dialogs, form, |v| {
                    v[0].parse::<MfaCode>()
                        .map(|c| Answer::Secret(SecretString::from(c.as_str())))
                        .map_err(|e| e.to_string())
                })
            }
            Question::LoginCode {
                integration,
                code,
                url,
                finished,
            } => {
                let text = format!(
                    "Confirm the code {code} in the browser window that opened for \"{integration}\" (or open {url}).\n\nWaiting for the approval; the sessions are synced once it comes, and this closes by itself."
                );
                self.dialogs
                    .wait(
                        &format!("credtray — Log in to \"{integration}\""),
                        &text,
                        finished.clone(),
                    )
                    .then_some(Answer::Yes)
            }
            // A yes/no box with no default button: Enter must not destroy the only copy of
            // the keys (`choose` puts its accept button on Enter).
            Question::Passphrase { path, new, retry } => {
                let (title, fields) = if *new {
                    (
                        "credtray — Choose the file keychain's passphrase",
                        vec![
                            Entry::secret(format!("New passphrase for {path}")),
                            Entry::secret("The same passphrase again"),
                        ],
                    )
                } else {
                    (
                        "credtray — Unlock the file keychain",
                        vec![Entry::secret(format!("Passphrase of {path}"))],
                    )
                };
                let mut form = Form::new(title, fields);
                if *retry {
                    form.error = Some("Wrong passphrase. Try again.".to_owned());
                }
                ask(&self.dialogs, form, forms::passphrase)
                    .map(Answer::Secret)
            }
            Question::DiscardKeys { alias, message } => self
                .dialogs
                .confirm(
                    "credtray — Delete session",
                    &format!(
                        "Delete \"{alias}\" and discard its long-term keys?\n\n{message}\n\nYes deletes the session and destroys the keys; No keeps both."
                    ),
                )
                .then_some(Answer::Yes),
            Question::TakeOver { alias, message } => {
                let text = format!(
                    "Starting \"{alias}\": {message}\n\nTake it over? A copy of the section is saved first, and it is put back as it was when the session stops."
                );
                self.dialogs
                    .confirm("credtray — Take over an existing profile?", &text)
                    .then_some(Answer::Yes)
            }
        }
    }
}

fn icon_of(look: icon::Look) -> anyhow::Result<Icon> {
    Icon::from_rgba(icon::rgba(look), icon::SIZE, icon::SIZE).context("cannot make the tray icon")
}

fn tooltip(catalog: &Catalog) -> String {
    let active = catalog
        .sessions()
        .iter()
        .filter(|s| s.state == credtray::session::State::Active)
        .count();
    match active {
        0 => "credtray — no session active".to_owned(),
        1 => "credtray — 1 session active".to_owned(),
        n => format!("credtray — {n} sessions active"),
    }
}
