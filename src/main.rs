//! `coffer`: the command line. Parse arguments, load the config, bind, run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use coffer::config::{Config, ProcessEnv};

#[derive(Parser)]
#[command(
    name = "coffer",
    version,
    about = "An S3-compatible object store that never stores an object in plaintext"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve S3 (and, later, the KMS JSON API) on one endpoint.
    Serve {
        /// TOML config file (see config/coffer.example.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, ADDR:PORT (default 127.0.0.1:9000; env COFFER_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Data directory (default ./coffer-data; env COFFER_DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Seconds in-flight requests get to finish after SIGTERM.
        #[arg(long, default_value_t = 30)]
        shutdown_grace_secs: u64,
    },
    /// Load-generate against an S3 endpoint (or an in-process Coffer) and report ops/s, MB/s
    /// and latency percentiles per phase; `--ceiling` also times the raw parts with no HTTP.
    Bench(Box<coffer::bench::BenchArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
            shutdown_grace_secs,
        } => {
            let mut cfg = match Config::load(config.as_deref(), &ProcessEnv) {
                Ok(c) => c,
                Err(e) => return fail(&e.to_string()),
            };
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            serve(cfg, Duration::from_secs(shutdown_grace_secs))
        }
        Command::Bench(args) => match coffer::bench::run_cli(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        },
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("coffer: {msg}");
    ExitCode::FAILURE
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cfg.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

fn serve(cfg: Config, grace: Duration) -> ExitCode {
    if let Err(e) = cfg.validate() {
        return fail(&e.to_string());
    }
    init_logging(&cfg);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async move {
        let prepared = match coffer::app::prepare(&cfg, None) {
            Ok(p) => p,
            Err(e) => return fail(&e.to_string()),
        };
        let listener = match tokio::net::TcpListener::bind(&cfg.listen).await {
            Ok(l) => l,
            Err(e) => return fail(&format!("cannot listen on {}: {e}", cfg.listen)),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return fail(&format!("cannot read the listening address: {e}")),
        };
        print_banner(&cfg, &prepared, addr);
        let store = prepared.store.clone();
        let result = coffer::server::run(
            listener,
            prepared.app,
            coffer::app::shutdown_signal(),
            grace,
        )
        .await;
        if let Err(e) = store.flush().await {
            return fail(&format!("final flush failed: {e}"));
        }
        match result {
            Ok(()) => {
                tracing::info!("shut down cleanly");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("server error: {e}")),
        }
    })
}

fn print_banner(cfg: &Config, p: &coffer::app::Prepared, addr: std::net::SocketAddr) {
    let endpoint = format!("http://{addr}");
    println!("Coffer is serving S3 at {endpoint} (region {})", cfg.region);
    println!("  data directory: {}", cfg.data_dir.display());
    if let Some(root) = &p.dev_root_key {
        println!(
            "  root key:       {} (dev mode: the root key sits beside the data it protects;",
            root.display()
        );
        println!("                  set root_key_file / COFFER_ROOT_KEY_FILE for real use)");
    }
    println!("  access key id:  {}", p.access_key_id);
    if p.dev_credentials {
        // Printed to the terminal so the dev pair can be pasted; never logged, never stored
        // unsealed.
        println!("  secret key:     {}", p.secret_access_key.expose());
        println!();
        println!("Try it:");
        println!(
            "  AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION={} aws --endpoint-url {endpoint} s3 ls",
            p.access_key_id,
            p.secret_access_key.expose(),
            cfg.region
        );
    } else {
        println!("  secret key:     (from your configuration)");
        println!();
        println!("Try it:  aws --endpoint-url {endpoint} s3 ls");
    }
    println!("  health: curl {endpoint}/health");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
