//! Drives one [`Keychain`] from outside its crate, for `scripts/bench/keychain` and the tests
//! that restart the Secret Service under a running process. Never run it against a keychain
//! you care about: it writes and deletes entries of service `credtray`.
//!
//! - `keychain bench N`: the median time of N reads of one entry through one `Keychain` (one
//!   connection), through a new `Keychain` per read, and through `keyring` 3.6 (a connection
//!   per call: credtray before it kept one).
//! - `keychain serve`: one command a line on stdin, one answer a line on stdout:
//!   `set <session uuid> <value>` → `ok`, `check <session uuid> <value>` → `match`,
//!   `mismatch` or `none`, `delete <session uuid>` → `deleted` or `none`; an error is
//!   `error: <message>`. The entry is the session's access key id.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use credtray::secrets::{Item, Key, Keychain, SERVICE, SecretStore};
use credtray::session::SessionId;
use secrecy::{ExposeSecret, SecretString};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bench", n] => bench(n.parse()?),
        ["serve"] => serve(),
        _ => anyhow::bail!("usage: keychain bench N | keychain serve"),
    }
}

fn bench(runs: usize) -> anyhow::Result<()> {
    let key = Key::new(SessionId::new(), Item::AccessKeyId);
    let value = SecretString::from("AKIABENCHMARK0000000".to_owned());
    let keychain = Keychain::new();
    keychain.set(key, &value)?;
    let expect = |read: Option<SecretString>| -> anyhow::Result<()> {
        anyhow::ensure!(
            read.is_some_and(|r| r.expose_secret() == value.expose_secret()),
            "read back something else"
        );
        Ok(())
    };

    // The write above opened the kept connection: every read here reuses it.
    let kept = median(runs, || expect(keychain.get(key)?))?;
    let fresh = median(runs, || expect(Keychain::new().get(key)?))?;
    let account = key.to_string();
    let keyring = median(runs, || {
        let read = keyring::Entry::new(SERVICE, &account)?.get_password()?;
        expect(Some(SecretString::from(read)))
    })?;
    keychain.delete(key)?;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("reads of one entry, median of {runs}:");
    println!("  one Keychain, kept connection  {:7.3} ms", ms(kept));
    println!(
        "  a new Keychain per read        {:7.3} ms  (each connects: what a first call pays)",
        ms(fresh)
    );
    println!(
        "  keyring 3.6 (before)           {:7.3} ms  ({:.1}x the kept connection)",
        ms(keyring),
        keyring.as_secs_f64() / kept.as_secs_f64()
    );
    Ok(())
}

fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

fn median(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut times = (0..runs)
        .map(|_| timed(&mut f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    times.sort();
    times
        .get(runs / 2)
        .copied()
        .ok_or_else(|| anyhow::anyhow!("no runs"))
}

fn serve() -> anyhow::Result<()> {
    let keychain = Keychain::new();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["set", id, value] => key(id).and_then(|key| {
                keychain.set(key, &SecretString::from((*value).to_owned()))?;
                Ok("ok")
            }),
            ["check", id, value] => key(id).and_then(|key| {
                Ok(match keychain.get(key)? {
                    Some(read) if read.expose_secret() == *value => "match",
                    Some(_) => "mismatch",
                    None => "none",
                })
            }),
            ["delete", id] => key(id).and_then(|key| {
                Ok(if keychain.delete(key)? {
                    "deleted"
                } else {
                    "none"
                })
            }),
            _ => Err(anyhow::anyhow!("unknown command")),
        };
        match answer {
            Ok(answer) => writeln!(out, "{answer}")?,
            Err(e) => writeln!(out, "error: {}", credtray::error_sentence(&*e))?,
        }
        out.flush()?;
    }
    Ok(())
}

fn key(id: &str) -> anyhow::Result<Key> {
    Ok(Key::new(id.parse()?, Item::AccessKeyId))
}
