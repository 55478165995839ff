use secrecy::ExposeSecret;

use super::*;
use crate::secrets::Memory;
use crate::session::{AccessKeyId, SecretAccessKey, SessionKind};

fn keys(id: &str, secret: &str) -> IamUserKeys {
    IamUserKeys {
        access_key_id: AccessKeyId::parse(&SecretString::from(id.to_owned())).unwrap(),
        secret_access_key: SecretAccessKey::parse(&SecretString::from(secret.to_owned())).unwrap(),
    }
}

fn user(alias: &str) -> NewSession {
    NewSession {
        alias: alias.parse().unwrap(),
        profile: None,
        region: None,
        kind: SessionKind::IamUser { mfa_device: None },
    }
}

fn engine(secrets: Arc<Memory>) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let files = Files::at(dir.path().join("credentials"), dir.path().join("config"));
    let engine = Engine::new(Store::at(dir.path().join("cfg")), secrets, files);
    (dir, engine)
}

fn secret_of(m: &Memory, id: SessionId, item: Item) -> Option<String> {
    m.get(Key::new(id, item))
        .unwrap()
        .map(|s| s.expose_secret().to_owned())
}

#[test]
fn add_writes_both_keys_under_the_documented_accounts() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")))
        .unwrap();
    assert_eq!(
        mem.accounts(),
        [
            format!("{}-iam-user-access-key-id", s.id),
            format!("{}-iam-user-secret-access-key", s.id)
        ]
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
    mem.refuse(Item::SecretAccessKey);
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
    let (_dir, engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "old")))
        .unwrap();
    mem.refuse(Item::SecretAccessKey);
    let edit = Edit {
        access_key_id: Some(
            AccessKeyId::parse(&SecretString::from("AKIABBBBBBBBBBBBBBBB".to_owned())).unwrap(),
        ),
        secret_access_key: Some(
            SecretAccessKey::parse(&SecretString::from("new".to_owned())).unwrap(),
        ),
        ..Edit::default()
    };
    assert!(engine.edit(s.id, edit).is_err());
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
    let (dir, engine) = engine(mem.clone());
    engine.add_profile("seed".parse().unwrap()).unwrap();
    // A directory where the temp file would go makes the save fail after the keys are written.
    let store_path = engine.store().path();
    std::fs::remove_file(&store_path).unwrap();
    std::fs::create_dir(&store_path).unwrap();
    std::fs::write(store_path.join("x"), "").unwrap();
    assert!(
        engine
            .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "s3cret")))
            .is_err()
    );
    assert_eq!(mem.accounts(), Vec::<String>::new());
    drop(dir);
}

#[test]
fn edit_replaces_keys_drops_the_cached_token_and_restores_on_failure() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
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
    let out = engine.edit(s.id, edit).unwrap();
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
        mfa_device: Some(Some("GAHT12345678".parse().unwrap())),
        ..Edit::default()
    };
    mem.set(
        Key::new(s.id, Item::SessionToken),
        &SecretString::from("t".to_owned()),
    )
    .unwrap();
    engine.edit(s.id, mfa).unwrap();
    assert_eq!(
        secret_of(&mem, s.id, Item::SessionToken),
        None,
        "a new MFA device drops the token too"
    );
}

#[test]
fn an_edit_that_fails_validation_touches_no_secret() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
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
    let err = engine.edit(s.id, edit).unwrap_err();
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
    engine.delete(s.id, false).unwrap();
    assert!(
        mem.accounts()
            .iter()
            .all(|a| a.starts_with(&other.id.to_string()))
    );
    assert_eq!(mem.accounts().len(), 2);
}

#[test]
fn delete_with_the_keychain_down_keeps_the_session() {
    let mem = Arc::new(Memory::new());
    let (_dir, engine) = engine(mem.clone());
    let s = engine
        .add(user("u"), Some(keys("AKIAAAAAAAAAAAAAAAAA", "x")))
        .unwrap();
    let down = Arc::new(Memory::unreachable());
    let broken = Engine::new(engine.store().clone(), down, engine.files.clone());
    assert!(broken.delete(s.id, false).is_err());
    assert_eq!(engine.catalog().unwrap().sessions().len(), 1);
}
