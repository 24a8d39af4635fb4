//! A front end's side of the worker's socket: connect to a run's training process and get
//! a [`WorkerHandle`] that works like a worker thread's.

use super::host::{socket_path, usable_path, HostError};
use super::protocol::{Event, Failure};
use super::wire::{self, ClientMsg, ServerMsg, Want};
use super::WorkerHandle;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc::channel;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("{}: no training process is running in this run folder", .dir.display())]
    NotRunning { dir: PathBuf },
    #[error("{}: owned by another user (uid {uid}); only its owner can attach", .path.display())]
    OtherUser { path: PathBuf, uid: u32 },
    /// Another front end controls the run.
    #[error("{}: another workbench (pid {pid}) controls this run", .dir.display())]
    Busy { dir: PathBuf, pid: u32 },
    #[error(transparent)]
    Path(#[from] HostError),
    #[error("{}: cannot talk to the worker", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A connection to a training process, before it becomes a handle.
pub struct Remote {
    stream: UnixStream,
    /// This front end's commands are obeyed.
    pub control: bool,
    pub dir: PathBuf,
}

/// Connects to the training process of run folder `dir`.
pub(crate) fn connect(dir: &Path, want: Want) -> Result<Remote, ConnectError> {
    let socket = socket_path(dir);
    let io_err = |source| ConnectError::Io {
        path: socket.clone(),
        source,
    };
    let meta = match std::fs::symlink_metadata(&socket) {
        Ok(m) => m,
        Err(_) => {
            return Err(ConnectError::NotRunning {
                dir: dir.to_path_buf(),
            })
        }
    };
    if meta.uid() != wire::my_uid() {
        return Err(ConnectError::OtherUser {
            path: socket.clone(),
            uid: meta.uid(),
        });
    }
    let mut stream = match UnixStream::connect(usable_path(&socket)?) {
        Ok(s) => s,
        // A socket left by a crash: nobody listens.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) =>
        {
            return Err(ConnectError::NotRunning {
                dir: dir.to_path_buf(),
            })
        }
        Err(e) => return Err(io_err(e)),
    };
    let (uid, _) = wire::peer(&stream).map_err(io_err)?;
    if uid != wire::my_uid() {
        return Err(ConnectError::OtherUser { path: socket, uid });
    }
    wire::write_frame(&mut stream, &ClientMsg::Hello { want }).map_err(io_err)?;
    match wire::read_frame::<ServerMsg>(&mut stream).map_err(io_err)? {
        Some(ServerMsg::Welcome { control }) => Ok(Remote {
            stream,
            control,
            dir: dir.to_path_buf(),
        }),
        Some(ServerMsg::Busy { pid }) => Err(ConnectError::Busy {
            dir: dir.to_path_buf(),
            pid,
        }),
        _ => Err(ConnectError::NotRunning {
            dir: dir.to_path_buf(),
        }),
    }
}

impl Remote {
    /// A handle like a worker thread's: commands go over the socket, events come back.
    /// When the stream ends without the worker's `Exited` (the process died), a worker
    /// failure and `Exited` are reported. Dropping the handle's command sender closes
    /// the connection (the run goes on).
    pub(crate) fn into_handle(self) -> WorkerHandle {
        let (ctx, crx) = channel::<super::protocol::Command>();
        let (etx, erx) = channel::<Event>();
        if !self.control {
            let _ = etx.send(Event::Watching);
        }
        let mut writer = self.stream;
        let reader = writer.try_clone();
        let dir = self.dir.clone();
        let join = std::thread::Builder::new()
            .name("diffscope-remote".into())
            .spawn(move || {
                let Ok(mut reader) = reader else {
                    let _ = etx.send(Event::Exited);
                    return;
                };
                let shut = reader.try_clone();
                std::thread::spawn(move || {
                    for c in crx.iter() {
                        if wire::write_frame(&mut writer, &ClientMsg::Command(c)).is_err() {
                            break;
                        }
                    }
                    // The front end let go: end the connection (not the run).
                    let _ = writer.shutdown(std::net::Shutdown::Both);
                });
                loop {
                    match wire::read_frame::<ServerMsg>(&mut reader) {
                        Ok(Some(ServerMsg::Event(e))) => {
                            let exited = e == Event::Exited;
                            if etx.send(e).is_err() || exited {
                                break;
                            }
                        }
                        Ok(Some(ServerMsg::ControlLost)) => {
                            let _ = etx.send(Event::Watching);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => {
                            let _ = etx.send(Event::Failed {
                                what: Failure::Worker,
                                message: format!(
                                    "the training process of {} ended (see its {})",
                                    dir.display(),
                                    super::WORKER_LOG
                                ),
                            });
                            let _ = etx.send(Event::Exited);
                            break;
                        }
                    }
                }
                if let Ok(s) = shut {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            })
            .ok();
        WorkerHandle::from_parts(ctx, erx, join)
    }
}
