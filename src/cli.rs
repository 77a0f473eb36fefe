//! Commands and flags. Each flag is documented here, where it is defined; `--help` shows it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::ArgValueCandidates;

#[derive(Debug, Parser)]
#[command(
    name = "mailreg",
    // The package version, the commit and its date (build.rs).
    version = env!("MAILREG_VERSION"),
    about = "Mailbox OAuth app registrations as code: Microsoft Entra ID (and Google Cloud) for IMAP/POP/SMTP XOAUTH2",
    long_about = "mailreg reads a declarative spec (mailreg.toml), compares it with what exists in the cloud, \
and converges: it creates or updates the app registration and its client secret, keeps the secret \
in a local credentials store (.mailreg/, mode 0600), and prints the client ID and the authorize and \
token URLs a mailbox needs. It keeps no copy of cloud state: it finds what it manages by its tags.\n\n\
Try it offline first: `mailreg demo`.",
    after_help = "Most commands work on a spec and an environment: -f FILE (default mailreg.toml, or \
$MAILREG_FILE) and -e/--env ENV (default `default`, or $MAILREG_ENV).\n\n\
Exit codes: 0 success, 1 error, 2 changes pending (plan --detailed-exitcode), 3 bad input, \
4 authentication failed, 5 manual step required, 6 verification failed, 7 refused, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub global: Global,
}

#[derive(Clone, Debug, Args)]
pub struct Global {
    /// Output format: human-readable text, or one JSON document on stdout.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text, env = "MAILREG_OUTPUT", hide_env_values = true)]
    pub output: OutputFormat,

    /// More logging on stderr: -v shows progress steps, -vv also the request log (method, path,
    /// status, duration; never tokens or secrets).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print only errors.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Which spec and environment a command works on.
#[derive(Debug, Args, Clone)]
pub struct Target {
    /// The spec file.
    #[arg(
        long,
        short = 'f',
        default_value = "mailreg.toml",
        env = "MAILREG_FILE",
        hide_env_values = true
    )]
    pub file: PathBuf,

    /// The environment: selects `[env.<name>]` overrides and is part of every resource's identity
    /// (tags, unique name), so each environment gets its own registration.
    #[arg(
        long,
        short = 'e',
        default_value = "default",
        env = "MAILREG_ENV",
        hide_env_values = true,
        add = ArgValueCandidates::new(crate::commands::completions::environments)
    )]
    pub env: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change. Makes no write.
    Plan {
        #[command(flatten)]
        target: Target,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error (as terraform does).
        #[arg(long)]
        detailed_exitcode: bool,
        /// Also plan the mailboxes' protocol settings, as `up` does.
        #[arg(long)]
        mailboxes: bool,
    },
    /// List the spec's resources in the order the engine derives, with what each needs first
    /// (as `terraform graph` does). Reads nothing from the clouds.
    Graph {
        #[command(flatten)]
        target: Target,
        /// Include the mailboxes' protocol settings, as `up` does.
        #[arg(long)]
        mailboxes: bool,
    },
    /// Converge the cloud to the spec, store the new secret, print the credentials.
    Apply(ApplyArgs),
    /// Everything a mailbox needs, in one command: the plan of `apply` plus the mailboxes'
    /// protocol settings, one confirmation, then a verified IMAP/POP/SMTP login as each of the
    /// spec's mailboxes (waiting out Exchange's propagation), and one summary. Exit 6 when a
    /// login still fails at the end of --wait, 5 when the Google console step is pending.
    Up(Box<UpArgs>),
    /// Delete mailreg-managed test registrations of this spec's name, in every environment,
    /// that are older than an age or past their expiry (`apply --ttl`). Only resources carrying
    /// all of mailreg's marks are ever touched.
    Gc(GcArgs),
    /// Delete what apply made (only resources carrying mailreg's tags).
    Destroy(DestroyArgs),
    /// Destroy what `up` made: the same as `destroy` (the mailboxes' settings are left as they
    /// are: mailreg did not create the mailboxes).
    Down(DestroyArgs),
    /// Replace the Microsoft client secret: add a new one, store it and re-render the outputs,
    /// then retire the older ones. Google has no API for client secrets: rotate prints the
    /// console steps (exit 5) and `google import-client` takes the new secret.
    Rotate {
        #[command(flatten)]
        target: Target,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Keep the previous secret for an overlap window (retire it with a later rotate).
        #[arg(long)]
        keep_old: bool,
        /// Rotate only this provider's secret. A scheduled job passes `microsoft`: it then
        /// exits 0 without the Google console steps (exit 5) even when the spec has both.
        #[arg(long, value_parser = ["microsoft", "google"])]
        provider: Option<String>,
    },
    /// Show what mailreg manages for the spec and environment: resources, secret expiry dates,
    /// pending changes, and warnings (secrets expiring within 30 days). Makes no write.
    Status {
        #[command(flatten)]
        target: Target,
    },
    /// Print the credentials of an applied environment from the credentials store, or render
    /// them through a template.
    Output {
        #[command(flatten)]
        target: Target,
        /// Include secret values (masked otherwise).
        #[arg(long)]
        show_secrets: bool,
        /// Render through a template: a built-in one (agileapps, json, env, yaml,
        /// agileapps-sheet: the AgileApps form's labels, shown instead of agileapps on a
        /// terminal) or a path.
        #[arg(
            long,
            value_name = "TEMPLATE",
            add = ArgValueCandidates::new(crate::commands::completions::templates)
        )]
        format: Option<String>,
        /// Which provider's credentials to render (needed when the spec has both).
        #[arg(long, value_parser = ["microsoft", "google"])]
        provider: Option<String>,
        /// In GitHub Actions: also emit the credentials as step outputs, as `apply
        /// --github-outputs` does.
        #[arg(long)]
        github_outputs: bool,
    },
    /// Serve the built-in cloud emulator, to rehearse pipelines offline.
    Emulator(EmulatorArgs),
    /// Write a commented starter spec. Asks on a terminal; flags give every answer (for
    /// scripts). Never overwrites an existing file without --force.
    Init(InitArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish) to standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff) to standard output: `mailreg man > mailreg.1`, `mailreg man plan >
    /// mailreg-plan.1`; or write all of them (mailreg.1 and one mailreg-<command>.1 per
    /// command) into a folder with --dir.
    Man {
        /// The command whose page to print (`plan`, `google import-client`); none: mailreg.1.
        #[arg(value_name = "COMMAND", conflicts_with = "dir")]
        command: Vec<String>,
        /// Write every page into this folder (made if missing), e.g. /usr/local/share/man/man1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Google-only steps: import the OAuth client made in the console, restore a project.
    #[command(subcommand)]
    Google(GoogleCommand),
    /// Run the whole flow offline: start the emulator, apply an example spec, show the
    /// credentials, destroy everything. Needs no account.
    Demo {
        /// Show secret values instead of masking them.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Check (and fix) what a mailbox needs besides the registration.
    ///
    /// Before an OAuth login works, a Microsoft mailbox needs a licence with Exchange Online and
    /// IMAP/POP/SMTP AUTH allowed; a Google one must be a test user while the app is in Testing.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Prove that the stored credentials let a mailbox sign in: OAuth sign-in with the stored
    /// client, then an IMAP, POP3 and SMTP login with SASL XOAUTH2 (or OAUTHBEARER). Exit 6 when
    /// any step fails. Tokens are never printed.
    Verify(Box<VerifyArgs>),
}

/// `mailreg apply`'s flags (`up` takes them too).
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: Target,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Allow replacing resources that cannot be updated in place (an audience change):
    /// the registration is deleted and created again, with a new client ID and secret.
    #[arg(long)]
    pub replace: bool,
    /// Mark new resources as expiring after this long (e.g. `2h`, `3d`), for test
    /// registrations that `mailreg gc --expired` removes. Kept once set.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub ttl: Option<std::time::Duration>,
    /// In GitHub Actions: also emit the credentials as step outputs (`GITHUB_OUTPUT`,
    /// `<provider>_<field>`), the secret masked in the logs first. Later steps of the job
    /// can read them; never done without this flag.
    #[arg(long)]
    pub github_outputs: bool,
}

/// `mailreg destroy`'s and `mailreg down`'s flags.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: Target,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also remove the registration from deleted items, permanently. Soft-deleted apps count
    /// against the directory quota for 30 days: test teardown wants this. Also purges
    /// soft-deleted Key Vault secrets of `[[secret]]` entries.
    #[arg(long)]
    pub purge: bool,
    /// Leave the `[[secret]]` stores as they are (by default the items mailreg wrote, and
    /// only those, are deleted).
    #[arg(long)]
    pub keep_secrets: bool,
    /// Leave the rendered mailbox config files in place. By default destroy removes the
    /// ones whose content is still what mailreg wrote (they hold a secret that no longer
    /// works); a file changed since is kept, and destroy says so.
    #[arg(long)]
    pub keep_outputs: bool,
}

/// `mailreg up`'s flags: apply's, how long to wait for the logins, and how to log in.
#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// How long to wait for every mailbox's logins to pass (Exchange takes 30 minutes or more
    /// to apply a mailbox change). The wait shows a progress line with what is left.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "45m")]
    pub wait: std::time::Duration,
    /// Only register and configure: skip the verified login at the end (that is `apply` plus
    /// the mailbox settings).
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub login: LoginArgs,
}

/// How `verify` (and `up`) sign in and reach the mail servers.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// SASL mechanism.
    #[arg(long, value_enum, default_value = "xoauth2")]
    pub mech: crate::verify::sasl::Mechanism,
    /// IMAP server as host:port (default: MAILREG_IMAP_SERVER, else the provider's, on 993 with
    /// TLS). `mailreg emulator` exports MAILREG_IMAP/POP/SMTP_SERVER for its mail responder,
    /// with MAILREG_MAIL_PLAIN=1: those (loopback) servers are then reached without TLS.
    #[arg(long, value_name = "HOST:PORT")]
    pub imap_server: Option<String>,
    /// POP3 server as host:port (default: the provider's, on 995 with TLS).
    #[arg(long, value_name = "HOST:PORT")]
    pub pop_server: Option<String>,
    /// SMTP submission server as host:port (default: the provider's, on 587 with STARTTLS).
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp_server: Option<String>,
    /// Implicit TLS for every protocol checked. Without --tls/--starttls/--plain the port
    /// decides (993, 995, 465: TLS; 143, 110, 587, 25: STARTTLS), else the protocol's default.
    #[arg(long, group = "security")]
    pub tls: bool,
    /// STARTTLS (STLS for POP3) for every protocol checked.
    #[arg(long, group = "security")]
    pub starttls: bool,
    /// No TLS at all: allowed only to loopback servers (tests, local relays).
    #[arg(long, group = "security")]
    pub plain: bool,
    /// Extra CA certificates (PEM) to trust besides the system's, for servers with a private CA.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Which of the record's redirect URIs to use (default: the first loopback one, else the
    /// first). A loopback one (http://localhost or 127.0.0.1) is served by mailreg; for any
    /// other, paste the URL the browser was redirected to.
    #[arg(long, value_name = "URI")]
    pub redirect_uri: Option<String>,
    /// Only print the sign-in URL; do not start a browser (`BROWSER`, else xdg-open/open).
    #[arg(long)]
    pub no_browser: bool,
    /// Sign in with the device code flow (Microsoft): open a page on any device and enter a code.
    #[arg(long, conflicts_with_all = ["redirect_uri", "no_browser"])]
    pub device_code: bool,
    /// Keep the refresh token in the credentials store (0600) and use it first next time; a
    /// rotated one replaces it. Without this flag a stored one is still used and kept current.
    #[arg(long)]
    pub keep_refresh_token: bool,
    /// Seconds to wait for the browser's redirect.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub timeout: u64,
}

/// `mailreg verify`'s flags.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: Target,
    /// Which registration to use; may be left out when the record holds only one.
    #[arg(long, value_enum)]
    pub provider: Option<crate::verify::Provider>,
    /// The mailbox to sign in as (also sent as the sign-in's `login_hint`); required with
    /// delegated access. With app access (client credentials, no browser): one of the spec's
    /// mailboxes to check, instead of all of them.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Check IMAP. With none of --imap/--pop/--smtp, all three are checked.
    #[arg(long)]
    pub imap: bool,
    /// Check POP3.
    #[arg(long)]
    pub pop: bool,
    /// Check SMTP submission (AUTH only; no mail is sent).
    #[arg(long)]
    pub smtp: bool,
    #[command(flatten)]
    pub login: LoginArgs,
    /// Retry the failed logins with backoff until they pass or this much time is up (e.g.
    /// `45m`): Exchange takes 30 minutes or more to apply a mailbox change. The sign-in is
    /// done once; JSON gives each protocol's time of first success.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait: Option<std::time::Duration>,
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Check the mailboxes (--user, or the spec's `mailboxes`) with read-only calls: Microsoft:
    /// the user, its Exchange Online licence, IMAP/POP/SMTP AUTH for the mailbox and the
    /// organisation (only the protocols the spec's permissions use); Google: the test users.
    /// Exit 0 when every mailbox is ready, 6 when one is not.
    Check(MailboxCheckArgs),
}

/// `mailreg mailbox check`'s flags.
#[derive(Debug, Args)]
pub struct MailboxCheckArgs {
    #[command(flatten)]
    pub target: Target,
    /// A mailbox to check (repeat for more). Default: the spec's `mailboxes` lists.
    #[arg(long, short = 'u', value_name = "ADDRESS")]
    pub user: Vec<String>,
    /// Only this provider's mailboxes; needed with --user when the spec has both.
    #[arg(long, value_parser = ["microsoft", "google"])]
    pub provider: Option<String>,
    /// Turn on what is off (Set-CASMailbox: IMAP, POP, SMTP AUTH), after a plan and a
    /// confirmation. Never touches a licence: that costs money, so it only says which is missing.
    #[arg(long)]
    pub fix: bool,
    /// Do not ask for confirmation (with --fix).
    #[arg(long, short = 'y', requires = "fix")]
    pub yes: bool,
}

impl VerifyArgs {
    /// The flags as `verify`'s own options (it does not depend on the command line).
    pub fn options(&self, global: &Global) -> crate::verify::Options {
        let mut o = self
            .login
            .options(&self.target, self.user.as_deref(), self.wait, global);
        o.provider = self.provider;
        (o.imap, o.pop, o.smtp) = (self.imap, self.pop, self.smtp);
        o
    }
}

/// The mail servers the environment names (the emulator's responder), used where no flag does.
struct EnvServers {
    imap: Option<String>,
    pop: Option<String>,
    smtp: Option<String>,
    /// The ones to reach without TLS (MAILREG_MAIL_PLAIN=1): only these, never a server named
    /// by a flag.
    plain: Vec<String>,
}

impl EnvServers {
    fn read(args: &LoginArgs) -> EnvServers {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let pick = |flag: &Option<String>, name: &str| flag.is_none().then(|| var(name)).flatten();
        let imap = pick(&args.imap_server, "MAILREG_IMAP_SERVER");
        let pop = pick(&args.pop_server, "MAILREG_POP_SERVER");
        let smtp = pick(&args.smtp_server, "MAILREG_SMTP_SERVER");
        let plain = match var("MAILREG_MAIL_PLAIN").as_deref() {
            Some("1") => [&imap, &pop, &smtp]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        EnvServers {
            imap,
            pop,
            smtp,
            plain,
        }
    }
}

impl LoginArgs {
    /// `verify`'s options for one mailbox: every protocol, the provider the record decides.
    pub fn options(
        &self,
        target: &Target,
        user: Option<&str>,
        wait: Option<std::time::Duration>,
        global: &Global,
    ) -> crate::verify::Options {
        let from_env = EnvServers::read(self);
        crate::verify::Options {
            file: target.file.clone(),
            env: target.env.clone(),
            provider: None,
            user: user.map(str::to_owned),
            imap: false,
            pop: false,
            smtp: false,
            mech: self.mech,
            imap_server: self.imap_server.clone().or(from_env.imap),
            pop_server: self.pop_server.clone().or(from_env.pop),
            smtp_server: self.smtp_server.clone().or(from_env.smtp),
            plain_servers: from_env.plain,
            tls: self.tls,
            starttls: self.starttls,
            plain: self.plain,
            ca_file: self.ca_file.clone(),
            redirect_uri: self.redirect_uri.clone(),
            no_browser: self.no_browser,
            device_code: self.device_code,
            keep_refresh_token: self.keep_refresh_token,
            timeout: self.timeout,
            wait,
            json: global.output == OutputFormat::Json,
            quiet: global.quiet,
            settings_changed: None,
        }
    }
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// The spec file (its name, tenant and Google credentials select what is looked at).
    #[arg(
        long,
        short = 'f',
        default_value = "mailreg.toml",
        env = "MAILREG_FILE",
        hide_env_values = true
    )]
    pub file: PathBuf,
    /// Only this environment; it is collected even when `apply --ttl` did not mark it. Without
    /// --env (or --all-envs) gc only looks at resources that `apply --ttl` marked as disposable.
    #[arg(long, short = 'e', conflicts_with = "all_envs")]
    pub env: Option<String>,
    /// Every environment of the spec's name, marked by `apply --ttl` or not (production
    /// included): the explicit way to sweep them all.
    #[arg(long)]
    pub all_envs: bool,
    /// Delete what was created longer ago than this (e.g. `2h`, `1d`).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub older_than: Option<std::time::Duration>,
    /// Delete what is past the expiry set by `apply --ttl`.
    #[arg(long)]
    pub expired: bool,
    /// Show what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Start pacing writes to Graph's applications path at this many per minute, 5 % under
    /// (Graph allows 60 for personal-account apps). Every 429 halves the pace (and holds it for
    /// Retry-After when given); a run of successes raises it again, never above this.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_writes_per_minute: u32,
    /// Give up on what is left after this long (e.g. `30m`): however hard the tenant throttles,
    /// gc keeps slowing down and retrying until then.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub deadline: std::time::Duration,
    /// Leave the `[[secret]]` stores of the collected environments as they are (by default
    /// the items mailreg wrote for a collected registration are deleted, as destroy does).
    #[arg(long)]
    pub keep_secrets: bool,
    /// Leave the rendered mailbox config files of the collected environments in place. By
    /// default gc removes those still holding what mailreg wrote (their secret is revoked);
    /// a file changed since is kept, and gc says so.
    #[arg(long)]
    pub keep_outputs: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the spec.
    #[arg(long, short = 'f', default_value = "mailreg.toml")]
    pub file: PathBuf,
    /// The spec's name (stable key of tags, labels, files). Default: the folder's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Which clouds the spec provisions.
    #[arg(long, value_parser = ["microsoft", "google", "both"])]
    pub provider: Option<String>,
    /// Microsoft: the directory (tenant GUID or verified domain).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The mailbox application's OAuth callback URL.
    #[arg(long)]
    pub redirect_uri: Option<String>,
    /// Google: the project ID (`{env}` is replaced per environment).
    #[arg(long)]
    pub project_id: Option<String>,
    /// Google: the consent screen's support email.
    #[arg(long)]
    pub support_email: Option<String>,
    /// The mailbox address that will sign in (written into the outputs as `vars.email`).
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,
    /// Google: who may sign in while the app is in Testing (repeat, or separate with commas).
    /// Default: the mailbox address. Nobody else can sign in to an app in Testing.
    #[arg(long = "test-user", value_name = "ADDRESS", value_delimiter = ',')]
    pub test_users: Vec<String>,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum GoogleCommand {
    /// Store the Web OAuth client created in the console: the downloaded client JSON, or
    /// `--client-id` with the secret on standard input. Checked against the spec (Web type,
    /// redirect URIs, Google's endpoints, the project); nothing is stored if a check fails.
    #[command(
        override_usage = "mailreg google import-client [-f FILE] [-e ENV] <CLIENT_JSON>\n       mailreg google import-client [-f FILE] [-e ENV] --client-id <CLIENT_ID>  (secret on stdin)"
    )]
    ImportClient {
        #[command(flatten)]
        target: Target,
        /// The client JSON downloaded from the console (client_secret_….json).
        #[arg(
            value_name = "CLIENT_JSON",
            required_unless_present = "client_id",
            conflicts_with = "client_id"
        )]
        client_json: Option<PathBuf>,
        /// The client ID, when pasting instead of importing a file; the secret is read from
        /// standard input (without echo on a terminal), never from the command line.
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Restore this spec's project while it is pending deletion (within 30 days).
    Undelete {
        #[command(flatten)]
        target: Target,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

/// `mailreg emulator`'s flags, and its `console` step.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EmulatorArgs {
    #[command(subcommand)]
    pub action: Option<EmulatorAction>,
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8480)]
    pub port: u16,
    /// Requests for which a new application is not yet visible (Entra replication lag).
    #[arg(long, default_value_t = 0)]
    pub replication_lag: u32,
    /// Delay every answer by this many milliseconds (a fixed network latency, for benchmarks).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// How long a `Set-CASMailbox` change takes to reach the mail responder (Exchange takes 30
    /// minutes or more; e.g. `30s` to rehearse `up`'s wait).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    pub propagation: std::time::Duration,
    /// Make every client ID and secret it hands out repeatable (default: random per start, so
    /// two emulators never hand out the same ones).
    #[arg(long, env = "MAILREG_EMULATOR_SEED", hide_env_values = true)]
    pub seed: Option<u64>,
    /// Run in the background: wait until it listens, print its `export` lines and
    /// MAILREG_EMULATOR_PID, and return (`eval "$(mailreg emulator --port 0 --detach)"`;
    /// `kill $MAILREG_EMULATOR_PID` stops it).
    #[arg(long)]
    pub detach: bool,
}

#[derive(Debug, Subcommand)]
pub enum EmulatorAction {
    /// Play the Google console against a running emulator: create the spec's Web OAuth client
    /// in its project and write the client JSON exactly as the console's download, for
    /// `mailreg google import-client` (or the prompt of `apply`).
    Console {
        #[command(flatten)]
        target: Target,
        /// Where to write the client JSON.
        #[arg(long, default_value = "client_secret_emulator.json")]
        out: PathBuf,
    },
}
