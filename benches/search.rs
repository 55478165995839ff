//! Prints how long *Find session…*'s filter takes over 2,000 sessions, per keystroke of a few
//! typical queries (a letter, initials, a word, a unique alias, an account id). Run with
//! `cargo bench --bench search`. The target is under 5 ms per keystroke.

use std::time::{Duration, Instant};

use credtray::session::{Catalog, NewSession, SessionKind, search};

const SESSIONS: usize = 2_000;
const ROUNDS: usize = 200;

fn catalog() -> Catalog {
    let mut c = Catalog::default();
    let teams = ["payments", "search", "identity", "billing", "platform"];
    for i in 0..SESSIONS {
        let team = teams[i % teams.len()];
        let role = ["ReadOnly", "Admin", "PowerUser"][i % 3];
        c.add(NewSession {
            alias: format!("{team}-{i:04}/{role}").parse().unwrap(),
            profile: Some(format!("{team}-{i:04}-{role}").parse().unwrap()),
            region: Some(["eu-west-1", "us-east-1", "ap-southeast-2"][i % 3].into()),
            publish: None,
            kind: SessionKind::IamUser {
                mfa_device: None,
                mfa_source: None,
            },
        })
        .unwrap();
    }
    c
}

fn main() {
    let c = catalog();
    for query in [
        "p",
        "pa",
        "admin",
        "billing-1233/readonly",
        "eu-west",
        "zzz",
    ] {
        let mut samples: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                let found = search(&c, query);
                let took = started.elapsed();
                std::hint::black_box(found);
                took
            })
            .collect();
        samples.sort();
        let found = search(&c, query).len();
        println!(
            "{SESSIONS} sessions, query {query:>22?} ({found:4} found): median {:?}, p95 {:?}, max {:?}",
            samples[ROUNDS / 2],
            samples[ROUNDS * 95 / 100],
            samples[ROUNDS - 1]
        );
    }
}
