//! `credtray keychain status|migrate`, `credtray settings keychain` and `credtray agent
//! lock|unlock`: the store of secrets from the command line.

use std::sync::Arc;

use super::args::{AgentCommand, KeychainCommand};
use super::{input, print, print_json};
use crate::agent::client::{self, AgentKeychain};
use crate::agent::protocol::{Answer, Ask, ErrorKind, Reply, Sealed};
use crate::agent::socket;
use crate::engine::Engine;
use crate::engine::keychain::Step;
use crate::secrets::chosen::{self, Asker, ChosenBy};
use crate::secrets::{Backend, SecretStore};

pub(super) fn run(engine: &Engine, command: KeychainCommand) -> anyhow::Result<()> {
    match command {
        KeychainCommand::Status { json } => status(engine, json),
        KeychainCommand::Migrate { to } => migrate(engine, to),
    }
}

/// Where the store keeps its items, for people.
fn location(backend: Backend) -> Option<String> {
    match backend {
        Backend::Os => None,
        Backend::File => Some(chosen::file_path().display().to_string()),
        Backend::Pass => Some(chosen::pass_dir().display().to_string()),
    }
}

#[derive(serde::Serialize)]
struct Status {
    store: &'static str,
    chosen_by: &'static str,
    location: Option<String>,
    answers: bool,
    /// Why it does not answer.
    error: Option<String>,
    /// With the file store: whether the agent holds it open.
    agent_holds_open: Option<bool>,
    items: usize,
    accounts: Vec<String>,
    /// A move from this store is unfinished.
    unfinished_move_from: Option<&'static str>,
}

fn status(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let choice = engine.keychain().choice;
    let agent_holds_open =
        (choice.backend == Backend::File).then(|| AgentKeychain::if_open().is_some());
    let (accounts, error) = match engine.keychain_accounts() {
        Ok(accounts) => (accounts, None),
        Err(e) => (Vec::new(), Some(crate::error_sentence(&e))),
    };
    let unfinished_move_from = engine
        .catalog()
        .ok()
        .and_then(|c| c.settings.keychain_from)
        .map(Backend::as_str);
    let shown = Status {
        store: choice.backend.as_str(),
        chosen_by: choice.by.as_str(),
        location: location(choice.backend),
        answers: error.is_none(),
        error: error.clone(),
        agent_holds_open,
        items: accounts.len(),
        accounts,
        unfinished_move_from,
    };
    if json {
        print_json(&shown)?;
    } else {
        let mut text = format!(
            "keychain  {} ({})\n",
            choice.backend.describe(),
            choice.by.clause()
        );
        if let Some(open) = agent_holds_open {
            text.push_str(if open {
                "agent     holds it open\n"
            } else {
                "agent     does not hold it open\n"
            });
        }
        match &error {
            None => {
                text.push_str(&format!("items     {}\n", shown.items));
                for account in &shown.accounts {
                    text.push_str(&format!("  {account}\n"));
                }
            }
            // The error itself follows, as the command's.
            Some(_) => text.push_str("answers   no\n"),
        }
        if let Some(from) = unfinished_move_from {
            text.push_str(&format!(
                "unfinished move from {from}: run `credtray keychain migrate --to {}` to finish it\n",
                choice.backend
            ));
        }
        print(&text)?;
    }
    match error {
        Some(why) => Err(anyhow::anyhow!(why)),
        None => Ok(()),
    }
}

/// `settings keychain STORE`.
pub(super) fn choose(engine: &Engine, backend: Backend) -> anyhow::Result<()> {
    engine.choose_keychain(backend)?;
    let after = match backend {
        Backend::Os => String::new(),
        Backend::File => format!(
            "; its passphrase is chosen when the first secret is kept, asked on the terminal (or read from the output of {}), and `credtray agent` asks once for all commands",
            chosen::PASSPHRASE_COMMAND
        ),
        Backend::Pass => {
            "; `pass` and GPG ask for what they need (the password store must be initialised: `pass init <your GPG key id>`)".to_owned()
        }
    };
    if engine.keychain().choice.by == ChosenBy::Environment {
        eprintln!(
            "credtray: CREDTRAY_KEYCHAIN is set, so this command used the store it names; the setting applies when it is not set"
        );
    }
    print(&format!(
        "credtray keeps its secrets in {}{after}\n",
        backend.describe()
    ))
}

/// Opens `backend` for a move, asking on the terminal; the agent is not asked (none runs).
fn open_for_move(backend: Backend) -> Arc<dyn SecretStore> {
    chosen::open(backend, Arc::new(input::Terminal), None)
}

fn migrate(engine: &Engine, to: Backend) -> anyhow::Result<()> {
    engine.not_overridden()?;
    if let Some((pid, tray)) = client::who_holds(&socket::path()) {
        anyhow::bail!(
            "{} (process {pid}) keeps using the store it opened: {} first, then run the move again",
            if tray {
                "the tray"
            } else {
                "the credtray agent"
            },
            if tray {
                "quit the tray"
            } else {
                "stop the agent"
            }
        );
    }
    let current = engine.keychain().choice.backend;
    let pending = engine.catalog()?.settings.keychain_from;
    if to == current && pending.is_none() {
        return print(&format!(
            "credtray's secrets are already in {}; nothing to move\n",
            to.describe()
        ));
    }
    // Both stores opened (passphrases asked) before the store's lock is taken: no command
    // waits on a person while holding it.
    let target = open_for_move(to);
    let leftovers = match pending {
        Some(from) if to == current => Some(open_for_move(from)),
        _ => None,
    };
    let source_name = match (&leftovers, pending) {
        (Some(_), Some(from)) => from,
        _ => current,
    };
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut progress = |step: Step| {
        if terminal {
            let (what, done, of) = match step {
                Step::Copied { done, of } => ("copied", done, of),
                Step::Removed { done, of } => ("removed from the old store", done, of),
            };
            eprint!("\r\x1b[K{what}: {done} of {of}");
            if done == of {
                eprintln!();
            }
        }
    };
    let moved = engine.migrate_keychain(to, &*target, leftovers.as_deref(), &mut progress)?;
    print(&format!(
        "moved credtray's secrets from {} to {}: {} item{} copied and read back, {} old cop{} removed; credtray keeps its secrets in {} now\n",
        source_name.describe(),
        to.describe(),
        moved.copied,
        if moved.copied == 1 { "" } else { "s" },
        moved.removed,
        if moved.removed == 1 { "y" } else { "ies" },
        to
    ))
}

/// `agent lock|unlock`.
pub(super) fn agent(action: AgentCommand) -> anyhow::Result<()> {
    let path = socket::path();
    let (ask, done) = match action {
        AgentCommand::Lock => (
            Ask::KeychainLock,
            "the agent's file keychain is locked: its items and the credentials it remembered are wiped from its memory",
        ),
        AgentCommand::Unlock => {
            let file = chosen::file_path();
            let passphrase = match chosen::passphrase_from_command()? {
                Some(p) => p,
                None => input::Terminal
                    .passphrase(&file, !file.exists(), false)
                    .map_err(|why| anyhow::anyhow!(why))?
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "no terminal to ask for the passphrase on: run `credtray agent unlock` in a terminal, or set {}",
                            chosen::PASSPHRASE_COMMAND
                        )
                    })?,
            };
            (
                Ask::KeychainUnlock {
                    passphrase: Sealed::new(secrecy::ExposeSecret::expose_secret(&passphrase)),
                },
                "the agent's file keychain is open until the agent stops or `credtray agent lock`",
            )
        }
    };
    match client::request(&path, ask)? {
        None => {
            anyhow::bail!("no credtray agent runs (the tray is one; `credtray agent` starts one)")
        }
        Some(Reply {
            body: Answer::Done, ..
        }) => print(&format!("{done}\n")),
        Some(Reply {
            body: Answer::Error { kind, message },
            ..
        }) => {
            if kind == ErrorKind::Protocol {
                anyhow::bail!("the running agent is of another credtray version: {message}");
            }
            anyhow::bail!(message)
        }
        Some(_) => anyhow::bail!("the agent answered something else"),
    }
}
