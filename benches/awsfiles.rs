//! Prints how long it takes to publish one profile into a credentials file that holds 1,000
//! foreign profiles: the whole locked, atomic, fsynced write, and the in-memory part alone.
//! Run with `cargo bench --bench awsfiles`. The target is under 5 ms per upsert.

use std::time::{Duration, Instant};

use credtray::awsfiles::{AwsFile, Document, Flavor};

const FOREIGN: usize = 1_000;
const ROUNDS: usize = 300;

fn foreign_file() -> String {
    let mut text = String::from("# a large hand-written credentials file\n");
    for i in 0..FOREIGN {
        text.push_str(&format!(
            "\n# account {i}\n[team-{i}]\naws_access_key_id = AKIA{i:016}\naws_secret_access_key = {}\n",
            "s".repeat(40)
        ));
    }
    text
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{label}: median {:?}, p95 {:?}, max {:?}, mean {:?} over {} rounds",
        pick(0.5),
        pick(0.95),
        pick(1.0),
        mean,
        samples.len()
    );
}

fn main() {
    let text = foreign_file();
    println!(
        "credentials file: {FOREIGN} foreign profiles, {} KiB",
        text.len() / 1024
    );

    let mut in_memory = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let start = Instant::now();
        let mut doc = Document::parse(&text, Flavor::Credentials).expect("parses");
        let key = format!("ASIA{i:016}");
        doc.upsert(
            "credtray-bench",
            &[
                ("aws_access_key_id", &key),
                ("aws_secret_access_key", "x"),
                ("aws_session_token", "t"),
            ],
            &[],
        )
        .expect("upserts");
        std::hint::black_box(doc.as_str().len());
        in_memory.push(start.elapsed());
    }
    summary("parse + upsert + serialise (in memory)", in_memory);

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("credentials");
    std::fs::write(&path, &text).expect("writes");
    let file = AwsFile::new(&path, Flavor::Credentials);
    let mut on_disk = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let key = format!("ASIA{i:016}");
        let start = Instant::now();
        file.edit(|doc| {
            doc.upsert(
                "credtray-bench",
                &[
                    ("aws_access_key_id", &key),
                    ("aws_secret_access_key", "x"),
                    ("aws_session_token", "t"),
                ],
                &[],
            )
            .map_err(|source| credtray::awsfiles::Error::Parse {
                path: path.clone(),
                source,
            })
        })
        .expect("edits");
        on_disk.push(start.elapsed());
    }
    summary(
        "upsert one profile (lock + read + parse + write + fsync + rename)",
        on_disk,
    );
}
