//! The tray: `credtray` with no arguments. The tao event loop owns the GTK main thread and
//! sleeps in `ControlFlow::Wait`; the engine runs on its own thread (`worker`) and wakes the
//! loop through an `EventLoopProxy`. The menu is data (`menu`), rendered by one thin layer
//! (`render`); menu ids are typed (`action`); dialogs are a pure model with a GTK view
//! (`dialog`); `icon` draws the three icons.

pub mod action;
pub mod dialog;
pub mod icon;
pub mod menu;
pub mod render;
mod worker;

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tray_icon::menu::MenuEvent;
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use crate::aws::sts::Sdk;
use crate::awsfiles::Files;
use crate::engine::Engine;
use crate::secrets::Keychain;
use crate::session::{
    AccessKeyId, Alias, Catalog, Edit, Field as SessionField, IamUserKeys, IdpArn, Kind, MfaCode,
    MfaDevice, NewSession, ProfileName, RoleArn, RoleSessionName, SamlUrl, SecretAccessKey,
    SessionId, SessionKind, ValidationError,
};
use crate::store::Store;
use action::{MenuAction, Param};
use dialog::{Dialogs, Field, Form, ask};
use worker::{Command, Question};

/// What wakes the event loop.
pub enum UserEvent {
    Menu(MenuEvent),
    Catalog(Box<Catalog>),
    Ask(Question, Sender<Option<String>>),
}

/// Runs the tray until Quit.
pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let store = Store::from_env()?;
    crate::atomic::create_dir(store.dir(), 0o700).context("cannot create the config directory")?;
    // One tray per user: a second start finds the lock held and says so.
    let lock_path = store.dir().join("tray.lock");
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if lock_file.try_lock().is_err() {
        anyhow::bail!(
            "credtray is already running (the tray holds {})",
            lock_path.display()
        );
    }
    let catalog = store.load().unwrap_or_default();
    let engine = Engine::new(
        store,
        Arc::new(Keychain),
        Files::from_env()?,
        Arc::new(Sdk::new().context("cannot start the STS client")?),
    );

    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    let menu_proxy = Mutex::new(proxy.clone());
    MenuEvent::set_event_handler(Some(move |event| {
        if let Ok(proxy) = menu_proxy.lock() {
            let _ = proxy.send_event(UserEvent::Menu(event));
        }
    }));
    let (commands, receiver) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("credtray-engine".to_owned())
        .spawn(move || worker::run(engine, proxy, receiver))
        .context("cannot start the engine thread")?;

    let mut app = App {
        commands,
        worker: Some(worker),
        renderer: render::Renderer::new(menu::build(&catalog)),
        catalog,
        tray: None,
        look: None,
        dialogs: dialog::Gtk,
        _lock: lock_file,
    };
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            Event::NewEvents(StartCause::Init) => {
                if let Err(e) = app.show() {
                    eprintln!("credtray: {e:#}");
                    *control_flow = ControlFlow::Exit;
                    return;
                }
                tracing::info!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "tray icon and menu registered"
                );
            }
            Event::UserEvent(UserEvent::Catalog(catalog)) => app.show_catalog(*catalog),
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
            _ => {}
        }
    })
}

struct App {
    commands: Sender<Command>,
    worker: Option<std::thread::JoinHandle<()>>,
    renderer: render::Renderer,
    catalog: Catalog,
    tray: Option<TrayIcon>,
    look: Option<icon::Look>,
    dialogs: dialog::Gtk,
    _lock: std::fs::File,
}

impl App {
    fn show(&mut self) -> anyhow::Result<()> {
        let look = icon::Look::of(&self.catalog);
        let runtime =
            std::env::var_os("XDG_RUNTIME_DIR").map_or_else(std::env::temp_dir, Into::into);
        let tray = TrayIconBuilder::new()
            .with_id("credtray")
            .with_menu(Box::new(self.renderer.menu().clone()))
            .with_tooltip(tooltip(&self.catalog))
            .with_icon(icon_of(look)?)
            .with_temp_dir_path(runtime.join(format!("credtray-{}", std::process::id())))
            .build()
            .context("cannot create the tray icon")?;
        self.tray = Some(tray);
        self.look = Some(look);
        Ok(())
    }

    fn show_catalog(&mut self, catalog: Catalog) {
        let started = Instant::now();
        let model = menu::build(&catalog);
        let built_in = started.elapsed();
        let changes = self.renderer.update(model);
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
        self.catalog = catalog;
        tracing::info!(
            elapsed_us = started.elapsed().as_micros() as u64,
            model_us = built_in.as_micros() as u64,
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

    fn quit(&mut self) {
        self.send(Command::Quit);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
        self.tray = None;
    }

    /// Every menu action, mapped to a dialog and an engine command in one place.
    fn on_action(&mut self, action: MenuAction) {
        if matches!(
            action,
            MenuAction::SetProfile(..) | MenuAction::SetRegion(..) | MenuAction::SetAssumer(..)
        ) {
            // A radio item shows the choice once the engine has applied it, not on the click.
            self.renderer.restore(&action.to_string());
        }
        let alias = |id: SessionId| {
            self.catalog
                .get(id)
                .map(|s| s.alias.to_string())
                .unwrap_or_default()
        };
        match action {
            MenuAction::Start(id) => self.send(Command::Start(id)),
            MenuAction::Stop(id) => self.send(Command::Stop(id)),
            MenuAction::StopAll => self.send(Command::StopAll),
            MenuAction::Test(id) => self.send(Command::Test(id)),
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
                    vec![Field::text("Named profile", "")],
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
            MenuAction::SetAssumer(id, assumer) => self.send_edit(
                id,
                Edit {
                    assumer: Some(assumer),
                    ..Edit::default()
                },
            ),
            MenuAction::Add(kind) => {
                if let Some(command) = self.add_form(kind) {
                    self.send(command);
                }
            }
            MenuAction::Quit | MenuAction::Info(_) => {}
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
    fn edit_form(&self, id: SessionId, param: Param) -> Option<Edit> {
        let session = self.catalog.get(id)?.clone();
        let current = current_value(&self.catalog, &session, param);
        let field = match param {
            _ if param.is_secret() => Field::secret(param.label()),
            Param::Profile => Field::choice(
                param.label(),
                current,
                self.catalog
                    .profiles()
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            ),
            Param::Region => Field::choice(
                param.label(),
                current,
                crate::aws::regions().map(|r| r.code.to_owned()).collect(),
            ),
            Param::Assumer => Field::choice(
                param.label(),
                current,
                self.catalog
                    .sessions()
                    .iter()
                    .filter(|s| s.id != id)
                    .map(|s| s.alias.to_string())
                    .collect(),
            ),
            _ => Field::text(param.label(), current),
        };
        let form = Form::new(
            format!("credtray — Edit \"{}\"", session.alias),
            vec![field],
        );
        let catalog = self.catalog.clone();
        ask(&self.dialogs, form, |values| {
            let edit = parse_param(&catalog, param, &values[0]).map_err(|e| e.to_string())?;
            catalog.clone().edit(id, &edit).map_err(|e| e.to_string())?;
            Ok(edit)
        })
    }

    /// Create chained session…: the role ARN, with alias and role session name pre-filled.
    fn chain_form(&self, id: SessionId) -> Option<Command> {
        let parent = self.catalog.get(id)?.clone();
        let alias = format!("{} chained", parent.alias);
        let rsn = RoleSessionName::derived_from(&parent.alias).to_string();
        let form = Form::new(
            format!(
                "credtray — Create chained session from \"{}\"",
                parent.alias
            ),
            vec![
                Field::text("Role ARN", ""),
                Field::text("Session alias", alias),
                Field::text("Role session name", rsn),
            ],
        );
        let catalog = self.catalog.clone();
        let (role_arn, alias, role_session_name) = ask(&self.dialogs, form, |v| {
            let role_arn: RoleArn = v[0].parse().map_err(|e: ValidationError| e.to_string())?;
            let alias: Alias = v[1].parse().map_err(|e: ValidationError| e.to_string())?;
            let rsn: RoleSessionName = v[2].parse().map_err(|e: ValidationError| e.to_string())?;
            if catalog.resolve(alias.as_str()).is_ok() {
                return Err(format!(
                    "another session is already called {:?}",
                    alias.as_str()
                ));
            }
            Ok((role_arn, alias, rsn))
        })?;
        let start = self.dialogs.confirm(
            "credtray — Chained session created",
            &format!("Start \"{alias}\" now? It writes to the named profile \"default\"."),
        );
        Some(Command::Chain {
            assumer: id,
            role_arn,
            alias,
            role_session_name,
            start,
        })
    }

    /// Add session ▸: every field of the chosen type in one form.
    fn add_form(&self, kind: Kind) -> Option<Command> {
        let region = self.catalog.settings.default_region.to_string();
        let mut fields = vec![
            Field::text("Session alias", ""),
            Field::text("Named profile", "default"),
            Field::text("AWS region", region),
        ];
        match kind {
            Kind::IamUser => fields.extend([
                Field::text("MFA device (optional)", ""),
                Field::secret("Access key ID"),
                Field::secret("Secret access key"),
            ]),
            Kind::IamRoleChained => fields.extend([
                Field::text("Role ARN", ""),
                Field::text("Role session name (optional)", ""),
                Field::text("Assumer session", ""),
            ]),
            Kind::IamRoleFederated => fields.extend([
                Field::text("Role ARN", ""),
                Field::text("SAML 2.0 URL", "https://"),
                Field::text("Identity provider ARN", ""),
            ]),
            Kind::AwsSsoRole => return None,
        }
        let form = Form::new(format!("credtray — Add {kind} session"), fields);
        let catalog = self.catalog.clone();
        let (new, keys) = ask(&self.dialogs, form, |v| {
            let e = |e: ValidationError| e.to_string();
            let optional = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
            let (kind, keys) = match kind {
                Kind::IamUser => {
                    let mfa_device = optional(&v[3])
                        .map(|m| m.parse::<MfaDevice>())
                        .transpose()
                        .map_err(e)?;
                    let keys = IamUserKeys {
                        access_key_id: AccessKeyId::parse(&secrecy::SecretString::from(
                            v[4].clone(),
                        ))
                        .map_err(e)?,
                        secret_access_key: SecretAccessKey::parse(&secrecy::SecretString::from(
                            v[5].clone(),
                        ))
                        .map_err(e)?,
                    };
                    (SessionKind::IamUser { mfa_device }, Some(keys))
                }
                Kind::IamRoleChained => {
                    let assumer = catalog
                        .resolve(&v[5])
                        .map_err(|_| {
                            format!(
                                "invalid assumer session: no session has the id or alias {:?}",
                                v[5]
                            )
                        })?
                        .id;
                    let role_session_name = optional(&v[4])
                        .map(|n| n.parse::<RoleSessionName>())
                        .transpose()
                        .map_err(e)?;
                    (
                        SessionKind::IamRoleChained {
                            role_arn: v[3].parse().map_err(e)?,
                            role_session_name,
                            assumer,
                        },
                        None,
                    )
                }
                _ => (
                    SessionKind::IamRoleFederated {
                        role_arn: v[3].parse().map_err(e)?,
                        saml_url: v[4].parse::<SamlUrl>().map_err(e)?,
                        idp_arn: v[5].parse::<IdpArn>().map_err(e)?,
                    },
                    None,
                ),
            };
            let new = NewSession {
                alias: v[0].parse().map_err(e)?,
                profile: Some(v[1].trim().parse().map_err(e)?),
                region: Some(v[2].trim().to_owned()),
                kind,
            };
            catalog
                .clone()
                .add(new.clone())
                .map_err(|e| e.to_string())?;
            Ok((new, keys))
        })?;
        Some(Command::Add(Box::new(new), keys))
    }

    /// A dialog for what the engine needs from the person; `None` when cancelled.
    fn answer(&self, question: &Question) -> Option<String> {
        match question {
            Question::MfaCode {
                alias,
                device,
                again,
            } => {
                let mut form = Form::new(
                    format!("credtray — MFA code for \"{alias}\""),
                    vec![Field::text(format!("Code from {device}"), "")],
                );
                if *again {
                    form.error = Some("That code was just used. Wait for the next one.".to_owned());
                }
                ask(&self.dialogs, form, |v| {
                    v[0].parse::<MfaCode>()
                        .map(|c| c.as_str().to_owned())
                        .map_err(|e| e.to_string())
                })
            }
            Question::SamlAssertion { alias } => {
                let form = Form::new(
                    format!("credtray — SAML login for \"{alias}\""),
                    vec![Field::secret("SAML assertion (base64)")],
                );
                ask(&self.dialogs, form, |v| {
                    let a = v[0].trim();
                    if a.len() < 4 {
                        Err("paste the base64 SAML response from your identity provider".to_owned())
                    } else {
                        Ok(a.to_owned())
                    }
                })
            }
            Question::TakeOver { alias, message } => {
                let text = format!(
                    "Starting \"{alias}\": {message}\n\nTake it over? A copy of the section is saved first."
                );
                self.dialogs
                    .confirm("credtray — Take over an existing profile?", &text)
                    .then(|| "yes".to_owned())
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
        .filter(|s| s.state == crate::session::State::Active)
        .count();
    match active {
        0 => "credtray — no session active".to_owned(),
        1 => "credtray — 1 session active".to_owned(),
        n => format!("credtray — {n} sessions active"),
    }
}

fn current_value(catalog: &Catalog, session: &crate::session::Session, param: Param) -> String {
    match (param, &session.kind) {
        (Param::Alias, _) => session.alias.to_string(),
        (Param::Profile, _) => session.profile.to_string(),
        (Param::Assumer, SessionKind::IamRoleChained { assumer, .. }) => catalog
            .get(*assumer)
            .map(|a| a.alias.to_string())
            .unwrap_or_default(),
        (Param::Region, _) => session.region.to_string(),
        (Param::MfaDevice, SessionKind::IamUser { mfa_device }) => mfa_device
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        (
            Param::RoleArn,
            SessionKind::IamRoleChained { role_arn, .. }
            | SessionKind::IamRoleFederated { role_arn, .. },
        ) => role_arn.to_string(),
        (
            Param::RoleSessionName,
            SessionKind::IamRoleChained {
                role_session_name, ..
            },
        ) => role_session_name
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        (Param::SamlUrl, SessionKind::IamRoleFederated { saml_url, .. }) => saml_url.to_string(),
        (Param::IdpArn, SessionKind::IamRoleFederated { idp_arn, .. }) => idp_arn.to_string(),
        _ => String::new(),
    }
}

/// The edit a dialog's value stands for.
fn parse_param(catalog: &Catalog, param: Param, value: &str) -> Result<Edit, ValidationError> {
    let value = value.trim();
    let secret = || secrecy::SecretString::from(value.to_owned());
    let optional = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    Ok(match param {
        Param::Alias => Edit {
            alias: Some(value.parse()?),
            ..Edit::default()
        },
        Param::Profile => Edit {
            profile: Some(value.parse()?),
            ..Edit::default()
        },
        Param::Region => {
            catalog.parse_region(value)?;
            Edit {
                region: Some(value.to_owned()),
                ..Edit::default()
            }
        }
        Param::MfaDevice => Edit {
            mfa_device: Some(optional(value).map(|v| v.parse()).transpose()?),
            ..Edit::default()
        },
        Param::AccessKeyId => Edit {
            access_key_id: Some(AccessKeyId::parse(&secret())?),
            ..Edit::default()
        },
        Param::SecretAccessKey => Edit {
            secret_access_key: Some(SecretAccessKey::parse(&secret())?),
            ..Edit::default()
        },
        Param::RoleArn => Edit {
            role_arn: Some(value.parse()?),
            ..Edit::default()
        },
        Param::RoleSessionName => Edit {
            role_session_name: Some(optional(value).map(|v| v.parse()).transpose()?),
            ..Edit::default()
        },
        Param::Assumer => {
            let assumer = catalog
                .resolve(value)
                .map_err(|_| {
                    ValidationError::new(
                        SessionField::Assumer,
                        format!("no session has the id or alias {value:?}"),
                    )
                })?
                .id;
            Edit {
                assumer: Some(assumer),
                ..Edit::default()
            }
        }
        Param::SamlUrl => Edit {
            saml_url: Some(value.parse()?),
            ..Edit::default()
        },
        Param::IdpArn => Edit {
            idp_arn: Some(value.parse()?),
            ..Edit::default()
        },
    })
}
