//! `credtray files check`: parses both AWS files, lists what credtray owns, reports problems
//! with exit code 1, and never writes either file.

use crate::harness::Env;

#[test]
fn files_check_reports_sections_ownership_and_problems_without_writing() {
    let env = Env::new();
    let aws = env.root.join("home/.aws");
    let run = env.run(&["files", "check"], "").ok();
    assert_eq!(
        run.stdout.matches("does not exist yet").count(),
        2,
        "{run:?}"
    );
    assert!(!aws.exists(), "check creates nothing");

    std::fs::create_dir_all(&aws).unwrap();
    let credentials = "# mine\n[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n\n[dev]\naws_access_key_id = ASIA\n";
    let config = "[default]\nregion = eu-west-1\n[profile dev]\nregion = us-east-2\n";
    std::fs::write(aws.join("credentials"), credentials).unwrap();
    std::fs::write(aws.join("config"), config).unwrap();
    env.run(&["profile", "add", "dev"], "").ok(); // creates the store
    let mut store = std::fs::read_to_string(env.store_path()).unwrap();
    store.push_str(&format!(
        "\n[[owned]]\nfile = {:?}\nflavor = \"credentials\"\nsection = \"dev\"\n\n[[owned]]\nfile = {:?}\nflavor = \"config\"\nsection = \"profile gone\"\n",
        aws.join("credentials"),
        aws.join("config")
    ));
    std::fs::write(env.store_path(), &store).unwrap();

    let run = env.run(&["files", "check"], "");
    assert_eq!(
        run.code, 1,
        "an owned section that is missing is a problem: {run:?}"
    );
    assert!(
        run.stdout
            .contains("credentials: 2 section(s); credtray owns: dev"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("[profile gone] is owned by credtray but missing"),
        "{run:?}"
    );

    let json = env.run(&["files", "check", "--json"], "").json();
    assert_eq!(json[0]["owned"], serde_json::json!(["dev"]));
    assert_eq!(json[1]["sections"], 2);

    std::fs::write(
        aws.join("config"),
        "[default]\nregion = eu-west-1\nnot a line\n",
    )
    .unwrap();
    let run = env.run(&["files", "check"], "");
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("config") && run.stdout.contains("line 3"),
        "{run:?}"
    );
    assert!(run.stderr.contains("problem"), "{run:?}");
    assert_eq!(
        std::fs::read_to_string(aws.join("credentials")).unwrap(),
        credentials
    );
    assert_eq!(
        std::fs::read_to_string(aws.join("config")).unwrap(),
        "[default]\nregion = eu-west-1\nnot a line\n"
    );
}

#[test]
fn files_check_honours_the_aws_environment_variables() {
    let env = Env::new();
    let credentials = env.root.join("elsewhere-credentials");
    std::fs::write(
        &credentials,
        "[x]\naws_access_key_id = A\n[y]\nk = v\n[z]\nk = v\n",
    )
    .unwrap();
    let mut cmd = env.command(&["files", "check"]);
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .env("AWS_CONFIG_FILE", env.root.join("nope"));
    let run = crate::harness::finish(cmd, "").ok();
    assert!(
        run.stdout
            .contains(&format!("{}: 3 section(s)", credentials.display())),
        "{run:?}"
    );
    assert!(run.stdout.contains("nope: does not exist yet"), "{run:?}");
}
