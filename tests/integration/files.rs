//! `credtray files check`: parses both AWS files, lists what credtray owns, reports problems
//! with exit code 1, warns (file and line, exit code 0) about what the AWS tools can't read,
//! and never writes either file.

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

/// Issue 8, item 14: `files check` said nothing about a file the AWS tools refuse to read.
#[test]
fn files_check_warns_with_file_and_line_about_what_the_aws_tools_cannot_read() {
    let env = Env::new();
    let aws = env.root.join("home/.aws");
    std::fs::create_dir_all(&aws).unwrap();
    let credentials = "\u{feff}[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n";
    let config = "[default]\nregion = eu-west-1\n\n[profile dev]\nregion = us-east-2\n[profile dev]\noutput = json\n[profile \"ops\"]\n[profile ops]\nregion = eu-north-1\nREGION = us-west-1\n";
    std::fs::write(aws.join("credentials"), credentials).unwrap();
    std::fs::write(aws.join("config"), config).unwrap();
    // Private, so the only warnings are about what botocore reads.
    std::fs::set_permissions(
        aws.join("credentials"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();

    // What the warnings claim, asked of the real botocore.
    let python = std::env::var("CREDTRAY_TEST_PYTHON")
        .expect("CREDTRAY_TEST_PYTHON (a Python with botocore) is set by scripts/test");
    for name in ["credentials", "config"] {
        let out = std::process::Command::new(&python)
            .args(["-c", "import sys, botocore.configloader as c\ntry:\n    c.raw_config_parse(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__)"])
            .arg(aws.join(name))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "ConfigParseError",
            "{name}"
        );
    }

    let run = env.run(&["files", "check"], "").ok();
    let creds = aws.join("credentials");
    let conf = aws.join("config");
    for expected in [
        format!(
            "{}:1: warning: the file starts with a UTF-8 byte order mark, so botocore (the AWS CLI, boto3) refuses to read any of the file",
            creds.display()
        ),
        format!(
            "{}:6: warning: [profile dev] repeats the section on line 4, so botocore",
            conf.display()
        ),
        format!(
            "{}:9: warning: [profile ops] is the same section to botocore as [profile \"ops\"] on line 8; it reads only the last of them",
            conf.display()
        ),
        format!(
            "{}:11: warning: REGION repeats the key on line 10 in [profile ops], so botocore",
            conf.display()
        ),
    ] {
        assert!(run.stdout.contains(&expected), "{expected}\n{run:?}");
    }
    assert_eq!(run.stdout.matches("warning:").count(), 4, "{run:?}");
    assert!(
        !run.stdout.contains("AKIA"),
        "no value is ever printed: {run:?}"
    );

    let json = env.run(&["files", "check", "--json"], "").ok().json();
    assert_eq!(json[0]["warnings"][0]["line"], 1);
    let lines: Vec<&serde_json::Value> = json[1]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["line"])
        .collect();
    assert_eq!(lines, [6, 9, 11]);
    assert_eq!(std::fs::read_to_string(&creds).unwrap(), credentials);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), config);
}

/// Issue 23, item 7: temporary credentials went into a credentials file others can read, and
/// nothing said so. credtray still keeps the file's mode (SPEC §3), and `files check` warns with
/// the mode and the `chmod` to run (exit 0: it is a warning); the config file, which holds no
/// secret, is not warned about.
#[test]
fn files_check_warns_when_others_can_read_the_credentials_file_credtray_writes_into() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let f = crate::harness::fixtures();
    crate::engine::add_moto_user(&env, &f, "dev", "dev", &[]);
    let aws = env.aws_dir();
    std::fs::create_dir_all(&aws).unwrap();
    let (creds, conf) = (aws.join("credentials"), aws.join("config"));
    for path in [&creds, &conf] {
        std::fs::write(path, "# mine\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    env.run_moto(&["session", "start", "dev"], "").ok();
    assert!(env.aws_files().0.contains("[dev]"));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&creds), 0o644, "credtray keeps the mode it found");

    let run = env.run(&["files", "check"], "").ok();
    let warning = format!(
        "{}: warning: ~/.aws/credentials is readable by others (mode 0644): run chmod 600 ~/.aws/credentials\n",
        creds.display()
    );
    assert!(run.stdout.contains(&warning), "{run:?}");
    assert_eq!(
        run.stdout.matches("readable by others").count(),
        1,
        "not the config file: {run:?}"
    );
    let json = env.run(&["files", "check", "--json"], "").ok().json();
    assert_eq!(json[0]["readable_by_others"]["mode"], "0644", "{json}");
    assert!(json[1]["readable_by_others"].is_null(), "{json}");

    // The chmod it names is the fix.
    let chmod = std::process::Command::new("sh")
        .args(["-c", "chmod 600 ~/.aws/credentials"])
        .env("HOME", env.root.join("home"))
        .status()
        .unwrap();
    assert!(chmod.success());
    let run = env.run(&["files", "check"], "").ok();
    assert!(!run.stdout.contains("readable by others"), "{run:?}");
    assert_eq!(mode(&conf), 0o644);
}
