//! Stock clients against the real `coffer` binary: aws-cli and boto3 scripts in `tests/cli/`,
//! each against a fresh server. The pinned clients (`tests/cli/requirements.txt`) are installed
//! by the suite itself into a virtualenv under the target directory, once, under a file lock.
//!
//! Every script in `tests/cli/` must be registered below (`all_scripts_are_registered` checks),
//! so a new script cannot be skipped silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

const CLI_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli");
pub const CLI_SEED_KEY_ID: &str = "22222222-3333-4444-5555-666666666666";
pub const CLI_SEED_ALIAS: &str = "alias/cli-test";

fn target_dir() -> PathBuf {
    // The test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

/// The virtualenv with the pinned clients, created or updated when the requirements change.
pub fn python_env() -> PathBuf {
    let venv = target_dir().join("cli-venv");
    let reqs_path = Path::new(CLI_DIR).join("requirements.txt");
    let reqs = std::fs::read_to_string(&reqs_path).expect("requirements");
    std::fs::create_dir_all(target_dir()).expect("target dir");
    let lock = std::fs::File::create(target_dir().join("cli-venv.lock")).expect("lock file");
    lock.lock().expect("lock");
    let marker = venv.join(".coffer-requirements");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(reqs.as_str()) {
        let ok = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv")
            .success();
        assert!(ok, "creating the virtualenv failed");
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&reqs_path)
            .status()
            .expect("pip install")
            .success();
        assert!(ok, "installing the pinned clients failed");
        std::fs::write(&marker, &reqs).expect("marker");
    }
    venv
}

/// The Debian rclone the rclone script drives, installed once if the machine lacks it.
const RCLONE_DEB: &str = "rclone=1.60.1+dfsg-2+b5";

fn ensure_rclone() {
    let lock = std::fs::File::create(target_dir().join("rclone-install.lock")).expect("lock file");
    lock.lock().expect("lock");
    let have = Command::new("rclone")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return;
    }
    let ok = Command::new("apt-get")
        .arg("update")
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", RCLONE_DEB])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok,
        "installing {RCLONE_DEB} with apt-get failed (the tests need root and Debian's packages)"
    );
}

/// Plain HTTP, or HTTPS with the server's self-signed certificate as the CA bundle.
#[derive(Clone, Copy, PartialEq)]
pub enum Transport {
    Http,
    Https,
}

/// Runs one script from `tests/cli/` against a fresh real server started with `args`.
pub fn run_script(name: &str, args: &[&str]) {
    run_script_over(name, args, Transport::Http)
}

pub fn run_script_over(name: &str, args: &[&str], transport: Transport) {
    let venv = python_env();
    let data = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("coffer.toml");
    std::fs::write(
        &config,
        format!(
            "[[kms.keys]]\nkey_id = \"{CLI_SEED_KEY_ID}\"\nalias = \"{CLI_SEED_ALIAS}\"\ndescription = \"cli tests\"\n"
        ),
    )
    .expect("config");
    let data_dir = data.path().join("data");
    let audit_log = data.path().join("audit.log");
    let clock_offset = data.path().join("kms-clock-offset");
    std::fs::write(&clock_offset, "0").expect("clock offset file");
    let audit_s = audit_log.to_str().expect("utf-8 path").to_string();
    let clock_s = clock_offset.to_str().expect("utf-8 path").to_string();
    let mut all_args = vec![
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().expect("utf-8 path"),
        "--config",
        config.to_str().expect("utf-8 path"),
    ];
    all_args.extend_from_slice(args);
    if transport == Transport::Https {
        all_args.push("--tls-self-signed");
    }
    let server = BinaryServer::start(
        &all_args,
        &[
            ("COFFER_ACCESS_KEY", ACCESS_KEY),
            ("COFFER_SECRET_KEY", SECRET_KEY),
            ("COFFER_AUDIT_LOG", &audit_s),
            // Test-only: lets a script move the KMS clock of the running binary (deletion dates).
            ("COFFER_KMS_TEST_CLOCK_OFFSET_FILE", &clock_s),
        ],
    )
    .expect("coffer serve");
    let script = Path::new(CLI_DIR).join(name);
    let mut cmd = if name.ends_with(".py") {
        let mut c = Command::new(venv.join("bin/python"));
        c.arg(&script);
        c
    } else {
        let mut c = Command::new("bash");
        c.arg(&script);
        c
    };
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = cmd
        .env("PATH", path)
        .env("ENDPOINT", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", work.path().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            work.path().join("aws-credentials"),
        )
        .env("SEED_KEY_ID", CLI_SEED_KEY_ID)
        .env("SEED_KEY_ALIAS", CLI_SEED_ALIAS)
        .env("DATA_DIR", &data_dir)
        .env("COFFER_AUDIT_LOG", &audit_log)
        .env("COFFER_KMS_TEST_CLOCK_OFFSET_FILE", &clock_offset)
        .env("WORK", work.path())
        .env(
            "CA_BUNDLE",
            if transport == Transport::Https {
                data_dir.join("tls/cert.pem").display().to_string()
            } else {
                String::new()
            },
        )
        .current_dir(work.path())
        .output()
        .expect("run script");
    assert!(
        out.status.success(),
        "{name} failed ({})\n--- stdout\n{}\n--- stderr\n{}\n--- server log (tail)\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log_tail(40)
    );
    drop(server);
}

/// Scripts and the tests that run them.
const REGISTERED: &[&str] = &[
    "s3_scenario.sh",
    "kms_scenario.sh",
    "kms_boto3.py",
    "aws_cli.sh",
    "boto3_checksums.py",
    "rclone.sh",
    "s3cmd.sh",
    "multipart.sh",
    "sse.sh",
    "access_scenario.sh",
];

/// Scripts run by hand, not by the suite: `mem_multipart.sh SIZE CACHE` measures the server's
/// resident memory for the README.
const MANUAL: &[&str] = &["mem_multipart.sh"];

#[test]
fn all_scripts_are_registered() {
    for e in std::fs::read_dir(CLI_DIR).expect("cli dir") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        // `_lib.sh` and friends are sourced by the scripts, not run.
        if (name.ends_with(".sh") || name.ends_with(".py")) && !name.starts_with('_') {
            assert!(
                REGISTERED.contains(&name.as_str()) || MANUAL.contains(&name.as_str()),
                "tests/cli/{name} is not run by any test"
            );
        }
    }
}

#[test]
fn aws_cli_s3_scenario() {
    run_script("s3_scenario.sh", &[]);
}

#[test]
fn aws_cli_access_scenario() {
    run_script("access_scenario.sh", &[]);
}

#[test]
fn aws_cli_kms_scenario() {
    run_script("kms_scenario.sh", &[]);
}

#[test]
fn boto3_kms_scenario() {
    run_script("kms_boto3.py", &[]);
}

#[test]
fn aws_cli_checksums_sync_http() {
    run_script_over("aws_cli.sh", &[], Transport::Http);
}

#[test]
fn aws_cli_checksums_sync_https() {
    run_script_over("aws_cli.sh", &[], Transport::Https);
}

#[test]
fn boto3_checksums_http() {
    run_script_over("boto3_checksums.py", &[], Transport::Http);
}

#[test]
fn boto3_checksums_https() {
    run_script_over("boto3_checksums.py", &[], Transport::Https);
}

#[test]
fn rclone_copy_check_http() {
    ensure_rclone();
    run_script_over("rclone.sh", &[], Transport::Http);
}

#[test]
fn rclone_copy_check_https() {
    ensure_rclone();
    run_script_over("rclone.sh", &[], Transport::Https);
}

#[test]
fn s3cmd_sync_http() {
    run_script_over("s3cmd.sh", &[], Transport::Http);
}

#[test]
fn s3cmd_sync_https() {
    run_script_over("s3cmd.sh", &[], Transport::Https);
}

#[test]
fn aws_cli_sse_c_and_bucket_default_https() {
    run_script_over("sse.sh", &[], Transport::Https);
}

#[test]
fn aws_cli_multipart_cp_and_sync() {
    run_script("multipart.sh", &[]);
}
