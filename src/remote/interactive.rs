//! `lab ssh NODE`: an interactive shell through russh, with a pseudo-terminal, raw mode and
//! window-size changes; and `lab ssh NODE -- CMD`, one command with its exit status.

use std::io::IsTerminal;

use russh::ChannelMsg;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Session;
use crate::error::{Error, Result};

/// Puts the terminal back as it was, however the shell ends.
struct RawMode {
    #[cfg(windows)]
    console: windows_console::Saved,
}

impl RawMode {
    fn enable() -> Result<Self> {
        crossterm::terminal::enable_raw_mode().map_err(|e| Error::io("switching the terminal to raw mode", e))?;
        Ok(Self {
            #[cfg(windows)]
            console: windows_console::virtual_terminal()?,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        #[cfg(windows)]
        self.console.restore();
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// The node's shell speaks VT sequences both ways. Windows' console (cmd, PowerShell, Windows
/// Terminal) turns keys into them and renders them only when asked to.
#[cfg(windows)]
mod windows_console {
    use crossterm_winapi::{ConsoleMode, Handle};

    use crate::error::{Error, Result};

    const ENABLE_PROCESSED_OUTPUT: u32 = 0x0001;
    const ENABLE_VIRTUAL_TERMINAL_PROCESSING: u32 = 0x0004;
    const ENABLE_VIRTUAL_TERMINAL_INPUT: u32 = 0x0200;

    pub struct Saved {
        modes: Vec<(ConsoleMode, u32)>,
    }

    impl Saved {
        pub fn restore(&self) {
            for (console, mode) in &self.modes {
                let _ = console.set_mode(*mode);
            }
        }
    }

    pub fn virtual_terminal() -> Result<Saved> {
        let mut modes = Vec::new();
        for (handle, add) in [
            (Handle::current_in_handle(), ENABLE_VIRTUAL_TERMINAL_INPUT),
            (Handle::current_out_handle(), ENABLE_PROCESSED_OUTPUT | ENABLE_VIRTUAL_TERMINAL_PROCESSING),
        ] {
            let console = ConsoleMode::from(handle.map_err(|e| Error::io("opening the console", e))?);
            let old = console.mode().map_err(|e| Error::io("reading the console mode", e))?;
            console.set_mode(old | add).map_err(|e| Error::io("switching the console to VT sequences", e))?;
            modes.push((console, old));
        }
        Ok(Saved { modes })
    }
}

/// Window-size changes: SIGWINCH on Unix; on Windows, whose console sends no signal, the size
/// looked at four times a second.
struct Resizes {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
    #[cfg(not(unix))]
    last: (u32, u32),
    #[cfg(not(unix))]
    tick: tokio::time::Interval,
}

impl Resizes {
    fn new() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self { signal: signal(SignalKind::window_change()).map_err(|e| Error::io("watching the window size", e))? })
        }
        #[cfg(not(unix))]
        Ok(Self { last: term_size(), tick: tokio::time::interval(std::time::Duration::from_millis(250)) })
    }

    /// Waits for the next change.
    async fn changed(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        loop {
            self.tick.tick().await;
            let now = term_size();
            if now != self.last {
                self.last = now;
                return;
            }
        }
    }
}

fn term_size() -> (u32, u32) {
    crossterm::terminal::size().map_or((80, 24), |(c, r)| (u32::from(c), u32::from(r)))
}

/// Opens a login shell on the node; returns its exit status.
pub async fn shell(session: &Session) -> Result<u32> {
    terminal(session, None).await
}

/// Runs `command` (or, without one, a login shell) in a pseudo-terminal on the node, wired to
/// this terminal; returns its exit status.
pub async fn terminal(session: &Session, command: Option<&crate::script::Sh>) -> Result<u32> {
    let node = &session.target.node;
    let fail = |what: &str, e: russh::Error| Error::Node { node: node.clone(), problem: format!("{what}: {e}"), hint: None };
    let channel = session.handle.channel_open_session().await.map_err(|e| fail("opening an SSH channel", e))?;
    let term = std::env::var("TERM").unwrap_or_else(|_| "xterm-256color".into());
    let (cols, rows) = term_size();
    channel.request_pty(true, &term, cols, rows, 0, 0, &[]).await.map_err(|e| fail("requesting a terminal", e))?;
    match command {
        Some(c) => channel.exec(true, c.as_str()).await.map_err(|e| fail("starting the command", e))?,
        None => channel.request_shell(true).await.map_err(|e| fail("starting a shell", e))?,
    }
    let (mut rx, tx) = channel.split();
    let _raw = if std::io::stdin().is_terminal() { Some(RawMode::enable()?) } else { None };
    let mut stdin = tokio::io::stdin();
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut resizes = Resizes::new()?;
    let mut buf = vec![0u8; 8192];
    let mut stdin_open = true;
    let mut status = 255;
    loop {
        tokio::select! {
            n = stdin.read(&mut buf), if stdin_open => match n {
                Ok(0) | Err(_) => {
                    stdin_open = false;
                    let _ = tx.eof().await;
                }
                Ok(n) => {
                    if tx.data(&buf[..n]).await.is_err() {
                        stdin_open = false;
                    }
                }
            },
            () = resizes.changed() => {
                let (c, r) = term_size();
                let _ = tx.window_change(c, r, 0, 0).await;
            }
            msg = rx.wait() => match msg {
                Some(ChannelMsg::Data { data }) => {
                    let _ = stdout.write_all(&data).await;
                    let _ = stdout.flush().await;
                }
                Some(ChannelMsg::ExtendedData { data, .. }) => {
                    let _ = stderr.write_all(&data).await;
                    let _ = stderr.flush().await;
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => status = exit_status,
                Some(ChannelMsg::ExitSignal { .. }) => status = 255,
                Some(_) => {}
                None => break,
            },
        }
    }
    Ok(status)
}

/// The command line for `lab ssh NODE -- ARGS...`: one argument is taken as a shell command
/// line (like `ssh host 'cmd'`); several are quoted one by one, so they arrive as written.
pub fn command_line(args: &[String]) -> String {
    match args {
        [one] => one.clone(),
        many => many.iter().map(|a| crate::script::quote(a)).collect::<Vec<_>>().join(" "),
    }
}

/// Runs one command, streaming its output; input is forwarded when it is not a terminal.
pub async fn run(session: &Session, command: &str) -> Result<u32> {
    let command = crate::script::Sh::user_command(command.to_string());
    // A command the user runs by hand may take as long as it takes.
    let forever = std::time::Duration::from_secs(60 * 60 * 24 * 365);
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let mut on_output = |is_err: bool, data: &[u8]| {
        use std::io::Write;
        if is_err {
            let _ = err.write_all(data);
            let _ = err.flush();
        } else {
            let _ = out.write_all(data);
            let _ = out.flush();
        }
    };
    let result = if std::io::stdin().is_terminal() {
        session.exec_with(&command, None, forever, &mut on_output).await?
    } else {
        let mut stdin = tokio::io::stdin();
        session.exec_with(&command, Some(&mut stdin), forever, &mut on_output).await?
    };
    Ok(result.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(command_line(&["echo $HOME".into()]), "echo $HOME");
        assert_eq!(command_line(&["sh".into(), "-c".into(), "echo $HOME".into()]), "sh -c 'echo $HOME'");
    }
}
