//! `credtray integration …`: one function per subcommand, each one engine call and its output.

use super::args::{AddIntegration, IntegrationCommand};
use super::sync_progress::{Interrupt, Shown};
use super::{output, print, print_json};
use crate::engine::Engine;
use crate::session::{IntegrationEdit, NewIntegration};

/// Runs one `integration` subcommand.
pub(super) fn run(engine: &mut Engine, command: IntegrationCommand) -> anyhow::Result<()> {
    match command {
        IntegrationCommand::Add(AddIntegration::AwsSso {
            alias,
            start_url,
            region,
        }) => add(
            engine,
            NewIntegration {
                alias,
                start_url,
                region,
            },
        ),
        IntegrationCommand::List { json } => list(engine, json),
        IntegrationCommand::Show { integration, json } => show(engine, &integration, json),
        IntegrationCommand::Edit {
            integration,
            alias,
            start_url,
            region,
        } => edit(
            engine,
            &integration,
            &IntegrationEdit {
                alias,
                start_url,
                region,
            },
        ),
        IntegrationCommand::Login {
            integration,
            no_browser,
        } => login(engine, &integration, no_browser),
        IntegrationCommand::Logout { integration, json } => logout(engine, &integration, json),
        IntegrationCommand::Sync { integration } => sync(engine, &integration),
        IntegrationCommand::Delete {
            integration,
            cascade,
        } => delete(engine, &integration, cascade),
    }
}

fn login(engine: &mut Engine, name: &str, no_browser: bool) -> anyhow::Result<()> {
    let integration = engine.catalog()?.resolve_integration(name)?.clone();
    let mut show = |device: &crate::aws::sso::DeviceLogin| {
        eprintln!(
            "To log in to {:?}, confirm the code {} at\n  {}\n(or enter it at {})",
            integration.alias.as_str(),
            device.user_code,
            device.verification_uri_complete,
            device.verification_uri
        );
        if !no_browser && let Err(e) = crate::browser::open(&device.verification_uri_complete) {
            eprintln!("(could not open a browser: {e}; open the URL yourself)");
        }
        eprintln!(
            "waiting for the login to be approved… (Ctrl-C cancels; nothing is saved until then)"
        );
    };
    let interrupt = Interrupt::catch();
    let shown = Shown::new(integration.alias.as_str());
    let result = engine.login(integration.id, &mut show, &|| interrupt.is_set(), &|p| {
        shown.show(p)
    });
    shown.finish();
    let report = result?;
    print(&format!("logged in to {:?}\n", integration.alias.as_str()))?;
    report_sync(&integration.alias, &report)
}

/// Prints the report; a sync that could not list every account failed (exit 1), though what
/// it could list is applied.
fn report_sync(
    alias: &crate::session::Alias,
    report: &crate::engine::SyncReport,
) -> anyhow::Result<()> {
    print(&output::sync_report(alias, report))?;
    if report.failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} account(s) of {:?} could not be listed (named above); run `credtray integration sync` again",
            report.failed.len(),
            alias.as_str()
        )
    }
}

/// Logs out and names the sessions the logout stopped.
fn logout(engine: &mut Engine, name: &str, json: bool) -> anyhow::Result<()> {
    let integration = engine.catalog()?.resolve_integration(name)?.clone();
    let stopped = engine.logout(integration.id)?;
    if json {
        return print_json(&serde_json::json!({
            "id": integration.id.to_string(),
            "integration": integration.alias.as_str(),
            "state": crate::session::Login::LoggedOut.as_str(),
            "stopped": stopped.iter().map(output::SessionJson::new).collect::<Vec<_>>(),
        }));
    }
    let mut text: String = stopped
        .iter()
        .map(|s| format!("stopped session {:?}\n", s.alias.as_str()))
        .collect();
    text.push_str(&format!("logged out of {:?}\n", integration.alias.as_str()));
    print(&text)
}

/// Syncs, showing how it gets on; Ctrl-C cancels it until it applies what it listed.
fn sync(engine: &mut Engine, name: &str) -> anyhow::Result<()> {
    let integration = engine.catalog()?.resolve_integration(name)?.clone();
    let interrupt = Interrupt::catch();
    let shown = Shown::new(integration.alias.as_str());
    let result = engine.sync(integration.id, &|p| shown.show(p), &|| interrupt.is_set());
    shown.finish();
    report_sync(&integration.alias, &result?)
}

fn add(engine: &Engine, new: NewIntegration) -> anyhow::Result<()> {
    let added = engine.add_integration(new)?;
    print(&format!(
        "added aws-sso integration {:?} ({}) for {} in {}\n",
        added.alias.as_str(),
        added.id,
        added.start_url,
        added.region
    ))
}

fn list(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let catalog = engine.catalog()?;
    if json {
        let all: Vec<_> = catalog
            .integrations()
            .iter()
            .map(|i| output::IntegrationJson::new(&catalog, i))
            .collect();
        print_json(&all)
    } else {
        print(&output::integrations(&catalog))
    }
}

fn show(engine: &Engine, name: &str, json: bool) -> anyhow::Result<()> {
    let catalog = engine.catalog()?;
    let found = catalog.resolve_integration(name)?;
    if json {
        print_json(&output::IntegrationJson::new(&catalog, found))
    } else {
        print(&output::integration_details(&catalog, found))
    }
}

fn edit(engine: &Engine, name: &str, edit: &IntegrationEdit) -> anyhow::Result<()> {
    let id = engine.catalog()?.resolve_integration(name)?.id;
    let edited = engine.edit_integration(id, edit)?;
    print(&format!(
        "edited integration {:?}: {} in {}, {}\n",
        edited.alias.as_str(),
        edited.start_url,
        edited.region,
        edited.login.as_str()
    ))
}

fn delete(engine: &Engine, name: &str, cascade: bool) -> anyhow::Result<()> {
    let integration = engine.catalog()?.resolve_integration(name)?.clone();
    let removed = engine.delete_integration(integration.id, cascade)?;
    let mut text: String = removed
        .iter()
        .map(|s| format!("deleted session {:?} ({})\n", s.alias.as_str(), s.id))
        .collect();
    text.push_str(&format!(
        "deleted integration {:?} ({})\n",
        integration.alias.as_str(),
        integration.id
    ));
    print(&text)
}
