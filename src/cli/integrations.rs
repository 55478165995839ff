//! `credtray integration …`: one function per subcommand, each one engine call and its output.

use super::args::{AddIntegration, IntegrationCommand};
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
        IntegrationCommand::Delete {
            integration,
            cascade,
        } => delete(engine, &integration, cascade),
    }
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
