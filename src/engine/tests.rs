use secrecy::ExposeSecret;

use super::*;
use crate::awsfiles::Contents;
use crate::secrets::Memory;
use crate::session::{AccessKeyId, SecretAccessKey, SessionKind, Value};

/// A chained session to the role `arn`, everything else left to the assumer's defaults.
fn chain_to(arn: &str) -> Chain {
    Chain {
        publish: None,
        role_arn: arn.parse().unwrap(),
        alias: None,
        role_session_name: None,
        external_id: None,
        profile: None,
        region: None,
    }
}

pub(super) fn keys(id: &str, secret: &str) -> IamUserKeys {
    IamUserKeys {
        access_key_id: AccessKeyId::parse(&SecretString::from(id.to_owned())).unwrap(),
        secret_access_key: SecretAccessKey::parse(&SecretString::from(secret.to_owned())).unwrap(),
    }
}

pub(super) fn user(alias: &str) -> NewSession {
    NewSession {
        publish: None,
        alias: alias.parse().unwrap(),
        profile: None,
        region: None,
        kind: SessionKind::IamUser {
            mfa_device: None,
            mfa_source: None,
        },
    }
}

pub(super) fn engine(secrets: Arc<dyn SecretStore>) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    let engine = Engine::new(
        Store::at(dir.path().join("cfg")),
        secrets,
        files,
        Arc::new(crate::aws::Fake::new()),
    );
    (dir, engine)
}

/// The secret of `item`; a half of the access key pair from the pair item that keeps it (the
/// old layout's item when there is no pair).
fn secret_of(m: &Memory, id: SessionId, item: Item) -> Option<String> {
    let half = match item {
        Item::AccessKeyId => Some("access_key_id"),
        Item::SecretAccessKey => Some("secret_access_key"),
        _ => None,
    };
    if let Some(half) = half
        && let Some(pair) = m.get(Key::new(id, Item::AccessKey)).unwrap()
    {
        let pair: serde_json::Value = serde_json::from_str(pair.expose_secret()).unwrap();
        return Some(pair[half].as_str().unwrap().to_owned());
    }
    m.get(Key::new(id, item))
        .unwrap()
        .map(|s| s.expose_secret().to_owned())
}

#[test]
fn add_writes_the_key_pair_as_one_item_under_the_documented_account() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")))
        .unwrap();
    assert_eq!(mem.accounts(), [format!("{}-iam-user-access-key", s.id)]);
    let pair: serde_json::Value = serde_json::from_str(
        mem.get(Key::new(s.id, Item::AccessKey))
            .unwrap()
            .unwrap()
            .expose_secret(),
    )
    .unwrap();
    assert_eq!(
        pair,
        serde_json::json!({"access_key_id": "AKIAAAAAAAAAAAAAAAAA", "secret_access_key": "s3cret"})
    );
    assert_eq!(engine.catalog().unwrap().sessions().len(), 1);
}

#[test]
fn an_unreachable_keychain_leaves_no_session_and_no_entry() {
    let mem = Arc::new(Memory::unreachable());
    let (_dir, engine) = engine(mem.clone());
    let err = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")))
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Secrets(secrets::Error::Unavailable { .. })
    ));
    assert!(!err.is_invalid_input());
    assert!(!engine.store().path().exists());
}

#[test]
fn a_keychain_failing_part_way_through_add_is_rolled_back() {
    let mem = Arc::new(Memory::new());
    mem.refuse(Item::AccessKey);
    let (_dir, engine) = engine(mem.clone());
    assert!(
        engine
            .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")))
            .is_err()
    );
    assert!(engine.catalog().unwrap().sessions().is_empty());
    assert_eq!(
        mem.accounts(),
        Vec::<String>::new(),
        "the access key id written first is removed"
    );
}

#[test]
fn a_keychain_failing_part_way_through_edit_restores_the_old_keys() {
    let mem = Arc::new(Memory::new());
    let (_dir, mut engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "old")))
        .unwrap();
    mem.refuse(Item::AccessKey);
    let edit = Edit {
        access_key_id: Some(
            AccessKeyId::parse(&SecretString::from("AKIABBBBBBBBBBBBBBBB".to_owned())).unwrap(),
        ),
        secret_access_key: Some(
            SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
        ),
        ..Edit::default()
    };
    assert!(engine.edit(s.id, edit, &mut NoPrompt).is_err());
    assert_eq!(
        secret_of(&mem, s.id, Item::AccessKeyId).as_deref(),
        Some("AKIAAAAAAAAAAAAAAAAA")
    );
    assert_eq!(
        secret_of(&mem, s.id, Item::SecretAccessKey).as_deref(),
        Some("old")
    );
}

#[test]
fn a_store_that_cannot_be_saved_takes_the_new_keys_back_out() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    engine.add_profile("seed".parse().unwrap()).unwrap();
    let broken = Engine::new(
        engine.store().failing_saves(),
        mem.clone(),
        engine.files.clone(),
        engine.sts.clone(),
    );
    let err = broken
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")))
        .unwrap_err();
    assert!(
        matches!(err, Error::Store(crate::store::Error::Write { .. })),
        "{err}"
    );
    assert_eq!(
        mem.accounts(),
        Vec::<String>::new(),
        "the keys written before the save are gone"
    );
    assert!(engine.catalog().unwrap().sessions().is_empty());
}

#[test]
fn a_delete_whose_store_cannot_be_saved_keeps_the_session_and_its_keys() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")))
        .unwrap();
    let broken = Engine::new(
        engine.store().failing_saves(),
        mem.clone(),
        engine.files.clone(),
        engine.sts.clone(),
    );
    assert!(broken.delete(s.id, false, HomelessKeys::Refuse).is_err());
    assert_eq!(engine.catalog().unwrap().sessions().len(), 1);
    assert_eq!(mem.accounts().len(), 1, "the key pair is still there");
}

#[test]
fn edit_replaces_keys_drops_the_cached_token_and_restores_on_failure() {
    let mem = Arc::new(Memory::new());
    let (_dir, mut engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "old")))
        .unwrap();
    mem.set(
        Key::new(s.id, Item::SessionToken),
        &SecretString::from("{\"cached\":1}".to_owned()),
    )
    .unwrap();

    let edit = Edit {
        secret_access_key: Some(
            SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
        ),
        ..Edit::default()
    };
    let (out, _) = engine.edit(s.id, edit, &mut NoPrompt).unwrap();
    assert_eq!(out.changed, [Field::SecretAccessKey]);
    assert_eq!(
        secret_of(&mem, s.id, Item::SecretAccessKey).as_deref(),
        Some("new")
    );
    assert_eq!(
        secret_of(&mem, s.id, Item::AccessKeyId).as_deref(),
        Some("AKIAAAAAAAAAAAAAAAAA")
    );
    assert_eq!(
        secret_of(&mem, s.id, Item::SessionToken),
        None,
        "the cached token is dropped"
    );

    let mfa = Edit {
        values: vec![Value::MfaDevice(Some("GAHT12345678".parse().unwrap()))],
        ..Edit::default()
    };
    mem.set(
        Key::new(s.id, Item::SessionToken),
        &SecretString::from("t".to_owned()),
    )
    .unwrap();
    engine.edit(s.id, mfa, &mut NoPrompt).unwrap();
    assert_eq!(
        secret_of(&mem, s.id, Item::SessionToken),
        None,
        "a new MFA device drops the token too"
    );
}

#[test]
fn an_edit_that_fails_validation_touches_no_secret() {
    let mem = Arc::new(Memory::new());
    let (_dir, mut engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "old")))
        .unwrap();
    let edit = Edit {
        region: Some("mars-1".into()),
        secret_access_key: Some(
            SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
        ),
        ..Edit::default()
    };
    let err = engine.edit(s.id, edit, &mut NoPrompt).unwrap_err();
    assert!(err.is_invalid_input());
    assert_eq!(
        secret_of(&mem, s.id, Item::SecretAccessKey).as_deref(),
        Some("old")
    );
}

#[test]
fn keys_are_required_for_iam_users_and_refused_for_others() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    let err = engine.add(user("u"), None).unwrap_err();
    assert!(
        err.is_invalid_input() && err.to_string().contains("access key id"),
        "{err}"
    );
    let chained = NewSession {
        publish: None,
        alias: "c".parse().unwrap(),
        profile: None,
        region: None,
        kind: SessionKind::IamRoleFederated {
            role_arn: "arn:aws:iam::123456789012:role/r".parse().unwrap(),
            saml_url: "https://idp.example.com".parse().unwrap(),
            idp_arn: "arn:aws:iam::123456789012:saml-provider/p".parse().unwrap(),
        },
    };
    let err = engine
        .add(chained, Some(keys("AKIAAAAAAAAAAAAAAAAA", "x")))
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert!(mem.accounts().is_empty());
}

#[test]
fn delete_removes_every_entry_of_every_removed_session() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "x")))
        .unwrap();
    mem.set(
        Key::new(s.id, Item::SessionToken),
        &SecretString::from("t".to_owned()),
    )
    .unwrap();
    let other = engine
        .add(user("v"), Some(keys("AKIABBBBBBBBBBBBBBBB", "y")))
        .unwrap();
    engine.delete(s.id, false, HomelessKeys::Refuse).unwrap();
    assert!(
        mem.accounts()
            .iter()
            .all(|a| a.starts_with(&other.id.to_string()))
    );
    assert_eq!(mem.accounts().len(), 1);
}

#[test]
fn delete_with_the_keychain_down_keeps_the_session() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "x")))
        .unwrap();
    let down = Arc::new(Memory::unreachable());
    let broken = Engine::new(
        engine.store().clone(),
        down,
        engine.files.clone(),
        engine.sts.clone(),
    );
    assert!(broken.delete(s.id, false, HomelessKeys::Refuse).is_err());
    assert_eq!(engine.catalog().unwrap().sessions().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Running sessions, against the scripted STS

use crate::aws::sts::Cause;
use crate::aws::{Call, Fake};
use crate::engine::{MfaAsk, NoAssertion, Prompt, ProposedKeys, SamlLogin};
use crate::session::{MfaCode, MfaDevice, MfaSource, NewIntegration, Region, State};

/// A SAMLResponse granting `role` through `idp` (leaked: the scripted prompt holds
/// `&'static str`).
fn granting(role: &str, idp: &str, seconds: Option<u64>) -> &'static str {
    let response = crate::aws::saml::response(&[(role, idp)], seconds);
    Box::leak(response.expose_secret().to_owned().into_boxed_str())
}

struct Scripted {
    codes: Vec<&'static str>,
    asked: Vec<MfaAsk>,
    /// What the engine said while an MFA source worked.
    notices: Vec<String>,
    assertion: Option<&'static str>,
}

impl Scripted {
    fn codes(codes: &[&'static str]) -> Self {
        Self {
            codes: codes.to_vec(),
            asked: Vec::new(),
            notices: Vec::new(),
            assertion: None,
        }
    }
}

impl Prompt for Scripted {
    fn mfa_code(&mut self, _: &Session, _: &MfaDevice, ask: MfaAsk) -> Option<MfaCode> {
        self.asked.push(ask);
        (!self.codes.is_empty()).then(|| self.codes.remove(0).parse().unwrap())
    }
    fn mfa_notice(&mut self, _: &Session, notice: crate::engine::MfaNotice<'_>) {
        self.notices.push(format!("{notice:?}"));
    }
    fn saml_assertion(&mut self, _: &SamlLogin<'_>) -> Result<SecretString, NoAssertion> {
        self.assertion
            .map(|a| SecretString::from(a.to_owned()))
            .ok_or(NoAssertion::NotGiven)
    }
}

struct Rig {
    dir: tempfile::TempDir,
    mem: Arc<Memory>,
    sts: Arc<Fake>,
    engine: Engine,
}

fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(Memory::new());
    let sts = Arc::new(Fake::new());
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    let engine = Engine::new(
        Store::at(dir.path().join("cfg")),
        mem.clone(),
        files,
        sts.clone(),
    );
    Rig {
        dir,
        mem,
        sts,
        engine,
    }
}

impl Rig {
    fn user(&self, alias: &str, mfa: bool) -> SessionId {
        self.user_with(alias, mfa, None)
    }

    /// An IAM user with the MFA device `…:mfa/me` and `source`.
    fn user_with_source(&self, alias: &str, source: &str) -> SessionId {
        self.user_with(alias, true, Some(source.parse().unwrap()))
    }

    fn user_with(&self, alias: &str, mfa: bool, mfa_source: Option<MfaSource>) -> SessionId {
        let new = NewSession {
            publish: None,
            alias: alias.parse().unwrap(),
            profile: Some(alias.replace(' ', "-").parse().unwrap()),
            region: Some("eu-west-1".into()),
            kind: SessionKind::IamUser {
                mfa_device: mfa.then(|| "arn:aws:iam::123456789012:mfa/me".parse().unwrap()),
                mfa_source,
            },
        };
        self.engine
            .add(new, Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")))
            .unwrap()
            .id
    }

    /// A federated session "fed" granted by `granting(role/fed, saml-provider/p, …)`.
    fn federated(&self) -> SessionId {
        let new = NewSession {
            publish: None,
            alias: "fed".parse().unwrap(),
            profile: None,
            region: None,
            kind: SessionKind::IamRoleFederated {
                role_arn: "arn:aws:iam::123456789012:role/fed".parse().unwrap(),
                saml_url: "https://idp.example.com".parse().unwrap(),
                idp_arn: "arn:aws:iam::123456789012:saml-provider/p".parse().unwrap(),
            },
        };
        self.engine.add(new, None).unwrap().id
    }

    fn chained(&self, alias: &str, assumer: SessionId, profile: &str) -> SessionId {
        self.engine
            .chain(
                assumer,
                Chain {
                    alias: Some(alias.parse().unwrap()),
                    profile: Some(profile.parse().unwrap()),
                    ..chain_to("arn:aws:iam::123456789012:role/admin")
                },
            )
            .unwrap()
            .id
    }

    fn text(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    fn session(&self, id: SessionId) -> Session {
        self.engine.catalog().unwrap().get(id).unwrap().clone()
    }

    /// Another process's engine on the same store, keychain and STS, writing `credentials` and
    /// `config` in `dir` (the rig's own directory unless told otherwise).
    fn other_engine(&self, dir: &std::path::Path) -> Engine {
        Engine::new(
            self.engine.store().clone(),
            self.mem.clone(),
            Files::at(dir.join("credentials"), dir.join("config")),
            self.sts.clone(),
        )
    }

    fn sts_calls(&self, name: &str) -> usize {
        self.sts
            .calls()
            .iter()
            .filter(|c| format!("{c:?}").starts_with(name))
            .count()
    }
}

#[test]
fn start_publishes_caches_the_token_and_reuses_it() {
    let mut r = rig();
    let id = r.user("dev", false);
    let s = r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert_eq!(s.state, State::Active);
    assert!(s.expiration.is_some());
    assert!(
        r.text("credentials")
            .contains("[dev]\naws_access_key_id = ASIAFAKE000000000001\n")
    );
    assert_eq!(r.text("config"), "[profile dev]\nregion = eu-west-1\n");
    assert!(
        r.mem
            .accounts()
            .iter()
            .any(|a| a.ends_with("-iam-user-session-token"))
    );
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert_eq!(
        r.sts_calls("GetSessionToken"),
        1,
        "the cached token is reused"
    );
    let Call::GetSessionToken {
        seconds, region, ..
    } = &r.sts.calls()[0]
    else {
        panic!()
    };
    assert_eq!((*seconds, region.as_str()), (12 * 3600, "eu-west-1"));
}

#[test]
fn a_chain_asks_for_the_mfa_code_once_per_token_not_once_per_child() {
    let mut r = rig();
    let root = r.user("root", true);
    let a = r.chained("a", root, "pa");
    let b = r.chained("b", a, "pb");
    let mut prompt = Scripted::codes(&["123456"]);
    r.engine.start(b, &mut prompt, false).unwrap();
    r.engine.start(a, &mut prompt, false).unwrap();
    r.engine.start(root, &mut prompt, false).unwrap();
    assert_eq!(
        prompt.asked,
        [MfaAsk::First],
        "one code for the whole chain"
    );
    assert_eq!(r.sts_calls("GetSessionToken"), 1);
    assert_eq!(
        r.sts_calls("AssumeRole {"),
        2,
        "b needs a then its own role; a's own start reuses a's cached role credentials"
    );
    for (id, section) in [(root, "[root]\n"), (a, "[pa]\n"), (b, "[pb]\n")] {
        assert_eq!(r.session(id).state, State::Active);
        assert!(r.text("credentials").contains(section), "{section}");
    }
    // b's call went out with a's credentials, a's with root's token.
    let calls = r.sts.calls();
    let Call::AssumeRole {
        caller,
        session_name,
        seconds,
        ..
    } = &calls[2]
    else {
        panic!("{calls:?}")
    };
    assert!(
        caller.contains("assumed-role/admin/credtray-root"),
        "{caller}"
    );
    assert_eq!(session_name, "credtray-a");
    assert_eq!(*seconds, 3600);
}

#[test]
fn a_chained_sessions_external_id_goes_with_its_assume_role_and_can_be_changed_or_cleared() {
    let mut r = rig();
    let root = r.user("root", false);
    let id = r
        .engine
        .chain(
            root,
            Chain {
                external_id: Some("partner-42".parse().unwrap()),
                profile: Some("ext".parse().unwrap()),
                ..chain_to("arn:aws:iam::123456789012:role/partner")
            },
        )
        .unwrap()
        .id;
    let external_ids = |r: &Rig| -> Vec<Option<String>> {
        r.sts
            .calls()
            .iter()
            .filter_map(|c| match c {
                Call::AssumeRole { external_id, .. } => Some(external_id.clone()),
                _ => None,
            })
            .collect()
    };
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert_eq!(external_ids(&r), [Some("partner-42".to_owned())]);

    // Changing it restarts the active session with the new one; clearing it sends none.
    for (value, sent) in [
        (Some("partner-43"), Some("partner-43".to_owned())),
        (None, None),
    ] {
        let edit = Edit {
            values: vec![Value::ExternalId(value.map(|v| v.parse().unwrap()))],
            ..Edit::default()
        };
        let (outcome, restart) = r.engine.edit(id, edit, &mut NoPrompt).unwrap();
        assert_eq!(outcome.changed, [Field::ExternalId]);
        assert!(restart.unwrap().is_ok());
        assert_eq!(external_ids(&r).last().unwrap(), &sent);
    }
    assert!(matches!(
        r.session(id).kind,
        SessionKind::IamRoleChained {
            external_id: None,
            ..
        }
    ));
}

#[test]
fn role_credentials_are_cached_in_the_keychain_until_an_edit_or_a_delete() {
    let mut r = rig();
    let root = r.user("root", false);
    let child = r.chained("child", root, "child");
    for _ in 0..3 {
        r.engine.credentials_for(child, &mut NoPrompt).unwrap();
    }
    assert_eq!(r.sts_calls("AssumeRole {"), 1, "served from the keychain");
    let cached = secret_of(&r.mem, child, Item::RoleCredentials).unwrap();
    assert!(
        cached.contains("arn:aws:iam::123456789012:role/admin"),
        "its definition"
    );

    // Another role: the cache is dropped with the edit, and the next call assumes the new one.
    let edit = Edit {
        values: vec![Value::RoleArn(
            "arn:aws:iam::123456789012:role/other".parse().unwrap(),
        )],
        ..Edit::default()
    };
    r.engine.edit(child, edit, &mut NoPrompt).unwrap();
    assert_eq!(secret_of(&r.mem, child, Item::RoleCredentials), None);
    r.engine.credentials_for(child, &mut NoPrompt).unwrap();
    assert_eq!(r.sts_calls("AssumeRole {"), 2);
    let Some(Call::AssumeRole { role_arn, .. }) = r.sts.calls().pop() else {
        panic!()
    };
    assert_eq!(role_arn, "arn:aws:iam::123456789012:role/other");

    // An entry written for another definition (say, by a process that missed the edit) is
    // not used.
    r.mem
        .set(
            Key::new(child, Item::RoleCredentials),
            &cached.as_str().into(),
        )
        .unwrap();
    r.engine.credentials_for(child, &mut NoPrompt).unwrap();
    assert_eq!(r.sts_calls("AssumeRole {"), 3);

    r.engine.delete(child, false, HomelessKeys::Refuse).unwrap();
    assert_eq!(secret_of(&r.mem, child, Item::RoleCredentials), None);
}

#[test]
fn remembered_credentials_are_served_from_memory_while_fresh() {
    let mut r = rig();
    let root = r.user("root", false);
    let child = r.chained("child", root, "child");
    let remembered = Arc::new(Remembered::new());
    r.engine.remember_in(remembered.clone());
    r.engine.credentials_for(child, &mut NoPrompt).unwrap();
    assert_eq!(remembered.len(), 2, "the child and its assumer");
    // Gone from the keychain, still served: memory comes first.
    r.mem
        .delete(Key::new(child, Item::RoleCredentials))
        .unwrap();
    r.engine.credentials_for(child, &mut NoPrompt).unwrap();
    assert_eq!(r.sts_calls("AssumeRole {"), 1);
    // Within the refresh margin of their hour they are due, and fetched again.
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::minutes(45));
    assert_eq!(
        remembered
            .due_by(time::OffsetDateTime::now_utc() + time::Duration::minutes(45))
            .len(),
        1
    );
    r.engine.credentials_for(child, &mut NoPrompt).unwrap();
    assert_eq!(r.sts_calls("AssumeRole {"), 2);
}

#[test]
fn the_assumer_of_a_started_chain_is_not_published() {
    let mut r = rig();
    let root = r.user("root", false);
    let child = r.chained("child", root, "child");
    r.engine.start(child, &mut NoPrompt, false).unwrap();
    let creds = r.text("credentials");
    assert!(
        creds.contains("[child]") && !creds.contains("[root]"),
        "{creds}"
    );
    assert_eq!(r.session(root).state, State::Inactive);
}

#[test]
fn a_code_used_in_this_window_is_not_resubmitted() {
    let mut r = rig();
    let id = r.user("dev", true);
    r.engine
        .start(id, &mut Scripted::codes(&["111111"]), false)
        .unwrap();
    // Without the cached token a new GetSessionToken needs a new code; the used one is refused.
    let mut prompt = Scripted::codes(&["111111", "111111", "111111"]);
    r.mem.delete(Key::new(id, Item::SessionToken)).unwrap();
    let err = r.engine.start(id, &mut prompt, false).unwrap_err();
    assert!(matches!(err, Error::MfaCodeReused { .. }), "{err}");
    assert_eq!(
        prompt.asked,
        [MfaAsk::First, MfaAsk::AlreadyUsed, MfaAsk::AlreadyUsed]
    );
    let mut prompt = Scripted::codes(&["111111", "222222"]);
    r.engine.start(id, &mut prompt, false).unwrap();
    assert_eq!(prompt.asked, [MfaAsk::First, MfaAsk::AlreadyUsed]);
    let codes: Vec<_> = r
        .sts
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::GetSessionToken { mfa_code, .. } => mfa_code,
            _ => None,
        })
        .collect();
    assert_eq!(codes, ["111111", "222222"]);
}

/// The codes GetSessionToken was sent, in order.
fn sent_codes(r: &Rig) -> Vec<String> {
    r.sts
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::GetSessionToken { mfa_code, .. } => mfa_code,
            _ => None,
        })
        .collect()
}

/// A process source printing the lines of a file one call after another (the last one
/// again once they run out), and the file of its calls.
fn counting_source(dir: &std::path::Path, codes: &[&str]) -> String {
    let list = dir.join("codes");
    std::fs::write(&list, codes.join("\n") + "\n").unwrap();
    let calls = dir.join("calls");
    #[cfg(unix)]
    let script = format!(
        "echo x >> {calls}; n=$(wc -l < {calls}); sed -n \"$n p\" {list} | grep . || tail -n 1 {list}",
        calls = calls.display(),
        list = list.display()
    );
    // cmd counts nothing: a marker file per code given out, the last code once they are all.
    #[cfg(windows)]
    let script = {
        let mut chain = format!("echo {}", codes[codes.len() - 1]);
        for (n, code) in codes.iter().enumerate().rev().skip(1) {
            let marker = dir.join(format!("given{n}"));
            let marker = marker.display();
            chain = format!("if not exist {marker} (echo x>{marker}& echo {code}) else ({chain})");
        }
        format!("echo x>>{}& {chain}", calls.display())
    };
    format!("process:{SHELL} {}", shlex::try_quote(&script).unwrap())
}

/// The shell a test's process source runs its script with, and its option for one.
const SHELL: &str = if cfg!(windows) { "cmd /c" } else { "sh -c" };

fn source_calls(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("calls"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn an_mfa_source_gives_the_code_without_asking_anyone() {
    let mut r = rig();
    let dir = tempfile::tempdir().unwrap();
    let id = r.user_with_source("dev", &counting_source(dir.path(), &["123456"]));
    let mut prompt = Scripted::codes(&[]);
    r.engine.start(id, &mut prompt, false).unwrap();
    assert_eq!(prompt.asked, []);
    assert_eq!(sent_codes(&r), ["123456"]);
    assert_eq!(r.session(id).state, State::Active);
}

#[test]
fn a_failing_source_hands_over_to_the_person_saying_why_or_is_the_error_without_one() {
    let mut r = rig();
    let id = r.user_with_source(
        "dev",
        &format!(
            "process:{SHELL} 'echo token locked>&2{} exit 2'",
            if cfg!(windows) { "&" } else { ";" }
        ),
    );
    let program = SHELL.split(' ').next().unwrap();
    let mut prompt = Scripted::codes(&["222222"]);
    r.engine.start(id, &mut prompt, false).unwrap();
    assert_eq!(prompt.asked, [MfaAsk::SourceFailed]);
    assert_eq!(
        prompt.notices,
        [format!(
            r#"SourceFailed("{program} failed (exit status 2): token locked")"#
        )]
    );
    assert_eq!(sent_codes(&r), ["222222"]);

    r.engine.stop(id).unwrap();
    r.mem.delete(Key::new(id, Item::SessionToken)).unwrap();
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    assert!(matches!(err, Error::MfaSource { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "no MFA code for session \"dev\" from its MFA source: {program} failed (exit status 2): token locked"
        )
    );
    assert_eq!(r.session(id).state, State::Inactive);
    assert_eq!(sent_codes(&r).len(), 1);
}

#[test]
fn a_code_offered_on_the_command_line_goes_before_the_source() {
    struct Offering(Option<MfaCode>);
    impl Prompt for Offering {
        fn mfa_code(&mut self, _: &Session, _: &MfaDevice, _: MfaAsk) -> Option<MfaCode> {
            None
        }
        fn offered_code(&mut self) -> Option<MfaCode> {
            self.0.take()
        }
        fn saml_assertion(&mut self, _: &SamlLogin<'_>) -> Result<SecretString, NoAssertion> {
            Err(NoAssertion::NotGiven)
        }
    }
    let mut r = rig();
    let dir = tempfile::tempdir().unwrap();
    let id = r.user_with_source("dev", &counting_source(dir.path(), &["123456"]));
    let mut prompt = Offering(Some("999999".parse().unwrap()));
    r.engine.start(id, &mut prompt, false).unwrap();
    assert_eq!(sent_codes(&r), ["999999"]);
    assert_eq!(source_calls(dir.path()), 0);
}

thread_local! {
    /// The fake clock of the tests of MFA windows, in Unix seconds; their pauses advance it.
    static NOW: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// An engine whose clock is `NOW` (starting at `at`) and whose pauses only advance it.
fn on_fake_clock(r: &mut Rig, at: i64) {
    NOW.with(|n| n.set(at));
    r.engine
        .set_clock(|| time::OffsetDateTime::from_unix_timestamp(NOW.with(|n| n.get())).unwrap());
    r.engine
        .set_pause(|d| NOW.with(|n| n.set(n.get() + d.as_secs() as i64)));
}

#[test]
fn a_source_is_asked_again_only_once_the_used_codes_window_is_over() {
    let mut r = rig();
    // 10 s into a 30-second window.
    let start = time::OffsetDateTime::now_utc().unix_timestamp() / 30 * 30 + 10;
    on_fake_clock(&mut r, start);
    let dir = tempfile::tempdir().unwrap();
    let id = r.user_with_source("dev", &counting_source(dir.path(), &["111111", "222222"]));
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    // A new token in the same window: the source would give the used code again.
    r.engine.stop(id).unwrap();
    r.mem.delete(Key::new(id, Item::SessionToken)).unwrap();
    let mut prompt = Scripted::codes(&[]);
    r.engine.start(id, &mut prompt, false).unwrap();
    assert_eq!(prompt.notices, ["NextCode { seconds: 21 }"]);
    assert_eq!(NOW.with(|n| n.get()), start + 21);
    assert_eq!(source_calls(dir.path()), 2, "asked once per window");
    assert_eq!(sent_codes(&r), ["111111", "222222"]);
}

#[test]
fn a_source_that_keeps_giving_the_used_code_is_never_sent_it_twice() {
    let mut r = rig();
    let start = time::OffsetDateTime::now_utc().unix_timestamp() / 30 * 30;
    on_fake_clock(&mut r, start);
    let dir = tempfile::tempdir().unwrap();
    let id = r.user_with_source("dev", &counting_source(dir.path(), &["111111"]));
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    r.engine.stop(id).unwrap();
    r.mem.delete(Key::new(id, Item::SessionToken)).unwrap();
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    assert!(matches!(err, Error::MfaCodeReused { .. }), "{err}");
    assert_eq!(sent_codes(&r), ["111111"]);
    assert_eq!(source_calls(dir.path()), 4);
}

#[test]
fn without_a_code_the_start_fails_clearly_and_records_nothing() {
    let mut r = rig();
    let id = r.user("dev", true);
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    assert!(
        err.is_invalid_input() && err.to_string().contains("--mfa-code"),
        "{err}"
    );
    assert_eq!(r.session(id).state, State::Inactive);
    assert_eq!(r.text("credentials"), "");
}

#[test]
fn sts_failures_name_the_session_and_leave_it_in_error() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.sts.fail_next(Cause::InvalidKey);
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("session \"dev\": STS rejected the access key"),
        "{message}"
    );
    assert_eq!(r.session(id).state, State::Error(message));
    assert_eq!(r.text("credentials"), "", "nothing published");
}

#[test]
fn one_active_session_per_profile_and_stop_removes_the_sections() {
    let mut r = rig();
    let a = r.user("a", false);
    let b = r
        .engine
        .add(
            NewSession {
                publish: None,
                alias: "b".parse().unwrap(),
                profile: Some("a".parse().unwrap()),
                region: None,
                kind: SessionKind::IamUser {
                    mfa_device: None,
                    mfa_source: None,
                },
            },
            Some(keys("AKIABBBBBBBBBBBBBBBB", "x")),
        )
        .unwrap()
        .id;
    r.engine.start(a, &mut NoPrompt, false).unwrap();
    r.engine.start(b, &mut NoPrompt, false).unwrap();
    assert_eq!(r.session(a).state, State::Inactive);
    assert_eq!(r.session(b).state, State::Active);
    assert!(
        r.text("config")
            .contains("[profile a]\nregion = us-east-1\n"),
        "{}",
        r.text("config")
    );
    r.engine.stop(a).unwrap();
    assert!(
        r.text("credentials").contains("[a]"),
        "stopping an inactive session leaves the profile alone"
    );
    r.engine.stop_all().unwrap();
    assert_eq!(r.text("credentials"), "");
    assert_eq!(r.text("config"), "");
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
}

#[test]
fn editing_region_or_profile_of_an_active_session_restarts_it() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    let edit = Edit {
        profile: Some("moved".parse().unwrap()),
        region: Some("ap-south-1".into()),
        ..Edit::default()
    };
    let (out, restart) = r.engine.edit(id, edit, &mut NoPrompt).unwrap();
    assert!(out.needs_restart);
    let s = restart.unwrap().unwrap();
    assert_eq!(
        (s.profile.as_str(), s.state.clone()),
        ("moved", State::Active)
    );
    let creds = r.text("credentials");
    assert!(
        !creds.contains("[dev]") && creds.contains("[moved]"),
        "{creds}"
    );
    assert_eq!(r.text("config"), "[profile moved]\nregion = ap-south-1\n");
}

#[test]
fn a_failed_restart_leaves_the_session_in_error_and_no_orphan_section() {
    let mut r = rig();
    let root = r.user("root", false);
    let id = r.chained("child", root, "child");
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    r.sts.fail_next(Cause::AccessDenied);
    let edit = Edit {
        values: vec![Value::RoleArn(
            "arn:aws:iam::123456789012:role/other".parse().unwrap(),
        )],
        ..Edit::default()
    };
    let (_, restart) = r.engine.edit(id, edit, &mut NoPrompt).unwrap();
    assert!(restart.unwrap().is_err());
    assert!(
        matches!(r.session(id).state, State::Error(ref m) if m.contains("access denied")),
        "{:?}",
        r.session(id).state
    );
    assert!(
        !r.text("credentials").contains("[child]"),
        "{}",
        r.text("credentials")
    );
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
}

#[test]
fn test_is_a_real_dry_run_that_writes_nothing() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    let store = std::fs::read(r.engine.store().path()).unwrap();
    let accounts = r.mem.accounts();
    let token = r
        .mem
        .get(Key::new(id, Item::SessionToken))
        .unwrap()
        .unwrap()
        .expose_secret()
        .to_owned();
    let (creds, config) = (r.text("credentials"), r.text("config"));

    let session = r.session(id);
    let tested = r
        .engine
        .test(&session, &ProposedKeys::default(), &mut NoPrompt)
        .unwrap();
    assert_eq!(tested.caller_arn, "arn:aws:iam::123456789012:user/fake");
    assert_eq!(r.sts_calls("GetSessionToken"), 2, "never the cached token");
    let proposed = ProposedKeys {
        access_key_id: Some(
            AccessKeyId::parse(&SecretString::from("AKIANEWNEWNEWNEW0000".to_owned())).unwrap(),
        ),
        secret_access_key: None,
    };
    r.engine.test(&session, &proposed, &mut NoPrompt).unwrap();
    let Some(Call::GetSessionToken { access_key_id, .. }) = r
        .sts
        .calls()
        .into_iter()
        .rev()
        .find(|c| matches!(c, Call::GetSessionToken { .. }))
    else {
        panic!()
    };
    assert_eq!(
        access_key_id, "AKIANEWNEWNEWNEW0000",
        "the proposed key is the one tested"
    );
    let edit = Edit {
        region: Some("us-west-2".into()),
        ..Edit::default()
    };
    r.engine.test_edit(id, edit, &mut NoPrompt).unwrap();
    r.sts.fail_next(Cause::InvalidKey);
    assert!(
        r.engine
            .test(&session, &ProposedKeys::default(), &mut NoPrompt)
            .is_err()
    );

    assert_eq!(std::fs::read(r.engine.store().path()).unwrap(), store);
    assert_eq!(r.mem.accounts(), accounts);
    assert_eq!(
        r.mem
            .get(Key::new(id, Item::SessionToken))
            .unwrap()
            .unwrap()
            .expose_secret(),
        token
    );
    assert_eq!((r.text("credentials"), r.text("config")), (creds, config));
}

#[test]
fn taking_over_a_foreign_profile_needs_consent_and_changes_nothing_without_it() {
    let mut r = rig();
    let id = r.user("dev", false);
    std::fs::write(
        r.dir.path().join("credentials"),
        "[dev]\naws_access_key_id = AKIAMINE\n",
    )
    .unwrap();
    let store = std::fs::read(r.engine.store().path()).unwrap();
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    assert!(
        matches!(err, Error::Files(crate::awsfiles::Error::NotOwned { .. })),
        "{err}"
    );
    assert_eq!(std::fs::read(r.engine.store().path()).unwrap(), store);
    assert_eq!(r.sts.calls(), vec![], "nothing asked of STS either");
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    assert!(r.text("credentials.credtray-backup").contains("AKIAMINE"));
}

#[test]
fn rotation_refreshes_only_what_is_about_to_expire() {
    let mut r = rig();
    let root = r.user("root", false);
    let child = r.chained("child", root, "child");
    r.engine.start(child, &mut NoPrompt, false).unwrap();
    assert!(
        r.engine.rotate(&mut NoPrompt).unwrap().is_empty(),
        "1 h left: nothing to do"
    );
    // 50 minutes later the 1 h role credentials have 10 minutes left.
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::minutes(50));
    let rotated = r.engine.rotate(&mut NoPrompt).unwrap();
    assert_eq!(rotated.len(), 1);
    assert!(rotated[0].1.is_ok());
    assert_eq!(r.sts_calls("AssumeRole {"), 2);
}

#[test]
fn federated_sessions_need_an_assertion() {
    let mut r = rig();
    let id = r.federated();
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    assert!(matches!(err, Error::NeedsSamlAssertion { .. }));
    let mut prompt = Scripted {
        codes: vec![],
        asked: vec![],
        notices: vec![],
        assertion: Some(granting(
            "arn:aws:iam::123456789012:role/fed",
            "arn:aws:iam::123456789012:saml-provider/p",
            None,
        )),
    };
    r.engine.start(id, &mut prompt, false).unwrap();
    assert!(r.text("credentials").contains("[default]"));
    let Some(Call::AssumeRoleWithSaml { seconds, .. }) = r.sts.calls().pop() else {
        panic!()
    };
    assert_eq!(seconds, 3600, "no SessionDuration: an hour");

    // An assertion for another role is refused before AWS is asked, naming what it grants
    // (once the cached credentials are gone, which would otherwise serve the start).
    r.mem.delete(Key::new(id, Item::RoleCredentials)).unwrap();
    let before = r.sts.calls().len();
    let mut other = Scripted {
        assertion: Some(granting(
            "arn:aws:iam::123456789012:role/other",
            "arn:aws:iam::123456789012:saml-provider/p",
            Some(7200),
        )),
        ..Scripted::codes(&[])
    };
    let err = r.engine.start(id, &mut other, false).unwrap_err();
    assert!(matches!(err, Error::Saml(_)), "{err}");
    assert!(err.to_string().contains("role/other through"), "{err}");
    assert_eq!(r.sts.calls().len(), before);
}

/// A login window that ends without an assertion, for the reason given.
struct LoginEnds(NoAssertion);

impl Prompt for LoginEnds {
    fn mfa_code(&mut self, _: &Session, _: &MfaDevice, _: MfaAsk) -> Option<MfaCode> {
        None
    }
    fn saml_assertion(&mut self, _: &SamlLogin<'_>) -> Result<SecretString, NoAssertion> {
        Err(self.0.clone())
    }
}

#[test]
fn a_login_that_ends_without_an_assertion_starts_nothing_and_says_why() {
    let mut r = rig();
    let id = r.federated();
    for (reason, says) in [
        (NoAssertion::Cancelled, "window was closed"),
        (NoAssertion::TimedOut, "saml_login_timeout"),
        (NoAssertion::NeedsUser, "log in again"),
    ] {
        let err = r
            .engine
            .start(id, &mut LoginEnds(reason.clone()), false)
            .unwrap_err();
        assert!(
            matches!(&err, Error::SamlLogin { reason: r, .. } if *r == reason),
            "{err}"
        );
        assert!(crate::error_sentence(&err).contains(says), "{err}");
        // As the CLI prints it (the whole chain): the reason once.
        let printed = format!("{:#}", anyhow::Error::from(err));
        assert_eq!(printed.matches(says).count(), 1, "{printed}");
        assert_eq!(r.session(id).state, State::Inactive);
    }
    assert!(r.sts.calls().is_empty());
    assert_eq!(r.text("credentials"), "");
}

#[test]
fn chain_uses_the_spec_defaults() {
    let r = rig();
    let root = r.user("Prod Admin", false);
    let id = r
        .engine
        .chain(root, chain_to("arn:aws:iam::123456789012:role/x"))
        .unwrap()
        .id;
    let s = r.session(id);
    assert_eq!(s.alias.as_str(), "Prod Admin chained");
    assert_eq!(s.profile.as_str(), "default");
    assert_eq!(s.region.as_str(), "eu-west-1");
    let SessionKind::IamRoleChained {
        role_session_name,
        assumer,
        ..
    } = &s.kind
    else {
        panic!()
    };
    assert_eq!(
        role_session_name.as_ref().unwrap().as_str(),
        "credtray-Prod-Admin"
    );
    assert_eq!(*assumer, root);
    let again = r
        .engine
        .chain(root, chain_to("arn:aws:iam::123456789012:role/x"))
        .unwrap();
    assert_eq!(again.alias.as_str(), "Prod Admin chained 2");
}

#[test]
fn stopping_a_session_in_error_removes_the_credentials_it_left() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    // A refresh fails: the session is in error, but its last credentials are still written.
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::hours(12));
    r.sts.fail_next(Cause::Unreachable);
    let rotated = r.engine.rotate(&mut NoPrompt).unwrap();
    assert!(rotated[0].1.is_err());
    assert!(matches!(r.session(id).state, State::Error(_)));
    assert!(r.text("credentials").contains("[dev]"));
    r.engine.stop(id).unwrap();
    assert_eq!(
        (r.text("credentials"), r.text("config")),
        (String::new(), String::new())
    );
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
}

#[test]
fn a_refresh_that_cannot_ask_for_its_mfa_code_marks_the_session_and_is_not_retried() {
    let mut r = rig();
    let id = r.user("dev", true);
    r.engine
        .start(id, &mut Scripted::codes(&["123456"]), false)
        .unwrap();
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::hours(12));
    let rotated = r.engine.rotate(&mut NoPrompt).unwrap();
    assert!(matches!(rotated[0].1, Err(Error::NeedsMfaCode { .. })));
    assert!(matches!(r.session(id).state, State::Error(ref m) if m.contains("MFA code")));
    assert!(
        r.engine.rotate(&mut NoPrompt).unwrap().is_empty(),
        "not asked again every minute"
    );
}

#[test]
fn a_refresh_with_an_mfa_source_needs_nobody() {
    let mut r = rig();
    let dir = tempfile::tempdir().unwrap();
    let id = r.user_with_source("dev", &counting_source(dir.path(), &["111111", "222222"]));
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    // 12 h later: the token is due, and a new window's code is the source's next line.
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::hours(12));
    let rotated = r.engine.rotate(&mut NoPrompt).unwrap();
    assert_eq!(rotated.len(), 1);
    assert!(rotated[0].1.is_ok(), "{:?}", rotated[0].1);
    assert_eq!(r.session(id).state, State::Active);
    assert_eq!(sent_codes(&r), ["111111", "222222"]);
}

/// A prompt that, while the engine waits for the code, stops the session from "another
/// process", then answers with `code` (or gives none, failing the refresh).
struct StopsMeanwhile {
    other: Engine,
    id: SessionId,
    code: Option<&'static str>,
}

impl Prompt for StopsMeanwhile {
    fn mfa_code(&mut self, _: &Session, _: &MfaDevice, _: MfaAsk) -> Option<MfaCode> {
        self.other.stop(self.id).unwrap();
        self.code.map(|c| c.parse().unwrap())
    }
    fn saml_assertion(&mut self, _: &SamlLogin<'_>) -> Result<SecretString, NoAssertion> {
        Err(NoAssertion::NotGiven)
    }
}

#[test]
fn a_session_stopped_during_its_refresh_stays_stopped() {
    let mut r = rig();
    let id = r.user("dev", true);
    r.engine
        .start(id, &mut Scripted::codes(&["123456"]), false)
        .unwrap();
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::hours(12));
    let other = r.other_engine(r.dir.path());
    let mut prompt = StopsMeanwhile {
        other,
        id,
        code: Some("654321"),
    };
    let rotated = r.engine.rotate(&mut prompt).unwrap();
    assert!(rotated[0].1.is_ok());
    assert_eq!(r.session(id).state, State::Inactive);
    assert_eq!(
        r.text("credentials"),
        "",
        "the fresh credentials were not written back"
    );
}

#[test]
fn an_edit_that_would_restart_onto_a_foreign_profile_is_refused_before_anything_changes() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    let creds = r.text("credentials");
    std::fs::write(
        r.dir.path().join("credentials"),
        format!("{creds}\n[theirs]\naws_access_key_id = AKIATHEIRS\n"),
    )
    .unwrap();
    let store = std::fs::read(r.engine.store().path()).unwrap();
    let edit = Edit {
        profile: Some("theirs".parse().unwrap()),
        ..Edit::default()
    };
    let err = r.engine.edit(id, edit, &mut NoPrompt).unwrap_err();
    assert!(
        matches!(err, Error::Files(crate::awsfiles::Error::NotOwned { .. })),
        "{err}"
    );
    assert_eq!(std::fs::read(r.engine.store().path()).unwrap(), store);
    assert_eq!(r.session(id).state, State::Active);
    assert!(
        r.text("credentials")
            .contains("[dev]\naws_access_key_id = ASIAFAKE")
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 8: regressions, each named after the defect it pins

/// A hand-written `[default]`: keys in the credentials file; region, output and a nested
/// `s3` block in the config file, with comments and odd spacing around it.
const USER_CREDENTIALS: &str = "# my keys\n[default]\naws_access_key_id = AKIAUSERSOWNKEY00000\naws_secret_access_key=mine/secret\n\n[other]\naws_access_key_id = AKIAOTHER\n";
const USER_CONFIG: &str = "[default]\nregion = us-west-2\noutput = json\ns3 =\n  max_concurrent_requests = 20\n\n[profile other]\nregion = eu-north-1\n";

fn default_user(r: &Rig) -> SessionId {
    default_user_with(r, "AKIAAAAAAAAAAAAAAAAA", "s3cret")
}

/// `dev` on the default profile, an IAM user with these keys.
fn default_user_with(r: &Rig, access_key_id: &str, secret: &str) -> SessionId {
    user_on_default(r, "dev", access_key_id, secret)
}

/// An IAM user called `alias` on the default profile, with these keys.
fn user_on_default(r: &Rig, alias: &str, access_key_id: &str, secret: &str) -> SessionId {
    let new = NewSession {
        publish: None,
        alias: alias.parse().unwrap(),
        profile: None,
        region: Some("eu-west-1".into()),
        kind: SessionKind::IamUser {
            mfa_device: None,
            mfa_source: None,
        },
    };
    r.engine
        .add(new, Some(keys(access_key_id, secret)))
        .unwrap()
        .id
}

fn write_user_files(r: &Rig) {
    std::fs::write(r.dir.path().join("credentials"), USER_CREDENTIALS).unwrap();
    std::fs::write(r.dir.path().join("config"), USER_CONFIG).unwrap();
}

/// The keys `moved_default_user` moved are in the credentials file again.
#[track_caller]
fn assert_keys_back_in_credentials(r: &Rig) {
    let credentials = r.text("credentials");
    assert!(
        credentials.contains("aws_secret_access_key = mine/secret"),
        "{credentials}"
    );
}

/// The user's files with `dev`'s keys on the default profile, moved to the keychain.
fn moved_default_user(r: &Rig) -> SessionId {
    let id = default_user_with(r, "AKIAUSERSOWNKEY00000", "mine/secret");
    write_user_files(r);
    r.engine.move_keys(id).unwrap();
    id
}

/// Rewrites the credentials file with `from` replaced by `to`, as the user would by hand;
/// returns the new text.
fn edit_credentials(r: &Rig, from: &str, to: &str) -> String {
    let text = r.text("credentials").replace(from, to);
    std::fs::write(r.dir.path().join("credentials"), &text).unwrap();
    text
}

#[test]
fn take_over_then_stop_deletes_the_users_section() {
    let mut r = rig();
    let id = default_user(&r);
    write_user_files(&r);
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    assert!(r.text("credentials").contains("ASIAFAKE"));
    assert!(!r.text("credentials").contains("AKIAUSERSOWNKEY"));
    // The originals are in the keychain; the store knows only that they exist.
    let kept = secret_of(&r.mem, id, Item::TakenOverCredentials).unwrap();
    assert!(kept.contains("AKIAUSERSOWNKEY00000"), "{kept}");
    assert!(
        secret_of(&r.mem, id, Item::TakenOverConfig)
            .unwrap()
            .contains("s3 =")
    );
    let store = std::fs::read_to_string(r.engine.store().path()).unwrap();
    assert!(!store.contains("AKIAUSERSOWNKEY"), "{store}");
    assert!(!store.contains("mine/secret"), "{store}");
    assert!(store.contains("taken_over"), "{store}");

    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), USER_CREDENTIALS);
    assert_eq!(r.text("config"), USER_CONFIG);
    assert_eq!(secret_of(&r.mem, id, Item::TakenOverCredentials), None);
    assert_eq!(secret_of(&r.mem, id, Item::TakenOverConfig), None);
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
    // And it can be taken over again, and given back again.
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), USER_CREDENTIALS);
}

#[test]
fn a_start_records_when_it_happened_and_a_pin_is_kept() {
    let mut r = rig();
    let id = r.user("dev", false);
    assert_eq!(r.session(id).last_used, None);
    let before = time::OffsetDateTime::now_utc();
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    let used = r.session(id).last_used.unwrap();
    assert!(used >= before - time::Duration::seconds(1), "{used}");
    r.engine.stop(id).unwrap();
    assert_eq!(r.session(id).last_used, Some(used), "a stop is not a use");
    assert!(r.engine.pin(id, true).unwrap().pinned);
    assert!(r.session(id).pinned);
    assert!(!r.engine.pin(id, false).unwrap().pinned);
}

#[test]
fn moving_keys_that_are_not_the_sessions_changes_nothing() {
    let mut r = rig();
    let id = default_user(&r);
    write_user_files(&r);
    let err = r.engine.move_keys(id).unwrap_err();
    assert!(matches!(err, Error::KeysStay(_)), "{err}");
    assert!(
        err.to_string().contains("not the ones the session holds"),
        "{err}"
    );
    assert_eq!(r.text("credentials"), USER_CREDENTIALS);
    assert_eq!(r.text("config"), USER_CONFIG);
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
    assert_eq!(secret_of(&r.mem, id, Item::TakenOverCredentials), None);
    // A profile with no keys in the files has none to move.
    std::fs::write(r.dir.path().join("credentials"), "[other]\nx = 1\n").unwrap();
    let err = r.engine.move_keys(id).unwrap_err();
    assert!(err.to_string().contains("no keys in [default]"), "{err}");
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    r.engine.stop(id).unwrap();
}

#[test]
fn moved_keys_leave_the_files_and_the_section_stays_the_sessions_between_runs() {
    let mut r = rig();
    let id = default_user_with(&r, "AKIAUSERSOWNKEY00000", "mine/secret");
    write_user_files(&r);
    let backups = r.engine.move_keys(id).unwrap();
    assert_eq!(backups.len(), 1);
    let moved = USER_CREDENTIALS
        .replace("aws_access_key_id = AKIAUSERSOWNKEY00000\n", "")
        .replace("aws_secret_access_key=mine/secret\n", "");
    assert_eq!(r.text("credentials"), moved);
    assert_eq!(r.text("config"), USER_CONFIG);
    let backup = r.text("credentials.credtray-backup");
    assert!(
        !backup.contains("AKIAUSERSOWNKEY") && !backup.contains("mine/secret"),
        "{backup}"
    );
    // Moving again finds the sections credtray's already.
    assert!(r.engine.move_keys(id).is_err());
    for _ in 0..2 {
        r.engine.start(id, &mut NoPrompt, false).unwrap();
        assert!(r.text("credentials").contains("ASIAFAKE"));
        r.engine.stop(id).unwrap();
        assert_eq!(r.text("credentials"), moved);
        assert_eq!(r.text("config"), USER_CONFIG);
    }
    // A process-mode run withholds the section and puts it back in its place.
    r.engine.set_cli("/opt/credtray");
    let process = Edit {
        publish: Some(Publish::Process),
        ..Edit::default()
    };
    r.engine.edit(id, process, &mut NoPrompt).unwrap();
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert!(!r.text("credentials").contains("[default]"));
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), moved);
    // The user changes the section while it is theirs (between runs): a start takes that
    // text as the original (no backup of it, no redaction), and a stop gives it back.
    let edited = moved.replace("[default]\n", "[default]\n# mine again\n");
    std::fs::write(r.dir.path().join("credentials"), &edited).unwrap();
    let backups_before = r.text("credentials.credtray-backup");
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), edited);
    assert_eq!(r.text("credentials.credtray-backup"), backups_before);
    // Deleting the session gives the sections up with the keys back in them (the keychain's
    // copy, the only one, goes), and their kept originals go.
    r.engine.delete(id, false, HomelessKeys::Refuse).unwrap();
    let back = r.text("credentials");
    assert!(
        back.contains("aws_access_key_id = AKIAUSERSOWNKEY00000")
            && back.contains("aws_secret_access_key = mine/secret")
            && back.contains("# mine again")
            && back.contains("[other]\naws_access_key_id = AKIAOTHER\n"),
        "{back}"
    );
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
    assert_eq!(secret_of(&r.mem, id, Item::TakenOverCredentials), None);
    assert_eq!(secret_of(&r.mem, id, Item::TakenOverConfig), None);
}

#[test]
fn a_claim_for_good_follows_its_session_off_the_profile() {
    let mut r = rig();
    let a = moved_default_user(&r);
    let moved = r.text("credentials");
    // Another session on the same profile runs; meanwhile A moves to another profile.
    let b = user_on_default(&r, "b", "AKIABBBBBBBBBBBBBBBB", "b-secret");
    r.engine.start(b, &mut NoPrompt, false).unwrap();
    let elsewhere = Edit {
        profile: Some("prod".parse().unwrap()),
        ..Edit::default()
    };
    r.engine.edit(a, elsewhere, &mut NoPrompt).unwrap();
    // B's stop gives the user's section back and nobody keeps [default] any more.
    r.engine.stop(b).unwrap();
    assert_eq!(r.text("credentials"), moved);
    let owned = r.engine.store().load_all().unwrap().owned;
    assert!(owned.is_empty(), "{owned:?}");
    assert_eq!(secret_of(&r.mem, a, Item::TakenOverCredentials), None);
}

#[test]
fn a_kept_section_the_user_removed_rests_on_nothing_and_a_crashed_first_write_rests() {
    let mut r = rig();
    let id = moved_default_user(&r);
    // Removed by the user while resting: the next start writes a section of credtray's own,
    // which the stop removes; the claim stays, on no section (the keys moved from there have
    // nowhere to go back to), and its original is forgotten.
    let without = edit_credentials(&r, "[default]\n", "[gone]\n");
    for _ in 0..2 {
        r.engine.start(id, &mut NoPrompt, false).unwrap();
        assert!(r.text("credentials").contains("ASIAFAKE"));
        r.engine.stop(id).unwrap();
        assert_eq!(r.text("credentials"), without);
    }
    let owned = r.engine.store().load_all().unwrap().owned;
    let claim = owned
        .iter()
        .find(|o| o.flavor == crate::awsfiles::Flavor::Credentials)
        .unwrap();
    assert_eq!(
        claim.taken_over.as_ref().map(|t| t.fingerprint.as_str()),
        Some("no section"),
        "{owned:?}"
    );
    assert_eq!(secret_of(&r.mem, id, Item::TakenOverCredentials), None);
    let checked = r.engine.check_files().unwrap();
    assert!(checked.iter().all(|f| f.problems.is_empty()), "{checked:?}");
    // Written again by the user: theirs as before, given back as they wrote it.
    let again = format!("{without}\n[default]\nmine = yes\n");
    std::fs::write(r.dir.path().join("credentials"), &again).unwrap();
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert!(r.text("credentials").contains("ASIAFAKE"));
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), again);
    assert_eq!(
        secret_of(&r.mem, id, Item::TakenOverCredentials).as_deref(),
        Some("[default]\nmine = yes\n")
    );
    // A first write intended but never made (a crash): the record rests again, still kept.
    let mut owned = r.engine.store().load_all().unwrap().owned;
    let profile: crate::session::ProfileName = "default".parse().unwrap();
    let plan = r.engine.files.plan(&profile, &owned, false).unwrap();
    let credentials = fake_credentials();
    let region = Region::us_east_1();
    let contents = Contents::Credentials {
        region: &region,
        credentials: &credentials,
    };
    r.engine.files.intend(&plan, id, contents, &mut owned);
    let config = owned
        .iter()
        .find(|o| o.section == "default")
        .unwrap()
        .clone();
    assert!(config.intent.is_some(), "{config:?}");
    let settled = r.engine.files.reconcile(&mut owned);
    // Only the new credentials section's intent is dropped; the kept one is not settled away.
    assert!(
        settled
            .iter()
            .all(|s| matches!(s, crate::awsfiles::Settled::Dropped(o) if o.taken_over.is_none())),
        "{settled:?}"
    );
    let rested = owned.iter().find(|o| o.section == "default").unwrap();
    assert_eq!(rested.intent, None);
    assert_eq!(
        rested.fingerprint.as_ref(),
        rested.taken_over.as_ref().map(|t| &t.fingerprint)
    );
}

/// Every file below `dir`, with its text.
fn files_below(dir: &std::path::Path) -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push((
                path.clone(),
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
            ));
        }
    }
    out
}

#[test]
fn deleting_a_session_whose_keys_moved_leaves_the_keys_the_user_wrote_since_alone() {
    let r = rig();
    let id = moved_default_user(&r);
    // The user rotated the key and ran `aws configure`: AWS showed the new secret once, and
    // this section is its only copy.
    let rotated = edit_credentials(
        &r,
        "[default]\n",
        "[default]\naws_access_key_id = AKIAROTATEDKEY000000\naws_secret_access_key = rotated/secret\n",
    );
    let deleted = r.engine.delete(id, false, HomelessKeys::Refuse).unwrap();
    assert_eq!(
        r.text("credentials"),
        rotated,
        "the user's new keys stay, the old ones are not written"
    );
    let [moved] = deleted.moved_keys.as_slice() else {
        panic!("{deleted:?}");
    };
    assert_eq!(moved.fate, KeysFate::OtherKeys);
    assert!(
        moved.sentence().contains("not written back")
            && moved.sentence().contains("holds other keys now"),
        "{}",
        moved.sentence()
    );
    assert!(r.engine.catalog().unwrap().get(id).is_none());
    assert_eq!(secret_of(&r.mem, id, Item::SecretAccessKey), None);
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
}

#[test]
fn deleting_a_session_whose_keys_moved_writes_them_back_where_the_same_keys_are() {
    let r = rig();
    let id = moved_default_user(&r);
    // The user put the very same key id back by hand: nothing of theirs is overwritten.
    edit_credentials(
        &r,
        "[default]\n",
        "[default]\naws_access_key_id = AKIAUSERSOWNKEY00000\n",
    );
    let deleted = r.engine.delete(id, false, HomelessKeys::Refuse).unwrap();
    assert_eq!(deleted.moved_keys[0].fate, KeysFate::WrittenBack);
    assert!(
        r.text("credentials").contains(
            "[default]\naws_access_key_id = AKIAUSERSOWNKEY00000\naws_secret_access_key = mine/secret\n"
        ),
        "{}",
        r.text("credentials")
    );
}

#[test]
fn deleting_a_session_whose_keys_moved_from_a_section_now_gone_refuses_unless_told_to_discard() {
    let mut r = rig();
    let id = moved_default_user(&r);
    let without = edit_credentials(&r, "[default]\n", "");
    // Refused as it rests, and once a start has seen the section go (which adopts the removal).
    for started in [false, true] {
        if started {
            r.engine.start(id, &mut NoPrompt, false).unwrap();
            r.engine.stop(id).unwrap();
        }
        let err = r
            .engine
            .delete(id, false, HomelessKeys::Refuse)
            .unwrap_err();
        assert!(matches!(err, Error::KeysWouldBeLost { .. }), "{err}");
        assert!(err.is_invalid_input(), "exit 2");
        assert!(err.to_string().contains("--discard-keys"), "{err}");
        assert_eq!(
            r.text("credentials"),
            without,
            "no long-term keys written back in plain text"
        );
        assert_eq!(r.session(id).state, State::Inactive);
        assert_eq!(
            secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
            Some("mine/secret"),
            "the only copy stays"
        );
    }
    let deleted = r.engine.delete(id, false, HomelessKeys::Discard).unwrap();
    assert_eq!(r.text("credentials"), without);
    assert_eq!(deleted.moved_keys[0].fate, KeysFate::Discarded);
    assert!(r.engine.catalog().unwrap().get(id).is_none());
    assert_eq!(secret_of(&r.mem, id, Item::SecretAccessKey), None);
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
}

#[test]
fn deleting_a_session_whose_keys_moved_leaves_a_credential_source_set_up_since_alone() {
    // The user moved the profile to another credential source, in either file: long-term keys
    // written back into the credentials file would win over it, in plain text.
    let sources = [
        (
            "credentials",
            "credential_process = /usr/local/bin/other-tool\n",
        ),
        ("credentials", "aws_session_token = FwoGZXIvYXdzEXAMPLE\n"),
        ("config", "credential_process = /usr/local/bin/other-tool\n"),
        (
            "config",
            "sso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n",
        ),
        (
            "config",
            "role_arn = arn:aws:iam::123456789012:role/Ops\ncredential_source = Environment\n",
        ),
        (
            "config",
            "role_arn = arn:aws:iam::123456789012:role/Ops\nweb_identity_token_file = /var/run/token\n",
        ),
        (
            "config",
            "login_session = arn:aws:iam::123456789012:user/me\n",
        ),
    ];
    for (file, source) in sources {
        let r = rig();
        let id = moved_default_user(&r);
        let moved_on = r
            .text(file)
            .replace("[default]\n", &format!("[default]\n{source}"));
        std::fs::write(r.dir.path().join(file), &moved_on).unwrap();
        let (credentials, config) = (r.text("credentials"), r.text("config"));
        let deleted = r.engine.delete(id, false, HomelessKeys::Refuse).unwrap();
        assert_eq!(r.text("credentials"), credentials, "{file}: {source}");
        assert_eq!(r.text("config"), config, "{file}: {source}");
        let [moved] = deleted.moved_keys.as_slice() else {
            panic!("{deleted:?}");
        };
        assert_eq!(moved.fate, KeysFate::OtherKeys, "{file}: {source}");
        assert!(
            moved.sentence().contains("another credential source"),
            "{}",
            moved.sentence()
        );
    }
    // An MFA device beside the keys names no source of its own: they go back.
    let r = rig();
    let id = moved_default_user(&r);
    edit_credentials(
        &r,
        "[default]\n",
        "[default]\nmfa_serial = arn:aws:iam::123456789012:mfa/me\n",
    );
    let deleted = r.engine.delete(id, false, HomelessKeys::Refuse).unwrap();
    assert_eq!(deleted.moved_keys[0].fate, KeysFate::WrittenBack);
    assert_keys_back_in_credentials(&r);
}

#[test]
fn a_refused_delete_of_a_running_session_whose_section_the_user_removed_changes_nothing() {
    let mut r = rig();
    let id = moved_default_user(&r);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    // While the session runs the user removes [default] (credtray's credentials there).
    let published = r.text("credentials");
    let start = published.find("[default]\n").unwrap();
    let end = start + published[start..].find("\n[").unwrap() + 1;
    let removed = format!("{}{}", &published[..start], &published[end..]);
    assert_eq!(
        removed,
        "# my keys\n[other]\naws_access_key_id = AKIAOTHER\n"
    );
    std::fs::write(r.dir.path().join("credentials"), &removed).unwrap();
    let before = files_below(r.dir.path());
    let err = r
        .engine
        .delete(id, false, HomelessKeys::Refuse)
        .unwrap_err();
    assert!(matches!(err, Error::KeysWouldBeLost { .. }), "{err}");
    assert!(err.is_invalid_input(), "exit 2");
    assert_eq!(
        files_below(r.dir.path()),
        before,
        "no file changed, the store included"
    );
    assert_eq!(r.session(id).state, State::Active);
    assert_eq!(
        secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
        Some("mine/secret"),
        "the only copy stays"
    );
    // Told to, the delete destroys them, and neither the section nor the keys come back.
    let deleted = r.engine.delete(id, false, HomelessKeys::Discard).unwrap();
    assert_eq!(deleted.moved_keys[0].fate, KeysFate::Discarded);
    assert_eq!(r.text("credentials"), removed);
    assert_eq!(r.text("config"), USER_CONFIG);
    assert!(r.engine.catalog().unwrap().get(id).is_none());
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
    assert!(r.mem.accounts().is_empty(), "{:?}", r.mem.accounts());
    for (path, text) in files_below(r.dir.path()) {
        assert!(
            !text.contains("mine/secret") && !text.contains("AKIAUSERSOWNKEY00000"),
            "a moved key in {}:\n{text}",
            path.display()
        );
    }
}

#[test]
fn a_delete_that_finds_the_section_gone_only_once_running_sessions_stopped_saves_what_it_did() {
    let mut r = rig();
    let id = moved_default_user(&r);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    // The kept original is lost from the keychain: the stop the delete makes removes the
    // section instead of giving it back, so the keys find it gone only then.
    r.mem
        .delete(Key::new(id, Item::TakenOverCredentials))
        .unwrap();
    let err = r
        .engine
        .delete(id, false, HomelessKeys::Refuse)
        .unwrap_err();
    assert!(matches!(err, Error::KeysWouldBeLost { .. }), "{err}");
    assert!(!r.text("credentials").contains("[default]"));
    // The store says what the files show: the session stopped, the claim on no section.
    assert_eq!(r.session(id).state, State::Inactive);
    let owned = r.engine.store().load_all().unwrap().owned;
    let claim = owned
        .iter()
        .find(|o| o.flavor == crate::awsfiles::Flavor::Credentials)
        .unwrap();
    assert_eq!(
        claim.taken_over.as_ref().map(|t| t.fingerprint.as_str()),
        Some("no section"),
        "{owned:?}"
    );
    assert_eq!(
        secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
        Some("mine/secret")
    );
    let checked = r.engine.check_files().unwrap();
    assert!(checked.iter().all(|f| f.problems.is_empty()), "{checked:?}");
    // Refused again, now before anything changes; told to, the delete finishes.
    let files = files_below(r.dir.path());
    assert!(matches!(
        r.engine.delete(id, false, HomelessKeys::Refuse),
        Err(Error::KeysWouldBeLost { .. })
    ));
    assert_eq!(files_below(r.dir.path()), files);
    let deleted = r.engine.delete(id, false, HomelessKeys::Discard).unwrap();
    assert_eq!(deleted.moved_keys[0].fate, KeysFate::Discarded);
    assert_eq!(r.text("config"), USER_CONFIG);
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
    assert!(r.mem.accounts().is_empty(), "{:?}", r.mem.accounts());
}

#[test]
fn moved_keys_leave_no_copy_in_the_backup_of_an_earlier_take_over() {
    let mut r = rig();
    let id = default_user_with(&r, "AKIAUSERSOWNKEY00000", "mine/secret");
    write_user_files(&r);
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    r.engine.stop(id).unwrap();
    assert!(
        r.text("credentials.credtray-backup")
            .contains("mine/secret"),
        "a take-over copies the user's section verbatim"
    );
    r.engine.move_keys(id).unwrap();
    let files = files_below(r.dir.path());
    assert!(
        files
            .iter()
            .any(|(p, _)| p.ends_with("credentials.credtray-backup"))
    );
    for (path, text) in files {
        assert!(
            !text.contains("mine/secret") && !text.contains("AKIAUSERSOWNKEY00000"),
            "a moved key in {}:\n{text}",
            path.display()
        );
    }
    let backup = r.text("credentials.credtray-backup");
    assert!(
        backup.contains("credtray took over this section")
            && backup.contains("aws_secret_access_key=<moved to the keychain by credtray>"),
        "{backup}"
    );
}

#[test]
fn a_hand_edit_of_a_taken_over_section_is_backed_up_and_the_original_restored() {
    let mut r = rig();
    let id = default_user(&r);
    write_user_files(&r);
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    let edited = r
        .text("credentials")
        .replace("aws_session_token", "# added by hand\naws_session_token");
    std::fs::write(r.dir.path().join("credentials"), edited).unwrap();
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), USER_CREDENTIALS);
    let backup = r.text("credentials.credtray-backup");
    assert!(backup.contains("# added by hand"), "{backup}");
    assert!(
        !backup.contains("ASIAFAKE") && !backup.contains("fake-secret"),
        "credtray's own credentials are redacted: {backup}"
    );
    assert!(backup.contains("<redacted by credtray>"), "{backup}");
    // The take-over copy is verbatim: it is the user's.
    assert!(backup.contains("mine/secret"), "{backup}");
}

#[test]
fn a_restart_of_a_taken_over_profile_keeps_the_original_and_gives_it_back_on_stop() {
    let mut r = rig();
    let id = default_user(&r);
    write_user_files(&r);
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    let edit = Edit {
        region: Some("eu-central-1".into()),
        ..Edit::default()
    };
    let (_, restart) = r.engine.edit(id, edit, &mut NoPrompt).unwrap();
    restart.unwrap().unwrap();
    assert!(r.text("config").contains("region = eu-central-1"));
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), USER_CREDENTIALS);
    assert_eq!(r.text("config"), USER_CONFIG);
}

#[test]
fn a_second_session_on_a_taken_over_profile_gives_the_users_section_back_on_stop() {
    let mut r = rig();
    let first = default_user(&r);
    let second = r
        .engine
        .add(
            NewSession {
                alias: "second".parse().unwrap(),
                ..user("unused")
            },
            Some(keys("AKIACCCCCCCCCCCCCCCC", "other")),
        )
        .unwrap()
        .id;
    write_user_files(&r);
    r.engine.start(first, &mut NoPrompt, true).unwrap();
    r.engine.start(second, &mut NoPrompt, false).unwrap();
    assert_eq!(r.session(first).state, State::Inactive);
    // The session that took the profile over goes away; the original it keeps must not.
    r.engine.delete(first, false, HomelessKeys::Refuse).unwrap();
    assert!(secret_of(&r.mem, first, Item::TakenOverCredentials).is_some());
    r.engine.stop(second).unwrap();
    assert_eq!(r.text("credentials"), USER_CREDENTIALS);
    assert_eq!(r.text("config"), USER_CONFIG);
    assert!(
        r.mem.accounts().iter().all(|a| !a.contains("taken-over")),
        "{:?}",
        r.mem.accounts()
    );
}

#[test]
fn ownership_follows_each_processs_environment() {
    let mut r = rig();
    let id = r.user("dev", false);
    // This process publishes into files named by AWS_SHARED_CREDENTIALS_FILE/AWS_CONFIG_FILE…
    let elsewhere = r.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let mut shell = r.other_engine(&elsewhere);
    shell.start(id, &mut NoPrompt, false).unwrap();
    assert!(
        std::fs::read_to_string(elsewhere.join("credentials"))
            .unwrap()
            .contains("ASIAFAKE")
    );
    // …and the tray, started without them, refreshes and stops them where they were written.
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::hours(12));
    let rotated = r.engine.rotate(&mut NoPrompt).unwrap();
    assert!(rotated[0].1.is_ok());
    assert_eq!(
        r.text("credentials"),
        "",
        "nothing written to the default files"
    );
    assert!(
        std::fs::read_to_string(elsewhere.join("credentials"))
            .unwrap()
            .contains("ASIAFAKE000000000002")
    );
    r.engine.stop(id).unwrap();
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("credentials")).unwrap(),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("config")).unwrap(),
        ""
    );
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
}

#[test]
fn editing_a_session_in_error_orphans_its_credentials() {
    let mut r = rig();
    let root = r.user("root", false);
    let child = r.chained("child", root, "child");
    r.engine.start(child, &mut NoPrompt, false).unwrap();
    // A refresh fails: the session is in error, its last credentials still written.
    r.sts.fail_next(Cause::Throttled);
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::minutes(50));
    assert!(r.engine.rotate(&mut NoPrompt).unwrap()[0].1.is_err());
    assert!(matches!(r.session(child).state, State::Error(_)));
    assert!(r.text("credentials").contains("[child]"));
    let edit = Edit {
        profile: Some("elsewhere".parse().unwrap()),
        ..Edit::default()
    };
    let (outcome, restart) = r.engine.edit(child, edit, &mut NoPrompt).unwrap();
    assert!(restart.is_none(), "a session in error is not restarted");
    assert_eq!(outcome.session.profile.as_str(), "elsewhere");
    assert!(
        !r.text("credentials").contains("[child]"),
        "{}",
        r.text("credentials")
    );
    assert!(!r.text("config").contains("[profile child]"));
    assert_eq!(r.session(child).state, State::Inactive);
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
}

#[test]
fn a_cached_token_aws_rejects_is_published_again() {
    for cause in [Cause::ExpiredToken, Cause::InvalidKey] {
        let mut r = rig();
        let root = r.user("root", true);
        let child = r.chained("child", root, "child");
        let mut prompt = Scripted::codes(&["111111", "222222"]);
        r.engine.start(child, &mut prompt, false).unwrap();
        r.engine.stop(child).unwrap();
        // The child's own credentials are past their cache (as after an hour).
        r.mem
            .delete(Key::new(child, Item::RoleCredentials))
            .unwrap();
        let cached = secret_of(&r.mem, root, Item::SessionToken).unwrap();
        // AWS now says the cached token is dead: it is dropped and a new one fetched, once.
        r.sts.fail_next(cause.clone());
        r.engine
            .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::minutes(1));
        r.engine.start(child, &mut prompt, false).unwrap();
        assert_eq!(r.sts_calls("GetSessionToken"), 2, "{cause:?}");
        assert_eq!(prompt.asked.len(), 2, "asked for a second code: {cause:?}");
        let renewed = secret_of(&r.mem, root, Item::SessionToken).unwrap();
        assert_ne!(cached, renewed, "the dead token is gone: {cause:?}");
    }
}

#[test]
fn an_access_denied_keeps_the_valid_cached_token() {
    let mut r = rig();
    let root = r.user("root", true);
    let child = r.chained("child", root, "child");
    let mut prompt = Scripted::codes(&["111111"]);
    r.engine.start(child, &mut prompt, false).unwrap();
    let cached = secret_of(&r.mem, root, Item::SessionToken).unwrap();
    r.mem
        .delete(Key::new(child, Item::RoleCredentials))
        .unwrap();
    r.sts.fail_next(Cause::AccessDenied);
    assert!(r.engine.start(child, &mut prompt, false).is_err());
    assert_eq!(r.sts_calls("GetSessionToken"), 1);
    assert_eq!(secret_of(&r.mem, root, Item::SessionToken), Some(cached));
}

#[test]
fn a_crash_between_intent_and_write_leaves_an_unowned_section() {
    // The intent is saved, then the process dies before writing: the next command settles it.
    let mut r = rig();
    let id = default_user(&r);
    write_user_files(&r);
    let plan = r
        .engine
        .files
        .plan(&"default".parse().unwrap(), &[], true)
        .unwrap();
    {
        let mut locked = r.engine.store().lock().unwrap();
        r.engine.keep_originals(id, &plan.originals, &[]).unwrap();
        r.engine.files.intend(
            &plan,
            id,
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &fake_credentials(),
            },
            &mut locked.owned,
        );
        locked.save().unwrap();
    }
    assert_eq!(r.engine.store().load_all().unwrap().owned.len(), 2);
    // Nothing was written: the intents are dropped, with the originals they kept.
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), USER_CREDENTIALS);
    assert!(
        r.mem.accounts().iter().all(|a| !a.contains("taken-over")),
        "{:?}",
        r.mem.accounts()
    );

    // Killed after the write: the section is credtray's, and the session says so.
    let other = r.user("other", false);
    let plan = r
        .engine
        .files
        .plan(&"other".parse().unwrap(), &[], true)
        .unwrap();
    {
        let mut locked = r.engine.store().lock().unwrap();
        r.engine
            .keep_originals(other, &plan.originals, &[])
            .unwrap();
        r.engine.files.intend(
            &plan,
            other,
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &fake_credentials(),
            },
            &mut locked.owned,
        );
        locked.save().unwrap();
        let mut owned = locked.owned.clone();
        r.engine
            .files
            .write(
                &plan,
                Contents::Credentials {
                    region: &Region::us_east_1(),
                    credentials: &fake_credentials(),
                },
                &mut owned,
            )
            .unwrap();
        // …and the process dies before it saves `owned`.
    }
    drop(r.engine.lock().unwrap());
    let stored = r.engine.store().load_all().unwrap();
    assert!(matches!(r.session(other).state, State::Error(ref m) if m.contains("interrupted")));
    assert!(stored.owned.iter().all(|o| o.intent.is_none()));
    r.engine.stop(other).unwrap();
    assert_eq!(
        r.text("credentials"),
        USER_CREDENTIALS,
        "the user's [other] is back"
    );
    assert_eq!(r.text("config"), USER_CONFIG);
}

fn fake_credentials() -> crate::aws::Credentials {
    crate::aws::Credentials {
        access_key_id: SecretString::from("ASIACRASHED000000000".to_owned()),
        secret_access_key: SecretString::from("crashed".to_owned()),
        session_token: SecretString::from("crashed-token".to_owned()),
        expiration: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        issued: None,
    }
}

#[test]
fn a_failed_refresh_overwrites_a_concurrent_stop() {
    let mut r = rig();
    let id = r.user("dev", true);
    r.engine
        .start(id, &mut Scripted::codes(&["123456"]), false)
        .unwrap();
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::hours(12));
    let other = r.other_engine(r.dir.path());
    let mut prompt = StopsMeanwhile {
        other,
        id,
        code: None,
    };
    let rotated = r.engine.rotate(&mut prompt).unwrap();
    assert!(rotated[0].1.is_err());
    assert_eq!(r.session(id).state, State::Inactive, "the stop stands");
}

#[test]
fn write_keys_overwrites_one_key_of_the_pair_when_the_keychain_loses_the_other() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.mem.forget_writes(Item::AccessKey);
    let edit = Edit {
        access_key_id: Some(
            AccessKeyId::parse(&SecretString::from("AKIABBBBBBBBBBBBBBBB".to_owned())).unwrap(),
        ),
        secret_access_key: Some(
            SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
        ),
        ..Edit::default()
    };
    let err = r.engine.edit(id, edit, &mut NoPrompt).unwrap_err();
    assert!(err.to_string().contains("did not keep"), "{err}");
    r.mem.heal();
    assert_eq!(
        secret_of(&r.mem, id, Item::AccessKeyId).as_deref(),
        Some("AKIAAAAAAAAAAAAAAAAA"),
        "both or neither"
    );
    assert_eq!(
        secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
        Some("s3cret")
    );
}

#[test]
fn a_delete_that_cannot_remove_a_keychain_item_orphans_the_rest() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    r.mem.refuse_delete(Item::AccessKey);
    let err = r
        .engine
        .delete(id, false, HomelessKeys::Refuse)
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("{id}-iam-user-access-key")) && message.contains("deleting"),
        "{message}"
    );
    // The other items went; the session stays, `deleting`, and can't be started.
    assert_eq!(r.mem.accounts(), [format!("{id}-iam-user-access-key")]);
    assert_eq!(r.session(id).state, State::Deleting);
    assert_eq!(r.text("credentials"), "", "its credentials went first");
    assert!(matches!(
        r.engine.start(id, &mut NoPrompt, false),
        Err(Error::Deleting { .. })
    ));
    // Deleting again finishes the job.
    r.mem.heal();
    r.engine.delete(id, false, HomelessKeys::Refuse).unwrap();
    assert!(r.engine.catalog().unwrap().sessions().is_empty());
    assert!(r.mem.accounts().is_empty(), "{:?}", r.mem.accounts());
}

#[test]
fn an_unsynced_directory_after_a_saved_add_forgets_the_keys_of_a_saved_session() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    crate::atomic::fail_dir_sync(true);
    let added = engine.add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")));
    crate::atomic::fail_dir_sync(false);
    let added = added.unwrap();
    assert_eq!(engine.catalog().unwrap().sessions().len(), 1);
    assert_eq!(
        secret_of(&mem, added.id, Item::SecretAccessKey).as_deref(),
        Some("s3cret")
    );
}

#[test]
fn a_backup_of_credtrays_own_section_carries_live_credentials() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    let edited = r
        .text("credentials")
        .replace("[dev]\n", "[dev]\n# a note\n");
    std::fs::write(r.dir.path().join("credentials"), edited).unwrap();
    r.engine.stop(id).unwrap();
    let backup = r.text("credentials.credtray-backup");
    assert!(backup.contains("# a note"), "{backup}");
    assert!(!backup.contains("ASIAFAKE"), "{backup}");
    assert!(!backup.contains("fake-secret"), "{backup}");
    assert!(!backup.contains("fake-token"), "{backup}");
}

static CLOCK_OFFSET_SECONDS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn offset_clock() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
        + time::Duration::seconds(CLOCK_OFFSET_SECONDS.load(std::sync::atomic::Ordering::SeqCst))
}

#[test]
fn short_saml_credentials_are_due_every_minute() {
    let mut r = rig();
    let new = NewSession {
        publish: None,
        alias: "fed".parse().unwrap(),
        profile: Some("fed".parse().unwrap()),
        region: None,
        kind: SessionKind::IamRoleFederated {
            role_arn: "arn:aws:iam::123456789012:role/x".parse().unwrap(),
            saml_url: "https://idp.example.com/saml".parse().unwrap(),
            idp_arn: "arn:aws:iam::123456789012:saml-provider/idp"
                .parse()
                .unwrap(),
        },
    };
    let id = r.engine.add(new, None).unwrap().id;
    // The IdP grants 900 s (its SessionDuration), less than the 20-minute cap.
    r.sts.cap_duration(std::time::Duration::from_secs(900));
    r.engine.set_clock(offset_clock);
    let mut prompt = Scripted {
        assertion: Some(granting(
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:saml-provider/idp",
            Some(900),
        )),
        ..Scripted::codes(&[])
    };
    r.engine.start(id, &mut prompt, false).unwrap();
    CLOCK_OFFSET_SECONDS.store(60, std::sync::atomic::Ordering::SeqCst);
    assert!(
        r.engine.rotate(&mut prompt).unwrap().is_empty(),
        "14 minutes left of 15: not due"
    );
    CLOCK_OFFSET_SECONDS.store(11 * 60, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        r.engine.rotate(&mut prompt).unwrap().len(),
        1,
        "4 minutes left: due"
    );
}

#[test]
fn after_a_crash_a_section_the_user_wrote_is_claimed_and_deleted() {
    let mut r = rig();
    let id = r.user("dev", false);
    let plan = r
        .engine
        .files
        .plan(&"dev".parse().unwrap(), &[], false)
        .unwrap();
    {
        let mut locked = r.engine.store().lock().unwrap();
        r.engine.files.intend(
            &plan,
            id,
            Contents::Credentials {
                region: &Region::us_east_1(),
                credentials: &fake_credentials(),
            },
            &mut locked.owned,
        );
        locked.save().unwrap();
    }
    // The process died before writing; then the user ran `aws configure --profile dev`.
    let mine = "[dev]\naws_access_key_id = AKIAMINE000000000000\naws_secret_access_key = mine\n";
    std::fs::write(r.dir.path().join("credentials"), mine).unwrap();
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), mine);
    assert!(r.engine.store().load_all().unwrap().owned.is_empty());
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    assert!(
        matches!(err, Error::Files(crate::awsfiles::Error::NotOwned { .. })),
        "the user's section is theirs: {err}"
    );
}

#[test]
fn an_edit_whose_old_profile_cannot_be_given_up_is_half_applied() {
    let mut r = rig();
    let id = default_user(&r);
    write_user_files(&r);
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    // A second spelling of [default] in the config file: giving it up fails there.
    let config = format!("{}\n[profile default]\nregion = x\n", r.text("config"));
    std::fs::write(r.dir.path().join("config"), config).unwrap();
    let edit = Edit {
        profile: Some("prod".parse().unwrap()),
        ..Edit::default()
    };
    assert!(r.engine.edit(id, edit, &mut NoPrompt).is_err());
    let s = r.session(id);
    assert_eq!(s.profile.as_str(), "default", "the edit is not applied");
    // The store still knows the config section it holds; a second session can't take the
    // restored user's [default] without being asked.
    assert!(
        r.engine
            .store()
            .load_all()
            .unwrap()
            .owned
            .iter()
            .any(|o| o.section == "default")
    );
    let second = r
        .engine
        .add(
            NewSession {
                alias: "second".parse().unwrap(),
                ..user("unused")
            },
            Some(keys("AKIACCCCCCCCCCCCCCCC", "other")),
        )
        .unwrap()
        .id;
    let config = r
        .text("config")
        .replace("\n[profile default]\nregion = x\n", "");
    std::fs::write(r.dir.path().join("config"), config).unwrap();
    assert!(matches!(
        r.engine.start(second, &mut NoPrompt, false),
        Err(Error::Files(crate::awsfiles::Error::NotOwned { .. }))
    ));
    assert!(r.text("credentials").contains("AKIAUSERSOWNKEY00000"));
}

#[test]
fn a_refresh_whose_last_save_fails_removes_the_sections_it_should_have_kept() {
    let mut r = rig();
    let id = default_user(&r);
    write_user_files(&r);
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    let before = r.text("credentials");
    let mut broken = Engine::new(
        r.engine.store().failing_saves(),
        r.mem.clone(),
        Files::at(
            r.dir.path().join("credentials"),
            r.dir.path().join("config"),
        ),
        r.sts.clone(),
    );
    assert!(
        broken
            .publish(id, &fake_credentials(), false, true)
            .is_err()
    );
    assert_eq!(
        r.text("credentials"),
        before,
        "the refresh is undone, nothing removed"
    );
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), USER_CREDENTIALS);
    assert_eq!(r.text("config"), USER_CONFIG);
}

#[test]
fn stop_all_turns_a_deleting_session_back_into_an_inactive_one() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.mem.refuse_delete(Item::AccessKey);
    assert!(r.engine.delete(id, false, HomelessKeys::Refuse).is_err());
    r.engine.stop_all().unwrap();
    assert!(matches!(r.engine.stop(id), Err(Error::Deleting { .. })));
    assert!(matches!(
        r.engine.edit(
            id,
            Edit {
                region: Some("eu-central-1".into()),
                ..Edit::default()
            },
            &mut NoPrompt
        ),
        Err(Error::Deleting { .. })
    ));
    assert!(matches!(
        r.engine
            .chain(id, chain_to("arn:aws:iam::123456789012:role/x")),
        Err(Error::Deleting { .. })
    ));
    assert_eq!(r.session(id).state, State::Deleting);
}

/// A session of the rig published as a process, naming a CLI at a path with a space.
fn process_rig() -> (Rig, SessionId) {
    let mut r = rig();
    r.engine.set_cli("/opt/cred tray/credtray");
    let id = r.user("dev", false);
    r.engine
        .edit(
            id,
            Edit {
                publish: Some(Publish::Process),
                ..Edit::default()
            },
            &mut NoPrompt,
        )
        .unwrap();
    (r, id)
}

#[test]
fn a_process_session_writes_only_its_credential_process_line_even_when_rotated() {
    let (mut r, id) = process_rig();
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert_eq!(
        r.text("config"),
        format!(
            "[profile dev]\nregion = eu-west-1\ncredential_process = {q}/opt/cred tray/credtray{q} credential-process --session {id}\n",
            q = if cfg!(windows) { '"' } else { '\'' }
        )
    );
    assert!(
        !r.dir.path().join("credentials").exists(),
        "no credentials file at all"
    );
    assert_eq!(
        r.sts_calls("GetSessionToken"),
        1,
        "credentials obtained once at start"
    );
    assert!(
        secret_of(&r.mem, id, Item::SessionToken).is_some(),
        "the token is cached for credential-process"
    );
    let started = r.session(id);
    assert_eq!(started.state, State::Active);

    // Due for a refresh: a new token, nothing written but the expiry.
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::hours(12));
    let config = r.text("config");
    let rotated = r.engine.rotate(&mut NoPrompt).unwrap();
    assert!(rotated[0].1.is_ok(), "{:?}", rotated[0].1);
    assert_eq!(r.sts_calls("GetSessionToken"), 2);
    assert_eq!(r.text("config"), config);
    assert!(!r.dir.path().join("credentials").exists());

    r.engine.stop(id).unwrap();
    assert_eq!(r.text("config"), "");
    assert!(r.engine.store.load_all().unwrap().owned.is_empty());
}

#[test]
fn switching_an_active_session_between_file_and_process_republishes_it() {
    let mut r = rig();
    r.engine.set_cli("/usr/bin/credtray");
    let id = r.user("dev", false);
    std::fs::write(r.dir.path().join("credentials"), "[mine]\nx = 1\n").unwrap();
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert!(
        r.text("credentials")
            .contains("[dev]\naws_access_key_id = ")
    );
    let to = |publish| Edit {
        publish: Some(publish),
        ..Edit::default()
    };
    let (outcome, restart) = r
        .engine
        .edit(id, to(Publish::Process), &mut NoPrompt)
        .unwrap();
    assert_eq!(outcome.changed, [Field::Publish]);
    assert!(restart.unwrap().is_ok());
    assert_eq!(
        r.text("credentials"),
        "[mine]\nx = 1\n",
        "the owned [dev] is gone"
    );
    assert!(r.text("config").contains(&format!(
        "credential_process = {q}/usr/bin/credtray{q}",
        q = if cfg!(windows) { '"' } else { '\'' }
    )));

    r.engine.edit(id, to(Publish::File), &mut NoPrompt).unwrap();
    assert!(
        r.text("credentials")
            .contains("[dev]\naws_access_key_id = ")
    );
    assert_eq!(r.text("config"), "[profile dev]\nregion = eu-west-1\n");
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), "[mine]\nx = 1\n");
}

#[test]
fn a_process_session_withholds_a_taken_over_section_and_puts_it_back_in_its_place() {
    let (mut r, id) = process_rig();
    let mine = "# my keys\n[a]\nx = 1\n\n[dev]\naws_access_key_id = AKIAMINE\naws_secret_access_key = mine\n\n; after\n[b]\ny = 2\n";
    std::fs::write(r.dir.path().join("credentials"), mine).unwrap();
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    assert!(err.to_string().contains("not written by credtray"), "{err}");
    assert!(err.is_invalid_input());
    assert_eq!(r.text("credentials"), mine);

    r.engine.start(id, &mut NoPrompt, true).unwrap();
    assert_eq!(
        r.text("credentials"),
        "# my keys\n[a]\nx = 1\n\n\n; after\n[b]\ny = 2\n",
        "botocore would read [dev] before credential_process"
    );
    assert!(
        secret_of(&r.mem, id, Item::TakenOverCredentials).is_some_and(|o| o.contains("AKIAMINE"))
    );
    assert!(r.text("credentials.credtray-backup").contains("AKIAMINE"));
    let report = r.engine.check_files().unwrap();
    assert!(report.iter().all(|f| f.problems.is_empty()), "{report:?}");
    assert!(report[0].owned.contains(&"dev".to_owned()));

    // A refresh keeps it out; a stop puts it back, byte for byte, where it was.
    r.engine
        .set_clock(|| time::OffsetDateTime::now_utc() + time::Duration::hours(12));
    assert!(r.engine.rotate(&mut NoPrompt).unwrap()[0].1.is_ok());
    assert!(!r.text("credentials").contains("[dev]"));
    r.engine.stop(id).unwrap();
    assert_eq!(r.text("credentials"), mine);
    assert_eq!(secret_of(&r.mem, id, Item::TakenOverCredentials), None);
}

#[test]
fn a_file_session_starting_on_a_withheld_profile_writes_where_the_original_was() {
    let (mut r, process) = process_rig();
    let mine = "[dev]\naws_access_key_id = AKIAMINE\naws_secret_access_key = mine\n\n[b]\ny = 2\n";
    std::fs::write(r.dir.path().join("credentials"), mine).unwrap();
    r.engine.start(process, &mut NoPrompt, true).unwrap();
    let file = r.user("other", false);
    r.engine
        .edit(
            file,
            Edit {
                profile: Some("dev".parse().unwrap()),
                ..Edit::default()
            },
            &mut NoPrompt,
        )
        .unwrap();
    r.engine.start(file, &mut NoPrompt, false).unwrap();
    let credentials = r.text("credentials");
    assert!(
        credentials.starts_with("[dev]\naws_access_key_id = ASIA"),
        "{credentials}"
    );
    assert!(!r.text("config").contains("credential_process"));
    assert_eq!(r.session(process).state, State::Inactive);
    r.engine.stop(file).unwrap();
    assert_eq!(r.text("credentials"), mine);
}

#[test]
fn an_integration_is_stored_and_deleting_it_takes_its_sessions_tokens_and_chains_with_cascade() {
    let r = rig();
    let corp = r
        .engine
        .add_integration(NewIntegration {
            alias: "corp".parse().unwrap(),
            start_url: "https://d-1234567890.awsapps.com/start".parse().unwrap(),
            region: "eu-west-1".into(),
        })
        .unwrap();
    let derived = r
        .engine
        .add(
            NewSession {
                alias: "prod/Admin".parse().unwrap(),
                profile: Some("prod-admin".parse().unwrap()),
                region: None,
                publish: None,
                kind: SessionKind::AwsSsoRole {
                    account_id: "123456789012".parse().unwrap(),
                    role_name: "Admin".parse().unwrap(),
                    integration: corp.id,
                },
            },
            None,
        )
        .unwrap();
    let chained = r.chained("ops", derived.id, "ops");
    r.mem
        .set(
            Key::integration(corp.id, Item::AwsSsoToken),
            &"{\"tokens\":1}".into(),
        )
        .unwrap();
    // Saved and read back whole.
    let stored = r.engine.store().load().unwrap();
    assert_eq!(stored.integrations(), std::slice::from_ref(&corp));

    let err = r.engine.delete_integration(corp.id, false).unwrap_err();
    assert!(err.to_string().contains("\"ops\""), "{err}");
    assert!(r.engine.catalog().unwrap().integration(corp.id).is_some());

    let deleted = r.engine.delete_integration(corp.id, true).unwrap();
    let ids: Vec<SessionId> = deleted.iter().map(|s| s.id).collect();
    assert!(
        ids.contains(&derived.id) && ids.contains(&chained),
        "{ids:?}"
    );
    let catalog = r.engine.catalog().unwrap();
    assert!(catalog.integrations().is_empty() && catalog.sessions().is_empty());
    assert_eq!(
        r.mem
            .get(Key::integration(corp.id, Item::AwsSsoToken))
            .unwrap()
            .map(|s| s.expose_secret().to_owned()),
        None,
        "its tokens are gone"
    );
}

#[test]
fn the_web_console_gets_a_federation_token_for_an_iam_user_with_the_allow_all_policy() {
    let r = rig();
    let user = r.user("Dev Ops with a very long alias", false);
    let mut engine = r.engine;
    let credentials = engine.console_credentials(user, &mut NoPrompt).unwrap();
    assert!(
        credentials
            .access_key_id
            .expose_secret()
            .starts_with("ASIAFAKE")
    );
    let Some(Call::GetFederationToken {
        name,
        policy,
        seconds,
        ..
    }) = r.sts.calls().pop()
    else {
        panic!("{:?}", r.sts.calls())
    };
    assert_eq!(
        name, "credtray-Dev-Ops-with-a-very-lon",
        "32 characters at most"
    );
    assert_eq!(policy, crate::engine::kinds::CONSOLE_POLICY);
    let parsed: serde_json::Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(parsed["Statement"][0]["Action"], "*");
    assert_eq!(seconds, 12 * 3600);
    // Another kind: its own temporary credentials, no federation token.
    let chained = {
        let mut r2 = rig();
        let root = r2.user("root", false);
        let id = r2.chained("c", root, "c");
        let c = r2.engine.console_credentials(id, &mut NoPrompt).unwrap();
        assert!(
            !r2.sts
                .calls()
                .iter()
                .any(|c| matches!(c, Call::GetFederationToken { .. }))
        );
        c
    };
    assert!(
        chained
            .access_key_id
            .expose_secret()
            .starts_with("ASIAFAKE")
    );
}

#[test]
fn a_dry_run_of_an_edit_that_changes_nothing_tests_the_saved_session() {
    let mut r = rig();
    let id = r.user("dev", false);
    let tested = r
        .engine
        .test_edit(id, Edit::default(), &mut NoPrompt)
        .unwrap();
    assert!(
        tested.caller_arn.contains(":user/"),
        "{}",
        tested.caller_arn
    );
    assert!(
        r.sts
            .calls()
            .iter()
            .any(|c| matches!(c, Call::GetCallerIdentity { .. }))
    );
}

#[test]
fn deleting_a_session_whose_keys_moved_while_another_runs_in_their_section_refuses() {
    let mut r = rig();
    let a = moved_default_user(&r);
    let b = user_on_default(&r, "b", "AKIABBBBBBBBBBBBBBBB", "b-secret");
    r.engine.start(b, &mut NoPrompt, false).unwrap();
    // B's credentials are where A's keys would go back: its stop gives the section up
    // without them, so deleting A now would destroy their only copy without a word.
    let before = files_below(r.dir.path());
    for homeless in [HomelessKeys::Refuse, HomelessKeys::Discard] {
        let err = r.engine.delete(a, false, homeless).unwrap_err();
        assert!(matches!(err, Error::KeysHomeHeld { .. }), "{err}");
        assert!(err.is_invalid_input(), "exit 2");
        assert!(err.to_string().contains("stop \"b\" first"), "{err}");
        assert_eq!(files_below(r.dir.path()), before);
    }
    assert_eq!(
        secret_of(&r.mem, a, Item::SecretAccessKey).as_deref(),
        Some("mine/secret")
    );
    // Once B stopped, A's delete writes them back.
    r.engine.stop(b).unwrap();
    let deleted = r.engine.delete(a, false, HomelessKeys::Refuse).unwrap();
    assert_eq!(deleted.moved_keys[0].fate, KeysFate::WrittenBack);
    assert_keys_back_in_credentials(&r);
}

#[test]
fn a_delete_whose_moved_keys_would_meet_an_unparseable_file_fails_before_anything_changes() {
    // The config section was taken over by the move too, or there was none (the start wrote
    // one): the config file can't be parsed once the session runs. Stopping the session and
    // putting the keys back both read it.
    for config_moved in [true, false] {
        let mut r = rig();
        let id = default_user_with(&r, "AKIAUSERSOWNKEY00000", "mine/secret");
        std::fs::write(r.dir.path().join("credentials"), USER_CREDENTIALS).unwrap();
        let config = if config_moved {
            USER_CONFIG
        } else {
            "[profile other]\nregion = eu-north-1\n"
        };
        std::fs::write(r.dir.path().join("config"), config).unwrap();
        r.engine.move_keys(id).unwrap();
        r.engine.start(id, &mut NoPrompt, false).unwrap();
        std::fs::write(
            r.dir.path().join("config"),
            format!("{}[broken\n", r.text("config")),
        )
        .unwrap();
        refused_as_it_was(&r, id);
    }
}

#[test]
fn a_delete_that_cannot_read_the_moved_keys_fails_before_anything_changes() {
    let mut r = rig();
    let id = moved_default_user(&r);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    // The keychain answers for the key id but not for the secret.
    r.mem.refuse_read(Item::AccessKey);
    let files = files_below(r.dir.path());
    let store = r.engine.store().load_all().unwrap();
    let err = r
        .engine
        .delete(id, false, HomelessKeys::Refuse)
        .unwrap_err();
    assert!(err.to_string().contains("keychain"), "{err}");
    assert_eq!(files_below(r.dir.path()), files, "no file changed");
    assert_eq!(r.engine.store().load_all().unwrap(), store, "nor the store");
    r.mem.heal();
    assert_eq!(
        secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
        Some("mine/secret")
    );
}

/// Deletes `id`, which must fail naming the config file and change no file, nor the store,
/// nor the keychain.
fn refused_as_it_was(r: &Rig, id: SessionId) {
    let files = files_below(r.dir.path());
    let store = r.engine.store().load_all().unwrap();
    let accounts = r.mem.accounts();
    let err = r
        .engine
        .delete(id, false, HomelessKeys::Refuse)
        .unwrap_err();
    assert!(err.to_string().contains("config"), "{err}");
    assert_eq!(files_below(r.dir.path()), files, "no file changed");
    assert_eq!(r.engine.store().load_all().unwrap(), store, "nor the store");
    assert_eq!(r.mem.accounts(), accounts, "nor the keychain");
    assert_eq!(r.session(id).state, State::Active);
}

#[test]
fn a_delete_that_fails_late_forgets_the_originals_of_the_sections_it_gave_back() {
    let mut r = rig();
    let id = default_user_with(&r, "AKIAUSERSOWNKEY00000", "mine/secret");
    std::fs::write(r.dir.path().join("credentials"), USER_CREDENTIALS).unwrap();
    r.engine.move_keys(id).unwrap();
    // The user writes a config section since: taken over for this run only.
    std::fs::write(r.dir.path().join("config"), USER_CONFIG).unwrap();
    r.engine.start(id, &mut NoPrompt, true).unwrap();
    assert!(secret_of(&r.mem, id, Item::TakenOverConfig).is_some());
    // The kept original of the credentials section is lost: the delete finds the keys' home
    // gone only once the running session stopped (see the test above).
    r.mem
        .delete(Key::new(id, Item::TakenOverCredentials))
        .unwrap();
    let err = r
        .engine
        .delete(id, false, HomelessKeys::Refuse)
        .unwrap_err();
    assert!(matches!(err, Error::KeysWouldBeLost { .. }), "{err}");
    assert_eq!(r.text("config"), USER_CONFIG, "given back");
    assert_eq!(
        secret_of(&r.mem, id, Item::TakenOverConfig),
        None,
        "no copy of the user's section left in the keychain"
    );
    assert_eq!(
        secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
        Some("mine/secret")
    );
}

#[test]
fn deleting_a_session_whose_keys_moved_from_beside_settings_that_name_no_source_writes_them_back() {
    // Keys that shape a source but are none on their own were there when the keys moved.
    for (credentials, config) in [
        ("", "role_session_name = me\nduration_seconds = 3600\n"),
        (
            "external_id = ext\nsso_region = eu-west-1\n",
            "source_profile = other\n",
        ),
        (
            "",
            "credential_source = Environment\nsso_account_id = 123456789012\n",
        ),
    ] {
        let r = rig();
        let id = default_user_with(&r, "AKIAUSERSOWNKEY00000", "mine/secret");
        let files = [
            ("credentials", USER_CREDENTIALS, credentials),
            ("config", USER_CONFIG, config),
        ];
        for (file, text, extra) in files {
            let text = text.replacen("[default]\n", &format!("[default]\n{extra}"), 1);
            std::fs::write(r.dir.path().join(file), text).unwrap();
        }
        r.engine.move_keys(id).unwrap();
        let deleted = r.engine.delete(id, false, HomelessKeys::Refuse).unwrap();
        assert_eq!(
            deleted.moved_keys[0].fate,
            KeysFate::WrittenBack,
            "{credentials}{config}"
        );
        assert_keys_back_in_credentials(&r);
    }
}

#[test]
fn a_delete_whose_second_stop_fails_says_the_first_stopped_and_forgets_what_it_gave_back() {
    let mut r = rig();
    let dev = default_user_with(&r, "AKIAUSERSOWNKEY00000", "mine/secret");
    let credentials = "[default]\naws_access_key_id = AKIAUSERSOWNKEY00000\naws_secret_access_key = mine/secret\n";
    let config = "[profile other]\nregion = eu-north-1\n";
    std::fs::write(r.dir.path().join("credentials"), credentials).unwrap();
    std::fs::write(r.dir.path().join("config"), config).unwrap();
    r.engine.move_keys(dev).unwrap();
    // ops, assumed from dev, takes the user's config section over for its run.
    let ops = r.chained("ops", dev, "other");
    r.engine.start(dev, &mut NoPrompt, false).unwrap();
    r.engine.start(ops, &mut NoPrompt, true).unwrap();
    assert!(secret_of(&r.mem, ops, Item::TakenOverConfig).is_some());
    // ops stops first; dev's stop can't read the original its claim kept, so it fails.
    r.mem.refuse_read(Item::TakenOverCredentials);
    r.engine
        .delete(dev, true, HomelessKeys::Refuse)
        .unwrap_err();
    r.mem.heal();
    // The store says what the files show: ops stopped, its section given back and the copy
    // of it gone from the keychain; dev still runs, its claim whole.
    assert_eq!(
        r.text("config")
            .matches("[profile other]\nregion = eu-north-1\n")
            .count(),
        1
    );
    assert_eq!(r.session(ops).state, State::Inactive);
    assert_eq!(secret_of(&r.mem, ops, Item::TakenOverConfig), None);
    assert_eq!(r.session(dev).state, State::Active);
    let deleted = r.engine.delete(dev, true, HomelessKeys::Refuse).unwrap();
    assert_eq!(
        deleted.moved_keys[0].fate,
        KeysFate::WrittenBack,
        "{deleted:?}"
    );
    assert_eq!(r.text("credentials"), credentials);
    assert_eq!(r.text("config"), config);
    assert!(r.mem.accounts().is_empty(), "{:?}", r.mem.accounts());
}

/// The keychain of `id` as the layout before the pair left it: two items, no pair.
fn old_layout(r: &Rig, id: SessionId, access_key_id: &str, secret: &str) {
    r.mem.delete(Key::new(id, Item::AccessKey)).unwrap();
    for (item, value) in [
        (Item::AccessKeyId, access_key_id),
        (Item::SecretAccessKey, secret),
    ] {
        r.mem
            .set(Key::new(id, item), &SecretString::from(value.to_owned()))
            .unwrap();
    }
}

/// The raw value of one item of `id`.
fn raw(r: &Rig, id: SessionId, item: Item) -> Option<String> {
    r.mem
        .get(Key::new(id, item))
        .unwrap()
        .map(|s| s.expose_secret().to_owned())
}

/// The access key id of the last GetSessionToken.
fn last_key_id(r: &Rig) -> String {
    r.sts
        .calls()
        .into_iter()
        .rev()
        .find_map(|c| match c {
            Call::GetSessionToken { access_key_id, .. } => Some(access_key_id),
            _ => None,
        })
        .unwrap()
}

#[test]
fn a_start_moves_the_old_two_item_layout_into_one_pair_item() {
    let mut r = rig();
    let id = r.user("dev", false);
    old_layout(&r, id, "AKIAOLDOLDOLDOLD0000", "old/secret");
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert_eq!(last_key_id(&r), "AKIAOLDOLDOLDOLD0000");
    assert_eq!(raw(&r, id, Item::AccessKeyId), None);
    assert_eq!(raw(&r, id, Item::SecretAccessKey), None);
    assert_eq!(
        secret_of(&r.mem, id, Item::AccessKeyId).as_deref(),
        Some("AKIAOLDOLDOLDOLD0000")
    );
    assert_eq!(
        secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
        Some("old/secret")
    );
}

#[test]
fn a_dry_run_reads_the_old_layout_and_moves_nothing() {
    let mut r = rig();
    let id = r.user("dev", false);
    old_layout(&r, id, "AKIAOLDOLDOLDOLD0000", "old/secret");
    let before = r.mem.accounts();
    r.engine
        .test_edit(id, Edit::default(), &mut NoPrompt)
        .unwrap();
    assert_eq!(last_key_id(&r), "AKIAOLDOLDOLDOLD0000");
    assert_eq!(r.mem.accounts(), before);
}

#[test]
fn every_state_an_interrupted_move_leaves_is_finished_by_the_next_start_and_the_pair_wins() {
    // Killed after the pair was written (both old items left), after the id's item was
    // deleted (the secret's left), and a leftover id alone: the pair's keys are used, the
    // leftovers (here with other values, to see which wins) go.
    let leftovers: [&[(Item, &str)]; 3] = [
        &[
            (Item::AccessKeyId, "AKIASTALESTALESTALE0"),
            (Item::SecretAccessKey, "stale"),
        ],
        &[(Item::SecretAccessKey, "stale")],
        &[(Item::AccessKeyId, "AKIASTALESTALESTALE0")],
    ];
    for left in leftovers {
        let mut r = rig();
        let id = r.user("dev", false);
        for (item, value) in left {
            r.mem
                .set(
                    Key::new(id, *item),
                    &SecretString::from((*value).to_owned()),
                )
                .unwrap();
        }
        r.engine.start(id, &mut NoPrompt, false).unwrap();
        assert_eq!(last_key_id(&r), "AKIAAAAAAAAAAAAAAAAA", "{left:?}");
        assert_eq!(
            r.mem.accounts(),
            [
                format!("{id}-iam-user-access-key"),
                format!("{id}-iam-user-session-token")
            ],
            "{left:?}"
        );
        assert_eq!(
            secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
            Some("s3cret")
        );
    }
}

#[test]
fn a_move_the_keychain_refuses_loses_nothing_and_is_tried_again() {
    let mut r = rig();
    let id = r.user("dev", false);
    old_layout(&r, id, "AKIAOLDOLDOLDOLD0000", "old/secret");
    r.mem.refuse(Item::AccessKey);
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert_eq!(last_key_id(&r), "AKIAOLDOLDOLDOLD0000");
    assert_eq!(raw(&r, id, Item::AccessKey), None);
    assert_eq!(
        raw(&r, id, Item::SecretAccessKey).as_deref(),
        Some("old/secret")
    );
    // A pair the keychain only said it kept is not left to win over the old items either.
    // (The start cached a token: the next reads of the keys are the engine's own.)
    r.mem.heal();
    r.mem.forget_writes(Item::AccessKey);
    let [old_id, _] = r.engine.stored_keys(id, true).unwrap();
    assert_eq!(old_id.unwrap().expose_secret(), "AKIAOLDOLDOLDOLD0000");
    assert_eq!(
        raw(&r, id, Item::AccessKeyId).as_deref(),
        Some("AKIAOLDOLDOLDOLD0000")
    );
    r.mem.heal();
    r.engine.stored_keys(id, true).unwrap();
    assert_eq!(raw(&r, id, Item::AccessKeyId), None);
    assert_eq!(
        secret_of(&r.mem, id, Item::AccessKeyId).as_deref(),
        Some("AKIAOLDOLDOLDOLD0000")
    );
}

#[test]
fn editing_one_half_of_an_old_layout_writes_the_whole_pair() {
    for (edit, expected) in [
        (
            Edit {
                secret_access_key: Some(
                    SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
                ),
                ..Edit::default()
            },
            ("AKIAOLDOLDOLDOLD0000", "new"),
        ),
        (
            Edit {
                access_key_id: Some(
                    AccessKeyId::parse(&SecretString::from("AKIANEWNEWNEWNEW0000".to_owned()))
                        .unwrap(),
                ),
                ..Edit::default()
            },
            ("AKIANEWNEWNEWNEW0000", "old/secret"),
        ),
    ] {
        let mut r = rig();
        let id = r.user("dev", false);
        old_layout(&r, id, "AKIAOLDOLDOLDOLD0000", "old/secret");
        r.engine.edit(id, edit, &mut NoPrompt).unwrap();
        assert_eq!(r.mem.accounts(), [format!("{id}-iam-user-access-key")]);
        assert_eq!(
            secret_of(&r.mem, id, Item::AccessKeyId).as_deref(),
            Some(expected.0)
        );
        assert_eq!(
            secret_of(&r.mem, id, Item::SecretAccessKey).as_deref(),
            Some(expected.1)
        );
    }
}

#[test]
fn one_old_half_alone_is_missing_keys_until_an_edit_gives_the_other() {
    let mut r = rig();
    let id = r.user("dev", false);
    old_layout(&r, id, "AKIAOLDOLDOLDOLD0000", "old/secret");
    r.mem.delete(Key::new(id, Item::SecretAccessKey)).unwrap();
    assert!(matches!(
        r.engine.start(id, &mut NoPrompt, false),
        Err(Error::MissingKeys { .. })
    ));
    assert_eq!(r.mem.accounts(), [format!("{id}-iam-user-access-key-id")]);
    // An edit of the id alone can't make a pair of it: refused, nothing changes.
    let id_only = Edit {
        access_key_id: Some(
            AccessKeyId::parse(&SecretString::from("AKIANEWNEWNEWNEW0000".to_owned())).unwrap(),
        ),
        ..Edit::default()
    };
    let err = r.engine.edit(id, id_only, &mut NoPrompt).unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
    assert_eq!(r.mem.accounts(), [format!("{id}-iam-user-access-key-id")]);
    let secret_only = Edit {
        secret_access_key: Some(
            SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
        ),
        ..Edit::default()
    };
    r.engine.edit(id, secret_only, &mut NoPrompt).unwrap();
    assert_eq!(r.mem.accounts(), [format!("{id}-iam-user-access-key")]);
    assert_eq!(
        secret_of(&r.mem, id, Item::AccessKeyId).as_deref(),
        Some("AKIAOLDOLDOLDOLD0000")
    );
}

#[test]
fn a_failed_edit_of_an_old_layout_puts_the_old_layout_back() {
    let r = rig();
    let id = r.user("dev", false);
    old_layout(&r, id, "AKIAOLDOLDOLDOLD0000", "old/secret");
    r.mem.delete(Key::new(id, Item::AccessKeyId)).unwrap();
    let broken = Engine::new(
        r.engine.store().failing_saves(),
        r.mem.clone(),
        Files::at(
            r.dir.path().join("credentials"),
            r.dir.path().join("config"),
        ),
        r.sts.clone(),
    );
    let mut broken = broken;
    let both = Edit {
        access_key_id: Some(
            AccessKeyId::parse(&SecretString::from("AKIANEWNEWNEWNEW0000".to_owned())).unwrap(),
        ),
        secret_access_key: Some(
            SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
        ),
        // A change the store keeps, so that its save fails.
        region: Some("eu-central-1".into()),
        ..Edit::default()
    };
    assert!(broken.edit(id, both, &mut NoPrompt).is_err());
    assert_eq!(
        r.mem.accounts(),
        [format!("{id}-iam-user-secret-access-key")]
    );
    assert_eq!(
        raw(&r, id, Item::SecretAccessKey).as_deref(),
        Some("old/secret")
    );
}

#[test]
fn delete_removes_the_pair_and_every_leftover_of_the_old_layout() {
    let r = rig();
    let id = r.user("dev", false);
    r.mem
        .set(
            Key::new(id, Item::SecretAccessKey),
            &SecretString::from("stale".to_owned()),
        )
        .unwrap();
    r.engine.delete(id, false, HomelessKeys::Refuse).unwrap();
    assert!(r.mem.is_empty(), "{:?}", r.mem.accounts());
}

#[test]
fn a_pair_item_that_does_not_parse_is_an_error_that_quotes_none_of_it() {
    let mut r = rig();
    let id = r.user("dev", false);
    r.mem
        .set(
            Key::new(id, Item::AccessKey),
            &SecretString::from(
                r#"{"access_key_id":"AKIAAAAAAAAAAAAAAAAA","secret_access_key":7}"#.to_owned(),
            ),
        )
        .unwrap();
    let err = r.engine.start(id, &mut NoPrompt, false).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!("{id}-iam-user-access-key"))
            && message.contains("not an access key pair"),
        "{message}"
    );
    assert!(!message.contains("AKIA"), "{message}");
    // The way out it names: both keys again.
    let edit = Edit {
        access_key_id: Some(
            AccessKeyId::parse(&SecretString::from("AKIANEWNEWNEWNEW0000".to_owned())).unwrap(),
        ),
        secret_access_key: Some(
            SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
        ),
        ..Edit::default()
    };
    r.engine.edit(id, edit, &mut NoPrompt).unwrap();
    r.engine.start(id, &mut NoPrompt, false).unwrap();
    assert_eq!(last_key_id(&r), "AKIANEWNEWNEWNEW0000");
}
