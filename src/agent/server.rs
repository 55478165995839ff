//! The agent's side: answers each connection on its own thread from one set of shared parts
//! (the store, one keychain connection, one STS client, the credentials in memory), with one
//! AWS call per session at a time (single flight), and refreshes remembered credentials in the
//! background as they become due.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use zeroize::Zeroizing;

use super::protocol::{
    Answer, Ask, ErrorKind, MAX_MESSAGE, PROTOCOL, Reply, Request, Sealed, Secrets,
};
use super::socket::{self, Bound, Stream};
use crate::aws::{Credentials, Sts};
use crate::awsfiles::Files;
use crate::engine::{self, Engine, NoPrompt, Prompt, Remembered};
use crate::secrets::SecretStore;
use crate::session::SessionId;
use crate::store::Store;

/// How often remembered credentials are checked for a due refresh.
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// Told of a request's failure.
pub type ErrorObserver = Box<dyn Fn(&engine::Error) + Send + Sync>;

/// Makes the prompt a request may use: the tray's dialogs, or none (headless).
pub type PromptFactory = Box<dyn Fn() -> Box<dyn Prompt> + Send + Sync>;

/// Everything an agent shares between its connections.
pub struct Agent {
    store: Store,
    files: Files,
    secrets: Arc<dyn SecretStore>,
    sts: Arc<dyn Sts>,
    remembered: Arc<Remembered>,
    flights: Mutex<HashMap<SessionId, Arc<Mutex<()>>>>,
    prompt: PromptFactory,
    sso: Option<Arc<dyn crate::aws::sso::Sso>>,
    /// Told of every failed request (the tray offers a login for a logged-out integration).
    on_error: Option<ErrorObserver>,
    tray: bool,
    stopping: AtomicBool,
    /// The store its secrets are in, and the file store when that is the one (which it may
    /// lock and unlock, and serve to other commands while open).
    backend: crate::secrets::Backend,
    keychain: Option<Arc<crate::secrets::chosen::FileKeychain>>,
}

impl Agent {
    /// A headless agent: requests that need a person fail with a clear error.
    pub fn new(
        store: Store,
        secrets: Arc<dyn SecretStore>,
        files: Files,
        sts: Arc<dyn Sts>,
    ) -> Self {
        Self {
            store,
            files,
            secrets,
            sts,
            remembered: Arc::new(Remembered::new()),
            flights: Mutex::new(HashMap::new()),
            prompt: Box::new(|| Box::new(NoPrompt)),
            sso: None,
            on_error: None,
            tray: false,
            stopping: AtomicBool::new(false),
            backend: crate::secrets::Backend::Os,
            keychain: None,
        }
    }

    /// Its secrets are in `backend`; `keychain` is the file store when that is the one.
    pub fn with_keychain(
        mut self,
        backend: crate::secrets::Backend,
        keychain: Option<Arc<crate::secrets::chosen::FileKeychain>>,
    ) -> Self {
        self.backend = backend;
        self.keychain = keychain;
        self
    }

    /// Serves sessions derived from IAM Identity Center integrations too.
    pub fn with_sso(mut self, sso: Arc<dyn crate::aws::sso::Sso>) -> Self {
        self.sso = Some(sso);
        self
    }

    /// Calls `observe` with the error of every request that fails.
    pub fn on_error(mut self, observe: impl Fn(&engine::Error) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Box::new(observe));
        self
    }

    /// The tray's agent: requests may ask the person through `prompt`.
    pub fn with_prompt(mut self, prompt: PromptFactory) -> Self {
        self.prompt = prompt;
        self.tray = true;
        self
    }

    /// The credentials this agent keeps in memory.
    pub fn remembered(&self) -> &Arc<Remembered> {
        &self.remembered
    }

    fn engine(&self) -> Engine {
        let mut engine = Engine::new(
            self.store.clone(),
            self.secrets.clone(),
            self.files.clone(),
            self.sts.clone(),
        );
        engine.remember_in(self.remembered.clone());
        match &self.sso {
            Some(sso) => engine.with_sso(sso.clone()),
            None => engine,
        }
    }

    /// The session's lock: one AWS call per session at a time; the others wait and then find
    /// the credentials in memory.
    fn flight(&self, id: SessionId) -> Arc<Mutex<()>> {
        self.flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_default()
            .clone()
    }

    /// A session's credentials (by id or alias): from memory while fresh, else obtained once
    /// however many ask at the same time.
    pub fn credentials(&self, session: &str) -> Result<Credentials, engine::Error> {
        let mut engine = self.engine();
        let catalog = engine.catalog()?;
        let id = catalog.resolve(session)?.id;
        let flight = self.flight(id);
        let _one_at_a_time = flight.lock().unwrap_or_else(PoisonError::into_inner);
        let mut prompt = (self.prompt)();
        engine.credentials_in(&catalog, id, prompt.as_mut())
    }

    /// The reply to one request.
    pub fn answer(&self, request: Request) -> Reply {
        if request.version != PROTOCOL {
            return Reply::error(
                ErrorKind::Protocol,
                format!(
                    "this agent speaks protocol version {PROTOCOL}, the request {}",
                    request.version
                ),
            );
        }
        match request.body {
            Ask::Hello => Reply::new(Answer::Hello {
                pid: std::process::id(),
                tray: self.tray,
            }),
            // A headless agent whose file keychain is locked can ask nobody: the command does
            // the work itself (and asks on its own terminal).
            Ask::Credentials { .. }
                if !self.tray && self.keychain.as_ref().is_some_and(|k| !k.is_open()) =>
            {
                Reply::error(
                    ErrorKind::Locked,
                    "the agent's file keychain is locked: `credtray agent unlock` opens it",
                )
            }
            Ask::Credentials { session } => match self.credentials(&session) {
                Ok(c) => Reply::new(Answer::Credentials(secrets(&c))),
                Err(e) => {
                    if let Some(observe) = &self.on_error {
                        observe(&e);
                    }
                    Reply::error(kind_of(&e), crate::error_sentence(&e))
                }
            },
            Ask::HandOver => {
                self.stopping.store(true, Ordering::SeqCst);
                Reply::new(Answer::HandingOver)
            }
            ask => self.keychain_answer(ask),
        }
    }

    /// The reply to a request about the file store: its state, locking and unlocking it, and
    /// its items while it is open (never opened for a request: a closed store is `Locked`).
    fn keychain_answer(&self, ask: Ask) -> Reply {
        use crate::secrets::Key;
        let Some(keychain) = &self.keychain else {
            return match ask {
                Ask::KeychainStatus => Reply::new(Answer::Keychain {
                    store: self.backend.as_str().to_owned(),
                    open: false,
                    path: None,
                }),
                _ => Reply::error(
                    ErrorKind::Locked,
                    format!(
                        "the agent keeps no file keychain open: it uses {}",
                        self.backend.describe()
                    ),
                ),
            };
        };
        let store = match ask {
            Ask::KeychainStatus => {
                return Reply::new(Answer::Keychain {
                    store: self.backend.as_str().to_owned(),
                    open: keychain.is_open(),
                    path: Some(keychain.path().display().to_string()),
                });
            }
            Ask::KeychainLock => {
                let was_open = keychain.close();
                // What was read from the store goes with it.
                self.remembered.retain(|_, _| false);
                tracing::info!(was_open, "the file keychain is locked");
                return Reply::new(Answer::Done);
            }
            Ask::KeychainUnlock { passphrase } => {
                if passphrase.0.is_empty() {
                    return Reply::error(
                        ErrorKind::Invalid,
                        "an empty passphrase is not a passphrase",
                    );
                }
                let passphrase = secrecy::SecretString::from(passphrase.0.as_str());
                return match keychain.unlock(passphrase) {
                    Ok(()) => Reply::new(Answer::Done),
                    Err(e) => Reply::error(ErrorKind::Unavailable, e.to_string()),
                };
            }
            _ => match keychain.if_open() {
                Some(store) => store,
                None => {
                    return Reply::error(
                        ErrorKind::Locked,
                        format!(
                            "the agent's file keychain {} is locked",
                            keychain.path().display()
                        ),
                    );
                }
            },
        };
        let key = |account: &str| Key::parse(account).ok_or_else(|| Box::new(refused(account)));
        let failed = |e: crate::secrets::Error| Reply::error(ErrorKind::Unavailable, e.to_string());
        match ask {
            Ask::SecretGet { account } => match key(&account) {
                Err(refused) => *refused,
                Ok(key) => match store.get(key) {
                    Ok(value) => Reply::new(Answer::Secret {
                        value: value.map(|v| Sealed::new(secrecy::ExposeSecret::expose_secret(&v))),
                    }),
                    Err(e) => failed(e),
                },
            },
            Ask::SecretSet { account, value } => match key(&account) {
                Err(refused) => *refused,
                Ok(key) => match store.set(key, &secrecy::SecretString::from(value.0.as_str())) {
                    Ok(()) => Reply::new(Answer::Done),
                    Err(e) => failed(e),
                },
            },
            Ask::SecretDelete { account } => match key(&account) {
                Err(refused) => *refused,
                Ok(key) => match store.delete(key) {
                    Ok(existed) => Reply::new(Answer::Deleted { existed }),
                    Err(e) => failed(e),
                },
            },
            Ask::SecretList => match store.accounts() {
                Ok(accounts) => Reply::new(Answer::Accounts {
                    accounts: accounts.unwrap_or_default(),
                }),
                Err(e) => failed(e),
            },
            _ => Reply::error(ErrorKind::Invalid, "not a keychain request"),
        }
    }

    /// Refreshes, in the background, what is remembered as it becomes due, so requests find
    /// fresh credentials. Ones that can't be refreshed without a person are forgotten: the next
    /// request for them asks.
    fn refresh_due(&self) {
        let Ok(catalog) = self.store.load() else {
            return;
        };
        // What another process deleted, redefined or logged out of is dropped, not refreshed.
        self.remembered.retain(|id, definition| {
            catalog.get(id).is_some_and(|s| {
                engine::definition(s) == definition
                    && engine::logged_out_integration(&catalog, s).is_none()
            })
        });
        let now = time::OffsetDateTime::now_utc();
        for id in self.remembered.due_by(now) {
            let result = {
                let flight = self.flight(id);
                let _one_at_a_time = flight.lock().unwrap_or_else(PoisonError::into_inner);
                self.engine().credentials_in(&catalog, id, &mut NoPrompt)
            };
            if let Err(e) = result {
                tracing::info!(%id, error = %e, "could not refresh remembered credentials in the background");
                self.remembered.forget(id);
            }
        }
    }

    /// Serves connections on `bound` until a tray asks this agent to hand over.
    pub fn serve(self: Arc<Self>, bound: Bound) {
        let refresher = Arc::clone(&self);
        std::thread::spawn(move || {
            while !refresher.stopping.load(Ordering::SeqCst) {
                std::thread::sleep(REFRESH_EVERY);
                refresher.refresh_due();
            }
        });
        tracing::info!(path = %bound.path.display(), "the agent is listening");
        loop {
            let stream = match bound.accept() {
                Ok(stream) => stream,
                Err(e) => {
                    if self.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    tracing::warn!(error = %e, "could not accept a connection");
                    continue;
                }
            };
            match socket::check_peer(&stream) {
                Ok(Ok(())) => {}
                Ok(Err(why)) => {
                    tracing::warn!(%why, "refused a connection from another user");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "refused a connection whose peer is unknown");
                    continue;
                }
            }
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let agent = Arc::clone(&self);
            let path = bound.path.clone();
            std::thread::spawn(move || {
                agent.converse(stream);
                if agent.stopping.load(Ordering::SeqCst) {
                    // Wake the accepting loop, so that it sees it is to stop.
                    let _ = socket::connect(&path);
                }
            });
        }
        tracing::info!("the agent handed over and stops");
        drop(bound);
    }

    /// Reads one request from `stream` and writes its reply.
    fn converse(&self, mut stream: Stream) {
        let _ = socket::set_timeouts(&stream, Duration::from_secs(5), Duration::from_secs(5));
        // It may hold a secret (a value to keep, a passphrase): sized so it never reallocates,
        // wiped when dropped.
        let mut text = Zeroizing::new(Vec::with_capacity(MAX_MESSAGE + 1));
        let reply = match (&mut stream)
            .take(MAX_MESSAGE as u64 + 1)
            .read_to_end(&mut text)
        {
            Ok(_) if text.len() > MAX_MESSAGE => {
                Reply::error(ErrorKind::Invalid, "the request is too long")
            }
            Ok(_) => match serde_json::from_slice::<Request>(&text) {
                Ok(request) => self.answer(request),
                Err(e) => Reply::error(ErrorKind::Invalid, format!("unreadable request: {e}")),
            },
            Err(e) => Reply::error(ErrorKind::Invalid, format!("unreadable request: {e}")),
        };
        let encoded = match serde_json::to_vec(&reply) {
            Ok(encoded) => Zeroizing::new(encoded),
            Err(e) => {
                tracing::warn!(error = %e, "could not encode a reply");
                return;
            }
        };
        if let Err(e) = stream.write_all(&encoded) {
            tracing::info!(error = %e, "the client left before its reply");
        }
    }
}

/// The reply to an account name credtray does not make.
fn refused(account: &str) -> Reply {
    Reply::error(
        ErrorKind::Invalid,
        format!("{account:?} is not a credtray keychain account"),
    )
}

fn secrets(c: &Credentials) -> Secrets {
    use secrecy::ExposeSecret;
    Secrets {
        access_key_id: Zeroizing::new(c.access_key_id.expose_secret().to_owned()),
        secret_access_key: Zeroizing::new(c.secret_access_key.expose_secret().to_owned()),
        session_token: Zeroizing::new(c.session_token.expose_secret().to_owned()),
        expiration: crate::aws::rfc3339(c.expiration),
        issued: c.issued.map(crate::aws::rfc3339),
    }
}

fn kind_of(e: &engine::Error) -> ErrorKind {
    match e {
        engine::Error::NeedsMfaCode { .. } | engine::Error::MfaCodeReused { .. } => {
            ErrorKind::NeedsMfa
        }
        // Its sentence (why the source gave no code) is the answer: the client shows the
        // message of an invalid request as it is, where it says "needs an MFA code" for the
        // other kind.
        engine::Error::MfaSource { .. } => ErrorKind::Invalid,
        engine::Error::NeedsSamlAssertion { .. } | engine::Error::LoggedOut { .. } => {
            ErrorKind::NeedsLogin
        }
        engine::Error::Sts { .. } => ErrorKind::Aws,
        e if e.is_invalid_input() => ErrorKind::Invalid,
        _ => ErrorKind::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{Call, Fake};
    use crate::engine::Chain;
    use crate::secrets::Memory;
    use crate::session::{IamUserKeys, NewSession, SessionKind, Value};

    /// Keys with `access_key_id` and a fixed secret.
    fn keys(access_key_id: &str) -> IamUserKeys {
        IamUserKeys {
            access_key_id: crate::session::AccessKeyId::parse(&access_key_id.into()).unwrap(),
            secret_access_key: crate::session::SecretAccessKey::parse(&"s3cret".into()).unwrap(),
        }
    }

    struct Rig {
        _dir: tempfile::TempDir,
        sts: Arc<Fake>,
        agent: Arc<Agent>,
        engine: Engine,
        chained: SessionId,
        store: Store,
        mem: Arc<Memory>,
        files: Files,
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mem = Arc::new(Memory::new());
        let sts = Arc::new(Fake::new());
        let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
        let store = Store::at(dir.path().join("cfg"));
        let engine = Engine::new(store.clone(), mem.clone(), files.clone(), sts.clone());
        let root = engine
            .add(
                NewSession {
                    alias: "root".parse().unwrap(),
                    profile: None,
                    region: None,
                    publish: None,
                    kind: SessionKind::IamUser {
                        mfa_device: None,
                        mfa_source: None,
                    },
                },
                Some(keys("AKIAAAAAAAAAAAAAAAAA")),
            )
            .unwrap();
        let chained = engine
            .chain(
                root.id,
                Chain {
                    role_arn: "arn:aws:iam::123456789012:role/admin".parse().unwrap(),
                    alias: Some("child".parse().unwrap()),
                    role_session_name: None,
                    external_id: None,
                    profile: None,
                    region: None,
                    publish: None,
                },
            )
            .unwrap()
            .id;
        let agent = Arc::new(Agent::new(
            store.clone(),
            mem.clone(),
            files.clone(),
            sts.clone(),
        ));
        Rig {
            _dir: dir,
            sts,
            agent,
            engine,
            chained,
            store,
            mem,
            files,
        }
    }

    fn assume_roles(sts: &Fake) -> Vec<String> {
        sts.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::AssumeRole { role_arn, .. } => Some(role_arn),
                _ => None,
            })
            .collect()
    }

    fn ask(agent: &Agent, session: &str) -> Reply {
        agent.answer(Request::new(Ask::Credentials {
            session: session.to_owned(),
        }))
    }

    #[test]
    fn twenty_requests_at_once_for_a_cold_session_make_one_assume_role() {
        let r = rig();
        // A round trip long enough for all twenty to be waiting at once.
        r.sts.slow(Duration::from_millis(200));
        let replies: Vec<Reply> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..20)
                .map(|_| scope.spawn(|| ask(&r.agent, "child")))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(assume_roles(&r.sts).len(), 1, "{:?}", r.sts.calls());
        let keys: Vec<String> = replies
            .iter()
            .map(|reply| match &reply.body {
                Answer::Credentials(c) => c.access_key_id.to_string(),
                _ => panic!("not credentials"),
            })
            .collect();
        assert!(
            keys.iter().all(|k| *k == keys[0]),
            "one set for all: {keys:?}"
        );
    }

    #[test]
    fn an_edit_by_another_process_is_seen_by_the_next_request() {
        let mut r = rig();
        ask(&r.agent, "child");
        let edit = crate::session::Edit {
            values: vec![Value::RoleArn(
                "arn:aws:iam::123456789012:role/other".parse().unwrap(),
            )],
            ..Default::default()
        };
        r.engine.edit(r.chained, edit, &mut NoPrompt).unwrap();
        assert_eq!(r.agent.remembered().len(), 2, "the child and its assumer");
        r.agent.refresh_due();
        assert_eq!(
            r.agent.remembered().len(),
            1,
            "the edited child's are dropped"
        );
        ask(&r.agent, "child");
        assert_eq!(
            assume_roles(&r.sts),
            [
                "arn:aws:iam::123456789012:role/admin",
                "arn:aws:iam::123456789012:role/other"
            ]
        );
    }

    #[test]
    fn credentials_near_their_expiry_are_refreshed_in_the_background() {
        let r = rig();
        // Three-second credentials: due (less than a third of their life left) after two.
        r.sts.cap_duration(Duration::from_secs(3));
        let first = match ask(&r.agent, "child").body {
            Answer::Credentials(c) => c.access_key_id.to_string(),
            _ => panic!(),
        };
        r.agent.refresh_due();
        assert_eq!(assume_roles(&r.sts).len(), 1, "nothing due yet");
        std::thread::sleep(Duration::from_millis(2200));
        r.agent.refresh_due();
        assert_eq!(assume_roles(&r.sts).len(), 2, "refreshed without a request");
        let Answer::Credentials(c) = ask(&r.agent, "child").body else {
            panic!()
        };
        assert_ne!(*c.access_key_id, first);
        assert_eq!(
            assume_roles(&r.sts).len(),
            2,
            "the request found them fresh"
        );
        let expiration = time::OffsetDateTime::parse(
            &c.expiration,
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert!(expiration - time::OffsetDateTime::now_utc() > time::Duration::seconds(1));
    }

    #[test]
    fn errors_carry_a_kind_and_other_versions_are_refused() {
        let r = rig();
        let Answer::Error { kind, message } = ask(&r.agent, "nobody").body else {
            panic!()
        };
        assert_eq!(kind, ErrorKind::Invalid);
        assert!(message.contains("nobody"), "{message}");
        let mut request = Request::new(Ask::Hello);
        request.version = 99;
        assert!(matches!(
            r.agent.answer(request).body,
            Answer::Error {
                kind: ErrorKind::Protocol,
                ..
            }
        ));
        assert!(matches!(
            r.agent.answer(Request::new(Ask::Hello)).body,
            Answer::Hello { tray: false, .. }
        ));
    }

    /// Answers every MFA question with the same code, as a person typing the code their
    /// device still shows would.
    struct SameCode;

    impl Prompt for SameCode {
        fn mfa_code(
            &mut self,
            _: &crate::session::Session,
            _: &crate::session::MfaDevice,
            _: engine::MfaAsk,
        ) -> Option<crate::session::MfaCode> {
            Some("123456".parse().unwrap())
        }
        fn saml_assertion(
            &mut self,
            _: &engine::SamlLogin<'_>,
        ) -> Result<secrecy::SecretString, engine::NoAssertion> {
            Err(engine::NoAssertion::NotGiven)
        }
    }

    #[test]
    fn a_code_used_by_one_request_is_refused_to_the_next_without_an_aws_call() {
        let r = rig();
        // Two IAM users behind one MFA device: each request builds its own engine.
        for alias in ["dev", "ops"] {
            r.engine
                .add(
                    NewSession {
                        alias: alias.parse().unwrap(),
                        profile: None,
                        region: None,
                        publish: None,
                        kind: SessionKind::IamUser {
                            mfa_device: Some("arn:aws:iam::123456789012:mfa/me".parse().unwrap()),
                            mfa_source: None,
                        },
                    },
                    Some(keys("AKIABBBBBBBBBBBBBBBB")),
                )
                .unwrap();
        }
        let agent = Agent::new(
            r.store.clone(),
            r.mem.clone(),
            r.files.clone(),
            r.sts.clone(),
        )
        .with_prompt(Box::new(|| Box::new(SameCode)));
        assert!(matches!(ask(&agent, "dev").body, Answer::Credentials(_)));
        let Answer::Error { message, .. } = ask(&agent, "ops").body else {
            panic!("the used code was accepted again")
        };
        assert!(
            message.contains("already used; wait for the next code"),
            "{message}"
        );
        let tokens = r
            .sts
            .calls()
            .into_iter()
            .filter(|c| matches!(c, Call::GetSessionToken { .. }))
            .count();
        assert_eq!(tokens, 1, "AWS was not asked with the used code");
    }
}
