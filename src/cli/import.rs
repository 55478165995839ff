//! `credtray import aws-config`: [`Engine::import`] run, and its report printed as a table
//! (or `--json`).

use super::{output, print, print_json};
use crate::engine::Engine;

pub(super) fn aws_config(
    engine: &mut Engine,
    dry_run: bool,
    move_keys: bool,
    json: bool,
) -> anyhow::Result<()> {
    let crate::import::Report { rows, backups } = engine.import(dry_run, move_keys)?;
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        return print("no profiles in ~/.aws/credentials or ~/.aws/config\n");
    }
    let mut header: Vec<String> = ["PROFILE", "STATUS", "KIND", "REASON"]
        .map(str::to_owned)
        .to_vec();
    if move_keys {
        header.insert(3, "KEYS".to_owned());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut line = vec![r.profile.clone(), r.status.clone(), r.kind.to_owned()];
            if move_keys {
                line.push(r.keys.clone());
            }
            line.push(r.reason.clone());
            line
        })
        .collect();
    let mut text = output::aligned(&header, &table);
    for backup in backups {
        text.push_str(&format!(
            "\nthe keys that left {} are in the keychain; {} records what was removed, values redacted\n",
            backup
                .to_string_lossy()
                .trim_end_matches(".credtray-backup"),
            backup.display()
        ));
    }
    print(&text)
}
