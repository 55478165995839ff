//! Every field of every kind's table ([`Kind::fields`]) reaches the CLI's flags, `--json`,
//! `session show` and the store, so a field added to the table and forgotten in one of them
//! fails here instead of being dropped silently. (The tray's Edit ▸ and forms have the same walk
//! in the tray's own tests.)

use clap::Parser;

use super::args::{Cli, Command, Flag, SessionCommand};
use super::{output, to_edit};
use crate::session::{
    Catalog, Field, Integration, Kind, Login, NewSession, Region, Session, SessionId, SessionKind,
    Settings, Value,
};
use crate::store::Store;

/// The example value of a field, with the assumer pointing at a real session.
fn example(field: Field, assumer: SessionId) -> Value {
    if field == Field::Assumer {
        return Value::Assumer(assumer);
    }
    Value::parse(field, field.example()).unwrap()
}

/// A catalog with one session of every kind, each with every field set to its example.
fn every_kind() -> (Catalog, Vec<Session>) {
    // The integration the SSO session's example names.
    let integration = Integration {
        id: Field::Integration.example().parse().unwrap(),
        alias: "corp".parse().unwrap(),
        start_url: Field::StartUrl.example().parse().unwrap(),
        region: Region::us_east_1(),
        login: Login::LoggedOut,
        profiles: Vec::new(),
        pace: None,
    };
    let mut catalog = Catalog::new(Settings::default(), vec![], vec![], vec![integration]).unwrap();
    let root = catalog
        .add(NewSession {
            publish: None,
            alias: "root".parse().unwrap(),
            profile: None,
            region: None,
            kind: SessionKind::IamUser {
                mfa_device: None,
                mfa_source: None,
            },
        })
        .unwrap();
    let sessions = Kind::ALL
        .into_iter()
        .map(|kind| {
            let values = kind
                .fields()
                .iter()
                .filter(|f| !f.is_secret())
                .map(|&f| example(f, root.id));
            catalog
                .add(NewSession {
                    publish: None,
                    alias: format!("every {kind}").parse().unwrap(),
                    profile: Some(kind.as_str().parse().unwrap()),
                    region: None,
                    kind: SessionKind::from_values(kind, values).unwrap(),
                })
                .unwrap()
        })
        .collect();
    (catalog, sessions)
}

fn parse(args: &[&str]) -> SessionCommand {
    let mut argv = vec!["credtray", "session"];
    argv.extend(args);
    match Cli::try_parse_from(&argv) {
        Ok(Cli {
            command: Some(Command::Session(command)),
        }) => command,
        Ok(other) => panic!("{argv:?} parsed as {other:?}"),
        Err(e) => panic!("{argv:?}: {e}"),
    }
}

#[test]
fn every_field_of_every_kind_has_an_add_and_an_edit_flag() {
    let (catalog, sessions) = every_kind();
    for session in &sessions {
        let kind = session.kind.tag();
        if kind.is_integration_derived() {
            // Its fields come from the integration: no flag sets them (the catalog refuses).
            continue;
        }
        for &field in kind.fields() {
            let text = if field.is_secret() {
                "-".to_owned()
            } else if field == Field::Assumer {
                "root".to_owned()
            } else {
                field.example().to_owned()
            };
            let flag = format!("--{}", field.code());
            let SessionCommand::Edit(edit) = parse(&["edit", "x", &flag, &text]) else {
                panic!("not an edit")
            };
            assert_eq!(edit.fields.0.0.len(), 1, "{kind} {field}: {edit:?}");
            let (given, value) = &edit.fields.0.0[0];
            assert_eq!(*given, field);
            match value {
                Flag::Secret(option) => assert!(field.is_secret() && option.is_stdin()),
                Flag::Session(name) => assert_eq!(name, "root"),
                Flag::Value(value) => assert_eq!(value, &example(field, session.id)),
            }
            if !field.is_secret() {
                // The edit the flag stands for sets the field (the assumer resolved by alias),
                // and the catalog takes it.
                let edit = to_edit(&catalog, edit).unwrap();
                assert_eq!(edit.values, [session.kind.get(field).unwrap()], "{field}");
                catalog.clone().edit(session.id, &edit).unwrap();
            }
        }
        // `session add <kind>` takes every field, and refuses a required one left out.
        let mut args: Vec<String> = vec!["add".into(), kind.as_str().into()];
        args.extend(["--alias".into(), "new".into()]);
        for &field in kind.fields().iter().filter(|f| !f.is_secret()) {
            args.push(format!("--{}", field.code()));
            args.push(match field {
                Field::Assumer => "root".to_owned(),
                _ => field.example().to_owned(),
            });
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let secrets = kind.fields().iter().any(|f| f.is_secret());
        if secrets {
            // Keys are read from stdin, so only the grammar is checked here.
            let mut argv = vec!["credtray", "session"];
            argv.extend(&args);
            let err = Cli::try_parse_from(&argv).unwrap_err().to_string();
            assert!(err.contains("--access-key-id"), "{err}");
            continue;
        }
        let SessionCommand::Add(add) = parse(&args) else {
            panic!("not an add")
        };
        assert_eq!(add.kind, kind);
        let given: Vec<Field> = add.fields.0.iter().map(|(f, _)| *f).collect();
        assert_eq!(given, kind.fields(), "{kind}");
        for &required in kind.fields().iter().filter(|f| !f.is_optional()) {
            let flag = format!("--{}", required.code());
            let at = args.iter().position(|a| *a == flag).unwrap();
            let mut without = vec!["credtray", "session"];
            without.extend(&args[..at]);
            without.extend(&args[at + 2..]);
            let err = Cli::try_parse_from(&without).unwrap_err().to_string();
            assert!(err.contains(&flag), "{kind} without {flag}: {err}");
        }
    }
}

#[test]
fn every_field_of_every_kind_is_in_json_and_show_and_secrets_are_not() {
    let (catalog, sessions) = every_kind();
    for session in &sessions {
        let json = serde_json::to_value(output::SessionJson::new(session)).unwrap();
        let details = output::details(&catalog, session);
        for &field in session.kind.tag().fields() {
            let key = field.key();
            let shown = details
                .lines()
                .find(|l| l.starts_with(&field.to_string()))
                .unwrap_or_else(|| panic!("{field} not in:\n{details}"));
            if field.is_secret() {
                assert!(json.get(&key).is_none(), "{key}: {json}");
                assert!(shown.contains("OS keychain"), "{shown}");
                continue;
            }
            let text = session.kind.get(field).unwrap().text().unwrap();
            assert_eq!(json[&key], text.as_str(), "{key}: {json}");
            assert!(shown.contains(&text), "{shown}");
        }
    }
}

#[test]
fn every_field_of_every_kind_survives_the_store_and_is_refused_on_another_kind() {
    let (catalog, _) = every_kind();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::at(dir.path());
    let mut locked = store.lock().unwrap();
    locked.catalog = catalog.clone();
    locked.save().unwrap();
    drop(locked);
    assert_eq!(
        store.load().unwrap(),
        catalog,
        "a field was dropped or changed"
    );

    let text = std::fs::read_to_string(store.path()).unwrap();
    for kind in Kind::ALL {
        for field in Field::ALL {
            let lacks = !kind.has(field) && !field.is_secret();
            if !lacks || !Kind::ALL.iter().any(|k| k.has(field)) {
                continue;
            }
            // A field of another kind in this kind's record is refused, named, not dropped.
            let record = format!("kind = \"{kind}\"\n");
            let stray = text.replacen(
                &record,
                &format!("{record}{} = \"{}\"\n", field.key(), field.example()),
                1,
            );
            assert_ne!(stray, text);
            std::fs::write(store.path(), &stray).unwrap();
            let err = format!("{:#}", anyhow::Error::from(store.load().unwrap_err()));
            assert!(
                err.contains(&field.to_string()) && err.contains(kind.as_str()),
                "{kind} with {field}: {err}"
            );
        }
    }
}
