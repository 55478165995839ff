//! Writes the man pages of the Debian packages into a directory: `credtray.1` and one page per
//! subcommand, recursively (`credtray-session.1`, `credtray-session-start.1`…), from the same
//! clap grammar as `--help`, plus `credtray-tray.1` for the tray. `scripts/package` runs it:
//! `target/debug/examples/write_man OUT_DIR`.
//!
//! An example rather than a build script or a `credtray` subcommand: the roff writer
//! (clap_mangen) is a dev-dependency, so the CLI the package ships does not carry it.

use std::path::PathBuf;

use anyhow::Context;
use clap_mangen::Man;

/// What every page says it belongs to (the centre of its footer and header).
const MANUAL: &str = "credtray manual";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        anyhow::bail!("usage: write_man OUT_DIR");
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    // `help` is clap's own subcommand: `credtray help X` is `man credtray-X` here.
    let mut cli = credtray::cli::grammar().disable_help_subcommand(true);
    // Built once at the top, so each subcommand knows its display name (`credtray-session-start`),
    // which names its page and its references in its parent's SUBCOMMANDS section.
    cli.build();
    let pages = Pages { out, date: date()? };
    let mut written = Vec::new();
    pages.write_tree(&cli, &mut written)?;
    pages.write(tray(), &mut written)?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

/// Where the pages go, and the date they carry.
struct Pages {
    out: PathBuf,
    date: String,
}

impl Pages {
    /// The page of `cmd` and of each of its visible subcommands.
    fn write_tree(&self, cmd: &clap::Command, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            self.write_tree(sub, written)?;
        }
        self.write(cmd.clone(), written)
    }

    fn write(&self, cmd: clap::Command, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        // Every field of the title line set: roff drops an empty argument, which would shift
        // the source into the date's place (and a subcommand has no version of its own).
        let man = Man::new(cmd)
            .date(&self.date)
            .source(format!("credtray {}", env!("CARGO_PKG_VERSION")))
            .manual(MANUAL);
        let path = man.generate_to(&self.out).with_context(|| {
            format!(
                "cannot write {} in {}",
                man.get_filename(),
                self.out.display()
            )
        })?;
        written.push(path);
        Ok(())
    }
}

/// The pages' date: `SOURCE_DATE_EPOCH`'s when it is set (reproducible builds; scripts/package
/// sets it to the last commit's), else today's.
fn date() -> anyhow::Result<String> {
    let when = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => {
            let seconds: i64 = epoch
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={epoch:?} is not a number"))?;
            time::OffsetDateTime::from_unix_timestamp(seconds)
                .with_context(|| format!("SOURCE_DATE_EPOCH={epoch:?} is out of range"))?
        }
        Err(_) => time::OffsetDateTime::now_utc(),
    };
    when.format(time::macros::format_description!("[year]-[month]-[day]"))
        .context("cannot format the date")
}

/// The tray takes no arguments (its one flag is private to its own login window), so its page
/// is written from a grammar of its own, here.
fn tray() -> clap::Command {
    clap::Command::new("credtray-tray")
        .version(env!("CARGO_PKG_VERSION"))
        .about("AWS credential sessions in the system tray")
        .long_about(
            "The credtray system-tray app. Its icon shows whether any session is active (green) \
             or in error (red); its menu starts, stops, rotates and opens the web console of \
             each session, and logs in to SAML identity providers and IAM Identity Center in \
             its own window. While it runs it is the agent that answers `credtray \
             credential-process` from memory.\n\n\
             `credtray` with no arguments starts it. The sessions, their settings and the \
             command line are described in credtray(1).",
        )
        .disable_version_flag(true)
        .disable_help_flag(true)
}
