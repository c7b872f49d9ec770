//! The command line: `ews-server [--port 8787] [--graph-port <port + 1>] [--graph-allow-origin
//! <origin>]… [--root <repository>]`, and `--help`. Every option is checked: an unknown option,
//! a missing value or a port that is not a number is an error (the server does not start on a
//! port it was not asked for).

use std::path::PathBuf;

/// What `--help` prints.
pub const USAGE: &str = "\
Usage: ews-server [--port <port>] [--graph-port <port>] [--graph-allow-origin <origin>]... [--root <dir>]

The local Exchange test server of offline-im: EWS at http://127.0.0.1:<port>/EWS/Exchange.asmx,
Microsoft Graph v1.0 at http://127.0.0.1:<graph-port>/v1.0, the demo page (www/) at / and the
built package (pkg/) at /pkg/. Listens on 127.0.0.1 only.

Options:
  --port <port>                   EWS, the demo and the control endpoints (default 8787)
  --graph-port <port>             Microsoft Graph (default: --port + 1)
  --graph-allow-origin <origin>   an origin Graph's CORS allows; repeat for several
                                  (default: http://127.0.0.1:<port> and http://localhost:<port>)
  --root <dir>                    the repository, whose www/, pkg/ and target/bench/ are served
                                  (default: the current directory)
  -h, --help                      print this and exit

Control: POST /_control/faults, DELETE /_control/faults, GET /_control/faults,
GET /_control/mailboxes/<email>, GET /_control/users, POST /_control/reset.
Users sign in with `Authorization: Bearer <local part>-token` (tony-token for tony@contoso.com;
GET /_control/users lists them); svc-token is the service account allowed to impersonate.
The EWS schema is read from $EWS_SCHEMA_DIR or shared/ews-schema beside the repository.
";

/// The options the server runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub port: u16,
    pub graph_port: u16,
    pub graph_allow_origins: Vec<String>,
    pub root: PathBuf,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(Options),
    Help,
}

fn port(option: &str, value: &str) -> Result<u16, String> {
    value.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("{option} {value:?} is not a port (1 to 65535)"))
}

/// Reads the arguments after the program name. Err: what is wrong, for stderr with [`USAGE`].
pub fn parse(args: &[String]) -> Result<Command, String> {
    let (mut port_, mut graph_port, mut origins, mut root) = (None, None, Vec::new(), None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--port" => port_ = Some(port(a, &value()?)?),
            "--graph-port" => graph_port = Some(port(a, &value()?)?),
            "--graph-allow-origin" => origins.push(value()?),
            "--root" => root = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let port_ = port_.unwrap_or(8787);
    let graph_port = match graph_port {
        Some(g) => g,
        None => port_.checked_add(1).ok_or("--port 65535 leaves no port for Graph: give --graph-port")?,
    };
    if graph_port == port_ {
        return Err(format!("--graph-port {graph_port} is the EWS port"));
    }
    if origins.is_empty() {
        origins = vec![format!("http://127.0.0.1:{port_}"), format!("http://localhost:{port_}")];
    }
    Ok(Command::Run(Options { port: port_, graph_port, graph_allow_origins: origins, root: root.unwrap_or_else(|| PathBuf::from(".")) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_options_and_help() {
        let Ok(Command::Run(o)) = run(&[]) else { panic!("runs") };
        assert_eq!((o.port, o.graph_port, o.root), (8787, 8788, PathBuf::from(".")));
        assert_eq!(o.graph_allow_origins, ["http://127.0.0.1:8787", "http://localhost:8787"]);
        let Ok(Command::Run(o)) = run(&["--port", "9000", "--root", "/r", "--graph-allow-origin", "http://a.test", "--graph-allow-origin", "http://b.test"]) else { panic!("runs") };
        assert_eq!((o.port, o.graph_port, o.root, o.graph_allow_origins), (9000, 9001, PathBuf::from("/r"), vec!["http://a.test".to_string(), "http://b.test".into()]));
        assert_eq!(run(&["--port", "9000", "--help"]), Ok(Command::Help));
        assert_eq!(run(&["-h"]), Ok(Command::Help));
    }

    #[test]
    fn bad_arguments_are_errors_not_defaults() {
        assert_eq!(run(&["--port", "abc"]), Err("--port \"abc\" is not a port (1 to 65535)".into()));
        assert_eq!(run(&["--port", "0"]), Err("--port \"0\" is not a port (1 to 65535)".into()));
        assert_eq!(run(&["--port"]), Err("--port needs a value".into()));
        assert_eq!(run(&["--prot", "1"]), Err("unknown argument \"--prot\"".into()));
        assert_eq!(run(&["--port", "65535"]), Err("--port 65535 leaves no port for Graph: give --graph-port".into()));
        assert_eq!(run(&["--port", "9000", "--graph-port", "9000"]), Err("--graph-port 9000 is the EWS port".into()));
    }
}
