//! `credtray session …`: one function per subcommand, each one engine call and its output.

use super::args::{AddCommand, Answers, EditArgs, SecretOption, SessionCommand};
use super::prompt::CliPrompt;
use super::{UsageError, new_session, output, print, print_json, report_test, to_edit};

use crate::engine::{Chain, Engine, HomelessKeys, ProposedKeys};

/// Runs one `session` subcommand.
pub(super) fn run(engine: &mut Engine, command: SessionCommand) -> anyhow::Result<()> {
    match command {
        SessionCommand::List { json } => list(engine, json),
        SessionCommand::Show { session, json } => show(engine, &session, json),
        SessionCommand::Add(add) => self::add(engine, add),
        SessionCommand::Edit(edit) => self::edit(engine, edit),
        SessionCommand::Start {
            session,
            answers,
            take_over,
        } => start(engine, &session, answers, take_over),
        SessionCommand::Stop { session, all } => stop(engine, session.as_deref(), all),
        SessionCommand::Pin { session } => pin(engine, &session, true),
        SessionCommand::Unpin { session } => pin(engine, &session, false),
        SessionCommand::Test {
            session,
            answers,
            json,
        } => test(engine, &session, answers, json),
        SessionCommand::Chain {
            session,
            role_arn,
            alias,
            role_session_name,
            external_id,
            profile,
            region,
            publish,
        } => chain(
            engine,
            &session,
            Chain {
                role_arn,
                alias,
                role_session_name,
                external_id,
                profile,
                region,
                publish,
            },
        ),
        SessionCommand::Delete {
            session,
            cascade,
            discard_keys,
        } => {
            let homeless = if discard_keys {
                HomelessKeys::Discard
            } else {
                HomelessKeys::Refuse
            };
            delete(engine, &session, cascade, homeless)
        }
        SessionCommand::ForgetLogin { session } => forget_login(engine, &session),
        SessionCommand::Duplicate {
            session,
            alias,
            access_key_id,
            secret_access_key,
        } => duplicate(engine, &session, alias, access_key_id, secret_access_key),
    }
}

fn list(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let catalog = engine.catalog()?;
    if json {
        let all: Vec<_> = catalog
            .sessions()
            .iter()
            .map(output::SessionJson::new)
            .collect();
        print_json(&all)
    } else {
        print(&output::table(&catalog))
    }
}

fn show(engine: &Engine, session: &str, json: bool) -> anyhow::Result<()> {
    let catalog = engine.catalog()?;
    let found = catalog.resolve(session)?;
    if json {
        print_json(&output::SessionJson::new(found))
    } else {
        print(&output::details(&catalog, found))
    }
}

fn add(engine: &mut Engine, add: AddCommand) -> anyhow::Result<()> {
    let (new, keys) = new_session(engine, add)?;
    let added = engine.add(new, keys)?;
    print(&format!(
        "added {} session {:?} ({}) on profile {} in {}\n",
        added.kind.tag(),
        added.alias.as_str(),
        added.id,
        added.profile,
        added.region
    ))
}

fn edit(engine: &mut Engine, mut edit: EditArgs) -> anyhow::Result<()> {
    let catalog = engine.catalog()?;
    let id = catalog.resolve(&edit.session)?.id;
    let dry_run = edit.dry_run;
    let answers = std::mem::take(&mut edit.answers);
    let edit = to_edit(&catalog, edit)?;
    let mut prompt = CliPrompt::new(answers)?;
    if dry_run {
        let result = engine.test_edit(id, edit, &mut prompt);
        return report_test(result, false);
    }
    let (outcome, restart) = engine.edit(id, edit, &mut prompt)?;
    let alias = outcome.session.alias.as_str();
    if outcome.changed.is_empty() {
        print(&format!(
            "session {alias:?} already has those values; nothing changed\n"
        ))?;
    } else {
        let fields: Vec<String> = outcome.changed.iter().map(ToString::to_string).collect();
        print(&format!(
            "edited session {alias:?}: {}\n",
            fields.join(", ")
        ))?;
    }
    match restart {
        None => Ok(()),
        Some(Ok(s)) => print(&format!(
            "restarted session {alias:?} on profile {} in {}\n",
            s.profile, s.region
        )),
        // The edit is saved: whatever stopped the restart (even a missing MFA code, bad input
        // on its own), the command as a whole failed to do its job (exit 1), and says the edit
        // is not lost.
        Some(Err(e)) => Err(anyhow::anyhow!(
            "the edit of session {alias:?} is saved, but restarting it failed: {}; start it again with `credtray session start`",
            crate::error_sentence(&e)
        )),
    }
}

fn start(
    engine: &mut Engine,
    session: &str,
    answers: Answers,
    take_over: bool,
) -> anyhow::Result<()> {
    let id = engine.catalog()?.resolve(session)?.id;
    let started = engine.start(id, &mut CliPrompt::new(answers)?, take_over)?;
    let until = started
        .expiration
        .map(crate::aws::rfc3339)
        .unwrap_or_default();
    let how = match started.publish {
        crate::session::Publish::File => String::new(),
        crate::session::Publish::Process => {
            " as a credential_process (no credentials in ~/.aws/credentials)".to_owned()
        }
    };
    print(&format!(
        "started session {:?} on profile {} in {}{how} (credentials expire {until})\n",
        started.alias.as_str(),
        started.profile,
        started.region
    ))
}

fn stop(engine: &mut Engine, session: Option<&str>, all: bool) -> anyhow::Result<()> {
    let stopped = match (session, all) {
        (_, true) => engine.stop_all()?,
        (Some(session), false) => {
            let id = engine.catalog()?.resolve(session)?.id;
            vec![engine.stop(id)?]
        }
        (None, false) => {
            return Err(UsageError("name a session or --all".to_owned()).into());
        }
    };
    let lines: String = stopped
        .iter()
        .map(|s| format!("stopped session {:?}\n", s.alias.as_str()))
        .collect();
    print(if lines.is_empty() {
        "no session was running\n"
    } else {
        &lines
    })
}

fn pin(engine: &mut Engine, session: &str, pinned: bool) -> anyhow::Result<()> {
    let id = engine.catalog()?.resolve(session)?.id;
    let s = engine.pin(id, pinned)?;
    print(&format!(
        "{} session {:?}\n",
        if pinned { "pinned" } else { "unpinned" },
        s.alias.as_str()
    ))
}

fn test(engine: &mut Engine, session: &str, answers: Answers, json: bool) -> anyhow::Result<()> {
    let catalog = engine.catalog()?;
    let session = catalog.resolve(session)?.clone();
    let result = engine.test(
        &session,
        &ProposedKeys::default(),
        &mut CliPrompt::new(answers)?,
    );
    report_test(result, json)
}

fn chain(engine: &mut Engine, session: &str, chain: Chain) -> anyhow::Result<()> {
    let assumer = engine.catalog()?.resolve(session)?.id;
    let chained = engine.chain(assumer, chain)?;
    print(&format!(
        "added iam-role-chained session {:?} ({}) on profile {} in {}\n",
        chained.alias.as_str(),
        chained.id,
        chained.profile,
        chained.region
    ))
}

fn delete(
    engine: &mut Engine,
    session: &str,
    cascade: bool,
    homeless: HomelessKeys,
) -> anyhow::Result<()> {
    let id = engine.catalog()?.resolve(session)?.id;
    let deleted = engine.delete(id, cascade, homeless)?;
    let mut lines: String = deleted
        .sessions
        .iter()
        .map(|s| format!("deleted session {:?} ({})\n", s.alias.as_str(), s.id))
        .collect();
    for moved in &deleted.moved_keys {
        lines.push_str(&moved.sentence());
        lines.push('\n');
    }
    print(&lines)
}

fn forget_login(engine: &Engine, session: &str) -> anyhow::Result<()> {
    let id = engine.catalog()?.resolve(session)?.id;
    let forgotten = engine.forget_login(id)?;
    print(&format!("{}\n", forgotten.sentence()))
}

fn duplicate(
    engine: &mut Engine,
    session: &str,
    alias: Option<crate::session::Alias>,
    access_key_id: Option<SecretOption>,
    secret_access_key: Option<SecretOption>,
) -> anyhow::Result<()> {
    let catalog = engine.catalog()?;
    let of = catalog.resolve(session)?;
    let new = catalog.duplicate(of.id, alias)?;
    let keys = if of.kind.tag().has_keys() {
        let (Some(id), Some(secret)) = (&access_key_id, &secret_access_key) else {
            return Err(UsageError(
                "an IAM user's copy needs keys of its own (none are copied): pass --access-key-id - --secret-access-key - and give them on standard input".to_owned(),
            )
            .into());
        };
        if !id.is_stdin() || !secret.is_stdin() {
            return Err(UsageError(
                "secrets are never taken from the command line: pass --access-key-id - --secret-access-key -".to_owned(),
            )
            .into());
        }
        let mut read =
            super::input::read_secrets(&["access key ID", "secret access key"])?.into_iter();
        let (Some(id), Some(secret)) = (read.next(), read.next()) else {
            return Err(
                UsageError("give the access key ID and the secret access key".to_owned()).into(),
            );
        };
        Some(crate::session::IamUserKeys {
            access_key_id: crate::session::AccessKeyId::parse(&id)?,
            secret_access_key: crate::session::SecretAccessKey::parse(&secret)?,
        })
    } else if access_key_id.is_some() || secret_access_key.is_some() {
        return Err(UsageError(format!(
            "{} sessions have no keys of their own",
            of.kind.tag()
        ))
        .into());
    } else {
        None
    };
    let from = of.alias.to_string();
    let added = engine.add(new, keys)?;
    print(&format!(
        "added session {:?} ({}), a copy of {from:?}, on profile {} in {}\n",
        added.alias.as_str(),
        added.id,
        added.profile,
        added.region
    ))
}
