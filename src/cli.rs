//! The command line. Only argument shapes and help live here; `commands` does the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "lab",
    version,
    about = "Turn one YAML file into a working multi-node Apache Spark cluster",
    long_about = "Turn one YAML file into a working multi-node Apache Spark cluster.\n\n\
        lab reads lab.yaml (found in this folder or the nearest folder above it), builds the \
        nodes it describes (VirtualBox or QEMU VMs, sandbox namespaces, or machines you already have), \
        installs Java and Spark over SSH, starts the cluster and proves it works. Re-running a \
        command converges: lab does only what is missing.",
    after_help = "Examples:\n  lab init                 write a commented lab.yaml for the course lab\n  lab validate             check lab.yaml without touching anything\n  lab up                   build the lab; run it again to converge\n  lab verify               prove the cluster works\n  lab ssh node1 -- df -h   run one command on a node\n  lab destroy              remove everything the lab created\n\nExit codes: 0 ok or nothing to do, 1 a failure while working, 2 a usage or lab-file problem.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The lab file [default: lab.yaml in this folder or the nearest folder above]
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Say more (repeat for even more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Print errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Machine-readable output, where the command prints data
    #[arg(long, global = true)]
    pub json: bool,
    /// Plain lines instead of progress bars, even on a terminal
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// Colour: auto (a terminal without NO_COLOR), always or never
    #[arg(long, global = true, value_enum, default_value_t = crate::ui::ColorChoice::Auto, value_name = "WHEN")]
    pub color: crate::ui::ColorChoice,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the lab, or converge it to the lab file
    #[command(
        after_help = "Examples:\n  lab up                  create what is missing, provision, start Spark\n  lab up --dry-run        print the plan and change nothing\n  lab up --no-provision   stop once every node answers SSH\n  lab up --recreate node1 make node1 anew (lab never does so unasked once it is installed)"
    )]
    Up {
        /// Print the plan and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Stop once the nodes answer SSH (no Java, no Spark)
        #[arg(long)]
        no_provision: bool,
        /// existing provider: record the host key each machine presents where none is known
        #[arg(long)]
        accept_host_keys: bool,
        /// Make NODE's machine anew (its disk and what is on it are lost); repeat for more nodes
        #[arg(long, value_name = "NODE")]
        recreate: Vec<String>,
        /// Download nothing: every file comes from the cache or a LAB_CACHE_PATH folder; fails
        /// first, naming what is missing
        #[arg(long)]
        offline: bool,
    },
    /// Stop the nodes and keep their disks (`lab up` starts them again)
    #[command(after_help = "Example:\n  lab halt && lab up")]
    Halt,
    /// Re-run only the provisioning (hosts, Java, Spark, SSH, daemons) on running nodes
    #[command(after_help = "Example:\n  lab provision")]
    Provision,
    /// Open a shell on a node, or run one command there and return its exit status
    #[command(after_help = "Examples:\n  lab ssh master\n  lab ssh node1 -- df -h\n  lab ssh node2 -- tail -n 50 /var/lib/lab-spark/logs/*.out")]
    Ssh {
        /// The node's name, as in the lab file
        node: String,
        /// The command to run instead of a shell (after `--`)
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Print an OpenSSH config block for every node (for ssh, scp, rsync, editors)
    #[command(name = "ssh-config", after_help = "Example:\n  lab ssh-config >> ~/.ssh/config && ssh lab-spark-node1")]
    SshConfig,
    /// Prove the cluster works: SSH, names, Java, jps, master UI, a Spark job on every worker
    #[command(after_help = "Examples:\n  lab verify\n  lab verify --json")]
    Verify,
    /// Check this computer (and the lab file, if there is one) for what would stop `lab up`
    #[command(
        after_help = "Examples:\n  lab doctor\n  lab doctor --online   also ask the download hosts\n  lab doctor --json\n\nExit status: 0 when nothing blocks the lab, 1 otherwise."
    )]
    Doctor {
        /// Also check that the lab's downloads answer (needs the network)
        #[arg(long)]
        online: bool,
    },
    /// Show each node: address, state, SSH, Spark daemons; the master's web UI, Spark Connect's address
    #[command(after_help = "Examples:\n  lab status\n  lab status --json")]
    Status,
    /// Remove everything the lab created (VMs, disks, networks, namespaces, .lab/<name>)
    #[command(after_help = "Examples:\n  lab destroy\n  lab destroy --yes     do not ask")]
    Destroy {
        /// Do not ask for confirmation
        #[arg(short, long)]
        yes: bool,
    },
    /// Check the lab file and report every problem at once; changes nothing
    #[command(after_help = "Examples:\n  lab validate\n  lab -f labs/course-2018.yaml validate --json")]
    Validate,
    /// Write lab.yaml here from one of the built-in lab templates
    #[command(
        after_help = "Examples:\n  lab init                 the course lab (3 CentOS Stream 9 VMs)\n  lab init course-2018     CentOS 7, JDK 8, Spark 2.3.2\n  lab init sandbox         namespaces on this Linux machine\n  lab init qemu            QEMU VMs from a cloud image (Linux, macOS)\n  lab init --list"
    )]
    Init {
        /// Template name (spark, spark-3.5, course-2018, sandbox, qemu)
        #[arg(default_value = "spark")]
        template: String,
        /// Overwrite an existing lab.yaml
        #[arg(long)]
        force: bool,
        /// List the templates
        #[arg(long)]
        list: bool,
    },
    /// Download and verify the lab's artifacts (the ISO or the qemu disk image, JDK, Spark) into the cache, touching no node;
    /// with --into, also copy them (and with --base the lab's base image) into a folder to share
    #[command(
        after_help = "Examples:\n  lab fetch                       fill the cache before going offline\n  lab fetch --into E:\\lab --base   a USB stick for a classroom (students: LAB_CACHE_PATH=E:\\lab)\n  LAB_CACHE_DIR=/srv/cache lab fetch"
    )]
    Fetch {
        /// Also copy every file into DIR, with a manifest of checksums (lab-cache.json) that
        /// other computers read through LAB_CACHE_PATH
        #[arg(long, value_name = "DIR")]
        into: Option<std::path::PathBuf>,
        /// With --into: also export the lab's base image there (VirtualBox; `lab up` made it)
        #[arg(long, requires = "into")]
        base: bool,
    },
    /// Print the kickstart lab generates for a node (and optionally write its OEMDRV image)
    #[command(
        after_help = "Examples:\n  lab kickstart master\n  lab kickstart node1 --iso node1-oemdrv.iso\n  lab kickstart node1 --seed node1-cidata.iso\n  lab kickstart --base"
    )]
    Kickstart {
        /// The node's name (not with --base)
        #[arg(required_unless_present = "base", conflicts_with = "base")]
        node: Option<String>,
        /// The base image's kickstart instead (the OS installed once; nodes are its clones)
        #[arg(long)]
        base: bool,
        /// Also write the node's cloud-init seed disc (label cidata), what its linked clone of
        /// the base boots with (private: it holds the node's SSH host key)
        #[arg(long, value_name = "PATH", conflicts_with = "base")]
        seed: Option<PathBuf>,
        /// Also write the OEMDRV ISO image (ks.cfg at its root) to this path (private: it holds
        /// the node's SSH host key)
        #[arg(long, value_name = "PATH")]
        iso: Option<PathBuf>,
        /// Print the node's private SSH host key too (hidden otherwise)
        #[arg(long)]
        show_secrets: bool,
    },
    /// Run a command on several nodes at once; each output line is prefixed with its node
    #[command(
        after_help = "Examples:\n  lab run -- jps                      every node\n  lab run --workers -- 'df -h /'\n  lab run --nodes master,node1 -- uptime\n  lab run --json -- hostname          per node: stdout, stderr, status\n\nlab run exits with the worst status of the nodes."
    )]
    Run {
        /// Only these nodes (comma-separated names)
        #[arg(long, value_delimiter = ',', conflicts_with_all = ["master", "workers"])]
        nodes: Vec<String>,
        /// Only the master
        #[arg(long, conflicts_with = "workers")]
        master: bool,
        /// Only the workers
        #[arg(long)]
        workers: bool,
        /// The command (after `--`): one argument is a shell command line, several are words
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Copy files or folders between this computer and nodes
    #[command(
        after_help = "Examples:\n  lab copy data.csv node1:/home/spark/          to one node\n  lab copy data/ all:/home/spark/data           a folder, to every node\n  lab copy job.py workers:/tmp/                 to the workers\n  lab copy master:/var/lib/lab-spark/logs ./logs  from a node\n\nModes are kept; large files show progress; memory use stays constant."
    )]
    Copy {
        /// A local path, or NODE:PATH (NODE: a node, all, workers or master)
        src: String,
        /// A local path, or NODE:PATH
        dst: String,
    },
    /// Run a Spark application (a .jar or a .py) on the cluster and stream its output
    #[command(
        after_help = "Examples:\n  lab submit wordcount.py -- /home/spark/data.txt\n  lab submit app.jar --class org.example.Main -- arg1 arg2\n  lab submit job.py --conf spark.executor.memory=2g\n\nlab submit uploads APP to the master, runs spark-submit against the cluster, and exits with its status."
    )]
    Submit {
        /// The application: a .jar or a .py file on this computer
        app: PathBuf,
        /// The main class of a .jar
        #[arg(long)]
        class: Option<String>,
        /// A Spark setting for this run, KEY=VALUE (repeatable)
        #[arg(long, value_name = "KEY=VALUE")]
        conf: Vec<String>,
        /// Arguments for the application (after `--`)
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// An interactive spark-shell (Scala) on the master, attached to the cluster
    #[command(name = "spark-shell", after_help = "Example:\n  lab spark-shell")]
    SparkShell,
    /// An interactive pyspark (Python) shell on the master, attached to the cluster
    #[command(after_help = "Example:\n  lab pyspark")]
    Pyspark,
    /// Show a node's Spark daemon log
    #[command(
        after_help = "Examples:\n  lab logs master\n  lab logs node1 --follow        keep showing new lines (Ctrl-C ends)\n  lab logs node1 --lines 500\n  lab logs master --daemon connect   the Spark Connect server's log"
    )]
    Logs {
        /// The node's name
        node: String,
        /// Keep showing new lines as they come
        #[arg(long)]
        follow: bool,
        /// Which daemon's log (default: the node's own)
        #[arg(long, value_enum)]
        daemon: Option<DaemonArg>,
        /// How many lines from the end
        #[arg(short = 'n', long, default_value_t = 200)]
        lines: u32,
    },
    /// The Spark web UIs and Spark Connect: addresses, opened in the browser, or forwarded over SSH
    #[command(
        after_help = "Examples:\n  lab ui                 the master's and workers' web UI addresses\n  lab ui --open          open the master's in the browser\n  lab ui --forward       forward local ports over SSH: Spark Connect (sc://localhost:15002/;token=...),\n                         and the web UIs of machines this computer cannot reach"
    )]
    Ui {
        /// Open the master's web UI in the browser
        #[arg(long)]
        open: bool,
        /// Forward local ports to Spark Connect and the web UIs over SSH, until Ctrl-C
        #[arg(long)]
        forward: bool,
    },
    /// Save, restore, list or delete snapshots of every node at once
    #[command(
        after_help = "Examples:\n  lab snapshot save working          halts the nodes, saves them, starts them again\n  lab snapshot restore working       back to it, the cluster running as it was\n  lab snapshot save now --live       VirtualBox: without halting\n  lab snapshot list\n  lab snapshot delete working\n\nThe existing provider has no snapshots: its machines are not lab's."
    )]
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCmd,
    },
    /// The base images lab keeps for every lab (the OS installed once; nodes are linked clones)
    #[command(
        after_help = "Examples:\n  lab base list            each base: image, architecture, size on disk, labs using it\n  lab base rm NAME         remove a base no lab uses\n  lab base prune           remove every base no lab uses\n  lab base export NAME F   write a base into one file for other computers\n  lab base import F        register a base from such a file\n\n`lab destroy` keeps bases for the next lab; it never removes one another lab uses."
    )]
    Base {
        #[command(subcommand)]
        command: BaseCmd,
    },
    /// lab's network switch for a qemu lab without root (started and ended by lab itself)
    #[command(name = "qemu-switch", hide = true)]
    QemuSwitch {
        /// The switch's folder
        dir: PathBuf,
    },
    /// Print a shell completion script
    #[command(after_help = "Examples:\n  lab completions bash > ~/.local/share/bash-completion/completions/lab\n  lab completions zsh > ~/.zfunc/_lab")]
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
pub enum SnapshotCmd {
    /// Save every node as snapshot NAME (halted first unless --live)
    Save {
        name: String,
        /// VirtualBox: take it while the nodes run (restoring it boots them from it)
        #[arg(long)]
        live: bool,
    },
    /// Put every node back to snapshot NAME and start the cluster as it was then
    Restore { name: String },
    /// List the lab's snapshots, oldest first
    List,
    /// Delete snapshot NAME from every node
    Delete { name: String },
}

#[derive(Subcommand, Debug)]
pub enum BaseCmd {
    /// Each base: image, architecture, size on disk, the labs using it
    List,
    /// Remove a base no lab uses
    Rm { name: String },
    /// Remove every base no lab uses
    Prune,
    /// Write base NAME into FILE (one file: its fingerprint, the ISO it came from, checksums,
    /// and VirtualBox's OVA of it), to import on other computers of the same architecture
    Export {
        name: String,
        /// The file to write (NAME.labbase is a good name)
        file: std::path::PathBuf,
    },
    /// Check and register a base from FILE (`lab base export`'s): labs whose base has its
    /// fingerprint clone it, with no ISO and no install
    Import { file: std::path::PathBuf },
}

/// A Spark daemon, for `lab logs --daemon`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DaemonArg {
    Master,
    Worker,
    /// The history server (on the master)
    History,
    /// The Spark Connect server (on the master)
    Connect,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ssh_command_after_double_dash() {
        let cli = Cli::try_parse_from(["lab", "ssh", "node1", "--", "ls", "-la"]).expect("parses");
        match cli.command {
            Command::Ssh { node, command } => {
                assert_eq!(node, "node1");
                assert_eq!(command, vec!["ls", "-la"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
