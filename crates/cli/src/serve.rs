//! `touchstone serve`: its arguments (the server is `touchstone_serve`).

use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use touchstone_serve::{
    Authentication, Descriptions, Limits, ServeOptions, Server, users::UsersFile,
};

/// `touchstone serve`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeCommand {
    #[command(subcommand)]
    command: Option<ServeSubcommand>,
    #[command(flatten)]
    args: ServeArgs,
}

#[derive(Subcommand)]
enum ServeSubcommand {
    /// Add a user to a users file (or change their password): the password is read from a
    /// prompt, or from standard input with --password-stdin, and stored as a salted
    /// SCRAM-SHA-256 hash.
    AddUser {
        /// The user name clients connect as.
        name: String,
        /// The users file (created readable by its owner only when missing).
        #[arg(long)]
        users: PathBuf,
        /// Read the password from the first line of standard input instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// The warehouse URL or path; by default the one of --pipeline (or of
    /// pipelines/customer_success.yaml when present).
    #[arg(long, env = "TOUCHSTONE_WAREHOUSE")]
    warehouse: Option<String>,
    /// Take the warehouse from this pipeline file.
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5433")]
    listen: String,
    /// TLS certificate chain (PEM); with --tls-key, clients connect over TLS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM, PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Users who may connect, with their SCRAM-SHA-256 hashes (`touchstone serve add-user`).
    #[arg(long, required_unless_present = "insecure_no_auth")]
    users: Option<PathBuf>,
    /// Let anyone connect, under any name, with no password. Only for a server nobody else
    /// can reach; a warning is logged at start.
    #[arg(long, conflicts_with = "users")]
    insecure_no_auth: bool,
    /// Also serve the staging tables (schema `staging`).
    #[arg(long)]
    staging: bool,
    /// The longest a query may run, waiting for a slot and sending its rows included
    /// (SQLSTATE 57014 when over); clients may lower it with `SET statement_timeout`.
    #[arg(long, default_value_t = 300)]
    query_timeout_secs: u64,
    /// Memory all running queries may hold together (MiB; as in a pipeline's
    /// `memory_limit_mb`, three quarters of it are the engine's pool); a query that needs more fails with
    /// SQLSTATE 53200 and the server goes on.
    #[arg(long, default_value_t = 2048)]
    memory_limit_mb: u64,
    /// Queries running at once; the others wait for a slot.
    #[arg(long, default_value_t = 4)]
    max_concurrent_queries: usize,
    /// Connections open at once; one more is refused (SQLSTATE 53300).
    #[arg(long, default_value_t = 100)]
    max_connections: usize,
}

/// Runs `touchstone serve` (until interrupted) or `touchstone serve add-user`.
pub async fn run(command: ServeCommand, cwd: &Path) -> anyhow::Result<ExitCode> {
    if let Some(ServeSubcommand::AddUser {
        name,
        users,
        password_stdin,
    }) = command.command
    {
        return add_user(&name, &users, password_stdin);
    }
    let args = command.args;
    let warehouse = touchstone_pipeline::warehouse_url(
        args.warehouse.as_deref(),
        args.pipeline.as_deref(),
        cwd,
    )
    .context("finding the warehouse")?;
    let authentication = match (args.users, args.insecure_no_auth) {
        (Some(users), _) => Authentication::UsersFile(users),
        (None, _) => Authentication::InsecureNoAuth,
    };
    let mut options = ServeOptions::new(warehouse.clone(), authentication);
    options.descriptions = Descriptions::of_pipeline(args.pipeline.as_deref(), cwd);
    options.listen = args.listen;
    options.tls = args.tls_cert.zip(args.tls_key);
    options.staging = args.staging;
    options.limits = Limits {
        query_timeout: Duration::from_secs(args.query_timeout_secs),
        memory_limit_bytes: args.memory_limit_mb.saturating_mul(1 << 20),
        max_concurrent_queries: args.max_concurrent_queries,
        max_connections: args.max_connections,
    };
    let server = Server::bind(options).await?;
    eprintln!(
        "touchstone serve: {} on postgresql://{}/touchstone",
        warehouse,
        server.local_addr()
    );
    tokio::select! {
        result = server.run() => result?,
        _ = tokio::signal::ctrl_c() => eprintln!("touchstone serve: stopped"),
    }
    Ok(ExitCode::SUCCESS)
}

fn add_user(name: &str, users: &Path, password_stdin: bool) -> anyhow::Result<ExitCode> {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        anyhow::ensure!(
            std::io::stdin().is_terminal(),
            "no terminal to prompt for the password on: pass it on standard input with --password-stdin"
        );
        let first = rpassword::prompt_password(format!("password for {name}: "))?;
        let again = rpassword::prompt_password("again: ")?;
        anyhow::ensure!(first == again, "the passwords differ; nothing was written");
        first
    };
    let added = UsersFile::add_user(users, name, &password)?;
    eprintln!(
        "{} {name} in {}",
        if added {
            "added"
        } else {
            "changed the password of"
        },
        users.display()
    );
    Ok(ExitCode::SUCCESS)
}
